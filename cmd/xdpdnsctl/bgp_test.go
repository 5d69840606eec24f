package main

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/daemon"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// fakeAnnouncer is a FAKE BGP speaker (package anycast is not in the
// build yet); real-peer tests belong with package anycast.
type fakeAnnouncer struct {
	mu        sync.Mutex
	announced bool
}

func (f *fakeAnnouncer) Announce() error { f.set(true); return nil }
func (f *fakeAnnouncer) Withdraw() error { f.set(false); return nil }
func (f *fakeAnnouncer) set(v bool)      { f.mu.Lock(); f.announced = v; f.mu.Unlock() }
func (f *fakeAnnouncer) Announced() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.announced }
func (f *fakeAnnouncer) Close() error    { return nil }
func (f *fakeAnnouncer) Advertised() []string {
	if f.Announced() {
		return []string{"198.51.100.0/24 nexthop 192.0.2.1"}
	}
	return nil
}
func (f *fakeAnnouncer) Peers() []control.BGPPeer {
	return []control.BGPPeer{{Address: "192.0.2.254", ASN: 64500, State: "established", UptimeSeconds: 90, Received: 2, Accepted: 1}}
}

func startAnycastDaemon(t *testing.T) (*fakeAnnouncer, string) {
	t.Helper()
	dir := t.TempDir()
	zf := filepath.Join(dir, "example.com.zone")
	if err := os.WriteFile(zf, []byte(zoneText), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Listen = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}
	cfg.Zones = []zone.Spec{{Origin: "example.com", File: zf}}
	cfg.Control = filepath.Join(dir, "ctl.sock")
	cfg.HealthInterval, cfg.HealthRise = 5*time.Millisecond, 1
	cfg.DrainTime = 0
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeAnnouncer{}
	d.SetAnnouncer(f)
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	deadline := time.Now().Add(5 * time.Second)
	for !f.Announced() {
		if time.Now().After(deadline) {
			t.Fatal("never announced")
		}
		time.Sleep(2 * time.Millisecond)
	}
	return f, cfg.Control
}

func TestBGPDrainUndrain(t *testing.T) {
	f, sock := startAnycastDaemon(t)
	code, out, errs := ctl("--control", sock, "bgp")
	if code != 0 || !strings.Contains(out, "announced; 1/1 peers established") || !strings.Contains(out, "192.0.2.254  64500  established  1m30s") ||
		!strings.Contains(out, "198.51.100.0/24 nexthop 192.0.2.1") || !strings.Contains(out, "serving  ok") {
		t.Errorf("bgp: %d\n%s%s", code, out, errs)
	}
	code, out, errs = ctl("--control", sock, "drain")
	if code != 0 || !strings.Contains(out, "withdrawn (drained)") || f.Announced() {
		t.Errorf("drain: %d announced=%v\n%s%s", code, f.Announced(), out, errs)
	}
	code, out, _ = ctl("--control", sock, "status")
	if code != 0 || !strings.Contains(out, "anycast  withdrawn (drained)") || !strings.Contains(out, "health   healthy since") {
		t.Errorf("status while drained: %d\n%s", code, out)
	}
	code, out, errs = ctl("--control", sock, "undrain", "--json")
	if code != 0 || !strings.Contains(out, `"announced": true`) || !strings.Contains(out, `"drained": false`) || !f.Announced() {
		t.Errorf("undrain: %d\n%s%s", code, out, errs)
	}
	if code, _, errs := ctl("--control", sock, "drain", "extra"); code != exitUsage || !strings.Contains(errs, "takes no arguments") {
		t.Errorf("drain extra: %d %s", code, errs)
	}
}

func TestBGPWithoutSpeaker(t *testing.T) {
	_, _, sock := startDaemon(t)
	code, _, errs := ctl("--control", sock, "drain")
	if code != exitFailed || !strings.Contains(errs, "no BGP speaker is configured") {
		t.Errorf("drain without BGP: %d %s", code, errs)
	}
	if code, out, _ := ctl("--control", sock, "status"); code != 0 || !strings.Contains(out, "anycast  off") {
		t.Errorf("status: %d\n%s", code, out)
	}
}
