// Package zone loads RFC 1035 master files, checks them the way an
// authoritative server must before serving them, and computes once, at load
// time, every fact the rest of xdpdns reads: per name, apex, delegation
// point, below a cut, wildcard child, empty non-terminal, CNAME, DNAME; per
// zone, whether it is signed, with NSEC or NSEC3, whether it carries RRSIGs
// at all and when the first of them expires; and the NSEC/NSEC3 chains.
package zone

import (
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// RR is one resource record in the form the response builder writes:
// owner name, fixed fields and uncompressed RDATA, with the offsets of the
// domain names inside RDATA that RFC 1035 lets a server compress.
type RR struct {
	Owner wire.Name
	Type  uint16
	Class uint16
	TTL   uint32
	RData []byte
	// RDataLower is RData lower-cased, set when NNames > 0: the builder
	// compares names in RDATA case-insensitively for compression.
	RDataLower []byte
	Names      [2]uint16 // offsets in RData of compressible names
	NNames     uint8     // how many entries of Names are used
	Line       int       // line in File where the record ends
	File       string
	Src        dns.RR // the parsed record, for AXFR and diagnostics
}

// RRset is the records of one type at one name, with the RRSIGs that cover
// them.
type RRset struct {
	Type uint16
	TTL  uint32
	RRs  []*RR
	Sigs []*RR
}

// Flags are the per-name facts computed at load time.
type Flags uint16

const (
	FlagApex          Flags = 1 << iota // the zone's apex
	FlagDelegation                      // NS at a name other than the apex: a zone cut
	FlagBelowCut                        // strictly below a zone cut: glue or occluded
	FlagWildcardChild                   // "*.<name>" exists
	FlagEmptyNonTerm                    // exists only because names below it do
	FlagCNAME                           // holds a CNAME
	FlagDNAME                           // holds a DNAME
)

// Node is one name of the zone with its RRsets.
type Node struct {
	Name  wire.Name
	Flags Flags
	Sets  []*RRset // ordered by type
	// NSEC3Hash is the lower-case base32hex hash label of this name in
	// an NSEC3 zone (empty otherwise).
	NSEC3Hash string
}

// Has reports whether the node has all of flags f.
func (n *Node) Has(f Flags) bool { return n.Flags&f == f }

// Set returns the RRset of type t, or nil.
func (n *Node) Set(t uint16) *RRset {
	for _, s := range n.Sets {
		if s.Type == t {
			return s
		}
	}
	return nil
}

// NSEC3Params are the hash parameters of an NSEC3 chain (RFC 5155).
type NSEC3Params struct {
	Hash       uint8
	Iterations uint16
	Salt       string // hex, as miekg/dns expects it
}

// Zone is one loaded, checked zone.
type Zone struct {
	Origin wire.Name
	File   string
	Serial uint32
	Apex   *Node
	SOA    *RRset
	// Signed: the apex has a DNSKEY RRset and RRSIGs are present.
	Signed bool
	// SigExpiration is the earliest expiration among the zone's RRSIGs,
	// read in serial-number arithmetic (RFC 4034 §3.1.5) around the load
	// time; zero when the zone has no RRSIG (see HasRRSIGs). Load refuses
	// a zone with an RRSIG already expired, so it starts in the future.
	SigExpiration time.Time
	// NSEC3 is set when the zone is denied with NSEC3 rather than NSEC.
	NSEC3 *NSEC3Params
	// Records lists every record in file order, for zone transfers.
	Records []*RR
	// Warnings are problems that do not stop the zone from loading
	// (signatures about to expire, for example).
	Warnings []string
	// Expired marks a secondary zone whose SOA EXPIRE passed without a
	// successful refresh under expire-policy servfail: the engine answers
	// SERVFAIL for it and the XDP image leaves it to userspace. Set only
	// through WithExpired on a copy; a loaded zone is never expired.
	Expired bool

	nodes map[string]*Node // by lower-case wire name
	// nsecChain lists the nodes that own an NSEC record in canonical order.
	nsecChain []*Node
	// nsec3Chain lists the NSEC3 owner nodes sorted by hash label; they
	// are kept apart from nodes because they are not names of the zone
	// for lookups (as in Knot).
	nsec3Chain []*Node
	nsec3ByKey map[string]*Node
	nsec3Salt  []byte
}

// WithExpired returns a copy of z with Expired set to expired, sharing
// its records and nodes (a Zone is immutable once loaded).
func (z *Zone) WithExpired(expired bool) *Zone {
	c := *z
	c.Expired = expired
	return &c
}

// HasRRSIGs reports whether the zone carries any RRSIG record, whether or
// not it is Signed (a DNSKEY at the apex): with DO=1 its answers can carry
// signatures, so they may differ from the answers to DO=0.
func (z *Zone) HasRRSIGs() bool { return !z.SigExpiration.IsZero() }

// Name returns the zone's origin in presentation format.
func (z *Zone) Name() string { return wire.String(z.Origin.Wire) }

// Node returns the node with the lower-case wire name lower, or nil.
func (z *Zone) Node(lower []byte) *Node { return z.nodes[string(lower)] }

// NodeCount is the number of names (empty non-terminals included).
func (z *Zone) NodeCount() int { return len(z.nodes) }

// ForEachNode calls f for every node, in no particular order.
func (z *Zone) ForEachNode(f func(*Node)) {
	for _, n := range z.nodes {
		f(n)
	}
}
