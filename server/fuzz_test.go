package server

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// FuzzFrameReader feeds arbitrary bytes to the TCP framing reader: it must
// never panic, every message it returns must be exactly what its length
// prefix says, and it must stop with an error no later than the input.
func FuzzFrameReader(f *testing.F) {
	q := new(dns.Msg).SetQuestion("www.example.com.", dns.TypeA)
	valid, _ := q.Pack()
	for _, seed := range [][]byte{
		{}, {0}, {0, 0}, {0, 11}, {0xff, 0xff}, frame(valid), append(frame(valid), frame(valid)...),
		frame(valid)[:5], append(frame(valid), 0), frame(make([]byte, 12)),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fr := frameReader{r: bufio.NewReaderSize(bytes.NewReader(in), 16), buf: make([]byte, maxTCPMessage)}
		off := 0
		for i := 0; ; i++ {
			if i > len(in) {
				t.Fatal("more messages than input bytes")
			}
			msg, err := fr.next()
			if err != nil {
				if err == io.EOF && off != len(in) {
					t.Fatalf("clean EOF at %d of %d bytes", off, len(in))
				}
				if err != io.EOF && !errors.Is(err, errShortFrame) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			n := int(binary.BigEndian.Uint16(in[off:]))
			if len(msg) != n || n < headerLen || !bytes.Equal(msg, in[off+2:off+2+n]) {
				t.Fatalf("message at %d: got %d bytes, prefix says %d", off, len(msg), n)
			}
			off += 2 + n
		}
	})
}

// FuzzTCPStream feeds arbitrary bytes, as a client's whole TCP stream, to
// the connection handler with the real engine and zone-transfer code: it
// must neither panic nor hang, and every reply must be well framed.
func FuzzTCPStream(f *testing.F) {
	set := loadZones(f, "example.com.", testZone)
	s := New(Config{
		AXFRAllow: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")},
	}, newEngine(set))
	q := func(name string, t uint16) []byte {
		m := new(dns.Msg).SetQuestion(name, t)
		b, _ := m.Pack()
		return frame(b)
	}
	ixfr, _ := new(dns.Msg).SetIxfr("example.com.", 1, "a.", "b.").Pack()
	for _, seed := range [][]byte{
		{}, {0, 5, 1, 2, 3, 4, 5}, q("www.example.com.", dns.TypeA),
		append(q("www.example.com.", dns.TypeA), q("example.com.", dns.TypeAXFR)...),
		frame(ixfr), q("www.example.com.", dns.TypeAXFR), q("example.com.", dns.TypeANY),
		append(q("example.com.", dns.TypeNS), 0xff, 0xff, 1),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c := &streamConn{in: bytes.NewReader(in)}
		if s.track(c) != admitted {
			t.Fatal("connection not tracked")
		}
		done := make(chan struct{})
		go func() {
			s.serveConn(c)
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("connection handler did not end")
		}
		out := c.out.Bytes()
		for len(out) > 0 {
			if len(out) < 2 {
				t.Fatalf("%d stray bytes after the last reply", len(out))
			}
			n := int(binary.BigEndian.Uint16(out))
			if n < headerLen || len(out) < 2+n {
				t.Fatalf("reply of %d bytes, %d left in the stream", n, len(out)-2)
			}
			out = out[2+n:]
		}
	})
}

// streamConn is a connection whose client sends in and then half-closes;
// what the server writes is kept in out.
type streamConn struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (c *streamConn) Read(b []byte) (int, error)  { return c.in.Read(b) }
func (c *streamConn) Write(b []byte) (int, error) { return c.out.Write(b) }
func (c *streamConn) Close() error                { return nil }
func (c *streamConn) LocalAddr() net.Addr         { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }
func (c *streamConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 5353}
}
func (c *streamConn) SetDeadline(t time.Time) error      { return nil }
func (c *streamConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *streamConn) SetWriteDeadline(t time.Time) error { return nil }

// FuzzReplyOOB feeds arbitrary control-message bytes to the packet-info
// parser: it must never panic nor read out of bounds.
func FuzzReplyOOB(f *testing.F) {
	f.Add([]byte{}, false)
	f.Add(pktinfoMsg4(nil, &unix.Inet4Pktinfo{Addr: [4]byte{127, 0, 0, 2}}), false)
	f.Add(pktinfoMsg6(nil, &unix.Inet6Pktinfo{Addr: netip.IPv6Loopback().As16()}), true)
	f.Add(append(unix.UnixRights(0), pktinfoMsg4(nil, &unix.Inet4Pktinfo{})...), false)
	f.Fuzz(func(t *testing.T, oob []byte, v6 bool) {
		replyOOB(nil, oob, v6)
	})
}
