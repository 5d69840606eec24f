package server

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dialTCPFrom opens a raw TCP connection to the server from src (an
// address of the host other than the server's is a client; the server's
// own is the host itself).
func (ts *testServer) dialTCPFrom(t testing.TB, src string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: testTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(testTimeout))
	return c
}

// served reports whether c gets an answer to a query.
func served(t testing.TB, c net.Conn) bool {
	t.Helper()
	c.Write(frame(packQuery(t, 7, "www.example.com.", dns.TypeA)))
	r, err := readFrame(c)
	return err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) == 1
}

// hold opens n connections from src, each answered once and held open.
func (ts *testServer) hold(t testing.TB, src string, n int) {
	t.Helper()
	for i := range n {
		if c := ts.dialTCPFrom(t, src); !served(t, c) {
			t.Fatalf("connection %d from %s within the limits not served", i, src)
		}
	}
}

// refused fails the test unless a connection from src is closed unanswered.
func (ts *testServer) refused(t testing.TB, src string) {
	t.Helper()
	c := ts.dialTCPFrom(t, src)
	if served(t, c) {
		t.Fatalf("connection from %s beyond the limits was served", src)
	}
	waitClosed(t, c, time.Second)
}

func TestTCPPerClientLimit(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.TCPMaxConns = 8; c.TCPMaxConnsPerClient = 3 })
	ts.hold(t, "127.0.0.2", 3)
	for range 5 {
		ts.refused(t, "127.0.0.2")
	}
	// Another client is served while the first holds its whole quota.
	ts.hold(t, "127.0.0.3", 3)
	if n := ts.Counters(); n["tcp_refused_client"] != 5 || n["tcp_refused_pool"] != 0 {
		t.Errorf("counters %v, want 5 refused by the client limit", n)
	}
}

func TestTCPSelfSlotsOutliveAFullPool(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.TCPMaxConns = 4; c.TCPMaxConnsPerClient = 2; c.TCPSelfConns = 2 })
	ts.hold(t, "127.0.0.2", 2)
	ts.hold(t, "127.0.0.3", 2)
	ts.refused(t, "127.0.0.4") // the pool is full
	// The host's own connections (source = destination) are served from
	// the reserved slots, through the same handler and engine.
	var self []net.Conn
	for i := range 2 {
		c := ts.dialTCPFrom(t, "127.0.0.1")
		if !served(t, c) {
			t.Fatalf("self connection %d not served with the public pool full", i)
		}
		self = append(self, c)
	}
	// Beyond the reserved slots the host is a client like any other.
	ts.refused(t, "127.0.0.1")
	if n := ts.Counters(); n["tcp_refused_pool"] != 2 || n["tcp_refused_client"] != 0 {
		t.Errorf("counters %v, want 2 refused by the pool limit", n)
	}
	// A reserved slot given back is taken again.
	self[0].Close()
	deadline := time.Now().Add(testTimeout)
	for !served(t, ts.dialTCPFrom(t, "127.0.0.1")) {
		if time.Now().After(deadline) {
			t.Fatal("reserved slot not given back")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestConnLimitsClientPrefixes(t *testing.T) {
	l := newConnLimits(Config{TCPMaxConns: 100, TCPMaxConnsPerClient: 2, TCPSelfConns: 1,
		TCPClientPrefix4: 24, TCPClientPrefix6: 64})
	self := netip.MustParseAddr("192.0.2.53")
	admit := func(remote string) refusal {
		_, why := l.admit(netip.MustParseAddr(remote), self)
		return why
	}
	for _, tc := range []struct {
		remote string
		want   refusal
	}{
		{"198.51.100.1", admitted},
		{"::ffff:198.51.100.2", admitted}, // IPv4-mapped counts as IPv4
		{"198.51.100.3", refusedClient},   // same /24
		{"198.51.101.1", admitted},        // another /24
		{"2001:db8:1:2::1", admitted},
		{"2001:db8:1:2:ffff::1", admitted},
		{"2001:db8:1:2::99", refusedClient}, // same /64
		{"2001:db8:1:3::1", admitted},
		{"192.0.2.53", admitted},      // the host itself: reserved slot
		{"192.0.2.53", admitted},      // reserved slots used up: its own /24's quota
		{"192.0.2.53", admitted},      //
		{"192.0.2.53", refusedClient}, //
	} {
		if got := admit(tc.remote); got != tc.want {
			t.Errorf("admit(%s) = %d, want %d", tc.remote, got, tc.want)
		}
	}
	if l.selfUsed != 1 || l.public != 8 {
		t.Errorf("self %d, public %d; want 1 and 8", l.selfUsed, l.public)
	}
}

func TestConnLimitsRelease(t *testing.T) {
	l := newConnLimits(Config{TCPMaxConns: 2, TCPMaxConnsPerClient: 2, TCPSelfConns: 1,
		TCPClientPrefix4: 32, TCPClientPrefix6: 128})
	local := netip.MustParseAddr("192.0.2.53")
	a, b := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
	s1, _ := l.admit(a, local)
	l.admit(a, local)
	if _, why := l.admit(b, local); why != refusedPool {
		t.Fatalf("full pool: %d, want refusedPool", why)
	}
	l.release(s1)
	if _, why := l.admit(b, local); why != admitted {
		t.Fatalf("after a release: %d, want admitted", why)
	}
	s, _ := l.admit(local, local)
	l.release(s)
	if l.selfUsed != 0 || len(l.clients) != 2 || l.clients[netip.PrefixFrom(a, 32)] != 1 {
		t.Errorf("after releases: self %d, clients %v", l.selfUsed, l.clients)
	}
}
