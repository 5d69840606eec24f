package render

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/internal/testsupport/zonegen"
	"github.com/xdpdns/xdpdns/interop/interoptest"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// TestDSSlotShared: in an NSEC3 opt-out zone, the DO=1 DS NODATA of every
// insecure delegation is one template with a denial slot filled from the
// name found (abi.FlagSlotSelf), and the model answers each with the
// engine's bytes, in any case of the name; after a new serial, Recompile
// rewrites that one template instead of rendering each delegation again.
func TestDSSlotShared(t *testing.T) {
	const insecure = 40
	rrs, e, z, img, m := optOutCompiled(t, insecure, "h1 A 198.18.4.1\n")
	ids := map[uint32]int{}
	for _, n := range insecureDelegations(z) {
		h := abi.HashName(n)
		tids, _ := EntryTemplates(img, h, img.Names[h], dns.TypeDS, abi.ModeExact)
		id := tids[1]
		if id == 0 || img.Templates[id].Flags&abi.FlagSlotSelf == 0 {
			t.Fatalf("DS DO=1 at %x: template %d without a self slot", n, id)
		}
		ids[id]++
		for _, name := range []string{dnsName(n), strings.ToUpper(dnsName(n))} {
			q := new(dns.Msg).SetQuestion(name, dns.TypeDS)
			q.SetEdns0(1232, true)
			pkt, _ := q.Pack()
			got, reason := m.Reply(pkt)
			want := e.Respond(nil, pkt, false)
			if got == nil || !bytes.Equal(got, want) {
				t.Fatalf("%s DS: model (%s) and engine differ\n%s", name, reason, diff(got, want))
			}
		}
	}
	if len(ids) != 1 {
		t.Fatalf("the insecure delegations' DS NODATA use %d templates, want 1: %v", len(ids), ids)
	}
	u := img.Incremental.zones[string(z.Origin.Lower)]
	if u == nil || u.tooMany || len(u.names) > 8 {
		t.Fatalf("names holding the SOA in templates of their own: %+v, want a few at most", u)
	}
	t.Logf("%d insecure delegations, one DS NODATA template; %d names hold the SOA in templates of their own", len(insecureDelegations(z)), len(u.names))

	// A new serial (the SOA's RRSIG re-signed with it).
	var next []dns.RR
	for _, rr := range rrs {
		switch x := dns.Copy(rr).(type) {
		case *dns.SOA:
			x.Serial++
			rr = x
		case *dns.RRSIG:
			if x.TypeCovered == dns.TypeSOA {
				x.Signature = "AAAA" + x.Signature[4:]
				rr = x
			}
		}
		next = append(next, rr)
	}
	e2 := rrsEngine(t, "oo.test.", next)
	d, _, _ := recompileStep(t, 1, canonOf(img), img, img.Incremental, e, e2)
	if len(d.Rewrites) == 0 || len(d.Image.Names) > 8 {
		t.Fatalf("a new serial rewrote %d templates and rendered %d names, want the shared ones rewritten and a few names",
			len(d.Rewrites), len(d.Image.Names))
	}
}

// optOutCompiled compiles interoptest.SignedOptOut's zone oo.test. (5
// secure delegations, insecure insecure ones, the lines of extra): its
// records, engine, zone, image and the model over the image.
func optOutCompiled(t *testing.T, insecure int, extra string) ([]dns.RR, *engine.Engine, *zone.Zone, *Image, *Model) {
	t.Helper()
	rrs := interoptest.SignedOptOut(t, "oo.test.", 5, insecure, extra)
	e := rrsEngine(t, "oo.test.", rrs)
	img, err := Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	return rrs, e, e.Zones().Zones()[0], img, &Model{Image: img, UDPSize: 1232}
}

// insecureDelegations lists the delegations of z without DS.
func insecureDelegations(z *zone.Zone) [][]byte {
	var out [][]byte
	z.ForEachNode(func(n *zone.Node) {
		if n.Has(zone.FlagDelegation) && !n.Has(zone.FlagBelowCut) && n.Set(dns.TypeDS) == nil {
			out = append(out, n.Name.Lower())
		}
	})
	return out
}

func dnsName(lower []byte) string {
	var sb strings.Builder
	for len(lower) > 0 && lower[0] != 0 {
		fmt.Fprintf(&sb, "%s.", lower[1:1+lower[0]])
		lower = lower[1+lower[0]:]
	}
	return sb.String()
}

// TestReferralSlotShared: in an NSEC3 opt-out zone, the DO=1 referral to
// an insecure delegation leaves the cover of the delegation's own hash to
// the program (abi.FlagSlotSelf, RFC 5155 §7.2.7), so that delegations
// with the same name servers share one template as their DO=0 referrals
// do; the model answers every one of them, for the delegation and names
// below it, in any case, with the engine's bytes — the covers in every
// interval of the chain, the apex's own among them (left out: already in
// the template). A delegation whose name servers lie below a label as
// long as an NSEC3 hash keeps a template of its own.
func TestReferralSlotShared(t *testing.T) {
	// Delegations eK with names of one length (a template's pointers
	// move with the question's length).
	const shared = 60
	var extra strings.Builder
	for i := 10; i < 10+shared; i++ {
		fmt.Fprintf(&extra, "e%d NS ns1.example.net.\ne%d NS ns2.example.net.\n", i, i)
	}
	hashLike := strings.Repeat("q", NSEC3LabelLen)
	fmt.Fprintf(&extra, "h NS ns.%s\n%s A 198.18.4.2\n", hashLike, hashLike)
	_, e, z, img, m := optOutCompiled(t, 20, extra.String())
	ids := map[uint32]int{}
	headCovered := 0
	for _, n := range insecureDelegations(z) {
		name := dnsName(n)
		h := abi.HashName(n)
		tids, _ := EntryTemplates(img, h, img.Names[h], dns.TypeA, abi.ModeExact)
		id := tids[1]
		self := id != 0 && img.Templates[id].Flags&abi.FlagSlotSelf != 0
		if want := name != "h.oo.test."; self != want {
			t.Fatalf("referral DO=1 at %s: template %d, self slot %v, want %v", name, id, self, want)
		}
		if strings.HasPrefix(name, "e") {
			ids[id]++
		}
		if cover := img.Names[abi.HashName(n)].Cover; cover == 0 {
			// Its DS NODATA has a self slot too (h's included).
			t.Fatalf("%s: the name's entry holds no cover", name)
		}
		for _, qname := range []string{name, "www." + name, strings.ToUpper("a.b." + name)} {
			for _, qt := range []uint16{dns.TypeA, dns.TypeNS, dns.TypeAAAA} {
				q := new(dns.Msg).SetQuestion(qname, qt)
				q.SetEdns0(1232, true)
				pkt, _ := q.Pack()
				dec := m.Decide(pkt)
				got, reason := dec.Reply, dec.Reason
				want := e.Respond(nil, pkt, false)
				if got == nil || !bytes.Equal(got, want) {
					t.Fatalf("%s %s: model (%s) and engine differ\n%s", qname, dns.TypeToString[qt], reason, diff(got, want))
				}
				if name != "h.oo.test." && !strings.Contains(dec.Denial, "its entry says") {
					t.Fatalf("%s: the cover was not read from the name's entry: %s", qname, dec.Denial)
				}
				r := new(dns.Msg)
				if err := r.Unpack(want); err != nil {
					t.Fatal(err)
				}
				nsec3 := 0
				for _, rr := range r.Ns {
					if rr.Header().Rrtype == dns.TypeNSEC3 {
						nsec3++
					}
				}
				if nsec3 != 1 && nsec3 != 2 {
					t.Fatalf("%s: the engine's referral has %d NSEC3 records, want the apex's and the cover", qname, nsec3)
				}
				if nsec3 == 1 {
					headCovered++
				}
			}
		}
	}
	if len(ids) != 1 {
		t.Fatalf("delegations with the same name servers use %d DO=1 referral templates, want 1: %v", len(ids), ids)
	}
	t.Logf("%d insecure delegations; %d DO=1 referrals whose cover is the apex's NSEC3", len(insecureDelegations(z)), headCovered)
}

// TestNoEntriesBelowCut: the names below a cut (glue, the path to a
// missing glue target) have no names entry of their own, the cut's entry
// is a leaf, and the model answers every query at and below them, in any
// case, with the engine's bytes (the engine's referral compresses against
// the question from the cut up only).
func TestNoEntriesBelowCut(t *testing.T) {
	e := textEngine(t, "tld.", `$ORIGIN tld.
$TTL 3600
@ SOA ns hostmaster 1 7200 3600 1209600 300
@ NS ns
ns A 192.0.2.1
d1 NS ns1.d1
d1 NS ns.nic.d1
ns1.d1 A 192.0.2.11
ns1.d1 AAAA 2001:db8::11
ns.nic.d1 A 192.0.2.12
d2 NS ns1.missing.d2
d2 NS ns.elsewhere.test.
`)
	img, err := Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	m := &Model{Image: img, UDPSize: 1232}
	wireOf := func(name string) []byte {
		b := make([]byte, 256)
		n, err := dns.PackDomainName(strings.ToLower(name), b, 0, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		return b[:n]
	}
	for _, name := range []string{"ns1.d1.tld.", "nic.d1.tld.", "ns.nic.d1.tld.", "ns1.missing.d2.tld.", "missing.d2.tld."} {
		if _, ok := img.Names[abi.HashName(wireOf(name))]; ok {
			t.Errorf("%s (below a cut) has a names entry", name)
		}
	}
	for _, cut := range []string{"d1.tld.", "d2.tld."} {
		if ent, ok := img.Names[abi.HashName(wireOf(cut))]; !ok || ent.Flags&abi.NameFlagLeaf == 0 {
			t.Errorf("%s: entry %+v (present %v), want a leaf", cut, ent, ok)
		}
	}
	for _, name := range []string{"d1.tld.", "ns1.d1.tld.", "NS1.D1.tld.", "x.ns1.d1.tld.", "ns.nic.d1.tld.", "abc.d1.tld.",
		"ns1.missing.d2.tld.", "missing.d2.tld.", "x.d2.tld."} {
		for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeNS, dns.TypeMX} {
			q := new(dns.Msg).SetQuestion(name, qtype)
			q.SetEdns0(1232, false)
			pkt, _ := q.Pack()
			got, reason := m.Reply(pkt)
			want := e.Respond(nil, pkt, false)
			if got == nil || !bytes.Equal(got, want) {
				t.Fatalf("%s %s: model (%s) and engine differ\n%s", name, dns.Type(qtype), reason, diff(got, want))
			}
		}
	}
}

// TestNSECDSSlotShared: in an NSEC-signed zone whose SOA names a name of
// the zone (ns1, as most TLDs'), the DO=1 DS NODATA of every insecure
// delegation is one template per parent with a self slot: the program
// finds the delegation's own NSEC in its parent's chain view by its label
// (the entry holds no cover), and the model answers each, in any case,
// with the engine's bytes — the NSEC written as the view's piece (its
// owner compressed from the parent up). A delegation whose label is
// longer than a view's key keeps a template of its own, and so does a
// secure one (its DS answer).
func TestNSECDSSlotShared(t *testing.T) {
	m := zonegen.New(t, 3)
	m.AddDelegations(60)
	long := strings.Repeat("l", abi.DenialLabel+4)
	m.Add(long + " NS ns1.example.net.")
	m.Add("a.ent NS ns1.example.net.")
	m.Add("b.ent NS ns2.example.net.")
	m.Add("c.ent NS ns.c.ent")
	m.Add("ns.c.ent A 198.18.5.1")
	e := genEngine(t, m.Signed(zonegen.NSEC))
	img, err := Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	mod := &Model{Image: img, UDPSize: 1232}
	z := e.Zones().Zones()[0]
	perParent := map[string]map[uint32]bool{}
	shared := 0
	for _, n := range insecureDelegations(z) {
		name := dnsName(n)
		h := abi.HashName(n)
		ent := img.Names[h]
		tids, _ := EntryTemplates(img, h, ent, dns.TypeDS, abi.ModeExact)
		id := tids[1]
		self := id != 0 && img.Templates[id].Flags&abi.FlagSlotSelf != 0
		if want := !strings.HasPrefix(name, long); self != want {
			t.Fatalf("DS DO=1 at %s: template %d, self slot %v, want %v", name, id, self, want)
		}
		if ent.Cover != 0 {
			t.Fatalf("%s: the entry holds cover %d, want none (the program searches the label)", name, ent.Cover)
		}
		if self {
			p := dnsName(n[1+n[0]:])
			if perParent[p] == nil {
				perParent[p] = map[uint32]bool{}
			}
			perParent[p][id] = true
			shared++
		}
		for _, qname := range []string{name, strings.ToUpper(name)} {
			q := new(dns.Msg).SetQuestion(qname, dns.TypeDS)
			q.SetEdns0(1232, true)
			pkt, _ := q.Pack()
			dec := mod.Decide(pkt)
			want := e.Respond(nil, pkt, false)
			if dec.Reply == nil || !bytes.Equal(dec.Reply, want) {
				t.Fatalf("%s DS: model (%s) and engine differ\n%s", qname, dec.Reason, diff(dec.Reply, want))
			}
			if self && !strings.Contains(dec.Denial, "own NSEC") {
				t.Fatalf("%s DS: the slot was not filled with the name's own NSEC: %q", qname, dec.Denial)
			}
			r := new(dns.Msg)
			if err := r.Unpack(want); err != nil {
				t.Fatal(err)
			}
			if len(r.Ns) != 4 || r.Ns[2].Header().Rrtype != dns.TypeNSEC || !strings.EqualFold(r.Ns[2].Header().Name, name) {
				t.Fatalf("%s DS: authority %v, want the SOA, the delegation's own NSEC and their signatures", qname, r.Ns)
			}
		}
	}
	if len(perParent) != 2 {
		t.Fatalf("self-slot DS NODATA templates under %d parents, want 2 (the apex, ent): %v", len(perParent), perParent)
	}
	for p, ids := range perParent {
		if len(ids) != 1 {
			t.Fatalf("the insecure delegations below %s use %d DS NODATA templates, want 1", p, len(ids))
		}
	}
	// A new serial rewrites the apex's shared template instead of
	// rendering its delegations one by one.
	u := img.Incremental.zones[string(z.Origin.Lower)]
	if u == nil || u.tooMany {
		t.Fatalf("no record of the names holding the SOA: %+v", u)
	}
	for _, n := range insecureDelegations(z) {
		if u.names[string(n)] && string(n[1+n[0]:]) == string(z.Origin.Lower) && !strings.HasPrefix(dnsName(n), long) {
			t.Fatalf("%s holds the SOA in a template of its own", dnsName(n))
		}
	}
	t.Logf("%d insecure delegations share %d DS NODATA templates; %d names hold the SOA in templates of their own",
		shared, len(perParent), len(u.names))
}
