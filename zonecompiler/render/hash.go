// Package render is the back half of the zone compiler: it asks the answer
// engine for every answer the XDP program can serve and lays the rendered
// templates out as a map image (names, per-type answers, templates and
// body chunks; see bpf/include/shared.h for the layout the program reads).
package render

import (
	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// NameHash identifies a lower-case wire name in the XDP maps (abi.NameHash).
type NameHash = abi.NameHash

// SuffixHashes returns the hashes of every suffix of the lower-case wire
// name, from the root (index 0) to the whole name (index Labels(lower)).
func SuffixHashes(lower []byte, out []NameHash) []NameHash {
	var starts [wire.MaxLabels]int
	n := 0
	for i := 0; i < len(lower) && lower[i] != 0 && n < wire.MaxLabels; i += int(lower[i]) + 1 {
		starts[n] = i
		n++
	}
	h := abi.HashBasis
	out = out[:0]
	// The root suffix is the final 0 byte.
	end := len(lower) - 1
	h = h.Step(lower[end])
	out = append(out, h)
	for k := n - 1; k >= 0; k-- {
		for i := end - 1; i >= starts[k]; i-- {
			h = h.Step(lower[i])
		}
		end = starts[k]
		out = append(out, h)
	}
	return out
}
