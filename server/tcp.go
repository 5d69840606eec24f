package server

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"time"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/cookie"
)

// maxTCPMessage is the largest DNS message over TCP (RFC 1035 §4.2.2).
const maxTCPMessage = 65535

// tcpBuffers is the per-connection memory, pooled across connections.
type tcpBuffers struct {
	rd  *bufio.Reader
	in  []byte // the query being answered
	out []byte // length prefix and response
}

func newTCPBuffers() *tcpBuffers {
	return &tcpBuffers{
		rd:  bufio.NewReaderSize(nil, 4096),
		in:  make([]byte, maxTCPMessage),
		out: make([]byte, 2+maxTCPMessage),
	}
}

// serveTCP accepts connections on l until it is closed.
func (s *Server) serveTCP(l *net.TCPListener) {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.isClosed() {
				return
			}
			// Out of file descriptors and the like: wait, then retry.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("tcp accept", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-s.done:
				return
			}
			continue
		}
		backoff = 0
		if why := s.track(c); why != admitted {
			switch why {
			case refusedPool:
				s.n.tcpRefusedPool.Add(1)
				s.refusedPoolLog.Warn(s.log, "tcp connections refused: tcp-max-conns reached", "client", c.RemoteAddr(), "limit", s.cfg.TCPMaxConns)
			case refusedClient:
				s.n.tcpRefusedClient.Add(1)
				s.refusedClientLog.Warn(s.log, "tcp connections refused: a client's tcp-max-conns-per-client reached", "client", c.RemoteAddr(), "limit", s.cfg.TCPMaxConnsPerClient)
			}
			c.Close()
			continue
		}
		go s.serveConn(c)
	}
}

// track registers a new connection, and the goroutine that will serve it,
// unless the server is closed or the connection limits refuse it
// (admitted says it was registered).
func (s *Server) track(c net.Conn) refusal {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return refusedPool
	}
	slot, why := s.limits.admit(remoteAddr(c), localAddr(c))
	if why != admitted {
		return why
	}
	s.conns[c] = slot
	s.wg.Add(1)
	return admitted
}

// untrack closes c, gives back its slot and forgets it.
func (s *Server) untrack(c net.Conn) {
	c.Close()
	s.mu.Lock()
	if slot, ok := s.conns[c]; ok {
		s.limits.release(slot)
		delete(s.conns, c)
	}
	s.mu.Unlock()
}

// serveConn answers the queries of one TCP connection in order until the
// client closes it, a timeout expires, or the stream is malformed.
func (s *Server) serveConn(c net.Conn) {
	defer s.wg.Done()
	defer s.untrack(c)
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic serving a tcp connection; closed", "client", c.RemoteAddr(), "panic", r, "stack", string(debug.Stack()))
		}
	}()
	client := remoteAddr(c)
	b := s.bufs.Get().(*tcpBuffers)
	defer func() {
		b.rd.Reset(nil)
		s.bufs.Put(b)
	}()
	b.rd.Reset(c)
	fr := frameReader{r: b.rd, buf: b.in, started: func() {
		c.SetReadDeadline(time.Now().Add(s.cfg.TCPReadTimeout))
	}}
	for {
		c.SetReadDeadline(time.Now().Add(s.cfg.TCPIdleTimeout))
		msg, err := fr.next()
		if err != nil {
			s.logConnEnd(c, err)
			return
		}
		if err := s.answerTCP(c, b, msg, client); err != nil {
			s.logConnEnd(c, err)
			return
		}
	}
}

// errNoAnswer closes a connection whose message gets no answer: it is not
// a DNS query, and the stream is probably out of step.
var errNoAnswer = errors.New("message is not a DNS query")

// answerTCP answers one message on c: a zone transfer, or the engine's
// response.
func (s *Server) answerTCP(c net.Conn, b *tcpBuffers, msg []byte, client netip.Addr) error {
	if x, ok := parseXFR(msg); ok {
		req := new(dns.Msg)
		if req.Unpack(msg) == nil && len(req.Question) == 1 {
			return s.transfer(c, req, x, msg, client)
		}
		// Not unpackable: the engine gives the error response.
	}
	var received time.Time
	tapped := s.cfg.Tap != nil && s.cfg.Tap.Sampled()
	if tapped {
		received = time.Now()
	}
	resp, isNotify := s.notify(msg, client)
	if !isNotify {
		resp = s.respond(b.out[2:2], msg, true)
		if keys := s.cookies.Load(); keys != nil && len(resp) > 0 {
			cookie.Fill(resp, client, uint32(time.Now().Unix()), keys.current)
		}
	}
	if len(resp) == 0 {
		return errNoAnswer
	}
	if tapped {
		var server netip.AddrPort
		if la, ok := c.LocalAddr().(*net.TCPAddr); ok {
			server = la.AddrPort()
		}
		var client netip.AddrPort
		if ra, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			client = ra.AddrPort()
		}
		s.observe(true, client, server, received, msg, resp)
	}
	if len(resp) > maxTCPMessage {
		return fmt.Errorf("response of %d bytes is too large for tcp", len(resp))
	}
	var frame []byte
	if &resp[0] == &b.out[2] {
		frame = b.out[:2+len(resp)] // built in place after the prefix
	} else {
		frame = append(make([]byte, 2, 2+len(resp)), resp...)
	}
	binary.BigEndian.PutUint16(frame, uint16(len(resp)))
	return s.writeFrame(c, frame)
}

// writeFrame writes one length-prefixed message within the write timeout.
func (s *Server) writeFrame(c net.Conn, frame []byte) error {
	c.SetWriteDeadline(time.Now().Add(s.cfg.TCPWriteTimeout))
	if _, err := c.Write(frame); err != nil {
		return fmt.Errorf("writing response: %w", err)
	}
	return nil
}

// logConnEnd logs why a connection ends, unless it ended normally.
func (s *Server) logConnEnd(c net.Conn, err error) {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		return
	case errors.Is(err, os.ErrDeadlineExceeded):
		s.log.Debug("tcp connection timed out", "client", c.RemoteAddr())
	default:
		s.log.Debug("tcp connection closed", "client", c.RemoteAddr(), "err", err)
	}
}

// remoteAddr returns the client's address, IPv4-mapped addresses unmapped,
// or the zero Addr when it is not an IP connection.
func remoteAddr(c net.Conn) netip.Addr { return tcpAddr(c.RemoteAddr()) }

// localAddr returns the address the client connected to, as remoteAddr.
func localAddr(c net.Conn) netip.Addr { return tcpAddr(c.LocalAddr()) }

func tcpAddr(a net.Addr) netip.Addr {
	if a, ok := a.(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}
