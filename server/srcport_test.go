package server

import (
	"math/rand/v2"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xdpdns/xdpdns/srcport"
)

// chargenLine is one line of a chargen server (RFC 864). As a DNS
// message its header reads QR=0, opcode 4: the server answers NOTIMP.
var chargenLine = []byte("!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh\r\n")

// chargen is a UDP chargen service on port 19 of a loopback address: it
// answers every datagram with a line, at most limit times, and counts
// what it receives.
type chargen struct {
	c     *net.UDPConn
	got   atomic.Int64
	limit int64
}

func startChargen(t *testing.T, limit int64) *chargen {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to bind port 19")
	}
	// A random loopback address, so that parallel tests elsewhere on the
	// host do not collide on port 19.
	ip := net.IPv4(127, byte(1+rand.IntN(250)), byte(rand.IntN(256)), byte(1+rand.IntN(250)))
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: 19})
	if err != nil {
		t.Skipf("binding a chargen port: %v", err)
	}
	cg := &chargen{c: c, limit: limit}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			_, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if cg.got.Add(1) <= cg.limit {
				c.WriteToUDP(chargenLine, from)
			}
		}
	}()
	return cg
}

// exchanges starts the game (a datagram from the chargen port to the
// server, as a forged query would) and returns how many datagrams the
// chargen port got back within wait.
func (cg *chargen) exchanges(t *testing.T, server string, wait time.Duration) int64 {
	t.Helper()
	to, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cg.c.WriteToUDP(chargenLine, to); err != nil {
		t.Fatal(err)
	}
	time.Sleep(wait)
	return cg.got.Load()
}

func TestNoReplyToChargen(t *testing.T) {
	ts := startServer(t, nil) // default ports dropped
	cg := startChargen(t, 1000)
	if n := cg.exchanges(t, ts.addr, 300*time.Millisecond); n != 0 {
		t.Errorf("%d exchanges with a chargen port, want none", n)
	}
	if n := ts.Counters()["udp_dropped_source_port"]; n != 1 {
		t.Errorf("udp_dropped_source_port %d, want 1", n)
	}
	ts.checkAlive(t)
}

func TestChargenLoopWithoutTheFilter(t *testing.T) {
	// The finding itself, bounded by the chargen side: with no port
	// dropped the server and chargen play ping-pong.
	ts := startServer(t, func(c *Config) { c.DropSourcePorts = srcport.NewSet(nil) })
	cg := startChargen(t, 50)
	if n := cg.exchanges(t, ts.addr, 300*time.Millisecond); n < 50 {
		t.Errorf("%d exchanges with no port dropped, want the chargen side's limit of 50", n)
	}
}

func TestDropSourcePortsConfigured(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.DropSourcePorts = srcport.NewSet([]uint16{40000}) })
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000})
	if err != nil {
		t.Skipf("port 40000 taken: %v", err)
	}
	defer c.Close()
	to, _ := net.ResolveUDPAddr("udp", ts.addr)
	c.WriteToUDP(packQuery(t, 1, "www.example.com.", 1), to)
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, _, err := c.ReadFromUDP(make([]byte, 512)); err == nil {
		t.Errorf("answered (%d bytes) a query from a dropped port", n)
	}
	if n := ts.Counters()["udp_dropped_source_port"]; n != 1 {
		t.Errorf("udp_dropped_source_port %d, want 1", n)
	}
	ts.checkAlive(t) // from an ephemeral port: answered
}
