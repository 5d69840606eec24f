package server

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/rrl"
)

// flood sends n copies of one query from local (all at once) and counts
// the full and the truncated replies that come back within a second.
func flood(t *testing.T, ts *testServer, local string, n int) (full, truncated int) {
	t.Helper()
	c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(local)), net.UDPAddrFromAddrPort(ts.Addrs()[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < n; i++ {
		if _, err := c.Write(packQuery(t, uint16(i), "www.example.com.", dns.TypeA)); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(time.Second))
	for {
		k, err := c.Read(buf)
		if err != nil {
			return full, truncated
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:k]); err != nil {
			t.Fatalf("reply does not unpack: %v", err)
		}
		switch {
		case r.Truncated && len(r.Answer) == 0 && len(r.Question) == 1 && r.Question[0].Name == "www.example.com.":
			truncated++
		case !r.Truncated && len(r.Answer) > 0:
			full++
		default:
			t.Fatalf("unexpected reply %v", r)
		}
	}
}

// TestRRL: a client flooding one bucket gets the burst, then every other
// reply truncated (slip 2) and the rest dropped, counted; a client in
// another prefix and an exempt one are answered in full meanwhile.
func TestRRL(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.UDPSockets = 1
		c.RRL = rrl.Config{Rate: 5, Slip: 2, Prefix4: 32, Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.3/32")}}
	})
	full, tc := flood(t, ts, "127.0.0.1:0", 100)
	if full < 5 || full > 6 || tc < 45 || tc > 50 {
		t.Errorf("flood of 100 at rate 5, slip 2: %d full, %d truncated; want the burst of 5 and ~47 truncated", full, tc)
	}
	n := ts.Counters()
	if int(n["rrl_slipped"]) != tc || int(n["rrl_dropped"]) != 100-full-tc {
		t.Errorf("counters %d slipped, %d dropped; the client saw %d truncated, %d missing", n["rrl_slipped"], n["rrl_dropped"], tc, 100-full-tc)
	}
	if full, tc := flood(t, ts, "127.0.0.2:0", 3); full != 3 || tc != 0 {
		t.Errorf("another client: %d full, %d truncated of 3", full, tc)
	}
	if full, tc := flood(t, ts, "127.0.0.3:0", 100); full != 100 || tc != 0 {
		t.Errorf("exempt client: %d full, %d truncated of 100", full, tc)
	}
	// TCP is never limited.
	if r := ts.query(t, "tcp", "www.example.com.", dns.TypeA); r.Truncated || len(r.Answer) == 0 {
		t.Errorf("TCP answer %v", r)
	}
}
