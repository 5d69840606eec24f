package zone

import "slices"

// recordMarks marks the records of a served zone version that a reload's
// file holds (ReloadFile), in about a byte per node instead of a set of
// record pointers (a TLD's set of millions held tens of MB through the
// reload, and cost a second to fill): a node in a table's base has a byte
// in that table's slot, a bit for each of its first eight records in
// Records' order; the records of the other nodes (a version's overlay)
// and a node's ninth on are in other.
type recordMarks struct {
	nodes, nsec3 []uint8
	other        map[*RR]struct{}
}

// marksPerSlot is how many records of a node a slot's byte marks.
const marksPerSlot = 8

func newRecordMarks(z *Zone) *recordMarks {
	slots := func(m *nodeMap) []uint8 {
		if m.base == nil {
			return nil
		}
		return make([]uint8, len(m.base.slots))
	}
	return &recordMarks{nodes: slots(&z.nodes), nsec3: slots(&z.nsec3ByKey), other: map[*RR]struct{}{}}
}

// mark marks record rr, the ord'th of its node (Records' order), which is
// in slot of its table (nsec3: the NSEC3 one; slot < 0: not in its base).
func (m *recordMarks) mark(rr *RR, nsec3 bool, slot, ord int) {
	if slot < 0 || ord >= marksPerSlot {
		m.other[rr] = struct{}{}
		return
	}
	m.table(nsec3)[slot] |= 1 << ord
}

// marked reports whether rr (as mark's arguments) was marked.
func (m *recordMarks) marked(rr *RR, nsec3 bool, slot, ord int) bool {
	if slot < 0 || ord >= marksPerSlot {
		_, ok := m.other[rr]
		return ok
	}
	return m.table(nsec3)[slot]&(1<<ord) != 0
}

func (m *recordMarks) table(nsec3 bool) []uint8 {
	if nsec3 {
		return m.nsec3
	}
	return m.nodes
}

// unmarked yields the records of z that were not marked.
func (m *recordMarks) unmarked(z *Zone, yield func(*RR) bool) {
	for _, t := range []struct {
		nodes *nodeMap
		nsec3 bool
	}{{&z.nodes, false}, {&z.nsec3ByKey, true}} {
		more := true
		t.nodes.eachSlot(func(n *Node, slot int) {
			ord := 0
			for s := range n.EachSet {
				for _, rr := range s.all() {
					if more && !m.marked(rr, t.nsec3, slot, ord) {
						more = yield(rr)
					}
					ord++
				}
			}
		})
		if !more {
			return
		}
	}
}

// ordinal is the place of record old among its node's records, in
// Records' order.
func ordinal(n *Node, old *RR) int {
	ord := 0
	for s := range n.EachSet {
		recs := s.all()
		if i := slices.Index(recs, old); i >= 0 {
			return ord + i
		}
		ord += len(recs)
	}
	return -1
}
