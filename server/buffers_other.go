//go:build !linux

package server

import "golang.org/x/sys/unix"

// setBuffers sets the UDP socket's buffers, as far as the system allows.
func setBuffers(fd int) {
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, udpRecvBuffer)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, udpSendBuffer)
}
