package engine

import (
	"encoding/binary"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// Truncated appends to dst[:0] the truncated form of reply, a reply the
// engine rendered: its header with TC set and no records counted but the
// OPT, its question, and its OPT record if it has one. Rate limiting sends
// it for the responses it slips (RFC-free, as BIND, Knot and NSD do: the
// client can retry over TCP); it is the shape of the engine's and the XDP
// program's own truncated replies. nil if reply is not a well-formed
// message with one question.
func Truncated(dst, reply []byte) []byte {
	if len(reply) < wire.HeaderLen || binary.BigEndian.Uint16(reply[4:]) != 1 {
		return nil
	}
	off, err := wire.SkipName(reply, wire.HeaderLen)
	if err != nil || off+4 > len(reply) {
		return nil
	}
	qend := off + 4
	records := int(binary.BigEndian.Uint16(reply[6:])) + int(binary.BigEndian.Uint16(reply[8:])) + int(binary.BigEndian.Uint16(reply[10:]))
	opt := []byte(nil)
	off = qend
	for i := 0; i < records; i++ {
		start := off
		if off, err = wire.SkipName(reply, off); err != nil || off+10 > len(reply) {
			return nil
		}
		rtype := binary.BigEndian.Uint16(reply[off:])
		end := off + 10 + int(binary.BigEndian.Uint16(reply[off+8:]))
		if end > len(reply) {
			return nil
		}
		if rtype == dns.TypeOPT {
			opt = reply[start:end]
		}
		off = end
	}
	dst = append(dst[:0], reply[:qend]...)
	binary.BigEndian.PutUint16(dst[2:], binary.BigEndian.Uint16(reply[2:])|wire.FlagTC)
	binary.BigEndian.PutUint16(dst[6:], 0)
	binary.BigEndian.PutUint16(dst[8:], 0)
	binary.BigEndian.PutUint16(dst[10:], 0)
	if opt != nil {
		binary.BigEndian.PutUint16(dst[10:], 1)
		dst = append(dst, opt...)
	}
	return dst
}
