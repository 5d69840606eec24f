package zone

import (
	"bytes"

	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// Below calls f with the lower-case name of every node strictly below
// lower (the zone's names in canonical order put a name's descendants
// right after it), in canonical order, until f returns false. It reads
// the name index (built on first use for a loaded zone, kept by Apply),
// so it costs the descendants, not the zone.
func (z *Zone) Below(lower []byte, f func(name []byte) bool) {
	z.index().names.from(cmpName(lower), func(n []byte) bool {
		if bytes.Equal(n, lower) {
			return true
		}
		if !wire.IsSubdomain(n, lower) {
			return false
		}
		return f(n)
	})
}

// HasBelow reports whether some node lies strictly below lower.
func (z *Zone) HasBelow(lower []byte) bool {
	found := false
	z.Below(lower, func([]byte) bool {
		found = true
		return false
	})
	return found
}

// BuildIndex builds the zone's name index now, and in an NSEC3 zone its
// index of names by hash (Apply, Below and HasBelow build them on first
// use otherwise: a second or two at a million names). Safe to call from
// another goroutine while the zone is read.
func (z *Zone) BuildIndex() {
	z.index()
	z.hashIndex()
}
