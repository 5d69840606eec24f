package server

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// pktinfoSupported: Linux sends a reply from the address in an
// IP_PKTINFO or IPV6_PKTINFO control message.
const pktinfoSupported = true

// pktinfoMsg4 appends to dst the control message that sends a reply from
// info's Spec_dst (the bytes of unix.PktInfo4, without its allocation).
func pktinfoMsg4(dst []byte, info *unix.Inet4Pktinfo) []byte {
	return appendCmsg(dst, unix.IPPROTO_IP, unix.IP_PKTINFO, unsafe.Slice((*byte)(unsafe.Pointer(info)), unix.SizeofInet4Pktinfo))
}

// pktinfoMsg6 appends to dst the control message that sends a reply from
// info's Addr (on info's interface for a link-local address).
func pktinfoMsg6(dst []byte, info *unix.Inet6Pktinfo) []byte {
	return appendCmsg(dst, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unsafe.Slice((*byte)(unsafe.Pointer(info)), unix.SizeofInet6Pktinfo))
}

// appendCmsg appends one control message (header, data, padding) to dst.
func appendCmsg(dst []byte, level, typ int32, data []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, unix.CmsgSpace(len(data)))...)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&dst[start]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(len(data)))
	copy(dst[start+unix.CmsgLen(0):], data)
	return dst
}
