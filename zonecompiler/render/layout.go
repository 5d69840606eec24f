package render

import (
	"encoding/binary"
	"sort"

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
		return dz.keys.flat()
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

// coverIn is the slot of the entry covering key in a view laid out as
// layout, as the program finds it: the one before the first slot whose
// key is not below key, wrapping to the last (never a hole).
func coverIn(layout *chainLayout, key [4]uint64) int {
	i := layout.search(key)
	if i == 0 {
		return layout.Len() - 1
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
func slotOf(layout *chainLayout, key [4]uint64) int {
	return findSlot(layout.Len(), layout.At, key)
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

// inRanges reports whether hash label h lies in one of rs (sorted, apart).
func inRanges(rs []hashRange, h string) bool {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].hi >= h })
	return i < len(rs) && rs[i].lo <= h
}

// ownMoves reports whether key's own entry changes between the view laid
// out as was and as is (chain: the keys of the records added, removed or
// changed): comes, goes, changes or moves to another slot.
func ownMoves(was, is *chainLayout, chain map[[4]uint64]bool, key [4]uint64) bool {
	return chain[key] || slotOf(was, key) != slotOf(is, key)
}

// coverMoves reports whether the entry covering key changes between the
// view laid out as was and as is: another slot, another record, or the
// record changed.
func coverMoves(was, is *chainLayout, chain map[[4]uint64]bool, key [4]uint64) bool {
	i, j := coverIn(was, key), coverIn(is, key)
	return i != j || was.At(i) != is.At(j) || chain[was.At(i)] || chain[is.At(j)]
}

// refView is the live view of NSEC3 zone z, laid out as layout, its chain
// unchanged: the keys of its slots, no pieces (DenialZone.Ref).
func refView(z *zone.Zone, layout *chainLayout) *DenialZone {
	return &DenialZone{Kind: abi.DenialNSEC3, Salt: z.NSEC3Salt(), probe: denialProbe(z.Origin.Lower), Ref: true,
		Slots: uint32(layout.Len()), keys: layout}
}
