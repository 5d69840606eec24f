//go:build linux

package loader

import "math/bits"

// tmplIndex finds the live templates by content hash (liveState): open
// addressing with linear probing over an array of ids (id 0, which no
// template has, marks an empty slot), at most four fifths full, a removed
// key's followers shifted back (no tombstones). An id's hash is not held
// twice: key reads it from the live state's record of the template, which
// holds it for as long as the id is in the index (set after the record is
// written, del before it is cleared). A Go map of a signed TLD's 1.1M
// templates took 56 MB; this takes about 5.5 (hashes beside the ids: 26).
type tmplIndex struct {
	ids []uint32
	key func(id uint32) contentHash
	n   int
}

// newTmplIndex returns an empty index with room for n keys, whose ids'
// hashes key gives.
func newTmplIndex(n int, key func(uint32) contentHash) *tmplIndex {
	size := max(16, n+n/4+1)
	return &tmplIndex{ids: make([]uint32, size), key: key}
}

// home is the slot h's probe starts at (the hash is uniform already).
func (x *tmplIndex) home(h contentHash) int {
	hi, _ := bits.Mul64(h[0], uint64(len(x.ids)))
	return int(hi)
}

// slot is the slot holding h, or the empty slot where it would go.
func (x *tmplIndex) slot(h contentHash) int {
	for i := x.home(h); ; {
		if x.ids[i] == 0 || x.key(x.ids[i]) == h {
			return i
		}
		if i++; i == len(x.ids) {
			i = 0
		}
	}
}

// get returns the id of the template with content h.
func (x *tmplIndex) get(h contentHash) (uint32, bool) {
	i := x.slot(h)
	return x.ids[i], x.ids[i] != 0
}

// set makes id (never 0; key(id) is h) the template of content h.
func (x *tmplIndex) set(h contentHash, id uint32) {
	if id == 0 {
		panic("loader: template id 0 indexed")
	}
	if (x.n+1)*5 > len(x.ids)*4 {
		g := newTmplIndex(len(x.ids)+len(x.ids)/2, x.key)
		for _, v := range x.ids {
			if v != 0 {
				g.set(x.key(v), v)
			}
		}
		*x = *g
	}
	i := x.slot(h)
	if x.ids[i] == 0 {
		x.n++
	}
	x.ids[i] = id
}

// del removes h (nothing when it is not there), moving back the keys
// after it that its slot kept from their homes.
func (x *tmplIndex) del(h contentHash) {
	i := x.slot(h)
	if x.ids[i] == 0 {
		return
	}
	x.n--
	for j := i; ; {
		if j++; j == len(x.ids) {
			j = 0
		}
		if x.ids[j] == 0 {
			break
		}
		// The key at j stays when its home is cyclically in (i, j].
		k := x.home(x.key(x.ids[j]))
		if i <= j && i < k && k <= j || i > j && (i < k || k <= j) {
			continue
		}
		x.ids[i] = x.ids[j]
		i = j
	}
	x.ids[i] = 0
}
