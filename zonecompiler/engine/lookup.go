package engine

import (
	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

var noOwner wire.Name

// lookup decides the answer to (qname, qtype) in class IN.
func (e *Engine) lookup(a *answer, zs *zone.Set, qname wire.Name, qtype uint16) {
	z := zs.Find(qname.Lower)
	if z == nil {
		a.rcode, a.kind = dns.RcodeRefused, KindRefused
		return
	}
	// DS lives on the parent side of a cut (RFC 4035 §3.1.4.1).
	if qtype == dns.TypeDS && string(qname.Lower) == string(z.Origin.Lower) {
		if p := zs.Parent(z); p != nil {
			z = p
		}
	}
	// An expired secondary zone (expire-policy servfail) has no data it
	// may vouch for: SERVFAIL without AA, as NSD and Knot answer.
	if z.Expired {
		a.rcode, a.kind = dns.RcodeServerFailure, KindError
		return
	}
	a.z = z
	a.aa = true
	a.kind = KindAnswer
	e.resolve(a, z, qname, qtype, 0)
}

// resolve answers name in zone z; depth counts CNAME/DNAME links followed.
func (e *Engine) resolve(a *answer, z *zone.Zone, name wire.Name, qtype uint16, depth int) {
	a.chain[a.nchain] = name.Lower
	a.nchain++
	total := wire.Labels(name.Lower)
	base := wire.Labels(z.Origin.Lower)
	ce := z.Apex
	exact := total == base
	// Walk down from the apex, one label at a time: the first cut or
	// DNAME on the way decides the answer; otherwise we reach the name
	// (exact match) or its closest encloser.
	for k := base + 1; k <= total && k-base < wire.MaxLabels; k++ {
		anc := wire.Suffix(name.Lower, k)
		n := z.Node(anc)
		if n == nil {
			break
		}
		ce = n
		atName := k == total
		if n.Has(zone.FlagDelegation) && !(atName && qtype == dns.TypeDS) {
			e.referral(a, z, n, depth)
			return
		}
		if n.Has(zone.FlagDNAME) && !atName {
			e.dname(a, z, n, name, qtype, depth)
			return
		}
		if atName {
			exact = true
		}
	}
	if exact {
		e.exact(a, z, ce, name, noOwner, qtype, depth)
		return
	}
	if ce.Has(zone.FlagWildcardChild) {
		w := z.Node(wire.Wildcard(ce.Name.Lower()))
		if w != nil {
			e.wildcard(a, z, ce, w, name, qtype, depth)
			return
		}
	}
	e.nxdomain(a, z, ce, name)
}

// exact answers at node n; owner replaces the records' owner for wildcard
// synthesis (noOwner otherwise).
func (e *Engine) exact(a *answer, z *zone.Zone, n *zone.Node, name, owner wire.Name, qtype uint16, depth int) {
	switch qtype {
	case dns.TypeANY:
		e.any(a, n, owner)
		return
	case dns.TypeRRSIG:
		if e.rrsigs(a, n, owner) {
			return
		}
	}
	// Data of the asked type first: NSEC sits beside a CNAME and is
	// answered, not followed.
	if s := n.Set(qtype); s != nil && len(s.RRs()) > 0 {
		a.addSet(&a.an, s, owner, 0, false)
		e.additionalFor(a, z, s)
		return
	}
	if n.Has(zone.FlagCNAME) {
		cn := n.Set(dns.TypeCNAME)
		a.addSet(&a.an, cn, owner, 0, false)
		if depth == 0 && a.kind == KindAnswer {
			a.kind = KindCNAME
		}
		e.follow(a, z, cn.RRs()[0].RData(), cn.RRs()[0].RDataLower(), qtype, depth)
		return
	}
	// NODATA (RFC 2308 §2.2).
	if depth == 0 {
		a.kind = KindNoData
	}
	e.addSOA(a, z)
	if !a.do || !z.Signed {
		return
	}
	if z.NSEC3 == nil {
		if s := n.Set(dns.TypeNSEC); s != nil && len(s.RRs()) > 0 {
			if depth == 0 && qtype == dns.TypeDS && n.Has(zone.FlagDelegation) {
				// An insecure delegation's DS NODATA: its own NSEC is
				// written as in its parent's chain view, its owner
				// compressed from the parent up, so that the program can
				// fill it in (PrecomputeDenialExact: one template for
				// every such delegation of the parent, which a new serial
				// rewrites once).
				a.compressFrom = wire.Parent(n.Name.Lower())
				if a.slotSelf && a.nchain == 1 {
					a.takeSlot()
					return
				}
			}
			a.addProof(z, s)
		} else if c := z.NSECCover(n.Name.Lower()); c != nil {
			// An empty non-terminal owns no NSEC: the NSEC that covers
			// it proves that nothing but its descendants exist.
			a.addProof(z, c.Set(dns.TypeNSEC))
		}
		return
	}
	if m := z.NSEC3Match(z.NSEC3Hash(n)); m != nil {
		a.addProof(z, m.Set(dns.TypeNSEC3))
		return
	}
	// No NSEC3 for this name: only possible under opt-out (an insecure
	// delegation, or an empty non-terminal above one). Prove the closest
	// provable encloser and cover the next closer name (RFC 5155 §7.2.4).
	e.closestEncloserProof(a, z, n.Name.Lower(), a.slotMode && a.nchain == 1 && depth == 0)
}

// follow continues a CNAME chain to target when it is in the same zone.
func (e *Engine) follow(a *answer, z *zone.Zone, target, lower []byte, qtype uint16, depth int) {
	if depth+1 >= MaxChain || !wire.IsSubdomain(lower, z.Origin.Lower) {
		return
	}
	for i := 0; i < a.nchain; i++ {
		if string(a.chain[i]) == string(lower) {
			return // a loop: answer with the chain so far
		}
	}
	e.resolve(a, z, wire.Name{Wire: target, Lower: lower}, qtype, depth+1)
}

// any answers qtype ANY per RFC 8482: over UDP one RRset (the first by
// type, RRSIG and NSEC left out), over TCP every RRset.
func (e *Engine) any(a *answer, n *zone.Node, owner wire.Name) {
	found := false
	for s := range n.EachSet {
		if len(s.RRs()) == 0 || s.Type == dns.TypeNSEC {
			continue
		}
		a.addSet(&a.an, s, owner, 0, false)
		found = true
		if !a.tcp {
			break
		}
	}
	if !found {
		a.kind = KindNoData
		e.addSOA(a, a.z)
	}
}

// rrsigs answers qtype RRSIG with every signature at the node.
func (e *Engine) rrsigs(a *answer, n *zone.Node, owner wire.Name) bool {
	found := false
	for s := range n.EachSet {
		for _, rr := range s.Sigs() {
			a.an = append(a.an, item{rr: rr, owner: owner, setStart: !found})
			found = true
		}
	}
	return found
}

// referral answers for a name at or below the delegation point d.
func (e *Engine) referral(a *answer, z *zone.Zone, d *zone.Node, depth int) {
	if depth == 0 {
		a.aa = false
		a.kind = KindReferral
		a.rrlName = d.Name.Lower()
		a.compressFrom = d.Name.Lower()
	}
	ns := d.Set(dns.TypeNS)
	a.addSetNoSig(&a.ns, ns)
	if a.do && z.Signed {
		if ds := d.Set(dns.TypeDS); ds != nil && len(ds.RRs()) > 0 {
			a.addSet(&a.ns, ds, noOwner, 0, false)
		} else if z.NSEC3 == nil {
			a.addProof(z, d.Set(dns.TypeNSEC))
		} else if m := z.NSEC3Match(z.NSEC3Hash(d)); m != nil {
			a.addProof(z, m.Set(dns.TypeNSEC3))
		} else {
			// Opt-out (RFC 5155 §7.2.7): the cover of the delegation's
			// own hash is the program's to fill when the query is for
			// the delegation itself (PrecomputeDenialExact).
			self := a.slotSelf && a.nchain == 1 && depth == 0 &&
				string(a.chain[0]) == string(d.Name.Lower())
			e.closestEncloserProof(a, z, d.Name.Lower(), self)
		}
	}
	// Glue: in-domain glue is required, sibling glue and other in-zone
	// addresses are added while they fit (RFC 9471).
	for _, rr := range ns.RRs() {
		if wire.IsSubdomain(rr.RDataLower(), d.Name.Lower()) {
			e.addAddresses(a, z, rr.RDataLower())
		}
	}
	a.arRequired = len(a.ar)
	for _, rr := range ns.RRs() {
		if !wire.IsSubdomain(rr.RDataLower(), d.Name.Lower()) {
			e.addAddresses(a, z, rr.RDataLower())
		}
	}
}

func (a *answer) addSetNoSig(sec *[]item, s *zone.RRset) {
	first := true
	for _, rr := range s.RRs() {
		*sec = append(*sec, item{rr: rr, setStart: first})
		first = false
	}
}

// addAddresses appends the A and AAAA RRsets of an in-zone name to the
// additional section (with signatures when authoritative and DO is set).
func (e *Engine) addAddresses(a *answer, z *zone.Zone, lower []byte) {
	if !wire.IsSubdomain(lower, z.Origin.Lower) {
		return
	}
	n := z.Node(lower)
	if n == nil || n.Has(zone.FlagCNAME) {
		return
	}
	for _, t := range [2]uint16{dns.TypeA, dns.TypeAAAA} {
		s := n.Set(t)
		if s == nil || len(s.RRs()) == 0 || has(a.ar, s) || has(a.an, s) {
			continue
		}
		a.addSet(&a.ar, s, noOwner, 0, false)
	}
}

// additionalFor adds the addresses of in-zone targets of NS, MX and SRV
// answers (RFC 1034 §3.6.2 additional section processing).
func (e *Engine) additionalFor(a *answer, z *zone.Zone, s *zone.RRset) {
	switch s.Type {
	case dns.TypeNS, dns.TypeMX:
		for _, rr := range s.RRs() {
			off, _ := rr.Names()
			target := rr.RDataLower()[off:]
			e.addAddresses(a, z, target)
		}
	case dns.TypeSRV:
		for _, rr := range s.RRs() {
			if rd := rr.RData(); len(rd) > 6 {
				e.addAddresses(a, z, wire.ToLower(rd[6:]))
			}
		}
	}
}

// dname synthesises a CNAME from the DNAME at node d (RFC 6672 §3.3).
func (e *Engine) dname(a *answer, z *zone.Zone, d *zone.Node, name wire.Name, qtype uint16, depth int) {
	if depth == 0 {
		a.kind = KindCNAME
	}
	ds := d.Set(dns.TypeDNAME)
	a.addSet(&a.an, ds, noOwner, 0, false)
	rr := ds.RRs()[0]
	prefix := len(name.Wire) - len(d.Name.Wire())
	if prefix+rr.RDLength() > wire.MaxNameLen {
		a.rcode = dns.RcodeYXDomain
		return
	}
	if a.nsynth >= len(a.synthBuf) {
		return
	}
	buf := a.synthBuf[a.nsynth][:0]
	a.nsynth++
	buf = append(buf, name.Wire[:prefix]...)
	buf = append(buf, rr.RData()...)
	target := buf
	lower := a.synthLower[a.nsynth-1][:len(target)]
	wire.LowerInto(lower, target)
	a.an = append(a.an, item{rr: rr, owner: name, ttl: ds.TTL, ttlSet: true, synth: target, synthLower: lower, setStart: true})
	if qtype == dns.TypeCNAME {
		return // the synthesised CNAME is the answer (RFC 6672 §3.2)
	}
	e.follow(a, z, target, lower, qtype, depth)
}

// wildcard synthesises the answer for name from the wildcard node w below
// the closest encloser ce (RFC 4592).
func (e *Engine) wildcard(a *answer, z *zone.Zone, ce, w *zone.Node, name wire.Name, qtype uint16, depth int) {
	if depth == 0 {
		a.kind = KindWildcard
		a.rrlName = w.Name.Lower()
	}
	an := len(a.an)
	e.exact(a, z, w, name, name, qtype, depth)
	if !a.do || !z.Signed {
		return
	}
	// Whatever the wildcard gave (answer, CNAME or NODATA), prove that
	// the name itself does not exist (RFC 4035 §3.1.3.3, RFC 5155 §7.2.6).
	e.proveNoName(a, z, ce, name.Lower, false)
	if len(a.an) == an && z.NSEC3 != nil {
		// Wildcard NODATA with NSEC3 also proves the closest encloser
		// (RFC 5155 §7.2.5); exact() added the wildcard's own NSEC3.
		if m := z.NSEC3Match(z.NSEC3Hash(ce)); m != nil {
			a.addProof(z, m.Set(dns.TypeNSEC3))
		}
	}
}

// nxdomain answers a name that does not exist below closest encloser ce.
func (e *Engine) nxdomain(a *answer, z *zone.Zone, ce *zone.Node, name wire.Name) {
	if a.nchain == 1 {
		a.kind = KindNXDomain
		a.rrlName = z.Origin.Lower
	}
	a.rcode = dns.RcodeNameError
	e.addSOA(a, z)
	if a.do && z.Signed {
		e.proveNoName(a, z, ce, name.Lower, true)
	}
}

// proveNoName adds the denial that name exists; with wildcard it also
// denies the wildcard at the closest encloser (a full NXDOMAIN proof).
func (e *Engine) proveNoName(a *answer, z *zone.Zone, ce *zone.Node, name []byte, withWildcard bool) {
	// The query name's own cover is the one record that depends on the
	// name: in slot mode it is left for the XDP program (a.slot).
	slot := a.slotMode && a.nchain == 1
	if z.NSEC3 == nil {
		switch {
		case slot:
			a.takeSlot()
		default:
			if c := z.NSECCover(name); c != nil {
				a.addProof(z, c.Set(dns.TypeNSEC))
			}
		}
		if withWildcard {
			if c := z.NSECCover(wire.Wildcard(ce.Name.Lower())); c != nil {
				a.addProof(z, c.Set(dns.TypeNSEC))
			}
		}
		return
	}
	// RFC 5155 §7.2.1-2: closest encloser (only for NXDOMAIN), next
	// closer name covered, wildcard at the closest encloser covered.
	if withWildcard {
		if m := z.NSEC3Match(z.NSEC3Hash(ce)); m != nil {
			a.addProof(z, m.Set(dns.TypeNSEC3))
		}
	}
	var h zone.HashLabel
	nc := wire.Suffix(name, wire.Labels(ce.Name.Lower())+1)
	if slot {
		a.takeSlot()
	} else if z.Hash(nc, &h) {
		if c := z.NSEC3Cover(h[:]); c != nil {
			a.addProof(z, c.Set(dns.TypeNSEC3))
		}
	}
	if withWildcard {
		var wb [wire.MaxNameLen + 2]byte
		z.Hash(append(append(wb[:0], 1, '*'), ce.Name.Lower()...), &h)
		if c := z.NSEC3Cover(h[:]); c != nil {
			a.addProof(z, c.Set(dns.TypeNSEC3))
		}
	}
}

// takeSlot leaves the denial slot at the end of the authority section.
func (a *answer) takeSlot() {
	if a.slot >= 0 {
		a.slotBad = true
		return
	}
	a.slot = len(a.ns)
}

// closestEncloserProof proves, with NSEC3, the closest provable encloser
// of name and covers the next closer name (RFC 5155 §7.2.1). With slot,
// when the next closer name is name itself (the closest encloser is its
// parent), its cover is left for the XDP program (a.slot; the program
// takes the cover of the name it found: abi.FlagSlotSelf).
func (e *Engine) closestEncloserProof(a *answer, z *zone.Zone, name []byte, slot bool) {
	next := name
	for p, i := wire.Parent(name), 0; i < wire.MaxLabels; p, i = wire.Parent(p), i+1 {
		n := z.Node(p)
		if n != nil {
			if m := z.NSEC3Match(z.NSEC3Hash(n)); m != nil {
				a.addProof(z, m.Set(dns.TypeNSEC3))
				var h zone.HashLabel
				if slot && i == 0 {
					a.takeSlot()
					return
				}
				z.Hash(next, &h)
				if c := z.NSEC3Cover(h[:]); c != nil {
					a.addProof(z, c.Set(dns.TypeNSEC3))
				}
				return
			}
		}
		if len(p) <= len(z.Origin.Lower) {
			return
		}
		next = p
	}
}

// addProof adds an NSEC or NSEC3 RRset with its signatures to the
// authority section, once.
func (a *answer) addProof(z *zone.Zone, s *zone.RRset) {
	if s == nil || len(s.RRs()) == 0 || has(a.ns, s) {
		return
	}
	a.addSet(&a.ns, s, noOwner, 0, false)
}

// addSOA adds the zone's SOA to the authority section with the negative
// TTL min(SOA TTL, MINIMUM) (RFC 2308 §3).
func (e *Engine) addSOA(a *answer, z *zone.Zone) {
	if has(a.ns, z.SOA) {
		return
	}
	ttl := z.SOA.TTL
	if m := z.SOAMinimum(); m < ttl {
		ttl = m
	}
	a.addSet(&a.ns, z.SOA, noOwner, ttl, true)
}
