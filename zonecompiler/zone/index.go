package zone

import (
	"bytes"
	"slices"
	"time"

	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// index returns the indexes Apply needs, building them on first use for a
// loaded zone (the daemon builds them in the background after a load); a
// version made by Apply carries them already.
//
// The name index holds the names two or more labels below the origin
// (deep), not the origin's children: what it is asked for is the names
// below a name, and only the origin has its children below it. A TLD's
// million delegations stay out of it (its glue's names are in it): 8
// bytes a deep name, built in a quarter of the time of a sort of them all.
func (z *Zone) index() *derived {
	l := z.lazy
	l.idxOnce.Do(func() {
		l.builds.Add(1)
		names := sortCanonical(z, z.deep)
		counts := map[int64]int{}
		add := func(n *Node) {
			for s := range n.EachSet {
				for _, rr := range s.Sigs() {
					counts[sigExpiration(rr)]++
				}
			}
		}
		z.nodes.each(add)
		z.nsec3ByKey.each(add)
		exps := make([]expCount, 0, len(counts))
		for exp, n := range counts {
			exps = append(exps, expCount{exp, n})
		}
		slices.SortFunc(exps, func(a, b expCount) int { return cmpExp(b.exp)(a) })
		l.names, l.exps = chunkedOf(names), chunkedOf(exps)
	})
	return l
}

// deep reports whether the lower-case name lower of z lies two or more
// labels below its origin: a name the name index holds.
func (z *Zone) deep(lower []byte) bool {
	origin := len(z.Origin.Lower)
	return len(lower) > origin && len(wire.Parent(lower)) > origin
}

// below calls f for the nodes of z strictly below the lower-case name
// lower, in canonical order, until f returns false. Below a name other
// than the origin they are deep names, read from the name index; below
// the origin (every name: a DNAME at the apex) they are sorted now.
func (z *Zone) below(lower []byte, f func(*Node) bool) {
	switch {
	case !wire.IsSubdomain(lower, z.Origin.Lower):
		return
	case len(lower) == len(z.Origin.Lower):
		for _, n := range sortCanonical(z, func(l []byte) bool { return len(l) > len(lower) }) {
			if !f(n) {
				return
			}
		}
		return
	}
	z.index().names.from(cmpNode(lower), func(n *Node) bool {
		name := n.Name.Lower()
		if len(name) == len(lower) {
			return true // lower itself
		}
		return wire.IsSubdomain(name, lower) && f(n)
	})
}

// sortCanonical lists the nodes of z whose lower-case name keep accepts,
// in canonical order. Sorting by wire.Compare finds the labels of both
// names at every comparison; a sort key per name (canonicalKey, the
// origin's labels, which every name shares, left out), computed once
// into one buffer (no allocation per name: at a million names the
// garbage collector would scan them all, with the zone, several times),
// sorts several times faster.
func sortCanonical(z *Zone, keep func(lower []byte) bool) []*Node {
	type entry struct {
		start, end int
		n          *Node
	}
	var entries []entry
	var keys []byte
	origin := len(z.Origin.Lower)
	z.nodes.each(func(n *Node) {
		w := n.Name.Lower()
		if !keep(w) {
			return
		}
		start := len(keys)
		keys = canonicalKey(keys, w[:len(w)-origin])
		entries = append(entries, entry{start, len(keys), n})
	})
	slices.SortFunc(entries, func(a, b entry) int {
		return bytes.Compare(keys[a.start:a.end], keys[b.start:b.end])
	})
	nodes := make([]*Node, len(entries))
	for i, e := range entries {
		nodes[i] = e.n
	}
	return nodes
}

// canonicalKey appends to dst a key for the lower-case wire name w whose
// byte order is the canonical order of names (RFC 4034 §6.1): the labels
// from the right, each ended by 0x00, with the bytes 0x00 and 0x01 of a
// label written 0x01 0x01 and 0x01 0x02 so that a label's end sorts
// before any byte that could continue it.
func canonicalKey(dst, w []byte) []byte {
	var offs [wire.MaxLabels]int
	n := 0
	for i := 0; i < len(w) && w[i] != 0 && n < wire.MaxLabels; i += int(w[i]) + 1 {
		offs[n] = i
		n++
	}
	for n > 0 {
		n--
		o := offs[n]
		for _, c := range w[o+1 : o+1+int(w[o])] {
			if c <= 1 {
				dst = append(dst, 1, c+1)
				continue
			}
			dst = append(dst, c)
		}
		dst = append(dst, 0)
	}
	return dst
}

// sigExpiration is the expiration of the RRSIG rr in Unix seconds, read
// around the time of this process (RFC 4034 §3.1.5 serial arithmetic: the
// reading changes only if the clock moves by decades).
func sigExpiration(rr *RR) int64 {
	return serialTime(sigExpirationField(rr), processStart).Unix()
}

// processStart anchors the reading of RRSIG times in the index.
var processStart = time.Now()

// cmpNode orders an index entry against the lower-case wire name key.
func cmpNode(key []byte) func(*Node) int {
	return func(n *Node) int { return wire.Compare(n.Name.Lower(), key) }
}

// expCount is an entry of the index of RRSIG expirations: an expiration
// (Unix seconds) and how many RRSIGs of the zone have it. A signer gives
// a zone's signatures a few expirations (one per signing run, or spread
// over its jitter window), so the index holds far fewer entries than the
// zone holds RRSIGs.
type expCount struct {
	exp int64
	n   int
}

func cmpExp(key int64) func(expCount) int {
	return func(e expCount) int {
		switch {
		case e.exp < key:
			return -1
		case e.exp > key:
			return 1
		}
		return 0
	}
}

// countExp adds d (±1) to the RRSIGs counted at expiration exp.
func countExp(e *listEdit[expCount], exp int64, d int) {
	cmp := cmpExp(exp)
	ci, i, found := e.c.search(cmp)
	switch {
	case !found && d > 0:
		e.put(cmp, expCount{exp, d}, false)
	case found:
		ch := e.own(ci)
		if ch[i].n += d; ch[i].n <= 0 {
			e.del(cmp)
		}
	}
}
