//go:build linux

package e2e

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/interop/interoptest"
)

// waitLog waits until the daemon's log holds want.
func waitLog(t *testing.T, d *Daemon, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		b, _ := os.ReadFile(d.Log)
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the daemon's log after %v:\n%s", want, within, tail(d.Log, 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestZoneImage restarts the daemon on its compiled zone image: the first
// start compiles the zones and writes the image; a restart serves from
// it, every XDP case answered correctly in XDP; a corrupt image, and one
// older than its zone file, are logged, ignored (the zones read from
// their files, again served correctly) and written anew.
func TestZoneImage(t *testing.T) {
	r := NewRig(t)
	zs := interoptest.PrepareZones(t, interoptest.NSEC3)
	image := zs.Zones()[0].Path + config.ZoneImageSuffix
	start := func(t *testing.T) *Daemon {
		d := StartServer(t, bins, r, zs.Zones(), "native")
		t.Cleanup(func() { d.Stop(syscall.SIGTERM) })
		return d
	}
	stop := func(t *testing.T, d *Daemon) {
		if err := d.Stop(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}

	d := start(t)
	waitLog(t, d, "no compiled zone image yet", 0)
	waitLog(t, d, "compiled zone image written", 30*time.Second)
	stop(t, d)
	if _, err := os.Stat(image); err != nil {
		t.Fatalf("no image at %s: %v", image, err)
	}

	t.Run("restart", func(t *testing.T) {
		d := start(t)
		waitLog(t, d, "zones loaded from the compiled image", 0)
		testUDPPaths(t, r, d, "native")
		stop(t, d)
	})
	t.Run("corrupt", func(t *testing.T) {
		b, err := os.ReadFile(image)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0x20
		if err := os.WriteFile(image, b, 0o644); err != nil {
			t.Fatal(err)
		}
		d := start(t)
		waitLog(t, d, "compiled zone image not used", 0)
		waitLog(t, d, "checksum mismatch", 0)
		testUDPPaths(t, r, d, "native")
		waitLog(t, d, "compiled zone image written", 30*time.Second)
		stop(t, d)
	})
	t.Run("older than its zone", func(t *testing.T) {
		zf := zs.Zones()[1].Path
		later := time.Now().Add(time.Minute)
		if err := os.Chtimes(zf, later, later); err != nil {
			t.Fatal(err)
		}
		d := start(t)
		waitLog(t, d, "compiled zone image not used", 0)
		waitLog(t, d, "was modified since", 0)
		testUDPPaths(t, r, d, "native")
		stop(t, d)
	})
}
