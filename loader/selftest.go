//go:build linux

package loader

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/cilium/ebpf"
)

// ErrSelfTest means the program did not answer a self-test query in XDP.
var ErrSelfTest = errors.New("loader: self-test query not answered in XDP")

// SelfTest runs one DNS query through the loaded program with
// BPF_PROG_TEST_RUN, wrapped in Ethernet/IPv4/UDP addressed to the first
// served address (198.18.0.1 when every address is served) and port, and
// returns the DNS payload of the XDP_TX reply. It proves the attached
// program answers from the live generation without touching the network.
func (l *Loader) SelfTest(query []byte) ([]byte, error) {
	dst := netip.MustParseAddr("198.18.0.1")
	for _, p := range l.opts.Prefixes {
		if p.Addr().Is4() {
			dst = p.Addr()
			break
		}
	}
	if !dst.Is4() {
		return nil, fmt.Errorf("%w: no IPv4 served address", ErrSelfTest)
	}
	frame := ipv4Frame(netip.MustParseAddr("198.18.0.254"), dst, 53000, l.opts.Ports[0], query)
	out := make([]byte, len(frame)+4096)
	ret, err := l.objs.Xdpdns.Run(&ebpf.RunOptions{Data: frame, DataOut: out})
	if err != nil {
		return nil, fmt.Errorf("self-test run: %w", err)
	}
	const xdpTX = 3
	if ret != xdpTX {
		return nil, fmt.Errorf("%w (verdict %d)", ErrSelfTest, ret)
	}
	const hdrs = 14 + 20 + 8
	if len(out) < hdrs {
		return nil, fmt.Errorf("%w: reply of %d bytes", ErrSelfTest, len(out))
	}
	end := 14 + 20 + int(binary.BigEndian.Uint16(out[38:]))
	if end < hdrs || end > len(out) {
		return nil, fmt.Errorf("%w: bad UDP length in the reply", ErrSelfTest)
	}
	return out[hdrs:end], nil
}

// ipv4Frame builds an Ethernet/IPv4/UDP frame (UDP checksum 0, allowed
// for IPv4 queries) carrying payload.
func ipv4Frame(src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 14+20+8+len(payload))
	copy(b[0:6], []byte{2, 0, 0, 0, 0, 1})
	copy(b[6:12], []byte{2, 0, 0, 0, 0, 2})
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	ip[8] = 64
	ip[9] = 17
	s, d := src.As4(), dst.As4()
	copy(ip[12:16], s[:])
	copy(ip[16:20], d[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	udp := b[34:42]
	binary.BigEndian.PutUint16(udp[0:], sport)
	binary.BigEndian.PutUint16(udp[2:], dport)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	copy(b[42:], payload)
	return b
}
