package interop

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"

	"github.com/miekg/dns"
)

// TamperRRSIG writes a copy of the zone file src to dst in which the
// signature over (owner, covered) has one bit flipped.
func TamperRRSIG(src Zone, dst string, owner string, covered uint16) error {
	f, err := os.Open(src.Path)
	if err != nil {
		return fmt.Errorf("tamper: %w", err)
	}
	defer f.Close()
	zp := dns.NewZoneParser(f, src.Origin, src.Path)
	var out strings.Builder
	tampered := false
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if sig, isSig := rr.(*dns.RRSIG); isSig && !tampered &&
			sig.TypeCovered == covered && strings.EqualFold(sig.Hdr.Name, owner) {
			raw, err := base64.StdEncoding.DecodeString(sig.Signature)
			if err != nil {
				return fmt.Errorf("tamper: decode signature of %s: %w", owner, err)
			}
			raw[len(raw)/2] ^= 0x01
			sig.Signature = base64.StdEncoding.EncodeToString(raw)
			tampered = true
		}
		out.WriteString(rr.String())
		out.WriteByte('\n')
	}
	if err := zp.Err(); err != nil {
		return fmt.Errorf("tamper: parse %s: %w", src.Path, err)
	}
	if !tampered {
		return fmt.Errorf("tamper: no RRSIG %s for %s in %s", dns.TypeToString[covered], owner, src.Path)
	}
	if err := os.WriteFile(dst, []byte(out.String()), 0o644); err != nil {
		return fmt.Errorf("tamper: %w", err)
	}
	return nil
}
