package zone

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// Change is one difference between two versions of a zone, as an IXFR
// sequence carries it (RFC 1995 §4): the records to delete, each of which
// must be in the zone, then the records to add. A record matches a record
// of the zone as dns.IsDuplicate says (RFC 2181 §5): the TTL and the case
// of the owner and of names in RDATA aside. Adding a record the zone
// holds already changes nothing, as in Load.
type Change struct {
	Del, Add []dns.RR
	// AddFrom, when set, holds the file and line of each record of Add
	// (a zone file's change: ReloadFile), which its warnings and
	// refusals name; else they quote the record.
	AddFrom []Pos
}

// Pos is where in a zone file a record ends.
type Pos struct {
	File string
	Line int
}

// Changed says what a change did to the zone.
type Changed struct {
	// Names are the lower-case wire names, in canonical order, whose
	// node changed in any way: records, RRSIGs, flags or NSEC3 hash
	// changed, created or deleted (empty non-terminals included, and
	// names that moved above or below a cut).
	Names [][]byte
	// NSEC3 are the hash labels of the NSEC3 nodes changed, created or
	// deleted.
	NSEC3 []string
	// All: the change altered a zone-wide fact (the NSEC3 parameters, or
	// NSEC3 appearing or going) and the zone was rebuilt whole: any node
	// may have changed.
	All bool
}

// Owners lists the names of the zone origin (lower-case wire form) the
// change touched: Names, and the owners of the NSEC3 records in NSEC3
// (what a consumer of the names, render.Recompile, needs to see a changed
// NSEC3 chain). Nil when the change rebuilt the zone whole (All): the
// caller compares the versions instead.
func (c *Changed) Owners(origin []byte) [][]byte {
	if c == nil || c.All {
		return nil
	}
	out := make([][]byte, 0, len(c.Names)+len(c.NSEC3))
	out = append(out, c.Names...)
	for _, h := range c.NSEC3 {
		out = append(out, append(append([]byte{byte(len(h))}, strings.ToLower(h)...), origin...))
	}
	return out
}

// Apply returns z with the change applied, checked as Load checks a zone,
// and what changed. The result is what Load would make of the changed
// record set, with two exceptions: the warnings of nodes the change did
// not touch are z's (a signature that came into the warning window since
// is not reported), and the missing-glue warning of a delegation is
// rechecked when its own name or a name at or below it changes, not when
// the address of a name server below another delegation does.
//
// z is left unchanged and keeps serving: the nodes the change touches are
// copied, the others shared. On error (a deletion of a record z does not
// hold, a check Load would fail) nothing is returned and the error names
// the record at fault.
func Apply(z *Zone, ch Change, opt Options) (*Zone, *Changed, error) {
	nz, changed, err := apply(z, ch, opt)
	if err != nil {
		return nil, nil, fmt.Errorf("zone %s: applying a change to serial %d: %w", z.Name(), z.Serial, err)
	}
	return nz, changed, nil
}

// applier holds one change being applied: the new nodes by name (nil:
// deleted) and which of them it may write.
type applier struct {
	old   *Zone
	nz    *Zone
	b     *builder
	work  map[string]*Node // names of the zone changed so far
	work3 map[string]*Node // NSEC3 nodes changed so far, by hash label
	owned map[*Node]bool   // nodes made by this change, writable
	// records: the names whose records changed; newChild: the names
	// below which a name was created.
	records, newChild map[string]bool
	added, deleted    int
	addExps, delExps  []int64
}

func apply(z *Zone, ch Change, opt Options) (*Zone, *Changed, error) {
	nz := *z
	nz.lazy = &derived{}
	nz.Sources = nil // this version is no file's
	nz.fileTTLs = maps.Clone(z.fileTTLs)
	a := &applier{
		old: z, nz: &nz,
		work: map[string]*Node{}, work3: map[string]*Node{}, owned: map[*Node]bool{},
		records: map[string]bool{}, newChild: map[string]bool{},
	}
	a.b = &builder{z: &nz, opt: opt, get: a.get}
	z.index()     // the old version's name index, built once
	z.hashIndex() // and its names by NSEC3 hash, carried from now on
	for _, rr := range ch.Del {
		if err := a.del(rr); err != nil {
			return nil, nil, err
		}
	}
	for i, rr := range ch.Add {
		at := Pos{File: z.File}
		if i < len(ch.AddFrom) {
			at = ch.AddFrom[i]
		}
		if err := a.add(rr, at); err != nil {
			return nil, nil, err
		}
	}
	a.structure()
	if err := a.b.setApex(a.get(z.Origin.Lower)); err != nil {
		return nil, nil, err
	}
	nsec3 := a.nsec3Chain()
	first, _ := nsec3.first()
	if !sameParams(z.NSEC3, nsec3Params(nz.Apex, first)) {
		return a.rebuild()
	}
	if err := a.recompute(); err != nil {
		return nil, nil, err
	}
	if err := a.finish(nsec3); err != nil {
		return nil, nil, err
	}
	return &nz, a.changed(), nil
}

// get reads a name of the new version.
func (a *applier) get(lower []byte) *Node {
	if n, ok := a.work[string(lower)]; ok {
		return n
	}
	return a.old.nodes.get(lower)
}

func (a *applier) get3(label string) *Node {
	if n, ok := a.work3[label]; ok {
		return n
	}
	return a.old.nsec3ByKey.getString(label)
}

// writable returns the node of the new version to change, copying the
// old version's (its sets too, which the change will edit) the first
// time; a name that does not exist gets a new node.
func (a *applier) writable(m map[string]*Node, key string, old *Node, name wire.Packed) *Node {
	if n, ok := m[key]; ok && n != nil && a.owned[n] {
		return n
	}
	n := &Node{Name: name}
	if old != nil {
		c := *old
		sets := make([]RRset, len(old.Sets()))
		for i := range sets {
			sets[i] = old.Sets()[i].clone()
		}
		c.setSets(sets)
		n = &c
	}
	a.owned[n] = true
	m[key] = n
	return n
}

// compile turns a record of the change into the zone's form, checked as
// Load admits records.
func (a *applier) compile(parsed dns.RR, at Pos) (*RR, error) {
	rr, err := compile(parsed, at.File, at.Line, &a.b.share)
	if err != nil {
		return nil, &Error{File: at.File, Line: at.Line, Reason: fmt.Sprintf("cannot encode record %s: %v", parsed, err)}
	}
	return rr, a.b.admit(rr)
}

// node finds the node rr belongs to in the new version (its NSEC3 node
// for the NSEC3 chain) and the map and key it is kept under.
func (a *applier) node(rr *RR) (m map[string]*Node, key string, n *Node, err error) {
	if isNSEC3Record(rr) {
		if p := wire.Parent(rr.Owner.Lower()); string(p) != string(a.old.Origin.Lower) || rr.Owner.Lower()[0] == 0 {
			return nil, "", nil, a.b.errf(rr, "NSEC3 owner %s is not a hash label directly below the apex", wire.String(rr.Owner.Wire()))
		}
		key = nsec3Label(rr.Owner.Lower())
		return a.work3, key, a.get3(key), nil
	}
	key = string(rr.Owner.Lower())
	return a.work, key, a.get(rr.Owner.Lower()), nil
}

// locate compiles parsed (from at) and finds its node (node).
func (a *applier) locate(parsed dns.RR, at Pos) (rr *RR, m map[string]*Node, key string, n *Node, err error) {
	if rr, err = a.compile(parsed, at); err != nil {
		return nil, nil, "", nil, err
	}
	m, key, n, err = a.node(rr)
	return rr, m, key, n, err
}

// del removes the record of the zone that parsed matches.
func (a *applier) del(parsed dns.RR) error {
	rr, m, key, n, err := a.locate(parsed, Pos{File: a.old.File})
	if err != nil {
		return err
	}
	notFound := func() error { return a.b.errf(rr, "the change deletes a record the zone does not hold") }
	if n == nil {
		return notFound()
	}
	set := n.Set(setType(rr))
	if set == nil {
		return notFound()
	}
	list := set.listOf(rr)
	// The same RDATA on the wire, or the same record as dns.IsDuplicate
	// reads it (names in RDATA in any case): a record from the text of
	// the zone and one from a transfer may differ in how miekg/dns spells
	// a field (the NSEC3 salt's hex digits) yet be the same record.
	i := slices.IndexFunc(list, func(old *RR) bool {
		return bytes.Equal(old.RData(), rr.RData()) || dns.IsDuplicate(old.Src(), parsed)
	})
	if i < 0 {
		return notFound()
	}
	if rr.Type == dns.TypeRRSIG {
		a.delExps = append(a.delExps, sigExpiration(list[i]))
	}
	n = a.writable(m, key, n, n.Name)
	set = n.Set(setType(rr))
	set.remove(rr, i)
	if set.empty() {
		t := set.Type // set is the slot DeleteFunc moves the next one to
		n.setSets(slices.DeleteFunc(n.Sets(), func(s RRset) bool { return s.Type == t }))
	}
	a.deleted++
	if !isNSEC3Record(rr) {
		a.records[key] = true
	}
	return nil
}

// add adds parsed to the zone (nothing when the zone holds it already).
func (a *applier) add(parsed dns.RR, at Pos) error {
	rr, m, key, n, err := a.locate(parsed, at)
	if err != nil {
		return err
	}
	if n != nil {
		if set := n.Set(setType(rr)); set != nil {
			if slices.ContainsFunc(set.listOf(rr), func(old *RR) bool { return dns.IsDuplicate(old.Src(), parsed) }) {
				return nil
			}
		}
	}
	n = a.writable(m, key, n, *rr.Owner)
	if _, err := addToNode(n, rr, &a.nz.fileTTLs); err != nil {
		return a.b.errf(rr, "%v", err)
	}
	if rr.Type == dns.TypeRRSIG {
		a.addExps = append(a.addExps, sigExpiration(rr))
	}
	a.added++
	if !isNSEC3Record(rr) {
		a.records[key] = true
	}
	return nil
}

// sameParams compares NSEC3 parameters, the salt's hex digits in any
// case (miekg/dns keeps a salt as the text or the wire spelled it).
func sameParams(a, b *NSEC3Params) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Hash == b.Hash && a.Iterations == b.Iterations && strings.EqualFold(a.Salt, b.Salt)
}
