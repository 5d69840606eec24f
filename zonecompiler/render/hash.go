// Package render is the back half of the zone compiler: it asks the answer
// engine for every answer the XDP program can serve and lays the rendered
// templates out as a map image (names, per-type answers, templates and
// body chunks; see bpf/include/shared.h for the layout the program reads).
package render

import (
	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// NameHash identifies a lower-case wire name in the XDP maps: two 64-bit
// hashes computed over the name's bytes from the last to the first, so
// that a suffix's hash is a prefix of the computation of a longer name's.
// The C side (hash_suffixes in bpf/include/query.h) computes the same.
type NameHash struct{ H1, H2 uint64 }

// step extends a hash by one byte (moving towards the name's start).
func (h NameHash) step(c byte) NameHash {
	return NameHash{H1: (h.H1 ^ uint64(c)) * abi.HashH1Prime, H2: (h.H2^uint64(c))*abi.HashH2Mult + 1}
}

// HashName hashes a whole lower-case wire name.
func HashName(lower []byte) NameHash {
	h := NameHash{H1: abi.HashH1Basis, H2: abi.HashH2Basis}
	for i := len(lower) - 1; i >= 0; i-- {
		h = h.step(lower[i])
	}
	return h
}

// SuffixHashes returns the hashes of every suffix of the lower-case wire
// name, from the root (index 0) to the whole name (index Labels(lower)).
func SuffixHashes(lower []byte, out []NameHash) []NameHash {
	var starts [wire.MaxLabels]int
	n := 0
	for i := 0; i < len(lower) && lower[i] != 0 && n < wire.MaxLabels; i += int(lower[i]) + 1 {
		starts[n] = i
		n++
	}
	h := NameHash{H1: abi.HashH1Basis, H2: abi.HashH2Basis}
	out = out[:0]
	// The root suffix is the final 0 byte.
	end := len(lower) - 1
	h = h.step(lower[end])
	out = append(out, h)
	for k := n - 1; k >= 0; k-- {
		for i := end - 1; i >= starts[k]; i-- {
			h = h.step(lower[i])
		}
		end = starts[k]
		out = append(out, h)
	}
	return out
}
