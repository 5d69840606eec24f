package zone

import "bytes"

// ChangedNames lists the lower-case wire names whose node differs between
// two versions of a zone: created, deleted, or with other flags, RRsets,
// TTLs, RDATA or signatures (the NSEC3 chain's owners included). Records
// compare by what the engine writes (owners in their case, as answers
// carry it; the records of an RRset in their order, as answers list
// them): moving names around in the file is no change.
func ChangedNames(a, b *Zone) [][]byte {
	var out [][]byte
	// diff lists the nodes of x missing from y (find: y's node for one of
	// x's) or, with both, different there.
	diff := func(x *nodeMap, find func(*Node) *Node, both bool) {
		x.each(func(n *Node) {
			m := find(n)
			switch {
			case m == nil:
				out = append(out, n.Name.Lower())
			case both && (!sameNode(n, m) || a.NSEC3Hash(n) != b.NSEC3Hash(m)):
				out = append(out, n.Name.Lower())
			}
		})
	}
	diff(&a.nodes, func(n *Node) *Node { return b.nodes.get(n.Name.Lower()) }, true)
	diff(&b.nodes, func(n *Node) *Node { return a.nodes.get(n.Name.Lower()) }, false)
	diff(&a.nsec3ByKey, func(n *Node) *Node { return b.nsec3ByKey.getString(n.ChainLabel()) }, true)
	diff(&b.nsec3ByKey, func(n *Node) *Node { return a.nsec3ByKey.getString(n.ChainLabel()) }, false)
	return out
}

// sameNode reports whether two versions of a name hold the same data.
func sameNode(a, b *Node) bool {
	if a == b {
		return true
	}
	if a.Flags != b.Flags || len(a.Sets()) != len(b.Sets()) || !bytes.Equal(a.Name.Wire(), b.Name.Wire()) {
		return false
	}
	for i, s := range a.Sets() {
		t := b.Sets()[i]
		if s.Type != t.Type || s.TTL != t.TTL || !sameRRs(s.RRs(), t.RRs()) || !sameRRs(s.Sigs(), t.Sigs()) {
			return false
		}
	}
	return true
}

func sameRRs(a, b []*RR) bool {
	if len(a) != len(b) {
		return false
	}
	for i, r := range a {
		s := b[i]
		if r.Type != s.Type || r.class != s.class || r.TTL != s.TTL || !bytes.Equal(r.RData(), s.RData()) ||
			!bytes.Equal(r.Owner.Wire(), s.Owner.Wire()) {
			return false
		}
	}
	return true
}
