// Package cookie is DNS Cookies (RFC 7873) with the interoperable server
// cookie of RFC 9018: version 1, a 32-bit timestamp and SipHash-2-4 of the
// client cookie, version, reserved bytes, timestamp and client address
// under a 128-bit server secret. Any server of an anycast group sharing
// the secret verifies the cookies the others made, and a client can tell
// nothing from them. The XDP program computes the same bytes (SipHash in
// BPF); this package is their one definition in Go.
package cookie

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/bits"
	"net/netip"
)

// Sizes and the EDNS option code (RFC 7873 §4).
const (
	OptionCode = 10
	ClientLen  = 8
	ServerLen  = 16 // an RFC 9018 server cookie
	// Version is the RFC 9018 server cookie version.
	Version = 1
	// MaxAge and MaxSkew are how far in the past and the future a
	// timestamp may be (RFC 9018 §4.3: one hour, five minutes).
	MaxAge  = 3600
	MaxSkew = 300
)

// Secret is a server secret (RFC 9018 §4.2: 128 bits).
type Secret [16]byte

// ParseSecret reads a secret in hex (32 digits).
func ParseSecret(s string) (Secret, error) {
	var k Secret
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(k) {
		return k, fmt.Errorf("cookie secret %q: want 32 hex digits (128 bits)", s)
	}
	copy(k[:], b)
	return k, nil
}

// String is the secret in hex.
func (k Secret) String() string { return hex.EncodeToString(k[:]) }

// Server returns the server cookie for client cookie cc from client at
// time ts (seconds since the epoch, mod 2^32).
func Server(k Secret, cc [ClientLen]byte, client netip.Addr, ts uint32) [ServerLen]byte {
	var c [ServerLen]byte
	c[0] = Version
	binary.BigEndian.PutUint32(c[4:], ts)
	binary.LittleEndian.PutUint64(c[8:], mac(k, cc, [8]byte(c[:8]), client))
	return c
}

// mac is the hash of a server cookie whose first 8 bytes (version,
// reserved, timestamp) are hdr.
func mac(k Secret, cc [ClientLen]byte, hdr [8]byte, client netip.Addr) uint64 {
	var msg [ClientLen + 8 + 16]byte
	n := copy(msg[:], cc[:])
	n += copy(msg[n:], hdr[:])
	client = client.Unmap()
	if client.Is4() {
		a := client.As4()
		n += copy(msg[n:], a[:])
	} else {
		a := client.As16()
		n += copy(msg[n:], a[:])
	}
	return SipHash24(k, msg[:n])
}

// Valid reports whether sc is a server cookie made with secret (or one of
// others: the previous secret after a rotation) for client cookie cc and
// client, no older than MaxAge and no further than MaxSkew ahead of now.
// The reserved bytes are not checked: they are hashed as received (RFC
// 9018 §4.2), so another implementation's cookie verifies.
func Valid(sc []byte, cc [ClientLen]byte, client netip.Addr, now uint32, secret Secret, others ...Secret) bool {
	if len(sc) != ServerLen || sc[0] != Version {
		return false
	}
	ts := binary.BigEndian.Uint32(sc[4:])
	// Serial-number arithmetic (RFC 1982), as the timestamp wraps.
	if d := int32(now - ts); d > MaxAge || d < -MaxSkew {
		return false
	}
	got := binary.LittleEndian.Uint64(sc[8:])
	if mac(secret, cc, [8]byte(sc[:8]), client) == got {
		return true
	}
	for _, k := range others {
		if mac(k, cc, [8]byte(sc[:8]), client) == got {
			return true
		}
	}
	return false
}

// SipHash24 is SipHash-2-4 of msg under key k (Aumasson and Bernstein),
// the 64-bit result as the reference implementation returns it (its
// bytes are written little-endian).
func SipHash24(k Secret, msg []byte) uint64 {
	k0, k1 := binary.LittleEndian.Uint64(k[:]), binary.LittleEndian.Uint64(k[8:])
	v0, v1, v2, v3 := k0^0x736f6d6570736575, k1^0x646f72616e646f6d, k0^0x6c7967656e657261, k1^0x7465646279746573
	round := func() {
		v0 += v1
		v1 = bits.RotateLeft64(v1, 13) ^ v0
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v3
		v3 = bits.RotateLeft64(v3, 16) ^ v2
		v0 += v3
		v3 = bits.RotateLeft64(v3, 21) ^ v0
		v2 += v1
		v1 = bits.RotateLeft64(v1, 17) ^ v2
		v2 = bits.RotateLeft64(v2, 32)
	}
	n := len(msg)
	for len(msg) >= 8 {
		m := binary.LittleEndian.Uint64(msg)
		v3 ^= m
		round()
		round()
		v0 ^= m
		msg = msg[8:]
	}
	var last [8]byte
	copy(last[:], msg)
	last[7] = byte(n)
	m := binary.LittleEndian.Uint64(last[:])
	v3 ^= m
	round()
	round()
	v0 ^= m
	v2 ^= 0xff
	for i := 0; i < 4; i++ {
		round()
	}
	return v0 ^ v1 ^ v2 ^ v3
}
