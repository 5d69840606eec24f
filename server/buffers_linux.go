package server

import "golang.org/x/sys/unix"

// setBuffers sets the UDP socket's buffers to udpRecvBuffer and
// udpSendBuffer: forced past the sysctl caps when the process may (as
// root), else as large as the caps allow. Best effort.
func setBuffers(fd int) {
	set := func(force, capped, size int) {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, size) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, capped, size)
		}
	}
	set(unix.SO_RCVBUFFORCE, unix.SO_RCVBUF, udpRecvBuffer)
	set(unix.SO_SNDBUFFORCE, unix.SO_SNDBUF, udpSendBuffer)
}
