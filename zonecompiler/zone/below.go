package zone

import (
	"bytes"
)

// Below calls f with the lower-case name of every node strictly below
// lower, in canonical order, until f returns false. It reads the name
// index (built on first use for a loaded zone, kept by Apply), so it
// costs the descendants, not the zone (below the origin: a sort of the
// zone).
func (z *Zone) Below(lower []byte, f func(name []byte) bool) {
	z.below(lower, func(n *Node) bool { return f(n.Name.Lower()) })
}

// HasBelow reports whether some node lies strictly below lower.
func (z *Zone) HasBelow(lower []byte) bool {
	if bytes.Equal(lower, z.Origin.Lower) {
		return z.nodes.n > 1
	}
	found := false
	z.Below(lower, func([]byte) bool {
		found = true
		return false
	})
	return found
}

// BuildIndex builds the zone's name index now, and in an NSEC3 zone its
// index of names by hash (Apply, Below and HasBelow build them on first
// use otherwise: 0.3 s at a million delegations unsigned). Safe to call
// from another goroutine while the zone is read. It reports whether an
// index was built (false when they were, or Apply carried them).
func (z *Zone) BuildIndex() bool {
	before := z.lazy.builds.Load()
	z.index()
	z.hashIndex()
	return z.lazy.builds.Load() != before
}
