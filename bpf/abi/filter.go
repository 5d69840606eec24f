package abi

import "math/bits"

// NameFilter builds the name_filter words of a set of name hashes
// (shared.h, XDPDNS_FILTER_*): word 0 the shift, then at least
// FilterBitsPerName bits per name (a power of two, 64 at least), the bit
// of each name set.
func NameFilter(names []NameHash) []uint64 {
	nbits := uint64(64)
	for nbits < uint64(len(names))*FilterBitsPerName {
		nbits <<= 1
	}
	shift := uint64(64 - bits.TrailingZeros64(nbits))
	out := make([]uint64, 1+nbits/64)
	out[0] = shift
	for _, h := range names {
		b := h.H2 >> shift
		out[1+b/64] |= 1 << (b % 64)
	}
	return out
}

// FilterHas reports whether filter (NameFilter's words) may hold h; false
// means h is certainly not among the names it was built from.
func FilterHas(filter []uint64, h NameHash) bool {
	if len(filter) < 2 || filter[0] == 0 || filter[0] >= 64 {
		return true
	}
	b := h.H2 >> filter[0]
	w := 1 + b/64
	return w < uint64(len(filter)) && filter[w]>>(b%64)&1 != 0
}
