package zone

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
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
	budget := opt.maxFileSize()
	return load(context.Background(), r, origin, file, abs, &budget, opt)
}

// load parses r as the zone file named file (abs: its absolute path, given
// to the parser so that $INCLUDE paths are absolute); includes are read
// through the same budget and ctx.
func load(ctx context.Context, r io.Reader, origin, file, abs string, budget *int64, opt Options) (*Zone, error) {
	origin = dns.CanonicalName(origin)
	ow, err := nameWire(origin)
	if err != nil {
		return nil, &Error{File: file, Reason: fmt.Sprintf("bad zone origin %q: %v", origin, err)}
	}
	b := &builder{
		z: &Zone{
			Origin:     wire.NewName(ow),
			File:       file,
			nodes:      make(map[string]*Node),
			nsec3ByKey: make(map[string]*Node),
		},
		opt: opt,
	}
	zp := dns.NewZoneParser(r, origin, abs)
	zp.SetIncludeAllowed(true)
	zp.SetIncludeFS(includeFS{ctx: ctx, budget: budget})
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		f, line := parserPosition(zp, abs)
		if err := b.add(rr, displayName(f, file, abs), line); err != nil {
			return nil, err
		}
	}
	if err := zp.Err(); err != nil {
		var ze *Error
		var pe *dns.ParseError
		switch {
		case errors.As(err, &ze):
			return nil, ze
		case errors.As(err, &pe):
			out := parseErrorAt(pe, abs)
			out.File = displayName(out.File, file, abs)
			if parenOpen(zp) {
				out.Reason += "; a '(' opened on an earlier line is still open: a missing ')'?"
			}
			return nil, out
		}
		return nil, &Error{File: file, Reason: err.Error()}
	}
	if err := ctx.Err(); err != nil {
		return nil, &Error{File: file, Reason: "loading stopped: " + err.Error()}
	}
	if err := b.finish(); err != nil {
		return nil, err
	}
	return b.z, nil
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

type builder struct {
	z   *Zone
	opt Options
}

// warnf records a problem the zone loads with, as NSD and Knot load it:
// FILE:LINE of rr and the reason.
func (b *builder) warnf(rr *RR, format string, args ...any) {
	b.z.Warnings = append(b.z.Warnings, fmt.Sprintf("%s:%d: %s", rr.File, rr.Line, fmt.Sprintf(format, args...)))
}

func (b *builder) errf(rr *RR, format string, args ...any) error {
	e := &Error{File: b.z.File, Reason: fmt.Sprintf(format, args...)}
	if rr != nil {
		e.File, e.Line = rr.File, rr.Line
	}
	return e
}

// compile turns a parsed record into the builder's wire form.
func compile(rr dns.RR, file string, line int) (*RR, error) {
	h := rr.Header()
	buf := make([]byte, dns.Len(rr)+16)
	n, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		return nil, err
	}
	buf = buf[:n:n]
	_, off, err := wire.ReadName(buf, 0)
	if err != nil {
		return nil, err
	}
	if off+10 > len(buf) {
		return nil, fmt.Errorf("record encodes to %d bytes, shorter than its header", len(buf))
	}
	out := &RR{
		Owner: wire.NewName(buf[:off:off]),
		Type:  h.Rrtype,
		Class: h.Class,
		TTL:   h.Ttl,
		RData: buf[off+10:],
		Line:  line,
		File:  file,
		Src:   rr,
	}
	switch h.Rrtype {
	case dns.TypeNS, dns.TypeCNAME, dns.TypePTR, dns.TypeMB, dns.TypeMG, dns.TypeMR:
		out.NNames = 1
	case dns.TypeMX:
		out.Names[0], out.NNames = 2, 1
	case dns.TypeSOA, dns.TypeMINFO:
		_, end, err := wire.ReadName(out.RData, 0)
		if err != nil {
			return nil, err
		}
		out.Names[1], out.NNames = uint16(end), 2
	}
	if out.NNames > 0 {
		out.RDataLower = wire.ToLower(out.RData)
	}
	return out, nil
}

func (b *builder) add(parsed dns.RR, file string, line int) error {
	rr, err := compile(parsed, file, line)
	if err != nil {
		return &Error{File: file, Line: line, Reason: fmt.Sprintf("cannot encode record: %v", err)}
	}
	z := b.z
	if rr.Class != dns.ClassINET {
		return b.errf(rr, "class %s records are not served; only IN", dns.Class(rr.Class))
	}
	if !wire.IsSubdomain(rr.Owner.Lower, z.Origin.Lower) {
		return b.errf(rr, "out-of-zone data: %s is not in zone %s", parsed.Header().Name, z.Name())
	}
	z.Records = append(z.Records, rr)
	if rr.Type == dns.TypeNSEC3 || (rr.Type == dns.TypeRRSIG && parsed.(*dns.RRSIG).TypeCovered == dns.TypeNSEC3) {
		n := z.nsec3ByKey[string(rr.Owner.Lower)]
		if n == nil {
			n = &Node{Name: rr.Owner}
			z.nsec3ByKey[string(rr.Owner.Lower)] = n
		}
		return b.addToNode(n, rr)
	}
	n := z.nodes[string(rr.Owner.Lower)]
	if n == nil {
		n = &Node{Name: rr.Owner}
		z.nodes[string(rr.Owner.Lower)] = n
	}
	return b.addToNode(n, rr)
}

func (b *builder) addToNode(n *Node, rr *RR) error {
	t := rr.Type
	if t == dns.TypeRRSIG {
		t = rr.Src.(*dns.RRSIG).TypeCovered
	}
	set := n.Set(t)
	if set == nil {
		set = &RRset{Type: t, TTL: rr.TTL}
		n.Sets = append(n.Sets, set)
	}
	list := &set.RRs
	if rr.Type == dns.TypeRRSIG {
		list = &set.Sigs
	}
	for _, old := range *list {
		if dns.IsDuplicate(old.Src, rr.Src) {
			return nil // duplicates are dropped, as every server does
		}
	}
	if rr.Type != dns.TypeRRSIG {
		if len(set.RRs) > 0 && rr.TTL != set.TTL {
			b.z.Warnings = append(b.z.Warnings, fmt.Sprintf("%s:%d: TTL %d differs from the RRset's %d; using %d",
				rr.File, rr.Line, rr.TTL, set.TTL, set.TTL))
		}
		if len(set.RRs) == 0 {
			set.TTL = rr.TTL
		}
		rr.TTL = set.TTL
	}
	*list = append(*list, rr)
	return nil
}

// finish runs the checks and computes the per-name facts.
func (b *builder) finish() error {
	z := b.z
	apex := z.nodes[string(z.Origin.Lower)]
	if apex == nil || apex.Set(dns.TypeSOA) == nil || len(apex.Set(dns.TypeSOA).RRs) == 0 {
		return b.errf(nil, "no SOA record at the zone apex %s", z.Name())
	}
	z.Apex = apex
	z.SOA = apex.Set(dns.TypeSOA)
	if len(z.SOA.RRs) > 1 {
		return b.errf(z.SOA.RRs[1], "more than one SOA record at the apex")
	}
	z.Serial = z.SOA.RRs[0].Src.(*dns.SOA).Serial
	if ns := apex.Set(dns.TypeNS); ns == nil || len(ns.RRs) == 0 {
		return b.errf(nil, "no NS records at the zone apex %s", z.Name())
	}
	apex.Flags |= FlagApex

	// Empty non-terminals: every ancestor of a name, up to the apex, exists.
	names := make([]*Node, 0, len(z.nodes))
	for _, n := range z.nodes {
		names = append(names, n)
	}
	for _, n := range names {
		p := n.Name
		for i := 0; i < wire.MaxLabels && len(p.Lower) > len(z.Origin.Lower); i++ {
			p = wire.Name{Wire: wire.Parent(p.Wire), Lower: wire.Parent(p.Lower)}
			if z.nodes[string(p.Lower)] != nil {
				break
			}
			z.nodes[string(p.Lower)] = &Node{Name: p, Flags: FlagEmptyNonTerm}
		}
	}
	// First pass: flags that depend on the node alone.
	for _, n := range z.nodes {
		sortSets(n)
		if n != apex && n.Set(dns.TypeNS) != nil && len(n.Set(dns.TypeNS).RRs) > 0 {
			n.Flags |= FlagDelegation
		}
		if s := n.Set(dns.TypeCNAME); s != nil && len(s.RRs) > 0 {
			n.Flags |= FlagCNAME
		}
		if s := n.Set(dns.TypeDNAME); s != nil && len(s.RRs) > 0 {
			n.Flags |= FlagDNAME
		}
		if wire.IsWildcard(n.Name.Lower) && n != apex {
			if p := z.nodes[string(wire.Parent(n.Name.Lower))]; p != nil {
				p.Flags |= FlagWildcardChild
			}
		}
		for _, s := range n.Sets {
			if len(s.RRs) == 0 && len(s.Sigs) > 0 {
				return b.errf(s.Sigs[0], "RRSIG covers %s but %s has no such records",
					dns.Type(s.Type), wire.String(n.Name.Wire))
			}
		}
	}
	// Second pass: below-cut, and the checks.
	for _, n := range z.nodes {
		if err := b.checkNode(n); err != nil {
			return err
		}
	}
	for _, n := range z.nodes {
		if n.Has(FlagApex) || (n.Has(FlagDelegation) && !n.Has(FlagBelowCut)) {
			b.checkNSAddresses(n)
		}
	}
	if err := b.checkSignatures(); err != nil {
		return err
	}
	return b.buildChains()
}

func sortSets(n *Node) {
	sort.Slice(n.Sets, func(i, j int) bool { return n.Sets[i].Type < n.Sets[j].Type })
}

func firstRR(n *Node) *RR {
	for _, s := range n.Sets {
		if len(s.RRs) > 0 {
			return s.RRs[0]
		}
	}
	return nil
}

func (b *builder) checkNode(n *Node) error {
	z := b.z
	// Below a cut when any ancestor strictly between the apex and the
	// node is a delegation point.
	p := n.Name.Lower
	for i := 0; i < wire.MaxLabels && len(p) > len(z.Origin.Lower); i++ {
		p = wire.Parent(p)
		if len(p) <= len(z.Origin.Lower) {
			break
		}
		if a := z.nodes[string(p)]; a != nil && a.Has(FlagDelegation) {
			// Occluded data (RFC 2181 §6): loaded, never served (the
			// referral is), reported, as NSD and Knot do.
			n.Flags |= FlagBelowCut
			for _, s := range n.Sets {
				if s.Type != dns.TypeA && s.Type != dns.TypeAAAA && len(s.RRs) > 0 {
					b.warnf(s.RRs[0], "%s %s is occluded by the delegation %s (only glue, A/AAAA, belongs below a cut): never served",
						wire.String(n.Name.Wire), dns.Type(s.Type), wire.String(a.Name.Wire))
				}
				if len(s.Sigs) > 0 {
					b.warnf(s.Sigs[0], "RRSIG %s below the delegation %s is occluded: never served",
						dns.Type(s.Type), wire.String(a.Name.Wire))
				}
			}
			break
		}
	}
	if n.Has(FlagDelegation) {
		for _, s := range n.Sets {
			switch s.Type {
			case dns.TypeNS, dns.TypeDS, dns.TypeNSEC, dns.TypeA, dns.TypeAAAA:
			default:
				if len(s.RRs) > 0 {
					b.warnf(s.RRs[0], "%s %s is occluded by the delegation at the same name: never served (the referral is)",
						wire.String(n.Name.Wire), dns.Type(s.Type))
				}
			}
		}
	}
	if n.Has(FlagApex) {
		if s := n.Set(dns.TypeDS); s != nil && len(s.RRs) > 0 {
			return b.errf(s.RRs[0], "DS at the zone apex belongs in the parent zone")
		}
	}
	if s := n.Set(dns.TypeSOA); s != nil && !n.Has(FlagApex) && len(s.RRs) > 0 {
		return b.errf(s.RRs[0], "SOA record at %s, which is not the zone apex", wire.String(n.Name.Wire))
	}
	if n.Has(FlagCNAME) {
		cn := n.Set(dns.TypeCNAME)
		if len(cn.RRs) > 1 {
			return b.errf(cn.RRs[1], "more than one CNAME at %s", wire.String(n.Name.Wire))
		}
		for _, s := range n.Sets {
			switch s.Type {
			case dns.TypeCNAME, dns.TypeNSEC:
			default:
				if len(s.RRs) > 0 {
					return b.errf(cn.RRs[0], "CNAME at %s beside other data (%s)",
						wire.String(n.Name.Wire), dns.Type(s.Type))
				}
			}
		}
	}
	if n.Has(FlagDNAME) && len(n.Set(dns.TypeDNAME).RRs) > 1 {
		return b.errf(n.Set(dns.TypeDNAME).RRs[1], "more than one DNAME at %s", wire.String(n.Name.Wire))
	}
	return nil
}

// checkNSAddresses warns of NS targets inside the zone that have no
// address (missing glue, a lame delegation): the zone loads and the
// referral goes without that glue, as NSD and Knot serve it.
func (b *builder) checkNSAddresses(n *Node) {
	for _, rr := range n.Set(dns.TypeNS).RRs {
		target := wire.ToLower(rr.RData)
		if !wire.IsSubdomain(target, b.z.Origin.Lower) {
			continue
		}
		t := b.z.nodes[string(target)]
		if t == nil || (t.Set(dns.TypeA) == nil && t.Set(dns.TypeAAAA) == nil) {
			b.warnf(rr, "in-bailiwick name server %s of %s has no address (A/AAAA) records: missing glue, sent without it",
				wire.String(rr.RData), wire.String(n.Name.Wire))
		}
	}
}

// checkSignatures refuses the zone when an RRSIG has expired, warns of
// those expiring within the window, and records the zone's signature
// facts: the earliest expiration and whether it is Signed.
func (b *builder) checkSignatures() error {
	z := b.z
	now := b.opt.now()
	window := b.opt.ExpiryWarning
	if window == 0 {
		window = DefaultExpiryWarning
	}
	sigs := 0
	for _, rr := range z.Records {
		sig, ok := rr.Src.(*dns.RRSIG)
		if !ok {
			continue
		}
		sigs++
		if exp := serialTime(sig.Expiration, now); sigs == 1 || exp.Before(z.SigExpiration) {
			z.SigExpiration = exp
		}
		if !sig.ValidityPeriod(now) && expired(sig, now) {
			return b.errf(rr, "RRSIG %s for %s expired on %s", dns.Type(sig.TypeCovered),
				sig.Hdr.Name, dns.TimeToString(sig.Expiration))
		}
		if expired(sig, now.Add(window)) {
			z.Warnings = append(z.Warnings, fmt.Sprintf("%s:%d: RRSIG %s for %s expires on %s, within %s",
				rr.File, rr.Line, dns.Type(sig.TypeCovered), sig.Hdr.Name, dns.TimeToString(sig.Expiration), window))
		}
	}
	if dk := z.Apex.Set(dns.TypeDNSKEY); dk != nil && len(dk.RRs) > 0 && sigs > 0 {
		z.Signed = true
	}
	return nil
}

// expired compares the RRSIG expiration with t in serial-number arithmetic
// (RFC 4034 §3.1.5).
func expired(sig *dns.RRSIG, t time.Time) bool {
	return serialTime(sig.Expiration, t).Unix() < t.Unix()
}

// serialTime reads an RRSIG time field (seconds since the epoch modulo
// 2^32) as the time it means around t (RFC 4034 §3.1.5).
func serialTime(v uint32, t time.Time) time.Time {
	utc := t.Unix()
	mod := (int64(v) - utc) / (1 << 32)
	return time.Unix(int64(v)+mod*(1<<32), 0)
}

// buildChains sorts the NSEC chain canonically and the NSEC3 chain by hash,
// and hashes every authoritative name of an NSEC3 zone.
func (b *builder) buildChains() error {
	z := b.z
	for _, n := range z.nodes {
		if s := n.Set(dns.TypeNSEC); s != nil && len(s.RRs) > 0 {
			z.nsecChain = append(z.nsecChain, n)
		}
	}
	sort.Slice(z.nsecChain, func(i, j int) bool {
		return wire.Compare(z.nsecChain[i].Name.Lower, z.nsecChain[j].Name.Lower) < 0
	})
	if p := z.Apex.Set(dns.TypeNSEC3PARAM); p != nil && len(p.RRs) > 0 {
		np := p.RRs[0].Src.(*dns.NSEC3PARAM)
		z.NSEC3 = &NSEC3Params{Hash: np.Hash, Iterations: np.Iterations, Salt: np.Salt}
	}
	keys := make(map[string]*Node, len(z.nsec3ByKey))
	for _, n := range z.nsec3ByKey {
		if s := n.Set(dns.TypeNSEC3); s == nil || len(s.RRs) == 0 {
			return b.errf(firstSig(n), "RRSIG for NSEC3 without an NSEC3 record at %s", wire.String(n.Name.Wire))
		}
		if wire.Parent(n.Name.Lower) == nil || string(wire.Parent(n.Name.Lower)) != string(z.Origin.Lower) {
			return b.errf(n.Set(dns.TypeNSEC3).RRs[0], "NSEC3 owner %s is not a hash label directly below the apex",
				wire.String(n.Name.Wire))
		}
		if z.NSEC3 == nil {
			n3 := n.Set(dns.TypeNSEC3).RRs[0].Src.(*dns.NSEC3)
			z.NSEC3 = &NSEC3Params{Hash: n3.Hash, Iterations: n3.Iterations, Salt: n3.Salt}
		}
		l := n.Name.Lower
		key := string(l[1 : 1+int(l[0])])
		n.NSEC3Hash = key
		keys[key] = n
		z.nsec3Chain = append(z.nsec3Chain, n)
	}
	z.nsec3ByKey = keys
	sort.Slice(z.nsec3Chain, func(i, j int) bool { return z.nsec3Chain[i].NSEC3Hash < z.nsec3Chain[j].NSEC3Hash })
	if z.NSEC3 != nil {
		z.nsec3Salt = decodeSalt(z.NSEC3.Salt)
		for _, n := range z.nodes {
			if n.Has(FlagBelowCut) {
				continue
			}
			n.NSEC3Hash = z.HashName(n.Name.Lower)
		}
	}
	return nil
}

func firstSig(n *Node) *RR {
	for _, s := range n.Sets {
		if len(s.Sigs) > 0 {
			return s.Sigs[0]
		}
	}
	return nil
}

// NSECCover returns the node whose NSEC covers the lower-case name: the
// greatest NSEC owner canonically below it, wrapping to the last.
func (z *Zone) NSECCover(lower []byte) *Node {
	c := z.nsecChain
	if len(c) == 0 {
		return nil
	}
	i := sort.Search(len(c), func(i int) bool { return wire.Compare(c[i].Name.Lower, lower) >= 0 })
	if i == 0 {
		return c[len(c)-1]
	}
	return c[i-1]
}

// SOAMinimum is the MINIMUM field of the zone's SOA (RFC 2308 §4).
func (z *Zone) SOAMinimum() uint32 {
	rd := z.SOA.RRs[0].RData
	return binary.BigEndian.Uint32(rd[len(rd)-4:])
}
