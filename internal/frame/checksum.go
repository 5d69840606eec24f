package frame

import (
	"encoding/binary"
	"net/netip"
)

// Sum adds b to s as big-endian 16-bit words (an odd last byte is the high
// byte of a word): the ones' complement sum of RFC 1071, not yet folded.
func Sum(s uint32, b []byte) uint32 {
	for len(b) >= 2 {
		s += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

// Fold folds a ones' complement sum to 16 bits.
func Fold(s uint32) uint16 {
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// SetIPv4Checksum fills in the header checksum of the IPv4 header h (its
// length, options included, is len(h)).
func SetIPv4Checksum(h []byte) {
	h[10], h[11] = 0, 0
	binary.BigEndian.PutUint16(h[10:], ^Fold(Sum(0, h)))
}

// IPv4ChecksumOK reports whether the IPv4 header h carries a correct
// header checksum.
func IPv4ChecksumOK(h []byte) bool { return Fold(Sum(0, h)) == 0xffff }

// pseudoSum is the unfolded sum of the UDP pseudo-header (RFC 768, RFC
// 8200 section 8.1) for a segment of n bytes.
func pseudoSum(src, dst netip.Addr, n int) uint32 {
	s := Sum(0, src.AsSlice())
	s = Sum(s, dst.AsSlice())
	return s + ProtoUDP + uint32(n)
}

// SetUDPChecksum fills in the checksum of the UDP segment seg (header and
// payload) sent from src to dst; a computed 0 is sent as 0xffff.
func SetUDPChecksum(seg []byte, src, dst netip.Addr) {
	seg[6], seg[7] = 0, 0
	c := ^Fold(pseudoSum(src, dst, len(seg)) + Sum(0, seg))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(seg[6:], c)
}

// UDPChecksumOK reports whether the UDP segment seg from src to dst
// carries a checksum, and a correct one. A zero field (no checksum, which
// IPv4 allows) is not OK.
func UDPChecksumOK(seg []byte, src, dst netip.Addr) bool {
	return len(seg) >= UDPHeaderLen && binary.BigEndian.Uint16(seg[6:]) != 0 &&
		Fold(pseudoSum(src, dst, len(seg))+Sum(0, seg)) == 0xffff
}
