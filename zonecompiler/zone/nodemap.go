package zone

import (
	"maps"
	"unsafe"
)

// mapKey is the map key of a node named lower, its own name's bytes
// (never written once a name is made: wire.NewName), not a copy: a TLD
// has a million names.
func mapKey(lower []byte) string { return unsafe.String(unsafe.SliceData(lower), len(lower)) }

// nodeMap maps lower-case wire names to nodes. A zone version made by
// Apply shares base, the big map, with the version it came from, and
// carries in over the names changed since base was built (a nil node: the
// name was deleted). Copying over for each version costs what changed,
// where copying a TLD's million-entry map would cost tens of
// milliseconds; when over grows past a fraction of base the two are
// merged into a new base (flatten), which keeps lookups at one or two map
// probes and bounds the per-version copy. Neither map is ever written
// once the version holding it is published.
type nodeMap struct {
	base map[string]*Node
	over map[string]*Node
	n    int // live names
}

// flattenDiv: over is merged into base when it holds more than
// len(base)/flattenDiv names (and more than flattenMin; a variable for
// the tests).
const flattenDiv = 16

var flattenMin = 1024

func nodeMapOf(m map[string]*Node) nodeMap { return nodeMap{base: m, n: len(m)} }

// get returns the node named by the lower-case wire name, or nil. The
// string conversions in the map indexes do not allocate.
func (m *nodeMap) get(lower []byte) *Node {
	if len(m.over) > 0 {
		if n, ok := m.over[string(lower)]; ok {
			return n
		}
	}
	return m.base[string(lower)]
}

func (m *nodeMap) getString(key string) *Node {
	if len(m.over) > 0 {
		if n, ok := m.over[key]; ok {
			return n
		}
	}
	return m.base[key]
}

// each calls f for every live node, in no particular order.
func (m *nodeMap) each(f func(*Node)) {
	for _, n := range m.over {
		if n != nil {
			f(n)
		}
	}
	for k, n := range m.base {
		if len(m.over) > 0 {
			if _, shadowed := m.over[k]; shadowed {
				continue
			}
		}
		f(n)
	}
}

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
	if len(m.over)+len(changes) > max(flattenMin, len(m.base)/flattenDiv) {
		base := maps.Clone(m.base)
		for _, src := range []map[string]*Node{m.over, changes} {
			for k, n := range src {
				if n == nil {
					delete(base, k)
				} else {
					base[k] = n
				}
			}
		}
		out.base = base
		return out
	}
	// maps.Clone copies the table whole, several times faster than
	// inserting its entries one by one.
	over := maps.Clone(m.over)
	if over == nil {
		over = make(map[string]*Node, len(changes))
	}
	for k, n := range changes {
		if _, inBase := m.base[k]; n == nil && !inBase {
			delete(over, k) // created and deleted again: nothing to shadow
			continue
		}
		over[k] = n
	}
	out.over = over
	return out
}
