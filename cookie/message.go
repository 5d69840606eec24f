package cookie

import (
	"encoding/binary"
	"net/netip"

	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// FromQuery returns the data of the COOKIE option of the query pkt (a
// client cookie, and a server cookie if the client holds one), or nil if
// it has none. It reads only as far as the OPT record and trusts nothing.
func FromQuery(pkt []byte) []byte {
	if len(pkt) < wire.HeaderLen || binary.BigEndian.Uint16(pkt[10:]) == 0 {
		return nil
	}
	off := wire.HeaderLen
	var err error
	for i := 0; i < int(binary.BigEndian.Uint16(pkt[4:])); i++ {
		if off, err = wire.SkipName(pkt, off); err != nil || off+4 > len(pkt) {
			return nil
		}
		off += 4
	}
	records := int(binary.BigEndian.Uint16(pkt[6:])) + int(binary.BigEndian.Uint16(pkt[8:])) + int(binary.BigEndian.Uint16(pkt[10:]))
	for i := 0; i < records; i++ {
		if off, err = wire.SkipName(pkt, off); err != nil || off+10 > len(pkt) {
			return nil
		}
		rtype := binary.BigEndian.Uint16(pkt[off:])
		rdlen := int(binary.BigEndian.Uint16(pkt[off+8:]))
		rd := off + 10
		if rd+rdlen > len(pkt) {
			return nil
		}
		if rtype == 41 { // OPT
			for o := rd; o+4 <= rd+rdlen; {
				code, l := binary.BigEndian.Uint16(pkt[o:]), int(binary.BigEndian.Uint16(pkt[o+2:]))
				if o+4+l > rd+rdlen {
					return nil
				}
				if code == OptionCode {
					return pkt[o+4 : o+4+l]
				}
				o += 4 + l
			}
			return nil
		}
		off = rd + rdlen
	}
	return nil
}

// Fill writes the server cookie into reply, a reply the engine rendered
// with a COOKIE option for the server to fill (engine.Config.Cookies: the
// option's last ServerLen bytes end the message, after its client cookie):
// the cookie for that client cookie, client and time under secret. It
// reports false, changing nothing, when reply does not end so.
func Fill(reply []byte, client netip.Addr, ts uint32, secret Secret) bool {
	n := len(reply)
	if n < wire.HeaderLen+4+ClientLen+ServerLen {
		return false
	}
	opt := reply[n-4-ClientLen-ServerLen:]
	if binary.BigEndian.Uint16(opt) != OptionCode || binary.BigEndian.Uint16(opt[2:]) != ClientLen+ServerLen {
		return false
	}
	sc := Server(secret, [ClientLen]byte(opt[4:4+ClientLen]), client, ts)
	copy(opt[4+ClientLen:], sc[:])
	return true
}
