package engine

import (
	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// Kind classifies an answer; the XDP renderer and the counters use it.
// The values and names are the XDP ABI's answer kinds (enum answer_kind in
// bpf/include/shared.h), so a template's kind indexes the answer.KIND
// counters directly.
type Kind uint8

const (
	KindAnswer   = Kind(abi.KindAnswer)   // positive answer at the name itself
	KindCNAME    = Kind(abi.KindCNAME)    // answer through a CNAME or DNAME chain
	KindWildcard = Kind(abi.KindWildcard) // answer synthesised from a wildcard
	KindReferral = Kind(abi.KindReferral) // delegation to a child zone
	KindNXDomain = Kind(abi.KindNXDomain) // name does not exist
	KindNoData   = Kind(abi.KindNoData)   // name exists, type does not
	KindRefused  = Kind(abi.KindRefused)  // name in no served zone, or a refused class
	KindChaos    = Kind(abi.KindChaos)    // CHAOS-class identity answer
	KindError    = Kind(abi.KindError)    // FORMERR, NOTIMP, BADVERS, SERVFAIL (expired zone)
)

func (k Kind) String() string {
	if int(k) < len(abi.KindNames) {
		return abi.KindNames[k]
	}
	return "unknown"
}

// Limits on the work one query may cause.
const (
	// MaxChain bounds the CNAME/DNAME links followed for one query.
	MaxChain = 8
	// maxItems bounds the records of one section.
	maxItems = 512
)

// item is one record to write: a zone record, possibly with its owner
// replaced (wildcard synthesis) or its TTL capped (negative answers), or a
// CNAME synthesised from a DNAME.
type item struct {
	rr         *zone.RR
	owner      wire.Name // replaces rr.Owner when Wire is not nil
	ttl        uint32
	ttlSet     bool
	synth      []byte // synthesised CNAME target (rr is the DNAME)
	synthLower []byte
	setStart   bool // first record of an RRset (the unit dropped from additional)
}

// answer is the engine's decision for one query, before rendering.
type answer struct {
	rcode int
	aa    bool
	kind  Kind
	z     *zone.Zone
	an    []item
	ns    []item
	// ar holds the additional records; the first arRequired of them must
	// fit or the reply is truncated (in-domain glue, RFC 9471).
	ar         []item
	arRequired int
	do         bool
	tcp        bool
	// chain remembers names already followed, against CNAME loops.
	chain  [MaxChain + 1][]byte
	nchain int
	// synthBuf holds names built by DNAME substitution.
	synthBuf   [MaxChain][wire.MaxNameLen]byte
	synthLower [MaxChain][wire.MaxNameLen]byte
	nsynth     int
	// rrlName is the name rate limiting counts the response under, when
	// it is not the query name: the delegation of a referral, the zone of
	// an NXDOMAIN, the wildcard of a synthesised answer (package rrl).
	rrlName []byte
	// compressFrom, when set, is the name from which up the question's
	// names are compression targets (renderWith forgets the longer
	// ones): every name it stands for then gets the same bytes after the
	// question — a referral's cut (every name at or below it), an NSEC
	// zone's insecure delegation in its DS NODATA (its own NSEC written
	// as the program writes it from its parent's chain view).
	compressFrom []byte
	// Denial slot (PrecomputeDenial): instead of the NSEC or NSEC3 RRset
	// covering the query name (which depends on the name), the proof
	// leaves a slot at index slot of ns (-1: none) for the XDP program to
	// fill; slotBad says the proof depends on the name in a way one slot
	// cannot hold (two covers of the query name). slotSelf
	// (PrecomputeDenialExact) also lets the referral to the query name
	// itself, an insecure delegation of an NSEC3 opt-out zone, leave the
	// cover of its own hash to the program (abi.FlagSlotSelf).
	slotMode bool
	slotSelf bool
	slot     int
	slotBad  bool
}

// reset prepares the answer for a new query. The name buffers (chain,
// synthBuf, synthLower) are not cleared: only their first nchain/nsynth
// entries are ever read.
func (a *answer) reset() {
	a.rcode, a.aa, a.kind, a.z = 0, false, KindAnswer, nil
	a.an, a.ns, a.ar, a.arRequired = a.an[:0], a.ns[:0], a.ar[:0], 0
	a.do, a.tcp = false, false
	a.nchain, a.nsynth = 0, 0
	a.rrlName, a.compressFrom = nil, nil
	a.slotMode, a.slotSelf, a.slot, a.slotBad = false, false, -1, false
}

// addSet appends the RRset (and, with DO, its RRSIGs) to a section.
func (a *answer) addSet(sec *[]item, s *zone.RRset, owner wire.Name, ttl uint32, ttlSet bool) {
	if s == nil {
		return
	}
	first := true
	for _, rr := range s.RRs() {
		if len(*sec) >= maxItems {
			return
		}
		*sec = append(*sec, item{rr: rr, owner: owner, ttl: ttl, ttlSet: ttlSet, setStart: first})
		first = false
	}
	if a.do {
		a.addSigs(sec, s, owner, ttl, ttlSet)
	}
}

func (a *answer) addSigs(sec *[]item, s *zone.RRset, owner wire.Name, ttl uint32, ttlSet bool) {
	for _, rr := range s.Sigs() {
		if len(*sec) >= maxItems {
			return
		}
		*sec = append(*sec, item{rr: rr, owner: owner, ttl: ttl, ttlSet: ttlSet})
	}
}

// has reports whether the section already holds the RRset s.
func has(sec []item, s *zone.RRset) bool {
	if s == nil || len(s.RRs()) == 0 {
		return false
	}
	for i := range sec {
		if sec[i].rr == s.RRs()[0] {
			return true
		}
	}
	return false
}
