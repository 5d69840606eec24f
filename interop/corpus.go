package interop

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Query is one test query: what is asked and how it is sent.
type Query struct {
	Name    string // exactly as sent, with its 0x20 mixed case
	Type    uint16
	Class   uint16
	RD      bool
	EDNS    bool
	DO      bool
	UDPSize uint16 // EDNS payload size advertised (with EDNS)
	NSID    bool   // ask for NSID (with EDNS)
	TCP     bool
}

// String renders the query as a dig-like one-liner.
func (q Query) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", q.Name, dns.ClassToString[q.Class], dns.TypeToString[q.Type])
	if q.TCP {
		b.WriteString(" +tcp")
	} else {
		b.WriteString(" +udp")
	}
	if q.RD {
		b.WriteString(" +rd")
	}
	if !q.EDNS {
		b.WriteString(" +noedns")
		return b.String()
	}
	fmt.Fprintf(&b, " +bufsize=%d", q.UDPSize)
	if q.DO {
		b.WriteString(" +dnssec")
	}
	if q.NSID {
		b.WriteString(" +nsid")
	}
	return b.String()
}

// Msg builds the wire message for q.
func (q Query) Msg() *dns.Msg {
	m := new(dns.Msg)
	m.Id = dns.Id()
	m.RecursionDesired = q.RD
	m.Question = []dns.Question{{Name: q.Name, Qtype: q.Type, Qclass: q.Class}}
	if q.EDNS {
		opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		opt.SetUDPSize(q.UDPSize)
		opt.SetDo(q.DO)
		if q.NSID {
			opt.Option = append(opt.Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
		}
		m.Extra = append(m.Extra, opt)
	}
	return m
}

// exchangeTimeout bounds one query; a UDP query is tried twice.
const exchangeTimeout = 2 * time.Second

// Exchange sends q to addr and returns the reply and its size on the wire.
// A UDP query is tried twice.
func Exchange(ctx context.Context, addr string, q Query) (*dns.Msg, int, error) {
	tries := 2
	if q.TCP {
		tries = 1
	}
	var err error
	for range tries {
		var r *dns.Msg
		var size int
		r, size, err = exchangeOnce(ctx, addr, q)
		if err == nil {
			return r, size, nil
		}
	}
	return nil, 0, fmt.Errorf("%s to %s: %w", q, addr, err)
}

func exchangeOnce(ctx context.Context, addr string, q Query) (*dns.Msg, int, error) {
	c := &dns.Client{Net: "udp", Timeout: exchangeTimeout}
	if q.TCP {
		c.Net = "tcp"
	}
	co, err := c.DialContext(ctx, addr)
	if err != nil {
		return nil, 0, err
	}
	defer co.Close()
	co.UDPSize = dns.MaxMsgSize
	if err := co.SetDeadline(time.Now().Add(exchangeTimeout)); err != nil {
		return nil, 0, err
	}
	m := q.Msg()
	if err := co.WriteMsg(m); err != nil {
		return nil, 0, fmt.Errorf("send: %w", err)
	}
	raw, err := co.ReadMsgHeader(nil)
	if err != nil {
		return nil, 0, fmt.Errorf("receive: %w", err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(raw); err != nil {
		return nil, len(raw), fmt.Errorf("unpack reply: %w", err)
	}
	if r.Id != m.Id {
		return nil, len(raw), fmt.Errorf("reply id %d, sent %d", r.Id, m.Id)
	}
	return r, len(raw), nil
}

// profile is one way of sending a query.
type profile struct {
	tcp, edns, do, nsid bool
	size                uint16
}

// profiles are the transports and EDNS settings the corpus mixes.
var profiles = []profile{
	{},                                 // plain UDP, no EDNS: 512 octets
	{edns: true, size: 1232},           // EDNS without DO
	{edns: true, do: true, size: 1232}, // the common resolver query
	{edns: true, do: true, nsid: true, size: 4096},
	{edns: true, do: true, size: 512}, // smallest EDNS size
	{edns: true, nsid: true, size: 1232},
	{tcp: true, edns: true, do: true, size: 1232},
	{tcp: true},
}

// Names of the test zone by what they exercise (relative to example.test.
// unless fully qualified). Each is asked for every type in zoneTypes.
var corpusNames = []string{
	// apex, hosts and in-zone name servers
	"@", "ns1", "ns2", "www", "host1", "mail", "mx2",
	// CNAME chain, out-of-zone and dangling CNAMEs, a loop
	"chain-a", "chain-b", "chain-c", "cname-ext", "cname-dangling", "loop-x", "loop-y",
	// DNAME owner, its target, names rewritten by it
	"dname", "target", "www.target", "www.dname", "x.dname", "a.b.dname",
	// wildcards
	"foo.wild", "a.b.wild", "*.wild", "exists.wild", "nx.exists.wild", "foo.wcname", "x.went",
	// empty non-terminals (NODATA) and names below them
	"ent", "b.ent", "a.b.ent", "nx.b.ent", "wild", "wcname", "went",
	// delegations: at the cut, glue, below the cut
	"sub", "ns1.sub", "www.sub", "a.b.sub", "sib", "www.sib", "ext", "www.ext",
	// occluded data at and below a cut, a lame delegation (missing glue)
	"x.sub", "lame", "www.lame", "ns.lame",
	"secure", "ns.secure", "x.secure",
	// the child zone sub2 and its parent-side DS
	"sub2", "ns.sub2", "www.sub2", "nx.sub2", "a.b.sub2",
	// non-existent names at several depths and positions
	"nx", "nx.nx", "a.b.c.nx", "nx.www", "nx.host1", "0", "zzz",
	// large answers
	"bigtxt", "many",
}

// zoneTypes are asked for every corpus name; SRV is never in the zone.
var zoneTypes = []uint16{
	dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeTXT, dns.TypeNS, dns.TypeSOA,
	dns.TypeDS, dns.TypeDNSKEY, dns.TypeCNAME, dns.TypeDNAME, dns.TypeRRSIG,
	dns.TypeNSEC, dns.TypeANY, dns.TypeSRV,
}

// outOfZone are names no server under test is authoritative for.
var outOfZone = []string{"example.com.", "test.", ".", "www.example.net.", "example.test.example.com."}

// classANYNames are asked with QCLASS ANY (RFC 1035 §3.2.5).
var classANYNames = []string{"@", "www", "nx", "sub", "www.sub", "chain-a", "foo.wild", "lame", "sub2", "www.sub2"}

// chaosNames are the CHAOS-class identity queries.
var chaosNames = []string{"id.server.", "hostname.bind.", "version.bind.", "version.server."}

// sweepAll are (name, type) pairs sent with every profile: the answers
// that truncate and the ones most often asked.
var sweepAll = []struct {
	name  string
	qtype uint16
}{
	{"bigtxt", dns.TypeTXT}, {"bigtxt", dns.TypeANY}, {"many", dns.TypeA},
	{"@", dns.TypeDNSKEY}, {"@", dns.TypeANY}, {"nx", dns.TypeA}, {"www.sub", dns.TypeA},
}

// profilesPerName is how many random profiles each (name, type) is sent with.
const profilesPerName = 4

// Corpus returns the deterministic query list for seed.
func Corpus(seed uint64) []Query {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var qs []Query
	add := func(name string, qtype, class uint16, p profile) {
		qs = append(qs, Query{
			Name: randomCase(rng, name), Type: qtype, Class: class, RD: rng.IntN(4) == 0,
			EDNS: p.edns, DO: p.do, UDPSize: p.size, NSID: p.nsid, TCP: p.tcp,
		})
	}
	addSome := func(name string, qtype, class uint16, n int) {
		for _, i := range rng.Perm(len(profiles))[:n] {
			add(name, qtype, class, profiles[i])
		}
	}
	for _, n := range corpusNames {
		for _, t := range zoneTypes {
			addSome(absName(n), t, dns.ClassINET, profilesPerName)
		}
	}
	for _, s := range sweepAll {
		for _, p := range profiles {
			add(absName(s.name), s.qtype, dns.ClassINET, p)
		}
	}
	for _, n := range outOfZone {
		for _, t := range []uint16{dns.TypeA, dns.TypeNS, dns.TypeSOA} {
			addSome(n, t, dns.ClassINET, 2)
		}
	}
	for _, n := range classANYNames {
		for _, t := range []uint16{dns.TypeA, dns.TypeNS, dns.TypeSOA, dns.TypeTXT} {
			addSome(absName(n), t, dns.ClassANY, 2)
		}
	}
	for _, n := range chaosNames {
		addSome(n, dns.TypeTXT, dns.ClassCHAOS, 3)
	}
	return qs
}

// absName qualifies a name relative to example.test.
func absName(n string) string {
	switch {
	case n == "@":
		return "example.test."
	case strings.HasSuffix(n, "."):
		return n
	default:
		return n + ".example.test."
	}
}

// randomCase flips the case of each letter at random (DNS 0x20).
func randomCase(rng *rand.Rand, name string) string {
	b := []byte(name)
	for i, c := range b {
		if c >= 'a' && c <= 'z' && rng.IntN(2) == 0 {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
