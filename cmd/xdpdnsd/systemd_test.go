//go:build linux

package main

import (
	"go/build"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xdpdns/xdpdns/internal/testsupport"
)

// notifySocket listens on a real unix datagram socket, as systemd's
// $NOTIFY_SOCKET, and returns its path and the messages received.
func notifySocket(t *testing.T) (string, <-chan string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	msgs := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	return path, msgs
}

// nextState waits for the next message and checks it starts with want.
func nextState(t *testing.T, msgs <-chan string, want string) string {
	t.Helper()
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatalf("notify socket closed waiting for %q", want)
			}
			if strings.HasPrefix(m, "STATUS=") || strings.HasPrefix(m, "WATCHDOG=") {
				continue // status-only lines and pings may come in between
			}
			if !strings.HasPrefix(m, want) {
				t.Fatalf("notification %q, want %q first", m, want)
			}
			return m
		case <-time.After(10 * time.Second):
			t.Fatalf("no %q notification", want)
		}
	}
}

// TestSystemdNotify runs the daemon with $NOTIFY_SOCKET and $WATCHDOG_USEC
// on a real datagram socket: READY once serving, RELOADING (with the
// monotonic timestamp Type=notify-reload needs) then READY around a
// SIGHUP reload, watchdog pings, STOPPING on SIGTERM.
func TestSystemdNotify(t *testing.T) {
	path, msgs := notifySocket(t)
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", "")
	dir := t.TempDir()
	testsupport.WriteFile(t, dir, "example.com.zone", testsupport.ExampleCom)
	_, log, sigs, res := startRun(t, "--zone", "example.com="+filepath.Join(dir, "example.com.zone"), "--listen", "127.0.0.1:0", "--control", "")

	if m := nextState(t, msgs, "READY=1"); !strings.Contains(m, "STATUS=serving 1 zone") {
		t.Errorf("ready message %q", m)
	}
	sigs <- syscall.SIGHUP
	if m := nextState(t, msgs, "RELOADING=1"); !strings.Contains(m, "\nMONOTONIC_USEC=") {
		t.Errorf("reloading message %q lacks MONOTONIC_USEC", m)
	}
	nextState(t, msgs, "READY=1")
	waitLog(t, log, "systemd watchdog")
	pinged := false
	for deadline := time.After(10 * time.Second); !pinged; {
		select {
		case m := <-msgs:
			pinged = m == "WATCHDOG=1"
		case <-deadline:
			t.Fatal("no watchdog ping")
		}
	}
	sigs <- syscall.SIGTERM
	nextState(t, msgs, "STOPPING=1")
	if rr := <-res; rr.code != 0 {
		t.Errorf("exit %d:\n%s", rr.code, rr.stderr)
	}
}

// TestSystemdUnitVerifies runs systemd-analyze verify on the shipped unit,
// with its binaries pointed at freshly built ones.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (make deps installs systemd)")
	}
	unit, err := os.ReadFile("../../examples/xdpdnsd.service")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, cmd := range []string{"xdpdnsd", "xdpdnsctl"} {
		out, err := exec.Command(filepath.Join(build.Default.GOROOT, "bin", "go"), "build", "-o", filepath.Join(dir, cmd), "../"+cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("building %s: %v\n%s", cmd, err, out)
		}
	}
	text := strings.ReplaceAll(string(unit), "@SBINDIR@", dir)
	text = strings.ReplaceAll(text, "@SYSCONFDIR@", dir)
	if strings.Contains(text, "@") {
		t.Fatalf("unsubstituted placeholder in the unit:\n%s", text)
	}
	path := filepath.Join(dir, "xdpdnsd.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestMakeInstall runs `make install` into a temporary DESTDIR and checks
// the layout, the substituted unit, and that the installed configuration
// loads.
func TestMakeInstall(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
	dest := t.TempDir()
	bin := t.TempDir()
	cmd := exec.Command("make", "--no-print-directory", "-C", "../..", "install", "DESTDIR="+dest, "PREFIX=/opt/xdpdns", "BIN="+bin,
		"GO="+filepath.Join(build.Default.GOROOT, "bin", "go"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	for _, f := range []string{"opt/xdpdns/sbin/xdpdnsd", "opt/xdpdns/sbin/xdpdnsctl", "opt/xdpdns/lib/systemd/system/xdpdnsd.service",
		"etc/xdpdns/xdpdnsd.conf", "etc/xdpdns/example.com.zone", "opt/xdpdns/share/doc/xdpdns/CONFIG.md",
		"opt/xdpdns/share/man/man8/xdpdnsd.8", "opt/xdpdns/share/man/man8/xdpdnsctl.8", "opt/xdpdns/share/man/man5/xdpdnsd.conf.5"} {
		if _, err := os.Stat(filepath.Join(dest, f)); err != nil {
			t.Errorf("not installed: %v", err)
		}
	}
	unit, err := os.ReadFile(filepath.Join(dest, "opt/xdpdns/lib/systemd/system/xdpdnsd.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "ExecStart=/opt/xdpdns/sbin/xdpdnsd -c /etc/xdpdns/xdpdnsd.conf") || strings.Contains(string(unit), "@") {
		t.Errorf("installed unit not substituted:\n%s", unit)
	}
	// The installed configuration loads, its zone included.
	out, err := exec.Command(filepath.Join(dest, "opt/xdpdns/sbin/xdpdnsd"), "-c", filepath.Join(dest, "etc/xdpdns/xdpdnsd.conf"),
		"--check-config").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "configuration OK") {
		t.Errorf("the installed configuration does not check: %v\n%s", err, out)
	}
}
