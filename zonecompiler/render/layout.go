package render

import (
	"encoding/binary"
	"slices"
	"sort"
	"strings"

	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// An NSEC3 chain view keeps holes among its entries: a slot with no
// piece whose key is that of the next entry, one before every holeEvery
// entries of a whole compile. The program's search never ends on one
// (it takes the entry before the first key at or above the query's, and
// a hole's key is its successor's), so an entry a change adds takes a
// hole near its place and the entries around keep theirs: the names
// whose cover (NameEntry.Cover, a place in the view) stays are not
// written again (Recompile, relayout).
const holeEvery = 2

// maxLayout bounds a view's slots.
const maxLayout = 1 << 30

// freshLayout is the slot of each of n sorted entries in a view laid out
// anew: a hole, then holeEvery entries, and so on.
func freshLayout(n int) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(i + i/holeEvery + 1)
	}
	return out
}

// layOut moves dz's entries (sorted, unplaced) to the slots at (rising;
// the last entry's slot is the view's last: no hole after it), filling
// the slots between with holes; false when at does not fit.
func (dz *DenialZone) layOut(at []uint32) bool {
	n := len(dz.Entries)
	if len(at) != n || n == 0 || at[n-1] >= maxLayout {
		return false
	}
	out := make([]DenialEntry, at[n-1]+1)
	next := uint32(0)
	for i, s := range at {
		if s < next {
			return false
		}
		for ; next < s; next++ {
			out[next] = DenialEntry{Key: dz.Entries[i].Key} // a hole
		}
		out[s] = dz.Entries[i]
		next = s + 1
	}
	dz.Entries = out
	return true
}

// Layout is the slots of a view by key: an entry's key, or for a hole
// its successor's.
func (dz *DenialZone) Layout() [][4]uint64 {
	if dz.keys != nil {
		return dz.keys
	}
	out := make([][4]uint64, len(dz.Entries))
	for i := range dz.Entries {
		out[i] = dz.Entries[i].Key
	}
	return out
}

// layoutChange is a record of a change of an NSEC3 chain: its key, and
// whether the new chain has it (added or changed) or not (removed).
type layoutChange struct {
	k       [4]uint64
	present bool
}

// relayout lays out the chain of the view laid out as old, changed by ch
// (sorted by key, one per key): a key old holds keeps its slot, unless
// keys added before it took more free slots than there were; an added key
// takes the first free slot (a hole, or the slot of a removed key) after
// its predecessor; where the free slots run out, the entries after move
// on by one until a free slot takes the shift up. It gives the keys of
// the new layout's slots (holes keyed as their successors) and each
// slot's source: the slot of old whose content it keeps (an entry of
// old not in ch, or a hole of the same key before such an entry's), else
// -1. One pass over old, no list of the chain's keys.
func relayout(old [][4]uint64, ch []layoutChange) (is [][4]uint64, src []int32) {
	// The added keys (in ch, present, not in old).
	var added [][4]uint64
	for _, c := range ch {
		if c.present && slotOf(old, c.k) < 0 {
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

// coverIn is the slot of the entry covering key in a view laid out as
// layout, as the program finds it: the one before the first slot whose
// key is not below key, wrapping to the last (never a hole).
func coverIn(layout [][4]uint64, key [4]uint64) int {
	i := sort.Search(len(layout), func(i int) bool { return !keyLess(layout[i], key) })
	if i == 0 {
		return len(layout) - 1
	}
	return i - 1
}

// hashKey is the search key of an NSEC3 hash label (base32hex), false
// when it is not one.
func hashKey(label string) ([4]uint64, bool) {
	var src [NSEC3LabelLen]byte
	var h [20]byte
	if len(label) != NSEC3LabelLen {
		return [4]uint64{}, false
	}
	copy(src[:], label)
	if n, err := b32hex.Decode(h[:], src[:]); err != nil || n != len(h) {
		return [4]uint64{}, false
	}
	return NSEC3Key(h[:]), true
}

// slotOf is the slot of key's entry in layout (the last of the run of
// slots holding key), -1 when it has none.
func slotOf(layout [][4]uint64, key [4]uint64) int {
	return findSlot(len(layout), func(i int) [4]uint64 { return layout[i] }, key)
}

// findSlot is the slot of key's entry among n slots whose keys keyAt
// gives (sorted, holes keyed as their successors): the last slot holding
// key, -1 when none does.
func findSlot(n int, keyAt func(int) [4]uint64, key [4]uint64) int {
	i := sort.Search(n, func(i int) bool { return !keyLess(keyAt(i), key) })
	if i == n || keyAt(i) != key {
		return -1
	}
	for i+1 < n && keyAt(i+1) == key {
		i++ // a hole before it
	}
	return i
}

// hashRange is a closed range of NSEC3 hash labels (base32hex, lower
// case, which sorts as the hashes do).
type hashRange struct{ lo, hi string }

// keyLabel is the hash label of an NSEC3 search key.
func keyLabel(k [4]uint64) string {
	var h [20]byte
	binary.BigEndian.PutUint64(h[:], k[0])
	binary.BigEndian.PutUint64(h[8:], k[1])
	binary.BigEndian.PutUint32(h[16:], uint32(k[2]>>32))
	return b32hex.EncodeToString(h[:])
}

// dirtyRanges are the hashes whose own entry or cover a change of a view
// from layout was to layout is may change (chain: the keys of the records
// added, removed or changed): for each dirty key (in chain, or at another
// slot after the change), from it up to the next key that is in both
// layouts at the same slot and unchanged (a key above that is covered by
// that one or one above it, in both); and the hashes below the first
// such key when the last entries (which cover them, wrapping) differ. A
// hash outside them keeps its own entry and cover (chainReach skips it).
func dirtyRanges(was, is [][4]uint64, chain map[[4]uint64]bool) []hashRange {
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

// inRanges reports whether hash label h lies in one of rs (sorted, apart).
func inRanges(rs []hashRange, h string) bool {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].hi >= h })
	return i < len(rs) && rs[i].lo <= h
}

// ownMoves reports whether key's own entry changes between the view laid
// out as was and as is (chain: the keys of the records added, removed or
// changed): comes, goes, changes or moves to another slot.
func ownMoves(was, is [][4]uint64, chain map[[4]uint64]bool, key [4]uint64) bool {
	return chain[key] || slotOf(was, key) != slotOf(is, key)
}

// coverMoves reports whether the entry covering key changes between the
// view laid out as was and as is: another slot, another record, or the
// record changed.
func coverMoves(was, is [][4]uint64, chain map[[4]uint64]bool, key [4]uint64) bool {
	i, j := coverIn(was, key), coverIn(is, key)
	return i != j || was[i] != is[j] || chain[was[i]] || chain[is[j]]
}

// refView is the live view of NSEC3 zone z, laid out as layout, its chain
// unchanged: the keys of its slots, no pieces (DenialZone.Ref).
func refView(z *zone.Zone, layout [][4]uint64) *DenialZone {
	return &DenialZone{Kind: abi.DenialNSEC3, Salt: z.NSEC3Salt(), probe: denialProbe(z.Origin.Lower), Ref: true,
		Slots: uint32(len(layout)), keys: layout}
}
