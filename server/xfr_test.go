package server

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// allowLocal lets 127.0.0.1 transfer zones.
func allowLocal(c *Config) { c.AXFRAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} }

// zoneRecords parses a zone text independently of the server, returning
// its records in presentation form, sorted, SOA excluded.
func zoneRecords(t testing.TB, origin, text string) (soa string, rest []string) {
	t.Helper()
	zp := dns.NewZoneParser(strings.NewReader(text), origin, "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if rr.Header().Rrtype == dns.TypeSOA {
			soa = rr.String()
			continue
		}
		rest = append(rest, rr.String())
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(rest)
	return soa, rest
}

// transferIn runs a transfer with miekg/dns and returns the records.
func transferIn(t testing.TB, addr string, m *dns.Msg) ([]dns.RR, error) {
	t.Helper()
	tr := &dns.Transfer{DialTimeout: testTimeout, ReadTimeout: testTimeout}
	ch, err := tr.In(m, addr)
	if err != nil {
		return nil, err
	}
	var rrs []dns.RR
	for env := range ch {
		if env.Error != nil {
			return rrs, env.Error
		}
		rrs = append(rrs, env.RR...)
	}
	return rrs, nil
}

// checkTransfer checks that rrs is a complete transfer of the zone text.
func checkTransfer(t testing.TB, rrs []dns.RR, origin, text string) {
	t.Helper()
	soa, want := zoneRecords(t, origin, text)
	if len(rrs) < 2 || rrs[0].String() != soa || rrs[len(rrs)-1].String() != soa {
		t.Fatalf("transfer does not start and end with the SOA %s (%d records)", soa, len(rrs))
	}
	var got []string
	for _, rr := range rrs[1 : len(rrs)-1] {
		got = append(got, rr.String())
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("transferred records differ:\ngot  %q\nwant %q", got, want)
	}
}

func TestAXFRAllowed(t *testing.T) {
	ts := startServer(t, allowLocal)
	m := new(dns.Msg)
	m.SetAxfr("Example.COM.")
	rrs, err := transferIn(t, ts.addr, m)
	if err != nil {
		t.Fatalf("AXFR: %v", err)
	}
	// Between the SOAs, the records in no particular order (RFC 5936
	// §2.2 asks for none; zone.Records keeps no list of them).
	checkTransfer(t, rrs, "example.com.", testZone)
	ts.checkAlive(t)
}

func TestAXFRRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		allow []netip.Prefix
	}{
		{"empty allow-list", nil},
		{"other prefixes", []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("::1/128")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, func(c *Config) { c.AXFRAllow = tc.allow })
			for _, name := range []string{"example.com.", "www.example.com.", "example.org."} {
				r := rawTransfer(t, ts, name, dns.TypeAXFR, nil)
				if len(r) != 1 || r[0].Rcode != dns.RcodeRefused || len(r[0].Answer) != 0 {
					t.Errorf("%s: got %v, want one REFUSED message", name, r)
				}
			}
		})
	}
}

func TestAXFRNotAuth(t *testing.T) {
	ts := startServer(t, allowLocal)
	for _, name := range []string{"www.example.com.", "sub.example.com.", "example.org.", "."} {
		r := rawTransfer(t, ts, name, dns.TypeAXFR, nil)
		if len(r) != 1 || r[0].Rcode != dns.RcodeNotAuth || len(r[0].Answer) != 0 {
			t.Errorf("%s: got %v, want one NOTAUTH message", name, r)
		}
	}
	// Class other than IN.
	m := new(dns.Msg)
	m.SetAxfr("example.com.")
	m.Question[0].Qclass = dns.ClassCHAOS
	if r := rawTransferMsg(t, ts, m); len(r) != 1 || r[0].Rcode != dns.RcodeRefused {
		t.Errorf("CH AXFR: %v", r)
	}
}

func TestAXFROverUDPRefused(t *testing.T) {
	ts := startServer(t, allowLocal)
	r := ts.query(t, "udp", "example.com.", dns.TypeAXFR)
	if r.Rcode != dns.RcodeRefused || len(r.Answer) != 0 {
		t.Errorf("AXFR over UDP: %v", r)
	}
}

func TestIXFR(t *testing.T) {
	ts := startServer(t, allowLocal)
	soa, _ := zoneRecords(t, "example.com.", testZone)
	ixfr := func(serial uint32) []dns.RR {
		m := new(dns.Msg)
		m.SetIxfr("example.com.", serial, "ns1.example.com.", "hostmaster.example.com.")
		rrs, err := transferIn(t, ts.addr, m)
		if err != nil {
			t.Fatalf("IXFR from %d: %v", serial, err)
		}
		return rrs
	}
	// Older serial: RFC 1995 §4 fallback to a full, AXFR-style transfer.
	checkTransfer(t, ixfr(2023000000), "example.com.", testZone)
	// Same or newer serial: the single SOA.
	for _, serial := range []uint32{2024010101, 2024010102} {
		if rrs := ixfr(serial); len(rrs) != 1 || rrs[0].String() != soa {
			t.Errorf("IXFR from %d: got %v, want only the SOA", serial, rrs)
		}
	}
	// IXFR also obeys the allow-list.
	ts2 := startServer(t, nil)
	m := new(dns.Msg)
	m.SetIxfr("example.com.", 1, "ns1.example.com.", "hostmaster.example.com.")
	if r := rawTransferMsg(t, ts2, m); len(r) != 1 || r[0].Rcode != dns.RcodeRefused {
		t.Errorf("IXFR from a client not allowed: %v", r)
	}
}

func TestAXFRLargeZoneMessages(t *testing.T) {
	var b strings.Builder
	b.WriteString("$ORIGIN big.example.\n$TTL 300\n@ IN SOA ns.big.example. h.big.example. 7 3600 600 86400 60\n@ IN NS ns\nns IN A 192.0.2.1\n")
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&b, "host%d IN A 10.%d.%d.%d\n", i, i>>16, (i>>8)&255, i&255)
		if i%10 == 0 {
			fmt.Fprintf(&b, "host%d IN TXT \"%s\"\n", i, strings.Repeat("x", 200))
		}
	}
	text := b.String()
	ts := startServerZones(t, loadZones(t, "big.example.", text), allowLocal)
	m := new(dns.Msg)
	m.SetAxfr("big.example.")
	m.SetEdns0(1232, false)
	msgs := rawTransferMsg(t, ts, m)
	if len(msgs) < 5 {
		t.Fatalf("%d messages for a %d-byte zone, want several of about 16 KiB", len(msgs), len(text))
	}
	var rrs []dns.RR
	for i, r := range msgs {
		if n := r.Len(); n > DefaultXFRMessageSize+512 {
			t.Errorf("message %d is %d bytes", i, n)
		}
		if r.Id != m.Id || !r.Authoritative || r.Rcode != dns.RcodeSuccess || len(r.Question) != 1 || r.Question[0] != m.Question[0] {
			t.Errorf("message %d header/question: %v", i, r.MsgHdr)
		}
		if r.IsEdns0() == nil {
			t.Errorf("message %d has no OPT though the query had one", i)
		}
		rrs = append(rrs, r.Answer...)
	}
	checkTransfer(t, rrs, "big.example.", text)
}

// rawTransfer sends one transfer query over a raw TCP connection.
func rawTransfer(t testing.TB, ts *testServer, name string, qtype uint16, edit func(*dns.Msg)) []*dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = false
	if edit != nil {
		edit(m)
	}
	return rawTransferMsg(t, ts, m)
}

// rawTransferMsg sends m over a raw TCP connection and reads messages until
// an error rcode, a second SOA, or the end of the stream.
func rawTransferMsg(t testing.TB, ts *testServer, m *dns.Msg) []*dns.Msg {
	t.Helper()
	c := ts.dialTCP(t)
	q, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	c.Write(frame(q))
	var out []*dns.Msg
	soas := 0
	for {
		c.SetReadDeadline(time.Now().Add(testTimeout))
		r, err := readFrame(c)
		if err != nil {
			if len(out) == 0 {
				t.Fatalf("no response: %v", err)
			}
			return out
		}
		out = append(out, r)
		for _, rr := range r.Answer {
			if rr.Header().Rrtype == dns.TypeSOA {
				soas++
			}
		}
		if r.Rcode != dns.RcodeSuccess || soas >= 2 || (soas == 1 && len(out) == 1 && len(r.Answer) == 1) {
			return out
		}
	}
}
