package engine

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// denial selects how a test zone is signed.
type denial int

const (
	withNSEC denial = iota
	withNSEC3
	withNSEC3OptOut
)

// signZone signs text with BIND's dnssec-signzone (a KSK and a ZSK,
// ECDSAP256SHA256, valid for 30 years) and returns the signed master file.
func signZone(t testing.TB, origin, text string, d denial) string {
	t.Helper()
	for _, tool := range []string{"dnssec-keygen", "dnssec-signzone"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: run `make deps` (Debian bind9-utils)", tool)
		}
	}
	dir := t.TempDir()
	run := func(args ...string) string {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("dnssec-keygen", "-q", "-a", "ECDSAP256SHA256", "-f", "KSK", "-K", dir, origin)
	run("dnssec-keygen", "-q", "-a", "ECDSAP256SHA256", "-K", dir, origin)
	in := filepath.Join(dir, "zone")
	if err := os.WriteFile(in, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"dnssec-signzone", "-S", "-K", dir, "-o", origin, "-e", "+946080000", "-f", in + ".signed"}
	switch d {
	case withNSEC3:
		args = append(args, "-3", "abcd", "-H", "0")
	case withNSEC3OptOut:
		args = append(args, "-3", "abcd", "-H", "0", "-A")
	}
	run(append(args, in)...)
	b, err := os.ReadFile(in + ".signed")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// signedEngine loads testZone signed with d.
func signedEngine(t testing.TB, d denial) (*Engine, *zone.Zone) {
	t.Helper()
	e := newTestEngine(t, Config{}, [2]string{"example.", signZone(t, "example.", testZone, d)})
	z := e.Zones().Zone([]byte("\x07example\x00"))
	if !z.Signed {
		t.Fatal("signed zone not recognised as signed")
	}
	return e, z
}

// verifySigs checks every RRset of the answer and authority sections
// against the zone's DNSKEYs: each must carry a valid RRSIG, except the
// NS RRset of a referral (not authoritative).
func verifySigs(t testing.TB, keys []dns.RR, r *dns.Msg) {
	t.Helper()
	for _, sec := range [][]dns.RR{r.Answer, r.Ns} {
		sets := map[[2]string][]dns.RR{}
		sigs := map[[2]string][]*dns.RRSIG{}
		for _, rr := range sec {
			if s, ok := rr.(*dns.RRSIG); ok {
				k := [2]string{strings.ToLower(s.Hdr.Name), dns.Type(s.TypeCovered).String()}
				sigs[k] = append(sigs[k], s)
				continue
			}
			k := [2]string{strings.ToLower(rr.Header().Name), dns.Type(rr.Header().Rrtype).String()}
			sets[k] = append(sets[k], rr)
		}
		for k, set := range sets {
			if k[1] == "NS" && !r.Authoritative {
				continue
			}
			if len(sigs[k]) == 0 {
				if k[1] == "CNAME" && hasDNAME(r) {
					continue // synthesised from a signed DNAME (RFC 6672 §5.3.1)
				}
				t.Errorf("%s %s has no RRSIG", k[0], k[1])
				continue
			}
			ok := false
			for _, s := range sigs[k] {
				for _, key := range keys {
					if dk := key.(*dns.DNSKEY); dk.KeyTag() == s.KeyTag && s.Verify(dk, set) == nil {
						ok = true
					}
				}
			}
			if !ok {
				t.Errorf("%s %s: no RRSIG verifies", k[0], k[1])
			}
		}
	}
}

func hasDNAME(r *dns.Msg) bool {
	for _, rr := range r.Answer {
		if rr.Header().Rrtype == dns.TypeDNAME {
			return true
		}
	}
	return false
}

func zoneKeys(z *zone.Zone) []dns.RR {
	var keys []dns.RR
	for _, rr := range z.Apex.Set(dns.TypeDNSKEY).RRs() {
		keys = append(keys, rr.Src())
	}
	return keys
}

// nsec3Proves reports whether the NSEC3 records in the authority section
// match (cover=false) or cover (cover=true) the name.
func nsec3Proves(r *dns.Msg, name string, cover bool) bool {
	for _, rr := range r.Ns {
		n3, ok := rr.(*dns.NSEC3)
		if !ok {
			continue
		}
		if cover && n3.Cover(name) || !cover && n3.Match(name) {
			return true
		}
	}
	return false
}

// nsecProves reports whether an NSEC in the authority section matches name
// (and then whether its bitmap lacks qtype) or covers it.
func nsecProves(r *dns.Msg, name string, cover bool, qtype uint16) bool {
	lname := strings.ToLower(name)
	for _, rr := range r.Ns {
		ns, ok := rr.(*dns.NSEC)
		if !ok {
			continue
		}
		owner, next := strings.ToLower(ns.Hdr.Name), strings.ToLower(ns.NextDomain)
		if !cover {
			if owner != lname {
				continue
			}
			for _, t := range ns.TypeBitMap {
				if t == qtype {
					return false
				}
			}
			return true
		}
		if canonicalLess(owner, lname) && (canonicalLess(lname, next) || !canonicalLess(owner, next)) {
			return true
		}
	}
	return false
}

func canonicalLess(a, b string) bool {
	la, lb := dns.SplitDomainName(a), dns.SplitDomainName(b)
	for i, j := len(la)-1, len(lb)-1; i >= 0 && j >= 0; i, j = i-1, j-1 {
		if la[i] != lb[j] {
			return la[i] < lb[j]
		}
	}
	return len(la) < len(lb)
}

type signedCase struct {
	name   string
	qname  string
	qtype  uint16
	rcode  int
	answer int // expected number of non-RRSIG answer records
	// proofs every reply must carry: names that must be covered or matched.
	nsecCover, nsecMatch   []string
	nsec3Cover, nsec3Match []string
	ds                     bool // a DS RRset in authority
}

func TestEngineDNSSEC(t *testing.T) {
	for _, d := range []struct {
		name string
		d    denial
	}{{"nsec", withNSEC}, {"nsec3", withNSEC3}, {"nsec3-optout", withNSEC3OptOut}} {
		t.Run(d.name, func(t *testing.T) {
			e, z := signedEngine(t, d.d)
			keys := zoneKeys(z)
			nsec3 := d.d != withNSEC
			cases := []signedCase{
				{name: "positive", qname: "Host.example.", qtype: dns.TypeA, answer: 1},
				{name: "NXDOMAIN", qname: "nope.example.", qtype: dns.TypeA, rcode: dns.RcodeNameError,
					nsecCover:  []string{"nope.example.", "*.example."},
					nsec3Match: []string{"example."}, nsec3Cover: []string{"nope.example.", "*.example."}},
				{name: "NXDOMAIN deep", qname: "a.b.host.example.", qtype: dns.TypeA, rcode: dns.RcodeNameError,
					nsecCover:  []string{"a.b.host.example.", "*.host.example."},
					nsec3Match: []string{"host.example."}, nsec3Cover: []string{"b.host.example.", "*.host.example."}},
				{name: "NODATA", qname: "host.example.", qtype: dns.TypeMX,
					nsecMatch: []string{"host.example."}, nsec3Match: []string{"host.example."}},
				{name: "wildcard answer", qname: "foo.wild.example.", qtype: dns.TypeA, answer: 1,
					nsecCover: []string{"foo.wild.example."}, nsec3Cover: []string{"foo.wild.example."}},
				{name: "wildcard NODATA", qname: "foo.wild.example.", qtype: dns.TypeMX,
					nsecCover: []string{"foo.wild.example."}, nsecMatch: []string{"*.wild.example."},
					nsec3Match: []string{"wild.example.", "*.wild.example."}, nsec3Cover: []string{"foo.wild.example."}},
				{name: "CNAME chain", qname: "www.example.", qtype: dns.TypeA, answer: 3},
				{name: "DNAME", qname: "x.dn.example.", qtype: dns.TypeA, answer: 3},
				{name: "NSEC beside a CNAME is answered, not followed", qname: "www.example.", qtype: dns.TypeNSEC,
					answer: map[bool]int{true: 2, false: 1}[nsec3]}, // NSEC3 zones have no NSEC: the CNAME is followed
				{name: "secure referral", qname: "www.sec.example.", qtype: dns.TypeA, ds: true},
				{name: "DS from the parent side", qname: "sec.example.", qtype: dns.TypeDS, answer: 1},
				{name: "no DS at insecure cut", qname: "sub.example.", qtype: dns.TypeDS,
					nsecMatch: []string{"sub.example."}},
				{name: "insecure referral", qname: "www.sub.example.", qtype: dns.TypeA,
					nsecMatch: []string{"sub.example."}},
			}
			if d.d == withNSEC3 {
				cases = append(cases, signedCase{name: "insecure referral nsec3", qname: "www.sub.example.",
					qtype: dns.TypeA, nsec3Match: []string{"sub.example."}})
			}
			if d.d == withNSEC3OptOut {
				cases = append(cases, signedCase{name: "insecure referral opt-out", qname: "www.sub.example.",
					qtype: dns.TypeA, nsec3Match: []string{"example."}, nsec3Cover: []string{"sub.example."}})
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					r := ask(t, e, query(tc.qname, tc.qtype, true, true), false)
					if r.Rcode != tc.rcode {
						t.Fatalf("rcode %s, want %s\n%v", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode], r)
					}
					n := 0
					for _, rr := range r.Answer {
						if rr.Header().Rrtype != dns.TypeRRSIG {
							n++
						}
					}
					if n != tc.answer {
						t.Errorf("%d answer records, want %d\n%v", n, tc.answer, r)
					}
					verifySigs(t, keys, r)
					if tc.ds {
						found := false
						for _, rr := range r.Ns {
							found = found || rr.Header().Rrtype == dns.TypeDS
						}
						if !found || r.Authoritative {
							t.Errorf("secure referral without DS or with AA\n%v", r)
						}
					}
					if nsec3 {
						for _, name := range tc.nsec3Cover {
							if !nsec3Proves(r, name, true) {
								t.Errorf("no NSEC3 covers %s\n%v", name, r)
							}
						}
						for _, name := range tc.nsec3Match {
							if !nsec3Proves(r, name, false) {
								t.Errorf("no NSEC3 matches %s\n%v", name, r)
							}
						}
					} else {
						for _, name := range tc.nsecCover {
							if !nsecProves(r, name, true, tc.qtype) {
								t.Errorf("no NSEC covers %s\n%v", name, r)
							}
						}
						for _, name := range tc.nsecMatch {
							if !nsecProves(r, name, false, tc.qtype) {
								t.Errorf("no NSEC at %s denies %s\n%v", name, dns.Type(tc.qtype), r)
							}
						}
					}
					// Without DO the same query carries no DNSSEC records.
					r0 := ask(t, e, query(tc.qname, tc.qtype, false, true), false)
					for _, sec := range [][]dns.RR{r0.Answer, r0.Ns, r0.Extra} {
						for _, rr := range sec {
							switch rr.Header().Rrtype {
							case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3:
								if rr.Header().Rrtype == tc.qtype {
									continue // asked for by type
								}
								t.Errorf("DO=0 reply carries %s", rr)
							}
						}
					}
				})
			}
		})
	}
}
