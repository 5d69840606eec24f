package server

import (
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// BenchmarkUDPQuery is one query and its reply through a real server on
// loopback (recvmmsg, the engine, sendmmsg), sent and read by a client with
// preallocated buffers: allocs/op is what the server allocates per query.
func BenchmarkUDPQuery(b *testing.B) {
	ts := startServer(b, nil)
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(ts.Addrs()[0]))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	q := packQuery(b, 1, "www.example.com.", dns.TypeA)
	buf := make([]byte, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(q); err != nil {
			b.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// TestUDPQueryAllocs holds the UDP path to no allocation per query: the
// server's receive, engine and send, counted over round trips through a
// real socket (the client's side allocates nothing either), on a socket of
// one address and on a wildcard one (which reads the packet info and
// sends the reply from the query's destination).
func TestUDPQueryAllocs(t *testing.T) {
	for _, tc := range []struct{ listen, dial string }{
		{"127.0.0.1:0", "127.0.0.1"},
		{"0.0.0.0:0", "127.0.0.1"},
		{"[::1]:0", "::1"},
	} {
		t.Run(tc.listen, func(t *testing.T) {
			ts := startServer(t, func(c *Config) { c.Listen = []netip.AddrPort{netip.MustParseAddrPort(tc.listen)} })
			to := netip.AddrPortFrom(netip.MustParseAddr(tc.dial), ts.Addrs()[0].Port())
			c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(to))
			if err != nil {
				t.Skipf("no %s here: %v", tc.dial, err)
			}
			defer c.Close()
			q := packQuery(t, 1, "www.example.com.", dns.TypeA)
			buf := make([]byte, 4096)
			roundTrip := func() {
				if _, err := c.Write(q); err != nil {
					t.Fatal(err)
				}
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, err := c.Read(buf)
				if err != nil {
					t.Fatal(err)
				}
				if n < 12 || buf[0] != q[0] || buf[1] != q[1] {
					t.Fatalf("reply % x is not the answer", buf[:n])
				}
			}
			roundTrip() // warm up: the server's buffers exist before counting
			// Allocations of the runtime itself (timers, the GC) can land
			// in the window now and then; one per query gives at least 1.
			if avg := testing.AllocsPerRun(500, roundTrip); avg >= 0.5 {
				t.Errorf("%.2f allocations per UDP query, want 0", avg)
			}
		})
	}
}

// TestAnswerCacheCounted: with one UDP socket, the third of three equal
// queries is answered from its cache (stored when seen the second time),
// and counted so; with the cache off nothing is looked up.
func TestAnswerCacheCounted(t *testing.T) {
	for _, tc := range []struct {
		size         int
		hits, misses uint64
	}{{0, 1, 2}, {-1, 0, 0}} {
		ts := startServer(t, func(c *Config) { c.UDPSockets, c.AnswerCache = 1, tc.size })
		for i := 0; i < 3; i++ {
			if r := ts.query(t, "udp", "www.example.com.", dns.TypeA); r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
				t.Fatalf("answer-cache %d: query %d answered %v", tc.size, i, r)
			}
		}
		if hits, misses := ts.CacheCounts(); hits != tc.hits || misses != tc.misses {
			t.Errorf("answer-cache %d: %d hits, %d misses; want %d, %d", tc.size, hits, misses, tc.hits, tc.misses)
		}
	}
}

// TestUDPBuffers: the UDP sockets get the enlarged buffers (as root, the
// tests' user, forced past the sysctl caps; the kernel reports double).
func TestUDPBuffers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("forcing socket buffers past net.core.rmem_max needs root")
	}
	ts := startServer(t, nil)
	for _, u := range ts.udp {
		rc, err := u.c.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var rcv, snd int
		rc.Control(func(fd uintptr) {
			rcv, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
			snd, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
		})
		if rcv < udpRecvBuffer || snd < udpSendBuffer {
			t.Errorf("socket buffers %d/%d, want at least %d/%d", rcv, snd, udpRecvBuffer, udpSendBuffer)
		}
	}
}
