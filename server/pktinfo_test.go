//go:build linux

package server

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
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

func TestReplyOOBPacketInfo(t *testing.T) {
	in4 := unix.PktInfo4(&unix.Inet4Pktinfo{Ifindex: 1, Addr: [4]byte{127, 0, 0, 2}})
	// Another control message before it must be skipped.
	other := unix.UnixRights(0)
	got := replyOOB(append(append([]byte{}, other...), in4...), false)
	want := unix.PktInfo4(&unix.Inet4Pktinfo{Spec_dst: [4]byte{127, 0, 0, 2}})
	if !bytes.Equal(got, want) {
		t.Errorf("IPv4: got %x, want %x", got, want)
	}
	if got := replyOOB(unix.PktInfo4(&unix.Inet4Pktinfo{Addr: [4]byte{224, 0, 0, 1}}), false); got != nil {
		t.Errorf("multicast destination: got %x, want nil", got)
	}
	ll := netip.MustParseAddr("fe80::1").As16()
	in6 := unix.PktInfo6(&unix.Inet6Pktinfo{Addr: ll, Ifindex: 7})
	if got, want := replyOOB(in6, true), unix.PktInfo6(&unix.Inet6Pktinfo{Addr: ll, Ifindex: 7}); !bytes.Equal(got, want) {
		t.Errorf("IPv6 link-local: got %x, want %x", got, want)
	}
	if got := replyOOB(in6, false); got != nil {
		t.Errorf("IPv6 info on an IPv4 socket: got %x", got)
	}
}
