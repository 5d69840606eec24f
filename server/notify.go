package server

import (
	"encoding/binary"
	"net/netip"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// opcodeNotify is the NOTIFY opcode (RFC 1996), in the header's flags.
const opcodeNotify = 4 << 11

// isNotify reports whether pkt is a NOTIFY request.
func isNotify(pkt []byte) bool {
	return len(pkt) >= headerLen && binary.BigEndian.Uint16(pkt[2:])&(wire.FlagQR|wire.OpcodeMask) == opcodeNotify
}

// notify hands a NOTIFY to Config.Notify; ok is false when pkt is not a
// NOTIFY or no handler is set (the engine then answers: NOTIMP).
func (s *Server) notify(pkt []byte, from netip.Addr) (reply []byte, ok bool) {
	if s.cfg.Notify == nil || !isNotify(pkt) {
		return nil, false
	}
	reply = s.cfg.Notify(pkt, from)
	if len(reply) >= headerLen {
		switch int(reply[3] & 0xf) {
		case dns.RcodeRefused:
			s.n.notifyRefused.Add(1)
		case dns.RcodeNotAuth:
			s.n.notifyNotAuth.Add(1)
		}
	}
	return reply, true
}
