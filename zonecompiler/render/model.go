package render

import (
	"encoding/binary"
	"fmt"
	"github.com/xdpdns/xdpdns/bpf/abi"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// Model is the XDP program's decision written in Go: given the DNS payload
// of a UDP query it returns the reply the program sends, or the reason it
// passes the query up. It reads the image the way the XDP program (bpf/) reads the
// maps, so tests can check the compiler against the engine without a
// kernel, and the C program against this model.
type Model struct {
	Image *Image
	// Maps, when set, is read instead of Image: the live kernel maps
	// (daemon/hotpath), for explaining what the program decides.
	Maps    Maps
	UDPSize uint16
	NSID    []byte
}

// EntryTemplates is the template ids (by DO bit) for a query of qtype
// whose longest existing suffix is the name h with its entry, in mode
// (abi.ModeExact or abi.ModeBelow), as the program chooses them
// (bpf/include/lookup.h): the name's answers entry for qtype when its
// flags say it has some (typed), else its default — at a cut
// (abi.NameFlagCut) ExactDefault for DS alone, BelowDefault for the rest.
func EntryTemplates(mp interface {
	Answer(AnswerKey) ([2]uint32, bool)
}, h NameHash, entry NameEntry, qtype, mode uint16) (ids [2]uint32, typed bool) {
	flag := uint32(abi.NameFlagBelowTyped)
	if mode == abi.ModeExact {
		flag = abi.NameFlagExactTyped
	}
	if entry.Flags&flag != 0 {
		if ids, ok := mp.Answer(AnswerKey{Name: h, QType: qtype, Mode: mode}); ok {
			return ids, true
		}
	}
	if mode == abi.ModeExact && (entry.Flags&abi.NameFlagCut == 0 || qtype == dns.TypeDS) {
		return entry.ExactDefault, false
	}
	return entry.BelowDefault, false
}

// Maps is what the program reads, entry by entry: an Image, or the live
// generation's kernel maps.
type Maps interface {
	Name(h NameHash) (NameEntry, bool)
	Answer(k AnswerKey) ([2]uint32, bool)
	Template(id uint32) (*Template, bool)
	// DenialZone returns denial zone i; its Entries may be left out.
	DenialZone(i uint16) (*DenialZone, bool)
	// DenialCover returns the absolute index and the piece of the entry
	// of zone i that covers key, searched as the program searches (Cover).
	DenialCover(i uint16, key [4]uint64) (uint32, *Piece, bool)
	// DenialAt returns the absolute index and the piece of zone i's
	// entry rel (NameEntry.Cover - 1); false when it has no such entry.
	DenialAt(i uint16, rel uint32) (uint32, *Piece, bool)
}

// DenialZone returns denial zone i.
func (img *Image) DenialZone(i uint16) (*DenialZone, bool) {
	if i == 0 || int(i) >= len(img.Denial) {
		return nil, false
	}
	return img.Denial[i], true
}

// DenialCover returns the entry of zone i that covers key.
func (img *Image) DenialCover(i uint16, key [4]uint64) (uint32, *Piece, bool) {
	dz, ok := img.DenialZone(i)
	if !ok {
		return 0, nil, false
	}
	idx, ok := img.coverIndex(dz, key)
	if !ok {
		return 0, nil, false
	}
	return img.DenialAt(i, idx-dz.Base)
}

// coverIndex is the absolute index of the entry of dz that covers key.
func (img *Image) coverIndex(dz *DenialZone, key [4]uint64) (uint32, bool) {
	n := uint32(dz.Count())
	return Cover(dz, n, func(b uint32) (uint32, bool) {
		if int(b) >= len(dz.Index) {
			return 0, false
		}
		return dz.Index[b], true
	}, func(j uint32) ([4]uint64, bool) {
		if j < dz.Base || j >= dz.Base+n {
			return [4]uint64{}, false
		}
		return dz.KeyAt(int(j - dz.Base)), true
	}, key)
}

// DenialAt returns entry rel of zone i.
func (img *Image) DenialAt(i uint16, rel uint32) (uint32, *Piece, bool) {
	dz, ok := img.DenialZone(i)
	if !ok || dz.Ref || dz.Patch || rel >= uint32(len(dz.Entries)) {
		return 0, nil, false
	}
	return dz.Base + rel, &dz.Entries[rel].Piece, true
}

// Template returns template id.
func (img *Image) Template(id uint32) (*Template, bool) {
	if int(id) >= len(img.Templates) {
		return nil, false
	}
	return &img.Templates[id], true
}

// Decision is what the program decides for one query, and from which
// entries.
type Decision struct {
	Reply  []byte // the DNS payload sent (XDP_TX); nil when passed
	Reason string // why it is passed (a counter name); "" when answered
	// Name is the longest existing suffix's hash (class IN) or the
	// qname's (CHAOS); Labels its label count; Mode the answers key mode.
	Name   NameHash
	Labels int
	Mode   uint16
	// Cover is the name's NameEntry.Cover (class IN).
	Cover uint32
	// Typed: the template came from the per-type answers map, not from
	// the name's default.
	Typed      bool
	TemplateID uint32
	Template   *Template
	// Denial, for a template with a denial slot, says how the slot was
	// filled: the chain searched and the covering entry.
	Denial string
	// Piece is the covering RRset put in the template's denial slot (nil
	// when the template already holds it).
	Piece *Piece
	TC    bool // sent truncated
}

func (m *Model) maps() Maps {
	if m.Maps != nil {
		return m.Maps
	}
	return m.Image
}

// abi.Pass reasons: the names of the program's counters.
var (
	ReasonOpcode    = abi.CounterNames[abi.CounterPassOpcode]
	ReasonMalformed = abi.CounterNames[abi.CounterPassMalformed]
	ReasonEDNS      = abi.CounterNames[abi.CounterPassEDNS]
	ReasonQName     = abi.CounterNames[abi.CounterPassQName]
	ReasonQType     = abi.CounterNames[abi.CounterPassQtype]
	ReasonNoZone    = abi.CounterNames[abi.CounterPassNozone]
	ReasonNoTmpl    = abi.CounterNames[abi.CounterPassNotmpl]
	ReasonSize      = abi.CounterNames[abi.CounterPassSize]
	ReasonDenial    = abi.CounterNames[abi.CounterPassDenial]
)

// Reply answers pkt like the XDP program: reply != nil means XDP_TX with
// that DNS payload; otherwise reason says why it is passed.
func (m *Model) Reply(pkt []byte) (reply []byte, reason string) {
	d := m.Decide(pkt)
	return d.Reply, d.Reason
}

// Decide is Reply with the entries the decision was made from.
func (m *Model) Decide(pkt []byte) (dec Decision) {
	reply, reason := m.decide(pkt, &dec)
	dec.Reply, dec.Reason = reply, reason
	return dec
}

func (m *Model) decide(pkt []byte, dec *Decision) (reply []byte, reason string) {
	mp := m.maps()
	if len(pkt) < 12 {
		return nil, ReasonMalformed
	}
	flags := binary.BigEndian.Uint16(pkt[2:])
	if flags&(wire.FlagQR|wire.OpcodeMask|wire.FlagTC) != 0 ||
		binary.BigEndian.Uint16(pkt[4:]) != 1 || binary.BigEndian.Uint16(pkt[6:]) != 0 ||
		binary.BigEndian.Uint16(pkt[8:]) != 0 || binary.BigEndian.Uint16(pkt[10:]) > 1 {
		return nil, ReasonOpcode
	}
	arcount := binary.BigEndian.Uint16(pkt[10:])
	// qname
	off, labels := 12, 0
	for {
		if off >= len(pkt) {
			return nil, ReasonMalformed
		}
		l := int(pkt[off])
		if l&0xC0 != 0 {
			return nil, ReasonMalformed
		}
		if l == 0 {
			off++
			break
		}
		labels++
		off += l + 1
		if labels > abi.MaxLabels || off-12 > wire.MaxNameLen {
			return nil, ReasonQName
		}
	}
	qname := pkt[12:off]
	if off-12 > wire.MaxNameLen {
		return nil, ReasonQName
	}
	if off+4 > len(pkt) {
		return nil, ReasonMalformed
	}
	qtype := binary.BigEndian.Uint16(pkt[off:])
	qclass := binary.BigEndian.Uint16(pkt[off+2:])
	qend := off + 4
	edns, do, nsid := false, false, false
	size := 512
	if arcount == 1 {
		o := qend
		if o+11 > len(pkt) || pkt[o] != 0 || binary.BigEndian.Uint16(pkt[o+1:]) != dns.TypeOPT {
			return nil, ReasonEDNS
		}
		class := int(binary.BigEndian.Uint16(pkt[o+3:]))
		ttl := binary.BigEndian.Uint32(pkt[o+5:])
		rdlen := int(binary.BigEndian.Uint16(pkt[o+9:]))
		if o+11+rdlen != len(pkt) {
			return nil, ReasonEDNS
		}
		if (ttl>>16)&0xff != 0 {
			return nil, ReasonEDNS
		}
		edns, do = true, ttl&0x8000 != 0
		if class > 512 {
			size = class
		}
		if size > int(m.UDPSize) {
			size = int(m.UDPSize)
		}
		rd := pkt[o+11:]
		for i := 0; i < abi.MaxEDNSOptions && len(rd) > 0; i++ {
			if len(rd) < 4 || 4+int(binary.BigEndian.Uint16(rd[2:])) > len(rd) {
				return nil, ReasonMalformed
			}
			if binary.BigEndian.Uint16(rd) == wire.OptionNSID {
				nsid = true
			}
			rd = rd[4+int(binary.BigEndian.Uint16(rd[2:])):]
		}
	} else if qend != len(pkt) {
		return nil, ReasonMalformed
	}
	lower := wire.ToLower(qname)
	var id uint32
	d := 0
	if do {
		d = 1
	}
	switch qclass {
	case dns.ClassCHAOS:
		dec.Name, dec.Labels, dec.Mode, dec.Typed = abi.HashName(lower), labels, abi.ModeChaos, true
		ids, ok := mp.Answer(AnswerKey{Name: dec.Name, QType: qtype, Mode: abi.ModeChaos})
		if !ok {
			return nil, ReasonNoTmpl
		}
		id = ids[d]
	case dns.ClassINET:
		if abi.NeverInXDP(qtype) {
			return nil, ReasonQType
		}
		hs := SuffixHashes(lower, nil)
		found := -1
		for i, h := range hs {
			e, ok := mp.Name(h)
			if !ok {
				break
			}
			found = i
			if e.Flags&abi.NameFlagLeaf != 0 {
				break
			}
		}
		if found < 0 {
			return nil, ReasonNoZone
		}
		n := hs[found]
		entry, _ := mp.Name(n)
		mode := uint16(abi.ModeBelow)
		if found == len(hs)-1 {
			mode = abi.ModeExact
		}
		dec.Name, dec.Labels, dec.Mode, dec.Cover = n, found, mode, entry.Cover
		var ids [2]uint32
		ids, dec.Typed = EntryTemplates(mp, n, entry, qtype, mode)
		id = ids[d]
	default:
		return nil, ReasonQType
	}
	dec.TemplateID = id
	if id == abi.Pass {
		return nil, ReasonNoTmpl
	}
	t, ok := mp.Template(id)
	if !ok {
		return nil, ReasonNoTmpl
	}
	dec.Template = t
	var piece *Piece
	if t.Slot != abi.NoSlot {
		var reason string
		piece, reason = m.denial(mp, t, id, lower, labels, dec)
		if reason != "" {
			return nil, reason
		}
		dec.Piece = piece
	}
	plen := 0
	if piece != nil {
		plen = len(piece.Body)
	}
	optLen := 0
	var nsidData []byte
	if edns {
		optLen = 11
		if nsid && len(m.NSID) > 0 {
			nsidData = m.NSID
			optLen += 4 + len(nsidData)
		}
	}
	qlen := len(qname)
	full := 12 + qlen + 4 + t.BodyLen + plen + optLen
	req := 12 + qlen + 4 + t.ReqLen + plen + optLen
	tc := false
	if t.Flags&abi.FlagTooBig != 0 || t.BodyLen+plen > abi.MaxBody || full > size {
		if req <= size {
			return nil, ReasonSize
		}
		tc = true
		dec.TC = true
	}
	out := make([]byte, 0, full)
	hflags := wire.FlagQR | flags&(wire.FlagRD|wire.FlagCD) | t.Flags&(abi.FlagAA|abi.FlagRcode)
	an, ns, ar := t.AN, t.NS, t.AR
	if piece != nil {
		ns += piece.Records
	}
	if tc {
		hflags |= wire.FlagTC
		an, ns, ar = 0, 0, 0
	}
	if edns {
		ar++
	}
	out = append(out, pkt[0], pkt[1], byte(hflags>>8), byte(hflags), 0, 1,
		byte(an>>8), byte(an), byte(ns>>8), byte(ns), byte(ar>>8), byte(ar))
	out = append(out, pkt[12:qend]...)
	if !tc {
		out = appendBody(out, t, piece, qlen)
	}
	if edns {
		var f byte
		if do {
			f = 0x80
		}
		out = append(out, 0, 0, 41, byte(m.UDPSize>>8), byte(m.UDPSize), 0, 0, f, 0)
		if nsidData != nil {
			l := 4 + len(nsidData)
			out = append(out, byte(l>>8), byte(l), 0, wire.OptionNSID, byte(len(nsidData)>>8), byte(len(nsidData)))
			out = append(out, nsidData...)
		} else {
			out = append(out, 0, 0)
		}
	}
	return out, ""
}

// denial finds the piece for template t (id) of a query of labels labels
// whose longest existing suffix has dec.Labels: the cover of its next closer name, or
// nil when the template holds that RRset already; else the pass reason.
func (m *Model) denial(mp Maps, t *Template, id uint32, lower []byte, labels int, dec *Decision) (*Piece, string) {
	nc := dec.Labels + 1 // the next closer name's labels
	if t.Flags&abi.FlagSlotSelf != 0 {
		nc = dec.Labels // the name found (abi.FlagSlotSelf)
	}
	dz, ok := mp.DenialZone(t.Denial)
	if !ok {
		return nil, ReasonNoTmpl
	}
	if nc > labels {
		return nil, ReasonDenial
	}
	var idx uint32
	var piece *Piece
	what := "covers the next closer name"
	if t.Flags&abi.FlagSlotSelf != 0 && dec.Cover != 0 {
		// The cover of the name found, known from its entry.
		what = "covers the name found (its entry says)"
		if idx, piece, ok = mp.DenialAt(t.Denial, dec.Cover-1); !ok {
			return nil, ReasonDenial
		}
	} else {
		k, ok := dz.QueryKey(wire.Suffix(lower, nc))
		if !ok {
			return nil, ReasonDenial
		}
		if t.Flags&abi.FlagSlotSelf != 0 && dz.Kind == abi.DenialNSEC {
			// The name found owns its NSEC, the entry of its own label:
			// the last at or below the key.
			what = "is the name found's own NSEC"
			k[3]++
		}
		if idx, piece, ok = mp.DenialCover(t.Denial, k); !ok {
			return nil, ReasonDenial
		}
	}
	chain := "NSEC"
	if dz.Kind == abi.DenialNSEC3 {
		chain = "NSEC3"
	}
	if idx-dz.Base == t.DenialHead || idx-dz.Base == t.DenialTail {
		dec.Denial = fmt.Sprintf("%s zone %d, entry %d %s: already in the template", chain, t.Denial, idx, what)
		return nil, ""
	}
	if len(piece.Body) > abi.MaxBody {
		return nil, ReasonNoTmpl
	}
	dec.Denial = fmt.Sprintf("%s zone %d, entry %d %s: %d bytes, %d records in the slot at %d",
		chain, t.Denial, idx, what, len(piece.Body), piece.Records, t.Slot)
	return piece, ""
}

// appendBody appends t's body for a question of qlen bytes, with piece
// (if any) in its denial slot, every pointer relocated as the program
// relocates it (bpf/include/reply.h, copy_body).
func appendBody(out []byte, t *Template, piece *Piece, qlen int) []byte {
	bo := len(out)
	slot, plen := t.BodyLen, 0
	if t.Slot != abi.NoSlot {
		slot = t.Slot
	}
	out = append(out, t.Body[:slot]...)
	if piece != nil {
		plen = len(piece.Body)
		out = append(out, piece.Body...)
	}
	out = append(out, t.Body[slot:]...)
	add := func(p int, v int) {
		binary.BigEndian.PutUint16(out[p:], binary.BigEndian.Uint16(out[p:])+uint16(v))
	}
	for _, r := range t.Relocs {
		off, internal := int(r&^abi.RelocInternal), r&abi.RelocInternal != 0
		switch {
		case off < slot:
			add(bo+off, qlen)
		case internal:
			add(bo+off+plen, qlen+plen)
		default:
			add(bo+off+plen, qlen)
		}
	}
	if piece != nil {
		for _, r := range piece.Relocs {
			off := int(r &^ abi.RelocInternal)
			if r&abi.RelocInternal != 0 {
				add(bo+slot+off, qlen+slot)
			} else {
				add(bo+slot+off, qlen)
			}
		}
	}
	return out
}
