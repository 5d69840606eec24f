package zone

import (
	"slices"
	"strings"
	"testing"

	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

func TestChangedNames(t *testing.T) {
	const base = "$ORIGIN d.test.\n$TTL 300\n@ SOA ns hostmaster 1 7200 3600 1209600 300\n@ NS ns\nns A 198.18.0.53\n"
	load := func(text string) *Zone {
		t.Helper()
		z, err := Load(strings.NewReader(base+text), "d.test.", "d.test.zone", Options{})
		if err != nil {
			t.Fatal(err)
		}
		return z
	}
	for _, c := range []struct {
		a, b string
		want []string
	}{
		{"www A 198.18.0.1\n", "www A 198.18.0.1\n", nil},
		{"www A 198.18.0.1\nns A 198.18.0.53\n", "ns A 198.18.0.53\nwww A 198.18.0.1\n", nil},                     // the order of names
		{"www A 198.18.0.1\nwww A 198.18.0.2\n", "www A 198.18.0.2\nwww A 198.18.0.1\n", []string{"www.d.test."}}, // answers keep the order of an RRset
		{"www A 198.18.0.1\n", "www A 198.18.0.2\n", []string{"www.d.test."}},
		{"www A 198.18.0.1\n", "www 60 A 198.18.0.1\n", []string{"www.d.test."}},
		{"www A 198.18.0.1\n", "WWW A 198.18.0.1\n", []string{"www.d.test."}}, // answers carry the case
		{"", "a.b.c A 198.18.0.1\n", []string{"a.b.c.d.test.", "b.c.d.test.", "c.d.test."}},
		{"sub NS ns.sub\nns.sub A 198.18.0.9\n", "sub NS ns.sub\nns.sub A 198.18.0.8\n", []string{"ns.sub.d.test."}},
		{"x TXT a\n", "", []string{"x.d.test."}},
	} {
		got := ChangedNames(load(c.a), load(c.b))
		var names []string
		for _, g := range got {
			names = append(names, wire.String(g))
		}
		slices.Sort(names)
		if !slices.Equal(names, c.want) {
			t.Errorf("%q -> %q: changed %v, want %v", c.a, c.b, names, c.want)
		}
	}
}
