//go:build linux

package anycast

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/xdpdns/xdpdns/internal/testsupport/netnstest"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/xdpdns/xdpdns/anycast/gobgppeer"
)

// The rig: the peer (gobgpd) runs in a network namespace the test creates,
// joined by a veth pair to the test process's own namespace. The speaker
// runs in-process and only ever touches the veth end and the dummy
// interface the test names; everything is removed in t.Cleanup.

const (
	localASN = 65001
	peerASN  = 65002
)

var rigSeq atomic.Int32

type rig struct {
	t      *testing.T
	ns     string
	vethA  string // in the test's namespace (speaker side)
	local  netip.Addr
	remote netip.Addr
	local6 netip.Addr
	dummy  string // name for the service interface
	peer   *gobgppeer.Peer
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, netlink)")
	}
	for _, bin := range []string{"gobgpd", "gobgp", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (apt-get install gobgpd iproute2)", bin)
		}
	}
}

// newRig builds the namespace, the veth pair and the gobgpd config.
func newRig(t *testing.T) *rig {
	needRoot(t)
	n := int(rigSeq.Add(1))
	pid := os.Getpid() % 10000
	r := &rig{
		t:      t,
		ns:     fmt.Sprintf("xdpdns-bgp-%d-%d", os.Getpid(), n),
		vethA:  fmt.Sprintf("xdv%d%da", pid, n),
		local:  netip.AddrFrom4([4]byte{198, 18, byte(200 + n), 1}),
		remote: netip.AddrFrom4([4]byte{198, 18, byte(200 + n), 2}),
		local6: netip.MustParseAddr(fmt.Sprintf("2001:db8:%d::1", 200+n)),
		dummy:  fmt.Sprintf("xdt%d%d", pid, n),
	}
	vethB := fmt.Sprintf("xdv%d%db", pid, n)
	netnstest.MustRun(t, "", "ip", "netns", "add", r.ns)
	t.Cleanup(func() {
		r.stopPeer()
		exec.Command("ip", "link", "del", r.vethA).Run()
		exec.Command("ip", "netns", "del", r.ns).Run()
		if l, err := netlink.LinkByName(r.dummy); err == nil {
			netlink.LinkDel(l)
		}
	})
	netnstest.MustRun(t, "", "ip", "link", "add", r.vethA, "type", "veth", "peer", "name", vethB, "netns", r.ns)
	netnstest.MustRun(t, "", "ip", "addr", "add", r.local.String()+"/30", "dev", r.vethA)
	netnstest.MustRun(t, "", "ip", "addr", "add", r.local6.String()+"/64", "dev", r.vethA, "nodad")
	netnstest.MustRun(t, "", "ip", "link", "set", r.vethA, "up")
	netnstest.MustRun(t, "", "ip", "-n", r.ns, "addr", "add", r.remote.String()+"/30", "dev", vethB)
	netnstest.MustRun(t, "", "ip", "-n", r.ns, "addr", "add", fmt.Sprintf("2001:db8:%d::2/64", 200+n), "dev", vethB, "nodad")
	netnstest.MustRun(t, "", "ip", "-n", r.ns, "link", "set", vethB, "up")
	netnstest.MustRun(t, "", "ip", "-n", r.ns, "link", "set", "lo", "up")

	peer, err := gobgppeer.New(gobgppeer.Config{NS: r.ns, Dir: t.TempDir(), ASN: peerASN,
		Addr: r.remote, Neighbor: r.local, PeerASN: localASN})
	if err != nil {
		t.Fatal(err)
	}
	r.peer = peer
	return r
}

// startPeer runs gobgpd in the namespace and waits for its API.
func (r *rig) startPeer() {
	r.t.Helper()
	if err := r.peer.Start(10 * time.Second); err != nil {
		r.t.Fatal(err)
	}
}

// stopPeer kills gobgpd (a crash, as far as BGP is concerned).
func (r *rig) stopPeer() {
	if r.peer == nil {
		return
	}
	if err := r.peer.Kill(); err != nil {
		r.t.Error(err)
	}
}

func (r *rig) waitFor(timeout time.Duration, what string, cond func() (bool, string)) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ok, info := cond()
		if ok {
			return
		}
		last = info
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out after %s waiting for %s; last: %s\ngobgpd log tail:\n%s", timeout, what, last, r.peer.LogTail(4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// route is what the peer holds for one prefix, as printed by `gobgp -j`.
type route struct {
	NextHop   string
	ASPath    []uint32
	MED       *uint32
	Comms     []string
	Large     []string
	HasPrefix bool
}

// rib returns the peer's global RIB for the family ("ipv4" or "ipv6").
func (r *rig) rib(family string) (map[string]route, error) {
	raw, _, err := r.peer.RIB(family)
	if err != nil {
		return nil, err
	}
	res := map[string]route{}
	for pfx, msg := range raw {
		var paths []struct {
			Attrs []map[string]json.RawMessage `json:"attrs"`
		}
		if err := json.Unmarshal(msg, &paths); err != nil {
			return nil, fmt.Errorf("parse %s: %v", msg, err)
		}
		if len(paths) == 0 {
			continue
		}
		var rt route
		for _, a := range paths[0].Attrs {
			var typ int
			json.Unmarshal(a["type"], &typ)
			switch typ {
			case 2: // AS_PATH
				var segs []struct {
					ASNs []uint32 `json:"asns"`
				}
				json.Unmarshal(a["as_paths"], &segs)
				for _, s := range segs {
					rt.ASPath = append(rt.ASPath, s.ASNs...)
				}
			case 3, 14: // NEXT_HOP, MP_REACH_NLRI
				json.Unmarshal(a["nexthop"], &rt.NextHop)
			case 4: // MED
				var m uint32
				json.Unmarshal(a["metric"], &m)
				rt.MED = &m
			case 8: // COMMUNITIES
				var cs []uint32
				json.Unmarshal(a["communities"], &cs)
				for _, c := range cs {
					rt.Comms = append(rt.Comms, fmt.Sprintf("%d:%d", c>>16, c&0xffff))
				}
			case 32: // LARGE_COMMUNITY
				var ls []struct{ ASN, LocalData1, LocalData2 uint32 }
				json.Unmarshal(a["value"], &ls)
				for _, l := range ls {
					rt.Large = append(rt.Large, fmt.Sprintf("%d:%d:%d", l.ASN, l.LocalData1, l.LocalData2))
				}
			}
		}
		res[pfx] = rt
	}
	return res, nil
}

func (r *rig) has(family, prefix string) (bool, string) {
	rib, err := r.rib(family)
	if err != nil {
		return false, err.Error()
	}
	_, ok := rib[prefix]
	return ok, fmt.Sprint(rib)
}

func (r *rig) waitRoute(family, prefix string, present bool, timeout time.Duration) {
	r.t.Helper()
	r.waitFor(timeout, fmt.Sprintf("%s %s present=%v in the peer's RIB", family, prefix, present), func() (bool, string) {
		ok, info := r.has(family, prefix)
		return ok == present, info
	})
}

func (r *rig) speakerConfig() Config {
	return Config{
		ASN:        localASN,
		RouterID:   r.local,
		ListenPort: -1,
		Peers:      []Peer{{Address: r.remote, ASN: peerASN, HoldTime: 9 * time.Second, Keepalive: 3 * time.Second}},
		Prefixes: []Prefix{
			{
				Prefix:           netip.MustParsePrefix("198.18.53.0/24"),
				NextHop:          r.local,
				Communities:      []string{"65000:100", "65001:53"},
				LargeCommunities: []string{"65000:1:2"},
				MED:              10,
				Prepend:          MaxPrepend, // the peer sees all of them

			},
			{
				Prefix:           netip.MustParsePrefix("2001:db8:53::/48"),
				NextHop:          r.local6,
				Communities:      []string{"65000:200"},
				LargeCommunities: []string{"65000:3:4", "4200000000:5:6"},
				MED:              20,
			},
		},
		Interface: r.dummy,
		Addresses: []netip.Prefix{netip.MustParsePrefix("198.18.53.1/32"), netip.MustParsePrefix("2001:db8:53::1/128")},
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// addrs lists the addresses on the named interface as prefixes.
func addrs(t *testing.T, name string) []netip.Prefix {
	t.Helper()
	l, err := netlink.LinkByName(name)
	if err != nil {
		return nil
	}
	as, err := netlink.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatalf("list addresses of %s: %v", name, err)
	}
	var out []netip.Prefix
	for _, a := range as {
		ip, _ := netip.AddrFromSlice(a.IP)
		ones, _ := a.Mask.Size()
		out = append(out, netip.PrefixFrom(ip.Unmap(), ones))
	}
	return out
}

func TestSpeakerAgainstGobgpd(t *testing.T) {
	r := newRig(t)
	r.startPeer()

	// The test owns the service interface here and puts an unrelated
	// address on it, which the speaker must never touch.
	netnstest.MustRun(t, "", "ip", "link", "add", r.dummy, "type", serviceIfType(t))
	unrelated := netip.MustParsePrefix("198.18.99.7/32")
	netnstest.MustRun(t, "", "ip", "addr", "add", unrelated.String(), "dev", r.dummy)

	cfg := r.speakerConfig()
	s, err := NewSpeaker(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("NewSpeaker: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if s.Announced() || len(s.Advertised()) != 0 {
		t.Fatalf("announced before Announce: %v", s.Advertised())
	}

	r.waitFor(20*time.Second, "session established", func() (bool, string) {
		ps := s.Peers()
		return len(ps) == 1 && ps[0].State == "established", fmt.Sprint(ps)
	})
	// Nothing is announced yet.
	if ok, info := r.has("ipv4", "198.18.53.0/24"); ok {
		t.Fatalf("route present before Announce: %s", info)
	}

	for range 2 { // idempotent
		if err := s.Announce(); err != nil {
			t.Fatalf("Announce: %v", err)
		}
	}
	if !s.Announced() {
		t.Fatal("Announced() = false after Announce")
	}
	want := []string{"198.18.53.0/24 " + r.local.String(), "2001:db8:53::/48 " + r.local6.String()}
	if got := s.Advertised(); !slices.Equal(got, want) {
		t.Errorf("Advertised() = %v, want %v", got, want)
	}
	r.waitRoute("ipv4", "198.18.53.0/24", true, 10*time.Second)
	r.waitRoute("ipv6", "2001:db8:53::/48", true, 10*time.Second)
	checkRoutes(t, r, cfg)

	got := addrs(t, r.dummy)
	for _, a := range append([]netip.Prefix{unrelated}, cfg.Addresses...) {
		if !slices.Contains(got, a) {
			t.Errorf("address %s missing from %s while announced: %v", a, r.dummy, got)
		}
	}
	ps := s.Peers()
	if len(ps) != 1 || ps[0].Address != r.remote.String() || ps[0].ASN != peerASN || ps[0].Uptime < 0 {
		t.Errorf("Peers() = %+v", ps)
	}

	// Withdraw, and time how long the peer takes to drop the route.
	start := time.Now()
	if err := s.Withdraw(); err != nil {
		t.Fatalf("Withdraw: %v", err)
	}
	r.waitRoute("ipv4", "198.18.53.0/24", false, 10*time.Second)
	gone := time.Since(start)
	r.waitRoute("ipv6", "2001:db8:53::/48", false, 10*time.Second)
	t.Logf("Withdraw() to IPv4 route gone from the peer's RIB: %v (IPv6 too after %v)", gone, time.Since(start))
	if err := s.Withdraw(); err != nil { // idempotent
		t.Fatalf("second Withdraw: %v", err)
	}
	if s.Announced() || len(s.Advertised()) != 0 {
		t.Errorf("still announced after Withdraw: %v", s.Advertised())
	}
	got = addrs(t, r.dummy)
	for _, a := range got { // only the unrelated address (and an IPv6 link-local) may remain
		if a != unrelated && !a.Addr().IsLinkLocalUnicast() {
			t.Errorf("address %s left on %s after Withdraw: %v", a, r.dummy, got)
		}
	}
	if !slices.Contains(got, unrelated) {
		t.Errorf("unrelated address %s removed: %v", unrelated, got)
	}

	// Announce restores the routes.
	if err := s.Announce(); err != nil {
		t.Fatalf("re-Announce: %v", err)
	}
	r.waitRoute("ipv4", "198.18.53.0/24", true, 10*time.Second)
	r.waitRoute("ipv6", "2001:db8:53::/48", true, 10*time.Second)
	checkRoutes(t, r, cfg)

	// Close removes the routes and the addresses, but not the interface
	// the test created, nor the unrelated address.
	start = time.Now()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	r.waitRoute("ipv4", "198.18.53.0/24", false, 10*time.Second)
	r.waitRoute("ipv6", "2001:db8:53::/48", false, 10*time.Second)
	t.Logf("Close() to routes gone: %v", time.Since(start))
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	got = addrs(t, r.dummy)
	if !slices.Contains(got, unrelated) {
		t.Errorf("unrelated address removed by Close (or interface deleted): %v", got)
	}
	for _, a := range cfg.Addresses {
		if slices.Contains(got, a) {
			t.Errorf("service address %s left after Close: %v", a, got)
		}
	}
	if err := s.Announce(); err == nil {
		t.Error("Announce after Close succeeded")
	}
}

// checkRoutes asserts the attributes the peer received.
func checkRoutes(t *testing.T, r *rig, cfg Config) {
	t.Helper()
	for _, p := range cfg.Prefixes {
		fam := "ipv4"
		if p.Prefix.Addr().Is6() {
			fam = "ipv6"
		}
		rib, err := r.rib(fam)
		if err != nil {
			t.Fatal(err)
		}
		rt, ok := rib[p.Prefix.String()]
		if !ok {
			t.Errorf("%s missing from peer RIB %v", p.Prefix, rib)
			continue
		}
		if rt.NextHop != p.NextHop.String() {
			t.Errorf("%s next hop = %q, want %s", p.Prefix, rt.NextHop, p.NextHop)
		}
		wantPath := []uint32{localASN}
		for range p.Prepend {
			wantPath = append(wantPath, localASN)
		}
		if !slices.Equal(rt.ASPath, wantPath) {
			t.Errorf("%s AS path = %v, want %v", p.Prefix, rt.ASPath, wantPath)
		}
		if rt.MED == nil || *rt.MED != p.MED {
			t.Errorf("%s MED = %v, want %d", p.Prefix, rt.MED, p.MED)
		}
		if !slices.Equal(rt.Comms, p.Communities) {
			t.Errorf("%s communities = %v, want %v", p.Prefix, rt.Comms, p.Communities)
		}
		if !slices.Equal(rt.Large, p.LargeCommunities) {
			t.Errorf("%s large communities = %v, want %v", p.Prefix, rt.Large, p.LargeCommunities)
		}
	}
}

// serviceIfType is "dummy", or "ifb" on kernels without dummy interfaces.
func serviceIfType(t *testing.T) string {
	name := fmt.Sprintf("xdk%d", os.Getpid()%100000)
	if err := exec.Command("ip", "link", "add", name, "type", "dummy").Run(); err != nil {
		return "ifb"
	}
	exec.Command("ip", "link", "del", name).Run()
	return "dummy"
}

// bounded runs f and fails the test if it takes longer than max.
func bounded(t *testing.T, what string, max time.Duration, f func() error) {
	t.Helper()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- f() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if d := time.Since(start); d > max {
			t.Errorf("%s took %v (limit %v)", what, d, max)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s blocked for 10s", what)
	}
}

func TestSpeakerPeerFlap(t *testing.T) {
	r := newRig(t)
	cfg := r.speakerConfig()
	// A second peer that never answers (nothing owns that address).
	cfg.Peers = append(cfg.Peers, Peer{Address: netip.AddrFrom4([4]byte{198, 18, r.local.As4()[2], 3}), ASN: 65003})
	// The speaker creates the service interface itself this time.
	s, err := NewSpeaker(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("NewSpeaker: %v", err)
	}
	t.Cleanup(func() { s.Close() })

	// No peer is up: Announce and Withdraw return at once.
	for range 3 {
		bounded(t, "Announce with no peer", time.Second, s.Announce)
		bounded(t, "Withdraw with no peer", time.Second, s.Withdraw)
	}
	bounded(t, "Announce with no peer", time.Second, s.Announce)
	if _, err := netlink.LinkByName(r.dummy); err != nil {
		t.Fatalf("service interface %s not created: %v", r.dummy, err)
	}

	// The peer comes up and receives the routes announced before it existed.
	r.startPeer()
	r.waitRoute("ipv4", "198.18.53.0/24", true, 20*time.Second)
	r.waitRoute("ipv6", "2001:db8:53::/48", true, 5*time.Second)
	checkRoutes(t, r, cfg)

	// The peer crashes; the speaker keeps working.
	r.stopPeer()
	r.waitFor(10*time.Second, "session down", func() (bool, string) {
		ps := s.Peers()
		return len(ps) == 2 && ps[0].State != "established" && ps[1].State != "established", fmt.Sprint(ps)
	})
	bounded(t, "Withdraw with the peer down", time.Second, s.Withdraw)
	bounded(t, "Announce with the peer down", time.Second, s.Announce)
	if len(s.Peers()) != 2 {
		t.Errorf("Peers() = %v", s.Peers())
	}

	// The peer returns: the speaker reconnects and re-advertises.
	start := time.Now()
	r.startPeer()
	r.waitRoute("ipv4", "198.18.53.0/24", true, 30*time.Second)
	r.waitRoute("ipv6", "2001:db8:53::/48", true, 5*time.Second)
	t.Logf("routes back %v after the peer restarted", time.Since(start))
	checkRoutes(t, r, cfg)
	for _, p := range s.Peers() {
		if p.Address == r.remote.String() && p.State != "established" {
			t.Errorf("peer %s state %q", p.Address, p.State)
		}
		if p.Address != r.remote.String() && p.State == "established" {
			t.Errorf("unreachable peer %s established", p.Address)
		}
	}

	// Close withdraws and deletes the interface the speaker created.
	bounded(t, "Close", 6*time.Second, s.Close)
	r.waitRoute("ipv4", "198.18.53.0/24", false, 10*time.Second)
	if _, err := netlink.LinkByName(r.dummy); err == nil {
		t.Errorf("service interface %s still exists after Close", r.dummy)
	}
}

// TestSpeakerGarbagePeer points the speaker at a "peer" that answers every
// connection with bytes that are not BGP and hangs up: the speaker keeps
// serving its API (the DNS service around it is never blocked) and never
// counts the session as established.
func TestSpeakerGarbagePeer(t *testing.T) {
	r := newRig(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var accepted atomic.Int32
	go func() {
		garbage := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 64)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.SetDeadline(time.Now().Add(time.Second))
			c.Write(garbage)
			c.Close()
		}
	}()
	cfg := r.speakerConfig()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	cfg.Peers = []Peer{{Address: netip.MustParseAddr("127.0.0.1"), ASN: 65010, Port: port}}
	s, err := NewSpeaker(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("NewSpeaker: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	deadline := time.Now().Add(15 * time.Second)
	for accepted.Load() < 2 && time.Now().Before(deadline) {
		bounded(t, "Announce next to a garbage peer", time.Second, s.Announce)
		bounded(t, "Withdraw next to a garbage peer", time.Second, s.Withdraw)
		time.Sleep(100 * time.Millisecond)
	}
	if accepted.Load() < 2 {
		t.Fatalf("the speaker connected %d times to the garbage peer in 15 s, want 2 or more", accepted.Load())
	}
	for _, p := range s.Peers() {
		if p.State == "established" {
			t.Errorf("garbage peer counted as established: %+v", p)
		}
	}
	bounded(t, "Close", 6*time.Second, s.Close)
}

// TestSpeakerLeftovers: a speaker killed while announced (kill -9: no
// Close) leaves its service addresses behind; the next speaker with the
// same state file removes them at start, and an address someone else put
// on the interface survives that start and a clean stop.
func TestSpeakerLeftovers(t *testing.T) {
	needRoot(t)
	pid := os.Getpid() % 10000
	name := fmt.Sprintf("xdl%d", pid)
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(name); err == nil {
			netlink.LinkDel(l)
		}
	})
	ours := []netip.Prefix{netip.MustParsePrefix("198.18.54.1/32"), netip.MustParsePrefix("2001:db8:54::1/128")}
	foreign := netip.MustParsePrefix("198.18.54.99/32")
	state := filepath.Join(t.TempDir(), "anycast.state")
	cfg := Config{
		ASN: localASN, RouterID: netip.MustParseAddr("198.18.54.254"), ListenPort: -1,
		Prefixes:  []Prefix{{Prefix: netip.MustParsePrefix("198.18.54.0/24"), NextHop: netip.MustParseAddr("198.18.54.254")}},
		Interface: name, Addresses: ours, StateFile: state,
	}
	has := func(p netip.Prefix) bool { return slices.Contains(addrs(t, name), p) }

	s1, err := NewSpeaker(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Announce(); err != nil {
		t.Fatal(err)
	}
	netnstest.MustRun(t, "", "ip", "addr", "add", foreign.String(), "dev", name)
	if !has(ours[0]) || !has(ours[1]) || !has(foreign) {
		t.Fatalf("after announcing: %v", addrs(t, name))
	}
	s1.stop() // killed: BGP gone, addresses and state file left behind
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("no state file after announcing: %v", err)
	}

	s2, err := NewSpeaker(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if has(ours[0]) || has(ours[1]) || !has(foreign) {
		t.Errorf("after a restart: %v; want the leftovers gone and %s kept", addrs(t, name), foreign)
	}
	if err := s2.Announce(); err != nil {
		t.Fatal(err)
	}
	if !has(ours[0]) || !has(ours[1]) {
		t.Errorf("announced again: %v", addrs(t, name))
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	if has(ours[0]) || has(ours[1]) || !has(foreign) {
		t.Errorf("after a clean stop: %v; want ours gone and %s kept", addrs(t, name), foreign)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("state file left after a clean stop: %v", err)
	}
}
