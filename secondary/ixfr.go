package secondary

import (
	"errors"
	"fmt"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// ixfrChanges reads the body of an incremental IXFR (RFC 1995 §4: the
// records between the opening and the closing SOA), sequences of SOA(old)
// deletions SOA(new) additions, as one zone.Change per sequence, the SOAs
// included (the old one deleted, the new one added).
func ixfrChanges(body []dns.RR) ([]zone.Change, error) {
	var out []zone.Change
	for i := 0; i < len(body); {
		oldSOA, ok := body[i].(*dns.SOA)
		if !ok {
			return nil, errors.New("IXFR: a sequence does not start with an SOA")
		}
		ch := zone.Change{Del: []dns.RR{oldSOA}}
		for i++; i < len(body); i++ {
			if _, isSOA := body[i].(*dns.SOA); isSOA {
				break
			}
			ch.Del = append(ch.Del, body[i])
		}
		if i >= len(body) {
			return nil, errors.New("IXFR: a sequence has no new SOA")
		}
		ch.Add = append(ch.Add, body[i])
		for i++; i < len(body); i++ {
			if _, isSOA := body[i].(*dns.SOA); isSOA {
				break
			}
			ch.Add = append(ch.Add, body[i])
		}
		out = append(out, ch)
	}
	return out, nil
}

// applyServed applies an incremental IXFR to the version served now with
// zone.Apply, which checks the result as a load would, in time
// proportional to the change rather than to the zone, and returns the new
// version's records (its SOA first) with checked set. It returns checked
// false, and no error, when it cannot: a whole zone, no served version,
// or one at another serial than the transfer starts from; apply then
// works from the copy on disk. An error is the transfer's fault: a
// deletion of a record the served version does not hold, a result the
// checks refuse.
// Applied is a version a secondary made with zone.Apply from the served
// one: the zone, and when Known the names whose data changed (as
// zone.Apply reports them; unknown when the NSEC3 parameters changed).
type Applied struct {
	Zone    *zone.Zone
	Changed [][]byte
	Known   bool
}

func (zl *zoneLoop) applyServed(rrs []dns.RR, incremental bool) (records []dns.RR, applied *Applied, err error) {
	if !incremental || zl.m.cfg.Served == nil || len(rrs) < 3 {
		return nil, nil, nil
	}
	first, ok1 := rrs[0].(*dns.SOA)
	last, ok2 := rrs[len(rrs)-1].(*dns.SOA)
	from, ok3 := rrs[1].(*dns.SOA)
	if !ok1 || !ok2 || !ok3 || first.Serial != last.Serial {
		return nil, nil, nil // not an incremental answer: apply decides
	}
	z := zl.m.cfg.Served(zl.origin)
	if z == nil || z.Serial != from.Serial {
		return nil, nil, nil
	}
	changes, err := ixfrChanges(rrs[1 : len(rrs)-1])
	if err != nil {
		return nil, nil, err
	}
	applied = &Applied{}
	seen := make(map[string]bool)
	known := true
	for _, ch := range changes {
		var c *zone.Changed
		if z, c, err = zone.Apply(z, ch, zl.m.cfg.ZoneOptions); err != nil {
			return nil, nil, fmt.Errorf("IXFR: %w", err)
		}
		// A change that rebuilt the zone whole says no names.
		known = known && !c.All
		for _, n := range c.Owners(z.Origin.Lower) {
			if !seen[string(n)] {
				seen[string(n)] = true
				applied.Changed = append(applied.Changed, n)
			}
		}
	}
	if !known {
		applied.Changed = nil
	}
	applied.Zone, applied.Known = z, known
	if z.Serial != first.Serial {
		return nil, nil, fmt.Errorf("IXFR ends at serial %d, not the %d it announced", z.Serial, first.Serial)
	}
	soa := z.SOA.RRs()[0]
	records = append(make([]dns.RR, 0, z.RecordCount()), soa.Src())
	for rr := range z.Records() {
		if rr != soa {
			records = append(records, rr.Src())
		}
	}
	return records, applied, nil
}
