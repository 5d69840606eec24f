package secondary

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/zonecompiler/wire"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

const ixfrZone = `$ORIGIN example.com.
$TTL 300
@ SOA ns1 host 1 7200 3600 1209600 300
@ NS ns1
ns1 A 192.0.2.1
www A 192.0.2.10
`

func rrs(t *testing.T, lines ...string) []dns.RR {
	t.Helper()
	var out []dns.RR
	for _, l := range lines {
		rr, err := dns.NewRR("$ORIGIN example.com.\n$TTL 300\n" + l)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rr)
	}
	return out
}

// TestApplyServed: an incremental IXFR of two sequences is applied to the
// served version with zone.Apply, its records come back SOA first and
// checked; a transfer from another serial falls back to the copy on disk
// (not checked, no error); a deletion the served version does not hold
// fails, naming the record.
func TestApplyServed(t *testing.T) {
	served, err := zone.Load(strings.NewReader(ixfrZone), "example.com.", "example.com.zone", zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	zl := &zoneLoop{origin: "example.com.", m: &Manager{cfg: Config{
		Served: func(string) *zone.Zone { return served },
	}}}
	soa := func(n int) string { return "@ SOA ns1 host " + string(rune('0'+n)) + " 7200 3600 1209600 300" }
	ixfr := rrs(t, soa(3),
		soa(1), "www A 192.0.2.10", soa(2), "www A 192.0.2.20", "new TXT \"x\"",
		soa(2), "new TXT \"x\"", soa(3), "deep.below.new AAAA 2001:db8::1",
		soa(3))
	records, applied, err := zl.applyServed(ixfr, true)
	if err != nil || applied == nil {
		t.Fatalf("applyServed: applied %v, %v", applied, err)
	}
	// The names the two sequences changed, for the hot path.
	var changed []string
	for _, n := range applied.Changed {
		changed = append(changed, wire.String(n))
	}
	slices.Sort(changed)
	if want := []string{"below.new.example.com.", "deep.below.new.example.com.", "example.com.", "new.example.com.", "www.example.com."}; !applied.Known || !slices.Equal(changed, want) {
		t.Errorf("changed names %v (known %v), want %v", changed, applied.Known, want)
	}
	if applied.Zone == nil || applied.Zone.Serial != 3 {
		t.Errorf("applied version %+v, want serial 3", applied.Zone)
	}
	var got []string
	for _, rr := range records {
		got = append(got, strings.Join(strings.Fields(rr.String()), " "))
	}
	if !strings.Contains(got[0], "SOA ns1.example.com. host.example.com. 3 ") {
		t.Errorf("the SOA is not first, serial 3: %q", got[0])
	}
	slices.Sort(got)
	want := []string{
		"deep.below.new.example.com. 300 IN AAAA 2001:db8::1",
		"example.com. 300 IN NS ns1.example.com.",
		"example.com. 300 IN SOA ns1.example.com. host.example.com. 3 7200 3600 1209600 300",
		"ns1.example.com. 300 IN A 192.0.2.1",
		"www.example.com. 300 IN A 192.0.2.20",
	}
	if !slices.Equal(got, want) {
		t.Errorf("records\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// From another serial than the one served: left to the copy on disk.
	if _, applied, err := zl.applyServed(rrs(t, soa(5), soa(4), soa(5), soa(5)), true); applied != nil || err != nil {
		t.Errorf("an IXFR from serial 4 of a zone at 1: applied %v, %v", applied, err)
	}
	// A deletion of a record not served.
	_, _, err = zl.applyServed(rrs(t, soa(2), soa(1), "www A 192.0.2.99", soa(2), soa(2)), true)
	if err == nil || !strings.Contains(err.Error(), "192.0.2.99") {
		t.Errorf("a deletion of a record not served: %v", err)
	}
	// A result the checks refuse: a CNAME beside other data.
	_, _, err = zl.applyServed(rrs(t, soa(2), soa(1), soa(2), "www CNAME ns1", soa(2)), true)
	if err == nil || !strings.Contains(err.Error(), "CNAME at www.example.com. beside other data") {
		t.Errorf("a CNAME beside data: %v", err)
	}
}
