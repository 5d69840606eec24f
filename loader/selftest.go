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
	in := frame.Spec{
		DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2},
		Src: netip.MustParseAddr("198.18.0.254"), Dst: dst, SrcPort: 53000, DstPort: l.opts.Ports[0],
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
