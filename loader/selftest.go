//go:build linux

package loader

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/cilium/ebpf"

	"github.com/xdpdns/xdpdns/internal/frame"
)

// ErrSelfTest means the program did not answer a self-test query in XDP.
var ErrSelfTest = errors.New("loader: self-test query not answered in XDP")

// SelfTest runs one DNS query through the loaded program with
// BPF_PROG_TEST_RUN, wrapped in Ethernet/IPv4/UDP addressed to the first
// served address (198.18.0.1 when every address is served) and port, and
// returns the DNS payload of the XDP_TX reply. It proves the attached
// program answers from the live generation without touching the network.
func (l *Loader) SelfTest(query []byte) ([]byte, error) {
	dst, ok := l.selfTestAddress()
	if !ok {
		return nil, fmt.Errorf("%w: no IPv4 served address", ErrSelfTest)
	}
	// BPF_PROG_TEST_RUN delivers the frame on lo, whose MAC is all zeros
	// (iface_macs holds it when the program is attached to lo).
	in := frame.Spec{
		DstMAC: net.HardwareAddr{0, 0, 0, 0, 0, 0}, SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2},
		Src: selfTestSource(dst), Dst: dst, SrcPort: 53000, DstPort: l.opts.Ports[0],
		TTL: 64, NoUDPChecksum: true, // allowed for IPv4 queries
	}.Build(query)
	opts := &ebpf.RunOptions{Data: in, DataOut: make([]byte, len(in)+4096)}
	ret, err := l.objs.Xdpdns.Run(opts)
	if err != nil {
		return nil, fmt.Errorf("self-test run: %w", err)
	}
	const xdpTX = 3
	if ret != xdpTX {
		return nil, fmt.Errorf("%w (verdict %d)", ErrSelfTest, ret)
	}
	reply, err := frame.Parse(opts.DataOut)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSelfTest, err)
	}
	return reply.Payload, nil
}

// selfTestAddress is an IPv4 destination the program serves: a configured
// prefix's, else a host address (HostAddresses), else any (AnyAddress).
func (l *Loader) selfTestAddress() (netip.Addr, bool) {
	for _, p := range l.opts.Prefixes {
		if p.Addr().Is4() {
			return p.Addr(), true
		}
	}
	if l.opts.HostAddresses {
		for _, a := range l.HostAddresses() {
			if a.Is4() {
				return a, true
			}
		}
	}
	if l.opts.AnyAddress {
		return netip.MustParseAddr("198.18.0.1"), true
	}
	return netip.Addr{}, false
}

// selfTestSource is the self-test query's source: any address that is not
// dst (the program refuses a source equal to the destination).
func selfTestSource(dst netip.Addr) netip.Addr {
	if src := netip.MustParseAddr("198.18.0.254"); src != dst {
		return src
	}
	return netip.MustParseAddr("198.18.0.253")
}
