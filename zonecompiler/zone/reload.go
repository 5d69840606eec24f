package zone

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// ReloadFile reads the zone file path again for the version served, and
// returns the new version with what changed. A file that is still the one
// served was read from (every Source current) is not read: served comes
// back with nil Changed. Otherwise the file is read record by record and
// compared with served, without building a second copy of the zone: the
// difference goes through Apply (Load's checks on the names it touches;
// warnings of the others carried over), and the new version's Sources are
// the file's. When the difference is large (more than a quarter of the
// records: a zone signed again) the file is loaded whole instead
// (LoadFileContext), and Changed is nil.
func ReloadFile(ctx context.Context, served *Zone, path string, opt Options) (*Zone, *Changed, error) {
	origin := served.Name()
	if len(served.Sources) > 0 && served.File == path && current(served.Sources) {
		return served, nil, nil
	}
	nz, changed, err := reloadDiff(ctx, served, path, opt)
	if errors.Is(err, errLargeChange) {
		z, err := LoadFileContext(ctx, origin, path, opt)
		return z, nil, err
	}
	return nz, changed, err
}

// current reports whether every file is still the one read.
func current(sources []Source) bool {
	for _, s := range sources {
		if s.Current() != nil {
			return false
		}
	}
	return true
}

// errLargeChange stops reloadDiff: loading the file whole is cheaper.
var errLargeChange = errors.New("the file differs in too many records")

// largeChange is how many differing records make ReloadFile load the
// file whole: a quarter of the zone, at least 10,000.
func largeChange(z *Zone) int { return max(10000, z.RecordCount()/4) }

// reloadDiff reads path, compares it with served record by record and
// applies the difference.
func reloadDiff(ctx context.Context, served *Zone, path string, opt Options) (*Zone, *Changed, error) {
	origin := served.Name()
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, fmt.Errorf("zone %s: %w", origin, err)
	}
	rd := &reading{budget: opt.maxFileSize()}
	f, err := openZoneFile(ctx, abs, path, rd)
	if err != nil {
		var ze *Error
		if errors.As(err, &ze) {
			return nil, nil, ze
		}
		return nil, nil, fmt.Errorf("zone %s: %w", origin, err)
	}
	defer f.Close()
	limit := largeChange(served)
	// matched: the served records the file holds too; the file's other
	// records are the change's additions.
	matched := newRecordMarks(served)
	var ch Change
	var share sharing
	// Each record is looked up in its wire form, packed into share's
	// buffer and viewed through one scratch record: a file of millions
	// of records allocates for those that differ only (Apply compiles
	// them), and the reload's peak memory stays near the served zone's.
	var scratch RR
	var owner wire.Packed
	err = scan(ctx, f, origin, path, abs, rd, func(parsed dns.RR, file string, line int) error {
		buf, off, err := packRR(parsed, &share)
		if err != nil {
			return &Error{File: file, Line: line, Reason: fmt.Sprintf("cannot encode record: %v", err)}
		}
		h := parsed.Header()
		owner = wire.NewPacked(buf[:off:off])
		scratch = RR{Owner: &owner, Type: h.Rrtype, TTL: h.Ttl}
		scratch.setClass(h.Class)
		scratch.setRData(buf[off+10:])
		if old, nsec3, slot, ord := served.holding(&scratch); old != nil {
			matched.mark(old, nsec3, slot, ord)
			return nil
		}
		if len(ch.Add) >= limit {
			return errLargeChange
		}
		ch.Add = append(ch.Add, parsed)
		ch.AddFrom = append(ch.AddFrom, Pos{File: file, Line: line})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	large := false
	matched.unmarked(served, func(rr *RR) bool {
		if len(ch.Del) >= limit {
			large = true
			return false
		}
		ch.Del = append(ch.Del, rr.Src())
		return true
	})
	if large {
		return nil, nil, errLargeChange
	}
	matched = nil
	if len(ch.Add) == 0 && len(ch.Del) == 0 {
		c := *served
		c.Sources = rd.sources
		return &c, &Changed{}, nil
	}
	nz, changed, err := Apply(served, ch, opt)
	if err != nil {
		var ze *Error
		if errors.As(err, &ze) {
			return nil, nil, ze // the file's refusal, at its file and line
		}
		return nil, nil, err
	}
	nz.Sources = rd.sources
	return nz, changed, nil
}

// holding returns the record of z that rr repeats (Load would drop rr as
// a duplicate of it) with the same TTL, or nil; and where it is for
// recordMarks: whether its node is an NSEC3 one, the node's slot in its
// table, the record's place among the node's.
func (z *Zone) holding(rr *RR) (old *RR, nsec3 bool, slot, ord int) {
	var n *Node
	if nsec3 = isNSEC3Record(rr); nsec3 {
		if p := wire.Parent(rr.Owner.Lower()); string(p) != string(z.Origin.Lower) || rr.Owner.Lower()[0] == 0 {
			return nil, false, 0, 0
		}
		n, slot = z.nsec3ByKey.getSlot(nsec3Label(rr.Owner.Lower()))
	} else {
		n, slot = z.nodes.getSlot(mapKey(rr.Owner.Lower()))
	}
	if n == nil {
		return nil, false, 0, 0
	}
	set := n.Set(setType(rr))
	if set == nil {
		return nil, false, 0, 0
	}
	for _, old := range set.listOf(rr) {
		// The same bytes: a new spelling of the owner or of a name in
		// RDATA is a change too (the served record is deleted, the new
		// one added).
		if old.class == rr.class && old.TTL == rr.TTL && slices.Equal(old.RData(), rr.RData()) &&
			slices.Equal(old.Owner.Wire(), rr.Owner.Wire()) {
			return old, nsec3, slot, ordinal(n, old)
		}
	}
	return nil, false, 0, 0
}
