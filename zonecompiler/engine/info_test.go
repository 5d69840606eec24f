package engine

import (
	"bytes"
	"testing"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/bpf/abi"
)

// TestInfoName: the name rate limiting counts a reply under (rrl), with
// and without the cache, on a miss and on a hit.
func TestInfoName(t *testing.T) {
	e := newTestEngine(t, Config{}, [2]string{"example.", testZone})
	h := func(name string) uint64 {
		w := make([]byte, 256)
		n, _ := dns.PackDomainName(name, w, 0, nil, false)
		return abi.HashName(w[:n]).H1
	}
	c := NewCache(1 << 20)
	for _, tc := range []struct {
		qname string
		qtype uint16
		kind  Kind
		name  uint64
	}{
		{"host.example.", dns.TypeA, KindAnswer, h("host.example.")},
		{"HOST.example.", dns.TypeA, KindAnswer, h("host.example.")},
		{"www.example.", dns.TypeA, KindCNAME, h("www.example.")},
		{"host.example.", dns.TypeMX, KindNoData, h("host.example.")},
		{"a.b.www.sub.example.", dns.TypeA, KindReferral, h("sub.example.")},
		{"nope1.example.", dns.TypeA, KindNXDomain, h("example.")},
		{"nope2.example.", dns.TypeAAAA, KindNXDomain, h("example.")},
		{"x.wild.example.", dns.TypeA, KindWildcard, h("*.wild.example.")},
		{"y.wild.example.", dns.TypeTXT, KindWildcard, h("*.wild.example.")},
		{"other.test.", dns.TypeA, KindRefused, 0},
	} {
		pkt, _ := query(tc.qname, tc.qtype, false, true).Pack()
		for i, cache := range []*Cache{nil, c, c, c} {
			_, info := e.RespondUDP(cache, nil, pkt)
			if info.Kind != tc.kind || info.Name != tc.name {
				t.Errorf("%s %s (call %d): %v name %x, want %v %x", tc.qname, dns.TypeToString[tc.qtype], i, info.Kind, info.Name, tc.kind, tc.name)
			}
		}
	}
}

// TestTruncated: the slipped reply is the header with TC, the question
// and the OPT, the same as the engine's own truncated reply.
func TestTruncated(t *testing.T) {
	e := newTestEngine(t, Config{NSID: []byte("node1")}, [2]string{"example.", testZone})
	for _, edns := range []bool{false, true} {
		m := query("www.sub.example.", dns.TypeA, false, edns)
		if edns {
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
		}
		pkt, _ := m.Pack()
		full := e.Respond(nil, pkt, false)
		tr := Truncated(nil, full)
		r := new(dns.Msg)
		if err := r.Unpack(tr); err != nil {
			t.Fatalf("edns %v: %v", edns, err)
		}
		f := new(dns.Msg)
		f.Unpack(full)
		if !r.Truncated || len(r.Answer)+len(r.Ns) != 0 || r.Rcode != f.Rcode || r.Authoritative != f.Authoritative ||
			len(r.Question) != 1 || r.Question[0] != f.Question[0] || (r.IsEdns0() != nil) != edns {
			t.Errorf("edns %v: truncated reply\n%v\nof\n%v", edns, r, f)
		}
		if edns && !bytes.Contains(tr, []byte("node1")) {
			t.Errorf("the OPT record lost its NSID")
		}
	}
	if Truncated(nil, []byte{1, 2, 3}) != nil || Truncated(nil, make([]byte, 12)) != nil {
		t.Error("a malformed reply was truncated")
	}
}
