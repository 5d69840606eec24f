//go:build linux

package e2e

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Ethernet and IP constants for the frames built and parsed here.
const (
	ethHdrLen      = 14
	vlanHdrLen     = 4
	ipv4HdrLen     = 20
	ipv6HdrLen     = 40
	udpHdrLen      = 8
	etherIPv4      = 0x0800
	etherIPv6      = 0x86DD
	ether8021Q     = 0x8100
	protoUDP       = 17
	tpCsumNotReady = 0x08 // TP_STATUS_CSUMNOTREADY in tpacket_auxdata
	tpVLANValid    = 0x10 // TP_STATUS_VLAN_VALID
)

// PacketSocket is an AF_PACKET socket bound to one interface of one
// namespace: it sends whole Ethernet frames and receives every frame the
// interface sees, with the VLAN tag the kernel took off (PACKET_AUXDATA)
// put back in Frame.VLAN.
type PacketSocket struct {
	fd      int
	ifindex int
	MAC     net.HardwareAddr
}

// OpenPacketSocket opens a packet socket on iface in namespace ns.
func OpenPacketSocket(ns, iface string) (*PacketSocket, error) {
	p := &PacketSocket{fd: -1}
	err := InNetns(ns, func() error {
		ifc, err := net.InterfaceByName(iface)
		if err != nil {
			return err
		}
		p.ifindex, p.MAC = ifc.Index, ifc.HardwareAddr
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return fmt.Errorf("packet socket: %w", err)
		}
		p.fd = fd
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
			return fmt.Errorf("PACKET_AUXDATA: %w", err)
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifc.Index})
	})
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("packet socket on %s in %s: %w", iface, ns, err)
	}
	return p, nil
}

// Close closes the socket.
func (p *PacketSocket) Close() error {
	if p.fd < 0 {
		return nil
	}
	err := unix.Close(p.fd)
	p.fd = -1
	return err
}

// Send transmits one Ethernet frame.
func (p *PacketSocket) Send(frame []byte) error {
	return unix.Sendto(p.fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: p.ifindex, Halen: 6})
}

// Frame is one received frame, parsed down to UDP.
type Frame struct {
	Outgoing bool   // sent by this host, not received
	VLAN     uint16 // 802.1Q VLAN id; 0 when untagged
	Tagged   bool
	Src, Dst netip.Addr
	// SrcPort and DstPort are the UDP ports; UDP is false for frames
	// that are not UDP over IPv4 or IPv6.
	UDP              bool
	SrcPort, DstPort uint16
	// IPv4 header checksum correct (always true for IPv6), the UDP
	// checksum field, and whether it verifies over the pseudo-header.
	IPCsumOK  bool
	UDPCsum   uint16
	UDPCsumOK bool
	// CsumPartial: the kernel marks the UDP checksum as not yet computed
	// (CHECKSUM_PARTIAL, a frame from a local socket over a veth that
	// offloads checksums); the field then holds only the pseudo-header.
	CsumPartial bool
	Payload     []byte // UDP payload
}

// Recv returns the next frame, waiting until deadline.
func (p *PacketSocket) Recv(deadline time.Time) (Frame, error) {
	buf := make([]byte, 65536)
	oob := make([]byte, 256)
	for {
		wait := time.Until(deadline)
		if wait <= 0 {
			return Frame{}, errTimeout
		}
		tv := unix.NsecToTimeval(wait.Nanoseconds())
		if err := unix.SetsockoptTimeval(p.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return Frame{}, err
		}
		n, oobn, _, from, err := unix.Recvmsg(p.fd, buf, oob, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return Frame{}, fmt.Errorf("recvmsg: %w", err)
		}
		f := parseFrame(buf[:n])
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			f.Outgoing = true
		}
		if status, tci, ok := auxdata(oob[:oobn]); ok {
			f.CsumPartial = status&tpCsumNotReady != 0
			if status&tpVLANValid != 0 && !f.Tagged {
				f.Tagged, f.VLAN = true, tci&0x0fff
			}
		}
		return f, nil
	}
}

var errTimeout = errors.New("timed out waiting for a frame")

// auxdata returns the frame's status and VLAN TCI from PACKET_AUXDATA.
func auxdata(oob []byte) (status uint32, tci uint16, ok bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, 0, false
	}
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_PACKET || m.Header.Type != unix.PACKET_AUXDATA ||
			len(m.Data) < int(unsafe.Sizeof(unix.TpacketAuxdata{})) {
			continue
		}
		aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&m.Data[0]))
		return aux.Status, aux.Vlan_tci, true
	}
	return 0, 0, false
}

// parseFrame parses Ethernet, one optional 802.1Q tag, IPv4 or IPv6
// (without extension headers) and UDP.
func parseFrame(b []byte) Frame {
	var f Frame
	if len(b) < ethHdrLen {
		return f
	}
	etype := binary.BigEndian.Uint16(b[12:])
	b = b[ethHdrLen:]
	if etype == ether8021Q && len(b) >= vlanHdrLen {
		f.Tagged, f.VLAN = true, binary.BigEndian.Uint16(b)&0x0fff
		etype = binary.BigEndian.Uint16(b[2:])
		b = b[vlanHdrLen:]
	}
	var udp []byte
	switch {
	case etype == etherIPv4 && len(b) >= ipv4HdrLen:
		ihl := int(b[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(b[2:]))
		if b[9] != protoUDP || ihl < ipv4HdrLen || total > len(b) || total < ihl+udpHdrLen {
			return f
		}
		f.Src, _ = netip.AddrFromSlice(b[12:16])
		f.Dst, _ = netip.AddrFromSlice(b[16:20])
		f.IPCsumOK = fold(sum(0, b[:ihl])) == 0xffff
		udp = b[ihl:total]
	case etype == etherIPv6 && len(b) >= ipv6HdrLen:
		plen := int(binary.BigEndian.Uint16(b[4:]))
		if b[6] != protoUDP || ipv6HdrLen+plen > len(b) || plen < udpHdrLen {
			return f
		}
		f.Src, _ = netip.AddrFromSlice(b[8:24])
		f.Dst, _ = netip.AddrFromSlice(b[24:40])
		f.IPCsumOK = true
		udp = b[ipv6HdrLen : ipv6HdrLen+plen]
	default:
		return f
	}
	if int(binary.BigEndian.Uint16(udp[4:])) != len(udp) {
		return f
	}
	f.UDP = true
	f.SrcPort, f.DstPort = binary.BigEndian.Uint16(udp), binary.BigEndian.Uint16(udp[2:])
	f.UDPCsum = binary.BigEndian.Uint16(udp[6:])
	f.UDPCsumOK = f.UDPCsum != 0 && fold(pseudoSum(f.Src, f.Dst, len(udp))+sum(0, udp)) == 0xffff
	f.Payload = udp[udpHdrLen:]
	return f
}

// UDPv4Frame builds an Ethernet frame, 802.1Q-tagged when vlan is not 0,
// carrying payload in UDP over IPv4, with both checksums filled in.
func UDPv4Frame(dstMAC, srcMAC net.HardwareAddr, vlan uint16, src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 0, ethHdrLen+vlanHdrLen+ipv4HdrLen+udpHdrLen+len(payload))
	b = append(b, dstMAC...)
	b = append(b, srcMAC...)
	if vlan != 0 {
		b = binary.BigEndian.AppendUint16(b, ether8021Q)
		b = binary.BigEndian.AppendUint16(b, vlan)
	}
	b = binary.BigEndian.AppendUint16(b, etherIPv4)
	ip := len(b)
	udpLen := udpHdrLen + len(payload)
	b = append(b, 0x45, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(ipv4HdrLen+udpLen))
	b = append(b, 0, 0, 0x40, 0, 64, protoUDP, 0, 0) // id, DF, ttl, proto, csum
	b = append(b, src.AsSlice()...)
	b = append(b, dst.AsSlice()...)
	binary.BigEndian.PutUint16(b[ip+10:], ^fold(sum(0, b[ip:])))
	udp := len(b)
	b = binary.BigEndian.AppendUint16(b, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	b = binary.BigEndian.AppendUint16(b, uint16(udpLen))
	b = append(b, 0, 0)
	b = append(b, payload...)
	cs := ^fold(pseudoSum(src, dst, udpLen) + sum(0, b[udp:]))
	if cs == 0 {
		cs = 0xffff
	}
	binary.BigEndian.PutUint16(b[udp+6:], cs)
	return b
}

// sum adds b as big-endian 16-bit words to s (one's complement, unfolded).
func sum(s uint32, b []byte) uint32 {
	for len(b) >= 2 {
		s += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

// pseudoSum is the unfolded sum of the UDP pseudo-header.
func pseudoSum(src, dst netip.Addr, udpLen int) uint32 {
	s := sum(0, src.AsSlice())
	s = sum(s, dst.AsSlice())
	return s + protoUDP + uint32(udpLen)
}

// fold folds a one's-complement sum to 16 bits.
func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
