//go:build !linux

package server

import (
	"fmt"
	"net"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// xnetBatch is batchIO through golang.org/x/net's ReadBatch/WriteBatch,
// for platforms without the raw recvmmsg/sendmmsg of mmsg_linux.go (there
// they read one datagram per call, and allocate the source address).
type xnetBatch struct {
	pc interface {
		ReadBatch(ms []ipv4.Message, flags int) (int, error)
		WriteBatch(ms []ipv4.Message, flags int) (int, error)
	}
	in  []ipv4.Message
	out []ipv4.Message
}

func newBatchConn(c *net.UDPConn, slots, bufSize, oobSize int) (batchIO, error) {
	x := &xnetBatch{in: make([]ipv4.Message, slots), out: make([]ipv4.Message, slots)}
	x.pc = ipv4.NewPacketConn(c)
	if la, ok := c.LocalAddr().(*net.UDPAddr); ok && la.IP.To4() == nil {
		x.pc = ipv6.NewPacketConn(c)
	}
	for i := range x.in {
		x.in[i].Buffers = [][]byte{make([]byte, bufSize)}
		if oobSize > 0 {
			x.in[i].OOB = make([]byte, oobSize)
		}
		x.out[i].Buffers = make([][]byte, 1)
	}
	return x, nil
}

func (x *xnetBatch) recv(d []datagram) (int, error) {
	n, err := x.pc.ReadBatch(x.in[:min(len(d), len(x.in))], 0)
	if err != nil {
		return 0, err
	}
	for i := 0; i < n; i++ {
		m := &x.in[i]
		d[i] = datagram{pkt: m.Buffers[0][:m.N], oob: m.OOB[:m.NN]}
		if ua, ok := m.Addr.(*net.UDPAddr); ok {
			d[i].from = ua.AddrPort()
		}
	}
	return n, nil
}

func (x *xnetBatch) send(r []reply) error {
	k := 0
	for _, rp := range r {
		if len(rp.b) == 0 || rp.slot < 0 || rp.slot >= len(x.in) {
			continue
		}
		x.out[k].Buffers[0] = rp.b
		x.out[k].Addr = x.in[rp.slot].Addr
		x.out[k].OOB = rp.oob
		k++
	}
	for sent := 0; sent < k; {
		w, err := x.pc.WriteBatch(x.out[sent:k], 0)
		if err != nil {
			return fmt.Errorf("udp write: %w", err)
		}
		sent += w
	}
	return nil
}
