package render

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"runtime"
	"sort"

	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/rrl"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// commonTypes are rendered one by one at names whose answer depends on
// the type in ways a default cannot capture (CNAME owners, whose chain
// ends anywhere); other types there are left to userspace.
var commonTypes = []uint16{
	dns.TypeA, dns.TypeNS, dns.TypeCNAME, dns.TypeSOA, dns.TypePTR, dns.TypeMX, dns.TypeTXT,
	dns.TypeAAAA, dns.TypeSRV, dns.TypeNAPTR, dns.TypeDS, dns.TypeSSHFP, dns.TypeDNSKEY,
	dns.TypeTLSA, dns.TypeSVCB, dns.TypeHTTPS, dns.TypeCAA, dns.TypeNSEC, dns.TypeNSEC3PARAM, dns.TypeDNAME,
}

// chaosNames are the CHAOS-class identity names.
var chaosNames = []string{"id.server.", "hostname.bind.", "version.bind.", "version.server."}

// nameSpec collects what to render for one name across zones.
type nameSpec struct {
	lower      []byte
	exact      map[uint16]bool
	below      map[uint16]bool
	exactOpen  bool // an unlisted type gets the default answer
	belowOpen  bool
	delegation bool
	signed     bool // in a zone with RRSIGs: DO=1 answers differ from DO=0
}

type compiler struct {
	e     *engine.Engine
	set   *zone.Set
	img   *Image
	dedup map[[32]byte]uint32
	// denialOf is each NSEC3-signed zone's index in img.Denial (only
	// zones whose chain the program can search); nsecOf the index of
	// each closest encloser's view of an NSEC chain, by its lower-case
	// name; denialIdx every index.
	denialOf  map[*zone.Zone]uint16
	nsecOf    map[string]uint16
	denialIdx []uint16
	// nameOf is the lower-case name of each name hash rendered.
	nameOf map[NameHash][]byte
	// denialBase is where the next chain view's entries start.
	denialBase uint32
	// held: the names stored whose nameResult.held is set.
	held [][]byte
	// noView: the closest enclosers of NSEC zones that got no chain view
	// (Compile: a view the program cannot search, as below a DNAME, or
	// one more than the maps hold).
	noView [][]byte
	// live: in Recompile, the record of each zone changed (the next
	// one's, its noView up to date with the views built): nsecView names
	// the live view of an encloser the change does not build again.
	live map[*zone.Zone]*soaUsers
	// nsecMoved: in Recompile, the names whose own NSEC's place in the
	// view of their parent (by index) the change may move (nsecViews):
	// an insecure delegation's entry holds it.
	nsecMoved map[string]uint16
}

// maxDenialZones bounds the chain views of one image (tmpl.denial_zone is
// 16 bits); names beyond it keep their signed denial in userspace.
const maxDenialZones = 0xffff

// addDenial places a chain view in the image and returns its index.
func (c *compiler) addDenial(dz *DenialZone, base *uint32) (uint16, bool) {
	if dz == nil || len(c.img.Denial) >= maxDenialZones {
		return 0, false
	}
	dz.place(*base)
	*base += uint32(dz.Count())
	idx := uint16(len(c.img.Denial))
	c.img.Denial = append(c.img.Denial, dz)
	c.denialIdx = append(c.denialIdx, idx)
	return idx, true
}

// Compile renders every answer of the engine's zones that the XDP program
// can serve into an image.
func Compile(e *engine.Engine) (*Image, error) {
	c := &compiler{
		e:   e,
		set: e.Zones(),
		img: &Image{
			Names:     make(map[NameHash]NameEntry),
			Answers:   make(map[AnswerKey][2]uint32),
			Templates: []Template{{}},
			Denial:    []*DenialZone{nil},
		},
		dedup:    make(map[[32]byte]uint32),
		denialOf: make(map[*zone.Zone]uint16),
		nsecOf:   make(map[string]uint16),
		nameOf:   make(map[NameHash][]byte),
	}
	for _, z := range c.set.Zones() {
		if idx, ok := c.addDenial(c.buildDenial(z), &c.denialBase); ok {
			c.denialOf[z] = idx
		}
		if !nsecViewsOf(z) {
			continue
		}
		// NSEC: a view per name that can be a closest encloser.
		var ces []*zone.Node
		z.ForEachNode(func(n *zone.Node) {
			if nsecEncloser(n) {
				ces = append(ces, n)
			}
		})
		sort.Slice(ces, func(i, j int) bool { return wire.Compare(ces[i].Name.Lower(), ces[j].Name.Lower()) < 0 })
		for _, n := range ces {
			if idx, ok := c.addDenial(c.buildNSECDenial(z, n), &c.denialBase); ok {
				c.nsecOf[string(n.Name.Lower())] = idx
			} else {
				c.noView = append(c.noView, n.Name.Lower())
			}
		}
	}
	specs := make(map[string]*nameSpec)
	for _, z := range c.set.Zones() {
		if z.Expired {
			continue
		}
		z.ForEachNode(func(n *zone.Node) {
			// A parent's cut and glue for an expired child zone are
			// not what the engine answers there (SERVFAIL): leave them out.
			if o := c.set.Find(n.Name.Lower()); o != z && o.Expired {
				return
			}
			c.collect(specs, z, n)
		})
	}
	keys := make([]string, 0, len(specs))
	for k := range specs {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic template ids
	seen := make(map[NameHash][]byte, len(specs))
	for _, k := range keys {
		sp := specs[k]
		h := abi.HashName(sp.lower)
		c.nameOf[h] = sp.lower
		if other, dup := seen[h]; dup {
			return nil, fmt.Errorf("name hash collision between %s and %s", wire.String(sp.lower), wire.String(other))
		}
		seen[h] = sp.lower
	}
	// Names with a name below them: the walk may not stop there.
	parents := make(map[string]bool, len(specs))
	for _, k := range keys {
		if p := wire.Parent([]byte(k)); len(p) < len(k) {
			parents[string(p)] = true
		}
	}
	c.parallel(len(keys), func(i int) *nameResult {
		sp := specs[keys[i]]
		r := c.renderName(abi.HashName(sp.lower), sp)
		r.parent = parents[keys[i]]
		return r
	})
	// The program walks the query name's suffixes from the root down and
	// stops at the first unknown one, so every ancestor of a zone apex
	// needs an entry; queries that end on one are in no zone: passed up.
	for _, z := range c.set.Zones() {
		for p, i := z.Origin.Lower, 0; len(p) > 1 && i < wire.MaxLabels; i++ {
			p = wire.Parent(p)
			h := abi.HashName(p)
			if _, ok := c.img.Names[h]; !ok {
				c.img.Names[h] = NameEntry{}
			}
		}
	}
	// An expired zone (expire-policy servfail) is answered in userspace
	// (SERVFAIL): its apex is an empty entry, so the walk cannot fall back
	// on a parent zone's answers for names below it.
	for _, z := range c.set.Zones() {
		if z.Expired {
			c.img.Names[abi.HashName(z.Origin.Lower)] = NameEntry{}
		}
	}
	c.renderChaos()
	c.markShared()
	c.img.Incremental = c.incremental(keys)
	c.img.Stats.Names = len(c.img.Names)
	c.img.Stats.Answers = len(c.img.Answers)
	c.img.Stats.Templates = len(c.img.Templates) - 1
	return c.img, nil
}

// parallel renders n names on every CPU and stores the results in index
// order, so template ids do not depend on scheduling.
func (c *compiler) parallel(n int, render func(i int) *nameResult) {
	const batch = 256
	nb := (n + batch - 1) / batch
	out := make([]chan []*nameResult, nb)
	for i := range out {
		out[i] = make(chan []*nameResult, 1)
	}
	next := make(chan int)
	go func() {
		for b := 0; b < nb; b++ {
			next <- b
		}
		close(next)
	}()
	workers := runtime.GOMAXPROCS(0)
	for w := 0; w < workers; w++ {
		go func() {
			for b := range next {
				end := min((b+1)*batch, n)
				rs := make([]*nameResult, 0, end-b*batch)
				for i := b * batch; i < end; i++ {
					rs = append(rs, render(i))
				}
				out[b] <- rs
			}
		}()
	}
	for b := 0; b < nb; b++ {
		for _, r := range <-out[b] {
			c.store(r)
		}
	}
}

// collect gives node n of zone z its name's spec in specs: the types
// whose answers it renders at the name and below it. A name below a cut
// gets none: every query there gets the cut's referral, which the engine
// renders alike for any name at or below the cut but for the question
// (engine: a referral's names never compress against the question's
// labels below the cut), so the cut's entry answers it.
func (c *compiler) collect(specs map[string]*nameSpec, z *zone.Zone, n *zone.Node) {
	if n.Has(zone.FlagBelowCut) {
		return
	}
	sp := specs[string(n.Name.Lower())]
	if sp == nil {
		sp = &nameSpec{lower: n.Name.Lower(), exact: map[uint16]bool{}, below: map[uint16]bool{},
			exactOpen: true, belowOpen: true}
		specs[string(n.Name.Lower())] = sp
	}
	if z.HasRRSIGs() {
		sp.signed = true
	}
	sp.exact[dns.TypeDS] = true
	if n.Has(zone.FlagDelegation) {
		// Every type but DS at the cut gets the referral: the default.
		sp.delegation = true
		c.img.Stats.Delegations++
		return
	}
	for s := range n.EachSet {
		sp.exact[s.Type] = true
	}
	sp.exact[dns.TypeCNAME] = true
	if n.Has(zone.FlagCNAME) {
		// The chain decides per type: render the common types, pass the rest.
		for _, t := range commonTypes {
			sp.exact[t] = true
		}
		sp.exactOpen = false
	}
	if n.Has(zone.FlagWildcardChild) {
		if w := z.Node(wire.Wildcard(n.Name.Lower())); w != nil {
			for s := range w.EachSet {
				sp.below[s.Type] = true
			}
			sp.below[dns.TypeCNAME] = true
			if w.Has(zone.FlagCNAME) {
				for _, t := range commonTypes {
					sp.below[t] = true
				}
				sp.belowOpen = false
			}
		}
	}
}

// slot is one rendering: an answer to store, or a pass.
type slot struct {
	p  engine.Precomputed
	ok bool
	t  *Template // the template, when made already (a denial slot)
}

type typedResult struct {
	qtype, mode uint16
	s           [2]slot // by DO bit
}

// nameResult holds every rendering of one name, made in parallel and
// stored (deduplicated, numbered) in name order afterwards.
type nameResult struct {
	parent        bool // some other name lies below this one
	h             NameHash
	exact, below  [2]slot
	typed         []typedResult
	renders, pass int
	cover         uint32 // NameEntry.Cover
	// held: the name is an insecure delegation of an NSEC3 zone whose
	// DO=1 answers hold the bytes of its cover (some has no self slot):
	// a change of the cover's content reaches them (chainReach).
	held bool
}

// renderName renders the templates of one name: per listed type, and a
// default for the others, for exact and below-name queries, DO off and on.
// It only reads shared state, so names render in parallel.
// belowIsExact reports whether the default answer below name sp is its
// exact one: below a delegation (that is no served apex) every query gets
// the referral, and its template equals the exact one (pointers to the
// cut's name move with the question either way).
func (c *compiler) belowIsExact(sp *nameSpec) bool {
	return sp.delegation && c.set.Zone(sp.lower) == nil
}

func (c *compiler) renderName(h NameHash, sp *nameSpec) *nameResult {
	r := &nameResult{h: h}
	other := otherType(sp)
	nv := c.variants(sp)
	belowIsExact := c.belowIsExact(sp)
	for do := 0; do < nv; do++ {
		if sp.exactOpen {
			r.exact[do] = c.exactSlot(r, sp.lower, other, do == 1)
		}
		if belowIsExact {
			r.below[do] = r.exact[do]
		} else if sp.belowOpen {
			r.below[do] = c.belowSlot(r, sp.lower, other, do == 1)
		}
	}
	if nv == 1 {
		r.exact[1], r.below[1] = r.exact[0], r.below[0]
	}
	for _, mode := range []uint16{abi.ModeExact, abi.ModeBelow} {
		types := sp.exact
		if mode == abi.ModeBelow {
			types = sp.below
		}
		list := make([]uint16, 0, len(types))
		for t := range types {
			if !abi.NeverInXDP(t) {
				list = append(list, t)
			}
		}
		sort.Slice(list, func(i, j int) bool { return list[i] < list[j] })
		for _, t := range list {
			tr := typedResult{qtype: t, mode: mode}
			for do := 0; do < nv; do++ {
				if mode == abi.ModeExact {
					tr.s[do] = c.exactSlot(r, sp.lower, t, do == 1)
				} else {
					tr.s[do] = c.belowSlot(r, sp.lower, t, do == 1)
				}
			}
			if nv == 1 {
				tr.s[1] = tr.s[0]
			}
			r.typed = append(r.typed, tr)
		}
	}
	return r
}

// store numbers a name's renderings and fills in its map entries.
func (c *compiler) store(r *nameResult) {
	c.img.Stats.Renders += r.renders
	c.img.Stats.PassedTemplates += r.pass
	var entry NameEntry
	for do := 0; do < 2; do++ {
		entry.ExactDefault[do] = c.addSlot(r.exact[do])
		entry.BelowDefault[do] = c.addSlot(r.below[do])
	}
	for _, tr := range r.typed {
		ids := [2]uint32{c.addSlot(tr.s[0]), c.addSlot(tr.s[1])}
		def := entry.ExactDefault
		if tr.mode == abi.ModeBelow || entry.Flags&abi.NameFlagCut != 0 {
			def = entry.BelowDefault
		}
		if tr.mode == abi.ModeExact && tr.qtype == dns.TypeDS && ids != def && entry.ExactDefault == entry.BelowDefault {
			// A cut: the DS answer in the entry, not in answers
			// (abi.NameFlagCut); the types typed before DS compared
			// with the below default, which is the exact one too.
			entry.ExactDefault = ids
			entry.Flags |= abi.NameFlagCut
			continue
		}
		if ids != def {
			c.img.Answers[AnswerKey{Name: r.h, QType: tr.qtype, Mode: tr.mode}] = ids
			if tr.mode == abi.ModeBelow {
				entry.Flags |= abi.NameFlagBelowTyped
			} else {
				entry.Flags |= abi.NameFlagExactTyped
			}
		}
	}
	if !r.parent {
		entry.Flags |= abi.NameFlagLeaf
	}
	entry.Cover = r.cover
	c.img.Names[r.h] = entry
	if r.held {
		c.held = append(c.held, c.nameOf[r.h])
	}
}

func (c *compiler) addSlot(s slot) uint32 {
	if !s.ok {
		return abi.Pass
	}
	if s.t != nil {
		return c.addTemplate(*s.t)
	}
	return c.add(s.p)
}

// variants is 2 when DO=1 answers differ from DO=0 (signed zone), else 1.
// DS at a child apex is answered from the parent, so a name's "signed"
// covers both zones it belongs to.
func (c *compiler) variants(sp *nameSpec) int {
	if sp.signed {
		return 2
	}
	return 1
}

// otherType is a type no RRset of the name has, rendered as the default.
func otherType(sp *nameSpec) uint16 {
	for t := uint16(65280); ; t++ {
		if !sp.exact[t] && !sp.below[t] {
			return t
		}
	}
}

func (c *compiler) exactSlot(r *nameResult, lower []byte, qtype uint16, do bool) slot {
	r.renders++
	if do {
		s, idx, ok, held := c.selfSlot(lower, qtype)
		if ok {
			if r.cover == 0 { // one per name, whatever the type
				r.cover = c.img.selfCover(idx, lower)
			}
			return s
		}
		r.held = r.held || held
	}
	return slot{p: c.e.Precompute(lower, qtype, dns.ClassINET, do, false), ok: true}
}

// selfSlot renders a DO=1 query at an insecure delegation of an NSEC3
// opt-out zone with a denial slot: the referral's opt-out proof (RFC 5155
// §7.2.7), or a DS query's NODATA (§7.2.4), proves the zone above (the
// closest encloser) and covers the delegation's own hash, which the
// program fills in from the name it found (abi.FlagSlotSelf). The
// delegations of a zone then share templates as their DO=0 referrals do
// (every DS NODATA one template, which a new SOA serial rewrites in
// place), rather than a template each with its own cover. False when the
// answer is not one of those, or the program could not fill it as the
// engine would. idx is the denial zone of the slot: the program reads
// the cover's place from the name's entry (NameEntry.Cover, selfCover)
// instead of hashing the name (a SHA-1 per query: the referral took 1.6
// µs in the program instead of 1.2 with a template of its own). held
// (when not ok): lower is an insecure delegation (no NSEC3 of its own)
// whose answer is rendered another way, so it may hold its cover's bytes.
func (c *compiler) selfSlot(lower []byte, qtype uint16) (s slot, idx uint16, ok, held bool) {
	z := c.set.Find(lower)
	if z == nil || !z.HasRRSIGs() || c.set.Zone(lower) != nil {
		return slot{}, 0, false, false
	}
	n := z.Node(lower)
	if n == nil || !n.Has(zone.FlagDelegation) || n.Has(zone.FlagBelowCut) {
		return slot{}, 0, false, false
	}
	if z.NSEC3 == nil {
		s, idx, ok = c.nsecSelfSlot(z, n, lower, qtype)
		return s, idx, ok, false
	}
	held = z.NSEC3Match(z.NSEC3Hash(n)) == nil
	idx, ok = c.denialOf[z]
	if !ok {
		return slot{}, 0, false, held
	}
	p := c.e.PrecomputeDenialExact(lower, qtype)
	if p.Slot < 0 || (qtype != dns.TypeDS && hashLikeNames(z, n)) {
		return slot{}, 0, false, held
	}
	t, ok := c.slotTemplate(p, idx)
	if !ok {
		return slot{}, 0, false, held
	}
	t.Flags |= abi.FlagSlotSelf
	return slot{p: p, ok: true, t: &t}, idx, true, false
}

// nsecSelfSlot is selfSlot in an NSEC-signed zone: the DS NODATA of
// insecure delegation n (lower) holds n's own NSEC (RFC 4035 §3.1.4.1),
// the entry of n's label in the chain view of its parent, which the
// program finds by searching the label (the last entry at or below its
// key; the entry holds no cover: the places of a view move with every
// change among the parent's children, the label does not). The engine
// writes that NSEC's owner compressed from the parent up, as the piece
// has it. Every insecure delegation of the parent then shares one
// template, which a new serial rewrites once.
func (c *compiler) nsecSelfSlot(z *zone.Zone, n *zone.Node, lower []byte, qtype uint16) (slot, uint16, bool) {
	if qtype != dns.TypeDS || !nsecSelfName(z, n, lower) {
		return slot{}, 0, false
	}
	idx, ok := c.nsecView(wire.Parent(lower))
	if !ok {
		return slot{}, 0, false
	}
	p := c.e.PrecomputeDenialExact(lower, qtype)
	if p.Slot < 0 {
		return slot{}, 0, false
	}
	t, ok := c.slotTemplate(p, idx)
	if !ok {
		return slot{}, 0, false
	}
	t.Flags |= abi.FlagSlotSelf
	return slot{p: p, ok: true, t: &t}, idx, true
}

// nsecSelfName reports whether delegation n (lower) of NSEC zone z is an
// insecure one whose own NSEC is the entry of its label in its parent's
// view (nsecSelfSlot): it owns one, no DS, a label the key holds, and no
// NSEC owner below it (the entry of its label would hold the last).
func nsecSelfName(z *zone.Zone, n *zone.Node, lower []byte) bool {
	if s := n.Set(dns.TypeNSEC); s == nil || len(s.RRs()) == 0 {
		return false
	}
	if ds := n.Set(dns.TypeDS); ds != nil && len(ds.RRs()) > 0 {
		return false
	}
	if lower[0] > abi.DenialLabel {
		return false
	}
	chain := z.NSECChain()
	i := sort.Search(len(chain), func(i int) bool { return wire.Compare(chain[i].Name.Lower(), lower) > 0 })
	return i == len(chain) || !wire.IsSubdomain(chain[i].Name.Lower(), lower)
}

// hashLikeNames reports whether a name of delegation n's referral (its
// name servers, so their glue too) lies at or below a label of zone z as
// long as an NSEC3 hash: the cover's owner could then share more than the
// zone's name with it, and the engine would compress one against the
// other, which a piece rendered elsewhere does not.
func hashLikeNames(z *zone.Zone, n *zone.Node) bool {
	ns := n.Set(dns.TypeNS)
	if ns == nil {
		return false
	}
	base := wire.Labels(z.Origin.Lower)
	for _, rr := range ns.RRs() {
		t := rr.RDataLower()
		if !wire.IsSubdomain(t, z.Origin.Lower) || wire.Labels(t) <= base {
			continue
		}
		if l := wire.Suffix(t, base+1); l[0] == NSEC3LabelLen {
			return true
		}
	}
	return false
}

// belowSlot renders the answer for names strictly below lower. It is
// rendered for two probe names of different lengths; unless both give the
// same template (after relocation), the answer depends on the query name
// itself (DNAME synthesis, NSEC/NSEC3 proofs of a signed NXDOMAIN) and is
// left to userspace.
func (c *compiler) belowSlot(r *nameResult, lower []byte, qtype uint16, do bool) slot {
	p1 := append([]byte("\x0fxdpdns-probe-aa"), lower...)
	p2 := append([]byte("\x01b\x0cxdpdns-probe"), lower...)
	if len(p1) > wire.MaxNameLen || c.exists(p1) || c.exists(p2) {
		r.pass++
		return slot{}
	}
	// In a signed zone the denial (NSEC/NSEC3 covering the name) or the
	// wildcard proof depends on the query name: two probes may share a
	// cover by chance, so they are never compared whole; the program
	// fills the cover in (a denial slot). The rendering with a slot is
	// the plain one when there is nothing to fill (a referral).
	z := c.set.Find(p1)
	signed := do && z != nil && z.HasRRSIGs()
	var a engine.Precomputed
	if signed {
		a = c.e.PrecomputeDenial(p1, qtype)
	} else {
		a = c.e.Precompute(p1, qtype, dns.ClassINET, do, true)
	}
	r.renders++
	if signed && a.Kind != engine.KindReferral {
		return c.denialSlot(r, a, lower, p2, qtype, z)
	}
	b := c.e.Precompute(p2, qtype, dns.ClassINET, do, true)
	r.renders++
	if key(toTemplate(a)) != key(toTemplate(b)) {
		r.pass++
		return slot{}
	}
	return slot{p: a, ok: true}
}

func (c *compiler) exists(lower []byte) bool {
	z := c.set.Find(lower)
	return z != nil && z.Node(lower) != nil
}

func (c *compiler) renderChaos() {
	for _, name := range chaosNames {
		w := make([]byte, wire.MaxNameLen+1)
		n, err := dns.PackDomainName(name, w, 0, nil, false)
		if err != nil {
			continue
		}
		lower := w[:n]
		var ids [2]uint32
		for do := 0; do < 2; do++ {
			p := c.e.Precompute(lower, dns.TypeTXT, dns.ClassCHAOS, do == 1, false)
			if p.Kind == engine.KindChaos && p.Rcode == 0 {
				ids[do] = c.add(p)
			}
		}
		if ids != [2]uint32{} {
			c.img.Answers[AnswerKey{Name: abi.HashName(lower), QType: dns.TypeTXT, Mode: abi.ModeChaos}] = ids
		}
	}
}

// markShared marks the templates that SharedMinRefs or more entry slots
// use.
func (c *compiler) markShared() {
	refs := make([]int, len(c.img.Templates))
	for _, e := range c.img.Names {
		for d := range 2 {
			refs[e.ExactDefault[d]]++
			refs[e.BelowDefault[d]]++
		}
	}
	for _, ids := range c.img.Answers {
		refs[ids[0]]++
		refs[ids[1]]++
	}
	for i := 1; i < len(refs); i++ {
		c.img.Templates[i].Shared = refs[i] >= SharedMinRefs
	}
}

// toTemplate converts an engine rendering to a template.
func toTemplate(p engine.Precomputed) Template {
	t := Template{
		Body:    p.Body,
		Relocs:  p.Relocs,
		BodyLen: len(p.Body),
		ReqLen:  p.ReqLen,
		AN:      p.ANCount,
		NS:      p.NSCount,
		AR:      p.ARCount,
		Flags:   uint16(p.Rcode & abi.FlagRcode),
		Kind:    uint16(p.Kind),

		RRLClass:  uint8(rrl.ClassOf(p.Kind)),
		RRLLabels: p.RRLLabels,
		RRLWild:   p.RRLWild,

		Slot:       abi.NoSlot,
		DenialHead: abi.NoDenial,
		DenialTail: abi.NoDenial,
	}
	if p.AA {
		t.Flags |= abi.FlagAA
	}
	return t
}

// key is a template's identity: every field the program reads, in a
// fixed binary layout, then the body.
func key(t Template) string { return string(keyBytes(t)) }

// keyHeader is how many bytes keyBytes writes before the relocations.
const keyHeader = 4 + 4 + 10*2 + 4 + 4

// keyBytes is key's content.
func keyBytes(t Template) []byte {
	b := make([]byte, 0, keyHeader+2*len(t.Relocs)+len(t.Body))
	b = binary.BigEndian.AppendUint32(b, uint32(t.BodyLen))
	b = binary.BigEndian.AppendUint32(b, uint32(t.ReqLen))
	wild := uint16(0)
	if t.RRLWild {
		wild = 1
	}
	for _, v := range [...]uint16{t.AN, t.NS, t.AR, t.Flags, t.Kind, uint16(len(t.Relocs)), uint16(t.RRLClass)<<8 | uint16(t.RRLLabels), wild,
		uint16(t.Slot), t.Denial} {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	b = binary.BigEndian.AppendUint32(b, t.DenialHead)
	b = binary.BigEndian.AppendUint32(b, t.DenialTail)
	for _, r := range t.Relocs {
		b = binary.BigEndian.AppendUint16(b, r)
	}
	return append(b, t.Body...)
}

// add stores a rendering as a template (once per distinct content) and
// returns its id, or abi.Pass when XDP cannot serve it.
func (c *compiler) add(p engine.Precomputed) uint32 {
	if p.Truncated || p.Kind == engine.KindError || p.Kind == engine.KindRefused || p.Rcode > 15 {
		c.img.Stats.PassedTemplates++
		return abi.Pass
	}
	return c.addTemplate(toTemplate(p))
}

// addTemplate stores t (once per distinct content) and returns its id, or
// abi.Pass when XDP cannot serve it.
func (c *compiler) addTemplate(t Template) uint32 {
	if len(t.Relocs) > abi.MaxRelocs {
		c.img.Stats.PassedTemplates++
		return abi.Pass
	}
	if t.BodyLen > abi.MaxBody {
		// Never sent from XDP: TC=1 when even the required part is over
		// the client's limit without the cover, which leaves the slot
		// out (the engine's reply is longer still).
		t.Flags |= abi.FlagTooBig
		t.Body, t.Relocs = nil, nil
		t.Slot, t.Denial, t.DenialHead, t.DenialTail = abi.NoSlot, 0, abi.NoDenial, abi.NoDenial
	}
	k := sha256.Sum256(keyBytes(t))
	if id, ok := c.dedup[k]; ok {
		return id
	}
	id := uint32(len(c.img.Templates))
	c.img.Templates = append(c.img.Templates, t)
	c.img.Stats.BodyBytes += len(t.Body)
	c.dedup[k] = id
	return id
}
