//go:build linux

package server

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgConn moves the datagrams of one UDP socket with recvmmsg and
// sendmmsg called directly: the message headers, source addresses, I/O
// vectors and control buffers are allocated once, so a query costs no
// allocation (golang.org/x/net's ReadBatch allocates a *net.UDPAddr per
// datagram). The goroutine parks in the runtime's netpoller between
// batches, as the standard library's own reads do.
//
// The two calls are made with RawSyscall6, without telling the scheduler:
// the socket is non-blocking, so neither call can block, and the
// scheduler's bookkeeping around an ordinary syscall woke its monitor
// thread (sysmon) on nearly every call — on the bench rig 38k futex
// wake-ups, 20k sleeps and 77k context switches a second at 100k
// queries/s, a third of the CPU per reply (bench/RESULTS.md).
type mmsgConn struct {
	rc    syscall.RawConn
	in    []unix.Mmsghdr
	names []unix.RawSockaddrInet6 // source of datagram i (large enough for IPv4)
	iov   []unix.Iovec
	bufs  [][]byte
	ctrl  [][]byte
	out   []unix.Mmsghdr
	oiov  []unix.Iovec

	// The RawConn callbacks, bound once (a closure per call would be an
	// allocation per batch), and what they pass back.
	recvFn, sendFn func(fd uintptr) bool
	slots          int // datagrams to receive
	first, last    int // the replies m.out[first:last] to send
	done           int // datagrams received or replies sent
	errno          syscall.Errno
}

// newBatchConn prepares slots datagrams of bufSize bytes and oobSize bytes
// of control messages each on c.
func newBatchConn(c *net.UDPConn, slots, bufSize, oobSize int) (batchIO, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("udp socket: %w", err)
	}
	m := &mmsgConn{
		rc:    rc,
		in:    make([]unix.Mmsghdr, slots),
		names: make([]unix.RawSockaddrInet6, slots),
		iov:   make([]unix.Iovec, slots),
		bufs:  make([][]byte, slots),
		ctrl:  make([][]byte, slots),
		out:   make([]unix.Mmsghdr, slots),
		oiov:  make([]unix.Iovec, slots),
	}
	m.recvFn, m.sendFn = m.recvmmsg, m.sendmmsg
	for i := range m.in {
		m.bufs[i] = make([]byte, bufSize)
		m.iov[i].Base = &m.bufs[i][0]
		m.iov[i].SetLen(bufSize)
		h := &m.in[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&m.names[i]))
		h.Iov = &m.iov[i]
		h.Iovlen = 1
		if oobSize > 0 {
			m.ctrl[i] = make([]byte, oobSize)
			h.Control = &m.ctrl[i][0]
		}
	}
	return m, nil
}

// recv fills d with the next batch of datagrams, waiting for at least one.
func (m *mmsgConn) recv(d []datagram) (int, error) {
	slots := min(len(d), len(m.in))
	for i := 0; i < slots; i++ {
		h := &m.in[i].Hdr
		h.Namelen = unix.SizeofSockaddrInet6
		h.SetControllen(len(m.ctrl[i]))
		h.Flags = 0
		m.in[i].Len = 0
	}
	m.slots = slots
	if err := m.rc.Read(m.recvFn); err != nil {
		return 0, err
	}
	if m.errno != 0 {
		return 0, fmt.Errorf("recvmmsg: %w", m.errno)
	}
	n := m.done
	for i := 0; i < n; i++ {
		h := &m.in[i].Hdr
		d[i] = datagram{
			pkt:  m.bufs[i][:min(int(m.in[i].Len), len(m.bufs[i]))],
			from: sockaddrAddrPort(&m.names[i], h.Namelen),
		}
		if m.ctrl[i] != nil {
			d[i].oob = m.ctrl[i][:min(int(h.Controllen), len(m.ctrl[i]))]
		}
	}
	return n, nil
}

// send writes the replies r: each goes to the source of the datagram it
// answers (by slot, so the raw address is reused as received, scope
// included). A reply the kernel refuses is skipped, with the error
// returned after the rest are sent.
func (m *mmsgConn) send(r []reply) error {
	k := 0
	for _, rp := range r {
		if len(rp.b) == 0 || rp.slot < 0 || rp.slot >= len(m.in) {
			continue
		}
		h := &m.out[k].Hdr
		*h = unix.Msghdr{}
		h.Name = (*byte)(unsafe.Pointer(&m.names[rp.slot]))
		h.Namelen = m.in[rp.slot].Hdr.Namelen
		m.oiov[k].Base = &rp.b[0]
		m.oiov[k].SetLen(len(rp.b))
		h.Iov = &m.oiov[k]
		h.Iovlen = 1
		if len(rp.oob) > 0 {
			h.Control = &rp.oob[0]
			h.SetControllen(len(rp.oob))
		}
		m.out[k].Len = 0
		k++
	}
	var firstErr error
	for sent := 0; sent < k; {
		m.first, m.last = sent, k
		if err := m.rc.Write(m.sendFn); err != nil {
			return err // the socket is closed
		}
		n := m.done
		if m.errno != 0 {
			// sendmmsg fails only when its first message fails: skip it.
			if firstErr == nil {
				firstErr = fmt.Errorf("sendmmsg: %w", m.errno)
			}
			n = 1
		}
		sent += n
	}
	for i := 0; i < k; i++ {
		m.out[i].Hdr = unix.Msghdr{} // drop the references to the replies
	}
	return firstErr
}

// recvmmsg is the RawConn.Read callback of recv: false asks the runtime
// to park the goroutine until the socket is readable.
func (m *mmsgConn) recvmmsg(fd uintptr) bool {
	return m.call(unix.SYS_RECVMMSG, fd, &m.in[0], m.slots)
}

// sendmmsg is the RawConn.Write callback of send: false waits until the
// socket is writable (its buffer full).
func (m *mmsgConn) sendmmsg(fd uintptr) bool {
	return m.call(unix.SYS_SENDMMSG, fd, &m.out[m.first], m.last-m.first)
}

// call makes one recvmmsg or sendmmsg (trap) over the n headers at hdrs,
// retrying on EINTR, and leaves its result in m.done and m.errno; false:
// the call would block.
func (m *mmsgConn) call(trap, fd uintptr, hdrs *unix.Mmsghdr, n int) bool {
	for {
		r, _, e := unix.RawSyscall6(trap, fd, uintptr(unsafe.Pointer(hdrs)), uintptr(n), 0, 0, 0)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		m.done, m.errno = int(r), e
		return true
	}
}

// sockaddrAddrPort reads a raw IPv4 or IPv6 socket address; the zero
// AddrPort for anything else.
func sockaddrAddrPort(sa *unix.RawSockaddrInet6, n uint32) netip.AddrPort {
	switch {
	case sa.Family == unix.AF_INET && n >= unix.SizeofSockaddrInet4:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), ntohs(sa4.Port))
	case sa.Family == unix.AF_INET6 && n >= unix.SizeofSockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), ntohs(sa.Port))
	}
	return netip.AddrPort{}
}

// ntohs reads a port stored in network byte order.
func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}
