package engine

import (
	"encoding/binary"

	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
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
// same bytes since the name's length is fixed.
func (e *Engine) Precompute(qname []byte, qtype, qclass uint16, do, below bool) Precomputed {
	s := e.pool.Get().(*scratch)
	defer e.pool.Put(s)
	q := &s.q
	*q = wire.Query{}
	q.QName, q.QLower = qname, qname
	q.QType, q.QClass = qtype, qclass
	q.EDNS, q.DO, q.UDPSize = true, do, MaxTCPMessage
	q.QEnd = wire.HeaderLen + len(qname) + 4
	a := &s.a
	a.reset()
	a.do = do
	e.decide(a, q, e.zones.Load())
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
	for _, r := range relocs {
		off := r - q.QEnd
		ptr := binary.BigEndian.Uint16(p.Body[off:])
		if below && ptr&0x3FFF == wire.HeaderLen {
			// Below a name, the whole question name (a wildcard's
			// synthesised owner) starts at 12 whatever its length.
			continue
		}
		binary.BigEndian.PutUint16(p.Body[off:], ptr-uint16(len(qname)))
		p.Relocs = append(p.Relocs, uint16(off))
	}
	return p
}
