package render

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/internal/testsupport/zonegen"
	"github.com/xdpdns/xdpdns/interop/interoptest"
	"github.com/xdpdns/xdpdns/zonecompiler/binfmt"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// genEngine serves a zonegen version.
func genEngine(t *testing.T, rrs map[string]dns.RR) *engine.Engine {
	t.Helper()
	return interoptest.GenEngine(t, engine.Config{UDPSize: 1232}, rrs)
}

// chainOf is the NSEC3 chain of e's zone, by hash, or its NSEC chain, by
// owner.
func chainOf(e *engine.Engine) []string {
	var out []string
	z := e.Zones().Zones()[0]
	for _, n := range z.NSEC3Chain() {
		out = append(out, n.ChainLabel())
	}
	for _, n := range z.NSECChain() {
		out = append(out, string(n.Name.Lower()))
	}
	return out
}

// versionRun follows a zone through its versions as the daemon does:
// each change rendered alone where Recompile can, the image after it held
// to a whole compile of the version (entry by entry, and in the chain
// view its templates read), else the version taken whole.
type versionRun struct {
	t    *testing.T
	e    *engine.Engine
	img  *Image
	live canonImage
	inc  *Incremental
}

func newVersionRun(t *testing.T, e *engine.Engine) *versionRun {
	t.Helper()
	img, err := Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	return &versionRun{t: t, e: e, img: img, live: canonOf(img), inc: img.Incremental}
}

// next takes version ne: the delta that rendered it alone and the whole
// compile it was held to; with a nil delta, why it was compiled whole.
func (r *versionRun) next(step int, ne *engine.Engine) (*Delta, *Image, error) {
	t := r.t
	t.Helper()
	full, err := Compile(ne)
	if err != nil {
		t.Fatal(err)
	}
	d, next, err := Recompile(r.inc, r.e, ne, nil)
	if errors.Is(err, ErrRecompile) {
		r.live, r.img, r.inc, r.e = canonOf(full), full, full.Incremental, ne
		return nil, full, err
	}
	if err != nil {
		t.Fatalf("step %d: %v", step, err)
	}
	r.live.apply(d)
	if bad := r.live.differences(canonOf(full)); len(bad) > 0 {
		var names []string
		for _, x := range zone.ChangedNames(r.e.Zones().Zones()[0], ne.Zones().Zones()[0]) {
			names = append(names, wire.String(x))
		}
		t.Fatalf("step %d (changed: %s): %d differences from a whole compile, e.g. %s", step, strings.Join(names, " "), len(bad),
			namedHashes(ne, strings.Join(bad[:min(5, len(bad))], "; ")))
	}
	r.img = checkApplied(t, step, r.img, d, full)
	r.e, r.inc = ne, next
	return d, full, nil
}

// TestRecompileSignedChanges changes random NSEC3-signed zones (zonegen:
// delegations with and without DS and glue come and go, wildcards, empty
// non-terminals, CNAME and DNAME, apex data, a new serial every other time;
// every version signed again, unchanged RRsets keeping their signatures,
// as an IXFR from a signer carries) and renders each change with
// Recompile: the image after the change must hold what a whole compile
// holds, entry by entry and in the chain view its templates read. Changes
// to the NSEC3 chain must be rendered alone (the view laid out as before
// but for the records that change), far fewer names than the zone has.
func TestRecompileSignedChanges(t *testing.T) {
	for _, kind := range []zonegen.Kind{zonegen.NSEC, zonegen.NSEC3, zonegen.NSEC3OptOut} {
		t.Run(kind.String(), func(t *testing.T) {
			chain, alone, whole, rendered, total := 0, 0, 0, 0, 0
			reasons := map[string]int{}
			for seed := uint64(1); seed <= 4; seed++ {
				m := zonegen.New(t, seed*7+uint64(kind))
				r := newVersionRun(t, genEngine(t, m.Signed(kind)))
				for step := 1; step <= 25; step++ {
					m.Change()
					bumped := step%2 == 0
					if bumped {
						m.Bump()
					}
					prev := r.e
					d, full, why := r.next(step, genEngine(t, m.Signed(kind)))
					if d == nil {
						whole++
						reasons[strings.SplitN(why.Error(), ": ", 3)[2]]++
						continue
					}
					alone++
					if !slices.Equal(chainOf(prev), chainOf(r.e)) {
						chain++
						if !bumped {
							// What the chain reaches (a new serial
							// renders every name holding the SOA in a
							// template of its own too).
							rendered += len(d.Image.Names)
							total += len(full.Names)
						}
					}
				}
			}
			t.Logf("%d changes rendered alone (%d of the chain: %d names rendered of %d), %d compiled whole: %v",
				alone, chain, rendered, total, whole, reasons)
			if chain < 15 || rendered >= total {
				t.Errorf("%d changes of the chain rendered alone, %d names of %d", chain, rendered, total)
			}
			// What is left to the whole compile: the apex's NSEC3
			// record changed or moved (the shared templates of every
			// insecure delegation hold it), or every known renderer of
			// a shared template reached. Nothing else, of any kind.
			for why := range reasons {
				if !strings.Contains(why, "NSEC3 record of the apex") && !strings.Contains(why, "every answer known to render a shared template") {
					t.Errorf("compiled whole: %s", why)
				}
			}
		})
	}
}

// TestRecompileTLDChain changes the NSEC3 chain of a TLD-shaped zone
// (hundreds of delegations, a fifth with DS): DS records and secure
// delegations come and go, each change adding or removing NSEC3 records
// and changing their neighbours'. Each must be rendered alone, equal to a
// whole compile, rendering a few names per change (those whose cover or
// NSEC3 record changed or moved in the view), not the zone.
func TestRecompileTLDChain(t *testing.T) {
	for _, kind := range []zonegen.Kind{zonegen.NSEC3, zonegen.NSEC3OptOut} {
		t.Run(kind.String(), func(t *testing.T) {
			m := zonegen.New(t, 3+uint64(kind))
			const n = 400
			m.AddDelegations(n)
			r := newVersionRun(t, genEngine(t, m.Signed(kind)))
			alone, whole, rendered, total, covers := 0, 0, 0, 0, 0
			for step := 1; step <= 30; step++ {
				m.ChangeDelegations(n)
				bumped := step%3 == 0
				if bumped {
					m.Bump()
				}
				d, full, why := r.next(step, genEngine(t, m.Signed(kind)))
				if d == nil {
					t.Logf("step %d: %v", step, why)
					whole++
					continue
				}
				alone++
				covers += len(d.Covers)
				if !bumped {
					// What the chain reaches (a new serial renders every
					// name holding the SOA in a template of its own too:
					// in an NSEC3 zone without opt-out, every insecure
					// delegation's DS NODATA).
					rendered += len(d.Image.Names)
					total += len(full.Names)
				}
			}
			t.Logf("%d changes rendered alone (%d names rendered of %d, %d covers moved alone), %d compiled whole", alone, rendered,
				total, covers, whole)
			if alone < 25 || rendered*10 > total {
				t.Errorf("%d changes rendered alone, %d names rendered of %d: not incremental", alone, rendered, total)
			}
			// An opt-out zone's insecure delegations read their covers
			// from the view: a cover moved changes their entries only.
			if kind == zonegen.NSEC3OptOut && covers == 0 {
				t.Error("no insecure delegation's cover moved alone")
			}
		})
	}
}

// TestRecompileWildcardCover adds, for each name of a signed zone that is
// not a delegation, a secure delegation whose NSEC3 hash falls just
// before the hash of the wildcard below that name: the NSEC3 covering the
// wildcard (in the proof of every NXDOMAIN below the name) becomes
// another, while the name's own records do not change. Recompile must
// render the name again: the image must equal a whole compile.
func TestRecompileWildcardCover(t *testing.T) {
	for _, kind := range []zonegen.Kind{zonegen.NSEC3, zonegen.NSEC3OptOut} {
		t.Run(kind.String(), func(t *testing.T) {
			m := zonegen.New(t, 11)
			r := newVersionRun(t, genEngine(t, m.Signed(kind)))
			z := r.e.Zones().Zones()[0]
			var names [][]byte
			z.ForEachNode(func(n *zone.Node) {
				if !n.Has(zone.FlagDelegation) && !n.Has(zone.FlagBelowCut) && !n.Has(zone.FlagCNAME) &&
					!bytes.Equal(n.Name.Lower(), z.Origin.Lower) {
					names = append(names, n.Name.Lower())
				}
			})
			steps := 0
			for k, x := range names {
				z := r.e.Zones().Zones()[0]
				label := labelBefore(z, z.HashName(wire.Wildcard(x)), fmt.Sprintf("wc%d-", k))
				if label == "" {
					t.Fatalf("no label hashing before the wildcard below %s", wire.String(x))
				}
				m.Add(label + " NS ns.example.net.")
				m.Add(label + " DS 1 13 2 " + strings.Repeat("ab", 32))
				if d, _, why := r.next(k, genEngine(t, m.Signed(kind))); d == nil {
					t.Logf("%s: %v", wire.String(x), why)
					continue
				}
				steps++
			}
			if steps < len(names)/2 {
				t.Errorf("%d of %d changes rendered alone", steps, len(names))
			}
		})
	}
}

// labelBefore is a label, prefix and a number, whose name below the apex
// of NSEC3 zone z hashes between hash (a hash label) and the NSEC3 record
// covering it: a delegation of that name puts its NSEC3 record just
// before hash. "" when none of the first 200000 does.
func labelBefore(z *zone.Zone, hash, prefix string) string {
	h, _ := hashKey(hash)
	chain := chainKeys(z)
	prev := chain[coverIn(newChainLayout(chain), h)]
	return labelWhere(z, prefix, func(k [4]uint64) bool { return keyLess(prev, k) && keyLess(k, h) })
}

// chainKeys are the search keys of NSEC3 zone z's chain, in order.
func chainKeys(z *zone.Zone) [][4]uint64 {
	var chain [][4]uint64
	for _, n := range z.NSEC3Chain() {
		c, _ := hashKey(n.ChainLabel())
		chain = append(chain, c)
	}
	return chain
}

// labelWhere is the first label, prefix and a number, whose name below
// the apex of NSEC3 zone z hashes to a key at which ok holds; "" when
// none of the first 200000 does.
func labelWhere(z *zone.Zone, prefix string, ok func(k [4]uint64) bool) string {
	for i := range 200000 {
		l := fmt.Sprintf("%s%d", prefix, i)
		if k, _ := hashKey(z.HashName(append([]byte{byte(len(l))}, append([]byte(l), z.Origin.Lower...)...))); ok(k) {
			return l
		}
	}
	return ""
}

// TestRecompileCNAMEChain: a CNAME to a name a wildcard answers holds the
// wildcard's proof (the NSEC3 covering the target's hash) in its own
// answers. NSEC3 records added just before that hash change the proof,
// far (in hash order) from the CNAME's own hash and its wildcard's: the
// change must still reach the CNAME.
func TestRecompileCNAMEChain(t *testing.T) {
	for _, kind := range []zonegen.Kind{zonegen.NSEC3, zonegen.NSEC3OptOut} {
		t.Run(kind.String(), func(t *testing.T) {
			m := zonegen.New(t, 13)
			m.Add("*.wc A 198.18.0.9")
			m.Add("alias CNAME target.wc")
			r := newVersionRun(t, genEngine(t, m.Signed(kind)))
			target := make([]byte, 256)
			n, err := dns.PackDomainName("target.wc."+zonegen.Origin, target, 0, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			target = target[:n]
			rendered := 0
			for step := range 4 {
				z := r.e.Zones().Zones()[0]
				label := labelBefore(z, z.HashName(target), fmt.Sprintf("cn%d-", step))
				if label == "" {
					t.Fatal("no label hashing before the CNAME target's")
				}
				m.Add(label + " NS ns.example.net.")
				m.Add(label + " DS 1 13 2 " + strings.Repeat("ab", 32))
				d, _, why := r.next(step, genEngine(t, m.Signed(kind)))
				if d == nil {
					t.Logf("step %d: %v", step, why)
					continue
				}
				rendered++
			}
			if rendered < 2 {
				t.Errorf("%d of 4 changes rendered alone", rendered)
			}
		})
	}
}

// TestRecompileNSECCNAME: in an NSEC zone, a CNAME to a missing name
// holds the NSEC covering it (the NXDOMAIN proof), and one to a name a
// wildcard answers the NSEC covering that name (no closer match), in its
// own answers. Names added just before the targets change those covers,
// far from the CNAMEs' own names and from the changed names' ancestors:
// the change must still reach the CNAMEs.
func TestRecompileNSECCNAME(t *testing.T) {
	m := zonegen.New(t, 13)
	m.Add("*.wc A 198.18.0.9")
	m.Add("alias CNAME target.wc")
	m.Add("nx-alias CNAME hm")
	r := newVersionRun(t, genEngine(t, m.Signed(zonegen.NSEC)))
	rendered := 0
	for step := range 4 {
		m.Add(fmt.Sprintf("t%d.wc TXT \"before the target\"", step))
		m.Add(fmt.Sprintf("hl%d TXT \"before the target\"", step))
		d, _, why := r.next(step, genEngine(t, m.Signed(zonegen.NSEC)))
		if d == nil {
			t.Logf("step %d: %v", step, why)
			continue
		}
		rendered++
	}
	if rendered < 2 {
		t.Errorf("%d of 4 changes rendered alone", rendered)
	}
	// A view too large to build again for a change: the whole compile.
	defer func(v int) { maxNSECView = v }(maxNSECView)
	maxNSECView = 4
	m.Add("hz TXT \"after\"")
	if _, _, err := Recompile(r.inc, r.e, genEngine(t, m.Signed(zonegen.NSEC)), nil); !errors.Is(err, ErrRecompile) ||
		!strings.Contains(err.Error(), "NSEC chain view of example.") {
		t.Errorf("a change needing a view of more than %d entries: %v, want ErrRecompile", maxNSECView, err)
	}
}

// TestRecompileDNAME: a DNAME added at a name with names below it
// occludes them (their queries get its synthesis), and removed makes them
// answer again; a CNAME to one of them follows. Each change is rendered
// alone and held to a whole compile, for every kind of zone.
func TestRecompileDNAME(t *testing.T) {
	for _, kind := range []zonegen.Kind{zonegen.Unsigned, zonegen.NSEC, zonegen.NSEC3, zonegen.NSEC3OptOut} {
		t.Run(kind.String(), func(t *testing.T) {
			m := zonegen.New(t, 17)
			m.Add("x.sub A 198.18.0.7")
			m.Add("y.z.sub TXT \"below\"")
			m.Add("sub TXT \"the name\"")
			m.Add("alias CNAME x.sub")
			r := newVersionRun(t, genEngine(t, m.Signed(kind)))
			for step, add := range []bool{true, false, true} {
				if add {
					m.Add("sub DNAME elsewhere.example.net.")
				} else {
					m.Remove("sub."+zonegen.Origin, dns.TypeDNAME)
				}
				if d, _, why := r.next(step, genEngine(t, m.Signed(kind))); d == nil {
					t.Fatalf("step %d: compiled whole: %v", step, why)
				}
			}
		})
	}
}

// TestRecompileHeldCover adds NSEC3 records just after the hashes of
// insecure delegations of an opt-out zone: each one's cover (the NSEC3
// record before its hash, in its DS NODATA and referral proofs) keeps its
// place and changes its next hash. A delegation whose answers read the
// cover from the view (a self slot) is not rendered again; one whose
// referral holds the cover's bytes (its name server's name has a label
// shaped like a hash, so no self slot: held) must be, equal to a whole
// compile.
func TestRecompileHeldCover(t *testing.T) {
	m := zonegen.New(t, 17)
	hashLike := strings.Repeat("0", NSEC3LabelLen)
	var names []string
	for i := range 10 {
		m.Add(fmt.Sprintf("held%d NS ns.%s.%s", i, hashLike, zonegen.Origin))
		m.Add(fmt.Sprintf("plain%d NS ns.example.net.", i))
		names = append(names, fmt.Sprintf("held%d", i), fmt.Sprintf("plain%d", i))
	}
	r := newVersionRun(t, genEngine(t, m.Signed(zonegen.NSEC3OptOut)))
	// The held names are known to the Incremental, also read back from
	// the image file (a restart's).
	back, err := DecodeImage(binfmt.NewReader(encoded(t, r.img)))
	if err != nil {
		t.Fatal(err)
	}
	for _, inc := range []*Incremental{r.inc, back.Incremental} {
		var held []string
		for _, u := range inc.zones {
			for n := range u.held {
				held = append(held, wire.String([]byte(n)))
			}
		}
		slices.Sort(held)
		if want := fmt.Sprint([]string{"held0.example.", "held1.example.", "held2.example.", "held3.example.", "held4.example.",
			"held5.example.", "held6.example.", "held7.example.", "held8.example.", "held9.example."}); fmt.Sprint(held) != want {
			t.Fatalf("held names %v, want %s", held, want)
		}
	}
	alone := map[bool]int{}
	for step, name := range names {
		lower := make([]byte, 256)
		n, err := dns.PackDomainName(name+"."+zonegen.Origin, lower, 0, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		lower = lower[:n]
		z := r.e.Zones().Zones()[0]
		label := labelAfter(z, z.HashName(lower), fmt.Sprintf("ha%d-", step))
		if label == "" {
			t.Fatalf("no label hashing just after %s's", name)
		}
		m.Add(label + " NS ns.example.net.")
		m.Add(label + " DS 1 13 2 " + strings.Repeat("ab", 32))
		prev, was := r.e, r.inc.zones[string(z.Origin.Lower)].layout
		d, _, why := r.next(step, genEngine(t, m.Signed(zonegen.NSEC3OptOut)))
		if d == nil {
			t.Logf("%s: compiled whole: %v", name, why)
			continue
		}
		if apexTouched(prev, r.e, was, r.inc.zones[string(z.Origin.Lower)].layout) {
			// The record's slot pushed the apex's NSEC3 on, or changed
			// it: every insecure delegation's referral is rendered again.
			t.Logf("%s: the apex's NSEC3 record moved or changed", name)
			continue
		}
		_, rendered := d.Image.Names[abi.HashName(lower)]
		held := strings.HasPrefix(name, "held")
		if rendered != held {
			t.Errorf("%s (held %v): rendered again %v", name, held, rendered)
		}
		alone[held]++
	}
	if alone[true] < 3 || alone[false] < 3 {
		t.Errorf("changes rendered alone after held / plain delegations: %d / %d", alone[true], alone[false])
	}
}

// labelAfter is a label, prefix and a number, whose name below the apex
// of NSEC3 zone z hashes between hash (a hash label, no NSEC3 record's)
// and the next NSEC3 record after it: a delegation of that name changes
// the next hash of the record covering hash, which keeps covering it. ""
// when none of the first 200000 does.
func labelAfter(z *zone.Zone, hash, prefix string) string {
	h, _ := hashKey(hash)
	chain := chainKeys(z)
	next := chain[(coverIn(newChainLayout(chain), h)+1)%len(chain)]
	// (past the last record, the next is the first)
	return labelWhere(z, prefix, func(k [4]uint64) bool { return keyLess(h, k) && (keyLess(k, next) || !keyLess(h, next)) })
}

// namedHashes is msg with the name hashes differences prints (their top
// 32 bits) followed by the names of e's zones they are.
func namedHashes(e *engine.Engine, msg string) string {
	for _, z := range e.Zones().Zones() {
		z.ForEachNode(func(n *zone.Node) {
			h := fmt.Sprintf("%x", abi.HashName(n.Name.Lower()).H1>>32)
			msg = strings.ReplaceAll(msg, " "+h+" ", " "+h+" ("+wire.String(n.Name.Lower())+") ")
			msg = strings.ReplaceAll(msg, " "+h+":", " "+h+" ("+wire.String(n.Name.Lower())+"):")
		})
	}
	return msg
}

// TestRecompileSOAShare: a new serial of an NSEC zone whose insecure
// delegations are most of it is rendered alone, as the same change
// without a new serial is: their DS NODATA answers (the SOA, and their own
// NSEC left to the program: nsecSelfSlot) share one template, rewritten
// once, not rendered again per delegation.
func TestRecompileSOAShare(t *testing.T) {
	const n = 3000
	m := zonegen.New(t, 9)
	m.AddDelegations(n)
	r := newVersionRun(t, genEngine(t, m.Signed(zonegen.NSEC)))
	m.ChangeDelegations(n)
	if d, _, err := r.next(1, genEngine(t, m.Signed(zonegen.NSEC))); d == nil {
		t.Fatalf("a change without a new serial compiled whole: %v", err)
	}
	m.ChangeDelegations(n)
	m.Bump()
	d, _, err := r.next(2, genEngine(t, m.Signed(zonegen.NSEC)))
	if d == nil {
		t.Fatalf("a new serial reaching %d insecure delegations' DS NODATA answers compiled whole: %v", n*4/5, err)
	}
	if len(d.Rewrites) == 0 || len(d.Image.Names) > 64 {
		t.Fatalf("a new serial rewrote %d shared templates and rendered %d names, want the shared ones rewritten and a few names",
			len(d.Rewrites), len(d.Image.Names))
	}
	t.Logf("new serial: %d shared templates rewritten, %d names rendered", len(d.Rewrites), len(d.Image.Names))
}

// TestRecompileOptOutApex: a change of the apex's NSEC3 record in an
// opt-out zone (a type added at the apex, with a new serial or without)
// reaches every insecure delegation's referral and
// DS NODATA (their closest encloser proof holds it): the shared
// templates holding it are rewritten in place (the Incremental knows them
// by its signature's bytes) and the few names whose own templates hold it
// rendered again, not every delegation — equal to a whole compile, for a
// small zone and a TLD-shaped one.
func TestRecompileOptOutApex(t *testing.T) {
	for _, n := range []int{40, 3000} {
		m := zonegen.New(t, 5)
		m.AddDelegations(n)
		r := newVersionRun(t, genEngine(t, m.Signed(zonegen.NSEC3OptOut)))
		// A type more at the apex changes its NSEC3 record; a new serial
		// with it, both (templates holding both rewritten once), or the
		// SOA alone after them.
		steps := []struct {
			add  string
			bump bool
		}{
			{"@ SSHFP 1 1 0123456789abcdef0123456789abcdef01234567", false},
			{"@ HINFO \"a\" \"b\"", true},
			{"", true},
			{"@ CAA 0 issue \"ca.example.net\"", false},
		}
		for step, sp := range steps {
			if sp.add != "" {
				m.Add(sp.add)
			}
			if sp.bump {
				m.Bump()
			}
			d, _, err := r.next(step+1, genEngine(t, m.Signed(zonegen.NSEC3OptOut)))
			switch {
			case d == nil:
				t.Fatalf("%d delegations, step %d: compiled whole: %v", n, step+1, err)
			case len(d.Rewrites) == 0:
				t.Fatalf("%d delegations, step %d: no shared template rewritten", n, step+1)
			case n == 3000 && len(d.Image.Names) > n/10:
				t.Fatalf("%d delegations, step %d: %d names rendered, want the few whose own templates hold the record", n, step+1, len(d.Image.Names))
			}
			t.Logf("%d delegations, step %d: %d names rendered, %d shared templates rewritten", n, step+1, len(d.Image.Names), len(d.Rewrites))
		}
	}
}

// BenchmarkRecompileNSEC: a change of a few delegations (ChangeDelegations)
// of an NSEC-signed zone of 20000 delegations rendered alone (the apex's
// view built again whole, its 20001 pieces), against the whole compile of
// the new version: "tld", a fifth of the delegations secure, the change
// without a new serial (with one, the insecure delegations' DS NODATA
// answers, which hold the SOA and their own NSEC, would all be rendered
// again: Recompile leaves that to the whole compile); "root", every
// delegation secure (as the root zone's TLDs nearly all are), with a new
// serial.
func BenchmarkRecompileNSEC(b *testing.B) {
	const n = 20000
	for _, root := range []bool{false, true} {
		name := "tld"
		if root {
			name = "root"
		}
		m := zonegen.New(b, 3)
		m.AddDelegations(n)
		if root {
			for i := range n {
				if i%5 != 0 {
					m.Add(fmt.Sprintf("t%d DS %d 13 2 %064x", i, i, i+7))
				}
			}
		}
		e := interoptest.GenEngine(b, engine.Config{UDPSize: 1232}, m.Signed(zonegen.NSEC))
		img, err := Compile(e)
		if err != nil {
			b.Fatal(err)
		}
		m.ChangeDelegations(n)
		if root {
			m.Bump()
		}
		ne := interoptest.GenEngine(b, engine.Config{UDPSize: 1232}, m.Signed(zonegen.NSEC))
		b.Run(name+"/alone", func(b *testing.B) {
			for b.Loop() {
				d, _, err := Recompile(img.Incremental, e, ne, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(len(d.Image.Names)), "names/op")
			}
		})
		b.Run(name+"/whole", func(b *testing.B) {
			for b.Loop() {
				if _, err := Compile(ne); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// apexTouched reports whether the NSEC3 record of the apex changed from
// version a to b, or moved in the chain view (laid out as was, then is).
func apexTouched(a, b *engine.Engine, was, is *chainLayout) bool {
	za, zb := a.Zones().Zones()[0], b.Zones().Zones()[0]
	k, ok := hashKey(zb.NSEC3Hash(zb.Apex))
	if !ok || slotOf(was, k) != slotOf(is, k) {
		return true
	}
	sa, sb := za.NSEC3Match(za.NSEC3Hash(za.Apex)), zb.NSEC3Match(zb.NSEC3Hash(zb.Apex))
	if sa == nil || sb == nil {
		return true
	}
	ra, rb := sa.Set(dns.TypeNSEC3), sb.Set(dns.TypeNSEC3)
	if len(ra.RRs()) != len(rb.RRs()) || len(ra.Sigs()) != len(rb.Sigs()) {
		return true
	}
	for i := range ra.RRs() {
		if !bytes.Equal(ra.RRs()[i].RData(), rb.RRs()[i].RData()) {
			return true
		}
	}
	for i := range ra.Sigs() {
		if !bytes.Equal(ra.Sigs()[i].RData(), rb.Sigs()[i].RData()) {
			return true
		}
	}
	return false
}

// TestRecompileNSECSelfParent: in an NSEC zone, an insecure delegation
// below a name the change does not reach (d.sub, whose name server h is
// elsewhere) is rendered again when its name server's address changes;
// its DS NODATA must read its parent's chain view as a whole compile's
// does, though that view is not built again. A new serial alone then
// rewrites the shared templates and builds no view again.
func TestRecompileNSECSelfParent(t *testing.T) {
	m := zonegen.New(t, 21)
	for i := range 8 {
		m.Add(fmt.Sprintf("d%d.sub NS h", i))
	}
	m.Add("sub TXT \"a parent of its own\"")
	m.Add("h A 198.18.0.7")
	r := newVersionRun(t, genEngine(t, m.Signed(zonegen.NSEC)))
	m.Remove("h."+zonegen.Origin, dns.TypeA)
	m.Add("h A 198.18.0.8")
	d, _, err := r.next(1, genEngine(t, m.Signed(zonegen.NSEC)))
	if d == nil {
		t.Fatalf("a name server's address compiled whole: %v", err)
	}
	if !renderedName(d, "d0.sub.example.") {
		t.Fatalf("the delegation naming h was not rendered again")
	}
	m.Bump()
	d, _, err = r.next(2, genEngine(t, m.Signed(zonegen.NSEC)))
	if d == nil {
		t.Fatalf("a new serial compiled whole: %v", err)
	}
	for _, dz := range d.Image.Denial {
		if dz != nil && !dz.Ref {
			t.Errorf("a new serial built the chain view of %s again", wire.String(dz.Name()))
		}
	}
}

// renderedName reports whether d renders name (presentation form).
func renderedName(d *Delta, name string) bool {
	w := make([]byte, wire.MaxNameLen+1)
	n, err := dns.PackDomainName(name, w, 0, nil, false)
	if err != nil {
		return false
	}
	_, ok := d.Image.Names[abi.HashName(w[:n])]
	return ok
}

// TestRecompileNSECPatched: an NSEC TLD's apex view is too large to build
// again for a change (lowered here: NSECPatchMin and maxNSECView 8), so it
// is laid out with holes and a change patches it — DS records and
// delegations coming and going, random changes elsewhere, a new serial
// every other step. Every change must be rendered alone, equal to a
// whole compile, with the apex's view patched, not built again.
func TestRecompileNSECPatched(t *testing.T) {
	defer func(p, v int) { NSECPatchMin, maxNSECView = p, v }(NSECPatchMin, maxNSECView)
	NSECPatchMin, maxNSECView = 8, 8
	patched, alone, changes := 0, 0, 0
	for seed := uint64(1); seed <= 3; seed++ {
		m := zonegen.New(t, seed*11)
		m.AddDelegations(200)
		r := newVersionRun(t, genEngine(t, m.Signed(zonegen.NSEC)))
		for step := 1; step <= 12; step++ {
			m.ChangeDelegations(200)
			if step%3 == 0 {
				m.Change()
			}
			if step%2 == 0 {
				m.Bump()
			}
			a := r.e.Zones().Zones()[0]
			d, _, why := r.next(step, genEngine(t, m.Signed(zonegen.NSEC)))
			if d == nil {
				t.Fatalf("seed %d step %d: compiled whole: %v", seed, step, why)
			}
			alone++
			b := r.e.Zones().Zones()[0]
			if len(nsecChanged(a, b, zone.ChangedNames(a, b))) > 0 {
				changes++ // some NSEC RRset changed: the apex's view at least
			}
			for _, dz := range d.Image.Denial {
				if dz == nil {
					continue
				}
				if dz.Patch {
					patched++
				} else if !dz.Ref && dz.Count() > maxNSECView {
					t.Fatalf("seed %d step %d: the view of %s (%d slots) built again whole", seed, step, wire.String(dz.Name()), dz.Count())
				}
			}
		}
	}
	if patched < changes || changes < alone/2 {
		t.Errorf("%d views patched in %d changes of NSEC records (%d changes), want the apex's in each", patched, changes, alone)
	}
	t.Logf("%d changes rendered alone (%d of NSEC records), %d views patched", alone, changes, patched)

	// Names added in one place, more than the holes there take: the
	// entries after them move on, and the insecure delegations among
	// them get their entries' new place of their own NSEC (Delta.Covers;
	// a stale place would name a hole or another record).
	m := zonegen.New(t, 5)
	m.AddDelegations(200)
	r := newVersionRun(t, genEngine(t, m.Signed(zonegen.NSEC)))
	moved := 0
	for step := 1; step <= 3; step++ {
		for i := range 12 {
			m.Add(fmt.Sprintf("t1%d-%d NS ns1.example.net.", step, i)) // between t1K and t1K0
		}
		d, _, why := r.next(step, genEngine(t, m.Signed(zonegen.NSEC)))
		if d == nil {
			t.Fatalf("clustered step %d: compiled whole: %v", step, why)
		}
		moved += len(d.Covers)
	}
	if moved == 0 {
		t.Errorf("no insecure delegation's own NSEC moved in 36 names added in three places")
	}
	t.Logf("clustered additions: %d places of insecure delegations' own NSEC moved", moved)
}
