package render

import (
	"cmp"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMerge: merge gives what a map of the entries with the changes made
// gives, in key order, in place (slices with room) or not.
func TestMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 200 {
		want := map[int]int{}
		for range rng.IntN(50) {
			want[rng.IntN(100)] = rng.Int()
		}
		keys := slices.Sorted(maps.Keys(want))
		room := 0
		if round%2 == 0 {
			room = rng.IntN(20)
		}
		ks, vs := make([]int, len(keys), len(keys)+room), make([]int, len(keys), len(keys)+room)
		for i, k := range keys {
			ks[i], vs[i] = k, want[k]
		}
		changes := map[int]change[int]{}
		for range rng.IntN(30) {
			k := rng.IntN(110)
			if rng.IntN(3) == 0 {
				changes[k] = change[int]{gone: true}
				delete(want, k)
			} else {
				v := rng.Int()
				changes[k] = change[int]{v: v}
				want[k] = v
			}
		}
		gk, gv := merge(ks, vs, changes, cmp.Compare[int])
		wk := slices.Sorted(maps.Keys(want))
		if !slices.Equal(gk, wk) {
			t.Fatalf("round %d: keys %v, want %v", round, gk, wk)
		}
		for i, k := range gk {
			if gv[i] != want[k] {
				t.Fatalf("round %d: key %d value %d, want %d", round, k, gv[i], want[k])
			}
		}
	}
}
