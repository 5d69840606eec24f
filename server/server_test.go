package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestUDPAndTCPAnswers(t *testing.T) {
	ts := startServer(t, nil)
	for _, network := range []string{"udp", "tcp"} {
		r := ts.query(t, network, "WWW.Example.COM.", dns.TypeA)
		if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) != 1 {
			t.Fatalf("%s: %v", network, r)
		}
		if a, ok := r.Answer[0].(*dns.A); !ok || a.A.String() != "192.0.2.10" {
			t.Errorf("%s: answer %v", network, r.Answer[0])
		}
		if r.Question[0].Name != "WWW.Example.COM." {
			t.Errorf("%s: question case not echoed: %v", network, r.Question[0])
		}
		r = ts.query(t, network, "nope.example.com.", dns.TypeA)
		if r.Rcode != dns.RcodeNameError {
			t.Errorf("%s: nonexistent name: %v", network, dns.RcodeToString[r.Rcode])
		}
		r = ts.query(t, network, "example.org.", dns.TypeA)
		if r.Rcode != dns.RcodeRefused {
			t.Errorf("%s: out-of-zone name: %v", network, dns.RcodeToString[r.Rcode])
		}
	}
}

func TestUDPManySockets(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.UDPSockets = 4 })
	if len(ts.udp) != 4 {
		t.Fatalf("%d UDP sockets, want 4", len(ts.udp))
	}
	// Queries from many source ports spread over the sockets; all must
	// be answered whichever socket they land on.
	for i := 0; i < 32; i++ {
		ts.query(t, "udp", "www.example.com.", dns.TypeAAAA)
	}
}

func TestTCPPipelining(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dialTCP(t)
	names := []string{"www.example.com.", "ns1.example.com.", "mail.example.com.", "nope.example.com.", "txt.example.com."}
	types := []uint16{dns.TypeA, dns.TypeA, dns.TypeMX, dns.TypeA, dns.TypeTXT}
	var all []byte
	for i, n := range names {
		all = append(all, frame(packQuery(t, uint16(1000+i), n, types[i]))...)
	}
	if _, err := c.Write(all); err != nil { // every query in one segment
		t.Fatal(err)
	}
	for i, n := range names {
		r, err := readFrame(c)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		if r.Id != uint16(1000+i) || r.Question[0].Name != n {
			t.Errorf("response %d: id %d question %v, want %d %s", i, r.Id, r.Question[0], 1000+i, n)
		}
	}
	// And one byte at a time, across several writes.
	q := frame(packQuery(t, 7, "www.example.com.", dns.TypeA))
	for _, b := range q {
		if _, err := c.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
	}
	if r, err := readFrame(c); err != nil || r.Id != 7 || len(r.Answer) != 1 {
		t.Fatalf("byte-by-byte query: %v %v", r, err)
	}
}

func TestTCPIdleTimeout(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.TCPIdleTimeout = 200 * time.Millisecond })
	c := ts.dialTCP(t)
	if took := waitClosed(t, c, 3*time.Second); took < 150*time.Millisecond {
		t.Errorf("closed after %v, before the idle timeout", took)
	}
	// The idle timer restarts after each answer.
	c = ts.dialTCP(t)
	for i := 0; i < 3; i++ {
		time.Sleep(100 * time.Millisecond)
		c.Write(frame(packQuery(t, uint16(i), "www.example.com.", dns.TypeA)))
		if _, err := readFrame(c); err != nil {
			t.Fatalf("query %d after %d00ms: %v", i, i+1, err)
		}
	}
	waitClosed(t, c, 3*time.Second)
}

func TestTCPSlowClient(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.TCPIdleTimeout = 10 * time.Second
		c.TCPReadTimeout = 200 * time.Millisecond
	})
	for _, partial := range [][]byte{
		{0},                        // half a length prefix
		{0, 40, 1, 2, 3},           // prefix and part of the message
		frame(make([]byte, 1))[:2], // prefix of a message never sent
	} {
		c := ts.dialTCP(t)
		if _, err := c.Write(partial); err != nil {
			t.Fatal(err)
		}
		if took := waitClosed(t, c, 3*time.Second); took > 2*time.Second {
			t.Errorf("slow client %x kept for %v", partial, took)
		}
	}
	ts.checkAlive(t)
}

func TestTCPConnectionLimit(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.TCPMaxConns = 2 })
	// Clients: the host's own connections (from 127.0.0.1) have slots
	// of their own beyond the limit.
	var held []net.Conn
	for i := 0; i < 2; i++ {
		c := ts.dialTCPFrom(t, fmt.Sprintf("127.0.0.%d", 2+i))
		c.Write(frame(packQuery(t, 1, "www.example.com.", dns.TypeA)))
		if _, err := readFrame(c); err != nil {
			t.Fatalf("connection %d within the limit: %v", i, err)
		}
		held = append(held, c)
	}
	extra := ts.dialTCPFrom(t, "127.0.0.4")
	extra.Write(frame(packQuery(t, 1, "www.example.com.", dns.TypeA)))
	if _, err := readFrame(extra); err == nil {
		t.Fatal("connection beyond the limit was answered")
	}
	if took := waitClosed(t, extra, time.Second); took > 500*time.Millisecond {
		t.Errorf("connection beyond the limit closed after %v", took)
	}
	// Freeing a slot lets a new connection in.
	held[0].Close()
	deadline := time.Now().Add(testTimeout)
	for {
		c := ts.dialTCPFrom(t, "127.0.0.4")
		c.Write(frame(packQuery(t, 2, "www.example.com.", dns.TypeA)))
		if _, err := readFrame(c); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no connection accepted after one was closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTCPBadLengthPrefix(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.TCPReadTimeout = 300 * time.Millisecond })
	for _, n := range []int{0, 1, 11} {
		c := ts.dialTCP(t)
		msg := append([]byte{byte(n >> 8), byte(n)}, make([]byte, 64)...)
		c.Write(msg)
		if _, err := readFrame(c); err == nil {
			t.Errorf("length %d: answered", n)
		}
		waitClosed(t, c, time.Second)
	}
	// A prefix promising more than is ever sent: closed by the read
	// timeout.
	c := ts.dialTCP(t)
	c.Write(append([]byte{0xff, 0xff}, packQuery(t, 1, "www.example.com.", dns.TypeA)...))
	waitClosed(t, c, 2*time.Second)
	// A full 65535-byte message: a query followed by junk. It gets an
	// answer (trailing bytes are tolerated) or the connection is closed;
	// either way the server lives on.
	c = ts.dialTCP(t)
	big := make([]byte, 65535)
	copy(big, packQuery(t, 9, "www.example.com.", dns.TypeA))
	c.Write(frame(big))
	if r, err := readFrame(c); err == nil && r.Id != 9 {
		t.Errorf("oversized query answered with id %d", r.Id)
	}
	ts.checkAlive(t)
}

func TestGarbageNeverKillsServer(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.TCPReadTimeout = 200 * time.Millisecond })
	rng := rand.New(rand.NewPCG(1, 2))
	valid := packQuery(t, 3, "www.example.com.", dns.TypeA)
	inputs := [][]byte{
		{}, {0}, make([]byte, 11), make([]byte, 12), bytes.Repeat([]byte{0xff}, 512),
		valid[:len(valid)-1], append(valid, 0xde, 0xad),
	}
	for i := 0; i < 300; i++ {
		b := make([]byte, rng.IntN(600))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		if i%3 == 0 && len(b) >= len(valid) { // a damaged real query
			copy(b, valid)
			b[rng.IntN(len(valid))] ^= byte(1 + rng.IntN(255))
			b = b[:len(valid)+rng.IntN(len(b)-len(valid)+1)]
		}
		inputs = append(inputs, b)
	}
	u, err := net.Dial("udp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	for _, in := range inputs {
		u.Write(in)
	}
	for i, in := range inputs {
		if i%10 != 0 {
			continue
		}
		c := ts.dialTCP(t)
		// As framed messages, and as a raw unframed stream.
		c.Write(frame(in))
		c.Write(in)
		c.(*net.TCPConn).CloseWrite()
		waitClosed(t, c, 3*time.Second)
	}
	ts.checkAlive(t)
}

func TestTCPNonQueryClosesConnection(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dialTCP(t)
	resp := packQuery(t, 5, "www.example.com.", dns.TypeA)
	binary.BigEndian.PutUint16(resp[2:], 0x8000) // QR: a response, dropped
	c.Write(frame(resp))
	waitClosed(t, c, time.Second)
}

func TestShutdown(t *testing.T) {
	ts := startServer(t, nil)
	idle := ts.dialTCP(t) // an open connection must not delay the stop
	half := ts.dialTCP(t)
	half.Write([]byte{0})
	ts.checkAlive(t)
	start := time.Now()
	if err := ts.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Close took %v", took)
	}
	waitClosed(t, idle, time.Second)
	waitClosed(t, half, time.Second)
	if _, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		t.Error("still accepting TCP after Close")
	}
	if err := ts.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestContextCancelStops(t *testing.T) {
	set := loadZones(t, "example.com.", testZone)
	ctx, cancel := context.WithCancel(context.Background())
	s := New(Config{Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}}, newEngine(set))
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.Now().Add(testTimeout)
	for {
		if _, err := net.DialTimeout("tcp", s.Addrs()[0].String(), time.Second); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server still listening after its context was cancelled")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after cancel: %v", err)
	}
}

func TestStartFailsCleanly(t *testing.T) {
	ts := startServer(t, nil)
	// The TCP port is taken (without SO_REUSEPORT): a second server on the
	// same address must fail rather than share it.
	s := New(Config{Listen: []netip.AddrPort{ts.Addrs()[0]}}, ts.eng)
	if err := s.Start(context.Background()); err == nil {
		s.Close()
		t.Fatal("second server started on a taken address")
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after failed Start: %v", err)
	}
	ts.checkAlive(t)
}
