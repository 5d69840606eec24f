package zone

import (
	"slices"
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// index returns the indexes Apply needs, building them on first use for a
// loaded zone: sorting a TLD's names costs about as much as a good part
// of its load, which a zone that never changes should not pay; a version
// made by Apply carries them already.
func (z *Zone) index() *derived {
	l := z.lazy
	l.idxOnce.Do(func() {
		names := make([][]byte, 0, z.nodes.n)
		z.nodes.each(func(n *Node) { names = append(names, n.Name.Lower) })
		slices.SortFunc(names, wire.Compare)
		exps := make([]int64, 0, z.nsigs)
		add := func(n *Node) {
			for _, s := range n.Sets {
				for _, rr := range s.Sigs {
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

// sigExpiration is the expiration of the RRSIG rr in Unix seconds, read
// around the time of this process (RFC 4034 §3.1.5 serial arithmetic: the
// reading changes only if the clock moves by decades).
func sigExpiration(rr *RR) int64 {
	return serialTime(rr.Src.(*dns.RRSIG).Expiration, processStart).Unix()
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
