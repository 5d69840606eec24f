package server

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
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
