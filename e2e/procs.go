//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/xdpdns/xdpdns/internal/testsupport/netnstest"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/interop"
)

// Time limits for the daemon.
const (
	startTimeout = 30 * time.Second // from exec to the ready line
	stopTimeout  = 5 * time.Second  // from SIGTERM to exit, then SIGKILL
)

// Binaries are the paths of the programs under test.
type Binaries struct {
	Daemon, Ctl string
}

// BuildBinaries builds cmd/xdpdnsd and cmd/xdpdnsctl into dir.
func BuildBinaries(dir string) (Binaries, error) {
	root, err := interop.RepoRoot()
	if err != nil {
		return Binaries{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(os.PathSeparator), "./cmd/xdpdnsd", "./cmd/xdpdnsctl")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return Binaries{}, fmt.Errorf("go build: %w\n%s", err, out)
	}
	return Binaries{Daemon: filepath.Join(dir, "xdpdnsd"), Ctl: filepath.Join(dir, "xdpdnsctl")}, nil
}

// Daemon is a running xdpdnsd.
type Daemon struct {
	Control string // control socket path
	Log     string // path of the daemon's stderr
	ctl     string // xdpdnsctl binary
	// stopWith sends the daemon a signal and waits for it to exit
	// (within stopTimeout), returning how it exited.
	stopWith func(sig syscall.Signal) error
}

// Stop sends SIGTERM (a clean stop) or SIGKILL (a crash: nothing is
// cleaned up) and waits for the daemon to exit; the test's cleanup then
// leaves it alone.
func (d *Daemon) Stop(sig syscall.Signal) error { return d.stopWith(sig) }

// StartDaemon runs xdpdnsd with args in namespace ns, with a control
// socket in a temporary directory, and waits for its ready line. The
// daemon is stopped in t.Cleanup (SIGTERM, then SIGKILL after
// stopTimeout); its log is shown when the test failed.
func StartDaemon(t testing.TB, bins Binaries, ns string, args ...string) *Daemon {
	t.Helper()
	dir := t.TempDir()
	d := &Daemon{Control: filepath.Join(dir, "control.sock"), Log: filepath.Join(dir, "xdpdnsd.log"), ctl: bins.Ctl}
	logf, err := os.Create(d.Log)
	if err != nil {
		t.Fatal(err)
	}
	args = append([]string{"--control", d.Control, "--log-level", "debug"}, args...)
	// ip netns exec execs the daemon in place, so signals reach it.
	cmd := netnstest.Command(context.Background(), ns, bins.Daemon, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("starting xdpdnsd: %v", err)
	}
	exited := make(chan error, 1)
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
		io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	var stopped error
	var once sync.Once
	d.stopWith = func(sig syscall.Signal) error {
		once.Do(func() {
			cmd.Process.Signal(sig)
			select {
			case stopped = <-exited:
			case <-time.After(stopTimeout):
				cmd.Process.Kill()
				<-exited
				stopped = fmt.Errorf("xdpdnsd did not stop within %v of %v", stopTimeout, sig)
			}
		})
		return stopped
	}
	t.Cleanup(func() {
		if err := d.stopWith(syscall.SIGTERM); err != nil && !strings.Contains(err.Error(), "killed") {
			t.Errorf("xdpdnsd: %v", err)
		}
		logf.Close()
		if t.Failed() {
			t.Logf("xdpdnsd log:\n%s", tail(d.Log, 60))
		}
	})
	select {
	case line := <-ready:
		if !strings.HasPrefix(line, "xdpdnsd: serving") {
			t.Fatalf("xdpdnsd did not start (ready line %q); log:\n%s", line, tail(d.Log, 40))
		}
		t.Logf("%s", strings.TrimSpace(line))
	case <-time.After(startTimeout):
		t.Fatalf("xdpdnsd not ready after %v; log:\n%s", startTimeout, tail(d.Log, 40))
	}
	return d
}

// Ctl runs xdpdnsctl against the daemon and returns its standard output.
func (d *Daemon) Ctl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, d.ctl, append([]string{"--control", d.Control}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("xdpdnsctl %s: %w\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// Stats returns the daemon's counters, read with xdpdnsctl stats --json;
// the daemon must have XDP attached.
func (d *Daemon) Stats(t testing.TB) control.Stats {
	t.Helper()
	s := d.UserStats(t)
	if s.XDPError != "" || s.XDP == nil {
		t.Fatalf("xdpdnsctl stats: no XDP counters (%q)", s.XDPError)
	}
	return s
}

// UserStats is Stats of a daemon with or without XDP.
func (d *Daemon) UserStats(t testing.TB) control.Stats {
	t.Helper()
	out, err := d.Ctl("stats", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var s control.Stats
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("xdpdnsctl stats --json: %v\n%s", err, out)
	}
	return s
}

// Status returns the daemon's status, read with xdpdnsctl status --json.
func (d *Daemon) Status(t testing.TB) control.Status {
	t.Helper()
	out, err := d.Ctl("status", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var s control.Status
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("xdpdnsctl status --json: %v\n%s", err, out)
	}
	return s
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
