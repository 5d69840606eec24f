package zone

import (
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/internal/testsupport/zonegen"
)

// The random zones of the Apply tests come from zonegen.

const genOrigin = zonegen.Origin

var genNow = zonegen.Now

type denialKind = zonegen.Kind

const (
	unsigned          = zonegen.Unsigned
	signedNSEC        = zonegen.NSEC
	signedNSEC3       = zonegen.NSEC3
	signedNSEC3OptOut = zonegen.NSEC3OptOut
)

func newModel(t testing.TB, seed uint64) *zonegen.Model { return zonegen.New(t, seed) }

func key(rr dns.RR) string { return zonegen.Key(rr) }

func lowerWire(s string) []byte {
	w, err := nameWire(strings.ToLower(s))
	if err != nil {
		panic(err)
	}
	return w
}

// diff is the change from one record set to the other.
func diff(from, to map[string]dns.RR) Change {
	var ch Change
	for k, rr := range from {
		if _, ok := to[k]; !ok {
			ch.Del = append(ch.Del, rr)
		}
	}
	for k, rr := range to {
		if _, ok := from[k]; !ok {
			ch.Add = append(ch.Add, rr)
		}
	}
	return ch
}

// zoneText is a record set as a master file.
func zoneText(rrs map[string]dns.RR) string {
	var b strings.Builder
	for _, rr := range rrs {
		b.WriteString(rr.String() + "\n")
	}
	return b.String()
}

func testOptions() Options { return Options{Now: func() time.Time { return genNow }} }

// TestBuildIndex: BuildIndex builds both indexes a change reads, the name
// index and, in an NSEC3 zone, the names by hash (the daemon builds them in
// the background after a load, not on a zone's first change).
func TestBuildIndex(t *testing.T) {
	for _, kind := range []denialKind{signedNSEC, signedNSEC3} {
		m := newModel(t, 3)
		cur := m.Signed(kind)
		z := loadText(t, zoneText(cur))
		if z.lazy.names.Len() != 0 || z.lazy.hashes.Load() != nil {
			t.Fatalf("%s: an index built at load", kind)
		}
		if !z.BuildIndex() {
			t.Errorf("%s: BuildIndex says it built nothing", kind)
		}
		if z.lazy.names.Len() == 0 || (kind == signedNSEC3) != (z.lazy.hashes.Load() != nil) {
			t.Errorf("%s: after BuildIndex: name index %v, names by hash %v", kind, z.lazy.names.Len() != 0, z.lazy.hashes.Load() != nil)
		}
		if z.BuildIndex() {
			t.Errorf("%s: BuildIndex built the indexes again", kind)
		}
		// A version Apply made carries them.
		m.Bump()
		nz, _, err := Apply(z, diff(cur, m.Signed(kind)), testOptions())
		if err != nil {
			t.Fatal(err)
		}
		if nz.BuildIndex() {
			t.Errorf("%s: BuildIndex built the indexes of a version Apply made", kind)
		}
	}
}
