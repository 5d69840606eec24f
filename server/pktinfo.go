package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Sockets bound to a wildcard address (0.0.0.0, ::) receive queries for
// every local address, anycast service addresses included, but the kernel
// picks a reply's source address by route, which need not be the address
// the client asked. Such sockets ask for the destination address of each
// query (IP_PKTINFO, IPV6_RECVPKTINFO) and send the reply from it.

// errPktinfo refuses a wildcard listen address where replying from the
// query's destination address is not supported.
var errPktinfo = errors.New("a wildcard listen address (0.0.0.0 or ::) is not supported on this platform " +
	"(replying from the address a query came to needs Linux): listen on the service addresses")

// pktinfoSpace is room for one received packet-info control message.
var pktinfoSpace = unix.CmsgSpace(unix.SizeofInet6Pktinfo) + unix.CmsgSpace(unix.SizeofInet4Pktinfo)

// udpSocket is one UDP socket with how its replies are addressed.
type udpSocket struct {
	c       *net.UDPConn
	pktinfo bool // wildcard bind: reply from the query's destination
	v6      bool
	// first is the first socket of its address: the kernel gives a copy
	// of each broadcast or multicast datagram to every socket of the
	// address, and only the first one answers it.
	first bool
	// received counts the datagrams read from the socket.
	received *atomic.Uint64
}

// destination is the kind of address a query was sent to.
type destination int

const (
	destUnknown destination = iota // no packet info
	destUnicast                    // one of the host's addresses
	destGroup                      // broadcast or multicast
)

// setPktinfo turns on reception of the destination address.
func setPktinfo(v6 bool) func(network, address string, rc syscall.RawConn) error {
	return func(network, address string, rc syscall.RawConn) error {
		if !pktinfoSupported {
			return errPktinfo
		}
		if err := reusePort(network, address, rc); err != nil {
			return err
		}
		var serr error
		err := rc.Control(func(fd uintptr) {
			if v6 {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1)
			} else {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
			}
		})
		if err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("packet info socket option: %w", serr)
		}
		return nil
	}
}

// replyOOB reads the query's destination address from the control
// messages oob and returns its kind and the control message that sends
// the reply from it, appended to dst (no allocation while dst has room). A reply to a broadcast or multicast query is sent
// from a unicast address: the one the kernel chose for the interface
// (IPv4), or the route's (IPv6, nil message). The message is nil when oob
// has no packet info.
func replyOOB(dst, oob []byte, v6 bool) ([]byte, destination) {
	for len(oob) > 0 {
		level, typ, data, rest, ok := nextCmsg(oob)
		if !ok {
			return nil, destUnknown
		}
		oob = rest
		switch {
		case !v6 && level == unix.IPPROTO_IP && typ == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			// struct in_pktinfo: ifindex, spec_dst, addr. For a query to
			// one of the host's addresses the kernel sets spec_dst to the
			// header's destination addr; for a broadcast (limited or
			// directed) or multicast one, to a unicast address of the
			// interface.
			var spec, addr [4]byte
			copy(spec[:], data[4:8])
			copy(addr[:], data[8:12])
			a := netip.AddrFrom4(addr)
			if spec != addr || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
				if netip.AddrFrom4(spec).IsUnspecified() {
					return nil, destGroup
				}
				return pktinfoMsg4(dst, &unix.Inet4Pktinfo{Spec_dst: spec}), destGroup
			}
			return pktinfoMsg4(dst, &unix.Inet4Pktinfo{Spec_dst: addr}), destUnicast
		case v6 && level == unix.IPPROTO_IPV6 && typ == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			var info unix.Inet6Pktinfo
			copy(info.Addr[:], data[:16])
			a := netip.AddrFrom16(info.Addr)
			if a.IsMulticast() {
				return nil, destGroup
			}
			if a.IsLinkLocalUnicast() {
				info.Ifindex = binary.NativeEndian.Uint32(data[16:20])
			}
			return pktinfoMsg6(dst, &info), destUnicast
		}
	}
	return nil, destUnknown
}

// nextCmsg splits the first control message off b. It checks every length
// itself rather than trusting b to be well formed.
func nextCmsg(b []byte) (level, typ int32, data, rest []byte, ok bool) {
	hdr := unix.CmsgLen(0) // header size with its alignment padding
	if len(b) < hdr {
		return 0, 0, nil, nil, false
	}
	var n int
	if unix.SizeofCmsghdr == 16 { // cmsg_len is a size_t
		n64 := binary.NativeEndian.Uint64(b)
		if n64 > uint64(len(b)) {
			return 0, 0, nil, nil, false
		}
		n = int(n64)
		level = int32(binary.NativeEndian.Uint32(b[8:]))
		typ = int32(binary.NativeEndian.Uint32(b[12:]))
	} else {
		n = int(binary.NativeEndian.Uint32(b))
		level = int32(binary.NativeEndian.Uint32(b[4:]))
		typ = int32(binary.NativeEndian.Uint32(b[8:]))
	}
	if n < hdr || n > len(b) {
		return 0, 0, nil, nil, false
	}
	data = b[hdr:n]
	if next := unix.CmsgSpace(n - hdr); next < len(b) {
		rest = b[next:]
	}
	return level, typ, data, rest, true
}
