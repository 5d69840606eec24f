package interoptest

import (
	"path/filepath"
	"testing"
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
