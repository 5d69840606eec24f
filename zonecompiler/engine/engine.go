// Package engine is the answer engine: given a parsed query and the loaded
// zones it decides the answer (RFC 1034 §4.3.2 with RFC 4592 wildcards,
// RFC 6672 DNAME, RFC 2308 negative answers, RFC 4035/5155 DNSSEC) and
// renders it to wire format. The userspace server calls Respond for every
// query; the XDP renderer calls the same code to precompute the answers the
// XDP program serves, so both paths produce the same bytes.
package engine

import (
	"sync"
	"sync/atomic"

	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// DefaultUDPSize is the server's EDNS UDP payload size (DNS flag day 2020).
const DefaultUDPSize = 1232

// Config is the engine's server-wide behaviour.
type Config struct {
	// Identity answers CHAOS TXT id.server and hostname.bind; empty
	// refuses those queries.
	Identity string
	// Version answers CHAOS TXT version.bind; empty refuses it.
	Version string
	// NSID is sent in the NSID option (RFC 5001) to clients that ask;
	// nil sends none.
	NSID []byte
	// UDPSize is the largest UDP payload the server sends and advertises
	// (default DefaultUDPSize).
	UDPSize uint16
	// Cookies answers DNS Cookies (RFC 7873): a query with a COOKIE
	// option gets one back, its client cookie followed by CookieLen zero
	// bytes, the last bytes of the reply, where the server writes its
	// server cookie (package cookie: it depends on the client's address
	// and the time, which the engine does not know); a malformed option
	// gets FORMERR. Off, the option is ignored.
	Cookies bool
}

// CookieLen is the server cookie the server writes into a reply's last
// bytes (Config.Cookies): an RFC 9018 cookie.
const CookieLen = 16

// Engine answers queries from an atomically replaceable zone set.
type Engine struct {
	cfg   Config
	zones atomic.Pointer[zone.Set]
	pool  sync.Pool // of *scratch
	// chaosID and chaosVersion are the CHAOS TXT answers (nil: refused).
	chaosID, chaosVersion *zone.RR
}

// WithDefaults returns c with its defaults applied: UDPSize 0 becomes
// DefaultUDPSize, and a size below 512 becomes 512 (RFC 6891 §6.2.5).
func (c Config) WithDefaults() Config {
	if c.UDPSize == 0 {
		c.UDPSize = DefaultUDPSize
	}
	if c.UDPSize < 512 {
		c.UDPSize = 512
	}
	return c
}

// New returns an engine serving zones (which may be nil: all REFUSED).
func New(cfg Config, zones *zone.Set) *Engine {
	cfg = cfg.WithDefaults()
	e := &Engine{cfg: cfg}
	e.pool.New = func() any { return new(scratch) }
	e.chaosID = chaosTXT("id.server.", cfg.Identity)
	e.chaosVersion = chaosTXT("version.bind.", cfg.Version)
	if zones == nil {
		zones, _ = zone.NewSet()
	}
	e.zones.Store(zones)
	return e
}

// Config returns the engine's configuration.
func (e *Engine) Config() Config { return e.cfg }

// SetZones switches to a new zone set in one step; queries in flight
// finish on the set they started with.
func (e *Engine) SetZones(s *zone.Set) { e.zones.Store(s) }

// Zones returns the zone set in use.
func (e *Engine) Zones() *zone.Set { return e.zones.Load() }
