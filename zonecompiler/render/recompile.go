package render

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// ErrRecompile says that Recompile cannot render a change on its own: the
// caller compiles the whole zone set instead (Compile).
var ErrRecompile = errors.New("render: the change needs a full compile")

// Incremental is what Recompile needs from the compile that made the
// live maps: per zone, the shared templates that hold its SOA record,
// each with one answer that renders it, and the names whose unshared
// templates hold it; the layout of its NSEC3 chain view. A new SOA serial
// then costs one rendering per shared template and per such name, not
// one per name of the zone; a change of the NSEC3 chain a view laid out
// as the live one but for the records that change (its templates read
// the new one in place: loader.Image.DenialNames).
type Incremental struct {
	zones map[string]*soaUsers // by lower-case origin
}

// holders are the answers of a zone that hold a record many of them
// hold (its SOA; an opt-out zone's apex NSEC3 record), found by bytes
// only they hold (mark): the shared templates, each with a few queries
// that render it (a change of the record rewrites them in place), and the
// names whose own templates hold it (rendered again).
type holders struct {
	mark  []byte
	reps  []soaRep        // shared templates holding it, each with its renderings
	names map[string]bool // names with unshared templates holding it
	// tooMany: more than maxSOANames such names (names is not kept): a
	// change of the record is left to the whole compile.
	tooMany bool
	perRep  int            // queries kept per shared template (repQueries, apexRepQueries)
	rep     map[uint32]int // while compiling: template id -> index in reps
}

// soaUsers are one zone's answers that hold its SOA record (the SOA
// RDATA's last 20 bytes, serial to minimum, their mark), and the owners
// whose answers hold another name's data.
type soaUsers struct {
	holders
	// apex: those that hold the apex's NSEC3 record of an opt-out zone
	// (the referrals of its insecure delegations; its RRSIG's signature
	// their mark), nil for another zone.
	apex *holders
	// refs: an in-zone name -> the owners of NS, MX, SRV and CNAME
	// records naming it (their answers hold its addresses or follow its
	// chain); a delegation's in-bailiwick name servers are left out (a
	// change below a cut reaches the cut by its ancestors).
	refs map[string][]string
	// layout: the slots of the zone's NSEC3 chain view by key
	// (DenialZone.Layout), which a change keeps (relayout); nil
	// without a view.
	layout *chainLayout
	// held: the zone's insecure delegations whose DO=1 answers may hold
	// their cover's bytes (nameResult.held); the others read it from the
	// view, so a change of its content alone does not reach them.
	held map[string]bool
	// noView: the zone's closest enclosers (NSEC) that have no chain
	// view in the live maps; every other one has one, which a change
	// that does not build it again names (compiler.nsecView).
	noView map[string]bool
	// nsecLayouts: the layouts of the zone's NSEC chain views with holes
	// (NSECPatchMin), by closest encloser, which a change patches.
	nsecLayouts map[string]*chainLayout
}

// soaRep is a shared template and a few of the queries that render it
// (should the names of some change, another renders it).
type soaRep struct {
	t       Template
	queries []repQuery
	all     bool // queries name every name that uses t
}

// repQuery is a query a template renders.
type repQuery struct {
	name  []byte
	qtype uint16 // 0: the name's default
	mode  uint16 // abi.ModeExact or abi.ModeBelow
	do    bool
}

// repQueries is how many queries an soaRep of the SOA's holders keeps,
// apexRepQueries of the apex NSEC3's: a shared template holding it is an
// insecure delegation's referral, whose known users a TLD's changes
// remove all day; should every one be gone, the record's next change is
// left to the whole compile.
const (
	repQueries     = 4
	apexRepQueries = 64
)

// rewriteHolders renders again each shared template of h (the holders of
// a record of zone b that changed; mark: the record's new one) from one
// of its queries the change does not reach (reached): a rewrite in place
// of its live content (d.Rewrites, once per content: done, as a template
// may hold two such records). A template whose every known query the
// change reaches is left to them when they are all its users, else the
// change is refused. It returns h's record for the next change.
func (c *compiler) rewriteHolders(h *holders, mark []byte, reached, affected map[string]bool, done map[string]Template, d *Delta,
	b *zone.Zone) (*holders, error) {
	nh := &holders{mark: append([]byte(nil), mark...), names: make(map[string]bool, len(h.names)), perRep: h.perRep}
	for _, r := range h.reps {
		var nt Template
		ok := false
		for _, q := range r.queries {
			if !reached[string(q.name)] && b.Node(q.name) != nil {
				if nt, ok = c.renderRep(q, b); ok {
					break
				}
			}
		}
		if !ok && r.all && allIn(r.queries, affected) {
			continue // its every user is rendered anew
		}
		if !ok {
			var names []string
			for _, q := range r.queries {
				names = append(names, wire.String(q.name))
			}
			return nil, fmt.Errorf("%w: the change reaches every answer known to render a shared template of %s (%s)",
				ErrRecompile, b.Name(), strings.Join(names, " "))
		}
		ot, err := c.liveContent(r, b)
		if err != nil {
			return nil, err
		}
		k := key(ot)
		if _, ok := done[k]; !ok {
			done[k] = nt
			d.Rewrites = append(d.Rewrites, Rewrite{Old: c.addTemplate(ot), New: c.addTemplate(nt)})
		}
		nh.reps = append(nh.reps, soaRep{t: nt, queries: r.queries, all: r.all})
	}
	return nh, nil
}

// liveContent is the live content of shared template r.t: a slot reads
// the view as placed in the delta (the live view's, by its name).
func (c *compiler) liveContent(r soaRep, b *zone.Zone) (Template, error) {
	ot := r.t
	if ot.Slot != abi.NoSlot {
		idx, err := c.repView(b, r)
		if err != nil {
			return Template{}, err
		}
		ot.Denial = idx
	}
	return ot, nil
}

// followRewrites is h (nil: none) with the shared templates the change
// rewrote (done: live content -> new) at their new content.
func (c *compiler) followRewrites(h *holders, done map[string]Template, b *zone.Zone) *holders {
	if h == nil || len(done) == 0 {
		return h
	}
	nh := *h
	nh.reps = slices.Clone(h.reps)
	for i, r := range nh.reps {
		if ot, err := c.liveContent(r, b); err == nil {
			if nt, ok := done[key(ot)]; ok {
				nh.reps[i].t = nt
			}
		}
	}
	return &nh
}

// maxSOANames bounds the names a new serial renders again one by one
// (those whose own templates hold the SOA); beyond it Recompile leaves
// the change to a whole compile. A variable so that a test can lower it.
var maxSOANames = 50000

// renderAgainLimit is how many names of zone z a change may render again
// for a record many answers hold (the SOA of a new serial, the apex's
// NSEC3 record in the opt-out referrals) before it is left to the whole
// compile: a quarter of the zone, at least 1024 — beyond, about a whole
// compile's work (BenchmarkRecompileNSEC).
func renderAgainLimit(z *zone.Zone) int { return max(1024, z.NodeCount()/4) }

// holdsOf records which templates hold a record's mark, and of which
// zone (a template's content is the maps': two zones may hold alike).
type holdsOf struct {
	of   map[uint32]*zone.Zone // template id -> the zone whose record it holds
	seen map[uint32]bool
}

// holds reports whether template t (id) holds mark, zone z's.
func (hs *holdsOf) holds(id uint32, t *Template, z *zone.Zone, mark []byte) bool {
	if hs.seen == nil {
		hs.seen = make(map[uint32]bool)
	}
	if !hs.seen[id] {
		hs.seen[id] = true
		if bytes.Contains(t.Body, mark) {
			hs.of[id] = z
		}
	}
	return hs.of[id] == z
}

// note records template t (id), which holds the record, rendered for
// query q: among the shared templates with a few of their queries, or its
// name among those with templates of their own.
func (h *holders) note(id uint32, t *Template, q repQuery) {
	if !t.Shared {
		h.names[string(q.name)] = true
		return
	}
	if i, ok := h.rep[id]; ok {
		r := &h.reps[i]
		for _, o := range r.queries {
			if bytes.Equal(o.name, q.name) {
				return // another name, not another query of one
			}
		}
		if len(r.queries) < h.perRep {
			r.queries = append(r.queries, q)
		} else {
			r.all = false
		}
		return
	}
	h.rep[id] = len(h.reps)
	h.reps = append(h.reps, soaRep{t: *t, queries: []repQuery{q}, all: true})
}

// apexMark is the mark of the apex NSEC3 record of zone z (the tail of
// its first signature's bytes, which no other record holds), nil without
// one.
func apexMark(z *zone.Zone) []byte {
	if z.NSEC3 == nil || !z.HasRRSIGs() {
		return nil
	}
	m := z.NSEC3Match(z.NSEC3Hash(z.Apex))
	if m == nil {
		return nil
	}
	s := m.Set(dns.TypeNSEC3)
	if s == nil || len(s.Sigs()) == 0 {
		return nil
	}
	rd := s.Sigs()[0].RData()
	if len(rd) < 18+1+16 {
		return nil
	}
	return append([]byte(nil), rd[len(rd)-16:]...)
}

// soaTail is the part of a zone's SOA RDATA that a new serial changes.
func soaTail(z *zone.Zone) []byte {
	rd := z.SOA.RRs()[0].RData()
	return rd[len(rd)-20:]
}

// incremental records, at the end of Compile, where each zone's SOA
// record went.
func (c *compiler) incremental(keys []string) *Incremental {
	inc := &Incremental{zones: make(map[string]*soaUsers)}
	// Which templates hold which zone's SOA, and apex NSEC3 record.
	soaOf, apexOf := holdsOf{of: map[uint32]*zone.Zone{}}, holdsOf{of: map[uint32]*zone.Zone{}}
	check := func(id uint32, z *zone.Zone, u *soaUsers, name []byte, qtype, mode uint16, do bool) {
		if id == 0 {
			return
		}
		t := &c.img.Templates[id]
		q := repQuery{name: name, qtype: qtype, mode: mode, do: do}
		if soaOf.holds(id, t, z, u.mark) {
			u.holders.note(id, t, q)
		}
		if u.apex != nil && apexOf.holds(id, t, z, u.apex.mark) {
			u.apex.note(id, t, q)
		}
	}
	for _, z := range c.set.Zones() {
		if !z.Expired && z.SOA != nil && len(z.SOA.RRs()) > 0 {
			u := &soaUsers{holders: holders{mark: append([]byte(nil), soaTail(z)...), names: make(map[string]bool), perRep: repQueries,
				rep: make(map[uint32]int)}}
			if m := apexMark(z); m != nil {
				u.apex = &holders{mark: m, names: make(map[string]bool), perRep: apexRepQueries, rep: make(map[uint32]int)}
			}
			inc.zones[string(z.Origin.Lower)] = u
		}
	}
	for _, k := range keys {
		lower := []byte(k)
		z := c.set.Find(lower)
		if z == nil {
			continue
		}
		u := inc.zones[string(z.Origin.Lower)]
		if u == nil {
			continue
		}
		h := abi.HashName(lower)
		e := c.img.Names[h]
		for d := range 2 {
			check(e.ExactDefault[d], z, u, lower, e.exactQType(), abi.ModeExact, d == 1)
			check(e.BelowDefault[d], z, u, lower, 0, abi.ModeBelow, d == 1)
		}
	}
	for k, ids := range c.img.Answers {
		if k.Mode == abi.ModeChaos {
			continue
		}
		lower, ok := c.nameOf[k.Name]
		if !ok {
			continue
		}
		z := c.set.Find(lower)
		if z == nil || inc.zones[string(z.Origin.Lower)] == nil {
			continue
		}
		u := inc.zones[string(z.Origin.Lower)]
		check(ids[0], z, u, lower, k.QType, k.Mode, false)
		check(ids[1], z, u, lower, k.QType, k.Mode, true)
	}
	// mark adds each of names to the set field picks in the record of its
	// zone, if it has one.
	mark := func(names [][]byte, field func(*soaUsers) *map[string]bool) {
		for _, name := range names {
			z := c.set.Find(name)
			if z == nil {
				continue
			}
			if u := inc.zones[string(z.Origin.Lower)]; u != nil {
				m := field(u)
				if *m == nil {
					*m = make(map[string]bool)
				}
				(*m)[string(name)] = true
			}
		}
	}
	mark(c.held, func(u *soaUsers) *map[string]bool { return &u.held })
	mark(c.noView, func(u *soaUsers) *map[string]bool { return &u.noView })
	for name, idx := range c.nsecOf {
		if dz := c.img.Denial[idx]; dz.holes {
			if u := inc.zones[string(dz.zone.Origin.Lower)]; u != nil {
				if u.nsecLayouts == nil {
					u.nsecLayouts = make(map[string]*chainLayout)
				}
				u.nsecLayouts[name] = newChainLayout(dz.Layout())
			}
		}
	}
	for _, u := range inc.zones {
		for _, h := range []*holders{&u.holders, u.apex} {
			if h != nil {
				h.rep = nil
				if h.tooMany || len(h.names) > maxSOANames {
					h.names, h.tooMany = nil, true
				}
			}
		}
	}
	for z, idx := range c.denialOf {
		if dz := c.img.Denial[idx]; dz.Kind == abi.DenialNSEC3 {
			if u := inc.zones[string(z.Origin.Lower)]; u != nil {
				u.layout = newChainLayout(dz.Layout())
			}
		}
	}
	for _, z := range c.set.Zones() {
		if u := inc.zones[string(z.Origin.Lower)]; u != nil {
			u.refs = make(map[string][]string)
			z.ForEachNode(func(n *zone.Node) {
				for _, t := range targets(n, z) {
					u.refs[string(t)] = append(u.refs[string(t)], string(n.Name.Lower()))
				}
			})
		}
	}
	return inc
}

// Delta is a change to a compiled image: the names (and their answers)
// to set, rendered into Image (which holds only them and the templates
// they use), the names and answers to remove, and the shared templates
// rewritten in place (a new SOA serial), each Rewrite naming the old and
// the new content by template ids in Image.Templates.
type Delta struct {
	Image      *Image
	DelNames   []NameHash
	DelAnswers []AnswerKey
	Rewrites   []Rewrite
	// Covers are the names whose entry changes in its Cover alone (not
	// in Image): an insecure delegation whose answers read its cover
	// from the chain view (self slots), the cover having moved in it.
	Covers []CoverChange
}

// CoverChange gives a live name's entry a new NameEntry.Cover.
type CoverChange struct {
	Name  NameHash
	Cover uint32
}

// Rewrite replaces the live template whose content is Templates[Old] by
// Templates[New], for every name that uses it.
type Rewrite struct{ Old, New uint32 }

// Recompile renders the change from the zone set of old to that of e: the
// names whose answers change (those whose data changed, their parents,
// the names below a delegation whose referral changed, the names whose
// answers hold a changed name's addresses or follow its CNAME), and for a
// new SOA serial the shared templates holding it, from one rendering
// each. It also returns the Incremental for the next change.
// ErrRecompile when the change is beyond it (zones added or removed,
// a change of the SOA record beyond its serial and timers, DNAME, ...):
// the caller compiles the whole set.
//
// changed, when it names a zone (by lower-case wire origin), lists the
// names whose data changed there, as zone.Apply reports them; the other
// zones are compared name by name (zone.ChangedNames).
func Recompile(inc *Incremental, old, e *engine.Engine, changed map[string][][]byte) (*Delta, *Incremental, error) {
	if inc == nil {
		return nil, nil, fmt.Errorf("%w: no record of the previous compile", ErrRecompile)
	}
	oz, nz := old.Zones().Zones(), e.Zones().Zones()
	if len(oz) != len(nz) {
		return nil, nil, fmt.Errorf("%w: zones added or removed", ErrRecompile)
	}
	for i := range oz {
		if oz[i].Expired || nz[i].Expired {
			return nil, nil, fmt.Errorf("%w: an expired zone (its parent's cut is left out)", ErrRecompile)
		}
	}
	c := &compiler{
		e:   e,
		set: e.Zones(),
		img: &Image{Names: make(map[NameHash]NameEntry), Answers: make(map[AnswerKey][2]uint32),
			Templates: []Template{{}}, Denial: []*DenialZone{nil}},
		dedup:    make(map[[32]byte]uint32),
		denialOf: make(map[*zone.Zone]uint16),
		nsecOf:   make(map[string]uint16),
		nameOf:   make(map[NameHash][]byte),
	}
	d := &Delta{Image: c.img}
	next := &Incremental{zones: make(map[string]*soaUsers, len(inc.zones))}
	for k, u := range inc.zones {
		next.zones[k] = u
	}
	for i, a := range oz {
		b := e.Zones().Zone(a.Origin.Lower)
		if b == nil || nz[i] == nil {
			return nil, nil, fmt.Errorf("%w: zone %s removed", ErrRecompile, a.Name())
		}
		if a == b {
			continue
		}
		names, known := changed[string(a.Origin.Lower)]
		if !known {
			names = zone.ChangedNames(a, b)
		}
		if err := c.recompileZone(inc, next, d, old, a, b, names); err != nil {
			return nil, nil, err
		}
	}
	c.img.Stats.Names = len(c.img.Names)
	c.img.Stats.Answers = len(c.img.Answers)
	c.img.Stats.Templates = len(c.img.Templates) - 1
	return d, next, nil
}

// recompileZone adds the change from a to b (two versions of one zone) to
// d.
func (c *compiler) recompileZone(inc, next *Incremental, d *Delta, old *engine.Engine, a, b *zone.Zone, changed [][]byte) error {
	if a.Expired || b.Expired {
		return fmt.Errorf("%w: %s is expired", ErrRecompile, b.Name())
	}
	signed := a.HasRRSIGs() || b.HasRRSIGs() || a.Signed || b.Signed
	nsec := signed && a.NSEC3 == nil && b.NSEC3 == nil
	if signed && !nsec && (a.NSEC3 == nil || b.NSEC3 == nil || *a.NSEC3 != *b.NSEC3) {
		return fmt.Errorf("%w: %s changed between NSEC and NSEC3, or its NSEC3 parameters changed", ErrRecompile, b.Name())
	}
	if nsec && (nsecViewsOf(a) != nsecViewsOf(b) || a.HasRRSIGs() != b.HasRRSIGs()) {
		return fmt.Errorf("%w: %s was signed or unsigned", ErrRecompile, b.Name())
	}
	if len(changed) == 0 {
		return nil
	}
	origin := b.Origin.Lower
	affected := make(map[string]bool)
	soa := false
	// The NSEC3 records that change (by key): added, removed or
	// changed (a new next hash, type bitmap or signature).
	chain := make(map[[4]uint64]bool)
	var dnames [][]byte // changed names with a DNAME in either version
	for _, x := range changed {
		for _, n := range []*zone.Node{a.Node(x), b.Node(x)} {
			if n != nil && n.Has(zone.FlagDNAME) {
				dnames = append(dnames, x)
				break
			}
		}
		if p := wire.Parent(x); signed && !nsec && bytes.Equal(p, origin) && len(x) > 0 {
			label := string(x[1 : 1+int(x[0])])
			if a.NSEC3Match(label) != nil || b.NSEC3Match(label) != nil {
				k, ok := hashKey(label)
				if !ok {
					return fmt.Errorf("%w: NSEC3 owner %s", ErrRecompile, wire.String(x))
				}
				chain[k] = true
			}
		}
		if bytes.Equal(x, origin) {
			newSOA, ok := apexChange(a.Apex, b.Apex)
			if !ok {
				return fmt.Errorf("%w: the SOA record of %s changed beyond its serial and timers", ErrRecompile, b.Name())
			}
			soa = newSOA
		}
		affected[string(x)] = true
		if p := wire.Parent(x); len(p) >= len(origin) {
			affected[string(p)] = true
		}
	}
	u := next.zones[string(origin)]
	if u == nil || u.refs == nil {
		return fmt.Errorf("%w: no record of %s's references", ErrRecompile, b.Name())
	}
	// A signed zone's chain view: when the chain did not change, the live
	// one named (a reference view: its slots' keys, for the places the
	// change's templates and covers name; the loader finds it by name).
	// When it changed, a patch of the live one (DenialZone.Patch): laid
	// out as it but for the records that change (relayout), with only
	// their pieces rendered, the others taken from the live view by the
	// loader; the live view of the zone gets this content in place: every
	// template whose slot reads it reads the new one at once, so only the
	// names whose own answers change are rendered (chainReach).
	var view *DenialZone
	var layout *chainLayout // the new view's, when the chain changed
	apexChanged := false    // the apex's NSEC3 record changed or moved, its holders known
	covers := map[string]bool{}
	if nsec {
		nsecReach(affected, a, b, changed)
	} else if signed {
		switch {
		case len(chain) == 0 && u.layout != nil:
			// The live view as it is: its keys, no pieces rendered.
			view = refView(b, u.layout)
		case len(chain) == 0:
			view = c.buildDenial(b)
		case u.layout == nil:
			return fmt.Errorf("%w: no record of the NSEC3 chain view of %s", ErrRecompile, b.Name())
		default:
			view = c.patchView(b, u.layout, chain)
			if view == nil {
				return fmt.Errorf("%w: the NSEC3 chain of %s changed, and its view cannot follow", ErrRecompile, b.Name())
			}
			layout = view.keys
			// The apex's NSEC3 record changed or moved: its holders
			// (the opt-out referrals) are rewritten in place or rendered
			// again below, when the Incremental knows them.
			apexHeld := u.apex != nil && !u.apex.tooMany && len(u.apex.names) <= renderAgainLimit(b)
			var err error
			if apexChanged, err = chainReach(affected, covers, b, chain, u.layout, layout, view.changedSlots, u.held, c.set,
				apexHeld); err != nil {
				return err
			}
		}
		if idx, ok := c.addDenial(view, &c.denialBase); ok {
			c.denialOf[b] = idx
		}
	}
	// The names whose answers change, then (a new serial) the shared
	// templates holding the SOA, from queries whose answers do not.
	u = withRefs(u, a, b, changed)
	if layout != nil {
		u.layout = layout
	}
	next.zones[string(origin)] = u
	if nsec {
		nsecAliases(affected, u.refs, a, b)
	}
	// A DNAME that comes, goes or changes: the names below it, occluded
	// or no longer, answer otherwise (its synthesis, or their own data),
	// and so do the answers below them (their chain views).
	var occluded []string
	for _, x := range dnames {
		for _, z := range []*zone.Zone{a, b} {
			z.Below(x, func(name []byte) bool {
				affected[string(name)] = true
				occluded = append(occluded, string(name))
				return true
			})
		}
	}
	c.spread(affected, u, a, b, changed)
	if soa && (u.tooMany || len(u.names) > maxSOANames || len(u.names) > renderAgainLimit(b)) {
		// Names whose own templates hold the SOA (an NSEC zone's insecure
		// delegations, in their DS NODATA answers with their own NSEC;
		// before shared templates, an NSEC3 opt-out zone's) are rendered
		// again whole.
		return fmt.Errorf("%w: %d names of %s hold its SOA in templates of their own", ErrRecompile, len(u.names), b.Name())
	}
	if nsec {
		// The views whose content changes, built again: a view holds NSEC
		// RRsets (nsecReach of the names whose NSEC RRset changed), and
		// is one the program can search as long as the answers below its
		// name keep their kind (which a change of a DNAME above it
		// changes). The others that the names rendered read (a new serial
		// renders the shared templates from their queries: renderRep)
		// are the live ones, named by reference (nsecView).
		names := make(map[string]bool)
		changedNSEC := nsecChanged(a, b, changed)
		nsecReach(names, a, b, changedNSEC)
		for _, x := range occluded {
			names[x] = true
		}
		if u.noView = maps.Clone(u.noView); u.noView == nil {
			u.noView = make(map[string]bool)
		}
		if u.nsecLayouts = maps.Clone(u.nsecLayouts); u.nsecLayouts == nil {
			u.nsecLayouts = make(map[string]*chainLayout)
		}
		if err := c.nsecViews(a, b, names, u.noView, u.nsecLayouts, changedNSEC); err != nil {
			return err
		}
		if c.live == nil {
			c.live = make(map[*zone.Zone]*soaUsers)
		}
		c.live[b] = u
	}
	if soa || apexChanged {
		// After spread: a query renders a shared template anew only if
		// nothing it reads changed. What the change reaches; the names
		// added next are rendered again only for the record they hold,
		// which leaves them good queries for a shared template.
		reached := maps.Clone(affected)
		if soa {
			maps.Copy(affected, u.names)
			// The maps hold one template per content: another zone
			// whose SOA renders to the same bytes (laid out alike
			// relative to its origin, the same serial and timers) may
			// hold its SOA in the same templates, which a rewrite in
			// place would change for that zone too.
			was, is := soaShape(a), soaShape(b)
			for _, set := range []*zone.Set{old.Zones(), c.set} {
				for _, z := range set.Zones() {
					if !bytes.Equal(z.Origin.Lower, origin) && z.SOA != nil && len(z.SOA.RRs()) > 0 &&
						(soaShape(z) == was || soaShape(z) == is) {
						return fmt.Errorf("%w: the SOA of %s is laid out as %s's", ErrRecompile, b.Name(), z.Name())
					}
				}
			}
		}
		if apexChanged {
			maps.Copy(affected, u.apex.names)
		}
		nu := *u
		done := make(map[string]Template) // the live contents rewritten: their new ones
		if soa {
			h, err := c.rewriteHolders(&u.holders, soaTail(b), reached, affected, done, d, b)
			if err != nil {
				return err
			}
			nu.holders = *h
		}
		if apexChanged {
			nu.apex = nil
			if m := apexMark(b); m != nil {
				h, err := c.rewriteHolders(u.apex, m, reached, affected, done, d, b)
				if err != nil {
					return err
				}
				nu.apex = h
			}
		}
		// A template holding both records, rewritten for one: the
		// other's record of it follows.
		if !soa {
			nu.holders = *c.followRewrites(&u.holders, done, b)
		}
		if !apexChanged {
			nu.apex = c.followRewrites(u.apex, done, b)
		}
		next.zones[string(origin)] = &nu
	}
	if err := c.renderAffected(affected, next, d, old, a, b); err != nil {
		return err
	}
	// The names whose cover alone moved, unless rendered for another
	// reason: their entries' new place of it.
	if idx, ok := c.denialOf[b]; ok {
		for name := range covers {
			if !affected[name] {
				d.Covers = append(d.Covers, CoverChange{Name: abi.HashName([]byte(name)), Cover: c.img.selfCover(idx, []byte(name))})
			}
		}
	} else if len(covers) > 0 {
		return fmt.Errorf("%w: no chain view of %s for its names' covers", ErrRecompile, b.Name())
	}
	// An NSEC zone's: the insecure delegations whose own NSEC moved in
	// their parent's view (nsecMoved), their place of it.
	for name, idx := range c.nsecMoved {
		lower := []byte(name)
		if n := b.Node(lower); !affected[name] && n != nil && n.Has(zone.FlagDelegation) && !n.Has(zone.FlagBelowCut) &&
			c.set.Find(lower) == b && c.set.Zone(lower) == nil && nsecSelfName(b, n, lower) {
			d.Covers = append(d.Covers, CoverChange{Name: abi.HashName(lower), Cover: c.img.selfCover(idx, lower)})
		}
	}
	c.nsecMoved = nil
	slices.SortFunc(d.Covers, func(x, y CoverChange) int { return compareHash(x.Name, y.Name) })
	return nil
}

// nsBelow reports whether a name server of delegation n lies below it:
// its glue, or the names on the way to a missing one, have answers of
// their own (the referral, with its proof).
func nsBelow(n *zone.Node) bool {
	ns := n.Set(dns.TypeNS)
	if ns == nil {
		return false
	}
	for _, rr := range ns.RRs() {
		if t := rr.RDataLower(); len(t) > len(n.Name.Lower()) && wire.IsSubdomain(t, n.Name.Lower()) {
			return true
		}
	}
	return false
}

// chainReach adds to affected the names of zone b whose answers a change
// of its NSEC3 chain reaches (chain: the keys of the NSEC3 records added,
// removed or changed; was and is: the layouts of the view before and
// after), finding each name's NSEC3 records by its hash (zone.Node's
// NSEC3Hash): a name whose own NSEC3 (its NODATA, the closest encloser
// proof of the answers below it) changes or moves in the view; a name
// that is not a delegation whose wildcard's NSEC3, or the NSEC3 covering
// the wildcard's hash (the answers below it), changes or moves; a
// delegation without DS whose own NSEC3 changes, one whose own NSEC3
// comes or goes, or without one (an opt-out zone's insecure delegation)
// whose cover (the NSEC3 covering its hash: its DS NODATA and the opt-out
// proof of its referral) moves or changes when its answers hold the
// cover's bytes (held: some answer without a self slot, or names below
// the cut) — when they read it from the view, a cover moved is a new
// place in its entry alone (covers: Delta.Covers), no rendering; a
// CNAME (its chain may end in a wildcard's answer, with its proof). Only
// the names whose hash or wildcard's hash lies where the view
// changed (dirtyRanges) are looked at, found by the zone's index of names
// by hash (zone.NamesByHash). Names below a delegation come with it
// (spread). The others keep their answers: their
// templates read the new view where they read the old one. The apex's
// NSEC3 record is in the apex's own answers (rendered as the parent of
// every NSEC3 owner that changes) and, in an opt-out zone, in the shared
// referrals of the insecure delegations (their closest provable
// encloser): a change to it, or to its place, is apexChanged when the
// Incremental knows its holders (apexHeld: the caller rewrites the shared
// ones in place and renders the names with their own, rewriteHolders),
// else renders every insecure delegation again, or when they are more
// than a quarter of the zone is left to the whole compile.
func chainReach(affected, covers map[string]bool, b *zone.Zone, chain map[[4]uint64]bool, was, is *chainLayout,
	regions []slotRegion, held map[string]bool, set *zone.Set, apexHeld bool) (apexChanged bool, err error) {
	origin := b.Origin.Lower
	k, ok := hashKey(b.NSEC3Hash(b.Apex))
	if !ok {
		return false, fmt.Errorf("%w: the apex of %s has no NSEC3 hash", ErrRecompile, b.Name())
	}
	s := slotOf(was, k)
	if s < 0 {
		return false, fmt.Errorf("%w: the NSEC3 record of the apex of %s is not in its chain view", ErrRecompile, b.Name())
	}
	if chain[k] || s != slotOf(is, k) {
		if apexHeld {
			// Its holders are known: the caller rewrites the shared
			// ones and renders the others (rewriteHolders).
			apexChanged = true
		} else {
			// The opt-out referrals hold it: rendered again.
			limit := renderAgainLimit(b)
			insecure := optOutDelegations(b, limit)
			if len(insecure) > limit {
				return false, fmt.Errorf("%w: the NSEC3 record of the apex of %s changed or moved, and more than %d opt-out referrals hold it",
					ErrRecompile, b.Name(), limit)
			}
			for _, n := range insecure {
				affected[string(n)] = true
			}
		}
	}
	dirty := dirtyRanges(was, is, regions, chain)
	children := len(set.Zones()) > 1 // a delegation may be a served zone's apex
	var bad []byte
	seen := make(map[*zone.Node]bool)
	visit := func(n *zone.Node) {
		if n == nil || n.Has(zone.FlagBelowCut) || bad != nil || seen[n] {
			return
		}
		seen[n] = true
		name := n.Name.Lower()
		// Most names are far from the change: neither their own entry
		// nor their cover moves (a delegation has no other).
		hash := b.NSEC3Hash(n)
		if n.Has(zone.FlagDelegation) && !n.Has(zone.FlagCNAME) && len(hash) == NSEC3LabelLen &&
			!inRanges(dirty, hash) && !bytes.Equal(name, origin) && (!children || set.Zone(name) == nil) {
			return
		}
		k, ok := hashKey(hash)
		if !ok {
			bad = name
			return
		}
		reached := ownMoves(was, is, chain, k)
		switch {
		case n.Has(zone.FlagDelegation) && !bytes.Equal(name, origin) && set.Zone(name) == nil:
			// Its answers hold its own NSEC3 as bytes (no template
			// reads its place) unless it has DS (its referral and DS
			// answer prove nothing absent), or without one (opt-out)
			// its cover: as bytes, or read from the view at the place
			// in its entry (selfSlot) when neither it nor a name below
			// it holds them (held, and the referrals of names below the
			// cut): then the content does not matter, and a cover moved
			// changes its entry's place of it alone (covers).
			ow, oi := slotOf(was, k), slotOf(is, k)
			switch {
			case ow >= 0 && oi >= 0:
				reached = chain[k] && n.Set(dns.TypeDS) == nil
			case ow < 0 && oi < 0:
				i, j := coverIn(was, k), coverIn(is, k)
				moved := i != j || was.At(i) != is.At(j)
				if !moved && !chain[was.At(i)] {
					break
				}
				if held[string(name)] || nsBelow(n) || b.HasBelow(name) {
					reached = true
				} else if moved {
					covers[string(name)] = true
				}
			default:
				reached = reached || coverMoves(was, is, chain, k)
			}
		case n.Has(zone.FlagCNAME) || set.Zone(name) != nil:
			reached = true
		default:
			w, ok := hashKey(b.HashName(wire.Wildcard(name)))
			reached = reached || !ok || ownMoves(was, is, chain, w) || coverMoves(was, is, chain, w)
		}
		if reached {
			affected[string(name)] = true
		}
	}
	// The names a change can reach: those whose hash or wildcard's hash
	// lies in the dirty ranges (the zone's index of names by hash: a
	// TLD's million names are not visited), the apex, served zones'
	// apexes, and those every search returns (CNAMEs).
	ranges := make([][2]string, len(dirty))
	for i, r := range dirty {
		ranges[i] = [2]string{r.lo, r.hi}
	}
	if !b.NamesByHash(ranges, visit) {
		b.ForEachNode(visit)
	}
	visit(b.Apex)
	for _, z := range set.Zones() {
		if children && wire.IsSubdomain(z.Origin.Lower, origin) {
			visit(b.Node(z.Origin.Lower))
		}
	}
	if bad != nil {
		return false, fmt.Errorf("%w: no NSEC3 hash of %s", ErrRecompile, wire.String(bad))
	}
	return apexChanged, nil
}

// soaShape is z's SOA RDATA with the names in it made relative to z's
// origin where they are at or below it: two zones of one shape render
// their SOA into the same bytes after a question below their apex.
func soaShape(z *zone.Zone) string {
	rd := z.SOA.RRs()[0].RDataLower()
	var b []byte
	off := 0
	for range 2 {
		name, end, err := wire.ReadName(rd, off)
		if err != nil {
			return string(rd)
		}
		if wire.IsSubdomain(name, z.Origin.Lower) {
			b = append(b, name[:len(name)-len(z.Origin.Lower)]...)
			b = append(b, 0xff) // relative
		} else {
			b = append(b, name...)
		}
		off = end
	}
	return string(append(b, rd[off:]...))
}

// allIn reports whether every query's name is in set.
func allIn(qs []repQuery, set map[string]bool) bool {
	for _, q := range qs {
		if !set[string(q.name)] {
			return false
		}
	}
	return true
}

// apexChange reports whether apex b can follow apex a in a change
// rendered alone (ok), and whether its SOA RRset changed (soa): the SOA
// record may change its serial and timers only (its names, TTL and length
// kept), its signatures their content; the apex's flags stay but for a
// wildcard below it coming or going (as any parent's: the apex's answers
// below it are rendered again). Its other RRsets may change as they
// will: minimal answers hold them only in the apex's own answers, which
// the change renders again (the names they name are the references of
// spread; a change of the apex's NSEC3 record is chainReach's).
func apexChange(a, b *zone.Node) (soa, ok bool) {
	if a == nil || b == nil || (a.Flags^b.Flags)&^zone.FlagWildcardChild != 0 {
		return false, false
	}
	s, t := a.Set(dns.TypeSOA), b.Set(dns.TypeSOA)
	if s == nil || t == nil || s.TTL != t.TTL || len(s.RRs()) != 1 || len(t.RRs()) != 1 || len(s.Sigs()) != len(t.Sigs()) {
		return false, false
	}
	r, q := s.RRs()[0], t.RRs()[0]
	n := r.RDLength() - 20
	if r.RDLength() != q.RDLength() || r.TTL != q.TTL || !bytes.Equal(r.RData()[:n], q.RData()[:n]) ||
		!bytes.Equal(r.Owner.Wire(), q.Owner.Wire()) {
		return false, false
	}
	soa = !bytes.Equal(r.RData(), q.RData())
	for j, r := range s.Sigs() {
		q := t.Sigs()[j]
		if r.TTL != q.TTL || r.RDLength() != q.RDLength() {
			return false, false
		}
		soa = soa || !bytes.Equal(r.RData(), q.RData())
	}
	return soa, true
}

// renderRep renders a shared template's query in zone b.
func (c *compiler) renderRep(r repQuery, b *zone.Zone) (Template, bool) {
	sp := &nameSpec{lower: r.name, exact: map[uint16]bool{}, below: map[uint16]bool{}, exactOpen: true, belowOpen: true}
	c.collect(map[string]*nameSpec{string(r.name): sp}, b, b.Node(r.name))
	qtype := r.qtype
	if qtype == 0 {
		qtype = otherType(sp)
	}
	res := &nameResult{}
	var s slot
	if r.mode == abi.ModeExact || r.qtype == 0 && c.belowIsExact(sp) {
		s = c.exactSlot(res, r.name, qtype, r.do)
	} else {
		s = c.belowSlot(res, r.name, qtype, r.do)
	}
	if !s.ok {
		return Template{}, false
	}
	t := toTemplate(s.p)
	if s.t != nil {
		t = *s.t
	}
	if s.p.Truncated || s.p.Kind == engine.KindError || s.p.Kind == engine.KindRefused || s.p.Rcode > 15 || len(t.Relocs) > abi.MaxRelocs {
		return Template{}, false
	}
	t.Shared = true
	return t, true
}

// spread adds to affected the names whose answers hold an affected
// name's data: the delegation above a changed name (its referral holds
// the glue below it), the owners of NS, MX, SRV and CNAME records naming
// an affected name (u.refs: its addresses go to their additional section,
// or their chain goes through it), along CNAME chains; and every name
// below an affected delegation (each gets its referral). It reads
// indexes (u.refs, the zones' name index), not every name.
func (c *compiler) spread(affected map[string]bool, u *soaUsers, a, b *zone.Zone, changed [][]byte) {
	origin := b.Origin.Lower
	for _, x := range changed {
		for p, i := wire.Parent(x), 0; len(p) > len(origin) && i < wire.MaxLabels; i++ {
			for _, z := range []*zone.Zone{a, b} {
				if n := z.Node(p); n != nil && n.Has(zone.FlagDelegation) {
					affected[string(p)] = true
				}
			}
			p = wire.Parent(p)
		}
	}
	queue := make([]string, 0, len(affected))
	for x := range affected {
		queue = append(queue, x)
	}
	isCNAME := func(name string) bool {
		for _, z := range []*zone.Zone{a, b} {
			if n := z.Node([]byte(name)); n != nil && n.Has(zone.FlagCNAME) {
				return true
			}
		}
		return false
	}
	for round := 0; len(queue) > 0 && round <= engine.MaxChain; round++ {
		var next []string
		for _, t := range queue {
			for _, o := range u.refs[t] {
				if !affected[o] {
					affected[o] = true
					if isCNAME(o) {
						next = append(next, o)
					}
				}
			}
		}
		queue = next
	}
	// Below an affected delegation every name gets its referral.
	for x := range affected {
		for _, z := range []*zone.Zone{a, b} {
			if n := z.Node([]byte(x)); n != nil && n.Has(zone.FlagDelegation) {
				z.Below(n.Name.Lower(), func(name []byte) bool {
					affected[string(name)] = true
					return true
				})
			}
		}
	}
}

// target is the in-zone name whose data an answer holding rr may carry
// (the engine's additionalFor and CNAME following), lower-case; nil for
// other types.
func target(rr *zone.RR) []byte {
	switch rr.Type {
	case dns.TypeNS, dns.TypeMX, dns.TypeCNAME:
		if off, n := rr.Names(); n > 0 {
			return rr.RDataLower()[off:]
		}
	case dns.TypeSRV:
		if rd := rr.RData(); len(rd) > 6 {
			return wire.ToLower(rd[6:])
		}
	}
	return nil
}

// targets lists the in-zone names whose data node n's answers may hold
// (target, per record), but a delegation's in-bailiwick name servers.
func targets(n *zone.Node, z *zone.Zone) [][]byte {
	var out [][]byte
	for s := range n.EachSet {
		for _, rr := range s.RRs() {
			t := target(rr)
			if t == nil || !wire.IsSubdomain(t, z.Origin.Lower) {
				continue
			}
			if n.Has(zone.FlagDelegation) && wire.IsSubdomain(t, n.Name.Lower()) {
				continue
			}
			out = append(out, t)
		}
	}
	return out
}

// withRefs is u with its refs brought to zone b, where changed names
// changed from zone a (a copy: u stays as it was).
func withRefs(u *soaUsers, a, b *zone.Zone, changed [][]byte) *soaUsers {
	refs := make(map[string][]string, len(u.refs))
	for k, v := range u.refs {
		refs[k] = v
	}
	for _, x := range changed {
		if n := a.Node(x); n != nil {
			for _, t := range targets(n, a) {
				refs[string(t)] = slices.DeleteFunc(slices.Clone(refs[string(t)]), func(o string) bool { return o == string(x) })
				if len(refs[string(t)]) == 0 {
					delete(refs, string(t))
				}
			}
		}
		if n := b.Node(x); n != nil {
			for _, t := range targets(n, b) {
				refs[string(t)] = append(slices.Clone(refs[string(t)]), string(x))
			}
		}
	}
	nu := *u
	nu.refs = refs
	return &nu
}

// entriesBelow reports whether a name below lower has an entry of its own
// (collect gives it a spec), as Compile finds it: a name of a zone of the
// set below lower that is not below a cut there, or a served zone's apex.
func (c *compiler) entriesBelow(lower []byte) bool {
	for z := c.set.Find(lower); z != nil; z = c.set.Parent(z) {
		if n := z.Node(lower); n != nil && !n.Has(zone.FlagDelegation) && !n.Has(zone.FlagBelowCut) {
			if z.HasBelow(lower) {
				return true
			}
			break // names below it in the zones above are below its cut there
		}
	}
	for _, z := range c.set.Zones() {
		if len(z.Origin.Lower) > len(lower) && wire.IsSubdomain(z.Origin.Lower, lower) {
			return true
		}
	}
	return false
}

// renderAffected renders the affected names of zone b into d and lists
// the names and answers of a that are gone.
func (c *compiler) renderAffected(affected map[string]bool, next *Incremental, d *Delta, old *engine.Engine, a, b *zone.Zone) error {
	specs := make(map[string]*nameSpec)
	oldSpecs := make(map[string]*nameSpec)
	oc := &compiler{e: old, set: old.Zones(), img: &Image{}}
	// A name can be a node of two zones (a served child's apex is a cut
	// of its parent): its spec comes from both, as in Compile.
	for x := range affected {
		lower := []byte(x)
		for z := c.set.Find(lower); z != nil; z = c.set.Parent(z) {
			if n := z.Node(lower); n != nil {
				c.collect(specs, z, n)
			}
		}
		for z := oc.set.Find(lower); z != nil; z = oc.set.Parent(z) {
			if n := z.Node(lower); n != nil {
				oc.collect(oldSpecs, z, n)
			}
		}
	}
	// Which of them have a name below them (the walk may not stop there).
	parents := make(map[string]bool)
	for k := range affected {
		if c.entriesBelow([]byte(k)) {
			parents[k] = true
		}
	}
	for k := range specs {
		if p := wire.Parent([]byte(k)); affected[string(p)] {
			parents[string(p)] = true
		}
	}
	keys := make([]string, 0, len(affected))
	for k := range affected {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		lower := []byte(k)
		h := abi.HashName(lower)
		sp := specs[k]
		if sp == nil {
			d.DelNames = append(d.DelNames, h)
		} else {
			r := c.renderName(h, sp)
			r.parent = parents[k]
			c.nameOf[h] = lower
			c.store(r)
		}
		if osp := oldSpecs[k]; osp != nil {
			for _, m := range []struct {
				types map[uint16]bool
				mode  uint16
			}{{osp.exact, abi.ModeExact}, {osp.below, abi.ModeBelow}} {
				for t := range m.types {
					ak := AnswerKey{Name: h, QType: t, Mode: m.mode}
					if _, ok := c.img.Answers[ak]; !ok {
						d.DelAnswers = append(d.DelAnswers, ak)
					}
				}
			}
		}
	}
	// Which of the names rendered now hold the SOA in an unshared
	// template (a later serial re-renders them).
	u := next.zones[string(b.Origin.Lower)]
	if u == nil {
		return nil
	}
	nu := &soaUsers{holders: *c.renewHolders(&u.holders, affected, keys), refs: u.refs, layout: u.layout, noView: u.noView,
		nsecLayouts: u.nsecLayouts, held: make(map[string]bool, len(u.held))}
	if u.apex != nil {
		nu.apex = c.renewHolders(u.apex, affected, keys)
	}
	for k := range u.held {
		if !affected[k] {
			nu.held[k] = true
		}
	}
	for _, name := range c.held {
		if affected[string(name)] && c.set.Find(name) == b {
			nu.held[string(name)] = true
		}
	}
	next.zones[string(b.Origin.Lower)] = nu
	return nil
}

// renewHolders is h after the names keys (sorted; affected: the same as a
// set) were rendered: a rendered name no longer counts as a query of a
// shared template it rendered, nor as one whose own template holds the
// record, unless its new templates do — one with a shared template's
// content (its rewrite reaches it) among its queries, another makes its
// name one to render at the record's next change.
func (c *compiler) renewHolders(h *holders, affected map[string]bool, keys []string) *holders {
	nh := &holders{mark: h.mark, names: make(map[string]bool, len(h.names)), tooMany: h.tooMany, perRep: h.perRep}
	for _, r := range h.reps {
		var q []repQuery
		for _, x := range r.queries {
			if !affected[string(x.name)] {
				q = append(q, x)
			}
		}
		nh.reps = append(nh.reps, soaRep{t: r.t, queries: q, all: r.all})
	}
	for k := range h.names {
		nh.names[k] = true
	}
	repOf := make(map[string]int, len(nh.reps))
	for i, r := range nh.reps {
		repOf[key(r.t)] = i
	}
	use := func(id uint32, q repQuery) {
		if id == 0 || !bytes.Contains(c.img.Templates[id].Body, nh.mark) {
			return
		}
		i, ok := repOf[key(c.img.Templates[id])]
		if !ok {
			nh.names[string(q.name)] = true
			return
		}
		r := &nh.reps[i]
		for _, o := range r.queries {
			if bytes.Equal(o.name, q.name) {
				return
			}
		}
		if len(r.queries) < nh.perRep {
			r.queries = append(r.queries, q)
		} else {
			r.all = false
		}
	}
	for _, k := range keys {
		delete(nh.names, k)
	}
	for _, k := range keys {
		lower := []byte(k)
		e, ok := c.img.Names[abi.HashName(lower)]
		if !ok {
			continue
		}
		for d := range 2 {
			use(e.ExactDefault[d], repQuery{name: lower, qtype: e.exactQType(), mode: abi.ModeExact, do: d == 1})
			use(e.BelowDefault[d], repQuery{name: lower, mode: abi.ModeBelow, do: d == 1})
		}
	}
	for ak, ids := range c.img.Answers {
		use(ids[0], repQuery{name: c.nameOf[ak.Name], qtype: ak.QType, mode: ak.Mode})
		use(ids[1], repQuery{name: c.nameOf[ak.Name], qtype: ak.QType, mode: ak.Mode, do: true})
	}
	if len(nh.names) > maxSOANames {
		nh.names, nh.tooMany = nil, true
	}
	return nh
}

// optOutDelegations lists the insecure delegations of NSEC3 zone z
// without an NSEC3 record of their own (opt-out), whose DO=1 referrals hold
// the NSEC3 record of their closest provable encloser: up to limit+1 of
// them (more than limit: too many to render again).
func optOutDelegations(z *zone.Zone, limit int) [][]byte {
	var out [][]byte
	z.ForEachNode(func(n *zone.Node) {
		if len(out) <= limit && n.Has(zone.FlagDelegation) && !n.Has(zone.FlagBelowCut) && n.Set(dns.TypeDS) == nil &&
			z.NSEC3Match(z.NSEC3Hash(n)) == nil {
			out = append(out, n.Name.Lower())
		}
	})
	return out
}
