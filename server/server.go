// Package server is xdpdns's userspace DNS server: it reads queries from UDP
// and TCP sockets, has the answer engine build the replies, and serves zone
// transfers (AXFR, and IXFR answered with a full transfer) over TCP to
// allowed clients. It holds no answer logic of its own beyond transfers.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xdpdns/xdpdns/cookie"
	"github.com/xdpdns/xdpdns/internal/ratelog"
	"github.com/xdpdns/xdpdns/rrl"
	"github.com/xdpdns/xdpdns/srcport"
	"github.com/xdpdns/xdpdns/tsig"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// Engine is what the server needs from the answer engine
// (*engine.Engine implements it).
type Engine interface {
	// Respond builds the reply to pkt into dst[:0]; nil drops the query.
	Respond(dst, pkt []byte, tcp bool) []byte
	// Zones returns the zone set in use, for zone transfers.
	Zones() *zone.Set
}

// CachingEngine is an Engine that can answer UDP queries through a cache
// of replies owned by the calling goroutine (engine.Cache): the server
// gives each UDP socket one, of Config.AnswerCache bytes.
type CachingEngine interface {
	// RespondUDP answers pkt through c (nil: no cache) and describes the
	// reply for rate limiting.
	RespondUDP(c *engine.Cache, dst, pkt []byte) ([]byte, engine.Info)
}

// Defaults for the zero values of Config.
const (
	DefaultTCPIdleTimeout  = 10 * time.Second
	DefaultTCPReadTimeout  = 3 * time.Second
	DefaultTCPWriteTimeout = 10 * time.Second
	DefaultTCPMaxConns     = 256
	// DefaultTCPMaxConnsPerClient is one client's share of the pool: 32
	// of 256, so that it takes eight clients to fill it.
	DefaultTCPMaxConnsPerClient = 32
	// DefaultTCPClientPrefix4 and 6 make each address a client.
	DefaultTCPClientPrefix4 = 32
	DefaultTCPClientPrefix6 = 128
	// DefaultTCPSelfConns is the slots reserved for the host's own
	// connections (the health check makes one at a time).
	DefaultTCPSelfConns    = 4
	DefaultShutdownTimeout = 5 * time.Second
	DefaultXFRMessageSize  = 16 << 10
	// DefaultAnswerCache is the bytes of UDP replies the server
	// remembers, over all its UDP sockets: about 100k referrals.
	DefaultAnswerCache = 32 << 20
)

// Config is the server's configuration. Zero values take the defaults.
type Config struct {
	// Listen lists the addresses served over both UDP and TCP. Port 0
	// picks one ephemeral port shared by UDP and TCP (see Addrs).
	Listen []netip.AddrPort
	// UDPSockets is the number of SO_REUSEPORT UDP sockets (each with its
	// own goroutine) per address; default runtime.NumCPU().
	UDPSockets int
	// AXFRAllow lists the client prefixes that may transfer zones; empty
	// refuses all transfers.
	AXFRAllow []netip.Prefix
	// AXFRAllowKeyed lists client prefixes that may transfer zones only
	// with a TSIG signature of the named key from Keys.
	AXFRAllowKeyed []KeyedPrefix
	// Keys are the TSIG keys transfers may be signed with.
	Keys tsig.Ring
	// TCPIdleTimeout closes a connection that sends no query for this long.
	TCPIdleTimeout time.Duration
	// TCPReadTimeout bounds reading one message once its first byte came.
	TCPReadTimeout time.Duration
	// TCPWriteTimeout bounds writing one message.
	TCPWriteTimeout time.Duration
	// TCPMaxConns is the most concurrent TCP connections from clients;
	// more are closed as soon as they are accepted.
	TCPMaxConns int
	// TCPMaxConnsPerClient is the most concurrent TCP connections from
	// one client, a client being its address cut to TCPClientPrefix4 or
	// TCPClientPrefix6 bits.
	TCPMaxConnsPerClient int
	TCPClientPrefix4     int
	TCPClientPrefix6     int
	// TCPSelfConns is the number of connections reserved, beyond
	// TCPMaxConns, for the host's own connections (source address equal
	// to destination address, as the health check's self-query makes):
	// clients holding every public slot cannot starve those.
	TCPSelfConns int
	// DropSourcePorts is the set of UDP source ports never answered
	// (services that answer anything, which would play ping-pong with
	// the server); nil takes srcport.Defaults(), an empty set drops none
	// but port 0.
	DropSourcePorts *srcport.Set
	// AnswerGroupQueries answers UDP queries sent to a broadcast or
	// multicast address (once, from a unicast address); by default they
	// are dropped. Only wildcard listen addresses receive such queries.
	AnswerGroupQueries bool
	// AnswerCache is the bytes of recent UDP replies remembered (split
	// over the UDP sockets, each at least engine.MinCacheBytes) when the
	// engine is a CachingEngine; 0 takes DefaultAnswerCache, a negative
	// value turns the cache off.
	AnswerCache int
	// CookieSecret turns on DNS Cookies (RFC 7873, RFC 9018 server
	// cookies) with this server secret; the engine must have
	// Config.Cookies on. Nil: off.
	CookieSecret *cookie.Secret
	// CookieRequire answers a UDP query without a valid server cookie
	// with BADCOOKIE and a fresh cookie, or, without any cookie, with a
	// truncated reply (TC=1: retry over TCP).
	CookieRequire bool
	// RRL is response rate limiting of UDP replies (package rrl), with a
	// Limiter per UDP socket; Rate 0 turns it off. It needs a
	// CachingEngine, which describes each reply.
	RRL rrl.Config
	// ShutdownTimeout bounds how long Close waits for goroutines.
	ShutdownTimeout time.Duration
	// XFRMessageSize is the target size of one zone transfer message.
	XFRMessageSize int
	// EDNSSize is the payload size advertised in the OPT record of zone
	// transfer replies to EDNS queries: the engine's UDP size (below 512:
	// engine.DefaultUDPSize).
	EDNSSize uint16
	// Notify, when set, answers NOTIFY messages (RFC 1996) for secondary
	// zones: raw is the message, from its sender; nil sends no reply.
	Notify func(raw []byte, from netip.Addr) []byte
	// Tap, when set, is told about sampled answered queries (dnstap).
	Tap Tap
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
}

// withDefaults returns c with zero values replaced by defaults.
func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.TCPIdleTimeout, DefaultTCPIdleTimeout)
	def(&c.TCPReadTimeout, DefaultTCPReadTimeout)
	def(&c.TCPWriteTimeout, DefaultTCPWriteTimeout)
	def(&c.ShutdownTimeout, DefaultShutdownTimeout)
	if c.UDPSockets <= 0 {
		c.UDPSockets = runtime.NumCPU()
	}
	if c.TCPMaxConns <= 0 {
		c.TCPMaxConns = DefaultTCPMaxConns
	}
	if c.TCPMaxConnsPerClient <= 0 {
		c.TCPMaxConnsPerClient = DefaultTCPMaxConnsPerClient
	}
	if c.TCPClientPrefix4 <= 0 || c.TCPClientPrefix4 > 32 {
		c.TCPClientPrefix4 = DefaultTCPClientPrefix4
	}
	if c.TCPClientPrefix6 <= 0 || c.TCPClientPrefix6 > 128 {
		c.TCPClientPrefix6 = DefaultTCPClientPrefix6
	}
	if c.TCPSelfConns <= 0 {
		c.TCPSelfConns = DefaultTCPSelfConns
	}
	if c.DropSourcePorts == nil {
		c.DropSourcePorts = srcport.NewSet(srcport.Defaults())
	}
	if c.XFRMessageSize <= 0 {
		c.XFRMessageSize = DefaultXFRMessageSize
	}
	if c.AnswerCache == 0 {
		c.AnswerCache = DefaultAnswerCache
	}
	if c.EDNSSize < 512 {
		c.EDNSSize = engine.DefaultUDPSize
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// KeyedPrefix is a client prefix allowed to transfer zones with the TSIG
// key named Key.
type KeyedPrefix struct {
	Prefix netip.Prefix
	Key    string
}

// Server serves one Engine on a set of addresses.
type Server struct {
	cfg Config
	eng Engine
	log *slog.Logger

	udp   []udpSocket
	tcp   []*net.TCPListener
	addrs []netip.AddrPort

	wg   sync.WaitGroup // serving goroutines
	done chan struct{}  // closed by Close
	// epoch is when the server was made: rate limiting's clock is the
	// monotonic time since.
	epoch time.Time
	// cookies are the DNS Cookie secrets; nil: cookies off.
	cookies atomic.Pointer[cookieKeys]

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]tcpSlot // open TCP connections
	limits *connLimits

	n counters
	// Rate-limited warnings of floods.
	refusedPoolLog, refusedClientLog ratelog.Limiter

	closeOnce sync.Once
	closeErr  error
	bufs      sync.Pool // *tcpBuffers
}

// New returns a server for eng; Start makes it listen.
func New(cfg Config, eng Engine) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:    cfg,
		eng:    eng,
		log:    cfg.Logger,
		done:   make(chan struct{}),
		epoch:  time.Now(),
		conns:  make(map[net.Conn]tcpSlot),
		limits: newConnLimits(cfg),
		bufs:   sync.Pool{New: func() any { return newTCPBuffers() }},
	}
	if cfg.CookieSecret != nil {
		s.cookies.Store(&cookieKeys{current: *cfg.CookieSecret})
	}
	return s
}

// Start binds every listen address and starts serving. It fails, leaving
// nothing open, if any address cannot be bound. Cancelling ctx closes the
// server as Close does.
func (s *Server) Start(ctx context.Context) error {
	if len(s.cfg.Listen) == 0 {
		return errors.New("server: no listen address")
	}
	if s.addrs != nil || s.isClosed() {
		return errors.New("server: already started or closed")
	}
	for _, ap := range s.cfg.Listen {
		b, err := bindAddr(ctx, ap, s.cfg.UDPSockets)
		if err != nil {
			s.closeSockets()
			return fmt.Errorf("server: listen on %s: %w", ap, err)
		}
		switch {
		case b.steerErr != nil:
			s.log.Warn("UDP sockets not steered by CPU; the kernel's hash spreads the queries", "addr", b.addr, "err", b.steerErr)
		case b.steered:
			s.log.Debug("UDP sockets steered by CPU", "addr", b.addr, "sockets", len(b.udp))
		}
		s.udp = append(s.udp, b.udp...)
		s.tcp = append(s.tcp, b.tcp)
		s.addrs = append(s.addrs, b.addr)
	}
	for _, u := range s.udp {
		s.wg.Add(1)
		go s.serveUDP(u, s.newCache())
	}
	for _, l := range s.tcp {
		s.wg.Add(1)
		go s.serveTCP(l)
	}
	go func() {
		select {
		case <-ctx.Done():
			if err := s.Close(); err != nil {
				s.log.Error("server shutdown", "err", err)
			}
		case <-s.done:
		}
	}()
	return nil
}

// Addrs returns the bound addresses, in the order of Config.Listen, with
// ephemeral ports resolved. UDP and TCP share each address and port.
func (s *Server) Addrs() []netip.AddrPort { return s.addrs }

// Close stops the listeners, closes open connections and waits, at most
// Config.ShutdownTimeout, for the serving goroutines to end. It is safe to
// call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		conns := make([]net.Conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		close(s.done)
		s.closeSockets()
		for _, c := range conns {
			c.Close()
		}
		wait := make(chan struct{})
		go func() { s.wg.Wait(); close(wait) }()
		select {
		case <-wait:
		case <-time.After(s.cfg.ShutdownTimeout):
			s.closeErr = fmt.Errorf("server: goroutines still running after %v", s.cfg.ShutdownTimeout)
		}
	})
	return s.closeErr
}

// closeSockets closes every listening socket.
func (s *Server) closeSockets() {
	for _, u := range s.udp {
		u.c.Close()
	}
	for _, l := range s.tcp {
		l.Close()
	}
}

// isClosed reports whether Close was called.
func (s *Server) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}
