package zone

import (
	"fmt"
	"hash/fnv"
)

// SerialLess reports whether serial a is older than b in RFC 1982 serial
// number arithmetic.
func SerialLess(a, b uint32) bool { return a != b && int32(b-a) > 0 }

// contentDigest summarises every record of z independent of their order
// (a sum of per-record FNV-1a hashes over owner, type, class, TTL and
// RDATA, owners lower-cased): equal zones have equal digests, and two
// versions that differ in any record almost surely do not.
func contentDigest(z *Zone) (sum uint64, n int) {
	h := fnv.New64a()
	var hdr [8]byte
	for rr := range z.Records() {
		h.Reset()
		h.Write(rr.Owner.Lower())
		hdr[0], hdr[1] = byte(rr.Type>>8), byte(rr.Type)
		hdr[2], hdr[3] = byte(rr.Class()>>8), byte(rr.Class())
		hdr[4], hdr[5], hdr[6], hdr[7] = byte(rr.TTL>>24), byte(rr.TTL>>16), byte(rr.TTL>>8), byte(rr.TTL)
		h.Write(hdr[:])
		h.Write(rr.RData())
		sum += h.Sum64()
	}
	return sum, z.RecordCount()
}

// SerialWarning compares a newly loaded version of a zone with the one
// it replaces, as Knot does on reload: a serial that went backwards, or
// content that changed under the same serial, is legal to serve but
// secondaries will never take the change. It returns "" when neither.
func SerialWarning(old, new *Zone) string {
	switch {
	case old == nil:
		return ""
	case SerialLess(new.Serial, old.Serial):
		return fmt.Sprintf("%s: SOA serial went backwards from %d to %d: secondaries will not transfer this version", new.File, old.Serial, new.Serial)
	case new.Serial == old.Serial:
		if ds, dn := contentDigestPair(old, new); ds != dn {
			return fmt.Sprintf("%s: the zone changed but its SOA serial %d did not: secondaries will not see the change", new.File, new.Serial)
		}
	}
	return ""
}

// contentDigestPair returns the digests (with record counts folded in) of
// both versions.
func contentDigestPair(a, b *Zone) (uint64, uint64) {
	sa, na := contentDigest(a)
	sb, nb := contentDigest(b)
	return sa ^ uint64(na)<<48, sb ^ uint64(nb)<<48
}
