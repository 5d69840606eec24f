//go:build linux

package loader

import (
	"math/rand/v2"
	"testing"
)

// TestTmplIndex: random sets, replacements and removals, growing from
// empty, agree with a Go map at every step; keys crowded onto one home
// (wrapping past the last slot) are found and removed alike. The index
// reads an id's hash from the record it is given (here hashOf), as the
// live state's: an id is never given another hash while indexed.
func TestTmplIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 13))
	for _, crowd := range []bool{false, true} {
		hashOf := map[uint32]contentHash{}
		x := newTmplIndex(0, func(id uint32) contentHash { return hashOf[id] })
		want := map[contentHash]uint32{}
		next := uint32(1)
		var keys []contentHash
		for step := range 20000 {
			var h contentHash
			switch {
			case len(keys) > 0 && rng.IntN(3) == 0:
				h = keys[rng.IntN(len(keys))]
			case crowd:
				// The same home in a table of any size: the top bits.
				h = contentHash{^uint64(0) - rng.Uint64N(1<<20), rng.Uint64()}
			default:
				h = contentHash{rng.Uint64(), rng.Uint64()}
			}
			if rng.IntN(4) == 0 {
				x.del(h)
				delete(want, h)
			} else {
				id := next + rng.Uint32N(1<<20)
				next = id + 1
				hashOf[id] = h
				x.set(h, id)
				want[h] = id
				keys = append(keys, h)
			}
			if step%997 == 0 || step == 19999 {
				if x.n != len(want) {
					t.Fatalf("crowd %v step %d: %d keys, want %d", crowd, step, x.n, len(want))
				}
				for _, k := range keys {
					got, ok := x.get(k)
					if w, in := want[k]; ok != in || got != w {
						t.Fatalf("crowd %v step %d: %x gives %d %v, want %d %v", crowd, step, k, got, ok, w, in)
					}
				}
			}
		}
	}
}
