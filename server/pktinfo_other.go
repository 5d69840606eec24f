//go:build !linux

package server

import "golang.org/x/sys/unix"

// pktinfoSupported: only the Linux form of the packet-info control
// messages is built and tested, so elsewhere a wildcard listen address is
// refused (setPktinfo returns errPktinfo) and no socket asks for them.
const pktinfoSupported = false

func pktinfoMsg4(dst []byte, _ *unix.Inet4Pktinfo) []byte { return dst }

func pktinfoMsg6(dst []byte, _ *unix.Inet6Pktinfo) []byte { return dst }
