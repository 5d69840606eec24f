package render

import (
	"fmt"
	"sort"
	"strings"

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

// neverInXDP are query types the program always passes up (the engine
// treats them specially); no template is rendered for them.
func neverInXDP(t uint16) bool {
	return t == 0 || t == dns.TypeOPT || t == dns.TypeRRSIG || t >= dns.TypeTKEY && t <= dns.TypeANY
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
	signed     bool // in a signed zone: DO=1 answers differ from DO=0
}

type compiler struct {
	e     *engine.Engine
	set   *zone.Set
	img   *Image
	dedup map[string]uint32
	sigs  map[*zone.Zone]bool
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
		},
		dedup: make(map[string]uint32),
		sigs:  make(map[*zone.Zone]bool),
	}
	specs := make(map[string]*nameSpec)
	for _, z := range c.set.Zones() {
		z.ForEachNode(func(n *zone.Node) { c.collect(specs, z, n) })
	}
	keys := make([]string, 0, len(specs))
	for k := range specs {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic template ids
	seen := make(map[NameHash]string, len(specs))
	for _, k := range keys {
		sp := specs[k]
		h := HashName(sp.lower)
		if other, dup := seen[h]; dup {
			return nil, fmt.Errorf("name hash collision between %s and %s", wire.String(sp.lower), other)
		}
		seen[h] = wire.String(sp.lower)
		c.renderName(h, sp)
	}
	// The program walks the query name's suffixes from the root down and
	// stops at the first unknown one, so every ancestor of a zone apex
	// needs an entry; queries that end on one are in no zone: passed up.
	for _, z := range c.set.Zones() {
		for p, i := z.Origin.Lower, 0; len(p) > 1 && i < wire.MaxLabels; i++ {
			p = wire.Parent(p)
			h := HashName(p)
			if _, ok := c.img.Names[h]; !ok {
				c.img.Names[h] = NameEntry{}
			}
		}
	}
	c.renderChaos()
	c.img.Stats.Names = len(c.img.Names)
	c.img.Stats.Answers = len(c.img.Answers)
	c.img.Stats.Templates = len(c.img.Templates) - 1
	return c.img, nil
}

// hasSigs reports whether DO=1 can change an answer from z: the zone is
// signed, or carries RRSIGs at all.
func (c *compiler) hasSigs(z *zone.Zone) bool {
	if v, ok := c.sigs[z]; ok {
		return v
	}
	v := z.Signed
	for _, rr := range z.Records {
		if v {
			break
		}
		v = rr.Type == dns.TypeRRSIG
	}
	c.sigs[z] = v
	return v
}

func (c *compiler) collect(specs map[string]*nameSpec, z *zone.Zone, n *zone.Node) {
	sp := specs[string(n.Name.Lower)]
	if sp == nil {
		sp = &nameSpec{lower: n.Name.Lower, exact: map[uint16]bool{}, below: map[uint16]bool{},
			exactOpen: true, belowOpen: true}
		specs[string(n.Name.Lower)] = sp
	}
	if c.hasSigs(z) {
		sp.signed = true
	}
	sp.exact[dns.TypeDS] = true
	if n.Has(zone.FlagDelegation) || n.Has(zone.FlagBelowCut) {
		// Every type but DS at the cut gets the referral: the default.
		if n.Has(zone.FlagDelegation) {
			sp.delegation = true
			c.img.Stats.Delegations++
		}
		return
	}
	for _, s := range n.Sets {
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
		if w := z.Node(wire.Wildcard(n.Name.Lower)); w != nil {
			for _, s := range w.Sets {
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

// renderName renders the templates of one name: per listed type, and a
// default for the others, for exact and below-name queries, DO off and on.
func (c *compiler) renderName(h NameHash, sp *nameSpec) {
	var entry NameEntry
	other := otherType(sp)
	for do := 0; do < c.variants(sp); do++ {
		if sp.exactOpen {
			entry.ExactDefault[do] = c.exactTemplate(sp.lower, other, do == 1)
		}
		if sp.belowOpen {
			entry.BelowDefault[do] = c.belowTemplate(sp.lower, other, do == 1)
		}
	}
	if c.variants(sp) == 1 {
		entry.ExactDefault[1], entry.BelowDefault[1] = entry.ExactDefault[0], entry.BelowDefault[0]
	}
	c.img.Names[h] = entry
	c.typed(h, sp, sp.exact, ModeExact, entry.ExactDefault)
	c.typed(h, sp, sp.below, ModeBelow, entry.BelowDefault)
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

// typed adds the per-type templates that differ from the default.
func (c *compiler) typed(h NameHash, sp *nameSpec, types map[uint16]bool, mode uint16, def [2]uint32) {
	lower := sp.lower
	list := make([]uint16, 0, len(types))
	for t := range types {
		if !neverInXDP(t) {
			list = append(list, t)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i] < list[j] })
	for _, t := range list {
		var ids [2]uint32
		for do := 0; do < c.variants(sp); do++ {
			if mode == ModeExact {
				ids[do] = c.exactTemplate(lower, t, do == 1)
			} else {
				ids[do] = c.belowTemplate(lower, t, do == 1)
			}
		}
		if c.variants(sp) == 1 {
			ids[1] = ids[0]
		}
		if ids != def {
			c.img.Answers[AnswerKey{Name: h, QType: t, Mode: mode}] = ids
		}
	}
}

// otherType is a type no RRset of the name has, rendered as the default.
func otherType(sp *nameSpec) uint16 {
	for t := uint16(65280); ; t++ {
		if !sp.exact[t] && !sp.below[t] {
			return t
		}
	}
}

func (c *compiler) exactTemplate(lower []byte, qtype uint16, do bool) uint32 {
	c.img.Stats.Renders++
	return c.add(c.e.Precompute(lower, qtype, dns.ClassINET, do))
}

// belowTemplate renders the answer for names strictly below lower. It is
// rendered for two probe names of different lengths; unless both give the
// same template (after relocation), the answer depends on the query name
// itself (DNAME synthesis, NSEC/NSEC3 proofs of a signed NXDOMAIN) and is
// left to userspace.
func (c *compiler) belowTemplate(lower []byte, qtype uint16, do bool) uint32 {
	p1 := append([]byte("\x0fxdpdns-probe-aa"), lower...)
	p2 := append([]byte("\x01b\x0cxdpdns-probe"), lower...)
	if len(p1) > wire.MaxNameLen || c.exists(p1) || c.exists(p2) {
		return Pass
	}
	c.img.Stats.Renders += 2
	a := c.e.Precompute(p1, qtype, dns.ClassINET, do)
	b := c.e.Precompute(p2, qtype, dns.ClassINET, do)
	if do && a.Kind != engine.KindReferral {
		// In a signed zone the denial (NSEC/NSEC3 covering the name) or
		// the wildcard proof depends on the query name: two probes may
		// share a cover by chance, so never trust them here.
		if z := c.set.Find(p1); z != nil && z.Signed {
			c.img.Stats.PassedTemplates++
			return Pass
		}
	}
	if key(toTemplate(a)) != key(toTemplate(b)) {
		c.img.Stats.PassedTemplates++
		return Pass
	}
	return c.add(a)
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
			p := c.e.Precompute(lower, dns.TypeTXT, dns.ClassCHAOS, do == 1)
			if p.Kind == engine.KindChaos && p.Rcode == 0 {
				ids[do] = c.add(p)
			}
		}
		if ids != [2]uint32{} {
			c.img.Answers[AnswerKey{Name: HashName(lower), QType: dns.TypeTXT, Mode: ModeChaos}] = ids
		}
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
		Flags:   uint16(p.Rcode & FlagRcode),
		Kind:    uint16(p.Kind),
	}
	if p.AA {
		t.Flags |= FlagAA
	}
	return t
}

func key(t Template) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d/%d/%d/%d/%d/%d/%v/", t.BodyLen, t.ReqLen, t.AN, t.NS, t.AR, t.Flags, t.Kind, t.Relocs)
	b.Write(t.Body)
	return b.String()
}

// add stores a rendering as a template (once per distinct content) and
// returns its id, or Pass when XDP cannot serve it.
func (c *compiler) add(p engine.Precomputed) uint32 {
	if p.Truncated || p.Kind == engine.KindError || p.Kind == engine.KindRefused || p.Rcode > 15 {
		c.img.Stats.PassedTemplates++
		return Pass
	}
	t := toTemplate(p)
	if len(t.Relocs) > MaxRelocs {
		c.img.Stats.PassedTemplates++
		return Pass
	}
	if t.BodyLen > MaxBody {
		t.Flags |= FlagTooBig
		t.Body, t.Relocs = nil, nil
	}
	k := key(t)
	if id, ok := c.dedup[k]; ok {
		return id
	}
	id := uint32(len(c.img.Templates))
	c.img.Templates = append(c.img.Templates, t)
	c.img.Stats.BodyBytes += len(t.Body)
	c.dedup[k] = id
	return id
}
