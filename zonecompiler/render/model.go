package render

import (
	"encoding/binary"
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
	Image   *Image
	UDPSize uint16
	NSID    []byte
}

// abi.Pass reasons: the names of the program's counters.
var (
	ReasonOpcode    = abi.CounterNames[abi.CounterPassOpcode]
	ReasonMalformed = abi.CounterNames[abi.CounterPassMalformed]
	ReasonEDNS      = abi.CounterNames[abi.CounterPassEDNS]
	ReasonQName     = abi.CounterNames[abi.CounterPassQname]
	ReasonQType     = abi.CounterNames[abi.CounterPassQtype]
	ReasonNoZone    = abi.CounterNames[abi.CounterPassNozone]
	ReasonNoTmpl    = abi.CounterNames[abi.CounterPassNotmpl]
	ReasonSize      = abi.CounterNames[abi.CounterPassSize]
)

// Reply answers pkt like the XDP program: reply != nil means XDP_TX with
// that DNS payload; otherwise reason says why it is passed.
func (m *Model) Reply(pkt []byte) (reply []byte, reason string) {
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
		ids, ok := m.Image.Answers[AnswerKey{Name: HashName(lower), QType: qtype, Mode: abi.ModeChaos}]
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
			e, ok := m.Image.Names[h]
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
		mode := uint16(abi.ModeBelow)
		if found == len(hs)-1 {
			mode = abi.ModeExact
		}
		typed := uint32(abi.NameFlagBelowTyped)
		if mode == abi.ModeExact {
			typed = abi.NameFlagExactTyped
		}
		if ids, ok := m.Image.Answers[AnswerKey{Name: n, QType: qtype, Mode: mode}]; ok && m.Image.Names[n].Flags&typed != 0 {
			id = ids[d]
		} else if mode == abi.ModeExact {
			id = m.Image.Names[n].ExactDefault[d]
		} else {
			id = m.Image.Names[n].BelowDefault[d]
		}
	default:
		return nil, ReasonQType
	}
	if id == abi.Pass {
		return nil, ReasonNoTmpl
	}
	t := &m.Image.Templates[id]
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
	full := 12 + qlen + 4 + t.BodyLen + optLen
	req := 12 + qlen + 4 + t.ReqLen + optLen
	tc := false
	if t.Flags&abi.FlagTooBig != 0 || full > size {
		if req <= size {
			return nil, ReasonSize
		}
		tc = true
	}
	out := make([]byte, 0, full)
	hflags := wire.FlagQR | flags&(wire.FlagRD|wire.FlagCD) | t.Flags&(abi.FlagAA|abi.FlagRcode)
	an, ns, ar := t.AN, t.NS, t.AR
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
		body := len(out)
		out = append(out, t.Body...)
		for _, r := range t.Relocs {
			p := body + int(r)
			binary.BigEndian.PutUint16(out[p:], binary.BigEndian.Uint16(out[p:])+uint16(qlen))
		}
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
