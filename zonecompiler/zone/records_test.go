package zone

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/binfmt"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// recordsOf writes z as WriteRecords does.
func recordsOf(t testing.TB, z *Zone) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := binfmt.NewWriter(&buf)
	z.WriteRecords(w)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fileLines lists every record's text with its file and line, sorted
// (Records yields them in no particular order).
func fileLines(z *Zone) string {
	var lines []string
	for rr := range z.Records() {
		lines = append(lines, fmt.Sprintf("%s:%d %s\n", rr.File(), rr.Line, rrText(rr)))
	}
	slices.Sort(lines)
	return strings.Join(lines, "")
}

func TestRecordsRoundTrip(t *testing.T) {
	for _, kind := range []denialKind{unsigned, signedNSEC, signedNSEC3, signedNSEC3OptOut} {
		t.Run(kind.String(), func(t *testing.T) {
			m := newModel(t, 7+uint64(kind))
			for range 60 {
				m.Step()
			}
			z := loadRecords(t, m.Signed(kind))
			z.Sources = []Source{{Path: "/x/gen.zone", Size: 12, ModTime: 3, ChangeTime: 4, Inode: 5}}
			b := recordsOf(t, z)
			r := binfmt.NewReader(b)
			got, err := ReadRecords(r, testOptions())
			if err != nil {
				t.Fatalf("ReadRecords: %v", err)
			}
			if r.Left() != 0 {
				t.Fatalf("%d bytes left unread", r.Left())
			}
			if a, b := dumpZone(t, got), dumpZone(t, z); a != b {
				t.Fatalf("zone read back differs (-loaded +read):\n%s", firstDiff(b, a))
			}
			if a, b := fileLines(got), fileLines(z); a != b {
				t.Fatalf("records or their lines differ (-loaded +read):\n%s", firstDiff(b, a))
			}
			// Load's warnings come in no set order.
			if fmt.Sprint(slices.Sorted(slices.Values(got.Warnings))) != fmt.Sprint(slices.Sorted(slices.Values(z.Warnings))) || fmt.Sprint(got.Sources) != fmt.Sprint(z.Sources) {
				t.Fatalf("warnings %q sources %v, want %q %v", got.Warnings, got.Sources, z.Warnings, z.Sources)
			}
			// Every truncation is an error, never a panic nor a zone.
			for n := 0; n < len(b); n += 1 + len(b)/97 {
				if _, err := ReadRecords(binfmt.NewReader(b[:n]), testOptions()); err == nil {
					t.Fatalf("records cut to %d of %d bytes read without error", n, len(b))
				}
			}
		})
	}
}

// TestRecordsChecked: a zone read back keeps the facts and warnings of
// its data, and checks its signatures against the clock again: expiry
// warnings come and go with it, an RRSIG expired since is refused at its
// file and line.
func TestRecordsChecked(t *testing.T) {
	m := newModel(t, 3)
	for range 40 {
		m.Step()
	}
	z := loadRecords(t, m.Signed(signedNSEC3))
	b := recordsOf(t, z)
	timed := func(z *Zone) (n int) {
		for _, w := range z.Warnings {
			if strings.Contains(w, " expires on ") {
				n++
			}
		}
		return n
	}
	if timed(z) == 0 || timed(z) == len(z.Warnings) {
		t.Fatalf("the fixture wants expiry warnings and others: %q", z.Warnings)
	}
	early, err := ReadRecords(binfmt.NewReader(b), Options{Now: func() time.Time { return genNow.Add(-60 * 24 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	if timed(early) != 0 || len(early.Warnings) != len(z.Warnings)-timed(z) {
		t.Fatalf("two months earlier: %d expiry warnings of %d, want none beside the %d others",
			timed(early), len(early.Warnings), len(z.Warnings)-timed(z))
	}
	_, err = ReadRecords(binfmt.NewReader(b), Options{Now: func() time.Time { return genNow.Add(60 * 24 * time.Hour) }})
	var ze *Error
	if !errors.As(err, &ze) || ze.Line == 0 || !strings.Contains(ze.Reason, "expired") {
		t.Fatalf("two months later: %v, want an expired RRSIG refused at its line", err)
	}
}

// TestRecordsKeepFileTTL: a record whose TTL in the file differs from its
// RRset's is written with it, so the zone read back warns as its file did.
func TestRecordsKeepFileTTL(t *testing.T) {
	z := loadText(t, "$TTL 300\n@ SOA ns.gen. h.gen. 1 2 3 4 5\n@ NS ns.gen.\na 300 A 192.0.2.1\na 600 A 192.0.2.2\n")
	if len(z.Warnings) != 1 || !strings.Contains(z.Warnings[0], "gen.zone:5: TTL 600 differs") {
		t.Fatalf("loaded with warnings %q", z.Warnings)
	}
	got, err := ReadRecords(binfmt.NewReader(recordsOf(t, z)), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.Warnings) != fmt.Sprint(z.Warnings) {
		t.Fatalf("read back with warnings %q, want %q", got.Warnings, z.Warnings)
	}
	if a := got.Node(lowerWire("a.example.")).Set(1); a.TTL != 300 || a.RRs()[1].TTL != 300 {
		t.Fatalf("RRset TTL %d, second record's %d: want both 300", a.TTL, a.RRs()[1].TTL)
	}
}

// TestOwnerNames: a record holds its owner as the file spells it; records
// spelled like their node's name share that name (one copy per name, not
// per record), loaded from the file and read back alike.
func TestOwnerNames(t *testing.T) {
	text := head + "Mixed A 192.0.2.9\nMixed AAAA 2001:db8::9\nmixed TXT \"x\"\nns1 TXT \"y\"\n"
	z, err := Load(strings.NewReader(text), "example.", "test.zone", Options{})
	if err != nil {
		t.Fatal(err)
	}
	back, err := ReadRecords(binfmt.NewReader(recordsOf(t, z)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, z := range map[string]*Zone{"loaded": z, "read back": back} {
		want := map[uint16]string{dns.TypeA: "Mixed.example.", dns.TypeAAAA: "Mixed.example.", dns.TypeTXT: "mixed.example."}
		n := z.Node([]byte("\x05mixed\x07example\x00"))
		if n == nil {
			t.Fatalf("%s: no node mixed.example.", name)
		}
		for typ, spelled := range want {
			rr := n.Set(typ).RRs()[0]
			if got := wire.String(rr.Owner.Wire()); got != spelled {
				t.Errorf("%s: %s owner %s, want %s", name, dns.Type(typ), got, spelled)
			}
			if shared := rr.Owner == &n.Name; shared != (spelled == wire.String(n.Name.Wire())) {
				t.Errorf("%s: %s owner shared with the node: %v", name, dns.Type(typ), shared)
			}
		}
		ns := z.Node([]byte("\x03ns1\x07example\x00"))
		if ns.Set(dns.TypeA).RRs()[0].Owner != &ns.Name || ns.Set(dns.TypeTXT).RRs()[0].Owner != &ns.Name {
			t.Errorf("%s: ns1's records do not share its name", name)
		}
	}
}

// TestRecordsRDataBound: RDATA longer than RDLENGTH can say, in records
// that passed their checksum without being written by WriteRecords, is
// an error, never a record nor a panic.
func TestRecordsRDataBound(t *testing.T) {
	var txt strings.Builder
	for range 254 {
		txt.WriteString(` "` + strings.Repeat("x", 255) + `"`)
	}
	z, err := Load(strings.NewReader(head+"big TXT"+txt.String()+"\n"), "example.", "test.zone", Options{})
	if err != nil {
		t.Fatal(err)
	}
	rd := z.Node([]byte("\x03big\x07example\x00")).Set(dns.TypeTXT).RRs()[0].RData()
	b := recordsOf(t, z)
	field := binary.AppendUvarint(nil, uint64(len(rd)))
	at := bytes.Index(b, append(field, rd...))
	if at < 0 {
		t.Fatal("the TXT record's RDATA is not in the records written")
	}
	long := binary.AppendUvarint(nil, MaxRData+1)
	var patched []byte
	patched = append(append(patched, b[:at]...), long...)
	patched = append(append(patched, rd...), make([]byte, MaxRData+1-len(rd))...)
	patched = append(patched, b[at+len(field)+len(rd):]...)
	_, err = ReadRecords(binfmt.NewReader(patched), Options{})
	if err == nil || !strings.Contains(err.Error(), "RDATA of 65536 bytes") {
		t.Fatalf("records with 65536 bytes of RDATA: %v, want refused", err)
	}
}
