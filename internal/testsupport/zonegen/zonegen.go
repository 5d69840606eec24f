// Package zonegen makes random zones for tests: a model of a zone's
// unsigned records, changed by random operations a TLD or an enterprise
// zone sees, and signed after each step by a deterministic signer
// (signatures are hashes: a load does not verify them, and an RRset that
// did not change keeps its RRSIG, as with a real signer), so that the
// change between two signed versions is what an IXFR from a signing
// primary carries.
package zonegen

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// Origin is the zones' origin.
const Origin = "example."

// Now is the test clock: RRSIGs expire 30 days after it, a few within
// the warning window.
var Now = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// Kind is how a version is signed.
type Kind int

const (
	Unsigned Kind = iota
	NSEC
	NSEC3
	NSEC3OptOut
)

// String names the kind in test names.
func (d Kind) String() string {
	return [...]string{"unsigned", "nsec", "nsec3", "nsec3-optout"}[d]
}

// Model is a zone's unsigned records by key (owner, type, RDATA).
type Model struct {
	t   testing.TB
	rng *rand.Rand
	rrs map[string]dns.RR
	seq int // names made so far
	soa uint32
}

// New is a model of a few dozen names, drawn from seed.
func New(t testing.TB, seed uint64) *Model {
	m := &Model{t: t, rng: rand.New(rand.NewPCG(seed, 7)), rrs: map[string]dns.RR{}, soa: 1}
	m.add("@ SOA ns1 host 1 7200 3600 1209600 300")
	m.add("@ NS ns1")
	m.add("@ NS ns2.other.")
	m.add("ns1 A 192.0.2.1")
	for range 30 {
		m.Step()
	}
	return m
}

// RR is the record of zone file line s (relative to Origin).
func (m *Model) RR(s string) dns.RR {
	rr, err := dns.NewRR("$ORIGIN " + Origin + "\n$TTL 300\n" + s)
	if err != nil {
		m.t.Fatalf("%s: %v", s, err)
	}
	return rr
}

// Key is what tells records apart: owner (lower case), type and RDATA.
func Key(rr dns.RR) string {
	c := dns.Copy(rr)
	c.Header().Name = strings.ToLower(c.Header().Name)
	c.Header().Ttl = 0
	return c.String()
}

func (m *Model) add(s string) { rr := m.RR(s); m.rrs[Key(rr)] = rr }

// Add adds the record of zone file line s (relative to Origin).
func (m *Model) Add(s string) { m.add(s) }

// Remove deletes the records at name (types: only those).
func (m *Model) Remove(name string, types ...uint16) { m.removeAt(name, false, types...) }

// owners lists the owners in the model matching prefix (a first label
// prefix), sorted.
func (m *Model) owners(prefix string) []string {
	seen := map[string]bool{}
	for _, rr := range m.rrs {
		n := rr.Header().Name
		if strings.HasPrefix(n, prefix) && !seen[n] {
			seen[n] = true
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// removeAt deletes the records at or below name (types: only those).
func (m *Model) removeAt(name string, below bool, types ...uint16) {
	for k, rr := range m.rrs {
		h := rr.Header()
		if h.Name == name || (below && dns.IsSubDomain(name, h.Name)) {
			if len(types) == 0 || slices.Contains(types, h.Rrtype) {
				delete(m.rrs, k)
			}
		}
	}
}

func (m *Model) pick(prefix string) string {
	o := m.owners(prefix)
	if len(o) == 0 {
		return ""
	}
	return o[m.rng.IntN(len(o))]
}

// Step makes one random change to the model.
func (m *Model) Step() {
	m.seq++
	k := m.seq
	switch m.rng.IntN(16) {
	case 0, 1: // a delegation, out of bailiwick or with glue, maybe a DS
		if m.rng.IntN(2) == 0 {
			m.add(fmt.Sprintf("d%d NS ns1.d%d", k, k))
			m.add(fmt.Sprintf("d%d NS ns.other.", k))
			m.add(fmt.Sprintf("ns1.d%d A 198.51.100.%d", k, k%250))
		} else {
			m.add(fmt.Sprintf("d%d NS ns%d.provider.", k, k%3))
		}
		if m.rng.IntN(3) == 0 {
			m.add(fmt.Sprintf("d%d DS %d 13 2 %x", k, k, sha256.Sum256([]byte(fmt.Sprint(k)))))
		}
	case 2: // a delegation goes, glue and all
		if d := m.pick("d"); d != "" {
			m.removeAt(d, true)
		}
	case 3: // DS added or removed
		if d := m.pick("d"); d != "" {
			if m.rng.IntN(2) == 0 {
				m.removeAt(d, false, dns.TypeDS)
			} else {
				m.add(fmt.Sprintf("%s DS %d 13 2 %x", d, k, sha256.Sum256([]byte(d))))
			}
		}
	case 4: // glue added or removed (missing glue warnings come and go)
		if d := m.pick("d"); d != "" {
			if m.rng.IntN(2) == 0 {
				m.removeAt("ns1."+d, false)
			} else {
				m.add(fmt.Sprintf("ns1.%s AAAA 2001:db8::%x", d, k))
			}
		}
	case 5: // a wildcard, at the apex or below a name
		if m.rng.IntN(3) == 0 {
			m.add(fmt.Sprintf("* TXT \"w%d\"", k))
		} else {
			m.add(fmt.Sprintf("*.w%d A 192.0.2.%d", k%7, k%250))
		}
	case 6: // a wildcard goes
		if w := m.pick("*"); w != "" {
			m.removeAt(w, false)
		}
	case 7: // a deep name: empty non-terminals appear
		m.add(fmt.Sprintf("a%d.b.c.e%d TXT \"deep\"", k, k%5))
	case 8: // a deep name goes: empty non-terminals may go
		if n := m.pick("a"); n != "" {
			m.removeAt(n, true)
		}
	case 9: // CNAME and DNAME, added and removed
		switch m.rng.IntN(4) {
		case 0:
			m.add(fmt.Sprintf("c%d CNAME h%d", k, k%9))
		case 1:
			m.add(fmt.Sprintf("dn%d DNAME other.", k))
		default:
			for _, p := range []string{"c", "dn"} {
				if n := m.pick(p); n != "" {
					m.removeAt(n, true)
				}
			}
		}
	case 10, 11: // hosts: A, AAAA, TXT come and go
		h := fmt.Sprintf("h%d.%s", k%9, Origin)
		switch m.rng.IntN(4) {
		case 0:
			m.add(fmt.Sprintf("%s A 192.0.2.%d", h, k%250))
		case 1:
			m.add(fmt.Sprintf("%s AAAA 2001:db8::%x", h, k))
		case 2:
			m.add(fmt.Sprintf("%s TXT \"t%d\"", h, k))
		default:
			m.removeAt(h, false, []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeTXT}[m.rng.IntN(3)])
		}
	case 12: // a name with names below becomes a delegation, or stops
		// being one: the names below move below the cut and back
		e := fmt.Sprintf("e%d.%s", k%5, Origin)
		if slices.ContainsFunc(m.owners(""), func(n string) bool { return n == e }) {
			m.removeAt(e, false, dns.TypeNS)
		} else {
			m.add(fmt.Sprintf("%s NS ns.other.", e))
			m.add(fmt.Sprintf("%s A 192.0.2.%d", "x."+e, k%250))
		}
	case 13: // the apex changes
		if m.rng.IntN(2) == 0 {
			m.add(fmt.Sprintf("@ TXT \"v=%d\"", k))
		} else {
			m.removeAt(Origin, false, dns.TypeTXT)
		}
	case 14: // an in-bailiwick name server of the apex loses or gets its address
		if m.rng.IntN(2) == 0 {
			m.removeAt("ns1."+Origin, false)
		} else {
			m.add("ns1 A 192.0.2.1")
		}
	case 15: // the apex NS RRset changes
		if m.rng.IntN(2) == 0 {
			m.add("@ NS ns3.other.")
		} else {
			m.removeAt(Origin, false, dns.TypeNS)
			m.add("@ NS ns1")
			m.add("@ NS ns2.other.")
		}
	}
}

// Change makes one to four random changes (Step): what one version
// changes from the last.
func (m *Model) Change() {
	for range 1 + m.rng.IntN(4) {
		m.Step()
	}
}

// Bump gives the model its next serial.
func (m *Model) Bump() {
	m.removeAt(Origin, false, dns.TypeSOA)
	m.soa++
	m.add(fmt.Sprintf("@ SOA ns1 host %d 7200 3600 1209600 300", m.soa))
}

// Signed returns the model's records signed as kind wants, by key.
func (m *Model) Signed(kind Kind) map[string]dns.RR {
	out := make(map[string]dns.RR, len(m.rrs)*2)
	for k, rr := range m.rrs {
		out[k] = rr
	}
	if kind == Unsigned {
		return out
	}
	put := func(rr dns.RR) { out[Key(rr)] = rr }
	put(m.RR("@ DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ=="))
	if kind != NSEC {
		put(m.RR("@ NSEC3PARAM 1 0 0 ABCD"))
	}
	// The tree: every owner and its ancestors, the cuts.
	sets := map[string]map[uint16][]dns.RR{}
	for _, rr := range out {
		h := rr.Header()
		if sets[h.Name] == nil {
			sets[h.Name] = map[uint16][]dns.RR{}
		}
		sets[h.Name][h.Rrtype] = append(sets[h.Name][h.Rrtype], rr)
	}
	names := map[string]bool{}
	for n := range sets {
		for p := n; dns.IsSubDomain(Origin, p); {
			names[p] = true
			off, end := dns.NextLabel(p, 0)
			if end || p == Origin {
				break
			}
			p = p[off:]
		}
	}
	isCut := func(n string) bool { return n != Origin && len(sets[n][dns.TypeNS]) > 0 }
	belowCut := func(n string) bool {
		for p := n; p != Origin; {
			off, _ := dns.NextLabel(p, 0)
			p = p[off:]
			if p != Origin && isCut(p) {
				return true
			}
		}
		return false
	}
	var auth []string
	for n := range names {
		if !belowCut(n) {
			auth = append(auth, n)
		}
	}
	slices.SortFunc(auth, func(a, b string) int { return wire.Compare(lowerWire(a), lowerWire(b)) })
	types := func(n string) []uint16 {
		var ts []uint16
		for t := range sets[n] {
			ts = append(ts, t)
		}
		if len(ts) > 0 && (!isCut(n) || len(sets[n][dns.TypeDS]) > 0) {
			ts = append(ts, dns.TypeRRSIG)
		}
		slices.Sort(ts)
		return ts
	}
	if kind == NSEC {
		var chain []string
		for _, n := range auth {
			if len(sets[n]) > 0 {
				chain = append(chain, n)
			}
		}
		for i, n := range chain {
			nsec := &dns.NSEC{Hdr: dns.RR_Header{Name: n, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: 300},
				NextDomain: chain[(i+1)%len(chain)], TypeBitMap: append(types(n), dns.TypeNSEC)}
			slices.Sort(nsec.TypeBitMap)
			put(nsec)
			sets[n][dns.TypeNSEC] = []dns.RR{nsec}
		}
	} else {
		type h3 struct{ hash, name string }
		var chain []h3
		for _, n := range auth {
			if kind == NSEC3OptOut && isCut(n) && len(sets[n][dns.TypeDS]) == 0 {
				continue // an insecure delegation: opted out
			}
			chain = append(chain, h3{strings.ToLower(dns.HashName(n, dns.SHA1, 0, "abcd")), n})
		}
		slices.SortFunc(chain, func(a, b h3) int { return strings.Compare(a.hash, b.hash) })
		for i, c := range chain {
			n3 := &dns.NSEC3{Hdr: dns.RR_Header{Name: c.hash + "." + Origin, Rrtype: dns.TypeNSEC3, Class: dns.ClassINET, Ttl: 300},
				Hash: dns.SHA1, Iterations: 0, Salt: "ABCD", SaltLength: 2,
				NextDomain: strings.ToUpper(chain[(i+1)%len(chain)].hash), HashLength: 20, TypeBitMap: types(c.name)}
			if kind == NSEC3OptOut {
				n3.Flags = 1
			}
			put(n3)
			put(m.sig(n3.Hdr.Name, dns.TypeNSEC3, []dns.RR{n3}))
		}
	}
	for _, n := range auth {
		for t, rrs := range sets[n] {
			if isCut(n) && t != dns.TypeDS && t != dns.TypeNSEC {
				continue
			}
			put(m.sig(n, t, rrs))
		}
	}
	return out
}

// sig is a deterministic RRSIG over rrs: its signature is a hash of them,
// its expiration 30 days after Now or, for one RRset in eight, 3 days
// (within the warning window).
func (m *Model) sig(name string, t uint16, rrs []dns.RR) dns.RR {
	var texts []string
	for _, rr := range rrs {
		texts = append(texts, Key(rr))
	}
	slices.Sort(texts)
	sum := sha256.Sum256([]byte(strings.Join(texts, "\n")))
	exp := Now.Add(30 * 24 * time.Hour)
	if sum[0]%8 == 0 {
		exp = Now.Add(3 * 24 * time.Hour)
	}
	return &dns.RRSIG{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: 300},
		TypeCovered: t, Algorithm: 13, Labels: uint8(dns.CountLabel(name)), OrigTtl: 300,
		Expiration: uint32(exp.Unix()), Inception: uint32(Now.Add(-time.Hour).Unix()), KeyTag: 1234,
		SignerName: Origin, Signature: fmt.Sprintf("%x", sum[:])}
}

// lowerWire is s (a domain name) in lower-case wire form.
func lowerWire(s string) []byte {
	buf := make([]byte, wire.MaxNameLen+1)
	n, err := dns.PackDomainName(dns.Fqdn(strings.ToLower(s)), buf, 0, nil, false)
	if err != nil {
		panic(err)
	}
	return buf[:n]
}

// Text is a version's records (by key) as a master file, in the order of
// their keys: an RRset that did not change keeps its order from one
// version to the next, as an IXFR applied keeps it.
func Text(rrs map[string]dns.RR) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(rrs)) {
		b.WriteString(rrs[k].String() + "\n")
	}
	return b.String()
}

// AddDelegations adds n delegations tK to out-of-zone name servers, a
// fifth of them with DS (secure): the bulk of a TLD.
func (m *Model) AddDelegations(n int) {
	for i := range n {
		m.add(fmt.Sprintf("t%d NS ns%d.example.net.", i, i%7))
		if i%5 == 0 {
			m.add(fmt.Sprintf("t%d DS %d 13 2 %064x", i, i, i+1))
		}
	}
}

// ChangeDelegations makes one to three of the changes a TLD sees all day
// among the delegations tK (K below n plus a few new ones): a DS added or
// removed, a secure delegation added, a delegation removed. Each adds or
// removes NSEC3 records and changes their neighbours' in a signed
// version.
func (m *Model) ChangeDelegations(n int) {
	m.seq++
	for range 1 + m.rng.IntN(3) {
		i := m.rng.IntN(n + n/8)
		d := fmt.Sprintf("t%d.%s", i, Origin)
		switch m.rng.IntN(3) {
		case 0:
			m.removeAt(d, false, dns.TypeDS)
			if m.rng.IntN(2) == 0 {
				m.add(fmt.Sprintf("t%d NS ns%d.example.net.", i, i%7))
				m.add(fmt.Sprintf("t%d DS %d 13 2 %064x", i, m.seq, i+m.seq))
			}
		case 1:
			m.add(fmt.Sprintf("t%d NS ns%d.example.net.", i, i%7))
			m.add(fmt.Sprintf("t%d DS %d 13 2 %064x", i, m.seq, i+2*m.seq))
		default:
			m.removeAt(d, false)
		}
	}
}
