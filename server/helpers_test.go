package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// testZone is the small zone most tests serve.
const testZone = `$ORIGIN example.com.
$TTL 3600
@       IN SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300
@       IN NS  ns1.example.com.
@       IN NS  ns2.example.com.
ns1     IN A   192.0.2.1
ns2     IN A   192.0.2.2
www     IN A   192.0.2.10
www     IN AAAA 2001:db8::10
mail    IN MX  10 www.example.com.
txt     IN TXT "hello" "world"
sub     IN NS  ns.sub.example.com.
ns.sub  IN A   192.0.2.53
`

// testTimeout bounds every network operation of the tests.
const testTimeout = 5 * time.Second

// writeZone writes text to a zone file in a temporary directory.
func writeZone(t testing.TB, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadZones loads the zone origin from text with the real zone loader.
func loadZones(t testing.TB, origin, text string) *zone.Set {
	t.Helper()
	set, err := zone.LoadSet([]zone.Spec{{Origin: origin, File: writeZone(t, origin+"zone", text)}}, zone.Options{})
	if err != nil {
		t.Fatalf("loading test zone: %v", err)
	}
	return set
}

// testServer is a running server on an ephemeral port of 127.0.0.1.
type testServer struct {
	*Server
	eng  *engine.Engine
	addr string
}

// startServer serves testZone with the real engine; mod adjusts the
// configuration before the server starts.
func startServer(t testing.TB, mod func(*Config)) *testServer {
	t.Helper()
	return startServerZones(t, loadZones(t, "example.com.", testZone), mod)
}

// startServerZones serves set.
func startServerZones(t testing.TB, set *zone.Set, mod func(*Config)) *testServer {
	t.Helper()
	eng := engine.New(engine.Config{Identity: "test"}, set)
	cfg := Config{
		Listen:     []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")},
		UDPSockets: 2,
		Logger:     slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	s := New(cfg, eng)
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &testServer{Server: s, eng: eng, addr: s.Addrs()[0].String()}
}

// testWriter sends log lines to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// query asks the server one question over net ("udp" or "tcp").
func (ts *testServer) query(t testing.TB, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	c := &dns.Client{Net: network, Timeout: testTimeout}
	r, _, err := c.Exchange(m, ts.addr)
	// A datagram can be lost on a loaded machine's loopback: ask again,
	// as a resolver would; a server that stopped answering fails all.
	for try := 1; err != nil && network == "udp" && try < 3; try++ {
		r, _, err = c.Exchange(m, ts.addr)
	}
	if err != nil {
		t.Fatalf("%s query %s %s: %v", network, name, dns.TypeToString[qtype], err)
	}
	return r
}

// checkAlive fails the test unless the server still answers over UDP and
// TCP.
func (ts *testServer) checkAlive(t testing.TB) {
	t.Helper()
	for _, network := range []string{"udp", "tcp"} {
		r := ts.query(t, network, "www.example.com.", dns.TypeA)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			t.Fatalf("%s: server no longer answers properly: %v", network, r)
		}
	}
}

// dialTCP opens a raw TCP connection to the server.
func (ts *testServer) dialTCP(t testing.TB) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", ts.addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(testTimeout))
	return c
}

// packQuery returns the wire form of a query with the given ID.
func packQuery(t testing.TB, id uint16, name string, qtype uint16) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = id
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// frame prefixes msg with its two-byte length.
func frame(msg []byte) []byte {
	return append([]byte{byte(len(msg) >> 8), byte(len(msg))}, msg...)
}

// readFrame reads one length-prefixed message from c.
func readFrame(c net.Conn) (*dns.Msg, error) {
	var l [2]byte
	if _, err := readFull(c, l[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, int(l[0])<<8|int(l[1]))
	if _, err := readFull(c, buf); err != nil {
		return nil, err
	}
	m := new(dns.Msg)
	if err := m.Unpack(buf); err != nil {
		return nil, fmt.Errorf("unpacking response: %w", err)
	}
	return m, nil
}

// readFull is io.ReadFull for a connection.
func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// waitClosed waits until the server closes c, and returns how long that
// took; it fails the test if c is still open after limit.
func waitClosed(t testing.TB, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(limit))
	buf := make([]byte, 512)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			t.Fatalf("connection still open after %v", limit)
		}
		return time.Since(start)
	}
}

// newEngine returns the real engine serving set.
func newEngine(set *zone.Set) *engine.Engine { return engine.New(engine.Config{}, set) }
