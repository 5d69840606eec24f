//go:build linux

// Command xdppass attaches a tiny XDP program to an interface and keeps it
// attached for as long as it runs: the bench rig's helper (bench/rig.sh).
//
//	xdppass -iface NAME [-prog pass|reflect] [-mode native|generic]
//
// Run it inside the namespace that holds the interface (ip netns exec NS
// xdppass ...). The program is attached through a bpf_link held by this
// process only: when the process ends, however it ends (TERM, INT, KILL),
// the kernel closes the link and the program is detached, so the rig's
// cleanup is killing the process.
//
//   - pass: return XDP_PASS. On a veth pair, frames the far end sends with
//     XDP_TX arrive only when this end also runs an XDP program (BRIEF §4).
//   - reflect: the bare reflector of bench/xdp (swap MACs, IPv4 addresses
//     and UDP ports, XDP_TX): the floor a DNS server on the rig is measured
//     against.
//
// Once attached it prints "attached PROG id N" on stdout (the program ID,
// for bpftool's run-time statistics) and waits for a signal.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"

	"github.com/xdpdns/xdpdns/bench/xdp"
)

func main() {
	iface := flag.String("iface", "", "interface to attach to (required)")
	prog := flag.String("prog", "pass", "program: pass or reflect")
	mode := flag.String("mode", "native", "attach mode: native or generic")
	flag.Parse()
	if err := run(*iface, *prog, *mode); err != nil {
		fmt.Fprintln(os.Stderr, "xdppass:", err)
		os.Exit(1)
	}
}

func spec(name string) (*ebpf.ProgramSpec, error) {
	switch name {
	case "pass":
		return &ebpf.ProgramSpec{Name: "rig_pass", Type: ebpf.XDP, License: "MIT", Instructions: asm.Instructions{
			asm.Mov.Imm(asm.R0, xdp.XDPPass),
			asm.Return(),
		}}, nil
	case "reflect":
		s := xdp.ReflectorSpec()
		s.Name = "rig_reflect"
		return s, nil
	}
	return nil, fmt.Errorf("unknown program %q (pass or reflect)", name)
}

func run(iface, progName, mode string) error {
	if iface == "" {
		return errors.New("-iface is required")
	}
	var flags link.XDPAttachFlags
	switch mode {
	case "native":
		flags = link.XDPDriverMode
	case "generic":
		flags = link.XDPGenericMode
	default:
		return fmt.Errorf("unknown mode %q (native or generic)", mode)
	}
	s, err := spec(progName)
	if err != nil {
		return err
	}
	ifc, err := net.InterfaceByName(iface)
	if err != nil {
		return err
	}
	p, err := ebpf.NewProgram(s)
	if err != nil {
		return fmt.Errorf("loading %s: %w", progName, err)
	}
	defer p.Close()
	l, err := link.AttachXDP(link.XDPOptions{Program: p, Interface: ifc.Index, Flags: flags})
	if err != nil {
		return fmt.Errorf("attaching %s to %s (%s): %w", progName, iface, mode, err)
	}
	defer l.Close()
	info, err := p.Info()
	if err != nil {
		return err
	}
	id, _ := info.ID()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	fmt.Printf("attached %s id %d\n", progName, id)
	<-sig
	return nil
}
