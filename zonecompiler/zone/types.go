// Package zone loads RFC 1035 master files, checks them the way an
// authoritative server must before serving them, and computes once, at load
// time, every fact the rest of xdpdns reads: per name, apex, delegation
// point, below a cut, wildcard child, empty non-terminal, CNAME, DNAME; per
// zone, whether it is signed, with NSEC or NSEC3, whether it carries RRSIGs
// at all and when the first of them expires; and the NSEC/NSEC3 chains.
package zone

import (
	"encoding/binary"
	"fmt"
	"iter"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// RR is one resource record in the form the response builder writes:
// owner name, fixed fields and uncompressed RDATA (Names says where the
// domain names in it that RFC 1035 lets a server compress). A TLD holds
// millions: a record is 32 bytes.
type RR struct {
	// Owner is shared by the records of one owner read in a row (a
	// million-delegation zone holds each owner's name once, not once per
	// record).
	Owner *wire.Packed
	// rdata points at the RDATA's rdlen bytes (RData): a pointer and a
	// 16-bit length (RDLENGTH's range) instead of a slice header.
	rdata *byte
	TTL   uint32
	Line  int32 // line in File where the record ends
	Type  uint16
	rdlen uint16
	// file is the index of the name of the file the record was read
	// from among the names fileNames holds (File).
	file uint16
	// class is the CLASS (Class): a zone holds IN records only, the
	// server's own answers CH ones; compile refuses a class beyond a byte.
	class uint8
	// lowerApart says RData has upper-case letters: its lower-cased
	// copy (RDataLower) follows it in the same allocation.
	lowerApart bool
}

// MaxRData is the most RDATA bytes a record holds (RDLENGTH is 16 bits).
const MaxRData = 0xffff

// NewRR returns a record of owner with the fields given; rdata (at most
// MaxRData bytes: more panics) is not copied and may not be written to
// afterwards.
func NewRR(owner *wire.Packed, typ, class uint16, ttl uint32, rdata []byte) *RR {
	rr := &RR{Owner: owner, Type: typ, TTL: ttl}
	rr.setClass(class)
	rr.setRData(rdata)
	return rr
}

// setClass sets the record's CLASS; one beyond a byte (no class a zone
// may hold: compile refuses it first) reads as 0.
func (rr *RR) setClass(class uint16) {
	if class > 0xff {
		class = 0
	}
	rr.class = uint8(class)
}

// Class is the record's CLASS.
func (rr *RR) Class() uint16 { return uint16(rr.class) }

// setRData makes rd the record's RDATA (not copied; at most MaxRData
// bytes, which every reader checks first: more panics).
func (rr *RR) setRData(rd []byte) {
	if len(rd) > MaxRData {
		panic("zone: RDATA longer than RDLENGTH can say")
	}
	rr.rdata, rr.rdlen = unsafe.SliceData(rd), uint16(len(rd))
}

// RData is the record's RDATA in uncompressed wire form. It may not be
// written to; appending to it copies it.
func (rr *RR) RData() []byte {
	if rr.rdata == nil {
		return []byte{}
	}
	return unsafe.Slice(rr.rdata, rr.rdlen)
}

// RDLength is how many bytes RData holds.
func (rr *RR) RDLength() int { return int(rr.rdlen) }

// File is the name of the file rr was read from ("" when none).
func (rr *RR) File() string { return fileNames.name(rr.file) }

// Names says where the names a server may compress (RFC 1035 §4.1.4:
// those of the types it defines) lie in RData: n of them, one after the
// other from offset start (SOA's and MINFO's two, at 0; MX's exchange
// after its preference; NS, CNAME and the like one at 0). The record's
// RDATA was checked when it was read (findNames).
func (rr *RR) Names() (start, n int) {
	switch rr.Type {
	case dns.TypeNS, dns.TypeCNAME, dns.TypePTR, dns.TypeMB, dns.TypeMG, dns.TypeMR:
		return 0, 1
	case dns.TypeMX:
		return 2, 1
	case dns.TypeSOA, dns.TypeMINFO:
		return 0, 2
	}
	return 0, 0
}

// hasNames reports whether rr's RDATA holds names a server may compress.
func (rr *RR) hasNames() bool {
	_, n := rr.Names()
	return n > 0
}

// RDataLower is RData lower-cased (for a record with compressible names,
// Names; else RData): the builder compares names in RDATA
// case-insensitively for compression. Most zone data is lower-case
// already, so it is RData itself; else a copy that findNames put right
// after RData's bytes, in one allocation (so that a record holds no
// second pointer: it is read millions of times per TLD, and each record
// costs its size once).
func (rr *RR) RDataLower() []byte {
	if !rr.lowerApart {
		return rr.RData()
	}
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(rr.rdata), rr.rdlen)), rr.rdlen)
}

// Src returns the record as a miekg/dns RR (for zone transfers, IXFR
// matching and diagnostics), made from its wire form: a zone holds each
// record once, in the form above.
func (rr *RR) Src() dns.RR {
	rd := rr.RData()
	buf := make([]byte, 0, len(rr.Owner.Wire())+10+len(rd))
	buf = append(buf, rr.Owner.Wire()...)
	buf = binary.BigEndian.AppendUint16(buf, rr.Type)
	buf = binary.BigEndian.AppendUint16(buf, rr.Class())
	buf = binary.BigEndian.AppendUint32(buf, rr.TTL)
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(rd)))
	buf = append(buf, rd...)
	out, _, err := dns.UnpackRR(buf, 0)
	if err != nil {
		// Never: the wire form was made from a parsed record.
		return &dns.RFC3597{Hdr: dns.RR_Header{Name: wire.String(rr.Owner.Wire()), Rrtype: rr.Type, Class: rr.Class(), Ttl: rr.TTL}}
	}
	return out
}

// sigCovered and sigExpiration read an RRSIG's type covered and
// expiration (RFC 4034 §3.1) from its RDATA.
func sigCovered(rr *RR) uint16 {
	if rr.rdlen < 2 {
		return 0
	}
	return binary.BigEndian.Uint16(rr.RData())
}

func sigExpirationField(rr *RR) uint32 {
	if rr.rdlen < 12 {
		return 0
	}
	return binary.BigEndian.Uint32(rr.RData()[8:12])
}

// RRset is the records of one type at one name, with the RRSIGs that cover
// them.
type RRset struct {
	Type uint16
	// recs points at the set's nrrs records, then its nsigs RRSIGs: one
	// array for both, held by a pointer and counts, keeps a set in 24
	// bytes.
	nrrs, nsigs uint16
	TTL         uint32
	recs        **RR
}

// MaxRRsetRecords is the most records an RRset holds (a count of 16 bits,
// as Knot DNS and NSD keep it: no message could carry more), and the most
// RRSIGs beside them.
const MaxRRsetRecords = 0xffff

// errRRsetFull refuses a record that would be its RRset's
// MaxRRsetRecords+1st.
var errRRsetFull = fmt.Errorf("more than %d records in one RRset", MaxRRsetRecords)

// all is the set's records, then its RRSIGs.
func (s *RRset) all() []*RR {
	if s.recs == nil {
		return nil
	}
	return unsafe.Slice(s.recs, int(s.nrrs)+int(s.nsigs))
}

// setAll makes recs (not copied) the set's records and RRSIGs, the first
// nrrs of them records.
func (s *RRset) setAll(recs []*RR, nrrs int) {
	s.recs, s.nrrs, s.nsigs = unsafe.SliceData(recs), uint16(nrrs), uint16(len(recs)-nrrs)
	if len(recs) == 0 {
		s.recs = nil
	}
}

// RRs are the set's records. The slice is the set's own: not to be
// written to or appended to.
func (s *RRset) RRs() []*RR { return s.all()[:s.nrrs:s.nrrs] }

// Sigs are the RRSIGs covering the set (same terms as RRs).
func (s *RRset) Sigs() []*RR { return s.all()[s.nrrs:] }

// listOf is RRs, or Sigs for an RRSIG: the list rr belongs to.
func (s *RRset) listOf(rr *RR) []*RR {
	if rr.Type == dns.TypeRRSIG {
		return s.Sigs()
	}
	return s.RRs()
}

// add appends rr to the list it belongs to (errRRsetFull: that list has
// MaxRRsetRecords entries already).
func (s *RRset) add(rr *RR) error {
	if rr.Type == dns.TypeRRSIG {
		if s.nsigs == MaxRRsetRecords {
			return errRRsetFull
		}
		s.setAll(append(s.all(), rr), int(s.nrrs))
		return nil
	}
	if s.nrrs == MaxRRsetRecords {
		return errRRsetFull
	}
	s.setAll(slices.Insert(s.all(), int(s.nrrs), rr), int(s.nrrs)+1)
	return nil
}

// remove takes the i-th entry of rr's list out of the set.
func (s *RRset) remove(rr *RR, i int) {
	nrrs := int(s.nrrs)
	if rr.Type == dns.TypeRRSIG {
		i += nrrs
	} else {
		nrrs--
	}
	s.setAll(slices.Delete(s.all(), i, i+1), nrrs)
}

// empty reports whether the set holds neither records nor RRSIGs.
func (s *RRset) empty() bool { return s.nrrs == 0 && s.nsigs == 0 }

// clone is a copy of s that add and remove can change alone.
func (s *RRset) clone() RRset {
	c := *s
	c.setAll(slices.Clone(s.all()), int(s.nrrs))
	return c
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

// Node is one name of the zone with its RRsets: 32 bytes (a TLD holds
// millions).
type Node struct {
	Name  wire.Packed // one per name: packed (16 bytes)
	Flags Flags
	// nsets is how many RRsets sets points at (Sets): a pointer and a
	// count instead of a slice header; the RRsets themselves, not
	// pointers to them, one allocation per node.
	nsets uint16
	// hash is the id of the name's NSEC3 hash label in its zone's store
	// (Zone.NSEC3Hash; 0: none, always for a node of the NSEC3 chain,
	// whose label is its own: ChainLabel).
	hash uint32
	sets *RRset
}

// Sets are the node's RRsets, ordered by type. The slice is the node's
// own: not to be written to or appended to (setSets replaces it); a
// pointer to one of them stays the set of this version of the node.
func (n *Node) Sets() []RRset {
	if n.sets == nil {
		return nil
	}
	return unsafe.Slice(n.sets, n.nsets)
}

// EachSet yields a pointer to each of the node's RRsets, ordered by type
// (Sets).
func (n *Node) EachSet(yield func(*RRset) bool) {
	sets := n.Sets()
	for i := range sets {
		if !yield(&sets[i]) {
			return
		}
	}
}

// setSets makes s (not copied; at most 65535 sets, one per type) the
// node's RRsets.
func (n *Node) setSets(s []RRset) {
	if len(s) > 0xffff {
		panic("zone: more RRsets than types")
	}
	n.sets, n.nsets = unsafe.SliceData(s), uint16(len(s))
	if len(s) == 0 {
		n.sets = nil
	}
}

// Has reports whether the node has all of flags f.
func (n *Node) Has(f Flags) bool { return n.Flags&f == f }

// Set returns the RRset of type t, or nil.
func (n *Node) Set(t uint16) *RRset {
	sets := n.Sets()
	for i := range sets {
		if sets[i].Type == t {
			return &sets[i]
		}
	}
	return nil
}

// NSEC3Params are the hash parameters of an NSEC3 chain (RFC 5155).
type NSEC3Params struct {
	Hash       uint8
	Iterations uint16
	Salt       string // hex (lower case), as miekg/dns expects it
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
	// Warnings are problems that do not stop the zone from loading
	// (signatures about to expire, for example).
	Warnings []string
	// Sources are the files the zone was read from (its file, then its
	// $INCLUDEs) as they were when opened; nil for a zone read from
	// elsewhere (Load) or made by Apply.
	Sources []Source
	// Expired marks a secondary zone whose SOA EXPIRE passed without a
	// successful refresh under expire-policy servfail: the engine answers
	// SERVFAIL for it and the XDP image leaves it to userspace. Set only
	// through WithExpired on a copy; a loaded zone is never expired.
	Expired bool

	nodes nodeMap // by lower-case wire name
	// nsecChain lists the nodes that own an NSEC record in canonical order.
	nsecChain chunked[*Node]
	// nsec3Chain lists the NSEC3 owner nodes sorted by hash label; they
	// are kept apart from nodes because they are not names of the zone
	// for lookups (as in Knot).
	nsec3Chain chunked[*Node]
	nsec3ByKey nodeMap // by hash label
	nsec3Salt  []byte
	// hashes holds the NSEC3 hash labels of the names (Node.hash),
	// shared by the versions Apply makes (hashstore.go).
	hashes *hashStore

	// fileTTLs holds the TTL a record had in its file when it differs
	// from its RRset's (the first record's), which it was given.
	fileTTLs map[*RR]uint32
	// nrecords counts the records (duplicates dropped); nsigs the RRSIGs.
	nrecords, nsigs int
	// warnOwners[i] is the node Warnings[i] is about, so that Apply can
	// drop the warnings of the nodes it recomputes.
	warnOwners []warnKey
	// lazy holds what is derived from this version on first use.
	lazy *derived
}

// warnKey names the node a warning is about: a lower-case wire name, or
// an NSEC3 node's hash label when nsec3 is set. glue marks the missing
// glue warnings of a delegation, which depend on other names (the name
// servers') and are rechecked on their own.
type warnKey struct {
	name        string
	nsec3, glue bool
	// timed marks a signature's expiry warning, which depends on the
	// clock: a zone read back from a compiled image keeps the others and
	// checks its signatures again (ReadRecords).
	timed bool
}

// derived is what a zone version computes only when asked: the chains
// as plain slices, and the indexes Apply needs (the canonical name
// index and the RRSIG expirations), which a zone that is never changed
// does not pay for.
type derived struct {
	nsecOnce, nsec3Once sync.Once
	nsec, nsec3         []*Node

	idxOnce sync.Once
	names   chunked[*Node]    // the deep names' nodes (index.go), canonical order
	exps    chunked[expCount] // the RRSIGs' expirations (index.go)

	hashOnce sync.Once
	builds   atomic.Int32              // indexes built here (not carried by Apply)
	hashes   atomic.Pointer[hashIndex] // NSEC3: the names by hash (hashindex.go)
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
func (z *Zone) Node(lower []byte) *Node { return z.nodes.get(lower) }

// NodeCount is the number of names (empty non-terminals included).
func (z *Zone) NodeCount() int { return z.nodes.n }

// ForEachNode calls f for every node, in no particular order.
func (z *Zone) ForEachNode(f func(*Node)) { z.nodes.each(f) }

// RecordCount is the number of records (duplicates counted once).
func (z *Zone) RecordCount() int { return z.nrecords }

// Records yields every record once, for zone transfers, reload diffs and
// the compiled image: each name's RRsets (an RRset's records, then its
// RRSIGs), the names in no particular order, then the NSEC3 chain's.
// Nothing is kept: a list of a TLD's records would hold 8 bytes per
// record for good (19 MB at a million delegations).
func (z *Zone) Records() iter.Seq[*RR] {
	return func(yield func(*RR) bool) {
		more := true
		add := func(n *Node) bool {
			for s := range n.EachSet {
				for _, rr := range s.all() {
					if !yield(rr) {
						more = false
						return false
					}
				}
			}
			return true
		}
		z.nodes.each(func(n *Node) {
			if more {
				add(n)
			}
		})
		if more {
			z.nsec3Chain.each(add)
		}
	}
}
