package render

import (
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
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
		if c := coverIn(newChainLayout(layout), q); got != int(at[want]) || c != got {
			t.Fatalf("query %x: cover at slot %d (coverIn %d), want key %d at slot %d", q, got, c, want, at[want])
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
			was, lay, dirty := checkDirty(t, old, is, chain, seen)
			probes := append(slices.Clone(next), randomKeys(r, 200)...)
			for _, k := range old {
				probes = append(probes, k, [4]uint64{k[0], k[1], k[2] + 1<<32, 0})
			}
			for _, k := range probes {
				if (ownMoves(was, lay, chain, k) || coverMoves(was, lay, chain, k)) && !inRanges(dirty, keyLabel(k)) {
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
	got, src, _ := checkChunked(t, old, ch)
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

// relayoutFlat is the reference relayout is held to: it lays out the chain of the view laid out as old, changed by ch
// (sorted by key, one per key): a key old holds keeps its slot, unless
// keys added before it took more free slots than there were; an added key
// takes the first free slot (a hole, or the slot of a removed key) after
// its predecessor; where the free slots run out, the entries after move
// on by one until a free slot takes the shift up. It gives the keys of
// the new layout's slots (holes keyed as their successors) and each
// slot's source: the slot of old whose content it keeps (an entry of
// old not in ch, or a hole of the same key before such an entry's), else
// -1. One pass over old, no list of the chain's keys.
func relayoutFlat(old [][4]uint64, ch []layoutChange) (is [][4]uint64, src []int32) {
	// The added keys (in ch, present, not in old).
	var added [][4]uint64
	for _, c := range ch {
		if c.present && findSlot(len(old), func(i int) [4]uint64 { return old[i] }, c.k) < 0 {
			added = append(added, c.k)
		}
	}
	real := func(i int) bool { return i+1 == len(old) || old[i+1] != old[i] }
	// status reads ch at key k through cursor c (keys asked in order).
	status := func(c *int, k [4]uint64) (removed, changed bool) {
		for *c < len(ch) && keyLess(ch[*c].k, k) {
			*c++
		}
		if *c < len(ch) && ch[*c].k == k {
			return !ch[*c].present, ch[*c].present
		}
		return false, false
	}
	var mainC, nextC int
	stays := func(c *int, i int) bool {
		if !real(i) {
			return false
		}
		removed, _ := status(c, old[i])
		return !removed
	}
	is = make([][4]uint64, 0, len(old)+len(added))
	src = make([]int32, 0, len(old)+len(added))
	out := 0 // the slot the next entry goes to
	emit := func(k [4]uint64, from int32) {
		for len(is) < out {
			is, src = append(is, k), append(src, -1) // a hole before it
		}
		is, src = append(is, k), append(src, from)
		out++
	}
	a, shift, ns := 0, 0, 0
	for i := range old {
		if stays(&mainC, i) {
			// Added keys below it that found no free slot move it on.
			for a < len(added) && keyLess(added[a], old[i]) {
				emit(added[a], -1)
				a, shift = a+1, shift+1
			}
			from := int32(i)
			if _, changed := status(&mainC, old[i]); changed {
				from = -1
			}
			emit(old[i], from)
			continue
		}
		// A free slot: an added key due before the next staying entry
		// takes it, else it takes up a shift, else it stays a hole.
		if ns < i {
			ns = i
		}
		for ns < len(old) && !stays(&nextC, ns) {
			ns++
		}
		if a < len(added) && (ns == len(old) || keyLess(added[a], old[ns])) {
			emit(added[a], -1)
			a++
			continue
		}
		if shift > 0 {
			shift--
			continue
		}
		out++
	}
	for ; a < len(added); a++ {
		emit(added[a], -1)
	}
	for sl := len(is) - 2; sl >= 0; sl-- {
		// A hole where old has a hole of the same key before the source
		// of the slot after it.
		if is[sl] == is[sl+1] && src[sl+1] >= 1 && old[src[sl+1]-1] == is[sl] {
			src[sl] = src[sl+1] - 1
		}
	}
	return is, src
}

// dirtyRangesFlat is the reference dirtyRanges is held to (reading
// every slot of both layouts): the hashes whose own entry or cover a change of a view
// from layout was to layout is may change (chain: the keys of the records
// added, removed or changed): for each dirty key (in chain, or at another
// slot after the change), from it up to the next key that is in both
// layouts at the same slot and unchanged (a key above that is covered by
// that one or one above it, in both); and the hashes below the first
// such key when the last entries (which cover them, wrapping) differ. A
// hash outside them keeps its own entry and cover (chainReach skips it).
func dirtyRangesFlat(was, is [][4]uint64, chain map[[4]uint64]bool) []hashRange {
	changed := make([][4]uint64, 0, len(chain))
	for k := range chain {
		changed = append(changed, k)
	}
	slices.SortFunc(changed, cmpKey)
	// real is the first slot of l at or after i holding an entry (the
	// last of the slots of its key).
	real := func(l [][4]uint64, i int) int {
		for i+1 < len(l) && l[i+1] == l[i] {
			i++
		}
		return i
	}
	top := strings.Repeat("v", NSEC3LabelLen) // above every hash
	var out []hashRange
	open, lo := false, ""
	firstClean, lastDirty := top, false
	// The keys of both layouts in order, each dirty or clean: a range
	// runs from a dirty key to the next clean one.
	visit := func(k [4]uint64, dirty bool) {
		switch {
		case dirty && !open:
			open, lo = true, keyLabel(k)
		case !dirty:
			if open {
				out = append(out, hashRange{lo, keyLabel(k)})
				open = false
			}
			if firstClean == top {
				firstClean = keyLabel(k)
			}
		}
		lastDirty = dirty
	}
	c := 0
	inChain := func(k [4]uint64) bool {
		for c < len(changed) && keyLess(changed[c], k) {
			c++
		}
		return c < len(changed) && changed[c] == k
	}
	i, j := real(was, 0), real(is, 0)
	for i < len(was) || j < len(is) {
		switch {
		case j >= len(is) || i < len(was) && keyLess(was[i], is[j]):
			visit(was[i], true)
			i = real(was, i+1)
		case i >= len(was) || keyLess(is[j], was[i]):
			visit(is[j], true)
			j = real(is, j+1)
		default:
			visit(was[i], i != j || inChain(was[i]))
			i, j = real(was, i+1), real(is, j+1)
		}
	}
	if open {
		out = append(out, hashRange{lo, top})
	}
	// Below the first key the last one covers (wrapping).
	if len(was) > 0 && len(is) > 0 && (was[len(was)-1] != is[len(is)-1] || lastDirty) {
		out = append([]hashRange{{"", firstClean}}, out...)
		// Keep them sorted and apart.
		merged := out[:1]
		for _, r := range out[1:] {
			if last := &merged[len(merged)-1]; last.hi >= r.lo {
				last.hi = max(last.hi, r.hi)
			} else {
				merged = append(merged, r)
			}
		}
		out = merged
	}
	return out
}

// changesOf is the change of a chain to the keys of next (a set) that
// touches the keys of chain: each removed, or present (added or changed).
func changesOf(chain, next map[[4]uint64]bool) []layoutChange {
	ch := make([]layoutChange, 0, len(chain))
	for k := range chain {
		ch = append(ch, layoutChange{k: k, present: next[k]})
	}
	slices.SortFunc(ch, func(a, b layoutChange) int { return cmpKey(a.k, b.k) })
	return ch
}

// checkChunked holds relayout of the layout old by ch to the reference
// relayoutFlat, slot by slot and source by source; outside the regions it
// reports, the slots must be old's (same keys, their own sources), and
// the chunks holding none of them shared with old's. It gives the keys
// and sources, and the regions.
func checkChunked(t *testing.T, old [][4]uint64, ch []layoutChange) ([][4]uint64, []int32, []slotRegion) {
	t.Helper()
	was := newChainLayout(slices.Clone(old))
	lay, runs, fresh, regions := relayout(was, ch)
	got := lay.flat()
	src := make([]int32, len(got))
	for i := range src {
		src[i] = -2
	}
	for _, r := range runs {
		for k := range r.N {
			src[r.To+k] = int32(r.From + k)
		}
	}
	for _, sl := range fresh {
		if src[sl] != -2 {
			t.Fatalf("slot %d both fresh and in a run", sl)
		}
		src[sl] = -1
	}
	wantKeys, wantSrc := relayoutFlat(old, ch)
	if !slices.Equal(got, wantKeys) || !slices.Equal(src, wantSrc) {
		i := 0
		for i < min(len(got), len(wantKeys)) && got[i] == wantKeys[i] && src[i] == wantSrc[i] {
			i++
		}
		lo, hi := max(0, i-3), min(i+4, len(src), len(wantSrc))
		t.Fatalf("relayout in chunks differs from the reference from slot %d of %d (want %d): sources %v, want %v; regions %v",
			i, len(got), len(wantKeys), src[lo:hi], wantSrc[lo:hi], regions)
	}
	in := make([]bool, max(len(got), len(old)))
	last := 0
	for _, r := range regions {
		if r.start < last || r.oldEnd < r.start || r.newEnd < r.start {
			t.Fatalf("regions out of order: %v", regions)
		}
		if (r.oldEnd != r.newEnd) && (r.oldEnd != len(old) || r.newEnd != len(got)) {
			t.Fatalf("region %v ends apart before the end (%d, %d slots)", r, len(old), len(got))
		}
		for i := r.start; i < max(r.oldEnd, r.newEnd); i++ {
			in[i] = true
		}
		last = max(r.oldEnd, r.newEnd)
	}
	for i := range in {
		if !in[i] && (i >= len(got) || i >= len(old) || got[i] != old[i] || src[i] != int32(i)) {
			t.Fatalf("slot %d outside the regions %v is not old's", i, regions)
		}
	}
	size := 1 << was.shift
	for c := range lay.chunks {
		touched := false
		for i := c * size; i < min((c+1)*size, len(in)); i++ {
			touched = touched || in[i]
		}
		if !touched && c < len(was.chunks) && len(lay.chunks[c]) == len(was.chunks[c]) && &lay.chunks[c][0] != &was.chunks[c][0] {
			t.Fatalf("chunk %d holds no slot of the regions %v, yet is a copy", c, regions)
		}
	}
	if !slices.Equal(was.flat(), old) {
		t.Fatal("relayout changed the old layout")
	}
	return got, src, regions
}

// checkDirty lays the change of old by chain (next: the keys after it)
// out with relayout, which must give is, and holds dirtyRanges, which
// reads only its regions, to dirtyRangesFlat, which reads every slot. It
// gives the two layouts and the ranges.
func checkDirty(t *testing.T, old, is [][4]uint64, chain, next map[[4]uint64]bool) (*chainLayout, *chainLayout, []hashRange) {
	t.Helper()
	got, _, regions := checkChunked(t, old, changesOf(chain, next))
	if !slices.Equal(got, is) {
		t.Fatalf("relayout gives %d slots, want %d", len(got), len(is))
	}
	was, lay := newChainLayout(slices.Clone(old)), newChainLayout(slices.Clone(is))
	dirty := dirtyRanges(was, lay, regions, chain)
	if want := dirtyRangesFlat(old, is, chain); !slices.Equal(dirty, want) {
		t.Fatalf("dirty ranges %v, want %v", dirty, want)
	}
	return was, lay, dirty
}

// TestRelayoutChunks changes large layouts by a few keys at a time (a
// TLD's change), in chunks of a few slots: relayout must work through
// the regions around the change only, giving what the reference gives
// and sharing the other chunks; dirtyRanges likewise.
func TestRelayoutChunks(t *testing.T) {
	for _, shift := range []uint8{1, 2, 4} {
		old := layoutChunkShift
		layoutChunkShift = shift
		r := rand.New(rand.NewPCG(uint64(shift), 3))
		keys := randomKeys(r, 2000)
		dz := viewOf(t, keys, nil, 5)
		for step := range 300 {
			layout := dz.Layout()
			set := make(map[[4]uint64]bool, len(keys))
			for _, k := range keys {
				set[k] = true
			}
			chain := make(map[[4]uint64]bool)
			next := maps.Clone(set)
			for range 1 + r.IntN(4) {
				switch k := keys[r.IntN(len(keys))]; r.IntN(3) {
				case 0: // removed
					if len(next) > 2 {
						delete(next, k)
						chain[k] = true
					}
				case 1: // changed in place
					chain[k] = true
				default: // added after it, a burst at times
					for j := range 1 + r.IntN(1+step%7) {
						a := [4]uint64{k[0], k[1], k[2] + uint64(j+1)<<32, 0}
						if !set[a] {
							next[a] = true
							chain[a] = true
						}
					}
				}
			}
			nk := randomSorted(slices.Collect(maps.Keys(next)))
			at := patchLayout(layout, nk)
			dz = viewOf(t, nk, at, uint32(step))
			checkDirty(t, layout, dz.Layout(), chain, next)
			keys = nk
		}
		layoutChunkShift = old
	}
}
