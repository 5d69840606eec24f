package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// refZone is a TLD with delegations of every shape: in-bailiwick glue (a
// name that a query name below the delegation can share: ns1.dN.tld.),
// deeper glue (ns.nic.dN.tld.), out-of-zone servers, DS.
func refZone() string {
	var b strings.Builder
	b.WriteString("$ORIGIN tld.\n$TTL 3600\n@ SOA ns hostmaster 1 7200 3600 1209600 300\n@ NS ns\nns A 192.0.2.1\n")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, "d%d NS ns1.d%d\nns1.d%d A 192.0.2.%d\nns1.d%d AAAA 2001:db8::%d\n", i, i, i, i+10, i, i+10)
		if i%2 == 0 {
			fmt.Fprintf(&b, "d%d NS ns.nic.d%d\nns.nic.d%d A 198.51.100.%d\n", i, i, i, i+10)
		}
		if i%3 == 0 {
			fmt.Fprintf(&b, "d%d NS ns.elsewhere.test.\n", i)
		}
		if i%4 == 0 {
			fmt.Fprintf(&b, "d%d DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\n", i)
		}
	}
	return b.String()
}

// TestReferralMemoSameBytes: through the cache and its referral memo,
// every reply to names below the delegations is byte for byte the
// engine's own: names of every length and case, names that share a label
// with a glue name (ns1, nic: the engine compresses the referral against
// the cut, never the question's labels below it, as the memo replays),
// the delegation itself, DS below it, every EDNS shape (512-byte replies
// that do not fit whole included), over many rounds so that the memo
// answers most.
func TestReferralMemoSameBytes(t *testing.T) {
	e := newTestEngine(t, Config{NSID: []byte("n1"), Cookies: true}, [2]string{"tld.", refZone()})
	c := NewCache(1 << 20)
	rng := rand.New(rand.NewPCG(3, 4))
	labels := []string{"www", "WWW", "ns1", "NS1", "nic", "a", "mail", "x-y", "ns", strings.Repeat("l", 63)}
	var dst []byte
	for i := 0; i < 20000; i++ {
		d := rng.IntN(40)
		var name string
		for j := rng.IntN(4); j >= 0; j-- {
			name += labels[rng.IntN(len(labels))] + "."
		}
		if rng.IntN(10) == 0 {
			name = ""
		}
		name += fmt.Sprintf("d%d.tld.", d)
		if rng.IntN(3) == 0 {
			name = strings.ToUpper(name)
		}
		qtype := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeNS, dns.TypeDS, dns.TypeANY, dns.TypeTXT}[rng.IntN(6)]
		m := query(name, qtype, rng.IntN(2) == 0, rng.IntN(4) != 0)
		m.Id = uint16(rng.Uint32())
		if o := m.IsEdns0(); o != nil {
			o.SetUDPSize([]uint16{512, 600, 1232, 4096}[rng.IntN(4)])
			if rng.IntN(3) == 0 {
				o.Option = append(o.Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
			}
			if rng.IntN(4) == 0 {
				o.Option = append(o.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
			}
		}
		pkt, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		want := e.Respond(nil, pkt, false)
		var info Info
		dst, info = e.RespondUDP(c, dst[:0], pkt)
		if !bytes.Equal(dst, want) {
			t.Fatalf("query %d %s %s: reply through the cache and memo\n% x\nthe engine's\n% x", i, name, dns.TypeToString[qtype], dst, want)
		}
		_ = info
	}
	t.Logf("%d hits, %d misses, %d answered by the referral memo", c.Hits, c.Misses, c.RefHits)
	if c.RefHits == 0 {
		t.Error("the referral memo answered nothing")
	}
}

// BenchmarkReferralMemo is a referral to a name never asked before (a
// random-subdomain flood under one delegation): the memo's work.
func BenchmarkReferralMemo(b *testing.B) {
	e := newTestEngine(b, Config{}, [2]string{"tld.", refZone()})
	c := NewCache(1 << 20)
	var pkts [][]byte
	for i := 0; i < 4096; i++ {
		p, _ := query(fmt.Sprintf("r%d.d1.tld.", i), dns.TypeA, true, true).Pack()
		pkts = append(pkts, p)
	}
	buf := make([]byte, 0, 4096)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = e.RespondUDP(c, buf[:0], pkts[i%len(pkts)])
		i++
	}
}

// TestReferralSameBelowCut: the referral to a name at a glue name (the
// name server itself, or a name below it) is the referral to any other
// name of that length below the cut, byte for byte after the question:
// its names compress against the question from the cut up only, so that
// one XDP template for the cut answers every name below it. The replies
// unpack, with the delegation's NS and glue.
func TestReferralSameBelowCut(t *testing.T) {
	e := newTestEngine(t, Config{}, [2]string{"tld.", refZone()})
	for _, pair := range [][2]string{
		{"ns1.d2.tld.", "abc.d2.tld."},
		{"NS1.d2.tld.", "xyz.D2.tld."},
		{"ns.nic.d2.tld.", "ab.xyz.d2.tld."},
		{"www.ns1.d2.tld.", "www.abc.d2.tld."},
		{"d2.tld.", "d2.tld."},
	} {
		for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeNS} {
			var bodies [2][]byte
			for i, name := range pair {
				pkt, err := query(name, qtype, false, true).Pack()
				if err != nil {
					t.Fatal(err)
				}
				out := e.Respond(nil, pkt, false)
				var m dns.Msg
				if err := m.Unpack(out); err != nil {
					t.Fatalf("%s: reply does not unpack: %v", name, err)
				}
				if len(m.Ns) < 2 || len(m.Extra) < 2 || m.Authoritative {
					t.Fatalf("%s: not the referral to d2.tld.:\n%v", name, &m)
				}
				bodies[i] = out[wire.HeaderLen+len(name)+1+4:]
			}
			if !bytes.Equal(bodies[0], bodies[1]) {
				t.Errorf("%s %s and %s: the referrals differ after the question:\n%x\n%x",
					pair[0], dns.Type(qtype), pair[1], bodies[0], bodies[1])
			}
		}
	}
}
