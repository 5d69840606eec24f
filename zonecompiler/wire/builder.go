package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// MaxCompression bounds the names remembered for compression in one
// message; later names are written in full.
const MaxCompression = 128

// ErrFull means a record did not fit under the builder's size limit.
var ErrFull = errors.New("message size limit reached")

type compEntry struct {
	lower []byte // lower-case wire suffix
	off   int    // where that suffix starts in the message
}

// Builder appends a DNS message to a buffer with case-insensitive name
// compression: a suffix that equals (ignoring case) one already written is
// replaced by a pointer to it, so the bytes depend only on the names and
// their order, never on their case.
type Builder struct {
	Buf   []byte
	Limit int
	// Relocs, when not nil, collects the offset of every compression
	// pointer written (the XDP renderer relocates them per query).
	Relocs *[]int
	comp   [MaxCompression]compEntry
	ncomp  int
	// Names remembered at offsets hideFrom..hideTo-1 are no targets
	// (Hide).
	hideFrom, hideTo int
}

// Compressed is the number of names remembered for compression so far
// (at most MaxCompression).
func (b *Builder) Compressed() int { return b.ncomp }

// Reset starts a new message in buf (reusing its storage) with limit bytes.
func (b *Builder) Reset(buf []byte, limit int) {
	b.Buf = buf[:0]
	b.Limit = limit
	b.ncomp = 0
	b.Relocs = nil
	b.hideFrom, b.hideTo = 0, 0
}

// Header appends the 12-byte header.
func (b *Builder) Header(id, flags uint16) {
	b.Buf = append(b.Buf, byte(id>>8), byte(id), byte(flags>>8), byte(flags), 0, 0, 0, 0, 0, 0, 0, 0)
}

// SetCount sets one of the four section counts (0 = QD … 3 = AR).
func (b *Builder) SetCount(section int, n int) {
	binary.BigEndian.PutUint16(b.Buf[4+2*section:], uint16(n))
}

// SetFlags overwrites the header flags word.
func (b *Builder) SetFlags(flags uint16) {
	binary.BigEndian.PutUint16(b.Buf[2:], flags)
}

// Question appends the question, remembering its name for compression.
func (b *Builder) Question(name, lower []byte, qtype, qclass uint16) {
	b.Name(name, lower, true)
	b.Buf = append(b.Buf, byte(qtype>>8), byte(qtype), byte(qclass>>8), byte(qclass))
}

// Name appends name (lower is the same name lower-cased), compressing
// against earlier names when compress is set.
func (b *Builder) Name(name, lower []byte, compress bool) {
	for i := 0; i < MaxLabels && len(name) > 0; i++ {
		if name[0] == 0 {
			b.Buf = append(b.Buf, 0)
			return
		}
		if compress {
			if off, ok := b.find(lower); ok {
				if b.Relocs != nil {
					*b.Relocs = append(*b.Relocs, len(b.Buf))
				}
				b.Buf = append(b.Buf, byte(0xC0|off>>8), byte(off))
				return
			}
			if len(b.Buf) < 0x3FFF && b.ncomp < MaxCompression {
				b.comp[b.ncomp] = compEntry{lower: lower, off: len(b.Buf)}
				b.ncomp++
			}
		}
		l := int(name[0]) + 1
		b.Buf = append(b.Buf, name[:l]...)
		name, lower = name[l:], lower[l:]
	}
}

// ForgetLonger forgets, for compression, the names remembered so far
// that are longer than n bytes: written in full, they are no longer
// pointed at (a referral's question below its cut keeps only the cut's
// name and what is above it).
func (b *Builder) ForgetLonger(n int) {
	kept := 0
	for i := 0; i < b.ncomp; i++ {
		if len(b.comp[i].lower) <= n {
			b.comp[kept] = b.comp[i]
			kept++
		}
	}
	b.ncomp = kept
}

// Hide makes the names written from offset from up to here no targets
// for the names written next, until Unhide: what follows compresses
// against what came before from (the question) and against itself only.
func (b *Builder) Hide(from int) { b.hideFrom, b.hideTo = from, len(b.Buf) }

// Unhide makes every name remembered a target again.
func (b *Builder) Unhide() { b.hideFrom, b.hideTo = 0, 0 }

func (b *Builder) find(lower []byte) (int, bool) {
	for i := 0; i < b.ncomp; i++ {
		if off := b.comp[i].off; off >= b.hideFrom && off < b.hideTo {
			continue
		}
		if bytes.Equal(b.comp[i].lower, lower) {
			return b.comp[i].off, true
		}
	}
	return 0, false
}

// Mark is a position to roll back to when a record does not fit.
type Mark struct{ n, ncomp int }

// Mark returns the current position.
func (b *Builder) Mark() Mark { return Mark{len(b.Buf), b.ncomp} }

// Rollback forgets everything written after m.
func (b *Builder) Rollback(m Mark) {
	b.Buf = b.Buf[:m.n]
	b.ncomp = m.ncomp
}

// Full reports whether the message went over its limit.
func (b *Builder) Full() bool { return len(b.Buf) > b.Limit }

// RRHeader appends type, class and TTL after an owner name and returns the
// offset of the RDLENGTH field for EndRData.
func (b *Builder) RRHeader(rtype, class uint16, ttl uint32) int {
	b.Buf = append(b.Buf, byte(rtype>>8), byte(rtype), byte(class>>8), byte(class),
		byte(ttl>>24), byte(ttl>>16), byte(ttl>>8), byte(ttl), 0, 0)
	return len(b.Buf) - 2
}

// EndRData fills in the RDLENGTH at lenOff.
func (b *Builder) EndRData(lenOff int) {
	binary.BigEndian.PutUint16(b.Buf[lenOff:], uint16(len(b.Buf)-lenOff-2))
}

// OPT appends an OPT pseudo-record (RFC 6891) with the given UDP size,
// extended RCODE high bits, DO flag and, if nsid is not nil, an NSID
// option, then, if cookie is not nil, a COOKIE option (RFC 7873).
func (b *Builder) OPT(udpSize uint16, extRcode uint8, do bool, nsid, cookie []byte) {
	var flags uint16
	if do {
		flags = EDNSFlagDO
	}
	ttl := uint32(extRcode)<<24 | uint32(flags)
	b.Buf = append(b.Buf, 0)
	lenOff := b.RRHeader(TypeOPT, udpSize, ttl)
	if nsid != nil {
		b.Buf = append(b.Buf, 0, OptionNSID, byte(len(nsid)>>8), byte(len(nsid)))
		b.Buf = append(b.Buf, nsid...)
	}
	if cookie != nil {
		b.Buf = append(b.Buf, 0, OptionCookie, byte(len(cookie)>>8), byte(len(cookie)))
		b.Buf = append(b.Buf, cookie...)
	}
	b.EndRData(lenOff)
}
