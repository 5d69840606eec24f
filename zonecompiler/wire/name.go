// Package wire holds the DNS wire-format primitives shared by the answer
// engine, the userspace server and the XDP renderer: domain names in
// uncompressed wire form, the query parser and the response builder with
// case-insensitive name compression.
package wire

import (
	"bytes"
	"errors"
	"unsafe"
)

// MaxNameLen is the longest domain name in wire form (RFC 1035 §2.3.4).
const MaxNameLen = 255

// MaxLabels bounds every loop over the labels of a name: 255 bytes hold at
// most 127 one-byte labels plus the root.
const MaxLabels = 128

// ErrBadName reports a malformed wire-format name.
var ErrBadName = errors.New("malformed domain name")

// Name is a domain name in uncompressed wire form. Wire keeps the case the
// name was written with; Lower is the same bytes in lower case and is what
// every comparison and map key uses.
type Name struct {
	Wire  []byte
	Lower []byte
}

// NewName returns a Name for the wire-format name w (not copied).
//
// Lower is w itself when w has no upper-case letter (most zone data):
// neither may be written to afterwards.
func NewName(w []byte) Name {
	return Name{Wire: w, Lower: LowerShared(w)}
}

// Packed is a Name held in 16 bytes instead of 48, for what holds one
// per name of a zone (a TLD's millions): a pointer to the wire bytes and
// their count (a name is at most MaxNameLen bytes); when the name has
// upper-case letters, its lower-case form follows them in the same
// allocation. Neither may be written to.
type Packed struct {
	p     *byte
	n     uint8
	apart bool
}

// Pack returns n packed: sharing n.Wire when n.Lower is n.Wire itself or
// follows it in memory, else holding copies of both. A name longer than
// MaxNameLen bytes (never a name that was read: ReadName and the
// parsers refuse it) panics.
func Pack(n Name) Packed {
	w, l := n.Wire, n.Lower
	if len(w) > MaxNameLen || len(l) != len(w) {
		panic("wire: packing a malformed name")
	}
	if len(w) == 0 {
		return Packed{}
	}
	switch {
	case &l[0] == &w[0]:
		return Packed{p: &w[0], n: uint8(len(w))}
	case cap(w) >= 2*len(w) && &w[:2*len(w)][len(w)] == &l[0]:
		return Packed{p: &w[0], n: uint8(len(w)), apart: true}
	}
	b := make([]byte, 2*len(w))
	copy(b, w)
	copy(b[len(w):], l)
	return Packed{p: &b[0], n: uint8(len(w)), apart: true}
}

// NewPacked is the wire name w packed: sharing w when it is lower case
// (most zone data), else a copy of it and its lower-case form.
func NewPacked(w []byte) Packed { return Pack(NewName(w)) }

// Wire is the name as written (nil for the zero Packed).
func (p Packed) Wire() []byte {
	if p.p == nil {
		return nil
	}
	return unsafe.Slice(p.p, p.n)
}

// Lower is the name in lower case.
func (p Packed) Lower() []byte {
	if !p.apart {
		return p.Wire()
	}
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(p.p), p.n)), p.n)
}

// Name is p unpacked (sharing p's bytes).
func (p Packed) Name() Name { return Name{Wire: p.Wire(), Lower: p.Lower()} }

// LowerShared returns w lower-cased: w itself when it has no upper-case
// ASCII letter, else a copy. The result may alias w, so neither may be
// written to afterwards.
func LowerShared(w []byte) []byte {
	for _, c := range w {
		if c >= 'A' && c <= 'Z' {
			return ToLower(w)
		}
	}
	return w
}

// ToLower returns a lower-cased copy of the wire name w. Label length bytes
// are below 64 and therefore never touched by the ASCII folding.
func ToLower(w []byte) []byte {
	out := make([]byte, len(w))
	LowerInto(out, w)
	return out
}

// LowerInto writes the lower-cased form of w into dst (len(dst) >= len(w)).
func LowerInto(dst, w []byte) {
	for i, c := range w {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst[i] = c
	}
}

// Labels returns the number of labels in w, not counting the root.
func Labels(w []byte) int {
	n := 0
	for i := 0; i < len(w) && n < MaxLabels; {
		l := int(w[i])
		if l == 0 {
			break
		}
		n++
		i += l + 1
	}
	return n
}

// Parent returns the suffix of w that drops its first label; the root has
// no parent and is returned unchanged.
func Parent(w []byte) []byte {
	if len(w) == 0 || w[0] == 0 {
		return w
	}
	return w[int(w[0])+1:]
}

// Suffix returns the suffix of w that keeps its last n labels.
func Suffix(w []byte, n int) []byte {
	drop := Labels(w) - n
	for i := 0; i < drop; i++ {
		w = Parent(w)
	}
	return w
}

// IsSubdomain reports whether child is at or below parent; both lower case.
func IsSubdomain(child, parent []byte) bool {
	if len(child) < len(parent) {
		return false
	}
	for i := 0; i < MaxLabels; i++ {
		if len(child) == len(parent) {
			return bytes.Equal(child, parent)
		}
		if child[0] == 0 {
			return false
		}
		child = Parent(child)
		if len(child) < len(parent) {
			return false
		}
	}
	return false
}

// Compare orders two lower-case wire names canonically (RFC 4034 §6.1):
// label by label from the right, each label compared as octets.
func Compare(a, b []byte) int {
	var ao, bo [MaxLabels]int
	na, nb := offsets(a, &ao), offsets(b, &bo)
	for na > 0 && nb > 0 {
		na--
		nb--
		la := a[ao[na]+1 : ao[na]+1+int(a[ao[na]])]
		lb := b[bo[nb]+1 : bo[nb]+1+int(b[bo[nb]])]
		if c := bytes.Compare(la, lb); c != 0 {
			return c
		}
	}
	switch {
	case na > 0:
		return 1
	case nb > 0:
		return -1
	}
	return 0
}

// offsets stores the start of each label of w and returns their count.
func offsets(w []byte, out *[MaxLabels]int) int {
	n := 0
	for i := 0; i < len(w) && n < MaxLabels; {
		l := int(w[i])
		if l == 0 {
			break
		}
		out[n] = i
		n++
		i += l + 1
	}
	return n
}

// Wildcard returns the wire name "*." + w.
func Wildcard(w []byte) []byte {
	out := make([]byte, 0, len(w)+2)
	out = append(out, 1, '*')
	return append(out, w...)
}

// IsWildcard reports whether the first label of w is "*".
func IsWildcard(w []byte) bool {
	return len(w) >= 2 && w[0] == 1 && w[1] == '*'
}

// String renders w in presentation format, for logs and errors.
func String(w []byte) string {
	if len(w) == 0 || w[0] == 0 {
		return "."
	}
	var b []byte
	for i := 0; i < len(w) && w[i] != 0; {
		l := int(w[i])
		if i+1+l > len(w) {
			break
		}
		for _, c := range w[i+1 : i+1+l] {
			switch {
			case c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' || c == ' ' || c == '@' || c == '$':
				b = append(b, '\\', c)
			case c < 0x21 || c > 0x7e:
				b = append(b, '\\', '0'+c/100, '0'+(c/10)%10, '0'+c%10)
			default:
				b = append(b, c)
			}
		}
		b = append(b, '.')
		i += l + 1
	}
	return string(b)
}

// ReadName reads an uncompressed name that starts at msg[off]; it returns
// the name (a sub-slice of msg) and the offset after it. Compression
// pointers are refused: they cannot appear in a query's question.
func ReadName(msg []byte, off int) ([]byte, int, error) {
	start := off
	for labels := 0; labels < MaxLabels; labels++ {
		if off >= len(msg) {
			return nil, 0, ErrBadName
		}
		l := int(msg[off])
		if l == 0 {
			off++
			if off-start > MaxNameLen {
				return nil, 0, ErrBadName
			}
			return msg[start:off], off, nil
		}
		if l&0xC0 != 0 {
			return nil, 0, ErrBadName
		}
		off += l + 1
		if off-start > MaxNameLen {
			return nil, 0, ErrBadName
		}
	}
	return nil, 0, ErrBadName
}

// SkipName skips a possibly compressed name starting at msg[off] and
// returns the offset after it.
func SkipName(msg []byte, off int) (int, error) {
	for labels := 0; labels < MaxLabels; labels++ {
		if off >= len(msg) {
			return 0, ErrBadName
		}
		l := int(msg[off])
		switch {
		case l == 0:
			return off + 1, nil
		case l&0xC0 == 0xC0:
			if off+2 > len(msg) {
				return 0, ErrBadName
			}
			return off + 2, nil
		case l&0xC0 != 0:
			return 0, ErrBadName
		}
		off += l + 1
	}
	return 0, ErrBadName
}
