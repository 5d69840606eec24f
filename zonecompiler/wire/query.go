package wire

import (
	"encoding/binary"
	"errors"
	"github.com/xdpdns/xdpdns/bpf/abi"
)

// Header flag bits and field masks (RFC 1035 §4.1.1, RFC 4035 §3.2).
const (
	FlagQR     = 1 << 15
	FlagAA     = 1 << 10
	FlagTC     = 1 << 9
	FlagRD     = 1 << 8
	FlagRA     = 1 << 7
	FlagAD     = 1 << 5
	FlagCD     = 1 << 4
	OpcodeMask = 0x7800
	HeaderLen  = 12
)

// EDNS(0) constants (RFC 6891, RFC 5001).
const (
	TypeOPT       = 41
	EDNSFlagDO    = 1 << 15
	OptionNSID    = 3
	OptionCookie  = 10 // DNS Cookies (RFC 7873)
	MinUDPPayload = 512
)

// TypeIXFR is the incremental zone transfer query type (RFC 1995).
const TypeIXFR = 251

// Errors from ParseQuery. ErrDrop means the packet must be dropped
// silently; ErrFormat means the sender gets FORMERR; ErrNotImpl NOTIMP.
var (
	ErrDrop    = errors.New("packet dropped: not a parsable DNS query")
	ErrFormat  = errors.New("malformed query")
	ErrNotImpl = errors.New("opcode not implemented")
)

// Query is a parsed DNS query. Name slices point into the packet, except
// QLower which points into the Query's own buffer.
type Query struct {
	ID      uint16
	Flags   uint16 // header flags word as received
	Opcode  int
	QName   []byte // question name as the client wrote it
	QLower  []byte // QName lower-cased
	QType   uint16
	QClass  uint16
	QEnd    int // offset of the first byte after the question
	EDNS    bool
	UDPSize uint16
	DO      bool
	Version uint8
	NSID    bool // the client asked for NSID (RFC 5001)
	// Cookie is the COOKIE option's data as received (RFC 7873: a client
	// cookie of 8 bytes, then a server cookie of 8 to 32), nil if none;
	// CookieBad says the option was malformed (another length, or more
	// than one), which a server that does cookies answers with FORMERR.
	Cookie    []byte
	CookieBad bool
	// Reason says why ParseQuery failed, for counters and logs.
	Reason string

	lower [MaxNameLen]byte
}

// ParseQuery parses pkt into q. On ErrFormat and ErrNotImpl the header
// fields and, where it could be read, the question are still set so that
// an error response can echo them.
func ParseQuery(pkt []byte, q *Query) error {
	*q = Query{}
	if len(pkt) < HeaderLen {
		q.Reason = "shorter than a DNS header"
		return ErrDrop
	}
	q.ID = binary.BigEndian.Uint16(pkt)
	q.Flags = binary.BigEndian.Uint16(pkt[2:])
	if q.Flags&FlagQR != 0 {
		q.Reason = "QR set: a response, not a query"
		return ErrDrop
	}
	q.Opcode = int(q.Flags&OpcodeMask) >> 11
	qd := binary.BigEndian.Uint16(pkt[4:])
	an := binary.BigEndian.Uint16(pkt[6:])
	ns := binary.BigEndian.Uint16(pkt[8:])
	ar := binary.BigEndian.Uint16(pkt[10:])
	// An opcode we do not implement is NOTIMP whatever follows it
	// (RFC 1035 §4.1.1; ISC's EDNS compliance tests opcode and opcodeflg
	// send one without a question); its question, when readable, is
	// echoed.
	notImpl := func() error {
		q.Reason = "opcode other than QUERY"
		return ErrNotImpl
	}
	if qd != 1 {
		if q.Opcode != 0 {
			return notImpl()
		}
		q.Reason = "QDCOUNT is not 1"
		return ErrFormat
	}
	name, off, err := ReadName(pkt, HeaderLen)
	if err != nil || off+4 > len(pkt) {
		if q.Opcode != 0 {
			return notImpl()
		}
		q.Reason = "question name or type truncated or malformed"
		return ErrFormat
	}
	q.QName = name
	LowerInto(q.lower[:], name)
	q.QLower = q.lower[:len(name)]
	q.QType = binary.BigEndian.Uint16(pkt[off:])
	q.QClass = binary.BigEndian.Uint16(pkt[off+2:])
	q.QEnd = off + 4
	if q.Opcode != 0 {
		return notImpl()
	}
	// IXFR carries the client's SOA in the authority section (RFC 1995
	// §3): skipped, since whoever decides (the engine refuses transfers,
	// the server serves them over TCP) reads the serial itself.
	if an != 0 || (ns != 0 && q.QType != TypeIXFR) {
		q.Reason = "answer or authority records in a query"
		return ErrFormat
	}
	off = q.QEnd
	for i := 0; i < int(ns); i++ {
		off, err = SkipName(pkt, off)
		if err != nil || off+10 > len(pkt) {
			q.Reason = "authority record truncated"
			return ErrFormat
		}
		off += 10 + int(binary.BigEndian.Uint16(pkt[off+8:]))
		if off > len(pkt) {
			q.Reason = "authority record data truncated"
			return ErrFormat
		}
	}
	for i := 0; i < int(ar); i++ {
		rrStart := off
		off, err = SkipName(pkt, off)
		if err != nil || off+10 > len(pkt) {
			q.Reason = "additional record truncated"
			return ErrFormat
		}
		typ := binary.BigEndian.Uint16(pkt[off:])
		class := binary.BigEndian.Uint16(pkt[off+2:])
		ttl := binary.BigEndian.Uint32(pkt[off+4:])
		rdlen := int(binary.BigEndian.Uint16(pkt[off+8:]))
		off += 10
		if off+rdlen > len(pkt) {
			q.Reason = "additional record data truncated"
			return ErrFormat
		}
		if typ == TypeOPT {
			if q.EDNS {
				q.Reason = "more than one OPT record"
				return ErrFormat
			}
			if off-10-rrStart != 1 || pkt[rrStart] != 0 {
				q.Reason = "OPT owner is not the root"
				return ErrFormat
			}
			q.EDNS = true
			q.UDPSize = class
			if q.UDPSize < MinUDPPayload {
				q.UDPSize = MinUDPPayload
			}
			q.Version = uint8(ttl >> 16)
			q.DO = ttl&EDNSFlagDO != 0
			if err := q.parseOptions(pkt[off : off+rdlen]); err != nil {
				return err
			}
		}
		off += rdlen
	}
	if off != len(pkt) {
		// Trailing bytes after the last record: tolerated, as Knot and
		// NSD do, but recorded.
		q.Reason = "trailing bytes after the message"
	}
	return nil
}

// parseOptions walks the OPT RDATA; unknown options are ignored.
func (q *Query) parseOptions(rd []byte) error {
	for i := 0; i < MaxOptions && len(rd) > 0; i++ {
		if len(rd) < 4 {
			q.Reason = "EDNS option header truncated"
			return ErrFormat
		}
		code := binary.BigEndian.Uint16(rd)
		l := int(binary.BigEndian.Uint16(rd[2:]))
		if 4+l > len(rd) {
			q.Reason = "EDNS option data truncated"
			return ErrFormat
		}
		switch code {
		case OptionNSID:
			q.NSID = true
		case OptionCookie:
			if q.Cookie != nil || l < 8 || (l > 8 && l < 16) || l > 40 {
				q.CookieBad = true
			}
			q.Cookie = rd[4 : 4+l]
		}
		rd = rd[4+l:]
	}
	return nil
}

// MaxOptions bounds the EDNS options examined in one OPT record; the XDP
// program examines as many (an ABI limit).
const MaxOptions = abi.MaxEDNSOptions
