//go:build linux

package server

import (
	"context"
	"fmt"
	"github.com/xdpdns/xdpdns/internal/testsupport/netnstest"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// groupNetns makes a network namespace with a veth pair, its end vga at
// 198.18.250.1/24 and 2001:db8:250::1/64, and returns its name.
func groupNetns(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
	ns := fmt.Sprintf("xdpdns-grp-%d", os.Getpid())
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run("-n", ns, "link", "add", "vga", "type", "veth", "peer", "name", "vgb")
	run("-n", ns, "addr", "add", "198.18.250.1/24", "brd", "+", "dev", "vga")
	run("-n", ns, "addr", "add", "2001:db8:250::1/64", "dev", "vga", "nodad")
	// vgb, the far end, must not take the multicast vga sends for a
	// second query: no IPv6 there (it has no IPv4 address either).
	if out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.vgb.disable_ipv6=1").CombinedOutput(); err != nil {
		t.Fatalf("sysctl: %v\n%s", err, out)
	}
	for _, l := range []string{"lo", "vga", "vgb"} {
		run("-n", ns, "link", "set", l, "up")
	}
	return ns
}

// groupReplies sends one query to dst from src inside ns and returns the
// source addresses of the replies received within a bounded wait.
func groupReplies(t *testing.T, ns string, src netip.Addr, dst netip.AddrPort) []netip.Addr {
	t.Helper()
	var c *net.UDPConn
	err := netnstest.Enter(ns, func() error {
		lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			rc.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
				if serr == nil && dst.Addr().Is4() && dst.Addr().IsMulticast() {
					serr = unix.SetsockoptIPMreqn(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_IF,
						&unix.IPMreqn{Address: src.As4()})
				}
			})
			return serr
		}}
		pc, err := lc.ListenPacket(context.Background(), "udp", netip.AddrPortFrom(src, 0).String())
		if err != nil {
			return err
		}
		c = pc.(*net.UDPConn)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q, _ := new(dns.Msg).SetQuestion("www.example.com.", dns.TypeA).Pack()
	if _, err := c.WriteToUDPAddrPort(q, dst); err != nil {
		t.Fatalf("sending to %s: %v", dst, err)
	}
	var from []netip.Addr
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	for {
		n, ap, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return from
		}
		if r := new(dns.Msg); r.Unpack(buf[:n]) != nil || len(r.Answer) != 1 {
			t.Errorf("reply to %s from %s: %v", dst, ap, r)
		}
		from = append(from, ap.Addr().Unmap())
	}
}

func TestGroupQueries(t *testing.T) {
	ns := groupNetns(t)
	// The server's host has joined a multicast group on vga (as mDNS
	// would): its wildcard sockets get the group's datagrams.
	var member *net.UDPConn
	if err := netnstest.Enter(ns, func() error {
		ifi, err := net.InterfaceByName("vga")
		if err != nil {
			return err
		}
		member, err = net.ListenMulticastUDP("udp4", ifi, &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer member.Close()

	src4, src6 := netip.MustParseAddr("198.18.250.1"), netip.MustParseAddr("2001:db8:250::1")
	for _, answer := range []bool{false, true} {
		t.Run(fmt.Sprintf("answer=%v", answer), func(t *testing.T) {
			var ts *testServer
			if err := netnstest.Enter(ns, func() error {
				ts = startServer(t, func(c *Config) {
					c.Listen = []netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:0"), netip.MustParseAddrPort("[::]:0")}
					c.UDPSockets = 4
					c.AnswerGroupQueries = answer
				})
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			p4, p6 := ts.Addrs()[0].Port(), ts.Addrs()[1].Port()
			groups := []struct {
				src netip.Addr
				dst netip.AddrPort
			}{
				{src4, netip.AddrPortFrom(netip.MustParseAddr("255.255.255.255"), p4)},
				{src4, netip.AddrPortFrom(netip.MustParseAddr("198.18.250.255"), p4)},
				{src4, netip.AddrPortFrom(netip.MustParseAddr("224.0.0.251"), p4)},
				{src6, netip.AddrPortFrom(netip.MustParseAddr("ff02::1").WithZone("vga"), p6)},
			}
			for _, g := range groups {
				from := groupReplies(t, ns, g.src, g.dst)
				switch {
				case !answer && len(from) != 0:
					t.Errorf("%s: %d replies, want none", g.dst, len(from))
				case answer && len(from) != 1:
					t.Errorf("%s: %d replies, want one", g.dst, len(from))
				case answer && from[0] != g.src:
					t.Errorf("%s: reply from %s, want the unicast %s", g.dst, from[0], g.src)
				}
			}
			// Unicast queries are answered as before.
			if from := groupReplies(t, ns, src4, netip.AddrPortFrom(src4, p4)); len(from) != 1 || from[0] != src4 {
				t.Errorf("unicast: replies from %v", from)
			}
			want := uint64(len(groups))
			if answer {
				want = 0
			}
			if n := ts.Counters()["udp_dropped_group"]; n != want {
				t.Errorf("udp_dropped_group %d, want %d", n, want)
			}
		})
	}
}
