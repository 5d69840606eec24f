package daemon

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/internal/testsupport"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// fakeAnnouncer is a FAKE BGP speaker (package anycast is not in the
// build yet): it records calls and the order of events. Real-peer tests
// belong with package anycast.
type fakeAnnouncer struct {
	mu        sync.Mutex
	announced bool
	events    []string
	failNext  error
}

func (f *fakeAnnouncer) Announce() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failNext; err != nil {
		f.failNext = nil
		f.events = append(f.events, "announce-failed")
		return err
	}
	f.announced = true
	f.events = append(f.events, "announce")
	return nil
}

func (f *fakeAnnouncer) Withdraw() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.announced = false
	f.events = append(f.events, "withdraw")
	return nil
}

func (f *fakeAnnouncer) Announced() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.announced
}

func (f *fakeAnnouncer) Peers() []control.BGPPeer {
	return []control.BGPPeer{{Address: "192.0.2.254", ASN: 64500, State: "established", UptimeSeconds: 5, Received: 1, Accepted: 1}}
}

func (f *fakeAnnouncer) Advertised() []string {
	if f.Announced() {
		return []string{"198.51.100.0/24"}
	}
	return nil
}

func (f *fakeAnnouncer) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, "close")
	return nil
}

func (f *fakeAnnouncer) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.events...)
}

// newAnycastDaemon starts a daemon with a fake announcer and a fast
// health monitor (5 ms interval, rise 2, fall 2).
func newAnycastDaemon(t *testing.T, text string) (*Daemon, *fakeAnnouncer, *control.Client) {
	t.Helper()
	dir := t.TempDir()
	zf := testsupport.WriteFile(t, dir, "example.com.zone", text)
	cfg := testsupport.Config(t, filepath.Join(dir, "control.sock"), []zone.Spec{{Origin: "example.com.", File: zf}}, func(cfg *config.Config) {
		cfg.HealthInterval = 5 * time.Millisecond
		cfg.HealthRise, cfg.HealthFall = 2, 2
		cfg.DrainTime = 50 * time.Millisecond
	})
	f := &fakeAnnouncer{}
	d := start(t, cfg, func(d *Daemon) { d.SetAnnouncer(f) })
	return d, f, &control.Client{Path: cfg.Control}
}

// waitFor polls cond (bounded) until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestAnnounceFollowsHealthAndDrain(t *testing.T) {
	d, f, c := newAnycastDaemon(t, testsupport.ExampleCom)
	waitFor(t, "announce once healthy", f.Announced)
	st, err := c.BGP()
	if err != nil || !st.Healthy || !st.Announced || st.Drained || len(st.Peers) != 1 || len(st.Health.Checks) != 3 ||
		st.Advertised[0] != "198.51.100.0/24" {
		t.Fatalf("bgp: %+v %v", st, err)
	}

	// Drain: withdrawn at once, and stays withdrawn though healthy.
	st, err = c.Drain()
	if err != nil || st.Announced || !st.Drained || !st.Healthy {
		t.Fatalf("drain: %+v %v", st, err)
	}
	n := d.mon.Status().Rounds
	waitFor(t, "more rounds", func() bool { return d.mon.Status().Rounds >= n+5 })
	if f.Announced() {
		t.Fatal("announced while drained")
	}
	if s, _ := c.Status(); s.BGP == nil || !s.BGP.Drained || s.BGP.Announced {
		t.Fatalf("status while drained: %+v", s.BGP)
	}
	st, err = c.Undrain()
	if err != nil || !st.Announced || st.Drained {
		t.Fatalf("undrain: %+v %v", st, err)
	}

	// The server stops answering: unhealthy after fall rounds, withdrawn,
	// and the failing check says why.
	d.PauseServing(true)
	waitFor(t, "withdraw when unhealthy", func() bool { return !f.Announced() })
	st, _ = c.BGP()
	if st.Healthy || st.Health.Checks[1].Name != "serving" || !strings.Contains(st.Health.Checks[1].Error, "udp 127.0.0.1:") {
		t.Fatalf("unhealthy: %+v", st)
	}
	d.PauseServing(false)
	waitFor(t, "announce again", f.Announced)
}

func TestAnnounceRetriedAfterFailure(t *testing.T) {
	d, f, c := newAnycastDaemon(t, testsupport.ExampleCom)
	d.annMu.Lock()
	f.failNext = errFake
	d.annMu.Unlock()
	waitFor(t, "announce after a failure", f.Announced)
	if ev := f.log(); ev[0] != "announce-failed" || ev[1] != "announce" {
		t.Errorf("events %v", ev)
	}
	if st, _ := c.BGP(); st.Error != "" {
		t.Errorf("error kept after success: %q", st.Error)
	}
}

type fakeErr string

func (e fakeErr) Error() string { return string(e) }

const errFake = fakeErr("peer refused")

func TestShutdownWithdrawsDrainsThenStops(t *testing.T) {
	d, f, _ := newAnycastDaemon(t, testsupport.ExampleCom)
	waitFor(t, "announce", f.Announced)
	addr := d.Addrs()[0].String()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- d.Close() }()
	waitFor(t, "withdraw", func() bool { return !f.Announced() })
	// Still answering during the drain time.
	if time.Since(start) < 40*time.Millisecond {
		if err := d.checkServing(context.Background()); err != nil {
			t.Errorf("not answering while draining: %v", err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Errorf("stopped after %v, before the drain time", took)
	}
	if ev := f.log(); strings.Join(ev, ",") != "announce,withdraw,close" {
		t.Errorf("events %v", ev)
	}
	if _, err := (&dnsProbe{addr}).udp(); err == nil {
		t.Error("still answering after Close")
	}
	if st, err := d.BGP(); err != nil || !st.Drained || st.Announced {
		t.Errorf("after close: %+v %v", st, err)
	}
}

func TestExpiredSignaturesFailZonesCheck(t *testing.T) {
	d, _, _ := newAnycastDaemon(t, testsupport.ExampleCom)
	if err := d.checkZones(context.Background()); err != nil {
		t.Fatalf("unsigned zone: %v", err)
	}
	// The loaded zone as if its earliest RRSIG had expired a minute ago
	// (Load refuses a zone whose signatures have already expired).
	for _, z := range d.Engine().Zones().Zones() {
		z.SigExpiration = time.Now().Add(-time.Minute)
	}
	if err := d.checkZones(context.Background()); err == nil || !strings.Contains(err.Error(), "example.com.: signatures expired") {
		t.Errorf("expired: %v", err)
	}
}

func TestNoAnnouncer(t *testing.T) {
	d, _ := newDaemon(t)
	if _, err := d.Drain(); err != errNoBGP {
		t.Errorf("drain without BGP: %v", err)
	}
	if st := d.Status(); st.BGP != nil {
		t.Errorf("status BGP %+v", st.BGP)
	}
	if _, ok := d.Health(); ok {
		t.Error("monitor without announcer")
	}
}

// dnsProbe asks the SOA of example.com once over UDP with a short timeout.
type dnsProbe struct{ addr string }

func (p *dnsProbe) udp() (*dns.Msg, error) {
	m := new(dns.Msg).SetQuestion("example.com.", dns.TypeSOA)
	r, _, err := (&dns.Client{Timeout: 200 * time.Millisecond}).Exchange(m, p.addr)
	return r, err
}
