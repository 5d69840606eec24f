//go:build linux

package xdp

import (
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/xdpdns/xdpdns/internal/frame"
)

// XDP verdicts.
const (
	XDPPass = 2
	XDPTX   = 3
)

// Frame offsets of an untagged IPv4/UDP frame without IP options.
const (
	ethLen  = frame.EthHeaderLen
	ipv4Len = frame.IPv4HeaderLen
	// HeaderLen is where the DNS payload starts.
	HeaderLen = frame.HeaderLen
)

// ReflectorSpec is the bare reflector the XDP program is measured
// against: bounds check for Ethernet + IPv4 + UDP headers, swap the MAC
// addresses, the IPv4 addresses and the UDP ports, return XDP_TX. It
// neither parses nor checks anything else (frames too short are passed).
// Swapping both addresses and both ports leaves the UDP and IPv4
// checksums valid.
func ReflectorSpec() *ebpf.ProgramSpec {
	const (
		data, end, tmp = asm.R2, asm.R3, asm.R4
		a, b, c, d     = asm.R5, asm.R6, asm.R7, asm.R8
	)
	insns := asm.Instructions{
		asm.LoadMem(data, asm.R1, 0, asm.Word), // ctx->data
		asm.LoadMem(end, asm.R1, 4, asm.Word),  // ctx->data_end
		asm.Mov.Reg(tmp, data),
		asm.Add.Imm(tmp, HeaderLen),
		asm.JGT.Reg(tmp, end, "pass"),
		// MACs: dst at 0..5, src at 6..11.
		asm.LoadMem(a, data, 0, asm.Word),
		asm.LoadMem(b, data, 4, asm.Half),
		asm.LoadMem(c, data, 6, asm.Word),
		asm.LoadMem(d, data, 10, asm.Half),
		asm.StoreMem(data, 0, c, asm.Word),
		asm.StoreMem(data, 4, d, asm.Half),
		asm.StoreMem(data, 6, a, asm.Word),
		asm.StoreMem(data, 10, b, asm.Half),
		// IPv4 saddr at 26, daddr at 30.
		asm.LoadMem(a, data, ethLen+12, asm.Word),
		asm.LoadMem(b, data, ethLen+16, asm.Word),
		asm.StoreMem(data, ethLen+12, b, asm.Word),
		asm.StoreMem(data, ethLen+16, a, asm.Word),
		// UDP ports at 34 and 36.
		asm.LoadMem(a, data, ethLen+ipv4Len, asm.Half),
		asm.LoadMem(b, data, ethLen+ipv4Len+2, asm.Half),
		asm.StoreMem(data, ethLen+ipv4Len, b, asm.Half),
		asm.StoreMem(data, ethLen+ipv4Len+2, a, asm.Half),
		asm.Mov.Imm(asm.R0, XDPTX),
		asm.Return(),
		asm.Mov.Imm(asm.R0, XDPPass).WithSymbol("pass"),
		asm.Return(),
	}
	return &ebpf.ProgramSpec{Name: "xdpb_reflector", Type: ebpf.XDP, License: "MIT", Instructions: insns}
}

// EmptySpec is `return XDP_PASS`: the measurement floor (the cost the
// kernel's timing adds to any program).
func EmptySpec() *ebpf.ProgramSpec {
	return &ebpf.ProgramSpec{Name: "xdpb_empty", Type: ebpf.XDP, License: "MIT", Instructions: asm.Instructions{
		asm.Mov.Imm(asm.R0, XDPPass),
		asm.Return(),
	}}
}
