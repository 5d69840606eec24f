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
// TLD's million names. Built on first use, or with the name index at a
// version's first Apply, and carried by Apply from one version to the
// next like the chains.

// hashRef is an entry of the index: a hash label (lower-case base32hex)
// and the node it is the hash of, or the hash of whose wildcard it is;
// key "" for a node every search returns (a CNAME, a name without a hash
// or whose wildcard has none).
type hashRef struct {
	key string
	n   *Node
}

// cmpHashRef orders an entry against the key and name sought.
func cmpHashRef(key string, name []byte) func(hashRef) int {
	return func(r hashRef) int {
		if c := strings.Compare(r.key, key); c != 0 {
			return c
		}
		return bytes.Compare(r.n.Name.Lower(), name)
	}
}

// hashRefs appends the entries of node n of z: none below a cut; its
// hash; its wildcard's when it is not a delegation.
func (z *Zone) hashRefs(dst []hashRef, n *Node) []hashRef {
	if n.Has(FlagBelowCut) {
		return dst
	}
	h := z.NSEC3Hash(n)
	always := n.Has(FlagCNAME) || len(h) != len(HashLabel{})
	if len(h) == len(HashLabel{}) {
		dst = append(dst, hashRef{h, n})
	}
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
	return dst
}

// hashIndex is z's index of names by hash (nil without NSEC3).
func (z *Zone) hashIndex() *chunked[hashRef] {
	if z.NSEC3 == nil {
		return nil
	}
	l := z.lazy
	l.hashOnce.Do(func() {
		if l.hashes.Load() != nil {
			return // carried by Apply
		}
		refs := make([]hashRef, 0, z.nodes.n+z.nodes.n/16)
		z.nodes.each(func(n *Node) { refs = z.hashRefs(refs, n) })
		slices.SortFunc(refs, func(a, b hashRef) int { return cmpHashRef(b.key, b.n.Name.Lower())(a) })
		c := chunkedOf(refs)
		l.hashes.Store(&c)
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
		idx.from(func(h hashRef) int { return strings.Compare(h.key, r[0]) }, func(h hashRef) bool {
			if h.key > r[1] {
				return false
			}
			f(h.n)
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
	e := old.edit()
	var refs []hashRef
	for key, n := range a.work {
		if o := z.nodes.getString(key); o != nil {
			for _, r := range z.hashRefs(refs[:0], o) {
				e.del(cmpHashRef(r.key, r.n.Name.Lower()))
			}
		}
		if n != nil {
			refs = nz.hashRefs(refs[:0], n)
			for _, r := range refs {
				e.put(cmpHashRef(r.key, r.n.Name.Lower()), r, true)
			}
		}
	}
	c := e.done()
	nz.lazy.hashes.Store(&c)
}
