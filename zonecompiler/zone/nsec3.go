package zone

import (
	"crypto/sha1"
	"encoding/base32"
	"encoding/hex"

	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// HashLabel is an NSEC3 hash label: SHA-1 in lower-case base32hex.
type HashLabel [32]byte

var b32hex = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// MaxNSEC3Iterations bounds the extra hash iterations served; RFC 9276
// recommends 0, and validators treat more than 100 as insecure.
const MaxNSEC3Iterations = 2500

// Hash computes the NSEC3 hash label of the lower-case wire name into out
// (RFC 5155 §5) without allocating; it reports false for a zone without
// NSEC3.
func (z *Zone) Hash(lower []byte, out *HashLabel) bool {
	if z.NSEC3 == nil {
		return false
	}
	var buf [wire.MaxNameLen + 1 + 255]byte
	in := append(append(buf[:0], lower...), z.nsec3Salt...)
	sum := sha1.Sum(in)
	for i := 0; i < int(z.NSEC3.Iterations) && i < MaxNSEC3Iterations; i++ {
		in = append(append(buf[:0], sum[:]...), z.nsec3Salt...)
		sum = sha1.Sum(in)
	}
	b32hex.Encode(out[:], sum[:])
	return true
}

// HashName is Hash returning a string (empty without NSEC3).
func (z *Zone) HashName(lower []byte) string {
	var h HashLabel
	if !z.Hash(lower, &h) {
		return ""
	}
	return string(h[:])
}

func decodeSalt(s string) []byte {
	if s == "" || s == "-" {
		return nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil
	}
	return b
}

// NSEC3Match returns the NSEC3 node whose hash label is h, or nil.
func (z *Zone) NSEC3Match(h string) *Node {
	if h == "" {
		return nil
	}
	return z.nsec3ByKey.getString(h)
}

// NSEC3Cover returns the NSEC3 node whose span covers the hash label h:
// the greatest hash below h, wrapping to the last.
func (z *Zone) NSEC3Cover(h []byte) *Node {
	n, _ := z.nsec3Chain.before(func(n *Node) int { return cmpHash(n.ChainLabel(), h) })
	return n
}

// cmpHash orders a hash label against h without converting h to a string.
func cmpHash(a string, h []byte) int {
	for i := 0; i < len(a) && i < len(h); i++ {
		if a[i] != h[i] {
			if a[i] < h[i] {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(h)
}

// NSEC3Chain returns the NSEC3 owner nodes sorted by hash (shared: not to
// be modified).
func (z *Zone) NSEC3Chain() []*Node {
	l := z.lazy
	l.nsec3Once.Do(func() { l.nsec3 = z.nsec3Chain.slice() })
	return l.nsec3
}

// NSECChain returns the nodes that own an NSEC record in canonical order
// (shared: not to be modified).
func (z *Zone) NSECChain() []*Node {
	l := z.lazy
	l.nsecOnce.Do(func() { l.nsec = z.nsecChain.slice() })
	return l.nsec
}

// NSEC3Salt returns the NSEC3 salt as bytes (nil without salt or NSEC3).
func (z *Zone) NSEC3Salt() []byte { return z.nsec3Salt }
