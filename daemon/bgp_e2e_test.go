//go:build linux

package daemon_test

// End-to-end: an in-process daemon with the real anycast.Speaker and the
// real XDP hot path, peering with a real gobgpd that runs in its own
// network namespace, joined to the test's namespace by a veth pair. Every
// assertion about the routes is made through the peer's CLI
// (`gobgp global rib -a ipv4|ipv6 -j`).

import (
	"context"
	"fmt"
	"github.com/xdpdns/xdpdns/internal/testsupport/netnstest"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/xdpdns/xdpdns/anycast"
	"github.com/xdpdns/xdpdns/anycast/gobgppeer"
	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/daemon"
	"github.com/xdpdns/xdpdns/daemon/hotpath"
	"github.com/xdpdns/xdpdns/loader"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

const (
	e2eLocalASN = 65001
	e2ePeerASN  = 65002
	e2eStep     = 10 * time.Second
)

// Addresses unique to this test (the anycast and e2e tests use others).
var (
	e2eLocal   = netip.MustParseAddr("198.18.240.1")
	e2eRemote  = netip.MustParseAddr("198.18.240.2")
	e2eLocal6  = netip.MustParseAddr("2001:db8:240::1")
	e2eRemote6 = netip.MustParseAddr("2001:db8:240::2")
	e2eSvc4    = netip.MustParsePrefix("198.18.53.77/32")
	e2eSvc6    = netip.MustParsePrefix("2001:db8:53::77/128")
)

// speakerAdapter adapts *anycast.Speaker to daemon.Announcer, as
// cmd/xdpdnsd does.
type speakerAdapter struct{ *anycast.Speaker }

func (s speakerAdapter) Peers() []control.BGPPeer {
	var out []control.BGPPeer
	for _, p := range s.Speaker.Peers() {
		out = append(out, control.BGPPeer{Address: p.Address, ASN: p.ASN, State: p.State})
	}
	return out
}

// logSink forwards log lines to t.Log until the test is over.
type logSink struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *logSink) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *logSink) stop() { w.mu.Lock(); w.done = true; w.mu.Unlock() }

type e2ePeer struct {
	t  *testing.T
	ns string
	*gobgppeer.Peer
}

// has reports whether the peer's global RIB holds prefix.
func (p *e2ePeer) has(family, prefix string) (bool, string) {
	rib, out, err := p.RIB(family)
	if err != nil {
		return false, err.Error()
	}
	_, ok := rib[prefix]
	return ok, string(out)
}

// waitRoutes polls (bounded) until both service routes are present
// (or both absent) at the peer and returns the time taken.
func (p *e2ePeer) waitRoutes(present bool, what string) time.Duration {
	p.t.Helper()
	start := time.Now()
	deadline := start.Add(e2eStep)
	for {
		ok4, info4 := p.has("ipv4", e2eSvc4.String())
		ok6, info6 := p.has("ipv6", e2eSvc6.String())
		if ok4 == present && ok6 == present {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: routes present=%v not seen within %v; ipv4 rib: %s; ipv6 rib: %s\ngobgpd log tail:\n%s",
				what, present, e2eStep, info4, info6, p.LogTail(3000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// bgpLab is the set-up of a BGP node test: a logger into the test's log,
// names unique to this process for the veth to the peer (xdTAG<pid>a) and
// the service interface (xdSVC<pid>, removed at the end), and the peer.
func bgpLab(t *testing.T, tag, svc string) (log *slog.Logger, vethA, svcIf string, peer *e2ePeer) {
	t.Helper()
	sink := &logSink{t: t}
	t.Cleanup(sink.stop) // runs last
	log = slog.New(slog.NewTextHandler(sink, &slog.HandlerOptions{Level: slog.LevelInfo}))
	pid := os.Getpid() % 100000
	vethA = fmt.Sprintf("xd%s%da", tag, pid)
	svcIf = fmt.Sprintf("xd%s%d", svc, pid)
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(svcIf); err == nil {
			netlink.LinkDel(l)
		}
	})
	return log, vethA, svcIf, startPeer(t, vethA)
}

// startPeer builds the namespace and the veth pair (vethA stays in the
// test's namespace) and runs gobgpd in the namespace, passive.
func startPeer(t *testing.T, vethA string) *e2ePeer {
	t.Helper()
	p := &e2ePeer{t: t, ns: fmt.Sprintf("xdpdns-e2e-%d", os.Getpid())}
	vethB := vethA[:len(vethA)-1] + "b"
	netnstest.MustRun(t, "", "ip", "netns", "add", p.ns)
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", vethA).Run()
		exec.Command("ip", "netns", "del", p.ns).Run()
	})
	netnstest.MustRun(t, "", "ip", "link", "add", vethA, "type", "veth", "peer", "name", vethB, "netns", p.ns)
	netnstest.MustRun(t, "", "ip", "addr", "add", e2eLocal.String()+"/30", "dev", vethA)
	netnstest.MustRun(t, "", "ip", "addr", "add", e2eLocal6.String()+"/64", "dev", vethA, "nodad")
	netnstest.MustRun(t, "", "ip", "link", "set", vethA, "up")
	netnstest.MustRun(t, "", "ip", "-n", p.ns, "addr", "add", e2eRemote.String()+"/30", "dev", vethB)
	netnstest.MustRun(t, "", "ip", "-n", p.ns, "addr", "add", e2eRemote6.String()+"/64", "dev", vethB, "nodad")
	netnstest.MustRun(t, "", "ip", "-n", p.ns, "link", "set", vethB, "up")
	// Complete UDP checksums from the peer's side, as a real client sends:
	// the XDP program passes the partial sums of a local socket's
	// checksum offload to the kernel.
	netnstest.MustRun(t, "", "ip", "netns", "exec", p.ns, "ethtool", "-K", vethB, "tx", "off")
	netnstest.MustRun(t, "", "ip", "-n", p.ns, "link", "set", "lo", "up")

	peer, err := gobgppeer.New(gobgppeer.Config{NS: p.ns, Dir: t.TempDir(), ASN: e2ePeerASN,
		Addr: e2eRemote, Neighbor: e2eLocal, PeerASN: e2eLocalASN})
	if err != nil {
		t.Fatal(err)
	}
	p.Peer = peer
	t.Cleanup(func() {
		if err := peer.Kill(); err != nil {
			t.Error(err)
		}
	})
	if err := peer.Start(e2eStep); err != nil {
		t.Fatal(err)
	}
	return p
}

// signZone writes dir/example.com.zone signed with validity from an hour
// ago until end (dnssec-signzone's -e syntax, e.g. "now+6").
func signZone(t *testing.T, dir, end string) string {
	t.Helper()
	unsigned := filepath.Join(dir, "unsigned.zone")
	signed := filepath.Join(dir, "example.com.zone")
	tmp := signed + ".tmp"
	cmd := exec.Command("dnssec-signzone", "-S", "-z", "-q", "-K", dir, "-o", "example.com",
		"-s", "now-3600", "-e", end, "-f", tmp, unsigned)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dnssec-signzone: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, signed); err != nil {
		t.Fatal(err)
	}
	return signed
}

func TestBGPEndToEnd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, netlink, XDP)")
	}
	for _, bin := range []string{"gobgpd", "gobgp", "ip", "dnssec-keygen", "dnssec-signzone"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
	log, vethA, svcIf, peer := bgpLab(t, "e", "s")

	// The zone, signed for a long time to begin with.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "unsigned.zone"), []byte(`$TTL 300
example.com. IN SOA ns1.example.com. hostmaster.example.com. 1 3600 600 86400 300
example.com. IN NS ns1.example.com.
ns1.example.com. IN A 198.18.53.77
www.example.com. IN A 198.18.53.77
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("dnssec-keygen", "-q", "-K", dir, "-a", "ECDSAP256SHA256", "example.com").CombinedOutput(); err != nil {
		t.Fatalf("dnssec-keygen: %v\n%s", err, out)
	}
	zoneFile := signZone(t, dir, "now+86400")

	// The daemon: a free port on loopback, fast health checks.
	d, sp := newBGPNode(t, log, zoneFile, "127.0.0.1:0", 500*time.Millisecond, svcIf)

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	closed := false
	t.Cleanup(func() {
		if !closed {
			d.Close() // withdraws, closes the hot path, the server and the speaker
		}
	})
	if err := d.Start(ctx); err != nil {
		sp.Close()
		t.Fatal(err)
	}
	port := d.Addrs()[0].Port()

	// The XDP hot path, in generic mode on the test's veth end.
	hp, err := hotpath.New(loader.Options{
		Attach:   []loader.Attach{{Iface: vethA, Mode: loader.ModeGeneric}},
		Ports:    []uint16{port},
		Prefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
	}, d.Engine().Config(), d.Engine().Zones())
	if err != nil {
		t.Fatalf("hotpath.New: %v", err)
	}
	d.SetHotPath(hp)

	timings := map[string]time.Duration{}
	health := func() string { h, _ := d.Health(); return fmt.Sprint(h.Checks) }

	// 1. Healthy: announced.
	took := peer.waitRoutes(true, "start")
	t.Logf("start to routes at the peer: %v", took)

	// 2. The userspace server stops answering.
	d.PauseServing(true)
	timings["pause serving"] = peer.waitRoutes(false, "pause serving")
	t.Logf("checks: %s", health())
	d.PauseServing(false)
	timings["resume serving (back)"] = peer.waitRoutes(true, "resume serving")

	// 3. XDP detached, then attached again.
	if err := hp.Loader().Detach(vethA); err != nil {
		t.Fatalf("Detach: %v", err)
	}
	timings["xdp detach"] = peer.waitRoutes(false, "xdp detach")
	t.Logf("checks: %s", health())
	if err := hp.Loader().Attach(loader.Attach{Iface: vethA, Mode: loader.ModeGeneric}); err != nil {
		t.Fatalf("Attach: %v", err)
	}
	timings["xdp re-attach (back)"] = peer.waitRoutes(true, "xdp re-attach")

	// 4. Zone expiry: reload a copy whose signatures expire in a few
	// seconds (it still loads), wait for the withdrawal, then reload a
	// freshly signed copy.
	signZone(t, dir, "now+5")
	if err := d.Reload(); err != nil {
		t.Fatalf("reload short-lived zone: %v", err)
	}
	z := d.Engine().Zones().Zones()[0]
	if !z.HasRRSIGs() {
		t.Fatal("reloaded zone has no RRSIGs")
	}
	exp := z.SigExpiration
	t.Logf("signatures expire in %v", time.Until(exp).Round(time.Millisecond))
	if ok4, _ := peer.has("ipv4", e2eSvc4.String()); !ok4 {
		t.Fatal("route withdrawn before the signatures expired")
	}
	peer.waitRoutes(false, "zone expiry")
	timings["zone expiry"] = time.Since(exp)
	t.Logf("checks: %s", health())
	signZone(t, dir, "now+86400")
	if err := d.Reload(); err != nil {
		t.Fatalf("reload re-signed zone: %v", err)
	}
	timings["re-signed reload (back)"] = peer.waitRoutes(true, "re-signed reload")

	// 5. Drain and undrain.
	start := time.Now()
	if _, err := d.Drain(); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	peer.waitRoutes(false, "drain")
	timings["drain"] = time.Since(start)
	start = time.Now()
	if _, err := d.Undrain(); err != nil {
		t.Fatalf("Undrain: %v", err)
	}
	peer.waitRoutes(true, "undrain")
	timings["undrain (back)"] = time.Since(start)

	// 6. Shutdown: the routes go before Close returns (it withdraws, then
	// keeps serving for the drain time).
	start = time.Now()
	errc := make(chan error, 1)
	closed = true
	go func() { errc <- d.Close() }()
	peer.waitRoutes(false, "close")
	timings["close"] = time.Since(start)
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(e2eStep):
		t.Fatal("Close blocked")
	}
	t.Logf("Close returned after %v", time.Since(start))

	for _, k := range []string{"pause serving", "resume serving (back)", "xdp detach", "xdp re-attach (back)",
		"zone expiry", "re-signed reload (back)", "drain", "undrain (back)", "close"} {
		t.Logf("timing: %-24s %v", k, timings[k].Round(time.Millisecond))
	}
}

// newBGPNode makes (not starts) a daemon serving zoneFile on listen with
// fast health checks, and its BGP speaker peering with the test's gobgpd,
// announcing the service prefixes and addresses on svcIf.
func newBGPNode(t *testing.T, log *slog.Logger, zoneFile, listen string, drain time.Duration, svcIf string) (*daemon.Daemon, *anycast.Speaker) {
	t.Helper()
	return newBGPNodeWith(t, log, listen, drain, svcIf, func(cfg *config.Config) {
		cfg.Zones = []zone.Spec{{Origin: "example.com.", File: zoneFile}}
	})
}

// newBGPNodeWith is newBGPNode with the zones (or anything else) set by edit.
func newBGPNodeWith(t *testing.T, log *slog.Logger, listen string, drain time.Duration, svcIf string, edit func(*config.Config)) (*daemon.Daemon, *anycast.Speaker) {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = []netip.AddrPort{netip.MustParseAddrPort(listen)}
	edit(cfg)
	cfg.Control = ""
	cfg.DrainTime = drain
	for k, v := range map[string]string{"health-interval": "150ms", "health-rise": "2", "health-fall": "2"} {
		if err := config.Set(cfg, k, v); err != nil {
			t.Fatalf("config %s: %v", k, err)
		}
	}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ac := anycast.Config{
		ASN:        e2eLocalASN,
		RouterID:   e2eLocal,
		ListenPort: -1,
		Peers:      []anycast.Peer{{Address: e2eRemote, ASN: e2ePeerASN, HoldTime: 9 * time.Second, Keepalive: 3 * time.Second}},
		Prefixes: []anycast.Prefix{
			{Prefix: e2eSvc4, NextHop: e2eLocal},
			{Prefix: e2eSvc6, NextHop: e2eLocal6},
		},
		Interface: svcIf,
		Addresses: []netip.Prefix{e2eSvc4, e2eSvc6},
	}
	if err := ac.Validate(); err != nil {
		t.Fatal(err)
	}
	sp, err := anycast.NewSpeaker(ac, log)
	if err != nil {
		t.Fatalf("NewSpeaker: %v", err)
	}
	d.SetAnnouncer(speakerAdapter{sp})
	return d, sp
}
