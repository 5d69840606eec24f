//go:build linux

package e2e

import (
	"github.com/xdpdns/xdpdns/internal/testsupport/netnstest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xdpdns/xdpdns/interop/interoptest"
)

// TestAnycastKillLeavesNoAddress: a node killed with SIGKILL while
// announced leaves its anycast address on the service interface; the next
// start recognises it from its state file and removes it, announces again
// when healthy, and a clean stop leaves no address behind. An address
// someone else put on the interface survives all of it.
func TestAnycastKillLeavesNoAddress(t *testing.T) {
	r := newAnycastRig(t)
	zone := interoptest.PrepareZones(t, interoptest.Unsigned).Parent.Path
	conf := nodeConfig(t, "node1", "198.18.11.2", "198.18.11.1", 65001, zone)
	state := filepath.Join(t.TempDir(), "anycast.state")
	addrs := func() string {
		out, _ := exec.Command("ip", "-n", r.N1, "-br", "addr", "show", "dev", "any0").CombinedOutput()
		return string(out)
	}
	announced := func(s string) bool { return strings.Contains(s, "198.18.11.2") }

	n1 := StartDaemon(t, bins, r.N1, "-c", conf, "--anycast-state", state)
	r.waitRoute(t, "node1 announced", 30*time.Second, announced)
	if !strings.Contains(addrs(), anycastAddr+"/32") {
		t.Fatalf("announced, but any0 holds %q", addrs())
	}
	netnstest.MustRun(t, r.N1, "ip", "addr", "add", "198.18.53.77/32", "dev", "any0") // someone else's
	if err := n1.Stop(syscall.SIGKILL); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("kill -9: %v", err)
	}
	if !strings.Contains(addrs(), anycastAddr+"/32") {
		t.Fatalf("the killed node left no address (%q): the test does not test the leftover", addrs())
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("no state file after a kill: %v", err)
	}

	n2 := StartDaemon(t, bins, r.N1, "-c", conf, "--anycast-state", state)
	waitLogText(t, n2, "a previous run left service addresses behind; removing them", 10*time.Second)
	r.waitRoute(t, "node1 announced again", 30*time.Second, announced)
	if a := addrs(); !strings.Contains(a, anycastAddr+"/32") || !strings.Contains(a, "198.18.53.77/32") {
		t.Errorf("announced again: any0 holds %q", a)
	}
	if err := n2.Stop(syscall.SIGTERM); err != nil {
		t.Fatalf("clean stop: %v", err)
	}
	a := addrs()
	if strings.Contains(a, anycastAddr+"/32") || !strings.Contains(a, "198.18.53.77/32") {
		t.Errorf("after a clean stop any0 holds %q; want no anycast address and the other owner's kept", a)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("state file left after a clean stop: %v", err)
	}
}

// waitLogText waits until the daemon's log contains text.
func waitLogText(t *testing.T, d *Daemon, text string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		b, _ := os.ReadFile(d.Log)
		if strings.Contains(string(b), text) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log never showed %q:\n%s", text, tail(d.Log, 30))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
