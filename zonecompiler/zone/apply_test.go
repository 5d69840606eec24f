package zone

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// loadRecords is Load of a record set.
func loadRecords(t testing.TB, rrs map[string]dns.RR) *Zone {
	t.Helper()
	z, err := Load(strings.NewReader(zoneText(rrs)), genOrigin, "gen.zone", testOptions())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return z
}

// smallChunks makes the chunked sequences and the node map overlay split,
// empty and flatten at test sizes.
func smallChunks(t *testing.T) {
	bc, mc, fm := buildChunk, maxChunk, flattenMin
	buildChunk, maxChunk, flattenMin = 4, 8, 16
	t.Cleanup(func() { buildChunk, maxChunk, flattenMin = bc, mc, fm })
}

// TestApplyMatchesLoad applies random change sequences to unsigned, NSEC,
// NSEC3 and NSEC3 opt-out zones and, after every step, holds the zone
// Apply made equal to Load of the same records (dumpZone), and the
// version it was applied to unchanged.
func TestApplyMatchesLoad(t *testing.T) {
	smallChunks(t)
	steps := 150
	if testing.Short() {
		steps = 40
	}
	for _, kind := range []denialKind{unsigned, signedNSEC, signedNSEC3, signedNSEC3OptOut} {
		t.Run(kind.String(), func(t *testing.T) {
			for seed := uint64(1); seed <= 3; seed++ {
				m := newModel(t, seed*10+uint64(kind))
				cur := m.Signed(kind)
				z := loadRecords(t, cur)
				for step := range steps {
					m.Change()
					m.Bump()
					next := m.Signed(kind)
					ch := diff(cur, next)
					before := dumpZone(t, z)
					nz, changed, err := Apply(z, ch, testOptions())
					if err != nil {
						t.Fatalf("seed %d step %d: Apply: %v", seed, step, err)
					}
					if after := dumpZone(t, z); after != before {
						t.Fatalf("seed %d step %d: Apply changed the old version:\n%s", seed, step, firstDiff(before, after))
					}
					want := loadText(t, changedText(z, ch))
					if got, exp := dumpZone(t, nz), dumpZone(t, want); got != exp {
						t.Fatalf("seed %d step %d: Apply differs from Load (-load +apply):\n%s\nchange: -%v\n+%v", seed, step, firstDiff(exp, got), ch.Del, ch.Add)
					}
					checkChanged(t, z, nz, changed)
					checkHashIndex(t, step, nz, want)
					checkNameIndex(t, step, nz, want)
					z, cur = nz, next
				}
			}
		})
	}
}

// checkHashIndex holds the index of names by hash that Apply carried to
// nz to the one built from want, the same version loaded: the same
// entries, each naming nz's node.
func checkHashIndex(t *testing.T, step int, nz, want *Zone) {
	t.Helper()
	if nz.NSEC3 == nil {
		return
	}
	got := nz.lazy.hashes.Load()
	if got == nil {
		t.Fatalf("step %d: Apply carried no index of names by hash", step)
	}
	list := func(idx *hashIndex, z *Zone) []string {
		var out []string
		check := func(n *Node) {
			if z != nil && z.Node(n.Name.Lower()) != n {
				t.Errorf("step %d: the index names a node of %s that is not the version's", step, n.Name.Lower())
			}
		}
		idx.own.each(func(n *Node) bool {
			check(n)
			out = append(out, "own "+z.NSEC3Hash(n)+" "+string(n.Name.Lower()))
			return true
		})
		idx.others.each(func(r hashRef) bool {
			check(r.n)
			out = append(out, r.key+" "+string(r.n.Name.Lower()))
			return true
		})
		return out
	}
	g, w := list(got, nz), list(want.hashIndex(), want)
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Fatalf("step %d: the carried index of names by hash differs from a fresh one (-fresh +carried):\n%s", step,
			firstDiff(strings.Join(w, "\n"), strings.Join(g, "\n")))
	}
}

// checkNameIndex holds the name index that Apply carried to nz to the
// one built from want, the same version loaded: the same names, each
// entry nz's node (an entry left naming an older version's node would
// keep its records alive), every deep name and no other; and the same
// count of RRSIGs by expiration.
func checkNameIndex(t *testing.T, step int, nz, want *Zone) {
	t.Helper()
	got := nz.lazy.names
	var g, w []string
	got.each(func(n *Node) bool {
		if nz.Node(n.Name.Lower()) != n {
			t.Errorf("step %d: the name index names a node of %s that is not the version's", step, wire.String(n.Name.Lower()))
		}
		g = append(g, wire.String(n.Name.Lower()))
		return true
	})
	want.index().names.each(func(n *Node) bool {
		w = append(w, wire.String(n.Name.Lower()))
		return true
	})
	var deep []string
	want.ForEachNode(func(n *Node) {
		if want.deep(n.Name.Lower()) {
			deep = append(deep, wire.String(n.Name.Lower()))
		}
	})
	if strings.Join(g, "\n") != strings.Join(w, "\n") || len(deep) != len(w) {
		t.Fatalf("step %d: the carried name index differs from a fresh one (-fresh +carried; %d deep names):\n%s", step, len(deep),
			firstDiff(strings.Join(w, "\n"), strings.Join(g, "\n")))
	}
	if ge, we := nz.lazy.exps.slice(), want.lazy.exps.slice(); !slices.Equal(ge, we) || nz.nsigs != want.nsigs {
		t.Fatalf("step %d: RRSIG expirations carried %v (%d RRSIGs), fresh %v (%d)", step, ge, nz.nsigs, we, want.nsigs)
	}
}

// changedText is the master file of z with the change applied in place:
// z's records in their order, the deleted ones left out, then the added
// ones, so that Load gives the records of each RRset in the order Apply
// keeps them.
func changedText(z *Zone, ch Change) string {
	del := map[string]bool{}
	for _, rr := range ch.Del {
		del[key(rr)] = true
	}
	var b strings.Builder
	for rr := range z.Records() {
		if !del[key(rr.Src())] {
			b.WriteString(rr.Src().String() + "\n")
		}
	}
	for _, rr := range ch.Add {
		b.WriteString(rr.String() + "\n")
	}
	return b.String()
}

func loadText(t testing.TB, text string) *Zone {
	t.Helper()
	z, err := Load(strings.NewReader(text), genOrigin, "gen.zone", testOptions())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return z
}

// checkChanged holds Changed to what differs between the versions: every
// name whose node is not the same one is listed.
func checkChanged(t *testing.T, old, nz *Zone, c *Changed) {
	t.Helper()
	if c.All {
		return
	}
	listed := map[string]bool{}
	for _, n := range c.Names {
		listed[string(n)] = true
	}
	check := func(a, b *Zone) {
		a.ForEachNode(func(n *Node) {
			if b.Node(n.Name.Lower()) != n && !listed[string(n.Name.Lower())] {
				t.Errorf("%s changed but Changed does not list it", n.Name.Lower())
			}
		})
	}
	check(old, nz)
	check(nz, old)
	l3 := map[string]bool{}
	for _, h := range c.NSEC3 {
		l3[h] = true
	}
	for _, n := range nz.NSEC3Chain() {
		if old.NSEC3Match(n.ChainLabel()) != n && !l3[n.ChainLabel()] {
			t.Errorf("NSEC3 %s changed but Changed does not list it", n.ChainLabel())
		}
	}
	// What ChangedNames finds by comparing the versions, Changed lists,
	// and Owners names, NSEC3 owners too.
	owners := map[string]bool{}
	for _, n := range c.Owners(nz.Origin.Lower) {
		owners[string(n)] = true
	}
	for _, name := range ChangedNames(old, nz) {
		if !listed[string(name)] && !l3[nsec3Label(name)] {
			t.Errorf("ChangedNames has %s, Changed does not", wire.String(name))
		}
		if !owners[string(name)] {
			t.Errorf("ChangedNames has %s, Changed.Owners does not", wire.String(name))
		}
	}
}

// firstDiff shows the first differing lines of two dumps.
func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(la) || i < len(lb); i++ {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			lo := max(0, i-3)
			return "-" + strings.Join(la[lo:min(len(la), i+3)], "\n-") + "\n+" + strings.Join(lb[lo:min(len(lb), i+3)], "\n+")
		}
	}
	return ""
}

// TestApplyRefusals: a change Load would refuse the result of, or that
// deletes what is not there, fails naming the record, and the zone it
// was applied to is unchanged.
func TestApplyRefusals(t *testing.T) {
	m := newModel(t, 99)
	for _, kind := range []denialKind{unsigned, signedNSEC3} {
		z := loadRecords(t, m.Signed(kind))
		before := dumpZone(t, z)
		soa := z.SOA.RRs()[0].Src()
		cases := []struct {
			name   string
			ch     Change
			reason string
			record string // what the error must quote
		}{
			{"delete a record not there", Change{Del: []dns.RR{m.RR("nothere A 192.0.2.9")}}, "deletes a record the zone does not hold", "nothere.example."},
			{"delete a record with other data", Change{Del: []dns.RR{m.RR("@ NS ns9.other.")}}, "deletes a record the zone does not hold", "ns9.other."},
			{"CNAME beside data", Change{Add: []dns.RR{m.RR("@ CNAME elsewhere.")}}, "CNAME at example. beside other data", "elsewhere."},
			{"data beside a CNAME", Change{Add: []dns.RR{m.RR("cn CNAME elsewhere."), m.RR("cn TXT \"x\"")}}, "beside other data", "cn.example."},
			{"remove the SOA", Change{Del: []dns.RR{soa}}, "no SOA record at the zone apex", ""},
			{"two SOAs", Change{Add: []dns.RR{m.RR("@ SOA ns1 host 99 1 2 3 4")}}, "more than one SOA", "99"},
			{"SOA below the apex", Change{Add: []dns.RR{m.RR("x SOA ns1 host 99 1 2 3 4")}}, "not the zone apex", "x.example."},
			{"out of zone", Change{Add: []dns.RR{m.RR("www.other. A 192.0.2.1")}}, "out-of-zone data", "www.other."},
			{"class CH", Change{Add: []dns.RR{m.RR("x CH TXT \"a\"")}}, "class CH", "x.example."},
			{"DS at the apex", Change{Add: []dns.RR{m.RR("@ DS 1 13 2 abcd")}}, "DS at the zone apex", "DS"},
			{"no apex NS", Change{Del: apexNS(z)}, "no NS records at the zone apex", ""},
			{"expired RRSIG", Change{Add: []dns.RR{m.RR("@ RRSIG SOA 13 1 60 20200101000000 20191201000000 1234 example. AAAA")}}, "expired", "RRSIG"},
			{"RRSIG without data", Change{Add: []dns.RR{m.RR("@ RRSIG MX 13 1 60 20400101000000 20191201000000 1234 example. AAAA")}}, "RRSIG covers MX", "RRSIG"},
			{"two CNAMEs", Change{Add: []dns.RR{m.RR("cn CNAME a."), m.RR("cn CNAME b.")}}, "more than one CNAME", "cn.example."},
			{"NSEC3 not below the apex", Change{Add: []dns.RR{m.RR("a.b NSEC3 1 0 0 abcd 0123456789ABCDEFGHIJKLMNOPQRSTUV A")}}, "not a hash label directly below the apex", "a.b.example."},
		}
		for _, tc := range cases {
			t.Run(kind.String()+"/"+tc.name, func(t *testing.T) {
				nz, changed, err := Apply(z, tc.ch, testOptions())
				if err == nil || nz != nil || changed != nil {
					t.Fatalf("Apply succeeded: %v", err)
				}
				var ze *Error
				if !errors.As(err, &ze) {
					t.Errorf("not a *zone.Error: %v", err)
				}
				if !strings.Contains(err.Error(), tc.reason) || !strings.Contains(err.Error(), tc.record) {
					t.Errorf("error %q does not say %q about %q", err, tc.reason, tc.record)
				}
				if after := dumpZone(t, z); after != before {
					t.Errorf("the zone changed:\n%s", firstDiff(before, after))
				}
			})
		}
	}
}

func apexNS(z *Zone) []dns.RR {
	var out []dns.RR
	for _, rr := range z.Apex.Set(dns.TypeNS).RRs() {
		out = append(out, rr.Src())
	}
	return out
}

// TestApplyRebuild: a change of the NSEC3 parameters, or of NSEC3 itself,
// rehashes every name: Apply rebuilds the zone, says so (All), and the
// result is still Load's.
func TestApplyRebuild(t *testing.T) {
	m := newModel(t, 5)
	steps := []denialKind{unsigned, signedNSEC3, signedNSEC, signedNSEC3OptOut, unsigned, signedNSEC}
	cur := m.Signed(steps[0])
	z := loadRecords(t, cur)
	for _, kind := range steps[1:] {
		m.Step()
		m.Bump()
		next := m.Signed(kind)
		ch := diff(cur, next)
		nz, changed, err := Apply(z, ch, testOptions())
		if err != nil {
			t.Fatalf("to %s: %v", kind, err)
		}
		wantAll := (z.NSEC3 != nil) != (kind == signedNSEC3 || kind == signedNSEC3OptOut)
		if changed.All != wantAll {
			t.Errorf("to %s: Changed.All %v, want %v", kind, changed.All, wantAll)
		}
		if got, exp := dumpZone(t, nz), dumpZone(t, loadText(t, changedText(z, ch))); got != exp {
			t.Fatalf("to %s: Apply differs from Load:\n%s", kind, firstDiff(exp, got))
		}
		z, cur = nz, next
	}
}

// TestApplyExpiredSignature: a change applied after an RRSIG the zone
// keeps has expired fails as Load of the zone would, naming it.
func TestApplyExpiredSignature(t *testing.T) {
	m := newModel(t, 6)
	z := loadRecords(t, m.Signed(signedNSEC))
	m.Bump()
	ch := diff(m.Signed(signedNSEC), m.Signed(signedNSEC))
	ch.Add = append(ch.Add, m.RR("h1 TXT \"late\""))
	late := testOptions()
	late.Now = func() time.Time { return genNow.Add(10 * 24 * time.Hour) } // past the 3-day signatures
	_, _, err := Apply(z, ch, late)
	if err == nil || !strings.Contains(err.Error(), "expired on") {
		t.Fatalf("Apply after an RRSIG expired: %v", err)
	}
}

// TestCanonicalKey: the index's sort keys order names as wire.Compare
// does, bytes 0 and 1 in labels included.
func TestCanonicalKey(t *testing.T) {
	names := []string{"example.", "a.example.", "A.example.", "z.example.", "\\000.example.", "\\001.example.",
		"\\001\\000.example.", "\\000\\001.example.", "a\\000.example.", "a.\\000.example.", "*.example.",
		"ab.example.", "a.b.example.", "b.a.example.", "\\255.example.", "\\002.example.", "yljkjljk.a.example."}
	var ws [][]byte
	for _, n := range names {
		ws = append(ws, lowerWire(n))
	}
	for _, a := range ws {
		for _, b := range ws {
			ka, kb := string(canonicalKey(nil, a)), string(canonicalKey(nil, b))
			if got, want := strings.Compare(ka, kb), wire.Compare(a, b); got != want {
				t.Errorf("%s vs %s: keys compare %d, names %d", wire.String(a), wire.String(b), got, want)
			}
		}
	}
}

// TestApplyConcurrentReaders: readers of a version keep reading it while
// changes are applied to it and to its successors (run with -race: Apply
// writes nothing a reader of an older version reads).
func TestApplyConcurrentReaders(t *testing.T) {
	smallChunks(t)
	m := newModel(t, 42)
	cur := m.Signed(signedNSEC3)
	z := loadRecords(t, cur)
	stop := make(chan struct{})
	done := make(chan struct{})
	read := func(z *Zone) {
		defer func() { done <- struct{}{} }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			z.ForEachNode(func(n *Node) {
				if z.Node(n.Name.Lower()) != n {
					t.Error("lookup differs")
				}
				for s := range n.EachSet {
					_ = len(s.RRs()) + len(s.Sigs()) + int(n.Flags)
				}
				z.NSEC3Cover([]byte(z.NSEC3Hash(n)))
			})
			for range z.Records() {
			}
			_ = z.NSEC3Chain()
		}
	}
	readers := 0
	for range 30 {
		go read(z)
		readers++
		m.Step()
		m.Bump()
		next := m.Signed(signedNSEC3)
		nz, _, err := Apply(z, diff(cur, next), testOptions())
		if err != nil {
			t.Fatal(err)
		}
		z, cur = nz, next
	}
	close(stop)
	for range readers {
		<-done
	}
}
