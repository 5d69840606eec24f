package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// bound is the sockets of one listen address.
type bound struct {
	addr netip.AddrPort
	udp  []udpSocket
	tcp  *net.TCPListener
	// steered says the UDP sockets' group hands each query to the
	// socket of the CPU that received it (steerByCPU); steerErr is why
	// attaching that failed (the kernel's hash spreads them then).
	steered  bool
	steerErr error
}

// close closes every socket of b.
func (b *bound) close() {
	for _, u := range b.udp {
		u.c.Close()
	}
	if b.tcp != nil {
		b.tcp.Close()
	}
}

// ephemeralTries is how many times binding port 0 is retried when the
// port the kernel picked for UDP is taken for TCP.
const ephemeralTries = 16

// bindAddr opens n SO_REUSEPORT UDP sockets and one TCP listener on ap.
// With port 0 the UDP and TCP sockets share one ephemeral port.
func bindAddr(ctx context.Context, ap netip.AddrPort, n int) (*bound, error) {
	for try := 0; ; try++ {
		b, err := bindOnce(ctx, ap, n)
		if err == nil {
			return b, nil
		}
		if ap.Port() != 0 || try+1 >= ephemeralTries || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, err
		}
	}
}

// bindOnce is one attempt of bindAddr.
func bindOnce(ctx context.Context, ap netip.AddrPort, n int) (*bound, error) {
	lc := net.ListenConfig{Control: reusePort}
	udpNet, tcpNet := "udp", "tcp"
	wildcard, v6 := ap.Addr().IsUnspecified(), ap.Addr().Is6()
	if wildcard {
		// One family per socket (IPV6_V6ONLY for ::), so that 0.0.0.0
		// and :: can both be listed, and the query's destination read.
		lc.Control = setPktinfo(v6)
		udpNet, tcpNet = "udp4", "tcp4"
		if v6 {
			udpNet, tcpNet = "udp6", "tcp6"
		}
	}
	b := &bound{}
	addr := ap
	for i := 0; i < n; i++ {
		pc, err := lc.ListenPacket(ctx, udpNet, addr.String())
		if err != nil {
			b.close()
			return nil, fmt.Errorf("udp socket %d: %w", i, err)
		}
		uc := pc.(*net.UDPConn)
		b.udp = append(b.udp, udpSocket{c: uc, pktinfo: wildcard, v6: v6, first: i == 0, received: new(atomic.Uint64)})
		if i == 0 {
			// Every later socket, and TCP, joins the first one's port.
			addr = netip.AddrPortFrom(ap.Addr(), uc.LocalAddr().(*net.UDPAddr).AddrPort().Port())
		}
	}
	b.steered, b.steerErr = steerByCPU(b.udp)
	// TCP does without SO_REUSEPORT, so that a second server started on
	// the same address fails here instead of silently sharing the UDP
	// traffic with the first.
	var tc net.ListenConfig
	l, err := tc.Listen(ctx, tcpNet, addr.String())
	if err != nil {
		b.close()
		return nil, fmt.Errorf("tcp: %w", err)
	}
	b.tcp = l.(*net.TCPListener)
	b.addr = addr
	return b, nil
}

// UDP socket buffer sizes asked for. The receive buffer absorbs a burst,
// or a pause of the serving goroutine (a garbage collection, a reload),
// of about 10 ms at 400k queries/s where the kernel's default (212992
// bytes, some 250 queries) overflows in under a millisecond; NSD and Knot
// enlarge theirs too. As root (CAP_NET_ADMIN) the size is forced past
// net.core.rmem_max/wmem_max; otherwise the kernel caps it there.
const (
	udpRecvBuffer = 4 << 20
	udpSendBuffer = 1 << 20
)

// reusePort sets SO_REUSEPORT so that several sockets share one address
// and the kernel spreads the queries over them, and enlarges the socket
// buffers (udpRecvBuffer, udpSendBuffer; best effort).
func reusePort(network, address string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		setBuffers(int(fd))
	})
	if err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("SO_REUSEPORT: %w", serr)
	}
	return nil
}
