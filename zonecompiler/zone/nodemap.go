package zone

import (
	"hash/maphash"
	"iter"
	"maps"
	"math/bits"
	"unsafe"
)

// mapKey is the map key of a node named lower, its own name's bytes
// (never written once a name is made: wire.NewName), not a copy: a TLD
// has a million names.
func mapKey(lower []byte) string { return unsafe.String(unsafe.SliceData(lower), len(lower)) }

// nameKey and hashKey are the keys a nodeMap finds nodes by: a zone's
// names by their lower-case wire name, its NSEC3 nodes by their hash
// label.
func nameKey(n *Node) string { return mapKey(n.Name.Lower()) }
func hashKey(n *Node) string { return n.ChainLabel() }

// nodeTable is a set of nodes found by the key each carries (key): open
// addressing with linear probing, a node pointer per slot, filled by a
// zone's builder (set) and never written once the zone is published. A
// TLD's million names cost 18 MB in it, against ~56 in a Go map of key
// string, value and control bytes, written on every restart and held by
// every version.
//
// Beside each slot a tag byte holds seven bits of its key's hash, so that
// a probe reads a node (and its name, two cache misses) only when the
// tags agree: a name not in the table (each new name of a load) is
// found absent from the tags alone.
type nodeTable struct {
	slots []*Node // at most three quarters used (a multiple of nodeTableRound)
	tags  []uint8 // per slot: 0 empty, else tagOf its key's hash
	key   func(*Node) string
	seed  maphash.Seed
	n     int
}

// newNodeTable returns an empty table with room for n nodes: sized to
// them, not to a power of two (a TLD's 1.2M names in 1.6M slots, not
// 2.1M).
func newNodeTable(n int, key func(*Node) string) *nodeTable {
	size := (max(n*4/3+1, 8) + nodeTableRound - 1) / nodeTableRound * nodeTableRound
	return &nodeTable{slots: make([]*Node, size), tags: make([]uint8, size), key: key, seed: maphash.MakeSeed()}
}

// nodeTableRound is what a table's size is a multiple of.
const nodeTableRound = 64

// home is the slot a key that hashes to h is probed from: the high bits
// of h scaled to the table (tagOf takes the low ones).
func (t *nodeTable) home(h uint64) uint64 {
	hi, _ := bits.Mul64(h, uint64(len(t.slots)))
	return hi
}

// tagOf is the tag of a slot whose key hashes to h: never 0 (empty).
func tagOf(h uint64) uint8 { return 0x80 | uint8(h)&0x7f }

// slot is the index of key k's slot in t: the node with that key, or the
// empty slot where it would go; and k's tag.
func (t *nodeTable) slot(k string) (uint64, uint8) {
	h := maphash.String(t.seed, k)
	size, tag := uint64(len(t.slots)), tagOf(h)
	for i := t.home(h); ; {
		switch t.tags[i] {
		case 0:
			return i, tag
		case tag:
			if t.key(t.slots[i]) == k {
				return i, tag
			}
		}
		if i++; i == size {
			i = 0
		}
	}
}

// set puts n in t, in place of the node with its key if there is one,
// growing t when it is three quarters full: a builder's table, before the
// zone holding it is published.
func (t *nodeTable) set(n *Node) {
	if (t.n+1)*4 > len(t.slots)*3 {
		g := newNodeTable(len(t.slots)*3/2, t.key) // twice the slots
		for x := range t.all() {
			g.put(x)
		}
		*t = *g
	}
	t.put(n)
}

// put is set without growing.
func (t *nodeTable) put(n *Node) {
	i, tag := t.slot(t.key(n))
	if t.tags[i] == 0 {
		t.n++
		t.tags[i] = tag
	}
	t.slots[i] = n
}

// get returns the node with key k, or nil.
func (t *nodeTable) get(k string) *Node {
	if t == nil || t.n == 0 {
		return nil
	}
	i, _ := t.slot(k)
	return t.slots[i]
}

// all yields every node of t.
func (t *nodeTable) all() iter.Seq[*Node] {
	return func(yield func(*Node) bool) {
		if t == nil {
			return
		}
		for _, n := range t.slots {
			if n != nil && !yield(n) {
				return
			}
		}
	}
}

// nodeMap maps lower-case wire names (or, for NSEC3 nodes, hash labels)
// to nodes. A zone version made by Apply shares base, the big table, with
// the version it came from, and carries in over the names changed since
// base was built (a nil node: the name was deleted). Copying over for each
// version costs what changed, where copying a TLD's million-entry table
// would cost tens of milliseconds; when over grows past a fraction of base
// the two are merged into a new base (flatten), which keeps lookups at one
// or two probes and bounds the per-version copy. Neither is ever written
// once the version holding it is published.
type nodeMap struct {
	base *nodeTable
	over map[string]*Node
	n    int // live names
}

// flattenDiv: over is merged into base when it holds more than
// base's names / flattenDiv (and more than flattenMin; a variable for
// the tests).
const flattenDiv = 16

var flattenMin = 1024

// nodeMapOf makes table t (no longer written) a nodeMap.
func nodeMapOf(t *nodeTable) nodeMap { return nodeMap{base: t, n: t.n} }

// get returns the node named by the lower-case wire name, or nil. The
// string conversion does not allocate.
func (m *nodeMap) get(lower []byte) *Node { return m.getString(mapKey(lower)) }

func (m *nodeMap) getString(key string) *Node {
	n, _ := m.getSlot(key)
	return n
}

// getSlot is getString with the node's slot in the base (-1: the node
// is the overlay's, or there is none).
func (m *nodeMap) getSlot(key string) (*Node, int) {
	if len(m.over) > 0 {
		if n, ok := m.over[key]; ok {
			return n, -1
		}
	}
	if m.base == nil || m.base.n == 0 {
		return nil, -1
	}
	i, _ := m.base.slot(key)
	if n := m.base.slots[i]; n != nil {
		return n, int(i)
	}
	return nil, -1
}

// eachSlot is each with the node's slot in the base (-1: the overlay's).
func (m *nodeMap) eachSlot(f func(n *Node, slot int)) {
	for _, n := range m.over {
		if n != nil {
			f(n, -1)
		}
	}
	if m.base == nil {
		return
	}
	if len(m.over) == 0 {
		for i, n := range m.base.slots {
			if n != nil {
				f(n, i)
			}
		}
		return
	}
	// The base's slots the overlay shadows, found once by their keys (a
	// version made by Apply changes few names; looking each base node's
	// name up in the overlay cost a string hash per node).
	shadowed := make([]uint64, (len(m.base.slots)+63)/64)
	for k := range m.over {
		if i, _ := m.base.slot(k); m.base.tags[i] != 0 {
			shadowed[i/64] |= 1 << (i % 64)
		}
	}
	for i, n := range m.base.slots {
		if n != nil && shadowed[i/64]&(1<<(i%64)) == 0 {
			f(n, i)
		}
	}
}

// each calls f for every live node, in no particular order.
func (m *nodeMap) each(f func(*Node)) { m.eachSlot(func(n *Node, _ int) { f(n) }) }

// with returns a new map: m with the names of changes set to their nodes
// (nil: removed). m is left as it is.
func (m *nodeMap) with(changes map[string]*Node) nodeMap {
	out := nodeMap{base: m.base, n: m.n}
	for k, n := range changes {
		was := m.getString(k) != nil
		switch {
		case was && n == nil:
			out.n--
		case !was && n != nil:
			out.n++
		}
	}
	if len(m.over)+len(changes) > max(flattenMin, m.base.n/flattenDiv) {
		changed := maps.Clone(m.over)
		if changed == nil {
			changed = make(map[string]*Node, len(changes))
		}
		maps.Copy(changed, changes)
		t := newNodeTable(out.n, m.base.key)
		for n := range m.base.all() {
			if _, ok := changed[t.key(n)]; !ok {
				t.set(n)
			}
		}
		for _, n := range changed {
			if n != nil {
				t.set(n)
			}
		}
		out.base = t
		return out
	}
	// maps.Clone copies the table whole, several times faster than
	// inserting its entries one by one.
	over := maps.Clone(m.over)
	if over == nil {
		over = make(map[string]*Node, len(changes))
	}
	for k, n := range changes {
		if n == nil && m.base.get(k) == nil {
			delete(over, k) // created and deleted again: nothing to shadow
			continue
		}
		over[k] = n
	}
	out.over = over
	return out
}
