package zone

import (
	"slices"
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// recompute sets the flags, NSEC3 hashes and warnings of every name whose
// facts the change may have moved, with Load's checks: the names it
// changed, created or deleted, the parent of a wildcard among them (its
// wildcard child flag), every name below a name that became or stopped
// being a delegation (below the cut or not), and, for their missing glue
// warnings, the apex and the delegations above a changed name.
func (a *applier) recompute() error {
	z, b := a.old, a.b
	touched := map[string]bool{}
	for key, n := range a.work {
		touched[key] = true
		if wire.IsWildcard([]byte(key)) {
			touched[string(wire.Parent([]byte(key)))] = true
		}
		old := z.nodes.getString(key)
		if n == nil || old == nil || old.Has(FlagDelegation) == (ownFlags(n, old.Has(FlagApex))&FlagDelegation != 0) {
			continue
		}
		a.descendants([]byte(key), func(name []byte) {
			if a.get(name) != nil {
				touched[string(name)] = true
			}
		})
	}
	// Drop the old warnings of what is recomputed: the touched names, the
	// NSEC3 nodes, the missing glue of the delegations above changes.
	glue := a.glueChecks(touched)
	drop := map[warnKey]bool{}
	for key := range touched {
		drop[warnKey{name: key}] = true
		drop[warnKey{name: key, glue: true}] = true
	}
	for key := range glue {
		drop[warnKey{name: key, glue: true}] = true
	}
	for key := range a.work3 {
		drop[warnKey{name: key, nsec3: true}] = true
	}
	a.nz.Warnings, a.nz.warnOwners = nil, nil
	for i, w := range z.Warnings {
		k := z.warnOwners[i]
		k.timed = false
		if !drop[k] {
			a.nz.Warnings = append(a.nz.Warnings, w)
			a.nz.warnOwners = append(a.nz.warnOwners, z.warnOwners[i])
		}
	}

	// First pass: the flags of each name alone, and the wildcard child.
	live := make([]*Node, 0, len(touched))
	for key := range touched {
		n := a.get([]byte(key))
		if n == nil {
			continue
		}
		if !a.owned[n] {
			c := *n // the sets stay shared: only facts change
			n = &c
			a.owned[n] = true
			a.work[key] = n
		}
		n.Flags = ownFlags(n, key == string(z.Origin.Lower))
		if a.get(wire.Wildcard(n.Name.Lower())) != nil {
			n.Flags |= FlagWildcardChild
		}
		if err := b.checkCovered(n); err != nil {
			return err
		}
		live = append(live, n)
	}
	// Second pass: below the cut (the delegations above all flagged by
	// now), the checks, the warnings, the NSEC3 hash.
	for _, n := range live {
		if err := b.checkAll(n); err != nil {
			return err
		}
		switch {
		case z.NSEC3 == nil || n.Has(FlagBelowCut):
			n.hash = 0
		case n.hash == 0:
			a.nz.setNSEC3Hash(n, z.HashName(n.Name.Lower()))
		}
	}
	for key := range glue {
		if !touched[key] {
			b.checkNSAddresses(a.get([]byte(key)))
		}
	}
	for _, n := range a.work3 {
		if n == nil {
			continue
		}
		if err := b.checkNSEC3Node(n); err != nil {
			return err
		}
		b.ttlWarnings(nsec3Key(n), n)
		if err := b.checkSignatures(nsec3Key(n), n); err != nil {
			return err
		}
	}
	// A name only touched whose facts came out as they were keeps its
	// old node.
	for key, n := range a.work {
		if old := z.nodes.getString(key); n != nil && old != nil && !a.records[key] &&
			n.Flags == old.Flags && n.hash == old.hash {
			delete(a.work, key)
		}
	}
	return nil
}

// glueChecks lists the names whose in-bailiwick name servers may have
// gained or lost their address with the change: the apex and the
// delegations at or above each changed name.
func (a *applier) glueChecks(touched map[string]bool) map[string]bool {
	out := map[string]bool{string(a.old.Origin.Lower): true}
	origin := a.old.Origin.Lower
	for key := range a.work {
		p := []byte(key)
		for i := 0; i < wire.MaxLabels && len(p) > len(origin); i++ {
			if n := a.get(p); n != nil && ownFlags(n, false)&FlagDelegation != 0 {
				out[string(p)] = true
			}
			p = wire.Parent(p)
		}
	}
	return out
}

// nsec3Chain is the new version's NSEC3 chain.
func (a *applier) nsec3Chain() chunked[*Node] {
	if len(a.work3) == 0 {
		return a.old.nsec3Chain
	}
	e := a.old.nsec3Chain.edit()
	for key, n := range a.work3 {
		cmp := func(c *Node) int { return cmpHash(c.ChainLabel(), []byte(key)) }
		if n == nil || len(n.Sets()) == 0 {
			a.work3[key] = nil
			e.del(cmp)
			continue
		}
		e.put(cmp, n, true)
	}
	return e.done()
}

// finish sets the new version's chains, maps, indexes and zone facts.
func (a *applier) finish(nsec3 chunked[*Node]) error {
	z, nz := a.old, a.nz
	nz.nsec3Chain = nsec3
	nz.nsec3ByKey = z.nsec3ByKey.with(a.work3)

	idx := z.index()
	names := idx.names.edit()
	nsec := z.nsecChain.edit()
	hasNSEC := func(n *Node) bool {
		if n == nil {
			return false
		}
		s := n.Set(dns.TypeNSEC)
		return s != nil && len(s.RRs()) > 0
	}
	for key, n := range a.work {
		k := []byte(key)
		old := z.nodes.getString(key)
		switch {
		case !z.deep(k):
		case n != nil:
			names.put(cmpNode(k), n, true) // new, or this version's copy
		case old != nil:
			names.del(cmpNode(k))
		}
		switch {
		case n != nil && hasNSEC(n):
			nsec.put(func(c *Node) int { return wire.Compare(c.Name.Lower(), k) }, n, true)
		case old != nil && hasNSEC(old):
			nsec.del(func(c *Node) int { return wire.Compare(c.Name.Lower(), k) })
		}
	}
	nz.nsecChain = nsec.done()
	exps := idx.exps.edit()
	for _, e := range a.delExps {
		countExp(exps, e, -1)
	}
	for _, e := range a.addExps {
		countExp(exps, e, 1)
	}
	l := nz.lazy
	l.idxOnce.Do(func() { l.names, l.exps = names.done(), exps.done() })
	nz.nodes = z.nodes.with(a.work)
	nz.nrecords = z.nrecords + a.added - a.deleted
	nz.nsigs = z.nsigs + len(a.addExps) - len(a.delExps)
	nz.SigExpiration = time.Time{}
	if first, ok := l.exps.first(); ok {
		nz.SigExpiration = time.Unix(first.exp, 0)
		if first.exp < a.b.opt.now().Unix() {
			return a.expiredSig(first.exp)
		}
	}
	nz.Apex = nz.nodes.get(z.Origin.Lower)
	nz.SOA = nz.Apex.Set(dns.TypeSOA)
	a.carryHashIndex()
	a.b.setSigned()
	return nil
}

// expiredSig finds the RRSIG that expired at exp, left from the old
// version, for Load's refusal (rare: a scan).
func (a *applier) expiredSig(exp int64) error {
	var at *RR
	find := func(n *Node) {
		for s := range n.EachSet {
			for _, rr := range s.Sigs() {
				if at == nil && sigExpiration(rr) == exp {
					at = rr
				}
			}
		}
	}
	a.nz.nodes.each(find)
	a.nz.nsec3ByKey.each(find)
	if at == nil {
		return a.b.errf(nil, "an RRSIG expired")
	}
	return a.b.errf(at, "RRSIG %s for %s expired on %s", dns.Type(sigCovered(at)), wire.String(at.Owner.Wire()), dns.TimeToString(sigExpirationField(at)))
}

// changed lists what changed, names in canonical order.
func (a *applier) changed() *Changed {
	c := &Changed{}
	for key := range a.work {
		c.Names = append(c.Names, []byte(key))
	}
	slices.SortFunc(c.Names, wire.Compare)
	for key := range a.work3 {
		c.NSEC3 = append(c.NSEC3, key)
	}
	slices.Sort(c.NSEC3)
	return c
}
