package render

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// maxNSECView bounds the entries of an NSEC chain view that a change
// rendered alone builds again (a view is built whole: its every piece
// rendered, the loader writes it whole); a change that needs a larger one
// (a TLD-sized zone's apex) is left to the whole compile. A variable so
// that a test can lower it.
var maxNSECView = 1 << 16

// NSECPatchMin is the number of entries from which an NSEC chain view is
// laid out with holes, as NSEC3 views are, and a change patches it
// (patchNSECView: only the entries that change rendered, the loader
// copying the others) instead of building it again whole: a TLD's apex.
// A variable so that tests can lower it.
var NSECPatchMin = 4096

// nsecEncloser reports whether node n of an NSEC-signed zone gets a chain
// view of its own: it can be a closest encloser (an answer below it is not
// a referral nor a DNAME synthesis).
func nsecEncloser(n *zone.Node) bool {
	return !n.Has(zone.FlagDelegation) && !n.Has(zone.FlagBelowCut) && !n.Has(zone.FlagDNAME)
}

// nsecViewsOf reports whether Compile gives zone z NSEC chain views.
func nsecViewsOf(z *zone.Zone) bool {
	return z.Signed && z.HasRRSIGs() && !z.Expired && z.NSEC3 == nil
}

// nsecReach adds to affected the names of NSEC-signed zone b (a before)
// whose answers or chain views a change of the names changed may reach:
// each changed name and its ancestors (the views of the ancestors hold,
// per child label, the NSEC of the last owner at or below it; their
// answers below them hold the NSEC covering their wildcard), and the
// successor of each in either version's chain with its ancestors (the
// empty non-terminals between a changed owner and the next one have the
// owner's NSEC as their cover: in their NODATA answers, as the first
// entry of their views). The NSEC records that change with the change
// (a predecessor's new next name, a new type bitmap) are at owners the
// change names itself.
func nsecReach(affected map[string]bool, a, b *zone.Zone, changed [][]byte) {
	origin := b.Origin.Lower
	up := func(p []byte) {
		for i := 0; len(p) >= len(origin) && i <= wire.MaxLabels; i++ {
			affected[string(p)] = true
			if len(p) == len(origin) {
				return
			}
			p = wire.Parent(p)
		}
	}
	chains := [2][]*zone.Node{a.NSECChain(), b.NSECChain()}
	for _, x := range changed {
		up(x)
		for _, ch := range chains {
			i := sort.Search(len(ch), func(i int) bool { return wire.Compare(ch[i].Name.Lower(), x) > 0 })
			if i < len(ch) {
				up(ch[i].Name.Lower())
			}
		}
	}
}

// nsecChanged are the names of changed whose NSEC RRset (with its
// signatures) differs between versions a and b of a zone, or is in one of
// them only: the chain views change where they are (nsecReach), nowhere
// else.
func nsecChanged(a, b *zone.Zone, changed [][]byte) [][]byte {
	var out [][]byte
	for _, x := range changed {
		if !sameNSEC(a.Node(x), b.Node(x)) {
			out = append(out, x)
		}
	}
	return out
}

// sameNSEC reports whether nodes m and n (nil: absent) own the same NSEC
// RRset, records and signatures, under the same owner name.
func sameNSEC(m, n *zone.Node) bool {
	set := func(n *zone.Node) *zone.RRset {
		if n == nil {
			return nil
		}
		if s := n.Set(dns.TypeNSEC); s != nil && len(s.RRs()) > 0 {
			return s
		}
		return nil
	}
	s, t := set(m), set(n)
	if s == nil || t == nil {
		return s == t
	}
	if !bytes.Equal(m.Name.Wire(), n.Name.Wire()) || s.TTL != t.TTL || len(s.RRs()) != len(t.RRs()) || len(s.Sigs()) != len(t.Sigs()) {
		return false
	}
	same := func(x, y []*zone.RR) bool {
		for i := range x {
			if x[i].TTL != y[i].TTL || !bytes.Equal(x[i].RData(), y[i].RData()) {
				return false
			}
		}
		return true
	}
	return same(s.RRs(), t.RRs()) && same(s.Sigs(), t.Sigs())
}

// nsecViews gives each name of names that is a closest encloser of
// NSEC-signed zone b its chain view, built whole (the answers below it
// read it, and record where their own NSEC records are in it): the loader
// keeps the live view of its name when the content is the same, gives it
// the new content in place otherwise, or adds it; noView (the zone's
// enclosers without a view) is kept up to date with the names of names.
// ErrRecompile for a view larger than maxNSECView. (A zone
// set whose whole compile ran out of views, maxDenialZones, has names
// whose DO=1 NXDOMAIN passes to userspace for want of one; a change may
// add views for some of them: the loader has room for few if any — it
// refuses the update when it has none, and the daemon compiles whole —
// and the program answers those names, with the engine's bytes.)
func (c *compiler) nsecViews(a, b *zone.Zone, names, noView map[string]bool, layouts map[string]*chainLayout, changedNSEC [][]byte) error {
	if !nsecViewsOf(b) {
		return nil
	}
	var todo []string
	for name := range names {
		delete(noView, name)
		if n := b.Node([]byte(name)); n == nil || !nsecEncloser(n) {
			delete(layouts, name)
		}
		if _, ok := c.nsecOf[name]; ok {
			continue
		}
		if n := b.Node([]byte(name)); n != nil && nsecEncloser(n) && c.set.Find(n.Name.Lower()) == b {
			todo = append(todo, name)
		}
	}
	sort.Slice(todo, func(i, j int) bool { return wire.Compare([]byte(todo[i]), []byte(todo[j])) < 0 })
	chain := b.NSECChain()
	for _, name := range todo {
		lower := []byte(name)
		had := layouts[name] != nil
		if had {
			// Laid out with holes: patched, when it can be.
			if dz := c.patchNSECView(a, b, lower, layouts[name], changedNSEC); dz != nil {
				if idx, ok := c.addDenial(dz, &c.denialBase); ok {
					c.nsecOf[name] = idx
					layouts[name] = dz.keys
					c.moved(dz, lower, idx, dz.changedSlots)
					continue
				}
			}
			delete(layouts, name)
		}
		// The NSEC owners below it, one entry at most each.
		lo := sort.Search(len(chain), func(i int) bool { return wire.Compare(chain[i].Name.Lower(), lower) > 0 })
		hi := lo + sort.Search(len(chain)-lo, func(i int) bool { return !wire.IsSubdomain(chain[lo+i].Name.Lower(), lower) })
		if hi-lo+1 > maxNSECView {
			return fmt.Errorf("%w: the NSEC chain view of %s has %d entries or more", ErrRecompile, wire.String(lower), hi-lo+1)
		}
		dz := c.buildNSECDenial(b, b.Node(lower))
		if idx, ok := c.addDenial(dz, &c.denialBase); ok {
			c.nsecOf[name] = idx
			if dz.holes {
				layouts[name] = newChainLayout(dz.Layout())
			}
			if had || dz.holes {
				c.moved(dz, lower, idx, nil) // every place
			}
		} else {
			noView[name] = true
		}
	}
	return nil
}

// moved records in nsecMoved the names whose own NSEC's place in view dz
// (of closest encloser ce, index idx) may have moved: those of the keys
// in regions of its slots, or of every slot (regions nil).
func (c *compiler) moved(dz *DenialZone, ce []byte, idx uint16, regions []slotRegion) {
	if c.nsecMoved == nil {
		c.nsecMoved = make(map[string]uint16)
	}
	at := func(i int) {
		k := dz.KeyAt(i)
		var key [32]byte
		for j, w := range k {
			binary.BigEndian.PutUint64(key[8*j:], w)
		}
		l := int(key[abi.DenialLabel])
		if l == 0 || l > abi.DenialLabel {
			return // the first entry, or a label longer than a key holds
		}
		name := append(append([]byte{byte(l)}, key[:l]...), ce...)
		c.nsecMoved[string(name)] = idx
	}
	if regions == nil {
		for i := range dz.Count() {
			at(i)
		}
		return
	}
	for _, r := range regions {
		for i := r.start; i < r.newEnd && i < dz.Count(); i++ {
			at(i)
		}
	}
}

// patchNSECView makes the view of closest encloser ce of NSEC zone b
// (a before) changed from the live one laid out as old, as a patch of it
// (DenialZone.Patch, as patchView makes an NSEC3 view's): the entries
// whose NSEC RRset may change are those of the labels of ce's children
// at or above the names whose NSEC changed (nsecChanged), and the first
// (the names before ce's first child) when its owner or RRset changed;
// only their pieces rendered. nil when the view cannot follow (a label
// longer than a key holds, whose keys may repeat).
func (c *compiler) patchNSECView(a, b *zone.Zone, ce []byte, old *chainLayout, changedNSEC [][]byte) *DenialZone {
	baseA, baseB := nsecBase(a, ce), nsecBase(b, ce)
	if baseB == nil || old.Len() == 0 {
		return nil
	}
	sets := map[[4]uint64]*zone.RRset{} // the entries that change: the new RRset, nil when removed
	if baseA == nil || !sameNSEC(baseA, baseB) {
		sets[[4]uint64{}] = baseB.Set(dns.TypeNSEC)
	}
	depth := wire.Labels(ce) + 1
	for _, x := range changedNSEC {
		if len(x) <= len(ce) || !wire.IsSubdomain(x, ce) {
			continue // (the first entry's: sameNSEC above)
		}
		child := wire.Suffix(x, depth)
		if int(child[0]) > abi.DenialLabel {
			return nil
		}
		var set *zone.RRset
		if last := lastNSECAtOrBelow(b, child); last != nil {
			set = last.Set(dns.TypeNSEC)
		}
		sets[NSECKey(child[1:1+int(child[0])])] = set
	}
	ch := make([]layoutChange, 0, len(sets))
	for k, s := range sets {
		ch = append(ch, layoutChange{k: k, present: s != nil})
	}
	slices.SortFunc(ch, func(x, y layoutChange) int { return cmpKey(x.k, y.k) })
	dz := c.patchOf(&DenialZone{Kind: abi.DenialNSEC, probe: denialProbe(ce), zone: b, holes: true}, old, ch,
		func(k [4]uint64) *zone.RRset { return sets[k] })
	if dz == nil || dz.keys.At(0) != ([4]uint64{}) {
		return nil // (the first entry, the names before ce's first child, stays first)
	}
	return dz
}

// nsecBase is the node whose NSEC is the first entry of the view of ce
// in zone z (ce's own, or its predecessor's), nil without a chain.
func nsecBase(z *zone.Zone, ce []byte) *zone.Node {
	chain := z.NSECChain()
	if len(chain) == 0 {
		return nil
	}
	i := sort.Search(len(chain), func(i int) bool { return wire.Compare(chain[i].Name.Lower(), ce) >= 0 })
	if i < len(chain) && bytes.Equal(chain[i].Name.Lower(), ce) {
		return chain[i]
	}
	return chain[(i+len(chain)-1)%len(chain)]
}

// lastNSECAtOrBelow is the last NSEC owner of zone z at or below name, the
// entry of name's label in its parent's view; nil when none.
func lastNSECAtOrBelow(z *zone.Zone, name []byte) *zone.Node {
	chain := z.NSECChain()
	lo := sort.Search(len(chain), func(i int) bool { return wire.Compare(chain[i].Name.Lower(), name) >= 0 })
	if lo == len(chain) || !wire.IsSubdomain(chain[lo].Name.Lower(), name) {
		return nil
	}
	hi := lo + sort.Search(len(chain)-lo, func(i int) bool { return !wire.IsSubdomain(chain[lo+i].Name.Lower(), name) })
	return chain[hi-1]
}

// nsecOwnerKey is the key of the entry holding owner's NSEC in the view
// of closest encloser ce of zone z; false when no entry does.
func nsecOwnerKey(z *zone.Zone, ce, owner []byte) ([4]uint64, bool) {
	if b := nsecBase(z, ce); b != nil && bytes.Equal(b.Name.Lower(), owner) {
		return [4]uint64{}, true
	}
	if len(owner) <= len(ce) || !wire.IsSubdomain(owner, ce) {
		return [4]uint64{}, false
	}
	child := wire.Suffix(owner, wire.Labels(ce)+1)
	if l := lastNSECAtOrBelow(z, child); l == nil || !bytes.Equal(l.Name.Lower(), owner) || int(child[0]) > abi.DenialLabel {
		return [4]uint64{}, false
	}
	return NSECKey(child[1 : 1+int(child[0])]), true
}

// nsecView is the index in the image being made of the chain view of
// closest encloser name (lower case) of an NSEC zone: the one built, or,
// in Recompile, for a name whose view the change does not build again
// (unchanged), a reference to the live one (DenialZone.Ref) unless the
// live maps have none (soaUsers.noView). False when it has none (its
// answers below it pass, as after a whole compile).
func (c *compiler) nsecView(name []byte) (uint16, bool) {
	if idx, ok := c.nsecOf[string(name)]; ok {
		return idx, true
	}
	z := c.set.Find(name)
	if z == nil || c.live[z] == nil || c.live[z].noView[string(name)] {
		return 0, false
	}
	n := z.Node(name)
	dz := &DenialZone{Kind: abi.DenialNSEC, probe: denialProbe(name), Ref: true, zone: z}
	if lay := c.live[z].nsecLayouts[string(name)]; lay != nil {
		dz.keys, dz.Slots, dz.holes = lay, uint32(lay.Len()), true
	}
	if n == nil || !nsecEncloser(n) || len(dz.probe) > wire.MaxNameLen || z.Node(dz.probe) != nil {
		return 0, false
	}
	idx, ok := c.addDenial(dz, &c.denialBase)
	if ok {
		c.nsecOf[string(name)] = idx
	}
	return idx, ok
}

// nsecPlace is the place of owner's NSEC among the entries of the chain
// view of closest encloser ce of zone z, laid out as buildNSECDenial lays
// them out (the first for the names before ce's first child, then one per
// child label holding the last owner at or below it), found by walking
// the chain from ce to owner: the place of a record in a view named by
// reference. False when no entry holds owner's NSEC.
func nsecPlace(z *zone.Zone, ce, owner []byte) (uint32, bool) {
	chain := z.NSECChain()
	if len(chain) == 0 {
		return 0, false
	}
	i := sort.Search(len(chain), func(i int) bool { return wire.Compare(chain[i].Name.Lower(), ce) >= 0 })
	base := chain[(i+len(chain)-1)%len(chain)]
	if i < len(chain) && bytes.Equal(chain[i].Name.Lower(), ce) {
		base, i = chain[i], i+1
	}
	if bytes.Equal(base.Name.Lower(), owner) {
		return 0, true
	}
	depth := wire.Labels(ce) + 1
	place := uint32(0)
	var last []byte
	for ; i < len(chain) && wire.IsSubdomain(chain[i].Name.Lower(), ce); i++ {
		lower := chain[i].Name.Lower()
		if wire.Compare(lower, owner) > 0 {
			return 0, false
		}
		child := wire.Suffix(lower, depth)
		label := child[1 : 1+int(child[0])]
		if place == 0 || !bytes.Equal(label, last) {
			place++
		}
		last = label
		if bytes.Equal(lower, owner) {
			// The entry of its label holds the last owner at or below it.
			if i+1 < len(chain) && wire.IsSubdomain(chain[i+1].Name.Lower(), child) {
				return 0, false
			}
			return place, true
		}
	}
	return 0, false
}

// repView is the index in the change's image of the chain view a shared
// template of zone b with a slot reads (r: the template and its queries):
// the zone's NSEC3 view, or the NSEC view of its queries' encloser
// (repEncloser).
func (c *compiler) repView(b *zone.Zone, r soaRep) (uint16, error) {
	if b.NSEC3 != nil {
		if idx, ok := c.denialOf[b]; ok {
			return idx, nil
		}
		return 0, fmt.Errorf("%w: no chain view of %s for a shared template", ErrRecompile, b.Name())
	}
	for _, q := range r.queries {
		if idx, ok := c.nsecView(repEncloser(q)); ok {
			return idx, nil
		}
	}
	return 0, fmt.Errorf("%w: no NSEC chain view of %s for a shared template", ErrRecompile, b.Name())
}

// repEncloser is the name whose NSEC chain view a shared template's query
// q reads: the name it asks below, or, for an exact one (an insecure
// delegation's DS NODATA: nsecSelfSlot), the name's parent.
func repEncloser(q repQuery) []byte {
	if q.mode == abi.ModeExact {
		return wire.Parent(q.name)
	}
	return q.name
}

// nsecAliases adds to affected the CNAMEs of NSEC-signed zone b (a
// before) whose targets (refs: target -> owners naming it) have no data of
// their own in either version: their answers hold the NSEC covering the
// target (NXDOMAIN, or the wildcard's proof of no closer match, or an
// empty non-terminal's NODATA), which a change anywhere before the target
// in the chain may replace. (spread then follows the CNAMEs naming them.)
func nsecAliases(affected map[string]bool, refs map[string][]string, a, b *zone.Zone) {
	bare := func(z *zone.Zone, t string) bool {
		n := z.Node([]byte(t))
		return n == nil || len(n.Sets()) == 0
	}
	for t, owners := range refs {
		if !bare(a, t) && !bare(b, t) {
			continue
		}
		for _, o := range owners {
			for _, z := range []*zone.Zone{a, b} {
				if n := z.Node([]byte(o)); n != nil && n.Has(zone.FlagCNAME) {
					affected[o] = true
				}
			}
		}
	}
}
