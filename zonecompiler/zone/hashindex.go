package zone

import (
	"bytes"
	"slices"
	"strings"

	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// An NSEC3-signed zone's names by NSEC3 hash, for finding the answers a
// change of the chain reaches (the names whose own hash, or whose
// wildcard's, lies where entries of the chain moved) without visiting a
// TLD's million names. Built with the name index (BuildIndex: the
// daemon's, after a load; else on first use) and carried by Apply from
// one version to the next like the chains.

// hashIndex is the index: two sorted lists. own holds the nodes by
// their own hash, then name (a node and nothing else: the label is read
// from the zone's store, 8 bytes an entry for a TLD's million names);
// others the entries with a label of their own (hashRef: a wildcard's
// hash) and the nodes every search returns.
type hashIndex struct {
	own    chunked[*Node]
	others chunked[hashRef]
}

// hashRef is an entry of others: a hash label (lower-case base32hex)
// and the node the hash of whose wildcard it is; key "" for a node every
// search returns (a CNAME, a name without a hash or whose wildcard has
// none).
type hashRef struct {
	key string
	n   *Node
}

// cmpHashRef orders an entry of others against the key and name sought.
func cmpHashRef(key string, name []byte) func(hashRef) int {
	return func(r hashRef) int {
		if c := strings.Compare(r.key, key); c != 0 {
			return c
		}
		return bytes.Compare(r.n.Name.Lower(), name)
	}
}

// cmpOwn orders an entry of own against the key and name sought.
func (z *Zone) cmpOwn(key string, name []byte) func(*Node) int {
	return func(n *Node) int {
		if c := strings.Compare(z.NSEC3Hash(n), key); c != 0 {
			return c
		}
		return bytes.Compare(n.Name.Lower(), name)
	}
}

// hashRefs says whether node n of z has an entry in own (its hash), and
// appends its entries in others: none below a cut; its wildcard's hash
// when it is not a delegation; "" when a search returns it always.
func (z *Zone) hashRefs(dst []hashRef, n *Node) (bool, []hashRef) {
	if n.Has(FlagBelowCut) {
		return false, dst
	}
	own := len(z.NSEC3Hash(n)) == len(HashLabel{})
	always := n.Has(FlagCNAME) || !own
	if !n.Has(FlagDelegation) {
		if w := z.HashName(wire.Wildcard(n.Name.Lower())); w != "" {
			dst = append(dst, hashRef{w, n})
		} else {
			always = true
		}
	}
	if always {
		dst = append(dst, hashRef{"", n})
	}
	return own, dst
}

// hashIndex is z's index of names by hash (nil without NSEC3).
func (z *Zone) hashIndex() *hashIndex {
	if z.NSEC3 == nil {
		return nil
	}
	l := z.lazy
	l.hashOnce.Do(func() {
		if l.hashes.Load() != nil {
			return // carried by Apply
		}
		l.builds.Add(1)
		own := make([]*Node, 0, z.nodes.n)
		var others []hashRef
		z.nodes.each(func(n *Node) {
			var has bool
			if has, others = z.hashRefs(others, n); has {
				own = append(own, n)
			}
		})
		slices.SortFunc(own, func(a, b *Node) int { return z.cmpOwn(z.NSEC3Hash(b), b.Name.Lower())(a) })
		slices.SortFunc(others, func(a, b hashRef) int { return cmpHashRef(b.key, b.n.Name.Lower())(a) })
		l.hashes.Store(&hashIndex{own: chunkedOf(own), others: chunkedOf(slices.Clip(others))})
	})
	return l.hashes.Load()
}

// NamesByHash calls f for the nodes of NSEC3 zone z whose hash, or (not a
// delegation) whose wildcard's hash, lies in each of ranges ([lo, hi]
// pairs of hash labels, lower-case base32hex), and for those every search
// returns (a CNAME, a name without a hash); a node may come more than
// once. False when z has no NSEC3 chain.
func (z *Zone) NamesByHash(ranges [][2]string, f func(*Node)) bool {
	idx := z.hashIndex()
	if idx == nil {
		return false
	}
	for _, r := range append([][2]string{{"", ""}}, ranges...) {
		idx.others.from(func(h hashRef) int { return strings.Compare(h.key, r[0]) }, func(h hashRef) bool {
			if h.key > r[1] {
				return false
			}
			f(h.n)
			return true
		})
		idx.own.from(func(n *Node) int { return strings.Compare(z.NSEC3Hash(n), r[0]) }, func(n *Node) bool {
			if z.NSEC3Hash(n) > r[1] {
				return false
			}
			f(n)
			return true
		})
	}
	return true
}

// carryHashIndex gives the new version the old one's index of names by
// hash changed as the nodes changed, when the old one has it built and
// the hashes are the same.
func (a *applier) carryHashIndex() {
	z, nz := a.old, a.nz
	old := z.lazy.hashes.Load()
	if old == nil || z.NSEC3 == nil || nz.NSEC3 == nil || *z.NSEC3 != *nz.NSEC3 || !bytes.Equal(z.nsec3Salt, nz.nsec3Salt) {
		return
	}
	own, others := old.own.edit(), old.others.edit()
	var refs []hashRef
	for key, n := range a.work {
		if o := z.nodes.getString(key); o != nil {
			var has bool
			if has, refs = z.hashRefs(refs[:0], o); has {
				own.del(z.cmpOwn(z.NSEC3Hash(o), o.Name.Lower()))
			}
			for _, r := range refs {
				others.del(cmpHashRef(r.key, r.n.Name.Lower()))
			}
		}
		if n != nil {
			var has bool
			if has, refs = nz.hashRefs(refs[:0], n); has {
				own.put(nz.cmpOwn(nz.NSEC3Hash(n), n.Name.Lower()), n, true)
			}
			for _, r := range refs {
				others.put(cmpHashRef(r.key, r.n.Name.Lower()), r, true)
			}
		}
	}
	nz.lazy.hashes.Store(&hashIndex{own: own.done(), others: others.done()})
}
