package zone

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/binfmt"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

const head = "$ORIGIN example.\n$TTL 60\n@ SOA ns1 host 1 2 3 4 300\n@ NS ns1\nns1 A 192.0.2.1\n"

func TestLoadRefusals(t *testing.T) {
	cases := []struct {
		name, text string
		line       int
		reason     string
	}{
		{"no SOA", "$ORIGIN example.\n@ 60 NS ns1\nns1 60 A 192.0.2.1\n", 0, "no SOA"},
		{"no apex NS", "$ORIGIN example.\n$TTL 60\n@ SOA ns1 host 1 2 3 4 300\nns1 A 192.0.2.1\n", 0, "no NS records at the zone apex"},
		{"CNAME beside data", head + "www CNAME ns1\nwww TXT \"x\"\n", 6, "CNAME at www.example. beside other data"},
		{"out of zone", head + "www.other. A 192.0.2.1\n", 6, "out-of-zone data"},
		{"SOA not at apex", head + "x SOA ns1 host 1 2 3 4 5\n", 6, "not the zone apex"},
		{"syntax error", head + "x A 300.1.1.1\n", 6, "syntax error: bad A"},
		{"expired RRSIG", head + "ns1 RRSIG A 13 2 60 20200101000000 20191201000000 1234 example. AAAA\n", 6, "expired"},
		{"wrong class", head + "x CH TXT \"a\"\n", 6, "class CH"},
		// The parser reads a record cut short at the file's end as a
		// dynamic update's empty one.
		{"SOA without RDATA", "$ORIGIN example.\n@ 60 NS ns1\nns1 60 A 192.0.2.1\n@ 60 SOA ", 4, "SOA record with malformed RDATA"},
		{"A without RDATA", head + "x A ", 6, "A record without RDATA"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(strings.NewReader(tc.text), "example.", "test.zone", Options{})
			var ze *Error
			if !errors.As(err, &ze) {
				t.Fatalf("want *zone.Error, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %q does not say %q", err, tc.reason)
			}
			if tc.line != 0 && ze.Line != tc.line {
				t.Errorf("error at line %d, want %d: %v", ze.Line, tc.line, err)
			}
			if !strings.HasPrefix(err.Error(), "test.zone") {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

// TestLoadWarnings: what NSD and Knot load and serve around (occluded
// data, missing glue) loads with a FILE:LINE warning, and the occluded
// names are marked below the cut (never answered, the referral is).
func TestLoadWarnings(t *testing.T) {
	cases := []struct {
		name, text string
		warnings   []string
	}{
		{"data below a delegation", head + "sub NS ns.sub\nns.sub A 192.0.2.9\nwww.sub TXT \"x\"\n",
			[]string{"test.zone:8: www.sub.example. TXT is occluded by the delegation sub.example."}},
		{"data at a delegation", head + "sub NS ns.sub\nns.sub A 192.0.2.9\nsub TXT \"x\"\n",
			[]string{"test.zone:8: sub.example. TXT is occluded by the delegation at the same name"}},
		{"RRSIG below a delegation", head + "sub NS ns.sub\nns.sub A 192.0.2.9\nns.sub RRSIG A 13 3 60 20360101000000 20200101000000 1 example. AAAA\n",
			[]string{"test.zone:8: RRSIG A below the delegation sub.example. is occluded"}},
		{"in-bailiwick NS without address", head + "sub NS ns.sub\n",
			[]string{"test.zone:6: in-bailiwick name server ns.sub.example. of sub.example. has no address"}},
		{"apex NS without address", "$ORIGIN example.\n$TTL 60\n@ SOA ns1 host 1 2 3 4 300\n@ NS ns1\n",
			[]string{"test.zone:4: in-bailiwick name server ns1.example. of example. has no address"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			z, err := Load(strings.NewReader(tc.text), "example.", "test.zone", Options{})
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if len(z.Warnings) != len(tc.warnings) {
				t.Fatalf("warnings %q, want %d", z.Warnings, len(tc.warnings))
			}
			for i, w := range tc.warnings {
				if !strings.HasPrefix(z.Warnings[i], w) {
					t.Errorf("warning %q, want %q...", z.Warnings[i], w)
				}
			}
		})
	}
}

func TestLoadFacts(t *testing.T) {
	text := head + "sub NS ns.sub\nns.sub A 192.0.2.9\na.b.c A 192.0.2.3\n*.w TXT \"w\"\nd DNAME x.example.\n"
	z, err := Load(strings.NewReader(text), "example.", "test.zone", Options{})
	if err != nil {
		t.Fatal(err)
	}
	name := func(s string) []byte {
		b := make([]byte, 256)
		n, _ := dns.PackDomainName(s, b, 0, nil, false)
		return b[:n]
	}
	want := map[string]Flags{
		"example.":        FlagApex,
		"sub.example.":    FlagDelegation,
		"ns.sub.example.": FlagBelowCut,
		"b.c.example.":    FlagEmptyNonTerm,
		"c.example.":      FlagEmptyNonTerm,
		"w.example.":      FlagEmptyNonTerm | FlagWildcardChild,
		"d.example.":      FlagDNAME,
		"a.b.c.example.":  0,
	}
	for n, f := range want {
		node := z.Node(name(n))
		if node == nil {
			t.Errorf("%s: no node", n)
			continue
		}
		if node.Flags != f {
			t.Errorf("%s: flags %b, want %b", n, node.Flags, f)
		}
	}
	if z.Serial != 1 || z.SOAMinimum() != 300 {
		t.Errorf("serial %d minimum %d", z.Serial, z.SOAMinimum())
	}
	if wire.String(z.Origin.Wire) != "example." {
		t.Errorf("origin %s", wire.String(z.Origin.Wire))
	}
}

func TestIncludeAndFileLine(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "hosts.inc")
	if err := os.WriteFile(inc, []byte("www A 192.0.2.8\nbad CNAME www\nbad TXT \"x\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "example.zone")
	if err := os.WriteFile(main, []byte(head+"$INCLUDE "+inc+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadFile("example.", main, Options{})
	var ze *Error
	if !errors.As(err, &ze) || ze.File != inc || ze.Line != 2 {
		t.Fatalf("want error at %s:2, got %v", inc, err)
	}
}

func TestExpiryWarning(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	sig := "ns1 RRSIG A 13 2 60 20300103000000 20291201000000 1234 example. AAAA\n"
	z, err := Load(strings.NewReader(head+sig), "example.", "test.zone", Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if len(z.Warnings) != 1 || !strings.Contains(z.Warnings[0], "test.zone:6: RRSIG A") {
		t.Errorf("want one expiry warning at test.zone:6, got %q", z.Warnings)
	}
	z, err = Load(strings.NewReader(head+sig), "example.", "test.zone",
		Options{Now: func() time.Time { return now }, ExpiryWarning: time.Hour})
	if err != nil || len(z.Warnings) != 0 {
		t.Errorf("1h window: want no warning, got %q %v", z.Warnings, err)
	}
}

// TestSignatureFacts checks the zone facts signatures give at load: an
// unsigned zone has none; RRSIGs alone make HasRRSIGs true and set the
// earliest expiration, whatever the file order; a DNSKEY at the apex
// beside them makes the zone Signed.
func TestSignatureFacts(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	opts := Options{Now: func() time.Time { return now }}
	sigs := "ns1 RRSIG A 13 2 60 20300301000000 20291201000000 1234 example. AAAA\n" +
		"@ RRSIG NS 13 1 60 20300115120000 20291201000000 1234 example. AAAA\n" +
		"@ RRSIG SOA 13 1 60 20300201000000 20291201000000 1234 example. AAAA\n"
	earliest := time.Date(2030, 1, 15, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		desc, text     string
		signed, rrsigs bool
		expiration     time.Time
	}{
		{"unsigned", head, false, false, time.Time{}},
		{"RRSIGs without a DNSKEY", head + sigs, false, true, earliest},
		{"DNSKEY and RRSIGs", head + "@ DNSKEY 257 3 13 AAAA\n" + sigs, true, true, earliest},
		{"DNSKEY without RRSIGs", head + "@ DNSKEY 257 3 13 AAAA\n", false, false, time.Time{}},
	} {
		z, err := Load(strings.NewReader(tc.text), "example.", "test.zone", opts)
		if err != nil {
			t.Fatalf("%s: %v", tc.desc, err)
		}
		if z.Signed != tc.signed || z.HasRRSIGs() != tc.rrsigs || !z.SigExpiration.Equal(tc.expiration) {
			t.Errorf("%s: Signed %v HasRRSIGs %v SigExpiration %v, want %v %v %v", tc.desc,
				z.Signed, z.HasRRSIGs(), z.SigExpiration, tc.signed, tc.rrsigs, tc.expiration)
		}
	}
}

func TestSetFind(t *testing.T) {
	parent, err := Load(strings.NewReader(head+"child NS ns1.child\nns1.child A 192.0.2.5\n"), "example.", "p", Options{})
	if err != nil {
		t.Fatal(err)
	}
	child, err := Load(strings.NewReader("$ORIGIN child.example.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.5\n"),
		"child.example.", "c", Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSet(parent, child)
	if err != nil {
		t.Fatal(err)
	}
	if z := s.Find(wire.ToLower([]byte("\x03WWW\x05child\x07example\x00"))); z != child {
		t.Errorf("www.child.example. should be in the child zone")
	}
	if s.Parent(child) != parent || s.Parent(parent) != nil {
		t.Errorf("parent lookup wrong")
	}
	if s.Find([]byte("\x03com\x00")) != nil {
		t.Errorf("com. should be in no zone")
	}
	if _, err := NewSet(parent, parent); err == nil {
		t.Errorf("duplicate zone accepted")
	}
}

// TestRDataLower: a record whose RDATA names have upper-case letters
// keeps them in RData, and RDataLower is the lower-cased copy held
// after it (appending to RData must not reach it); a lower-case one's
// RDataLower is RData itself. Loaded from the file and read back from
// the compiled records alike.
func TestRDataLower(t *testing.T) {
	text := head + "sub NS NS.Sub.Example.\nlow NS ns.low.example.\nmx MX 10 Mail.EXAMPLE.\n"
	z, err := Load(strings.NewReader(text), "example.", "test.zone", Options{})
	if err != nil {
		t.Fatal(err)
	}
	check := func(z *Zone) {
		t.Helper()
		for _, c := range []struct {
			owner, rdata string
			typ          uint16
		}{{"sub.example.", "NS.Sub.Example.", dns.TypeNS}, {"low.example.", "ns.low.example.", dns.TypeNS}, {"mx.example.", "Mail.EXAMPLE.", dns.TypeMX}} {
			b := make([]byte, 256)
			n, _ := dns.PackDomainName(c.owner, b, 0, nil, false)
			rr := z.Node(b[:n]).Set(c.typ).RRs()[0]
			off, _ := rr.Names()
			got, _, err := wire.ReadName(rr.RData(), off)
			if err != nil || wire.String(got) != c.rdata {
				t.Fatalf("%s: RDATA name %q (%v), want %q", c.owner, wire.String(got), err, c.rdata)
			}
			lower := append([]byte(nil), rr.RDataLower()...)
			if want := wire.ToLower(rr.RData()); string(lower) != string(want) {
				t.Fatalf("%s: RDataLower %x, want %x", c.owner, lower, want)
			}
			if c.rdata == strings.ToLower(c.rdata) && &rr.RDataLower()[0] != &rr.RData()[0] {
				t.Errorf("%s: a lower-case RDATA has a copy", c.owner)
			}
			_ = append(rr.RData(), 0xff, 0xff, 0xff)
			if string(rr.RDataLower()) != string(lower) {
				t.Fatalf("%s: appending to RData changed RDataLower", c.owner)
			}
		}
	}
	check(z)
	back, err := ReadRecords(binfmt.NewReader(recordsOf(t, z)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	check(back)
}

// TestLoadDuplicates: a record repeating one of its RRset (RFC 2181 §5:
// equal but for the TTL, names in RDATA in any case) is dropped, as NSD
// and Knot drop it; records whose RDATA differ in the case of anything but
// a name are kept. A record read after another of its owner shares that
// owner's name.
func TestLoadDuplicates(t *testing.T) {
	text := head +
		"a A 192.0.2.7\na 120 A 192.0.2.7\n" + // the TTL alone differs
		"a NS ns1.Example.\na NS NS1.example.\n" + // a compressible name's case
		"_s._tcp SRV 0 0 80 WWW.example.\n_s._tcp SRV 0 0 80 www.example.\n" + // an uncompressed name's case
		"t TXT \"Ab\"\nt TXT \"ab\"\n" + // text: not a name, both kept
		"x RP MBox.example. txt.example.\nx RP mbox.example. TXT.example.\n"
	z, err := Load(strings.NewReader(text), "example.", "test.zone", Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"a.example. A": 1, "a.example. NS": 1, "_s._tcp.example. SRV": 1, "t.example. TXT": 2, "x.example. RP": 1}
	for name, n := range want {
		owner, typ, _ := strings.Cut(name, " ")
		lower, err := nameWire(owner)
		if err != nil {
			t.Fatal(err)
		}
		node := z.Node(lower)
		if node == nil || node.Set(dns.StringToType[typ]) == nil {
			t.Errorf("%s: missing", name)
			continue
		}
		rrs := node.Set(dns.StringToType[typ]).RRs()
		if len(rrs) != n {
			t.Errorf("%s: %d records, want %d", name, len(rrs), n)
		}
		for _, rr := range rrs[1:] {
			if rr.Owner != rrs[0].Owner {
				t.Errorf("%s: records read in a row do not share their owner's name", name)
			}
		}
		if got := rrs[0].File(); got != "test.zone" || rrs[0].Line == 0 {
			t.Errorf("%s: read from %s:%d", name, got, rrs[0].Line)
		}
	}
}
