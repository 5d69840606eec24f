package render

import (
	"slices"
	"sort"
	"strings"
)

// layoutChunkShift makes the chunks of a chain layout 1<<layoutChunkShift
// slots (a variable so that a test can make them small).
var layoutChunkShift uint8 = 9

// chainLayout is the slots of an NSEC3 chain view by key (an entry's key,
// or for a hole its successor's: DenialZone.Layout), in chunks of equal
// size (the last shorter) that the layouts of a zone's versions share: a
// change copies the chunks holding slots it changes (relayout), so that
// it allocates in proportion to the change, not to the chain. Never
// modified once made; nil is the empty layout.
type chainLayout struct {
	chunks [][][4]uint64 // each full to its capacity but the last
	n      int
	shift  uint8
}

// newChainLayout is the layout of keys (which it keeps: not to be
// modified after).
func newChainLayout(keys [][4]uint64) *chainLayout {
	l := &chainLayout{n: len(keys), shift: layoutChunkShift}
	size := 1 << l.shift
	for i := 0; i < len(keys); i += size {
		end := min(i+size, len(keys))
		l.chunks = append(l.chunks, keys[i:end:end])
	}
	return l
}

// Len is how many slots l has.
func (l *chainLayout) Len() int {
	if l == nil {
		return 0
	}
	return l.n
}

// At is the key of slot i.
func (l *chainLayout) At(i int) [4]uint64 {
	return l.chunks[i>>l.shift][i&(1<<l.shift-1)]
}

// search is the first slot whose key is not below k (Len when none).
func (l *chainLayout) search(k [4]uint64) int {
	if l.Len() == 0 {
		return 0
	}
	c := sort.Search(len(l.chunks), func(c int) bool {
		ch := l.chunks[c]
		return !keyLess(ch[len(ch)-1], k)
	})
	if c == len(l.chunks) {
		return l.n
	}
	ch := l.chunks[c]
	return c<<l.shift + sort.Search(len(ch), func(i int) bool { return !keyLess(ch[i], k) })
}

// flat is every slot's key in one slice.
func (l *chainLayout) flat() [][4]uint64 {
	out := make([][4]uint64, 0, l.Len())
	if l != nil {
		for _, ch := range l.chunks {
			out = append(out, ch...)
		}
	}
	return out
}

// slotRegion is a run of slots a relayout changed: from start to oldEnd
// in the old layout, to newEnd in the new (both the same but at the end
// of the layout); outside them the two hold the same keys at the same
// slots, the same content (a relayout moves keys only within a region).
type slotRegion struct{ start, oldEnd, newEnd int }

// layoutBuilder makes a relayout's layout: chunks of the old one shared
// where whole, the others copied or filled; and the patch's runs (slots
// that take the old layout's content) and fresh slots.
type layoutBuilder struct {
	old   *chainLayout
	out   *chainLayout
	runs  []PatchRun
	fresh []uint32
}

// source records that slot takes old slots from on (n of them), or for
// from -1 (n 1) nothing.
func (b *layoutBuilder) source(slot uint32, from int32, n uint32) {
	if from < 0 {
		b.fresh = append(b.fresh, slot)
		return
	}
	if r := len(b.runs) - 1; r >= 0 && b.runs[r].To+b.runs[r].N == slot && b.runs[r].From+b.runs[r].N == uint32(from) {
		b.runs[r].N += n
		return
	}
	b.runs = append(b.runs, PatchRun{To: slot, From: uint32(from), N: n})
}

// room is the chunk the next slot goes to, made when the last is full.
func (b *layoutBuilder) room() *[][4]uint64 {
	if b.out.n&(1<<b.out.shift-1) == 0 {
		b.out.chunks = append(b.out.chunks, make([][4]uint64, 0, 1<<b.out.shift))
	}
	return &b.out.chunks[len(b.out.chunks)-1]
}

// put gives the next slot key k, from old slot from (-1: none).
func (b *layoutBuilder) put(k [4]uint64, from int32) {
	c := b.room()
	*c = append(*c, k)
	b.source(uint32(b.out.n), from, 1)
	b.out.n++
}

// copyFrom gives the next slots those of old from from to to, the next
// slot being from (the same place): whole chunks shared.
func (b *layoutBuilder) copyFrom(from, to int) {
	if from >= to {
		return
	}
	b.source(uint32(b.out.n), int32(from), uint32(to-from))
	size, mask := 1<<b.old.shift, 1<<b.old.shift-1
	for from < to {
		oc := b.old.chunks[from>>b.old.shift]
		if from&mask == 0 && from+len(oc) <= to && b.out.n&mask == 0 {
			// (Capacity cut to its length: a chunk shared is never
			// appended to in place.)
			b.out.chunks = append(b.out.chunks, oc[:len(oc):len(oc)])
			b.out.n += len(oc)
			from += len(oc)
			continue
		}
		off := from & mask
		m := min(to-from, len(oc)-off, size-b.out.n&mask)
		c := b.room()
		*c = append(*c, oc[off:off+m]...)
		b.out.n += m
		from += m
	}
}

// relayout lays out the chain of the view laid out as old, changed by ch
// (sorted by key, one per key): a key old holds keeps its slot, unless
// keys added before it took more free slots than there were; an added key
// takes the first free slot (a hole, or the slot of a removed key) after
// its predecessor; where the free slots run out, the entries after move
// on by one until a free slot takes the shift up. It gives the new
// layout (sharing old's chunks where no slot changed), the runs of its
// slots that take the content of old's (an entry of old not in ch, or a
// hole of the same key before such an entry's), the slots that take none
// (ascending), and the regions of slots that changed. It works through
// the regions around ch's keys only: between them, a shift taken up, the
// slots are old's.
func relayout(old *chainLayout, ch []layoutChange) (lay *chainLayout, runs []PatchRun, fresh []uint32, regions []slotRegion) {
	n := old.Len()
	// The added keys (in ch, present, not in old) and the first slot
	// each may take (of the next key or above: a hole before it is its);
	// the slots each of ch's keys may change: from the first of its key
	// or above to its entry's (an added key's: that first; it is placed
	// by the next staying entry at the latest, while added counts it).
	var added [][4]uint64
	var addedAt []int
	type event struct{ start, end int }
	events := make([]event, len(ch))
	for i, c := range ch {
		s := old.search(c.k)
		events[i] = event{s, s}
		if s == n || old.At(s) != c.k {
			if c.present {
				added, addedAt = append(added, c.k), append(addedAt, s)
			}
			continue
		}
		for events[i].end+1 < n && old.At(events[i].end+1) == c.k {
			events[i].end++
		}
	}
	real := func(i int) bool { return i+1 == n || old.At(i+1) != old.At(i) }
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
		removed, _ := status(c, old.At(i))
		return !removed
	}
	b := &layoutBuilder{old: old, out: &chainLayout{shift: old.shift}}
	// The region being laid out: from slot rstart, its keys and sources
	// (holes among them keyed when the entry after them is placed).
	rstart := -1
	var rk [][4]uint64
	var rs []int32
	out := 0 // the slot the next entry goes to
	emit := func(k [4]uint64, from int32) {
		for rstart+len(rk) < out {
			rk, rs = append(rk, k), append(rs, -1) // a hole before it
		}
		rk, rs = append(rk, k), append(rs, from)
		out++
	}
	// flush places the region, next the old slot after it (-1: none).
	flush := func(oldEnd int, next int) {
		for sl := len(rk) - 1; sl >= 0; sl-- {
			// A hole where old has a hole of the same key before the
			// source of the slot after it.
			nk, ns := [4]uint64{}, int32(-1)
			if sl+1 < len(rk) {
				nk, ns = rk[sl+1], rs[sl+1]
			} else if next >= 0 {
				nk, ns = old.At(next), int32(next)
			}
			if ns >= 1 && rk[sl] == nk && old.At(int(ns-1)) == rk[sl] {
				rs[sl] = ns - 1
			}
		}
		for j := range rk {
			b.put(rk[j], rs[j])
		}
		regions = append(regions, slotRegion{start: rstart, oldEnd: oldEnd, newEnd: rstart + len(rk)})
		rstart, rk, rs = -1, rk[:0], rs[:0]
	}
	a, shift, ns, ev := 0, 0, 0, 0
	for i := 0; i < n; {
		if shift == 0 && (rstart < 0 || rstart+len(rk) == out) {
			// Taken up (out is i again): old's slots up to the next
			// key of ch.
			for ev < len(events) && events[ev].end < i {
				ev++
			}
			next := n
			if ev < len(events) {
				next = events[ev].start
			}
			if a < len(added) {
				next = min(next, addedAt[a])
			}
			if next > i {
				if rstart >= 0 {
					flush(i, i)
				}
				b.copyFrom(i, next)
				i, out = next, next
				continue
			}
		}
		if rstart < 0 {
			rstart = out
		}
		if stays(&mainC, i) {
			// Added keys below it that found no free slot move it on.
			for a < len(added) && keyLess(added[a], old.At(i)) {
				emit(added[a], -1)
				a, shift = a+1, shift+1
			}
			from := int32(i)
			if _, changed := status(&mainC, old.At(i)); changed {
				from = -1
			}
			emit(old.At(i), from)
			i++
			continue
		}
		// A free slot: an added key due before the next staying entry
		// takes it, else it takes up a shift, else it stays a hole.
		if ns < i {
			ns = i
		}
		for ns < n && !stays(&nextC, ns) {
			ns++
		}
		switch {
		case a < len(added) && (ns == n || keyLess(added[a], old.At(ns))):
			emit(added[a], -1)
			a++
		case shift > 0:
			shift--
		default:
			out++
		}
		i++
	}
	if a < len(added) && rstart < 0 {
		rstart = out
	}
	for ; a < len(added); a++ {
		emit(added[a], -1)
	}
	if rstart >= 0 {
		flush(n, -1)
	}
	return b.out, b.runs, b.fresh, regions
}

// dirtyRanges are the hashes whose own entry or cover a change of a view
// from layout was to layout is (regions: the slots it changed, relayout)
// may change (chain: the keys of the records added, removed or changed):
// for each dirty key (in chain, or at another slot after the change),
// from it up to the next key that is in both layouts at the same slot and
// unchanged (a key above that is covered by that one or one above it, in
// both); and the hashes below the first such key when the last entries
// (which cover them, wrapping) differ. A hash outside them keeps its own
// entry and cover (chainReach skips it). Outside the regions every key is
// such a one: only the regions are read.
func dirtyRanges(was, is *chainLayout, regions []slotRegion, chain map[[4]uint64]bool) []hashRange {
	changed := make([][4]uint64, 0, len(chain))
	for k := range chain {
		changed = append(changed, k)
	}
	slices.SortFunc(changed, cmpKey)
	// realIn is the first slot of l at or after i holding an entry (the
	// last of the slots of its key).
	realIn := func(l *chainLayout, i int) int {
		for i+1 < l.Len() && l.At(i+1) == l.At(i) {
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
	if was.Len() > 0 && (len(regions) == 0 || regions[0].start > 0) {
		visit(was.At(realIn(was, 0)), false) // the first key, before any region
	}
	for _, r := range regions {
		i, j := realIn(was, r.start), realIn(is, r.start)
		for i < r.oldEnd || j < r.newEnd {
			switch {
			case j >= r.newEnd || i < r.oldEnd && keyLess(was.At(i), is.At(j)):
				visit(was.At(i), true)
				i = realIn(was, i+1)
			case i >= r.oldEnd || keyLess(is.At(j), was.At(i)):
				visit(is.At(j), true)
				j = realIn(is, j+1)
			default:
				visit(was.At(i), i != j || inChain(was.At(i)))
				i, j = realIn(was, i+1), realIn(is, j+1)
			}
		}
		if i < was.Len() {
			// The key after the region: the same at the same slot in
			// both (i is j), not in chain.
			visit(was.At(i), false)
		}
	}
	if open {
		out = append(out, hashRange{lo, top})
	}
	// Below the first key the last one covers (wrapping).
	if was.Len() > 0 && is.Len() > 0 && (was.At(was.Len()-1) != is.At(is.Len()-1) || lastDirty) {
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
