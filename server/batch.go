package server

import "net/netip"

// datagram is one received UDP query: its bytes, its source and the
// control messages that came with it. The slices belong to the batchIO
// and are valid until its next recv.
type datagram struct {
	pkt  []byte
	from netip.AddrPort
	oob  []byte
}

// reply is one reply to send: slot is the index, in the last recv, of the
// datagram it answers (the reply goes to that datagram's source), oob the
// control messages to send it with (the source address).
type reply struct {
	b    []byte
	oob  []byte
	slot int
}

// batchIO moves the datagrams of one UDP socket in batches: one system
// call for many queries under load (recvmmsg/sendmmsg on Linux).
type batchIO interface {
	// recv waits for at least one datagram and fills d; it fails with
	// net.ErrClosed once the socket is closed.
	recv(d []datagram) (int, error)
	// send writes the replies to the datagrams of the last recv.
	send(r []reply) error
}
