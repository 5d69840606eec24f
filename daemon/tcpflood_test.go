package daemon

import (
	"context"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/internal/testsupport"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// tcpQueryFrom opens a TCP connection from src to addr and asks one
// query on it; it returns the connection, open, when answered.
func tcpQueryFrom(t *testing.T, src, addr string) (*dns.Conn, bool) {
	t.Helper()
	d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &dns.Conn{Conn: nc}
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if err := c.WriteMsg(new(dns.Msg).SetQuestion("www.example.com.", dns.TypeA)); err != nil {
		return c, false
	}
	r, err := c.ReadMsg()
	return c, err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) == 1
}

// TestServingCheckSurvivesTCPFlood: clients holding the whole TCP pool,
// one of them trying for far more than its quota, neither fail the
// serving check nor make the node withdraw, and a client within its
// quota is still served while the pool has room.
func TestServingCheckSurvivesTCPFlood(t *testing.T) {
	cfg := testsupport.Config(t, "", []zone.Spec{testsupport.ExampleZone(t, t.TempDir())}, func(cfg *config.Config) {
		cfg.Listen = []netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:0")}
		cfg.HealthInterval = 20 * time.Millisecond
		cfg.HealthRise, cfg.HealthFall = 2, 2
		cfg.TCPMaxConns, cfg.TCPMaxConnsPerClient = 12, 4
		cfg.DrainTime = 10 * time.Millisecond
	})
	d, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeAnnouncer{}
	d.SetAnnouncer(f)
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	waitFor(t, "announce once healthy", f.Announced)
	addr := "127.0.0.1:" + itoa(d.Addrs()[0].Port())

	// One client tries for the whole pool: it gets its quota.
	held := 0
	for range 20 {
		if _, ok := tcpQueryFrom(t, "127.0.0.2", addr); ok {
			held++
		}
	}
	if held != 4 {
		t.Fatalf("one client holds %d connections, want its quota of 4", held)
	}
	// Another client is served beside it.
	c, ok := tcpQueryFrom(t, "127.0.0.3", addr)
	if !ok {
		t.Fatal("a second client is not served while the first holds its quota")
	}
	c.Close()
	// Two more clients take the rest of the pool (the second client's
	// slot comes back once the server has seen its close).
	for _, src := range []string{"127.0.0.4", "127.0.0.5"} {
		for i := range 4 {
			deadline := time.Now().Add(2 * time.Second)
			for _, ok := tcpQueryFrom(t, src, addr); !ok; _, ok = tcpQueryFrom(t, src, addr) {
				if time.Now().After(deadline) {
					t.Fatalf("client %s connection %d not served", src, i)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	if _, ok := tcpQueryFrom(t, "127.0.0.6", addr); ok {
		t.Fatal("a client was served with the pool full")
	}
	// The health check still passes, round after round: no withdrawal.
	for range 10 {
		if err := d.checkServing(context.Background()); err != nil {
			t.Fatalf("serving check with the pool full: %v", err)
		}
	}
	if !f.Announced() || len(f.log()) != 1 {
		t.Errorf("announcer events %v with the pool full, want only the first announce", f.log())
	}
	n := d.Stats().Server
	if n["tcp_refused_client"] < 16 || n["tcp_refused_pool"] < 1 {
		t.Errorf("server counters %v", n)
	}
}

func itoa(p uint16) string { return (&net.TCPAddr{Port: int(p)}).String()[1:] }

// TestDropSourcePortsReachServer: the configured ports, not the
// defaults, are dropped.
func TestDropSourcePortsReachServer(t *testing.T) {
	cfg := testsupport.Config(t, "", []zone.Spec{testsupport.ExampleZone(t, t.TempDir())}, func(cfg *config.Config) {
		if err := config.Set(cfg, "drop-source-ports", "40001"); err != nil {
			t.Fatal(err)
		}
	})
	d, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	ask := func(port int) bool {
		c := &dns.Client{Timeout: 300 * time.Millisecond, Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}}}
		_, _, err := c.Exchange(new(dns.Msg).SetQuestion("www.example.com.", dns.TypeA), d.Addrs()[0].String())
		return err == nil
	}
	if ask(40001) {
		t.Error("a query from a configured port was answered")
	}
	if os.Geteuid() == 0 && !ask(19) { // a default port, not configured
		t.Error("a query from port 19 was dropped though the configuration lists only 40001")
	}
	if n := d.Stats().Server["udp_dropped_source_port"]; n != 1 {
		t.Errorf("udp_dropped_source_port %d, want 1", n)
	}
}
