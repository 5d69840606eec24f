package zone

import (
	"bytes"
	"slices"
	"time"

	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// index returns the indexes Apply needs, building them on first use for a
// loaded zone: sorting a TLD's names costs about as much as a good part
// of its load, which a zone that never changes should not pay; a version
// made by Apply carries them already.
func (z *Zone) index() *derived {
	l := z.lazy
	l.idxOnce.Do(func() {
		names := sortCanonical(z)
		exps := make([]int64, 0, z.nsigs)
		add := func(n *Node) {
			for s := range n.EachSet {
				for _, rr := range s.Sigs() {
					exps = append(exps, sigExpiration(rr))
				}
			}
		}
		z.nodes.each(add)
		z.nsec3ByKey.each(add)
		slices.Sort(exps)
		l.names, l.exps = chunkedOf(names), chunkedOf(exps)
	})
	return l
}

// sortCanonical lists the names of z in canonical order. Sorting by
// wire.Compare finds the labels of both names at every comparison; a
// sort key per name (canonicalKey), computed once into one buffer (no
// allocation per name: at a million names the garbage collector would
// scan them all, with the zone, several times), sorts several times
// faster.
func sortCanonical(z *Zone) [][]byte {
	type entry struct {
		start, end int
		name       []byte
	}
	entries := make([]entry, 0, z.nodes.n)
	keys := make([]byte, 0, z.nodes.n*24)
	z.nodes.each(func(n *Node) {
		start := len(keys)
		keys = canonicalKey(keys, n.Name.Lower())
		entries = append(entries, entry{start, len(keys), n.Name.Lower()})
	})
	slices.SortFunc(entries, func(a, b entry) int {
		return bytes.Compare(keys[a.start:a.end], keys[b.start:b.end])
	})
	names := make([][]byte, len(entries))
	for i, e := range entries {
		names[i] = e.name
	}
	return names
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

// cmpName orders an index entry against the lower-case wire name key.
func cmpName(key []byte) func([]byte) int {
	return func(e []byte) int { return wire.Compare(e, key) }
}

func cmpInt(key int64) func(int64) int {
	return func(e int64) int {
		switch {
		case e < key:
			return -1
		case e > key:
			return 1
		}
		return 0
	}
}
