// Package rrl is response rate limiting (RRL) as BIND, Knot and NSD do it,
// for the userspace server; the XDP program implements the same decision
// (bpf/include/rrl.h) so that a query's fate does not depend on the path
// that answered it.
//
// Responses are counted in buckets, one per (client prefix, response
// class, name):
//
//   - answer: positive answers (also through CNAME chains, CHAOS), per
//     query name; wildcard answers per wildcard owner ("*.example.");
//   - nodata: NODATA, per query name;
//   - referral: per delegation (the child zone's name);
//   - nxdomain: per zone (its apex), so random names cannot spread a flood
//     over many buckets;
//   - error: REFUSED, FORMERR, SERVFAIL, NOTIMP, BADVERS, per client
//     prefix alone.
//
// The client prefix is the source address cut to Prefix4 or Prefix6 bits.
// Each bucket is a GCRA (virtual scheduling) meter: every response, sent
// or not, moves the bucket's theoretical time on by 1/Rate s, never more
// than Window ahead of now; a response is sent while that time is at most
// one second ahead (a burst of Rate responses). A flood above the rate
// keeps the bucket a whole window in debt, so it stays limited until the
// flood stops — BIND's window semantics. A limited response is dropped,
// except every Slip-th one, which is sent as a minimal TC=1 reply (the
// question only) so that a real client behind a forged address can retry
// over TCP; Slip 0 drops them all, Slip 1 truncates them all.
//
// State is per goroutine (Limiter, one per UDP socket) as the XDP
// program's is per CPU: no locks. One client's queries reach one socket
// (the kernel hashes the addresses, or steers by CPU), so the limit holds
// per client; a forged-source flood spread over N sockets or CPUs can get
// up to N times the rate through. TCP is never limited.
package rrl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
)

// Class is the kind of response a bucket counts.
type Class uint8

// The response classes, as the XDP program numbers them (enum rrl_class).
const (
	ClassAnswer   Class = abi.RRLClassAnswer
	ClassNoData   Class = abi.RRLClassNoData
	ClassReferral Class = abi.RRLClassReferral
	ClassNXDomain Class = abi.RRLClassNXDomain
	ClassError    Class = abi.RRLClassError
)

// ClassOf is the class of an engine answer kind.
func ClassOf(k engine.Kind) Class {
	switch k {
	case engine.KindNoData:
		return ClassNoData
	case engine.KindReferral:
		return ClassReferral
	case engine.KindNXDomain:
		return ClassNXDomain
	case engine.KindRefused, engine.KindError:
		return ClassError
	}
	return ClassAnswer
}

// Defaults (BIND's and NSD's choices; Knot has no window).
const (
	DefaultSlip    = 2
	DefaultPrefix4 = 24
	DefaultPrefix6 = 56
	DefaultWindow  = 15 * time.Second
	// DefaultTableSize is the buckets one Limiter holds.
	DefaultTableSize = 1 << 16
	// burst is how far ahead of now a bucket may be and still send.
	burst = time.Second
)

// Config configures rate limiting; Rate 0 turns it off.
type Config struct {
	Rate      int // responses per second per bucket
	Slip      int // every Slip-th limited response is sent truncated; 0: none
	Prefix4   int // bits of an IPv4 client address that make its prefix
	Prefix6   int // bits of an IPv6 client address that make its prefix
	Window    time.Duration
	Exempt    []netip.Prefix // clients never limited
	TableSize int            // buckets per Limiter (a power of two)
}

// WithDefaults fills the zero values of c except Rate and Slip (0 is a
// valid slip; callers start from Default()).
func (c Config) WithDefaults() Config {
	if c.Prefix4 == 0 {
		c.Prefix4 = DefaultPrefix4
	}
	if c.Prefix6 == 0 {
		c.Prefix6 = DefaultPrefix6
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.TableSize <= 0 {
		c.TableSize = DefaultTableSize
	}
	n := 2
	for n < c.TableSize {
		n <<= 1
	}
	c.TableSize = n
	return c
}

// Default is the configuration with every default and rate limiting off.
func Default() Config { return Config{Slip: DefaultSlip}.WithDefaults() }

// Check reports a configuration that cannot work.
func (c Config) Check() error {
	switch {
	case c.Rate < 0 || c.Rate > 1e9:
		return fmt.Errorf("rrl-rate %d: want 0 (off) to 1000000000 responses per second", c.Rate)
	case c.Slip < 0 || c.Slip > 100:
		return fmt.Errorf("rrl-slip %d: want 0 to 100", c.Slip)
	case c.Prefix4 < 0 || c.Prefix4 > 32:
		return fmt.Errorf("rrl-ipv4-prefix %d: want 0 to 32", c.Prefix4)
	case c.Prefix6 < 0 || c.Prefix6 > 128:
		return fmt.Errorf("rrl-ipv6-prefix %d: want 0 to 128", c.Prefix6)
	case c.Window != 0 && (c.Window < burst || c.Window > time.Hour):
		return errors.New("rrl-window: want 1s to 1h")
	}
	return nil
}

// Decision is what becomes of one response.
type Decision uint8

// The decisions.
const (
	Send     Decision = iota // within the limit (or exempt, or limiting off)
	Slip                     // over the limit: send a minimal TC=1 reply
	Drop                     // over the limit: send nothing
	Exempted                 // from an exempt prefix: sent, not counted
)

// key identifies a bucket.
type key struct {
	prefix [16]byte // the client prefix (IPv4 in the first 4 bytes)
	v6     bool
	class  Class
	name   uint64 // abi.HashName(lower name).H1; 0 for errors
}

// bucket is one meter.
type bucket struct {
	k     key
	used  bool
	tat   int64  // theoretical arrival time, ns
	slips uint32 // limited responses so far (for the slip)
	seen  int64  // last use, ns: the older of a pair is replaced
}

// Limiter is one goroutine's buckets.
type Limiter struct {
	cfg      Config
	interval int64 // ns per response: 1e9/Rate
	window   int64
	table    []bucket // 2-way: buckets i and i^1 hold one hash
	mask     uint64
}

// New returns a Limiter, or nil when cfg.Rate is 0 (limiting off).
func New(cfg Config) *Limiter {
	if cfg.Rate <= 0 {
		return nil
	}
	cfg = cfg.WithDefaults()
	return &Limiter{
		cfg:      cfg,
		interval: int64(time.Second) / int64(cfg.Rate),
		window:   int64(cfg.Window),
		table:    make([]bucket, cfg.TableSize),
		mask:     uint64(cfg.TableSize - 1),
	}
}

// Decide counts one response of class c about name (its hash; ignored for
// errors) to client at time now (ns, monotonic) and says what to do.
func (l *Limiter) Decide(client netip.Addr, c Class, name uint64, now int64) Decision {
	client = client.Unmap()
	for _, p := range l.cfg.Exempt {
		if p.Contains(client) {
			return Exempted
		}
	}
	k := key{class: c, v6: client.Is6()}
	if c != ClassError {
		k.name = name
	}
	if k.v6 {
		k.prefix = netip.PrefixFrom(client, l.cfg.Prefix6).Masked().Addr().As16()
	} else {
		a := netip.PrefixFrom(client, l.cfg.Prefix4).Masked().Addr().As4()
		copy(k.prefix[:], a[:])
	}
	b := l.find(k, now)
	next := max(b.tat, now) + l.interval
	send := next <= now+int64(burst)
	b.tat = min(next, now+l.window)
	if send {
		return Send
	}
	b.slips++
	if l.cfg.Slip > 0 && b.slips%uint32(l.cfg.Slip) == 0 {
		return Slip
	}
	return Drop
}

// find returns k's bucket, taking over the least recently used of its
// pair when k has none.
func (l *Limiter) find(k key, now int64) *bucket {
	h := k.name ^ uint64(k.class)<<56 ^ binary.LittleEndian.Uint64(k.prefix[:8])*0x9e3779b97f4a7c15 ^ binary.LittleEndian.Uint64(k.prefix[8:])
	h ^= h >> 29
	i := h & l.mask &^ 1
	a, b := &l.table[i], &l.table[i+1]
	switch {
	case a.used && a.k == k:
	case b.used && b.k == k:
		a = b
	default:
		if a.used && (!b.used || b.seen < a.seen) {
			a = b
		}
		*a = bucket{k: k, used: true}
	}
	a.seen = now
	return a
}
