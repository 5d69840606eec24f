package engine

import (
	"encoding/binary"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// Precomputed is an answer rendered once for the XDP path: the bytes that
// follow the question in the reply, before the OPT record.
type Precomputed struct {
	// Body is the answer, authority and additional sections. Each
	// compression pointer listed in Relocs holds (pointer - qname length)
	// mod 2^16: adding the wire length of the query's name gives the real
	// pointer, since the names it points at (a zone name's suffix in the
	// question, or a name in the body) move with the question's length.
	// Below a name, pointers to the whole question name (offset 12) do
	// not move and are stored as they are (see Precompute).
	Body []byte
	// Relocs are the offsets in Body of the compression pointers.
	Relocs []uint16
	// ReqLen is the length of Body up to the end of the records that
	// must fit (answer, authority, required glue); beyond it come
	// optional additional RRsets.
	ReqLen           int
	ANCount, NSCount uint16
	ARCount          uint16 // additional records in Body (OPT not counted)
	AA               bool
	Rcode            int
	Kind             Kind
	Truncated        bool // could not be rendered whole (over 64 KiB)
	// RRLLabels and RRLWild say which name rate limiting counts the
	// answer under (Info.Name): the query name's suffix of RRLLabels
	// labels (RRLQName: the whole name), with a "*" label before it when
	// RRLWild.
	RRLLabels          uint8
	RRLWild            bool
	QNameLen, QNameEnd int // the reference qname's length; body start
	// Slot (PrecomputeDenial) is the offset in Body of the denial slot,
	// where the NSEC or NSEC3 RRset covering the query name goes; -1 when
	// the answer has none. SlotBad: the proof depends on the name in a way
	// one slot cannot hold. Relocations at or after the slot whose
	// pointer targets the body at or after it carry abi.RelocInternal.
	Slot    int
	SlotBad bool
	// SlotBefore and SlotAfter are the owners (lower case) of the NSEC and
	// NSEC3 RRsets of the authority section before and after the slot, in
	// order; SlotNext says the record right after the slot is the first of
	// SlotAfter. The engine writes an RRset once, so the query's cover is
	// left out when it is one of them.
	SlotBefore, SlotAfter [][]byte
	SlotNext              bool
	// Compressed is the number of name suffixes the rendering remembered
	// for compression (at most wire.MaxCompression).
	Compressed int
}

// RRLQName is Precomputed.RRLLabels for the whole query name
// (XDPDNS_RRL_QNAME).
const RRLQName = abi.RRLQName

// Precompute renders the answer to (qname, qtype, qclass, DO) as an EDNS
// query would get it with unlimited size, with the information the XDP
// program needs to rebuild the exact reply Respond would give for any
// capitalisation of the name and any client buffer size. qname is a
// lower-case wire name.
//
// below says the rendering stands for every name below qname's parent
// zone name (qname is a probe): a pointer to the whole question then stays
// as it is. For an exact name every pointer is relocated, which gives the
// same bytes since the name's length is fixed (and a referral's template
// serves the names below the delegation too: its pointers to the
// delegation's name move with the question).
func (e *Engine) Precompute(qname []byte, qtype, qclass uint16, do, below bool) Precomputed {
	return e.precompute(qname, qtype, qclass, do, below, false)
}

// PrecomputeDenial is Precompute for a probe name below a name (DO=1,
// class IN) with a denial slot: the NSEC or NSEC3 RRset that covers the
// query name, the one part of an NXDOMAIN or wildcard proof that depends
// on the name, is left out and its place given in Slot, so that the XDP
// program can put the real query name's cover there (DenialPieces) and
// send what Respond would.
func (e *Engine) PrecomputeDenial(qname []byte, qtype uint16) Precomputed {
	return e.precompute(qname, qtype, dns.ClassINET, true, true, true)
}

// PrecomputeDenialExact is PrecomputeDenial for the name qname itself
// (Precompute's exact mode): the slot, if any, is for the cover of qname's
// own hash (at an insecure delegation of an NSEC3 opt-out zone: a DS
// query's NODATA, RFC 5155 §7.2.4, or the referral's opt-out proof,
// §7.2.7), or for qname's own NSEC (at an insecure delegation of an NSEC
// zone: a DS query's NODATA, RFC 4035 §3.1.4.1), which the program fills
// from the name it found.
func (e *Engine) PrecomputeDenialExact(qname []byte, qtype uint16) Precomputed {
	return e.precompute(qname, qtype, dns.ClassINET, true, false, true)
}

// prepare decides the answer to the probe (qname, qtype, qclass, DO) in
// s, as an EDNS query with unlimited size, with a denial slot when slot.
func (e *Engine) prepare(s *scratch, qname []byte, qtype, qclass uint16, do, slot, below bool) {
	q := &s.q
	*q = wire.Query{}
	q.QName, q.QLower = qname, qname
	q.QType, q.QClass = qtype, qclass
	q.EDNS, q.DO, q.UDPSize = true, do, MaxTCPMessage
	q.QEnd = wire.HeaderLen + len(qname) + 4
	a := &s.a
	a.reset()
	a.do = do
	a.slotMode = slot
	a.slotSelf = slot && !below
	e.decide(a, q, e.zones.Load())
}

func (e *Engine) precompute(qname []byte, qtype, qclass uint16, do, below, slot bool) Precomputed {
	s := e.pool.Get().(*scratch)
	defer e.pool.Put(s)
	e.prepare(s, qname, qtype, qclass, do, slot, below)
	q, a := &s.q, &s.a
	var relocs []int
	buf := make([]byte, 0, 512)
	s.b.Reset(buf, MaxTCPMessage)
	out := e.renderWith(s, buf, MaxTCPMessage, &relocs)
	p := Precomputed{
		Kind:      a.kind,
		AA:        a.aa,
		Rcode:     a.rcode,
		QNameLen:  len(qname),
		QNameEnd:  q.QEnd,
		RRLLabels: RRLQName,
		Slot:      -1,
		SlotBad:   a.slotBad,
	}
	if a.rrlName != nil {
		p.RRLLabels = uint8(wire.Labels(a.rrlName))
		if a.kind == KindWildcard {
			p.RRLLabels, p.RRLWild = p.RRLLabels-1, true
		}
	}
	flags := binary.BigEndian.Uint16(out[2:])
	if flags&wire.FlagTC != 0 {
		p.Truncated = true
		return p
	}
	p.ANCount = binary.BigEndian.Uint16(out[6:])
	p.NSCount = binary.BigEndian.Uint16(out[8:])
	p.ARCount = binary.BigEndian.Uint16(out[10:]) - 1 // the OPT
	const optLen = 11
	body := out[q.QEnd : len(out)-optLen]
	p.Body = make([]byte, len(body))
	copy(p.Body, body)
	p.ReqLen = s.reqEnd - q.QEnd
	p.Compressed = s.b.Compressed()
	if a.slot >= 0 {
		p.Slot = s.slotOff - q.QEnd
		for i := range a.ns {
			it := &a.ns[i]
			if !it.setStart || (it.rr.Type != dns.TypeNSEC && it.rr.Type != dns.TypeNSEC3) {
				continue
			}
			if i < a.slot {
				p.SlotBefore = append(p.SlotBefore, it.rr.Owner.Lower())
			} else {
				p.SlotNext = p.SlotNext || i == a.slot
				p.SlotAfter = append(p.SlotAfter, it.rr.Owner.Lower())
			}
		}
	}
	for _, r := range relocs {
		off := r - q.QEnd
		ptr := binary.BigEndian.Uint16(p.Body[off:])
		if below && ptr&0x3FFF == wire.HeaderLen {
			// Below a name, the whole question name (a wildcard's
			// synthesised owner) starts at 12 whatever its length.
			continue
		}
		binary.BigEndian.PutUint16(p.Body[off:], ptr-uint16(len(qname)))
		rel := uint16(off)
		if p.Slot >= 0 && off >= p.Slot && int(ptr&0x3FFF)-q.QEnd >= p.Slot {
			rel |= abi.RelocInternal
		}
		p.Relocs = append(p.Relocs, rel)
	}
	return p
}

// DenialPiece is a covering NSEC or NSEC3 RRset, with its RRSIGs, as the
// engine writes it at the denial slot of a PrecomputeDenial rendering.
type DenialPiece struct {
	Body []byte
	// Relocs are the offsets in Body of its compression pointers; each
	// holds (target - qname length), or, with abi.RelocInternal (a
	// pointer into the piece itself), (target - qname length - the
	// slot's offset in the body).
	Relocs  []uint16
	Records uint16
}

// DenialPieces renders each RRset of covers at the denial slot of
// PrecomputeDenial(probe, qtype): the bytes Respond writes there when it
// is the query name's cover. A piece's pointers target the question or
// the piece itself (renderWith compresses a proof's RRset against nothing
// else), so it fits after any head. It returns nil when that rendering
// has no slot.
func (e *Engine) DenialPieces(probe []byte, qtype uint16, covers []*zone.RRset) []DenialPiece {
	s := e.pool.Get().(*scratch)
	defer e.pool.Put(s)
	e.prepare(s, probe, qtype, dns.ClassINET, true, true, true)
	q, a := &s.q, &s.a
	if a.slot < 0 || a.slotBad {
		return nil
	}
	all := append([]item(nil), a.ns...)
	allSlot := a.slot
	var relocs []int
	out := make([]DenialPiece, len(covers))
	buf := make([]byte, 0, 1024)
	allLen := len(e.renderWith(s, buf[:0], MaxTCPMessage, nil))
	ctx := make([]item, 0, len(all))
	for i, set := range covers {
		// The context is the answer without the cover: when the cover is
		// already in it, the engine writes it once, and the piece is for
		// the templates where it is not (a context of its own, rendered
		// for its length; the others share the answer's).
		ctx, slot, baseLen := ctx[:0], allSlot, allLen
		for j := range all {
			if inSet(set, all[j].rr) {
				if j < allSlot {
					slot--
				}
				continue
			}
			ctx = append(ctx, all[j])
		}
		if len(ctx) != len(all) {
			a.ns, a.slot = ctx, slot
			baseLen = len(e.renderWith(s, buf[:0], MaxTCPMessage, nil))
		}
		a.slot = slot
		a.ns = append([]item(nil), ctx[:slot]...)
		a.addSet(&a.ns, set, noOwner, 0, false)
		n := len(a.ns) - slot
		a.ns = append(a.ns, ctx[slot:]...)
		relocs = relocs[:0]
		msg := e.renderWith(s, buf[:0], MaxTCPMessage, &relocs)
		start, end := s.slotOff, s.slotOff+len(msg)-baseLen
		p := DenialPiece{Body: append([]byte(nil), msg[start:end]...), Records: uint16(n)}
		for _, r := range relocs {
			if r < start || r >= end {
				continue
			}
			ptr := binary.BigEndian.Uint16(msg[r:])
			target := int(ptr & 0x3FFF)
			v := ptr - uint16(len(probe))
			rel := uint16(r - start)
			switch {
			case target >= start:
				v -= uint16(start - q.QEnd)
				rel |= abi.RelocInternal
			case target >= q.QEnd:
				return nil // into the head: not as renderWith writes a proof
			}
			binary.BigEndian.PutUint16(p.Body[r-start:], v)
			p.Relocs = append(p.Relocs, rel)
		}
		out[i] = p
	}
	return out
}

// inSet reports whether rr is one of the records or signatures of set.
func inSet(set *zone.RRset, rr *zone.RR) bool {
	for _, r := range set.RRs() {
		if r == rr {
			return true
		}
	}
	for _, r := range set.Sigs() {
		if r == rr {
			return true
		}
	}
	return false
}
