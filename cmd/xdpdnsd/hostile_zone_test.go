//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/internal/testsupport"
)

// TestHostileZoneFilesKeepControl replaces a served zone file by a FIFO,
// a symbolic link to /dev/zero, a file over zone-max-size and a file of
// NUL bytes, and reloads by SIGHUP and over the control socket each time:
// every reload fails quickly with the file named, the old zone keeps
// answering, status and stats answer all along, and SIGTERM then stops
// the daemon at once.
func TestHostileZoneFilesKeepControl(t *testing.T) {
	dir := t.TempDir()
	zf := testsupport.WriteFile(t, dir, "example.com.zone", testsupport.ExampleCom)
	ctl := filepath.Join(dir, "control.sock")
	conf := testsupport.WriteFile(t, dir, "xdpdnsd.conf", "listen 127.0.0.1:0\nzone example.com example.com.zone\nzone-max-size 64K\nreload-timeout 10s\n")
	addr, log, sigs, res := startRun(t, "-c", conf, "--control", ctl)
	c := &control.Client{Path: ctl, Wait: 30 * time.Second}

	replace := func(make func(string) error) {
		t.Helper()
		if err := os.Remove(zf); err != nil {
			t.Fatal(err)
		}
		if err := make(zf); err != nil {
			t.Fatal(err)
		}
	}
	for _, hostile := range []struct {
		desc string
		make func(string) error
		want string
	}{
		{"FIFO", func(p string) error { return syscall.Mkfifo(p, 0o644) }, "not a regular file (a FIFO)"},
		{"symlink to /dev/zero", func(p string) error { return os.Symlink("/dev/zero", p) }, "not a regular file (a character device)"},
		{"over zone-max-size", func(p string) error {
			return os.WriteFile(p, []byte(testsupport.ExampleCom+strings.Repeat("; filler line\n", 6000)), 0o644)
		}, "larger than zone-max-size"},
		{"NUL bytes", func(p string) error { return os.WriteFile(p, make([]byte, 32<<10), 0o644) }, "NUL byte"},
	} {
		replace(hostile.make)
		start := time.Now()
		sigs <- syscall.SIGHUP
		waitLog(t, log, hostile.want)
		_, err := c.Reload("example.com")
		if err == nil || !strings.Contains(err.Error(), zf) || !strings.Contains(err.Error(), hostile.want) {
			t.Errorf("%s: reload over the control socket: %v; want the file and %q", hostile.desc, err, hostile.want)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("%s: the two reloads took %v", hostile.desc, took)
		}
		if _, err := c.Status(); err != nil {
			t.Errorf("%s: status: %v", hostile.desc, err)
		}
		if _, err := c.Stats(); err != nil {
			t.Errorf("%s: stats: %v", hostile.desc, err)
		}
		if r := query(t, addr, "www.example.com.", 1, 1); len(r.Answer) != 1 {
			t.Errorf("%s: the old zone no longer answers: %v", hostile.desc, r)
		}
	}
	start := time.Now()
	sigs <- syscall.SIGTERM
	select {
	case rr := <-res:
		if rr.code != 0 {
			t.Errorf("exit %d", rr.code)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("SIGTERM took %v", took)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("SIGTERM did not stop the daemon")
	}
}
