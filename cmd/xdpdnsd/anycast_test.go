package main

import (
	"errors"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/daemon"
	"github.com/xdpdns/xdpdns/internal/testsupport"
)

// fakeAnnouncer is a FAKE BGP speaker (package anycast is not in the
// build yet) recording the order of events.
type fakeAnnouncer struct {
	mu        sync.Mutex
	announced bool
	events    []string
}

func (f *fakeAnnouncer) ev(e string, v bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.announced = v
	f.events = append(f.events, e)
}
func (f *fakeAnnouncer) Announce() error          { f.ev("announce", true); return nil }
func (f *fakeAnnouncer) Withdraw() error          { f.ev("withdraw", false); return nil }
func (f *fakeAnnouncer) Close() error             { f.ev("close", false); return nil }
func (f *fakeAnnouncer) Announced() bool          { f.mu.Lock(); defer f.mu.Unlock(); return f.announced }
func (f *fakeAnnouncer) Advertised() []string     { return nil }
func (f *fakeAnnouncer) Peers() []control.BGPPeer { return nil }

func TestRunAnycastSIGTERMWithdrawsFirst(t *testing.T) {
	f := &fakeAnnouncer{}
	old := newAnnouncer
	newAnnouncer = func(cfg *config.Config, _ *slog.Logger) (daemon.Announcer, error) {
		if cfg.BGP.ASN != 64512 || len(cfg.BGP.Peers) != 1 {
			t.Errorf("config given to the speaker: %+v", cfg)
		}
		return f, nil
	}
	t.Cleanup(func() { newAnnouncer = old })
	dir := t.TempDir()
	testsupport.WriteFile(t, dir, "example.com.zone", testsupport.ExampleCom)
	conf := testsupport.WriteFile(t, dir, "x.conf", "listen 127.0.0.1:0\nzone example.com example.com.zone\ncontrol \"\"\n"+
		"bgp-asn 64512\nbgp-router-id 192.0.2.1\nbgp-peer 192.0.2.254 asn 64500\n"+
		"anycast-prefix 198.51.100.0/24 next-hop 192.0.2.1\nhealth-interval 10ms\nhealth-rise 1\ndrain-time 100ms\n")
	addr, log, sigs, res := startRun(t, "-c", conf)
	waitLog(t, log, "anycast: announced")
	start := time.Now()
	sigs <- syscall.SIGTERM
	rr := <-res
	if rr.code != 0 {
		t.Fatalf("exit %d:\n%s", rr.code, rr.stderr)
	}
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("stopped after %v, before drain-time", took)
	}
	f.mu.Lock()
	ev := strings.Join(f.events, ",")
	f.mu.Unlock()
	if ev != "announce,withdraw,close" {
		t.Errorf("events %s", ev)
	}
	_ = addr
}

func TestRunAnycastStartupErrors(t *testing.T) {
	dir := t.TempDir()
	zf := testsupport.WriteFile(t, dir, "example.com.zone", testsupport.ExampleCom)
	bad := testsupport.WriteFile(t, dir, "bad.conf", "listen 127.0.0.1:0\nbgp-asn 64512\nbgp-peer 192.0.2.1 asn 64500 hold 1s\n")
	var stdout, stderr syncBuffer
	if code := run([]string{"-c", bad}, &stdout, &stderr, nil); code != exitError || !strings.Contains(stderr.String(), bad+":3: bgp-peer: hold") {
		t.Errorf("bad peer: exit %d\n%s", code, &stderr)
	}
	// A speaker that cannot start fails the start.
	old := newAnnouncer
	newAnnouncer = func(*config.Config, *slog.Logger) (daemon.Announcer, error) {
		return nil, errors.New("router ID refused")
	}
	t.Cleanup(func() { newAnnouncer = old })
	stderr = syncBuffer{}
	if code := run([]string{"--listen", "127.0.0.1:0", "--zone", "example.com=" + zf, "--control", "",
		"--bgp-asn", "64512", "--bgp-router-id", "192.0.2.1", "--bgp-peer", "192.0.2.254 asn 64500"}, &stdout, &stderr, nil); code != exitError ||
		!strings.Contains(stderr.String(), "xdpdnsd: bgp: router ID refused") {
		t.Errorf("no speaker: exit %d\n%s", code, &stderr)
	}
}
