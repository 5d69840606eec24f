package zone

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
)

// SerialLess reports whether serial a is older than b in RFC 1982 serial
// number arithmetic.
func SerialLess(a, b uint32) bool { return a != b && int32(b-a) > 0 }

// contentDigest summarises every record of z independent of their order
// (a sum of per-record hashes, seeded by seed, over owner, type, class,
// TTL and RDATA, owners lower-cased): equal zones have equal digests, and
// two versions that differ in any record almost surely do not.
func contentDigest(z *Zone, seed maphash.Seed) (sum uint64, n int) {
	var h maphash.Hash
	h.SetSeed(seed)
	var hdr [8]byte
	for rr := range z.Records() {
		h.Reset()
		h.Write(rr.Owner.Lower())
		binary.BigEndian.PutUint16(hdr[0:], rr.Type)
		binary.BigEndian.PutUint16(hdr[2:], rr.Class())
		binary.BigEndian.PutUint32(hdr[4:], rr.TTL)
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
// changed, when not nil, is what made new from old (ReloadFile's, Apply's):
// the content differs when it names anything, and the versions are not
// compared record by record (a TLD's two digests cost seconds).
func SerialWarning(old, new *Zone, changed *Changed) string {
	switch {
	case old == nil:
		return ""
	case SerialLess(new.Serial, old.Serial):
		return fmt.Sprintf("%s: SOA serial went backwards from %d to %d: secondaries will not transfer this version", new.File, old.Serial, new.Serial)
	case new.Serial == old.Serial && contentDiffers(old, new, changed):
		return fmt.Sprintf("%s: the zone changed but its SOA serial %d did not: secondaries will not see the change", new.File, new.Serial)
	}
	return ""
}

// contentDiffers reports whether versions old and new of a zone hold
// different records: by changed when known, else by their digests.
func contentDiffers(old, new *Zone, changed *Changed) bool {
	switch {
	case old == new:
		return false
	case changed != nil:
		return changed.All || len(changed.Names) > 0 || len(changed.NSEC3) > 0
	}
	ds, dn := contentDigestPair(old, new)
	return ds != dn
}

// contentDigestPair returns the digests (with record counts folded in) of
// both versions.
func contentDigestPair(a, b *Zone) (uint64, uint64) {
	seed := maphash.MakeSeed()
	sa, na := contentDigest(a, seed)
	sb, nb := contentDigest(b, seed)
	return sa ^ uint64(na)<<48, sb ^ uint64(nb)<<48
}
