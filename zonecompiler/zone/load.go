package zone

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/binfmt"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// Error is a refusal to load a zone, located at the file and line of the
// record at fault (Line is 0 when the fault is not one record's).
type Error struct {
	File   string
	Line   int
	Reason string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Reason)
}

// Options tune loading and checking.
type Options struct {
	// ExpiryWarning is how far ahead RRSIG expiry is reported as a
	// warning (default 7 days).
	ExpiryWarning time.Duration
	// Now is the clock used for signature checks (default time.Now).
	Now func() time.Time
	// MaxFileSize bounds the bytes read for one zone, its $INCLUDEs
	// counted (0: DefaultMaxFileSize).
	MaxFileSize int64
}

// DefaultExpiryWarning is the default window for expiring signatures.
const DefaultExpiryWarning = 7 * 24 * time.Hour

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// LoadFile reads and checks the zone origin from the master file path
// (a regular file within Options.MaxFileSize, $INCLUDEs counted).
func LoadFile(origin, path string, opt Options) (*Zone, error) {
	return LoadFileContext(context.Background(), origin, path, opt)
}

// Load parses a master file from r ($ORIGIN, $TTL, $INCLUDE relative to
// file) and returns the checked zone, or an *Error saying where it is wrong.
func Load(r io.Reader, origin, file string, opt Options) (*Zone, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		abs = file
	}
	return load(context.Background(), r, origin, file, abs, &reading{budget: opt.maxFileSize()}, opt)
}

// load parses r as the zone file named file (abs: its absolute path, given
// to the parser so that $INCLUDE paths are absolute); includes are read
// through the same budget and ctx.
func load(ctx context.Context, r io.Reader, origin, file, abs string, rd *reading, opt Options) (*Zone, error) {
	ow, err := originWire(origin, file)
	if err != nil {
		return nil, err
	}
	b := newBuilder(&Zone{Origin: wire.NewName(ow), File: file, lazy: &derived{}}, opt)
	if err := scan(ctx, r, origin, file, abs, rd, b.add); err != nil {
		return nil, err
	}
	if err := b.finish(); err != nil {
		return nil, err
	}
	return b.z, nil
}

// originWire is the lower-case wire form of a zone's origin.
func originWire(origin, file string) ([]byte, error) {
	ow, err := nameWire(dns.CanonicalName(origin))
	if err != nil {
		return nil, &Error{File: file, Reason: fmt.Sprintf("bad zone origin %q: %v", origin, err)}
	}
	return ow, nil
}

// scan parses r as the zone file named file (abs: its absolute path) and
// hands each record to add with the file and line it ends on; a parse
// error is an *Error at its place.
func scan(ctx context.Context, r io.Reader, origin, file, abs string, rd *reading, add func(dns.RR, string, int) error) error {
	zp := dns.NewZoneParser(r, dns.CanonicalName(origin), abs)
	zp.SetIncludeAllowed(true)
	zp.SetIncludeFS(includeFS{ctx: ctx, rd: rd})
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		f, line := parserPosition(zp, abs)
		if err := add(rr, displayName(f, file, abs), line); err != nil {
			return err
		}
	}
	if err := zp.Err(); err != nil {
		var ze *Error
		var pe *dns.ParseError
		switch {
		case errors.As(err, &ze):
			return ze
		case errors.As(err, &pe):
			out := parseErrorAt(pe, abs)
			out.File = displayName(out.File, file, abs)
			if parenOpen(zp) {
				out.Reason += "; a '(' opened on an earlier line is still open: a missing ')'?"
			}
			return out
		}
		return &Error{File: file, Reason: err.Error()}
	}
	if err := ctx.Err(); err != nil {
		return &Error{File: file, Reason: "loading stopped: " + err.Error()}
	}
	return nil
}

// parserPosition reads the file and line the zone parser has reached.
// miekg/dns does not export them, so they are read by reflection from the
// innermost ($INCLUDE) parser; if its layout changes we report line 0.
func parserPosition(zp *dns.ZoneParser, file string) (f string, line int) {
	defer func() {
		if recover() != nil {
			f, line = file, 0
		}
	}()
	v := innermostParser(zp)
	f = v.FieldByName("file").String()
	line = int(v.FieldByName("c").Elem().FieldByName("line").Int())
	return f, line
}

// innermostParser is the zone parser reading now: zp, or the $INCLUDE
// parser it has open (its unexported field sub, nested at most 16 deep),
// by reflection; it panics if the layout has changed, which its callers
// recover from.
func innermostParser(zp *dns.ZoneParser) reflect.Value {
	v := reflect.ValueOf(zp).Elem()
	for i := 0; i < 16; i++ {
		sub := v.FieldByName("sub")
		if !sub.IsValid() || sub.IsNil() {
			break
		}
		v = sub.Elem()
	}
	return v
}

// parseErrorAt turns a miekg/dns syntax error into an Error at its file and
// line. ParseError does not export its position, so it is read by
// reflection; if the layout changes the whole message is kept, line 0.
func parseErrorAt(pe *dns.ParseError, file string) (out *Error) {
	out = &Error{File: file, Reason: pe.Error()}
	defer func() {
		if recover() != nil {
			out = &Error{File: file, Reason: pe.Error()}
		}
	}()
	v := reflect.ValueOf(pe).Elem()
	lex := v.FieldByName("lex")
	reason := v.FieldByName("err").String()
	if reason == "" {
		if w := pe.Unwrap(); w != nil {
			reason = w.Error()
		}
	}
	if f := v.FieldByName("file").String(); f != "" {
		out.File = f
	}
	out.Line = int(lex.FieldByName("line").Int())
	token := lex.FieldByName("token").String()
	// Where an owner's TTL, class or type may come, miekg/dns reads an
	// unknown word as a bad TTL; the real problem is the type.
	if strings.HasPrefix(reason, "not a TTL") && isWord(token) {
		reason = "unknown record type (or class)"
	}
	out.Reason = fmt.Sprintf("syntax error: %s: %q (column %d)", reason, token, lex.FieldByName("column").Int())
	return out
}

// isWord reports whether s is letters, digits and '-' starting with a
// letter: what a type or class mnemonic looks like, unlike a TTL.
func isWord(s string) bool {
	if s == "" || !(s[0] >= 'A' && s[0] <= 'Z' || s[0] >= 'a' && s[0] <= 'z') {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// parenOpen reports whether the innermost parser is inside parentheses
// (read by reflection like parserPosition; false if the layout changes).
func parenOpen(zp *dns.ZoneParser) (open bool) {
	defer func() {
		if recover() != nil {
			open = false
		}
	}()
	v := innermostParser(zp)
	return v.FieldByName("c").Elem().FieldByName("brace").Int() > 0
}

func nameWire(s string) ([]byte, error) {
	buf := make([]byte, wire.MaxNameLen+1)
	n, err := dns.PackDomainName(dns.Fqdn(s), buf, 0, nil, false)
	if err != nil {
		return nil, err
	}
	return buf[:n:n], nil
}

// builder checks a zone and computes its facts. Load fills its maps
// record by record and finishes the whole zone; Apply uses the same
// checks on the nodes a change touched, with get reading the new version.
type builder struct {
	z   *Zone
	opt Options
	// get finds a node of the zone being built by lower-case wire name.
	get func(lower []byte) *Node
	// Load only: the nodes and NSEC3 nodes by name, how many records
	// were added, and the RRSIGs of the names (not of the NSEC3 chain)
	// in the order they were read (finishRestored checks them).
	nodes, nsec3 *nodeTable
	nrecords     int
	sigs         []*RR
	// counting: checkSignatures sums the zone's RRSIG facts (Load);
	// Apply keeps them in its index instead.
	counting bool
	// share: what the records read in a row share (compile).
	share sharing
}

func newBuilder(z *Zone, opt Options) *builder {
	return newBuilderSized(z, opt, 0, 0)
}

// newBuilderSized is newBuilder for a zone of about names names and
// nsec3 NSEC3 records (its maps made that large at once: growing a
// million-entry map step by step costs a restart about a second).
func newBuilderSized(z *Zone, opt Options, names, nsec3 int) *builder {
	b := &builder{z: z, opt: opt, nodes: newNodeTable(names, nameKey), nsec3: newNodeTable(nsec3, nameKey), counting: true}
	b.get = func(lower []byte) *Node { return b.nodes.get(mapKey(lower)) }
	return b
}

// warnf records a problem the zone loads with, as NSD and Knot load it:
// FILE:LINE of rr and the reason, and the node it is about.
func (b *builder) warnf(owner warnOf, rr *RR, format string, args ...any) {
	b.z.Warnings = append(b.z.Warnings, fmt.Sprintf("%s:%d: %s", rr.File(), rr.Line, fmt.Sprintf(format, args...)))
	b.z.warnOwners = append(b.z.warnOwners, owner.key())
}

// warnOf is the node a warning is about, its warnKey made only when a
// warning is (a string per node would cost a TLD's load an allocation
// per name).
type warnOf struct {
	n                  *Node
	nsec3, glue, timed bool
}

func (w warnOf) key() warnKey {
	if w.nsec3 {
		return warnKey{name: nsec3Label(w.n.Name.Lower()), nsec3: true, timed: w.timed}
	}
	return warnKey{name: string(w.n.Name.Lower()), glue: w.glue, timed: w.timed}
}

// errf is a refusal at rr (the zone's file when rr is nil). A record that
// came from a change rather than a file (Line 0) is quoted, so that the
// error names it.
func (b *builder) errf(rr *RR, format string, args ...any) error {
	e := &Error{File: b.z.File, Reason: fmt.Sprintf(format, args...)}
	if rr != nil {
		e.File, e.Line = rr.File(), int(rr.Line)
		if rr.Line == 0 && rr.Src() != nil {
			e.Reason += " (record " + strings.TrimSpace(rr.Src().String()) + ")"
		}
	}
	return e
}

// nodeKey is the warning owner for a node of the zone.
func nodeKey(n *Node) warnOf { return warnOf{n: n} }

// nsec3Key is the warning owner for an NSEC3 node.
func nsec3Key(n *Node) warnOf { return warnOf{n: n, nsec3: true} }

// emptyRDataAllowed reports whether a record of type t may have RDATA of
// no bytes: an unknown type, or one whose RDATA is a list that may be
// empty (APL, RFC 3123) or anything (NULL).
func emptyRDataAllowed(t uint16) bool {
	_, known := dns.TypeToRR[t]
	return !known || t == dns.TypeAPL || t == dns.TypeNULL
}

// sharing hands out what records read in a row share: their file's
// name, and the owner of the record before when they repeat it.
type sharing struct {
	file   string
	fileID uint16
	owner  *wire.Packed
	// pack is the buffer records are packed into, reused; arena holds
	// the copies of their RDATA and owner names that the records keep
	// (a buffer per record, kept by its RDATA, held the whole record
	// and slack: ~60 bytes a record more at a TLD's first start).
	pack  []byte
	arena binfmt.Arena
}

// fileOf is file's index in fileNames (RR.File).
func (s *sharing) fileOf(file string) uint16 {
	if s.fileID == 0 || s.file != file {
		s.file, s.fileID = file, fileNames.id(file)
	}
	return s.fileID
}

// compile turns a parsed record into the builder's wire form, its owner
// and file name shared with the record compiled before through share.
func compile(rr dns.RR, file string, line int, share *sharing) (*RR, error) {
	buf, off, err := packRR(rr, share)
	if err != nil {
		return nil, err
	}
	h := rr.Header()
	if h.Class > 0xff {
		return nil, fmt.Errorf("class %s records are not served; only IN", dns.Class(h.Class))
	}
	out := NewRR(share.owner, h.Rrtype, h.Class, h.Ttl, share.arena.Copy(buf[off+10:]))
	out.Line, out.file = lineOf(line), share.fileOf(file)
	if out.Owner == nil || !bytes.Equal(out.Owner.Wire(), buf[:off]) {
		owner := wire.NewPacked(share.arena.Copy(buf[:off]))
		out.Owner, share.owner = &owner, &owner
	}
	if err := out.findNames(); err != nil {
		return nil, err
	}
	return out, nil
}

// packRR packs rr into share.pack (reused: the result is good until the
// next record) with the checks every record passes, returning the wire
// record and where its owner name ends.
func packRR(rr dns.RR, share *sharing) (buf []byte, off int, err error) {
	h := rr.Header()
	if need := dns.Len(rr) + 16; cap(share.pack) < need {
		share.pack = make([]byte, need)
	}
	buf = share.pack[:cap(share.pack)]
	n, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		return nil, 0, err
	}
	buf = buf[:n:n]
	if _, off, err = wire.ReadName(buf, 0); err != nil {
		return nil, 0, err
	}
	if off+10 > len(buf) {
		return nil, 0, fmt.Errorf("record encodes to %d bytes, shorter than its header", len(buf))
	}
	if off+10 == len(buf) && !emptyRDataAllowed(h.Rrtype) {
		// What the parser takes for a dynamic update's empty record.
		return nil, 0, fmt.Errorf("%s record without RDATA", dns.Type(h.Rrtype))
	}
	return buf, off, nil
}

// findNames checks the compressible names in RData (Names locates
// them without checking) and, when there are some and RData has
// upper-case letters, puts RData and its lower-cased copy in one
// allocation (RR.RDataLower).
func (rr *RR) findNames() error {
	switch rr.Type {
	case dns.TypeMX:
		if rr.rdlen < 3 {
			return fmt.Errorf("MX RDATA of %d bytes", rr.rdlen)
		}
	case dns.TypeSOA, dns.TypeMINFO:
		if _, _, err := wire.ReadName(rr.RData(), 0); err != nil {
			return err
		}
	}
	rr.lowerApart = false
	if rr.hasNames() {
		rd := rr.RData()
		if l := wire.LowerShared(rd); len(l) > 0 && &l[0] != &rd[0] {
			n := len(rd)
			buf := make([]byte, 2*n)
			copy(buf, rd)
			copy(buf[n:], l)
			rr.setRData(buf[:n:n])
			rr.lowerApart = true
		}
	}
	return nil
}

// lineOf is a line number as a record holds it.
func lineOf(line int) int32 { return int32(min(line, math.MaxInt32)) }

func (b *builder) add(parsed dns.RR, file string, line int) error {
	rr, err := compile(parsed, file, line, &b.share)
	if err != nil {
		return &Error{File: file, Line: line, Reason: fmt.Sprintf("cannot encode record: %v", err)}
	}
	return b.addRR(rr)
}

// admit refuses a record no zone of ours may hold: another class, or
// outside the zone.
func (b *builder) admit(rr *RR) error {
	if rr.Class() != dns.ClassINET {
		return b.errf(rr, "class %s records are not served; only IN", dns.Class(rr.Class()))
	}
	if !wire.IsSubdomain(rr.Owner.Lower(), b.z.Origin.Lower) {
		return b.errf(rr, "out-of-zone data: %s is not in zone %s", rr.Src().Header().Name, b.z.Name())
	}
	return nil
}

// addRR adds a compiled record to the zone being loaded.
func (b *builder) addRR(rr *RR) error {
	_, err := b.addRRNode(rr, nil)
	return err
}

// addRRNode is addRR returning the node rr went to. The record keeps its
// node's name as its owner when they are spelled alike (a TLD holds each
// name once, not once per node and record); rr.Owner may be a scratch
// name of the caller's (ReadRecords), which it must replace when rr still
// holds it. near, when not nil, is rr's node, found for the record
// before of the same owner (ReadRecords: no map lookup for the rest of an
// owner's records).
func (b *builder) addRRNode(rr *RR, near *Node) (*Node, error) {
	if err := b.admit(rr); err != nil {
		return nil, err
	}
	n := near
	if n == nil {
		t := b.nodes
		if isNSEC3Record(rr) {
			t = b.nsec3
		}
		if n = t.get(mapKey(rr.Owner.Lower())); n == nil {
			n = &Node{Name: *rr.Owner}
			t.set(n)
		}
	}
	if bytes.Equal(n.Name.Wire(), rr.Owner.Wire()) {
		rr.Owner = &n.Name
	}
	added, err := addToNode(n, rr, &b.z.fileTTLs)
	if err != nil {
		return nil, b.errf(rr, "%v", err)
	}
	if added {
		b.nrecords++
		if rr.Type == dns.TypeRRSIG && !isNSEC3Record(rr) {
			b.sigs = append(b.sigs, rr)
		}
	}
	return n, nil
}

// isNSEC3Record reports whether rr belongs to the NSEC3 chain (an NSEC3
// or its RRSIG) rather than to a name of the zone.
func isNSEC3Record(rr *RR) bool {
	return rr.Type == dns.TypeNSEC3 || (rr.Type == dns.TypeRRSIG && sigCovered(rr) == dns.TypeNSEC3)
}

// setType is the type of the RRset rr goes to: the covered type for an
// RRSIG.
func setType(rr *RR) uint16 {
	if rr.Type == dns.TypeRRSIG {
		return sigCovered(rr)
	}
	return rr.Type
}

// addToNode adds rr to its RRset of n, keeping the sets ordered by type,
// and reports whether it did: a duplicate (RFC 2181 §5: equal but for the
// TTL) is dropped, as every server does. A record joining an RRset takes
// its TTL; the TTL it had is noted in ttls (ttlWarnings reports the
// difference, WriteRecords keeps it).
func addToNode(n *Node, rr *RR, ttls *map[*RR]uint32) (bool, error) {
	t := setType(rr)
	set := n.Set(t)
	if set == nil {
		sets := n.Sets()
		i := sort.Search(len(sets), func(i int) bool { return sets[i].Type > t })
		n.setSets(insertAt(sets, i, RRset{Type: t, TTL: rr.TTL}))
		set = &n.Sets()[i]
	}
	for _, old := range set.listOf(rr) {
		if duplicate(old, rr) {
			return false, nil
		}
	}
	if rr.Type != dns.TypeRRSIG {
		if set.nrrs == 0 {
			set.TTL = rr.TTL
		}
		if rr.TTL != set.TTL {
			if *ttls == nil {
				*ttls = make(map[*RR]uint32)
			}
			(*ttls)[rr] = rr.TTL
		}
		rr.TTL = set.TTL
	}
	if err := set.add(rr); err != nil {
		return false, err
	}
	return true, nil
}

// duplicate reports whether b repeats a, records of one RRset (RFC 2181
// §5: equal but for the TTL): the same RDATA on the wire, or with the
// names in it in another case, compared as miekg/dns does (any name in
// RDATA in any case) when the RDATA differ in case alone.
func duplicate(a, b *RR) bool {
	switch {
	case bytes.Equal(a.RData(), b.RData()):
		return true
	case a.hasNames() && bytes.Equal(a.RDataLower(), b.RDataLower()):
		return true
	case bytes.EqualFold(a.RData(), b.RData()): // a cheap first look: IsDuplicate decides
		return dns.IsDuplicate(a.Src(), b.Src())
	}
	return false
}

// ttlWarnings reports the records of n whose TTL differs from their
// RRset's (the first record's): the RRset is served with one TTL.
func (b *builder) ttlWarnings(owner warnOf, n *Node) {
	for s := range n.EachSet {
		for _, rr := range s.RRs() {
			if ttl, ok := b.z.fileTTLs[rr]; ok && ttl != s.TTL {
				b.warnf(owner, rr, "TTL %d differs from the RRset's %d; using %d", ttl, s.TTL, s.TTL)
			}
		}
	}
}

// finish runs the checks and computes the per-name facts.
func (b *builder) finish() error {
	z := b.z
	apex := b.nodes.get(mapKey(z.Origin.Lower))
	if err := b.setApex(apex); err != nil {
		return err
	}

	// Empty non-terminals: every ancestor of a name, up to the apex, exists.
	names := make([]*Node, 0, b.nodes.n)
	for n := range b.nodes.all() {
		names = append(names, n)
	}
	for _, n := range names {
		p := n.Name.Name()
		for i := 0; i < wire.MaxLabels && len(p.Lower) > len(z.Origin.Lower); i++ {
			p = wire.Name{Wire: wire.Parent(p.Wire), Lower: wire.Parent(p.Lower)}
			if b.nodes.get(mapKey(p.Lower)) != nil {
				break
			}
			b.nodes.set(&Node{Name: wire.Pack(p), Flags: FlagEmptyNonTerm})
		}
	}
	// First pass: flags that depend on the node alone, then the wildcard
	// child flag of the parents.
	for n := range b.nodes.all() {
		n.Flags = ownFlags(n, n == apex)
	}
	for n := range b.nodes.all() {
		if wire.IsWildcard(n.Name.Lower()) && n != apex {
			if p := b.nodes.get(mapKey(wire.Parent(n.Name.Lower()))); p != nil {
				p.Flags |= FlagWildcardChild
			}
		}
		if err := b.checkCovered(n); err != nil {
			return err
		}
	}
	// Second pass: below-cut, and the checks.
	for n := range b.nodes.all() {
		if err := b.checkAll(n); err != nil {
			return err
		}
	}
	for n := range b.nsec3.all() {
		b.ttlWarnings(nsec3Key(n), n)
	}
	return b.complete()
}

// finishRestored finishes a zone read back from a compiled image
// (ReadRecords), its per-name facts, empty non-terminals and the warnings
// of its data restored: the image was written from a zone that passed
// every check, so only what depends on the clock is checked again (its
// signatures: an RRSIG expired since is refused, expiry warnings come
// anew); the chains are built as Load builds them.
func (b *builder) finishRestored() error {
	z := b.z
	if err := b.setApex(b.nodes.get(mapKey(z.Origin.Lower))); err != nil {
		return err
	}
	// The signatures in the order the records were read (an array, where
	// a walk over the nodes would chase a million pointers, signed or
	// not); the NSEC3 chain's are complete's.
	now, window := b.sigClock()
	for _, rr := range b.sigs {
		if err := b.checkSig(rr, now, window, func() warnOf { return nodeKey(b.nodes.get(mapKey(rr.Owner.Lower()))) }); err != nil {
			return err
		}
	}
	return b.complete()
}

// complete ends finish and finishRestored: the NSEC3 nodes' signatures,
// then what the checks leave to record (the record count, the node map,
// Signed, the chains).
func (b *builder) complete() error {
	z := b.z
	for n := range b.nsec3.all() {
		if err := b.checkSignatures(nsec3Key(n), n); err != nil {
			return err
		}
	}
	z.nrecords = b.nrecords
	z.nodes = nodeMapOf(b.nodes)
	b.setSigned()
	return b.buildChains()
}

// setApex checks the apex (an SOA, one, and NS records) and records the
// zone facts it holds: Apex, SOA, Serial.
func (b *builder) setApex(apex *Node) error {
	z := b.z
	if apex == nil || apex.Set(dns.TypeSOA) == nil || len(apex.Set(dns.TypeSOA).RRs()) == 0 {
		return b.errf(nil, "no SOA record at the zone apex %s", z.Name())
	}
	z.Apex = apex
	z.SOA = apex.Set(dns.TypeSOA)
	if len(z.SOA.RRs()) > 1 {
		return b.errf(z.SOA.RRs()[1], "more than one SOA record at the apex")
	}
	soa, ok := z.SOA.RRs()[0].Src().(*dns.SOA)
	if !ok {
		return b.errf(z.SOA.RRs()[0], "SOA record with malformed RDATA")
	}
	z.Serial = soa.Serial
	if ns := apex.Set(dns.TypeNS); ns == nil || len(ns.RRs()) == 0 {
		return b.errf(nil, "no NS records at the zone apex %s", z.Name())
	}
	return nil
}

// ownFlags are the flags of n that depend on n alone: apex, delegation,
// CNAME, DNAME, empty non-terminal (a name without records exists only
// because names below it do).
func ownFlags(n *Node, apex bool) Flags {
	var f Flags
	if apex {
		f |= FlagApex
	}
	if len(n.Sets()) == 0 {
		f |= FlagEmptyNonTerm
	}
	if !apex && n.Set(dns.TypeNS) != nil && len(n.Set(dns.TypeNS).RRs()) > 0 {
		f |= FlagDelegation
	}
	if s := n.Set(dns.TypeCNAME); s != nil && len(s.RRs()) > 0 {
		f |= FlagCNAME
	}
	if s := n.Set(dns.TypeDNAME); s != nil && len(s.RRs()) > 0 {
		f |= FlagDNAME
	}
	return f
}

// checkCovered refuses an RRSIG whose covered type has no records at n.
func (b *builder) checkCovered(n *Node) error {
	for s := range n.EachSet {
		if len(s.RRs()) == 0 && len(s.Sigs()) > 0 {
			return b.errf(s.Sigs()[0], "RRSIG covers %s but %s has no such records",
				dns.Type(s.Type), wire.String(n.Name.Wire()))
		}
	}
	return nil
}

// checkAll runs every per-name check on n (Load's and Apply's): its data,
// its TTLs, its name servers' addresses, its signatures.
func (b *builder) checkAll(n *Node) error {
	if err := b.checkNode(n); err != nil {
		return err
	}
	b.ttlWarnings(nodeKey(n), n)
	b.checkNSAddresses(n)
	return b.checkSignatures(nodeKey(n), n)
}

// checkNode sets FlagBelowCut on n from the delegations above it (their
// flags already set), warns of occluded data and refuses what no zone may
// hold at n.
func (b *builder) checkNode(n *Node) error {
	z := b.z
	// Below a cut when any ancestor strictly between the apex and the
	// node is a delegation point.
	p := n.Name.Lower()
	for i := 0; i < wire.MaxLabels && len(p) > len(z.Origin.Lower); i++ {
		p = wire.Parent(p)
		if len(p) <= len(z.Origin.Lower) {
			break
		}
		if a := b.get(p); a != nil && a.Has(FlagDelegation) {
			// Occluded data (RFC 2181 §6): loaded, never served (the
			// referral is), reported, as NSD and Knot do.
			n.Flags |= FlagBelowCut
			for s := range n.EachSet {
				if s.Type != dns.TypeA && s.Type != dns.TypeAAAA && len(s.RRs()) > 0 {
					b.warnf(nodeKey(n), s.RRs()[0], "%s %s is occluded by the delegation %s (only glue, A/AAAA, belongs below a cut): never served",
						wire.String(n.Name.Wire()), dns.Type(s.Type), wire.String(a.Name.Wire()))
				}
				if len(s.Sigs()) > 0 {
					b.warnf(nodeKey(n), s.Sigs()[0], "RRSIG %s below the delegation %s is occluded: never served",
						dns.Type(s.Type), wire.String(a.Name.Wire()))
				}
			}
			break
		}
	}
	if n.Has(FlagDelegation) {
		for s := range n.EachSet {
			switch s.Type {
			case dns.TypeNS, dns.TypeDS, dns.TypeNSEC, dns.TypeA, dns.TypeAAAA:
			default:
				if len(s.RRs()) > 0 {
					b.warnf(nodeKey(n), s.RRs()[0], "%s %s is occluded by the delegation at the same name: never served (the referral is)",
						wire.String(n.Name.Wire()), dns.Type(s.Type))
				}
			}
		}
	}
	if n.Has(FlagApex) {
		if s := n.Set(dns.TypeDS); s != nil && len(s.RRs()) > 0 {
			return b.errf(s.RRs()[0], "DS at the zone apex belongs in the parent zone")
		}
	}
	if s := n.Set(dns.TypeSOA); s != nil && !n.Has(FlagApex) && len(s.RRs()) > 0 {
		return b.errf(s.RRs()[0], "SOA record at %s, which is not the zone apex", wire.String(n.Name.Wire()))
	}
	if n.Has(FlagCNAME) {
		cn := n.Set(dns.TypeCNAME)
		if len(cn.RRs()) > 1 {
			return b.errf(cn.RRs()[1], "more than one CNAME at %s", wire.String(n.Name.Wire()))
		}
		for s := range n.EachSet {
			switch s.Type {
			case dns.TypeCNAME, dns.TypeNSEC:
			default:
				if len(s.RRs()) > 0 {
					return b.errf(cn.RRs()[0], "CNAME at %s beside other data (%s)",
						wire.String(n.Name.Wire()), dns.Type(s.Type))
				}
			}
		}
	}
	if n.Has(FlagDNAME) && len(n.Set(dns.TypeDNAME).RRs()) > 1 {
		return b.errf(n.Set(dns.TypeDNAME).RRs()[1], "more than one DNAME at %s", wire.String(n.Name.Wire()))
	}
	return nil
}

// checkNSAddresses warns of NS targets inside the zone that have no
// address (missing glue, a lame delegation): the zone loads and the
// referral goes without that glue, as NSD and Knot serve it. It checks
// the apex and the delegations that are not themselves occluded, after
// checkNode.
func (b *builder) checkNSAddresses(n *Node) {
	if !n.Has(FlagApex) && !(n.Has(FlagDelegation) && !n.Has(FlagBelowCut)) {
		return
	}
	for _, rr := range n.Set(dns.TypeNS).RRs() {
		target := rr.RDataLower() // an NS record's RDATA is one name
		if !wire.IsSubdomain(target, b.z.Origin.Lower) {
			continue
		}
		t := b.get(target)
		if t == nil || (t.Set(dns.TypeA) == nil && t.Set(dns.TypeAAAA) == nil) {
			b.warnf(warnOf{n: n, glue: true}, rr, "in-bailiwick name server %s of %s has no address (A/AAAA) records: missing glue, sent without it",
				wire.String(rr.RData()), wire.String(n.Name.Wire()))
		}
	}
}

// checkSignatures refuses the zone when an RRSIG of n has expired, warns
// of those expiring within the window, and counts the RRSIGs into the
// zone's signature facts (nsigs, SigExpiration; setSigned finishes them).
func (b *builder) checkSignatures(owner warnOf, n *Node) error {
	now, window := b.sigClock()
	for s := range n.EachSet {
		for _, rr := range s.Sigs() {
			if err := b.checkSig(rr, now, window, func() warnOf { return owner }); err != nil {
				return err
			}
		}
	}
	return nil
}

// sigClock is the time signatures are checked against and the expiry
// warning's window.
func (b *builder) sigClock() (time.Time, time.Duration) {
	window := b.opt.ExpiryWarning
	if window == 0 {
		window = DefaultExpiryWarning
	}
	return b.opt.now(), window
}

// checkSig checks the RRSIG rr against the clock: refused once expired,
// a warning (about the node owner names) when it expires within window.
func (b *builder) checkSig(rr *RR, now time.Time, window time.Duration, owner func() warnOf) error {
	z := b.z
	field := sigExpirationField(rr)
	if b.counting {
		z.nsigs++
		if exp := serialTime(field, now); z.nsigs == 1 || exp.Before(z.SigExpiration) {
			z.SigExpiration = exp
		}
	}
	if expired(field, now) {
		return b.errf(rr, "RRSIG %s for %s expired on %s", dns.Type(sigCovered(rr)),
			wire.String(rr.Owner.Wire()), dns.TimeToString(field))
	}
	if expired(field, now.Add(window)) {
		timed := owner()
		timed.timed = true
		b.warnf(timed, rr, "RRSIG %s for %s expires on %s, within %s",
			dns.Type(sigCovered(rr)), wire.String(rr.Owner.Wire()), dns.TimeToString(field), window)
	}
	return nil
}

// setSigned: the zone is Signed when its apex has DNSKEY records and it
// carries RRSIGs.
func (b *builder) setSigned() {
	z := b.z
	dk := z.Apex.Set(dns.TypeDNSKEY)
	z.Signed = dk != nil && len(dk.RRs()) > 0 && z.nsigs > 0
}

// expired compares an RRSIG's expiration field with t in serial-number arithmetic
// (RFC 4034 §3.1.5).
func expired(expiration uint32, t time.Time) bool {
	return serialTime(expiration, t).Unix() < t.Unix()
}

// serialTime reads an RRSIG time field (seconds since the epoch modulo
// 2^32) as the time it means around t (RFC 4034 §3.1.5).
func serialTime(v uint32, t time.Time) time.Time {
	utc := t.Unix()
	mod := (int64(v) - utc) / (1 << 32)
	return time.Unix(int64(v)+mod*(1<<32), 0)
}

// nsec3Label is the hash label of an NSEC3 owner (its first label).
func nsec3Label(lower []byte) string { return string(lower[1 : 1+int(lower[0])]) }

// nsec3Params reads the zone's NSEC3 hash parameters: from the apex
// NSEC3PARAM, else from the NSEC3 record of first (nil: no NSEC3).
func nsec3Params(apex *Node, first *Node) *NSEC3Params {
	if p := apex.Set(dns.TypeNSEC3PARAM); p != nil && len(p.RRs()) > 0 {
		if np, ok := p.RRs()[0].Src().(*dns.NSEC3PARAM); ok {
			return &NSEC3Params{Hash: np.Hash, Iterations: np.Iterations, Salt: strings.ToLower(np.Salt)}
		}
	}
	if first == nil {
		return nil
	}
	if s := first.Set(dns.TypeNSEC3); s != nil && len(s.RRs()) > 0 {
		if n3, ok := s.RRs()[0].Src().(*dns.NSEC3); ok {
			return &NSEC3Params{Hash: n3.Hash, Iterations: n3.Iterations, Salt: strings.ToLower(n3.Salt)}
		}
	}
	return nil
}

// checkNSEC3Node refuses an NSEC3 node without an NSEC3 record (RRSIGs
// alone) or whose owner is not a hash label directly below the apex.
func (b *builder) checkNSEC3Node(n *Node) error {
	if s := n.Set(dns.TypeNSEC3); s == nil || len(s.RRs()) == 0 {
		return b.errf(firstSig(n), "RRSIG for NSEC3 without an NSEC3 record at %s", wire.String(n.Name.Wire()))
	}
	if p := wire.Parent(n.Name.Lower()); p == nil || string(p) != string(b.z.Origin.Lower) || n.Name.Lower()[0] == 0 {
		return b.errf(n.Set(dns.TypeNSEC3).RRs()[0], "NSEC3 owner %s is not a hash label directly below the apex",
			wire.String(n.Name.Wire()))
	}
	return nil
}

// buildChains sorts the NSEC chain canonically and the NSEC3 chain by hash,
// and hashes every authoritative name of an NSEC3 zone.
func (b *builder) buildChains() error {
	z := b.z
	var nsec []*Node
	for n := range b.nodes.all() {
		if s := n.Set(dns.TypeNSEC); s != nil && len(s.RRs()) > 0 {
			nsec = append(nsec, n)
		}
	}
	sort.Slice(nsec, func(i, j int) bool { return wire.Compare(nsec[i].Name.Lower(), nsec[j].Name.Lower()) < 0 })
	nsec3 := make([]*Node, 0, b.nsec3.n)
	keys := newNodeTable(b.nsec3.n, hashKey)
	for n := range b.nsec3.all() {
		if err := b.checkNSEC3Node(n); err != nil {
			return err
		}
		keys.set(n)
		nsec3 = append(nsec3, n)
	}
	sort.Slice(nsec3, func(i, j int) bool { return nsec3[i].ChainLabel() < nsec3[j].ChainLabel() })
	var first *Node
	if len(nsec3) > 0 {
		first = nsec3[0]
	}
	z.NSEC3 = nsec3Params(z.Apex, first)
	z.nsecChain, z.nsec3Chain, z.nsec3ByKey = chunkedOf(nsec), chunkedOf(nsec3), nodeMapOf(keys)
	z.lazy.nsecOnce.Do(func() { z.lazy.nsec = nsec })
	z.lazy.nsec3Once.Do(func() { z.lazy.nsec3 = nsec3 })
	if z.NSEC3 != nil {
		z.nsec3Salt = decodeSalt(z.NSEC3.Salt)
		for n := range b.nodes.all() {
			if n.Has(FlagBelowCut) {
				continue
			}
			if n.hash == 0 { // ReadRecords has it from the image
				z.setNSEC3Hash(n, z.HashName(n.Name.Lower()))
			}
		}
	}
	return nil
}

func firstSig(n *Node) *RR {
	for s := range n.EachSet {
		if len(s.Sigs()) > 0 {
			return s.Sigs()[0]
		}
	}
	return nil
}

// NSECCover returns the node whose NSEC covers the lower-case name: the
// greatest NSEC owner canonically below it, wrapping to the last.
func (z *Zone) NSECCover(lower []byte) *Node {
	n, _ := z.nsecChain.before(func(n *Node) int { return wire.Compare(n.Name.Lower(), lower) })
	return n
}

// SOAMinimum is the MINIMUM field of the zone's SOA (RFC 2308 §4).
func (z *Zone) SOAMinimum() uint32 {
	rd := z.SOA.RRs()[0].RData()
	return binary.BigEndian.Uint32(rd[len(rd)-4:])
}
