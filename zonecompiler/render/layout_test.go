package render

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// randomKeys draws n distinct sorted NSEC3-like keys.
func randomKeys(r *rand.Rand, n int) [][4]uint64 {
	set := make(map[[4]uint64]bool, n)
	for len(set) < n {
		set[[4]uint64{r.Uint64() >> 8, r.Uint64(), r.Uint64() &^ 0xffffffff, 0}] = true
	}
	keys := make([][4]uint64, 0, n)
	for k := range set {
		keys = append(keys, k)
	}
	return randomSorted(keys)
}

// viewOf lays keys out at (nil: anew) as a view placed at base, with its
// index, as buildDenial does; its pieces say which key they cover.
func viewOf(t *testing.T, keys [][4]uint64, at []uint32, base uint32) *DenialZone {
	t.Helper()
	dz := &DenialZone{Kind: 2, byOwner: map[string]uint32{}}
	for i, k := range keys {
		dz.Entries = append(dz.Entries, DenialEntry{Key: k, Piece: Piece{Records: 1, Body: []byte{byte(i), byte(i >> 8)}}})
	}
	if at == nil {
		at = freshLayout(len(keys))
	}
	if !dz.layOut(at) {
		t.Fatalf("layOut refused %d keys", len(keys))
	}
	dz.place(base)
	return dz
}

// cover finds key's entry in dz as the program does (Cover, through the
// index): its slot in the view.
func cover(t *testing.T, dz *DenialZone, key [4]uint64) int {
	t.Helper()
	n := uint32(len(dz.Entries))
	idx, ok := Cover(dz, n, func(b uint32) (uint32, bool) {
		if int(b) >= len(dz.Index) {
			return 0, false
		}
		return dz.Index[b], true
	}, func(i uint32) ([4]uint64, bool) {
		if i < dz.Base || i >= dz.Base+n {
			return [4]uint64{}, false
		}
		return dz.Entries[i-dz.Base].Key, true
	}, key)
	if !ok {
		t.Fatalf("no cover for %x", key)
	}
	return int(idx - dz.Base)
}

// checkView holds dz, laid out from keys, to what the chain means: every
// key has its slot, holes carry their successor's key and no piece, no
// hole ends the view, and every query key is covered by the last key
// below it (wrapping) — found on the key's own slot, never on a hole,
// both by the program's search and by coverIn.
func checkView(t *testing.T, r *rand.Rand, dz *DenialZone, keys [][4]uint64) {
	t.Helper()
	layout := dz.Layout()
	at, ok := placesIn(layout, keys)
	if !ok {
		t.Fatal("a key has no slot")
	}
	for i := range layout {
		hole := i+1 < len(layout) && layout[i+1] == layout[i]
		if hole != (len(dz.Entries[i].Piece.Body) == 0) {
			t.Fatalf("slot %d: hole %v, piece of %d bytes", i, hole, len(dz.Entries[i].Piece.Body))
		}
		if i > 0 && keyLess(layout[i], layout[i-1]) {
			t.Fatalf("slot %d out of order", i)
		}
	}
	if int(at[len(at)-1]) != len(layout)-1 {
		t.Fatal("a hole ends the view")
	}
	queries := [][4]uint64{{0, 0, 0, 0}, {^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}}
	for _, k := range keys[:min(len(keys), 50)] {
		queries = append(queries, k, [4]uint64{k[0], k[1], k[2] + 1, 0}, [4]uint64{k[0], k[1] - 1, k[2], 0})
	}
	for range 300 {
		queries = append(queries, [4]uint64{r.Uint64() >> 8, r.Uint64(), r.Uint64() &^ 0xffffffff, 0})
	}
	for _, q := range queries {
		want := len(keys) - 1 // the last key below q
		for i, k := range keys {
			if !keyLess(k, q) {
				want = (i + len(keys) - 1) % len(keys)
				break
			}
		}
		got := cover(t, dz, q)
		if got != int(at[want]) || coverIn(layout, q) != got {
			t.Fatalf("query %x: cover at slot %d (coverIn %d), want key %d at slot %d", q, got, coverIn(layout, q), want, at[want])
		}
		if p := dz.Entries[got].Piece.Body; int(p[0])|int(p[1])<<8 != want&0xffff {
			t.Fatalf("query %x: slot %d holds another key's piece", q, got)
		}
	}
}

// TestViewLayout lays chains out anew and changes them step by step
// (patchLayout): each view must cover every query as the sorted chain
// does; a change must keep the slots of the keys it does not touch but
// for those moved on to the next free slot where holes ran out, and must not grow the view
// by more than it adds.
func TestViewLayout(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for _, n := range []int{1, 2, 7, 8, 9, 100, 3000} {
		keys := randomKeys(r, n)
		dz := viewOf(t, keys, nil, 5)
		checkView(t, r, dz, keys)
		if want := n + (n-1)/holeEvery + 1; len(dz.Entries) != want {
			t.Fatalf("%d keys: %d slots, want %d", n, len(dz.Entries), want)
		}
		for step := range 30 {
			old := dz.Layout()
			oldAt, _ := placesIn(old, keys)
			slotOf := make(map[[4]uint64]uint32, len(keys))
			for i, k := range keys {
				slotOf[k] = oldAt[i]
			}
			// Remove some, add some (a burst at one place at times).
			var next [][4]uint64
			for _, k := range keys {
				if r.IntN(10) != 0 || len(keys) == 1 {
					next = append(next, k)
				}
			}
			add := randomKeys(r, 1+r.IntN(1+n/20))
			if step%5 == 4 && len(keys) > 1 {
				k := keys[r.IntN(len(keys)-1)]
				for i := range add {
					add[i] = [4]uint64{k[0], k[1], k[2] + uint64(i+1)<<32, 0}
				}
			}
			seen := make(map[[4]uint64]bool)
			for _, k := range next {
				seen[k] = true
			}
			for _, k := range add {
				if !seen[k] {
					seen[k] = true
					next = append(next, k)
				}
			}
			next = randomSorted(next)
			at := patchLayout(old, next)
			dz = viewOf(t, next, at, uint32(step))
			checkView(t, r, dz, next)
			checkRelayout(t, r, old, keys, next, dz.Layout())
			moved, added := 0, 0
			for i, k := range next {
				if s, ok := slotOf[k]; !ok {
					added++
				} else if s != at[i] {
					moved++
				}
			}
			if len(dz.Entries) > len(old)+added {
				t.Fatalf("%d keys step %d: %d slots from %d with %d added", n, step, len(dz.Entries), len(old), added)
			}
			// A shift runs from an added key to the next free slot (a hole,
			// or a removed key's): at most the longest run without one.
			run, longest := 0, 0
			for i, k := range old {
				if i+1 < len(old) && old[i+1] == k || !seen[k] {
					run = 0
					continue
				}
				run++
				longest = max(longest, run)
			}
			// Every key whose own entry or cover the change moves lies in
			// the dirty ranges (chainReach looks no further).
			chain := map[[4]uint64]bool{}
			for _, k := range old {
				if !seen[k] {
					chain[k] = true
				}
			}
			for _, k := range add {
				chain[k] = true
			}
			for _, k := range next[:min(3, len(next))] {
				chain[k] = true // changed in place (a new next hash)
			}
			is := dz.Layout()
			dirty := dirtyRanges(old, is, chain)
			probes := append(slices.Clone(next), randomKeys(r, 200)...)
			for _, k := range old {
				probes = append(probes, k, [4]uint64{k[0], k[1], k[2] + 1<<32, 0})
			}
			for _, k := range probes {
				if (ownMoves(old, is, chain, k) || coverMoves(old, is, chain, k)) && !inRanges(dirty, keyLabel(k)) {
					t.Fatalf("%d keys step %d: key %x moves, outside the dirty ranges %v", n, step, k, dirty)
				}
			}
			if moved > added*longest {
				t.Fatalf("%d keys step %d: %d kept keys moved for %d added", n, step, moved, added)
			}
			keys = next
		}
	}
}

// randomSorted sorts keys (drawn in any order).
func randomSorted(keys [][4]uint64) [][4]uint64 {
	slices.SortFunc(keys, func(a, b [4]uint64) int {
		if keyLess(a, b) {
			return -1
		}
		if a == b {
			return 0
		}
		return 1
	})
	return keys
}

// placesIn is where each of keys (sorted, unique) sits in the view laid
// out as layout (Layout): the last slot of its key. False when a key has
// no slot there.
func placesIn(layout [][4]uint64, keys [][4]uint64) ([]uint32, bool) {
	at := make([]uint32, len(keys))
	j := 0
	for i, k := range keys {
		for j < len(layout) && keyLess(layout[j], k) {
			j++
		}
		for j+1 < len(layout) && layout[j+1] == k {
			j++ // a hole before it
		}
		if j >= len(layout) || layout[j] != k {
			return nil, false
		}
		at[i] = uint32(j)
		j++
	}
	return at, true
}

// checkRelayout holds relayout, given the change from keys (laid out as
// old) to next (and some kept keys changed), to want, the layout the
// reference patchLayout gives: the same keys slot by slot, and as sources
// exactly the slots of old that hold the same content (the unchanged
// entries and the holes before them).
func checkRelayout(t *testing.T, r *rand.Rand, old, keys, next, want [][4]uint64) {
	t.Helper()
	in := func(l [][4]uint64) map[[4]uint64]bool {
		m := make(map[[4]uint64]bool, len(l))
		for _, k := range l {
			m[k] = true
		}
		return m
	}
	was, is := in(keys), in(next)
	var ch []layoutChange
	changed := map[[4]uint64]bool{}
	for k := range was {
		if !is[k] {
			ch = append(ch, layoutChange{k: k})
		} else if r.IntN(8) == 0 {
			ch = append(ch, layoutChange{k: k, present: true})
			changed[k] = true
		}
	}
	for k := range is {
		if !was[k] {
			ch = append(ch, layoutChange{k: k, present: true})
		}
	}
	slices.SortFunc(ch, func(a, b layoutChange) int { return cmpKey(a.k, b.k) })
	got, src := relayout(old, ch)
	if !slices.Equal(got, want) {
		t.Fatalf("relayout gives %d slots, patchLayout %d, or other keys", len(got), len(want))
	}
	for sl, k := range got {
		hole := sl+1 < len(got) && got[sl+1] == k
		keeps := !hole && was[k] && !changed[k] // an unchanged entry
		if s := src[sl]; s >= 0 {
			oldHole := int(s)+1 < len(old) && old[s+1] == old[s]
			if old[s] != k || hole != oldHole || !hole && !keeps {
				t.Fatalf("slot %d (%x, hole %v) takes slot %d of old (%x, hole %v)", sl, k, hole, s, old[s], oldHole)
			}
		} else if keeps {
			t.Fatalf("slot %d keeps %x unchanged but takes nothing from old", sl, k)
		}
	}
}

// The reference relayout is held to (and the tests' idea of a patched
// view): the new chain's keys placed one by one.
//
// patchLayout places the sorted, unique keys of a changed chain in the
// slots of its view laid out as old (Layout): a key the old view holds
// keeps its slot, unless keys added before it took more free slots than
// there were; an added key takes the first free slot (a hole, or the slot
// of a removed key) after its predecessor. Where the free slots run out,
// the entries after move on by one until a free slot takes the shift up.
func patchLayout(old [][4]uint64, keys [][4]uint64) []uint32 {
	// stays[i]: slot i holds an entry that stays (a key's last slot: the
	// ones before it holding its key are holes).
	stays := make([]bool, len(old))
	for i, j := 0, 0; i < len(old); i++ {
		if i+1 < len(old) && old[i+1] == old[i] {
			continue
		}
		for j < len(keys) && keyLess(keys[j], old[i]) {
			j++
		}
		stays[i] = j < len(keys) && keys[j] == old[i]
	}
	// nextStays[i]: the first slot at or after i whose entry stays, or -1.
	nextStays := make([]int32, len(old)+1)
	nextStays[len(old)] = -1
	for i := len(old) - 1; i >= 0; i-- {
		nextStays[i] = nextStays[i+1]
		if stays[i] {
			nextStays[i] = int32(i)
		}
	}
	at := make([]uint32, 0, len(keys))
	j, out, shift := 0, uint32(0), 0
	for i := range old {
		if stays[i] {
			// Added keys below it that found no free slot move it on.
			for j < len(keys) && keyLess(keys[j], old[i]) {
				at = append(at, out)
				out++
				shift++
				j++
			}
			at = append(at, out) // keys[j] == old[i]
			out++
			j++
			continue
		}
		// A free slot: an added key due before the next staying entry
		// takes it, else it takes up a shift, else it stays a hole.
		if n := nextStays[i]; j < len(keys) && (n < 0 || keyLess(keys[j], old[n])) {
			at = append(at, out)
			out++
			j++
			continue
		}
		if shift > 0 {
			shift--
			continue
		}
		out++
	}
	for ; j < len(keys); j++ {
		at = append(at, out)
		out++
	}
	return at
}
