//go:build linux

package e2e

import (
	"errors"
	"fmt"
	"github.com/xdpdns/xdpdns/internal/testsupport/netnstest"
	"net"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/xdpdns/xdpdns/internal/frame"
)

// Packet status bits in tpacket_auxdata.
const (
	tpCsumNotReady = 0x08 // TP_STATUS_CSUMNOTREADY
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
	err := netnstest.Enter(ns, func() error {
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
	// Packet is the frame parsed (internal/frame); valid when UDP is
	// true, that is for UDP over IPv4 or IPv6.
	frame.Packet
	UDP      bool
	Outgoing bool   // sent by this host, not received
	VLAN     uint16 // 802.1Q VLAN id; 0 when untagged
	Tagged   bool
	// CsumPartial: the kernel marks the UDP checksum as not yet computed
	// (CHECKSUM_PARTIAL, a frame from a local socket over a veth that
	// offloads checksums); the field then holds only the pseudo-header.
	CsumPartial bool
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

// parseFrame parses a frame (internal/frame.Parse) and notes its first
// VLAN tag.
func parseFrame(b []byte) Frame {
	var f Frame
	var err error
	f.Packet, err = frame.Parse(b)
	f.UDP = err == nil
	if len(f.VLANs) > 0 {
		f.Tagged, f.VLAN = true, f.VLANs[0].TCI&0x0fff
	}
	return f
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
