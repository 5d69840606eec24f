package zone

import (
	"errors"
	"slices"
	"testing"
	"unsafe"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// TestRecordSizes: a TLD holds millions of records, RRsets and names, so their
// size is the zone's memory (issue 11): a record stays in Go's 32-byte size
// class, an RRset in the 24-byte one, a node in the 48-byte one.
func TestRecordSizes(t *testing.T) {
	if n := unsafe.Sizeof(Node{}); n > 32 {
		t.Errorf("zone.Node is %d bytes, more than 48", n)
	}
	if n := unsafe.Sizeof(RR{}); n > 32 {
		t.Errorf("zone.RR is %d bytes, more than 32", n)
	}
	if n := unsafe.Sizeof(RRset{}); n > 24 {
		t.Errorf("zone.RRset is %d bytes, more than 24", n)
	}
}

// TestRRData: a record's RDATA reads back as set, empty RDATA as an empty
// (not nil) slice, and appending to it never writes into the record.
func TestRRData(t *testing.T) {
	owner := wire.NewPacked([]byte{1, 'a', 0})
	rd := []byte{3, 'n', 's', '1', 0, 9, 9}
	rr := NewRR(&owner, dns.TypeNS, dns.ClassINET, 300, rd[:5:5])
	if got := rr.RData(); string(got) != string(rd[:5]) || rr.RDLength() != 5 || cap(got) != 5 {
		t.Fatalf("RData %v (len %d cap %d), want %v", got, rr.RDLength(), cap(got), rd[:5])
	}
	_ = append(rr.RData(), 0xff)
	if rd[5] != 9 {
		t.Fatal("appending to RData wrote past it")
	}
	empty := NewRR(&owner, dns.TypeNULL, dns.ClassINET, 300, nil)
	if got := empty.RData(); got == nil || len(got) != 0 {
		t.Fatalf("empty RDATA read back as %#v", got)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("RDATA longer than RDLENGTH can say was taken")
		}
	}()
	NewRR(&owner, dns.TypeNULL, dns.ClassINET, 300, make([]byte, MaxRData+1))
}

// TestRRsetLists: an RRset's records and RRSIGs, added in any order, read
// back each in the order added; removing from one list leaves the other;
// a clone is changed alone; the MaxRRsetRecords+1st record is refused.
func TestRRsetLists(t *testing.T) {
	owner := wire.NewPacked([]byte{1, 'a', 0})
	rec := func(typ uint16, b byte) *RR {
		return NewRR(&owner, typ, dns.ClassINET, 300, []byte{0, 1, b})
	}
	s := &RRset{Type: dns.TypeTXT}
	var rrs, sigs []*RR
	for i := range 6 {
		typ := uint16(dns.TypeTXT)
		if i%3 == 1 {
			typ = dns.TypeRRSIG
		}
		r := rec(typ, byte(i))
		if err := s.add(r); err != nil {
			t.Fatal(err)
		}
		if typ == dns.TypeRRSIG {
			sigs = append(sigs, r)
		} else {
			rrs = append(rrs, r)
		}
	}
	check := func(s *RRset, rrs, sigs []*RR) {
		t.Helper()
		if !slices.Equal(s.RRs(), rrs) || !slices.Equal(s.Sigs(), sigs) {
			t.Fatalf("RRs %v Sigs %v, want %v %v", s.RRs(), s.Sigs(), rrs, sigs)
		}
		if !slices.Equal(s.listOf(rec(dns.TypeTXT, 0)), rrs) || !slices.Equal(s.listOf(rec(dns.TypeRRSIG, 0)), sigs) {
			t.Fatal("listOf picks the wrong list")
		}
	}
	check(s, rrs, sigs)
	c := s.clone()
	c.remove(rrs[0], 1)
	c.remove(sigs[0], 0)
	check(&c, []*RR{rrs[0], rrs[2], rrs[3]}, sigs[1:])
	check(s, rrs, sigs) // the original keeps its records
	// Appending to what RRs returned must not overwrite the RRSIGs.
	_ = append(s.RRs(), rec(dns.TypeTXT, 99))
	check(s, rrs, sigs)
	for range len(c.all()) {
		c.remove(c.all()[0], 0) // the first record while there is one, then the first RRSIG
	}
	if !c.empty() || c.nrrs != 0 {
		t.Fatalf("emptied set holds %v (%d records)", c.all(), c.nrrs)
	}

	full := &RRset{Type: dns.TypeTXT}
	for range MaxRRsetRecords {
		if err := full.add(rrs[0]); err != nil {
			t.Fatal(err)
		}
	}
	if err := full.add(rrs[0]); !errors.Is(err, errRRsetFull) {
		t.Fatalf("record %d of one RRset: %v, want refused", MaxRRsetRecords+1, err)
	}
	if err := full.add(sigs[0]); err != nil || len(full.Sigs()) != 1 {
		t.Fatalf("an RRSIG beside %d records: %v", MaxRRsetRecords, err)
	}
}
