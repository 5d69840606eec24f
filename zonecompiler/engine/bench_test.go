package engine

import (
	"testing"

	"github.com/miekg/dns"
)

// BenchmarkRespond measures one query through the engine, per answer
// class, reusing the reply buffer as the server does. Run with
// `go test -bench Respond -benchmem ./zonecompiler/engine`.
func BenchmarkRespond(b *testing.B) {
	e := newTestEngine(b, Config{}, [2]string{"example.", testZone})
	signed, _ := signedEngine(b, withNSEC3)
	cases := []struct {
		name string
		e    *Engine
		m    *dns.Msg
	}{
		{"exact-A", e, query("host.example.", dns.TypeA, false, true)},
		{"referral", e, query("www.sub.example.", dns.TypeA, false, true)},
		{"nxdomain", e, query("nope.example.", dns.TypeA, false, true)},
		{"nodata", e, query("host.example.", dns.TypeMX, false, true)},
		{"cname-chain", e, query("www.example.", dns.TypeA, false, true)},
		{"wildcard", e, query("x.wild.example.", dns.TypeA, false, true)},
		{"dname", e, query("x.dn.example.", dns.TypeA, false, true)},
		{"do-exact-A", signed, query("host.example.", dns.TypeA, true, true)},
		{"do-secure-referral", signed, query("www.sec.example.", dns.TypeA, true, true)},
		{"do-nxdomain-nsec3", signed, query("nope.example.", dns.TypeA, true, true)},
	}
	for _, c := range cases {
		pkt, err := c.m.Pack()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			buf := make([]byte, 0, 4096)
			b.ReportAllocs()
			for b.Loop() {
				if out := c.e.Respond(buf, pkt, false); out == nil {
					b.Fatal("no reply")
				}
			}
		})
	}
}
