package server

import "golang.org/x/sys/unix"

// pktinfoSupported: Linux sends a reply from the address in an
// IP_PKTINFO or IPV6_PKTINFO control message.
const pktinfoSupported = true

// pktinfoMsg4 is the control message that sends a reply from info's
// Spec_dst.
func pktinfoMsg4(info *unix.Inet4Pktinfo) []byte { return unix.PktInfo4(info) }

// pktinfoMsg6 is the control message that sends a reply from info's Addr
// (on info's interface for a link-local address).
func pktinfoMsg6(info *unix.Inet6Pktinfo) []byte { return unix.PktInfo6(info) }
