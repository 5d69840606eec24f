package interoptest

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// Signer signs successive versions of one zone with the same keys, as a
// signer in front of a hidden primary does: each version's NSEC or NSEC3
// chain and signatures are those of its records.
type Signer struct {
	origin, dir, signzone string
	keys                  []string // key base names in dir
}

// NewSigner generates a KSK and a ZSK for origin in a temporary directory.
func NewSigner(t testing.TB, origin string) *Signer {
	t.Helper()
	keygen := requireBinary(t, "dnssec-keygen")
	s := &Signer{origin: origin, dir: t.TempDir(), signzone: requireBinary(t, "dnssec-signzone")}
	ksk := runTool(t, s.dir, keygen, "-q", "-K", s.dir, "-a", keyAlgorithm, "-f", "KSK", "-n", "ZONE", origin)
	zsk := runTool(t, s.dir, keygen, "-q", "-K", s.dir, "-a", keyAlgorithm, "-n", "ZONE", origin)
	s.keys = []string{ksk, zsk}
	return s
}

// Sign returns the zone text signed as v (text itself for Unsigned), with
// the fixed inception and expiration of the test zones.
func (s *Signer) Sign(t testing.TB, v Variant, text string) string {
	t.Helper()
	if v == Unsigned {
		return text
	}
	in := filepath.Join(s.dir, "zone")
	writeFile(t, in, text)
	return readFile(t, signZone(t, s.signzone, s.dir, v, s.origin, in, s.keys...))
}

// SignedOptOut returns, as records, a small NSEC3 opt-out zone signed
// once: origin with an apex name server, secure delegations sK (with DS),
// insecure ones dK with in-bailiwick glue ns.dK, and the lines of extra.
// Tests change its insecure delegations and serial without re-signing:
// the chain stays as it is.
func SignedOptOut(t testing.TB, origin string, secure, insecure int, extra string) []dns.RR {
	t.Helper()
	var text strings.Builder
	fmt.Fprintf(&text, "$ORIGIN %s\n$TTL 300\n@ SOA ns hostmaster 1 7200 3600 1209600 300\n@ NS ns\nns A 198.18.0.53\n", origin)
	for i := 0; i < secure; i++ {
		fmt.Fprintf(&text, "s%d NS ns.example.net.\ns%d DS %d 13 2 %064x\n", i, i, 1000+i, i+1)
	}
	for i := 0; i < insecure; i++ {
		fmt.Fprintf(&text, "d%d NS ns.d%d\nns.d%d A 198.18.3.%d\n", i, i, i, i)
	}
	text.WriteString(extra)
	signed := NewSigner(t, origin).Sign(t, NSEC3OptOut, text.String())
	var rrs []dns.RR
	zp := dns.NewZoneParser(strings.NewReader(signed), origin, "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	return rrs
}
