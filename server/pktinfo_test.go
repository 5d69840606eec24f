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
			if b, dst := replyOOB(nil, oob, v6); b != nil || dst != destUnknown {
				t.Errorf("replyOOB(nil, %x, %v) = %x, %d; want nil, unknown", oob, v6, b, dst)
			}
		}
	}
}

func TestReplyOOBPacketInfo(t *testing.T) {
	// As the kernel fills it for a query to one of the host's addresses:
	// spec_dst is the header's destination.
	in4 := unix.PktInfo4(&unix.Inet4Pktinfo{Ifindex: 1, Spec_dst: [4]byte{127, 0, 0, 2}, Addr: [4]byte{127, 0, 0, 2}})
	// Another control message before it must be skipped.
	other := unix.UnixRights(0)
	got, dst := replyOOB(nil, append(append([]byte{}, other...), in4...), false)
	want := unix.PktInfo4(&unix.Inet4Pktinfo{Spec_dst: [4]byte{127, 0, 0, 2}})
	if !bytes.Equal(got, want) || dst != destUnicast {
		t.Errorf("IPv4: got %x %d, want %x unicast", got, dst, want)
	}
	ll := netip.MustParseAddr("fe80::1").As16()
	in6 := unix.PktInfo6(&unix.Inet6Pktinfo{Addr: ll, Ifindex: 7})
	if got, dst := replyOOB(nil, in6, true); !bytes.Equal(got, unix.PktInfo6(&unix.Inet6Pktinfo{Addr: ll, Ifindex: 7})) || dst != destUnicast {
		t.Errorf("IPv6 link-local: got %x %d", got, dst)
	}
	if got, dst := replyOOB(nil, in6, false); got != nil || dst != destUnknown {
		t.Errorf("IPv6 info on an IPv4 socket: got %x %d", got, dst)
	}
}

func TestReplyOOBGroupDestinations(t *testing.T) {
	unicast := [4]byte{198, 18, 0, 1}
	for _, tc := range []struct {
		name       string
		spec, addr [4]byte
		from       [4]byte // the reply's source, zero for none
	}{
		// The kernel sets spec_dst to an address of the interface.
		{"limited broadcast", unicast, [4]byte{255, 255, 255, 255}, unicast},
		{"directed broadcast", unicast, [4]byte{198, 18, 0, 255}, unicast},
		{"multicast", unicast, [4]byte{224, 0, 0, 251}, unicast},
		{"multicast, no address", [4]byte{}, [4]byte{224, 0, 0, 1}, [4]byte{}},
	} {
		got, dst := replyOOB(nil, unix.PktInfo4(&unix.Inet4Pktinfo{Ifindex: 3, Spec_dst: tc.spec, Addr: tc.addr}), false)
		var want []byte
		if tc.from != [4]byte{} {
			want = unix.PktInfo4(&unix.Inet4Pktinfo{Spec_dst: tc.from})
		}
		if dst != destGroup || !bytes.Equal(got, want) {
			t.Errorf("%s: got %x %d, want %x group", tc.name, got, dst, want)
		}
	}
	for _, a := range []string{"ff02::1", "ff05::1:3"} {
		if got, dst := replyOOB(nil, unix.PktInfo6(&unix.Inet6Pktinfo{Addr: netip.MustParseAddr(a).As16(), Ifindex: 3}), true); got != nil || dst != destGroup {
			t.Errorf("%s: got %x %d, want nil group", a, got, dst)
		}
	}
}
