package engine

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// bigZone adds RRsets large enough to need truncation.
const bigZone = testZone + `
big      TXT  "` + "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" + `"
big      TXT  "` + "1123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" + `"
big      TXT  "` + "2123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" + `"
`

func TestTruncation(t *testing.T) {
	e := newTestEngine(t, Config{}, [2]string{"example.", bigZone})
	// Without EDNS the limit is 512: three 250-byte strings do not fit.
	r := ask(t, e, query("big.example.", dns.TypeTXT, false, false), false)
	if !r.Truncated || len(r.Answer) != 0 || !r.Authoritative {
		t.Errorf("no-EDNS large answer: want TC=1, AA=1, empty answer; got\n%v", r)
	}
	// With EDNS 1232 it fits.
	r = ask(t, e, query("big.example.", dns.TypeTXT, false, true), false)
	if r.Truncated || len(r.Answer) != 3 {
		t.Errorf("EDNS 1232 answer: want 3 TXT without TC; got\n%v", r)
	}
	if opt := r.IsEdns0(); opt == nil || opt.UDPSize() != DefaultUDPSize {
		t.Errorf("want OPT with UDP size %d, got %v", DefaultUDPSize, opt)
	}
	// Over TCP the limit is 64 KiB.
	r = ask(t, e, query("big.example.", dns.TypeTXT, false, false), true)
	if r.Truncated || len(r.Answer) != 3 {
		t.Errorf("TCP answer: want 3 TXT; got\n%v", r)
	}
	// A referral whose in-domain glue does not fit is truncated
	// (RFC 9471); one whose sibling glue does not fit is not.
	e2 := newTestEngine(t, Config{}, [2]string{"example.", manyGlueZone()})
	r = ask(t, e2, query("www.glue.example.", dns.TypeA, false, false), false)
	if !r.Truncated {
		t.Errorf("referral with in-domain glue over 512: want TC; got\n%v", r)
	}
	q, _ := query("www.sibling.example.", dns.TypeA, false, false).Pack()
	raw := e2.Respond(nil, q, false)
	r = new(dns.Msg)
	if err := r.Unpack(raw); err != nil {
		t.Fatal(err)
	}
	if r.Truncated || len(r.Ns) != 16 || len(r.Extra) == 0 || len(r.Extra) >= 16 {
		t.Errorf("referral with sibling glue over 512: want all NS, some glue, no TC; got %d NS %d extra TC=%v",
			len(r.Ns), len(r.Extra), r.Truncated)
	}
	if len(raw) > 512 {
		t.Errorf("reply of %d bytes exceeds 512", len(raw))
	}
}

func manyGlueZone() string {
	var b strings.Builder
	b.WriteString("$ORIGIN example.\n$TTL 3600\n@ SOA ns1 host 1 2 3 4 300\n@ NS ns1\nns1 A 192.0.2.1\n")
	for i := 0; i < 20; i++ {
		n := string(rune('a'+i)) + "-server"
		b.WriteString("glue NS " + n + ".glue\n" + n + ".glue A 192.0.2.2\n")
		if i < 16 {
			b.WriteString("sibling NS " + n + ".glue\n")
		}
	}
	return b.String()
}

func TestEDNS(t *testing.T) {
	e := newTestEngine(t, Config{NSID: []byte("node-7"), Identity: "node-7.example", Version: "xdpdns"},
		[2]string{"example.", testZone})
	// BADVERS for version 1, with our OPT at version 0.
	m := query("host.example.", dns.TypeA, false, true)
	m.IsEdns0().SetVersion(1)
	r := ask(t, e, m, false)
	if r.Rcode != dns.RcodeBadVers || len(r.Answer) != 0 || r.IsEdns0() == nil || r.IsEdns0().Version() != 0 {
		t.Errorf("EDNS version 1: want BADVERS with OPT version 0; got\n%v", r)
	}
	// NSID only when asked.
	m = query("host.example.", dns.TypeA, true, true)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID},
		&dns.EDNS0_LOCAL{Code: 65001, Data: []byte{1, 2, 3}})
	r = ask(t, e, m, false)
	var nsid string
	for _, o := range r.IsEdns0().Option {
		if n, ok := o.(*dns.EDNS0_NSID); ok {
			nsid = n.Nsid
		}
	}
	if nsid != "6e6f64652d37" || !r.IsEdns0().Do() || len(r.Answer) != 1 {
		t.Errorf("NSID: want hex of node-7 and DO echoed, unknown option ignored; got\n%v", r)
	}
	r = ask(t, e, query("host.example.", dns.TypeA, false, true), false)
	if len(r.IsEdns0().Option) != 0 {
		t.Errorf("NSID sent unasked: %v", r.IsEdns0())
	}
	// No OPT in reply to a query without one.
	r = ask(t, e, query("host.example.", dns.TypeA, false, false), false)
	if r.IsEdns0() != nil {
		t.Errorf("OPT in reply to a non-EDNS query")
	}
	// CHAOS identity.
	for _, name := range []string{"id.server.", "HOSTNAME.bind.", "version.bind."} {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeTXT)
		m.Question[0].Qclass = dns.ClassCHAOS
		r := ask(t, e, m, false)
		if len(r.Answer) != 1 || r.Answer[0].Header().Class != dns.ClassCHAOS || r.Answer[0].Header().Name != name {
			t.Errorf("CHAOS %s: got\n%v", name, r)
		}
	}
	hidden := newTestEngine(t, Config{}, [2]string{"example.", testZone})
	m = new(dns.Msg)
	m.SetQuestion("version.bind.", dns.TypeTXT)
	m.Question[0].Qclass = dns.ClassCHAOS
	if r := ask(t, hidden, m, false); r.Rcode != dns.RcodeRefused {
		t.Errorf("hidden version: want REFUSED, got %v", r)
	}
}

// TestMalformed feeds broken packets: each gets the RFC's answer or is
// dropped, never a panic.
func TestMalformed(t *testing.T) {
	e := newTestEngine(t, Config{}, [2]string{"example.", testZone})
	good, _ := query("host.example.", dns.TypeA, false, true).Pack()
	withFlags := func(f func(b []byte)) []byte { b := bytes.Clone(good); f(b); return b }
	cases := []struct {
		name  string
		pkt   []byte
		rcode int // -1: dropped
	}{
		{"empty", nil, -1},
		{"short header", good[:11], -1},
		{"response bit set", withFlags(func(b []byte) { b[2] |= 0x80 }), -1},
		{"truncated question", good[:20], dns.RcodeFormatError},
		{"qdcount 0", withFlags(func(b []byte) { binary.BigEndian.PutUint16(b[4:], 0) }), dns.RcodeFormatError},
		{"qdcount 2", withFlags(func(b []byte) { binary.BigEndian.PutUint16(b[4:], 2) }), dns.RcodeFormatError},
		{"ancount 1", withFlags(func(b []byte) { binary.BigEndian.PutUint16(b[6:], 1) }), dns.RcodeFormatError},
		{"arcount past the end", withFlags(func(b []byte) { binary.BigEndian.PutUint16(b[10:], 2) }), dns.RcodeFormatError},
		{"label runs past the end", withFlags(func(b []byte) { b[12] = 60 }), dns.RcodeFormatError},
		{"compression pointer in qname", withFlags(func(b []byte) { b[12] = 0xC0 }), dns.RcodeFormatError},
		{"opcode STATUS", withFlags(func(b []byte) { b[2] |= 2 << 3 }), dns.RcodeNotImplemented},
		// The opcode is judged before the rest (ISC's EDNS compliance
		// tests opcode and opcodeflg send opcode 15 without a question).
		{"opcode 15, qdcount 0", withFlags(func(b []byte) { b[2] |= 15 << 3; binary.BigEndian.PutUint16(b[4:], 0) }), dns.RcodeNotImplemented},
		{"opcode 15 and flags, qdcount 0", withFlags(func(b []byte) {
			b[2] |= 15<<3 | 0x07 // AA TC RD
			b[3] |= 0xf0         // RA Z AD CD
			binary.BigEndian.PutUint16(b[4:], 0)
		}), dns.RcodeNotImplemented},
		{"opcode NOTIFY, qdcount 2", withFlags(func(b []byte) { b[2] |= 4 << 3; binary.BigEndian.PutUint16(b[4:], 2) }), dns.RcodeNotImplemented},
		{"opcode 15, truncated question", withFlags(func(b []byte) { b[2] |= 15 << 3 })[:20], dns.RcodeNotImplemented},
		{"OPT truncated", good[:len(good)-3], dns.RcodeFormatError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := e.Respond(nil, tc.pkt, false)
			if tc.rcode < 0 {
				if out != nil {
					t.Fatalf("want drop, got %x", out)
				}
				return
			}
			r := new(dns.Msg)
			if err := r.Unpack(out); err != nil {
				t.Fatalf("reply does not unpack: %v", err)
			}
			if r.Rcode != tc.rcode || !r.Response {
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
			}
			if r.Id != binary.BigEndian.Uint16(tc.pkt) {
				t.Errorf("ID not echoed")
			}
		})
	}
}

// TestQuestionEcho checks that the reply starts with the query's ID and
// question byte for byte, whatever the case of the name.
func TestQuestionEcho(t *testing.T) {
	e := newTestEngine(t, Config{}, [2]string{"example.", testZone})
	for _, name := range []string{"hOsT.eXaMpLe.", "WWW.EXAMPLE.", "x.Wild.example.", "a.SUB.example."} {
		q, _ := query(name, dns.TypeA, false, false).Pack()
		out := e.Respond(nil, q, false)
		qEnd := 12 + len(name) + 1 + 4
		if !bytes.Equal(out[:2], q[:2]) || !bytes.Equal(out[12:qEnd], q[12:qEnd]) {
			t.Errorf("%s: question not echoed byte for byte\n q %x\n r %x", name, q[:qEnd], out[:qEnd])
		}
	}
}

// TestTransfersOverUDPRefused: AXFR and IXFR reaching the engine (UDP)
// are REFUSED, IXFR with its SOA in the authority section (RFC 1995 §3)
// too; an IXFR whose authority section is broken is FORMERR.
func TestTransfersOverUDPRefused(t *testing.T) {
	e := newTestEngine(t, Config{}, [2]string{"example.", testZone})
	ixfr := new(dns.Msg)
	ixfr.SetIxfr("example.", 1, "ns1.example.", "hostmaster.example.")
	ixfrEDNS := ixfr.Copy()
	ixfrEDNS.SetEdns0(1232, true)
	axfr := new(dns.Msg).SetAxfr("example.")
	for name, m := range map[string]*dns.Msg{"IXFR": ixfr, "IXFR with EDNS": ixfrEDNS, "AXFR": axfr} {
		pkt, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		r := new(dns.Msg)
		if err := r.Unpack(e.Respond(nil, pkt, false)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.Rcode != dns.RcodeRefused || len(r.Answer)+len(r.Ns) != 0 || len(r.Question) != 1 {
			t.Errorf("%s over UDP: %v", name, r)
		}
		if (r.IsEdns0() != nil) != (m.IsEdns0() != nil) {
			t.Errorf("%s: OPT in the reply %v, in the query %v", name, r.IsEdns0() != nil, m.IsEdns0() != nil)
		}
	}
	pkt, _ := ixfr.Pack()
	for _, cut := range []int{1, 5, 11} {
		r := new(dns.Msg)
		if err := r.Unpack(e.Respond(nil, pkt[:len(pkt)-cut], false)); err != nil || r.Rcode != dns.RcodeFormatError {
			t.Errorf("IXFR with its SOA cut by %d bytes: %v %v", cut, r, err)
		}
	}
	// Authority records in anything but IXFR stay FORMERR.
	q := new(dns.Msg).SetQuestion("example.", dns.TypeSOA)
	q.Ns = ixfr.Ns
	pkt, _ = q.Pack()
	if r := new(dns.Msg); r.Unpack(e.Respond(nil, pkt, false)) != nil || r.Rcode != dns.RcodeFormatError {
		t.Errorf("SOA query with an authority record: %v", r)
	}
}
