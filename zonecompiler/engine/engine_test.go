package engine

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// testZone is the inline zone most table tests run against.
const testZone = `$ORIGIN example.
$TTL 3600
@        SOA  ns1 host 1 7200 3600 1209600 300
@        NS   ns1
@        NS   ns2.sub
@        MX   10 mail
@        A    192.0.2.1
ns1      A    192.0.2.53
ns1      AAAA 2001:db8::53
mail     A    192.0.2.25
www      CNAME web
web      CNAME host
host     A    192.0.2.80
out      CNAME www.elsewhere.test.
dangling CNAME nothere
loop1    CNAME loop2
loop2    CNAME loop1
*.wild   A    192.0.2.99
*.wild   TXT  "wild"
*.wc     CNAME host
a.b.ent  A    192.0.2.7
dn       DNAME target
x.target A    192.0.2.8
sub      NS   ns1.sub
sub      NS   ns2.sub
sub      NS   ns.sib
ns1.sub  A    192.0.2.101
ns2.sub  AAAA 2001:db8::102
sib      NS   ns.sib
sib      NS   ns.other.test.
ns.sib   A    192.0.2.111
sec      NS   ns.other.test.
sec      DS   12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
`

func newTestEngine(t testing.TB, cfg Config, zones ...[2]string) *Engine {
	t.Helper()
	var list []*zone.Zone
	for _, zz := range zones {
		z, err := zone.Load(strings.NewReader(zz[1]), zz[0], zz[0]+"zone", zone.Options{})
		if err != nil {
			t.Fatalf("load %s: %v", zz[0], err)
		}
		list = append(list, z)
	}
	set, err := zone.NewSet(list...)
	if err != nil {
		t.Fatal(err)
	}
	return New(cfg, set)
}

// ask sends one query through Respond and unpacks the reply.
func ask(t testing.TB, e *Engine, m *dns.Msg, tcp bool) *dns.Msg {
	t.Helper()
	pkt, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	out := e.Respond(nil, pkt, tcp)
	if out == nil {
		return nil
	}
	r := new(dns.Msg)
	if err := r.Unpack(out); err != nil {
		t.Fatalf("reply does not unpack: %v\n%x", err, out)
	}
	return r
}

func query(name string, qtype uint16, do bool, edns bool) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = 4242
	m.RecursionDesired = false
	if edns || do {
		m.SetEdns0(1232, do)
	}
	return m
}

// norm renders a section as sorted presentation lines with lower-case
// owner names; RRSIGs are shortened to "owner ttl IN RRSIG COVERED".
func norm(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		var s string
		if sig, ok := rr.(*dns.RRSIG); ok {
			s = fmt.Sprintf("%s %d IN RRSIG %s", strings.ToLower(sig.Hdr.Name), sig.Hdr.Ttl, dns.Type(sig.TypeCovered))
		} else {
			h := *rr.Header()
			rr = dns.Copy(rr)
			rr.Header().Name = strings.ToLower(h.Name)
			s = strings.Join(strings.Fields(rr.String()), " ")
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// parseSection turns expected zone-file lines into normalised lines.
func parseSection(t testing.TB, lines ...string) []string {
	t.Helper()
	var rrs []dns.RR
	var sigs []string
	for _, l := range lines {
		if f := strings.Fields(l); len(f) == 5 && f[3] == "RRSIG" {
			sigs = append(sigs, strings.ToLower(f[0])+" "+f[1]+" IN RRSIG "+f[4])
			continue
		}
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatalf("bad expected record %q: %v", l, err)
		}
		rrs = append(rrs, rr)
	}
	out := append(norm(rrs), sigs...)
	sort.Strings(out)
	return out
}

type engineCase struct {
	name    string
	qname   string
	qtype   uint16
	do      bool
	rcode   int
	aa      bool
	answer  []string
	auth    []string
	extra   []string
	noExtra bool // additional section must be empty (besides OPT)
}

func runCases(t *testing.T, e *Engine, cases []engineCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ask(t, e, query(tc.qname, tc.qtype, tc.do, true), false)
			if r == nil {
				t.Fatal("no reply")
			}
			if r.Rcode != tc.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
			}
			if r.Authoritative != tc.aa {
				t.Errorf("AA %v, want %v", r.Authoritative, tc.aa)
			}
			if r.Question[0].Name != tc.qname {
				t.Errorf("question %q, want the client's %q", r.Question[0].Name, tc.qname)
			}
			check := func(sec string, got []dns.RR, want []string) {
				g, w := norm(got), parseSection(t, want...)
				if strings.Join(g, "\n") != strings.Join(w, "\n") {
					t.Errorf("%s section:\n got: %s\nwant: %s", sec, strings.Join(g, "\n      "), strings.Join(w, "\n      "))
				}
			}
			check("answer", r.Answer, tc.answer)
			check("authority", r.Ns, tc.auth)
			if tc.extra != nil || tc.noExtra {
				check("additional", r.Extra, tc.extra)
			}
		})
	}
}

func TestEngineUnsigned(t *testing.T) {
	e := newTestEngine(t, Config{}, [2]string{"example.", testZone})
	soa := "example. 300 IN SOA ns1.example. host.example. 1 7200 3600 1209600 300"
	runCases(t, e, []engineCase{
		{name: "exact A", qname: "host.example.", qtype: dns.TypeA, aa: true,
			answer: []string{"host.example. 3600 IN A 192.0.2.80"}, noExtra: true},
		{name: "case echoed and matched", qname: "HoSt.ExAmPlE.", qtype: dns.TypeA, aa: true,
			answer: []string{"host.example. 3600 IN A 192.0.2.80"}},
		{name: "MX with additional address", qname: "example.", qtype: dns.TypeMX, aa: true,
			answer: []string{"example. 3600 IN MX 10 mail.example."},
			extra:  []string{"mail.example. 3600 IN A 192.0.2.25"}},
		{name: "apex NS with addresses", qname: "example.", qtype: dns.TypeNS, aa: true,
			answer: []string{"example. 3600 IN NS ns1.example.", "example. 3600 IN NS ns2.sub.example."},
			extra: []string{"ns1.example. 3600 IN A 192.0.2.53", "ns1.example. 3600 IN AAAA 2001:db8::53",
				"ns2.sub.example. 3600 IN AAAA 2001:db8::102"}},
		{name: "NODATA", qname: "host.example.", qtype: dns.TypeAAAA, aa: true, auth: []string{soa}},
		{name: "NXDOMAIN", qname: "nope.example.", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, auth: []string{soa}},
		{name: "NXDOMAIN deep", qname: "a.b.c.nope.example.", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, auth: []string{soa}},
		{name: "empty non-terminal is NODATA", qname: "b.ent.example.", qtype: dns.TypeA, aa: true, auth: []string{soa}},
		{name: "ENT parent is NODATA", qname: "ent.example.", qtype: dns.TypeA, aa: true, auth: []string{soa}},
		{name: "below ENT is NXDOMAIN", qname: "c.b.ent.example.", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, auth: []string{soa}},
		{name: "CNAME chain", qname: "www.example.", qtype: dns.TypeA, aa: true,
			answer: []string{"www.example. 3600 IN CNAME web.example.", "web.example. 3600 IN CNAME host.example.",
				"host.example. 3600 IN A 192.0.2.80"}},
		{name: "CNAME chain to NODATA", qname: "www.example.", qtype: dns.TypeTXT, aa: true,
			answer: []string{"www.example. 3600 IN CNAME web.example.", "web.example. 3600 IN CNAME host.example."},
			auth:   []string{soa}},
		{name: "CNAME query is not followed", qname: "www.example.", qtype: dns.TypeCNAME, aa: true,
			answer: []string{"www.example. 3600 IN CNAME web.example."}},
		{name: "CNAME out of zone", qname: "out.example.", qtype: dns.TypeA, aa: true,
			answer: []string{"out.example. 3600 IN CNAME www.elsewhere.test."}},
		{name: "CNAME to nothing is NXDOMAIN (RFC 6604)", qname: "dangling.example.", qtype: dns.TypeA, aa: true,
			rcode:  dns.RcodeNameError,
			answer: []string{"dangling.example. 3600 IN CNAME nothere.example."}, auth: []string{soa}},
		{name: "CNAME loop stops", qname: "loop1.example.", qtype: dns.TypeA, aa: true,
			answer: []string{"loop1.example. 3600 IN CNAME loop2.example.", "loop2.example. 3600 IN CNAME loop1.example."}},
		{name: "wildcard A", qname: "Foo.wild.example.", qtype: dns.TypeA, aa: true,
			answer: []string{"foo.wild.example. 3600 IN A 192.0.2.99"}},
		{name: "wildcard deep", qname: "a.b.wild.example.", qtype: dns.TypeTXT, aa: true,
			answer: []string{`a.b.wild.example. 3600 IN TXT "wild"`}},
		{name: "wildcard NODATA", qname: "foo.wild.example.", qtype: dns.TypeMX, aa: true, auth: []string{soa}},
		{name: "wildcard owner itself", qname: "*.wild.example.", qtype: dns.TypeA, aa: true,
			answer: []string{"*.wild.example. 3600 IN A 192.0.2.99"}},
		{name: "wildcard parent exists, NODATA", qname: "wild.example.", qtype: dns.TypeA, aa: true, auth: []string{soa}},
		{name: "wildcard CNAME", qname: "x.wc.example.", qtype: dns.TypeA, aa: true,
			answer: []string{"x.wc.example. 3600 IN CNAME host.example.", "host.example. 3600 IN A 192.0.2.80"}},
		{name: "DNAME", qname: "x.dn.example.", qtype: dns.TypeA, aa: true,
			answer: []string{"dn.example. 3600 IN DNAME target.example.", "x.dn.example. 3600 IN CNAME x.target.example.",
				"x.target.example. 3600 IN A 192.0.2.8"}},
		{name: "DNAME to nothing", qname: "y.dn.example.", qtype: dns.TypeA, aa: true, rcode: dns.RcodeNameError,
			answer: []string{"dn.example. 3600 IN DNAME target.example.", "y.dn.example. 3600 IN CNAME y.target.example."},
			auth:   []string{soa}},
		{name: "DNAME with qtype CNAME stops at the synthesised CNAME", qname: "x.dn.example.", qtype: dns.TypeCNAME, aa: true,
			answer: []string{"dn.example. 3600 IN DNAME target.example.", "x.dn.example. 3600 IN CNAME x.target.example."}},
		{name: "DNAME owner itself", qname: "dn.example.", qtype: dns.TypeDNAME, aa: true,
			answer: []string{"dn.example. 3600 IN DNAME target.example."}},
		{name: "referral with in-domain and sibling glue", qname: "www.sub.example.", qtype: dns.TypeA,
			auth: []string{"sub.example. 3600 IN NS ns1.sub.example.", "sub.example. 3600 IN NS ns2.sub.example.",
				"sub.example. 3600 IN NS ns.sib.example."},
			extra: []string{"ns1.sub.example. 3600 IN A 192.0.2.101", "ns2.sub.example. 3600 IN AAAA 2001:db8::102",
				"ns.sib.example. 3600 IN A 192.0.2.111"}},
		{name: "referral at the cut", qname: "sub.example.", qtype: dns.TypeNS,
			auth: []string{"sub.example. 3600 IN NS ns1.sub.example.", "sub.example. 3600 IN NS ns2.sub.example.",
				"sub.example. 3600 IN NS ns.sib.example."},
			extra: []string{"ns1.sub.example. 3600 IN A 192.0.2.101", "ns2.sub.example. 3600 IN AAAA 2001:db8::102",
				"ns.sib.example. 3600 IN A 192.0.2.111"}},
		{name: "glue name is a referral", qname: "ns1.sub.example.", qtype: dns.TypeA,
			auth: []string{"sub.example. 3600 IN NS ns1.sub.example.", "sub.example. 3600 IN NS ns2.sub.example.",
				"sub.example. 3600 IN NS ns.sib.example."}},
		{name: "DS at insecure cut is NODATA from the parent", qname: "sub.example.", qtype: dns.TypeDS, aa: true,
			auth: []string{soa}},
		{name: "out of zone REFUSED", qname: "www.other.test.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		{name: "ANY over UDP gives one RRset", qname: "host.example.", qtype: dns.TypeANY, aa: true,
			answer: []string{"host.example. 3600 IN A 192.0.2.80"}},
	})
}
