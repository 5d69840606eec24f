// Package frame builds Ethernet frames carrying UDP over IPv4 or IPv6
// around a DNS payload, parses reply frames back, and computes and checks
// IPv4 header and UDP checksums. The loader's self-test, the XDP
// benchmark, the loader tests and the end-to-end tests build their packets
// with it. It imports no testing: the self-test is production code.
package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Header lengths and numbers of the frames built and parsed here.
const (
	EthHeaderLen  = 14
	VLANHeaderLen = 4
	IPv4HeaderLen = 20 // without options
	IPv6HeaderLen = 40
	UDPHeaderLen  = 8
	// HeaderLen is where the payload of an untagged Ethernet/IPv4/UDP
	// frame without IP options starts.
	HeaderLen = EthHeaderLen + IPv4HeaderLen + UDPHeaderLen

	EtherIPv4   = 0x0800
	EtherIPv6   = 0x86dd
	Ether8021Q  = 0x8100
	Ether8021AD = 0x88a8

	ProtoUDP = 17
)

// VLAN is one VLAN tag: its TPID (Ether8021Q or Ether8021AD) and its TCI
// (priority 0: the VLAN id).
type VLAN struct {
	TPID uint16
	TCI  uint16
}

// Spec describes a frame. The zero values of the optional fields give an
// untagged frame with a 20-byte IPv4 header (ID 0, TTL 0: set TTL) and a
// UDP checksum.
type Spec struct {
	DstMAC, SrcMAC   net.HardwareAddr // 6 bytes each
	VLANs            []VLAN           // outermost first
	Src, Dst         netip.Addr       // both IPv4 or both IPv6
	SrcPort, DstPort uint16
	TTL              uint8  // IPv4 TTL or IPv6 hop limit
	IPID             uint16 // IPv4 identification
	DontFragment     bool   // IPv4 DF
	MoreFragments    bool   // IPv4 MF: the first fragment of a datagram
	IPOptions        bool   // IPv4: 4 bytes of options (three NOPs, EOL)
	HopByHop         bool   // IPv6: an 8-byte hop-by-hop header (PadN) before the transport header
	// Proto is the transport protocol: 0 or ProtoUDP for UDP; any other
	// number puts a 20-byte TCP-like header (ports, data offset 5) before
	// the payload, without a checksum.
	Proto uint8
	// NoUDPChecksum leaves the UDP checksum 0 (allowed over IPv4 only).
	NoUDPChecksum bool
	Pad           int // bytes of Ethernet padding after the IP packet
}

// Build returns the frame s describes around payload.
func (s Spec) Build(payload []byte) []byte {
	proto := s.Proto
	if proto == 0 {
		proto = ProtoUDP
	}
	var l4 []byte
	if proto == ProtoUDP {
		l4 = make([]byte, UDPHeaderLen, UDPHeaderLen+len(payload))
		binary.BigEndian.PutUint16(l4[4:], uint16(UDPHeaderLen+len(payload)))
	} else {
		l4 = make([]byte, 20, 20+len(payload))
		l4[12] = 5 << 4
	}
	binary.BigEndian.PutUint16(l4[0:], s.SrcPort)
	binary.BigEndian.PutUint16(l4[2:], s.DstPort)
	l4 = append(l4, payload...)
	if proto == ProtoUDP && !s.NoUDPChecksum {
		SetUDPChecksum(l4, s.Src, s.Dst)
	}

	b := make([]byte, 0, EthHeaderLen+VLANHeaderLen*len(s.VLANs)+IPv6HeaderLen+8+len(l4)+s.Pad)
	b = append(b, s.DstMAC...)
	b = append(b, s.SrcMAC...)
	for _, v := range s.VLANs {
		b = binary.BigEndian.AppendUint16(b, v.TPID)
		b = binary.BigEndian.AppendUint16(b, v.TCI)
	}
	if s.Src.Is6() {
		b = binary.BigEndian.AppendUint16(b, EtherIPv6)
		next := proto
		var ext []byte
		if s.HopByHop {
			next = 0
			ext = []byte{proto, 0, 1, 4, 0, 0, 0, 0} // PadN
		}
		h := make([]byte, IPv6HeaderLen)
		h[0] = 0x60
		binary.BigEndian.PutUint16(h[4:], uint16(len(ext)+len(l4)))
		h[6] = next
		h[7] = s.TTL
		src, dst := s.Src.As16(), s.Dst.As16()
		copy(h[8:], src[:])
		copy(h[24:], dst[:])
		b = append(b, h...)
		b = append(b, ext...)
	} else {
		b = binary.BigEndian.AppendUint16(b, EtherIPv4)
		hl := IPv4HeaderLen
		if s.IPOptions {
			hl += 4
		}
		h := make([]byte, hl)
		h[0] = 0x40 | byte(hl/4)
		binary.BigEndian.PutUint16(h[2:], uint16(hl+len(l4)))
		binary.BigEndian.PutUint16(h[4:], s.IPID)
		var flags uint16
		if s.DontFragment {
			flags |= 0x4000
		}
		if s.MoreFragments {
			flags |= 0x2000
		}
		binary.BigEndian.PutUint16(h[6:], flags)
		h[8] = s.TTL
		h[9] = proto
		src, dst := s.Src.As4(), s.Dst.As4()
		copy(h[12:], src[:])
		copy(h[16:], dst[:])
		if s.IPOptions {
			h[20], h[21], h[22], h[23] = 1, 1, 1, 0
		}
		SetIPv4Checksum(h)
		b = append(b, h...)
	}
	b = append(b, l4...)
	return append(b, make([]byte, s.Pad)...)
}

// Packet is a UDP frame parsed by Parse.
type Packet struct {
	DstMAC, SrcMAC net.HardwareAddr
	VLANs          []VLAN // outermost first
	Src, Dst       netip.Addr
	// TTL is the IPv4 TTL or the IPv6 hop limit; IPID the IPv4
	// identification.
	TTL  uint8
	IPID uint16
	// IPHeaderLen is the IPv4 header's length, options included, or 40.
	IPHeaderLen int
	// IPChecksumOK: the IPv4 header checksum is correct (always true for
	// IPv6, which has none).
	IPChecksumOK     bool
	SrcPort, DstPort uint16
	// UDPChecksum is the checksum field; UDPChecksumOK that it is not 0
	// and verifies over the pseudo-header.
	UDPChecksum   uint16
	UDPChecksumOK bool
	Payload       []byte // the UDP payload
	Trailer       int    // bytes after the IP packet (Ethernet padding)
}

// ErrNotUDP means the frame is not UDP over IPv4 or over IPv6 without
// extension headers.
var ErrNotUDP = errors.New("frame: not UDP over IPv4 or IPv6")

// Parse parses an Ethernet frame with any number of 802.1Q or 802.1ad
// tags, IPv4 (options allowed) or IPv6 (no extension headers) and UDP. The
// IP and UDP lengths must agree with each other and fit the frame.
func Parse(b []byte) (Packet, error) {
	var p Packet
	if len(b) < EthHeaderLen {
		return p, fmt.Errorf("frame of %d bytes: %w", len(b), ErrNotUDP)
	}
	p.DstMAC, p.SrcMAC = net.HardwareAddr(b[0:6]), net.HardwareAddr(b[6:12])
	etype := binary.BigEndian.Uint16(b[12:])
	b = b[EthHeaderLen:]
	for (etype == Ether8021Q || etype == Ether8021AD) && len(b) >= VLANHeaderLen {
		p.VLANs = append(p.VLANs, VLAN{TPID: etype, TCI: binary.BigEndian.Uint16(b)})
		etype = binary.BigEndian.Uint16(b[2:])
		b = b[VLANHeaderLen:]
	}
	var seg []byte
	switch {
	case etype == EtherIPv4 && len(b) >= IPv4HeaderLen:
		ihl := int(b[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(b[2:]))
		if b[0]>>4 != 4 || ihl < IPv4HeaderLen || total > len(b) || total < ihl+UDPHeaderLen {
			return p, fmt.Errorf("IPv4 header length %d, total length %d in %d bytes: %w", ihl, total, len(b), ErrNotUDP)
		}
		if b[9] != ProtoUDP {
			return p, fmt.Errorf("IPv4 protocol %d: %w", b[9], ErrNotUDP)
		}
		p.Src, _ = netip.AddrFromSlice(b[12:16])
		p.Dst, _ = netip.AddrFromSlice(b[16:20])
		p.TTL, p.IPID, p.IPHeaderLen = b[8], binary.BigEndian.Uint16(b[4:]), ihl
		p.IPChecksumOK = IPv4ChecksumOK(b[:ihl])
		seg, p.Trailer = b[ihl:total], len(b)-total
	case etype == EtherIPv6 && len(b) >= IPv6HeaderLen:
		plen := int(binary.BigEndian.Uint16(b[4:]))
		if IPv6HeaderLen+plen > len(b) || plen < UDPHeaderLen {
			return p, fmt.Errorf("IPv6 payload length %d in %d bytes: %w", plen, len(b), ErrNotUDP)
		}
		if b[6] != ProtoUDP {
			return p, fmt.Errorf("IPv6 next header %d: %w", b[6], ErrNotUDP)
		}
		p.Src, _ = netip.AddrFromSlice(b[8:24])
		p.Dst, _ = netip.AddrFromSlice(b[24:40])
		p.TTL, p.IPHeaderLen, p.IPChecksumOK = b[7], IPv6HeaderLen, true
		seg, p.Trailer = b[IPv6HeaderLen:IPv6HeaderLen+plen], len(b)-IPv6HeaderLen-plen
	default:
		return p, fmt.Errorf("EtherType %#04x: %w", etype, ErrNotUDP)
	}
	if n := int(binary.BigEndian.Uint16(seg[4:])); n != len(seg) {
		return p, fmt.Errorf("UDP length %d in an IP payload of %d bytes: %w", n, len(seg), ErrNotUDP)
	}
	p.SrcPort, p.DstPort = binary.BigEndian.Uint16(seg), binary.BigEndian.Uint16(seg[2:])
	p.UDPChecksum = binary.BigEndian.Uint16(seg[6:])
	p.UDPChecksumOK = UDPChecksumOK(seg, p.Src, p.Dst)
	p.Payload = seg[UDPHeaderLen:]
	return p, nil
}
