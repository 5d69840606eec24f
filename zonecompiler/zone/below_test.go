package zone

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

func TestBelow(t *testing.T) {
	text := "$ORIGIN b.test.\n$TTL 300\n@ SOA ns hostmaster 1 7200 3600 1209600 300\n@ NS ns\nns A 198.18.0.53\n" +
		"sub NS ns.sub\nns.sub A 198.18.0.1\nx.y.sub A 198.18.0.2\nsubway A 198.18.0.3\na.sub0 TXT x\n"
	z, err := Load(strings.NewReader(text), "b.test.", "b.test.zone", Options{})
	if err != nil {
		t.Fatal(err)
	}
	below := func(z *Zone, name string) []string {
		w, _ := wireOf(name)
		var out []string
		z.Below(w, func(n []byte) bool { out = append(out, wire.String(n)); return true })
		return out
	}
	if got, want := below(z, "sub.b.test."), []string{"ns.sub.b.test.", "y.sub.b.test.", "x.y.sub.b.test."}; !slices.Equal(got, want) {
		t.Errorf("below sub: %v, want %v", got, want)
	}
	if got := below(z, "subway.b.test."); len(got) != 0 {
		t.Errorf("below subway: %v", got)
	}
	// Below the origin: every other name (the origin's children are not
	// in the index), in canonical order.
	if got, want := below(z, "b.test."), []string{"ns.b.test.", "sub.b.test.", "ns.sub.b.test.", "y.sub.b.test.", "x.y.sub.b.test.",
		"sub0.b.test.", "a.sub0.b.test.", "subway.b.test."}; !slices.Equal(got, want) {
		t.Errorf("below the origin: %v, want %v", got, want)
	}
	if got := below(z, "test."); len(got) != 0 {
		t.Errorf("below a name above the origin: %v", got)
	}
	for name, want := range map[string]bool{"b.test.": true, "sub.b.test.": true, "y.sub.b.test.": true, "subway.b.test.": false, "ns.b.test.": false} {
		w, _ := wireOf(name)
		if got := z.HasBelow(w); got != want {
			t.Errorf("HasBelow(%s) = %v", name, got)
		}
	}
	// A version made by Apply answers for its own names.
	rr, _ := dns.NewRR("q.subway.b.test. 300 IN A 198.18.0.9")
	soa, _ := dns.NewRR("b.test. 300 IN SOA ns.b.test. hostmaster.b.test. 1 7200 3600 1209600 300")
	soa2, _ := dns.NewRR("b.test. 300 IN SOA ns.b.test. hostmaster.b.test. 2 7200 3600 1209600 300")
	z2, _, err := Apply(z, Change{Del: []dns.RR{soa}, Add: []dns.RR{soa2, rr}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := below(z2, "subway.b.test."), []string{"q.subway.b.test."}; !slices.Equal(got, want) {
		t.Errorf("below subway after Apply: %v, want %v", got, want)
	}
	if got := below(z, "subway.b.test."); len(got) != 0 {
		t.Errorf("the old version changed: below subway %v", got)
	}
}

func wireOf(s string) ([]byte, error) {
	buf := make([]byte, 256)
	n, err := dns.PackDomainName(s, buf, 0, nil, false)
	return buf[:n], err
}
