//go:build linux

package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/bench/xdp"
	"github.com/xdpdns/xdpdns/loader"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// ixfr is a signed zone's IXFR being built: the records deleted, and
// those added, each with an RRSIG of the zone's shape (the SOA's with other
// bytes: the server does not verify them; a signer's are of the same
// shape).
type ixfr struct {
	ch   zone.Change
	tmpl *dns.RRSIG
}

// newIXFR starts the IXFR of signed zone z to serial: its SOA replaced.
func newIXFR(z *zone.Zone, serial int) (*ixfr, error) {
	x, err := moreIXFR(z, zone.Change{})
	if err != nil {
		return nil, err
	}
	x.del(z.SOA)
	soa := dns.Copy(z.SOA.RRs()[0].Src()).(*dns.SOA)
	soa.Serial = uint32(serial)
	x.sign(soa)
	return x, nil
}

// moreIXFR goes on with the IXFR ch of signed zone z.
func moreIXFR(z *zone.Zone, ch zone.Change) (*ixfr, error) {
	tmpl, ok := z.SOA.Sigs()[0].Src().(*dns.RRSIG)
	if !ok {
		return nil, fmt.Errorf("the zone's SOA has no RRSIG")
	}
	return &ixfr{ch: ch, tmpl: tmpl}, nil
}

// sign adds rr and an RRSIG over it.
func (x *ixfr) sign(rr dns.RR) {
	sig := dns.Copy(x.tmpl).(*dns.RRSIG)
	h := rr.Header()
	sig.Hdr.Name, sig.Hdr.Ttl = h.Name, h.Ttl
	sig.TypeCovered, sig.OrigTtl, sig.Labels = h.Rrtype, h.Ttl, uint8(dns.CountLabel(h.Name))
	raw := make([]byte, 64)
	_, _ = rand.Read(raw)
	sig.Signature = base64.StdEncoding.EncodeToString(raw)
	x.ch.Add = append(x.ch.Add, rr, sig)
}

// del deletes RRset s (nil: none) with its signatures.
func (x *ixfr) del(s *zone.RRset) {
	if s == nil {
		return
	}
	for _, rr := range s.RRs() {
		x.ch.Del = append(x.ch.Del, rr.Src())
	}
	for _, rr := range s.Sigs() {
		x.ch.Del = append(x.ch.Del, rr.Src())
	}
}

// remove deletes every RRset of name in z; it returns the name's node
// (nil: z has no such name).
func (x *ixfr) remove(z *zone.Zone, name string) *zone.Node {
	node := z.Node(wireName(name))
	if node == nil {
		return nil
	}
	for s := range node.EachSet {
		x.del(s)
	}
	return node
}

// signedChange is the IXFR of the signed TLD z (NSEC3 opt-out, salt
// abcd, no extra iterations, as xdp.SignZone signs it) to serial: secure
// delegations added (sK: two NS, a DS and its RRSIG, an NSEC3 and its
// RRSIG) and removed (dK, which have a DS: NS, DS, RRSIG, their NSEC3 and
// its RRSIG), the NSEC3 records whose next hashed owner changes replaced,
// and the new SOA with its RRSIG: what a signer in front of the hidden
// primary sends when DS records come and go. The new signatures are the
// zone's own with other bytes (the server does not verify them; a
// signer's are of the same shape). Not secure: insecure delegations
// added (iK, two NS) and removed (dK without DS), the chain as it is
// (opt-out), as most of a TLD's changes.
func signedChange(z *zone.Zone, serial int, added, removed []int, secure bool) (zone.Change, error) {
	x, err := newIXFR(z, serial)
	if err != nil {
		return zone.Change{}, err
	}
	sign, del := x.sign, x.del

	// The chain: the old one's hashes, those added, those removed.
	hashOf := func(name string) string { return strings.ToLower(dns.HashName(name, dns.SHA1, 0, "ABCD")) }
	old := z.NSEC3Chain()
	if len(old) == 0 {
		return x.ch, fmt.Errorf("the zone has no NSEC3 chain")
	}
	sample := old[0].Set(dns.TypeNSEC3).RRs()[0].Src().(*dns.NSEC3)
	byHash := make(map[string]*zone.Node, len(old))
	hashes := make([]string, 0, len(old)+len(added))
	for _, n := range old {
		byHash[n.ChainLabel()] = n
		hashes = append(hashes, n.ChainLabel())
	}
	gone := make(map[string]bool)
	for _, k := range removed {
		name := fmt.Sprintf("d%d.%s", k, xdp.Origin)
		if x.remove(z, name) == nil {
			continue
		}
		gone[hashOf(name)] = true
	}
	if !secure {
		for _, k := range added {
			for _, ns := range []string{"ns1", "ns2"} {
				rr, err := dns.NewRR(fmt.Sprintf("i%d.%s 86400 IN NS %s.prov%d.net.", k, xdp.Origin, ns, k%500))
				if err != nil {
					return x.ch, err
				}
				x.ch.Add = append(x.ch.Add, rr)
			}
		}
		return x.ch, nil
	}
	fresh := make(map[string]string) // hash -> owner of an added delegation
	for _, k := range added {
		name := fmt.Sprintf("s%d.%s", k, xdp.Origin)
		for _, ns := range []string{"ns1", "ns2"} {
			rr, err := dns.NewRR(fmt.Sprintf("%s 86400 IN NS %s.prov%d.net.", name, ns, k%500))
			if err != nil {
				return x.ch, err
			}
			x.ch.Add = append(x.ch.Add, rr)
		}
		ds, err := dns.NewRR(fmt.Sprintf("%s 86400 IN DS %d 13 2 %064x", name, 1000+k%60000, k))
		if err != nil {
			return x.ch, err
		}
		sign(ds)
		h := hashOf(name)
		fresh[h] = name
		hashes = append(hashes, h)
	}
	slices.Sort(hashes)
	hashes = slices.Compact(hashes)
	next := slices.DeleteFunc(slices.Clone(hashes), func(h string) bool { return gone[h] })
	// Every NSEC3 whose next hash changes, every new one, every one gone.
	for h := range gone {
		if n := byHash[h]; n != nil {
			del(n.Set(dns.TypeNSEC3))
		}
	}
	for i, h := range next {
		succ := strings.ToUpper(next[(i+1)%len(next)])
		if n := byHash[h]; n != nil {
			rec := n.Set(dns.TypeNSEC3).RRs()[0].Src().(*dns.NSEC3)
			if rec.NextDomain == succ {
				continue
			}
			del(n.Set(dns.TypeNSEC3))
			nr := dns.Copy(rec).(*dns.NSEC3)
			nr.NextDomain = succ
			sign(nr)
			continue
		}
		nr := dns.Copy(sample).(*dns.NSEC3)
		nr.Hdr.Name = h + "." + xdp.Origin
		nr.NextDomain = succ
		nr.TypeBitMap = []uint16{dns.TypeNS, dns.TypeDS, dns.TypeRRSIG}
		sign(nr)
	}
	return x.ch, nil
}

// nsecZone: the zone is signed with NSEC (-nsec).
var nsecZone bool

// nsecChange is signedChange for the NSEC-signed TLD z: the delegations
// added (sK with a DS, or iK) with their NSEC records, those removed (dK)
// with theirs, the NSEC records whose next name changes replaced, and the
// new SOA, each new record with an RRSIG of the zone's shape.
func nsecChange(z *zone.Zone, serial int, added, removed []int, secure bool) (zone.Change, error) {
	x, err := newIXFR(z, serial)
	if err != nil {
		return zone.Change{}, err
	}
	sign, del := x.sign, x.del
	chain := z.NSECChain()
	if len(chain) == 0 {
		return x.ch, fmt.Errorf("the zone has no NSEC chain")
	}
	nsecTTL := chain[0].Set(dns.TypeNSEC).TTL
	gone := make(map[string]bool)
	for _, k := range removed {
		if node := x.remove(z, fmt.Sprintf("d%d.%s", k, xdp.Origin)); node != nil {
			gone[string(node.Name.Lower())] = true
		}
	}
	// The new chain: the old one's owners but those gone, and those added.
	types := []uint16{dns.TypeNS, dns.TypeRRSIG, dns.TypeNSEC}
	prefix := "i"
	if secure {
		types, prefix = []uint16{dns.TypeNS, dns.TypeDS, dns.TypeRRSIG, dns.TypeNSEC}, "s"
	}
	fresh := make(map[string]bool)
	var add [][]byte
	for _, k := range added {
		name := fmt.Sprintf("%s%d.%s", prefix, k, xdp.Origin)
		for _, ns := range []string{"ns1", "ns2"} {
			rr, err := dns.NewRR(fmt.Sprintf("%s 86400 IN NS %s.prov%d.net.", name, ns, k%500))
			if err != nil {
				return x.ch, err
			}
			x.ch.Add = append(x.ch.Add, rr)
		}
		if secure {
			ds, err := dns.NewRR(fmt.Sprintf("%s 86400 IN DS %d 13 2 %064x", name, 1000+k%60000, k))
			if err != nil {
				return x.ch, err
			}
			sign(ds)
		}
		w := wireName(name)
		fresh[string(w)] = true
		add = append(add, w)
	}
	slices.SortFunc(add, wire.Compare)
	owners := make([][]byte, 0, len(chain)+len(add))
	j := 0
	for _, n := range chain {
		for j < len(add) && wire.Compare(add[j], n.Name.Lower()) < 0 {
			owners = append(owners, add[j])
			j++
		}
		if !gone[string(n.Name.Lower())] {
			owners = append(owners, n.Name.Lower())
		}
	}
	owners = append(owners, add[j:]...)
	// Every owner whose next name changes: an added one, and the one
	// before an added or a removed one.
	mark := make(map[int]bool)
	for i, o := range owners {
		if fresh[string(o)] {
			mark[i], mark[(i+len(owners)-1)%len(owners)] = true, true
		}
	}
	for g := range gone {
		i, _ := slices.BinarySearchFunc(owners, []byte(g), wire.Compare)
		mark[(i+len(owners)-1)%len(owners)] = true
	}
	for i := range mark {
		o, next := owners[i], wire.String(owners[(i+1)%len(owners)])
		if fresh[string(o)] {
			sign(&dns.NSEC{Hdr: dns.RR_Header{Name: wire.String(o), Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: nsecTTL},
				NextDomain: next, TypeBitMap: types})
			continue
		}
		s := z.Node(o).Set(dns.TypeNSEC)
		rec := s.RRs()[0].Src().(*dns.NSEC)
		if strings.EqualFold(rec.NextDomain, next) {
			continue
		}
		del(s)
		nr := dns.Copy(rec).(*dns.NSEC)
		nr.NextDomain = next
		sign(nr)
	}
	return x.ch, nil
}

// runSigned is run's steps on the signed zone: each change adds c/2 secure
// delegations and removes c - c/2 others (signedChange), then the same
// with insecure ones, each applied as an IXFR (zone.Apply), rendered
// alone (render.Recompile) and written in place (loader.UpdatePartial);
// then DO=1 queries through the program (checkSigned) must get the
// engine's bytes.
func runSigned(l *loader.Loader, e *engine.Engine, inc *render.Incremental, n int, steps []int, serial int) error {
	printf("| changed delegations (DS) | IXFR: zone.Apply (ms) | Recompile (ms) | names rendered | UpdatePartial (ms: plan + write + grace + settle) | names written | answers written | denial zones written (in place) | IXFR total (ms) | allocated (MiB) | page faults | checked |\n")
	printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	next, removedSecure, removedInsecure := 0, 5, 1
	type step struct {
		c      int
		secure bool
		apex   bool // the apex's NSEC3 record signed again (NSEC3), with a new serial
	}
	var all []step
	for _, c := range steps {
		all = append(all, step{c: c, secure: true})
		if c > 0 {
			all = append(all, step{c: c})
		}
	}
	if !nsecZone {
		all = append(all, step{apex: true})
	}
	for i, sp := range all {
		c := sp.c
		serial++
		var added, removed []int
		for range c / 2 {
			added = append(added, next)
			next++
		}
		for range c - c/2 {
			// dK without glue (K%10 != 0): with a DS (K%5 == 0) or not.
			if sp.secure {
				removed = append(removed, removedSecure)
				removedSecure += 10
			} else {
				removed = append(removed, removedInsecure)
				removedInsecure += 10
			}
		}
		z0 := e.Zones().Zones()[0]
		change := signedChange
		if nsecZone {
			change = nsecChange
		}
		ch, err := change(z0, serial, added, removed, sp.secure)
		if err != nil {
			return err
		}
		if sp.apex {
			// A signer's refresh of the apex NSEC3's signature: every
			// insecure delegation's referral and DS NODATA hold it.
			x, err := moreIXFR(z0, ch)
			if err != nil {
				return err
			}
			s := z0.NSEC3Match(z0.NSEC3Hash(z0.Apex)).Set(dns.TypeNSEC3)
			x.del(s)
			x.sign(dns.Copy(s.RRs()[0].Src()))
			ch = x.ch
		}
		w, err := takeIXFR(l, inc, e, ch, profileStep == i+1 || profileStep == 0 && c > 0)
		if err != nil {
			return fmt.Errorf("%d changes: %w", c, err)
		}
		d, st, ta, trc, tu, alloc := w.d, w.st, w.apply, w.recompile, w.update, w.alloc
		e, inc = w.e, w.next
		checked, err := checkSigned(l, e, n, added, removed, sp.secure)
		if err != nil {
			return err
		}
		kind := "secure"
		if !sp.secure {
			kind = "insecure"
		}
		if c == 0 {
			kind = "serial"
		}
		if sp.apex {
			kind = "serial, apex NSEC3 signed again"
		}
		printf("| %d %s | %.1f | %.1f | %d | %.1f (%.1f + %.1f + %.1f + %.1f) | %d | %d | %d (%d) | %.1f | %.1f | %d | %s |\n", c, kind, ms(ta), ms(trc), len(d.Image.Names),
			ms(tu), ms(st.Plan), ms(st.Write), ms(st.Grace), ms(st.Settle),
			st.NamesChanged+st.NamesAdded+st.NamesGone, st.AnswersChanged+st.AnswersGone, st.DenialZones, st.PatchesInPlace,
			ms(ta+trc+tu), alloc, w.faults, checked)
	}
	printf("\n- End of the run: %s.\n", memory())
	return nil
}

// checkSigned sends DO=1 queries through the program and compares their
// replies with the engine's: DS at the first added delegation, a
// name below the first removed one (NXDOMAIN, its NSEC3 proof), insecure
// delegations (referrals with their opt-out proof), random names
// (NXDOMAIN) and the apex SOA; each must be answered by the program.
func checkSigned(l *loader.Loader, e *engine.Engine, n int, added, removed []int, secure bool) (string, error) {
	type q struct {
		name string
		qt   uint16
	}
	var qs []q
	if len(added) > 0 {
		prefix := "s"
		if !secure {
			prefix = "i"
		}
		qs = append(qs, q{fmt.Sprintf("%s%d.%s", prefix, added[0], xdp.Origin), dns.TypeDS})
	}
	if len(removed) > 0 {
		qs = append(qs, q{fmt.Sprintf("www.d%d.%s", removed[0], xdp.Origin), dns.TypeA})
	}
	for i := 1; i < 200; i += 7 {
		k := (i * 7919) % n
		if k%5 != 0 {
			qs = append(qs, q{fmt.Sprintf("d%d.%s", k, xdp.Origin), dns.TypeA}, q{fmt.Sprintf("d%d.%s", k, xdp.Origin), dns.TypeDS})
		}
		qs = append(qs, q{fmt.Sprintf("nx%x.%s", i*104729, xdp.Origin), dns.TypeA})
	}
	qs = append(qs, q{xdp.Origin, dns.TypeSOA})
	rcodes := map[string]int{}
	for _, x := range qs {
		rcode, err := programRcode(l, e, xdp.Query{Name: x.name, Type: x.qt, EDNS: true, DO: true}.Pack())
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", x.name, dns.TypeToString[x.qt], err)
		}
		rcodes[dns.RcodeToString[rcode]]++
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(rcodes)) {
		out = append(out, fmt.Sprintf("%d %s", rcodes[k], k))
	}
	return strings.Join(out, ", ") + " (DO=1)", nil
}
