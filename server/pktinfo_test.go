package server

import (
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// TestWildcardReplySource checks that a server bound to a wildcard address
// answers from the address each query was sent to: the client's connected
// UDP socket would not accept a reply from any other. 127.0.0.2 is on lo
// but the kernel would pick 127.0.0.1 as the source by route.
func TestWildcardReplySource(t *testing.T) {
	for _, tc := range []struct{ listen, dst string }{
		{"0.0.0.0:0", "127.0.0.2"},
		{"0.0.0.0:0", "127.0.0.1"},
		{"[::]:0", "::1"},
	} {
		t.Run(tc.listen+"->"+tc.dst, func(t *testing.T) {
			if netip.MustParseAddr(tc.dst).Is6() {
				if c, err := net.ListenPacket("udp6", "[::1]:0"); err != nil {
					t.Skipf("no IPv6 loopback: %v", err)
				} else {
					c.Close()
				}
			}
			ts := startServer(t, func(c *Config) { c.Listen = []netip.AddrPort{netip.MustParseAddrPort(tc.listen)} })
			ts.addr = netip.AddrPortFrom(netip.MustParseAddr(tc.dst), ts.Addrs()[0].Port()).String()
			for _, network := range []string{"udp", "tcp"} {
				r := ts.query(t, network, "www.example.com.", dns.TypeA)
				if len(r.Answer) != 1 {
					t.Errorf("%s: %v", network, r)
				}
			}
		})
	}
}

func TestReplyOOBIgnoresJunk(t *testing.T) {
	for _, oob := range [][]byte{nil, {1, 2, 3}, make([]byte, 64)} {
		for _, v6 := range []bool{false, true} {
			if b := replyOOB(oob, v6); b != nil {
				t.Errorf("replyOOB(%x, %v) = %x, want nil", oob, v6, b)
			}
		}
	}
}
