// Package srcport holds the UDP source ports xdpdns never answers, on
// either path (the userspace server, and the XDP program through the
// loader's drop_ports map): the
// ports of services that answer any datagram they get (echo, chargen,
// daytime, ...). A reply to such a port draws an answer, which the
// server takes for a query and answers in turn (FORMERR, NOTIMP), and the
// two play ping-pong without end; a forged query from one of these ports
// starts it. Port 0 cannot be answered at all.
package srcport

import "slices"

// defaults is the one list of the ports dropped unless configured
// otherwise: 0 (no reply possible), echo 7, daytime 13, qotd 17,
// chargen 19, time 37, ntp 123, ssdp 1900, memcached 11211.
var defaults = []uint16{0, 7, 13, 17, 19, 37, 123, 1900, 11211}

// Defaults returns the ports dropped by default, in increasing order.
func Defaults() []uint16 { return slices.Clone(defaults) }

// Set is a set of ports, one bit each (8 KiB), for a lookup per query.
// The zero Set is empty.
type Set struct {
	bits [65536 / 64]uint64
}

// NewSet returns the set of ports.
func NewSet(ports []uint16) *Set {
	s := new(Set)
	for _, p := range ports {
		s.bits[p/64] |= 1 << (p % 64)
	}
	return s
}

// Has reports whether p is in s.
func (s *Set) Has(p uint16) bool { return s.bits[p/64]&(1<<(p%64)) != 0 }

// Ports returns the ports of s in increasing order.
func (s *Set) Ports() []uint16 {
	var out []uint16
	for p := 0; p < 65536; p++ {
		if s.Has(uint16(p)) {
			out = append(out, uint16(p))
		}
	}
	return out
}
