package server

import (
	"fmt"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// steerByCPU attaches to the SO_REUSEPORT group of socks a classic BPF
// program that hands each datagram to the socket whose index is the CPU
// that received it (SO_ATTACH_REUSEPORT_CBPF, SKF_AD_CPU), as Knot's
// socket-affinity does: a CPU's queries stay on one socket, and one
// socket's queue is filled by one CPU, instead of the kernel's hash of the
// addresses spreading them. It applies when the process may run on
// exactly the CPUs 0..len(socks)-1 (one socket per CPU, the default); it
// reports false and changes nothing otherwise. An index the group does
// not have falls back to the hash in the kernel.
func steerByCPU(socks []udpSocket) (bool, error) {
	if len(socks) < 2 {
		return false, nil
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return false, fmt.Errorf("sched_getaffinity: %w", err)
	}
	if set.Count() != len(socks) {
		return false, nil
	}
	for cpu := range socks {
		if !set.IsSet(cpu) {
			return false, nil
		}
	}
	prog, err := bpf.Assemble([]bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtCPUID}, // A = the receiving CPU
		bpf.RetA{},                           // the index of the socket
	})
	if err != nil {
		return false, fmt.Errorf("reuseport program: %w", err)
	}
	filters := make([]unix.SockFilter, len(prog))
	for i, ins := range prog {
		filters[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(filters)), Filter: &filters[0]}
	rc, err := socks[0].c.SyscallConn()
	if err != nil {
		return false, err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_CBPF, &fprog)
	}); err != nil {
		return false, err
	}
	if serr != nil {
		return false, fmt.Errorf("SO_ATTACH_REUSEPORT_CBPF: %w", serr)
	}
	return true, nil
}
