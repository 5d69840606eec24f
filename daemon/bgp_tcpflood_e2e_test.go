//go:build linux

package daemon_test

// End-to-end: a daemon peered with a real gobgpd keeps its route while
// hostile clients, in the peer's network namespace, hold every TCP
// connection of the public pool: the health check's self-query has slots
// of its own.

import (
	"context"
	"github.com/xdpdns/xdpdns/internal/testsupport/netnstest"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// askTCP asks one query on c and reports whether it was answered.
func askTCP(c net.Conn) bool {
	dc := &dns.Conn{Conn: c}
	dc.SetDeadline(time.Now().Add(2 * time.Second))
	if err := dc.WriteMsg(new(dns.Msg).SetQuestion("www.example.com.", dns.TypeA)); err != nil {
		return false
	}
	r, err := dc.ReadMsg()
	return err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) == 1
}

func TestBGPRouteSurvivesTCPFlood(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, netlink)")
	}
	for _, bin := range []string{"gobgpd", "gobgp", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
	log, vethA, svcIf, peer := bgpLab(t, "f", "t")
	// Hostile clients come from many addresses behind the peer.
	const clients = 10
	hostile := make([]netip.Addr, clients)
	for i := range hostile {
		hostile[i] = netip.AddrFrom4([4]byte{198, 18, 241, byte(1 + i)})
		netnstest.MustRun(t, "", "ip", "-n", peer.ns, "addr", "add", hostile[i].String()+"/32", "dev", "lo")
	}
	legit := netip.MustParseAddr("198.18.241.200")
	netnstest.MustRun(t, "", "ip", "-n", peer.ns, "addr", "add", legit.String()+"/32", "dev", "lo")
	netnstest.MustRun(t, "", "ip", "-n", peer.ns, "route", "add", "default", "via", e2eLocal.String())
	netnstest.MustRun(t, "", "ip", "route", "add", "198.18.241.0/24", "via", e2eRemote.String(), "dev", vethA)

	dir := t.TempDir()
	zoneFile := filepath.Join(dir, "example.com.zone")
	if err := os.WriteFile(zoneFile, []byte(`$TTL 300
example.com. IN SOA ns1.example.com. hostmaster.example.com. 1 3600 600 86400 300
example.com. IN NS ns1.example.com.
ns1.example.com. IN A 198.18.53.77
www.example.com. IN A 198.18.53.77
`), 0o644); err != nil {
		t.Fatal(err)
	}
	// The node's unicast address is served too (a wildcard listen).
	d, sp := newBGPNode(t, log, zoneFile, "0.0.0.0:0", 100*time.Millisecond, svcIf)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := d.Start(ctx); err != nil {
		sp.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	target := netip.AddrPortFrom(e2eLocal, d.Addrs()[0].Port())
	peer.waitRoutes(true, "start")

	var held []net.Conn
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	hold := func(src netip.Addr, tries int) int {
		n := 0
		for range tries {
			c, err := netnstest.DialFrom(peer.ns, "tcp", &net.TCPAddr{IP: src.AsSlice()}, target.String(), 2*time.Second)
			if err != nil {
				t.Fatalf("dial from %s: %v", src, err)
			}
			if askTCP(c) {
				held = append(held, c)
				n++
			} else {
				c.Close()
			}
		}
		return n
	}

	// 1. One client tries for 300 connections: it holds its quota, and
	// a legitimate client is served beside it.
	if n := hold(hostile[0], 300); n != 32 {
		t.Fatalf("one client holds %d connections, want its quota of 32", n)
	}
	c, err := netnstest.DialFrom(peer.ns, "tcp", &net.TCPAddr{IP: legit.AsSlice()}, target.String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !askTCP(c) {
		t.Fatal("a legitimate client is not served while another holds its quota")
	}
	c.Close()

	// 2. Many clients hold the whole public pool (256).
	for _, src := range hostile[1:] {
		hold(src, 32)
	}
	if len(held) != 256 {
		t.Fatalf("hostile clients hold %d connections, want the pool of 256", len(held))
	}
	// 3. For many health rounds (interval 150ms, fall 2) the check passes
	// and the route stays at the peer.
	deadline := time.Now().Add(3 * time.Second)
	cliErrs := 0
	for time.Now().Before(deadline) {
		rib, out, err := peer.RIB("ipv4")
		if err != nil { // the CLI, not the route: tolerated a few times
			if cliErrs++; cliErrs > 5 {
				t.Fatalf("gobgp CLI keeps failing: %v", err)
			}
			t.Logf("gobgp CLI: %v", err)
			continue
		}
		if _, ok := rib[e2eSvc4.String()]; !ok {
			h, _ := d.Health()
			t.Fatalf("route withdrawn while clients hold the pool; checks %v; rib %s", h.Checks, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	h, _ := d.Health()
	if !h.Healthy || h.Fails != 0 || h.Passes < 10 {
		t.Errorf("health with the pool held: %+v", h)
	}
	n := d.Stats().Server
	t.Logf("server counters: %v; health %d rounds, %d passing", n, h.Rounds, h.Passes)
	if n["tcp_refused_client"] != 300-32 {
		t.Errorf("tcp_refused_client %d, want %d", n["tcp_refused_client"], 300-32)
	}
}
