package daemon

import (
	"errors"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page (x86-64, and arm64
// with 4 KiB pages).
const hugePage = 2 << 20

// restoreHeapFactor is how many times its compiled zone image's size the
// heap grows by while a start reads it (1M delegations: a 214 MB image,
// ~1.2 GB of heap); hugeHeap is asked for that much.
const restoreHeapFactor = 6

// hugeHeap asks the kernel to back the next n bytes the heap grows by with
// transparent huge pages (madvise MADV_HUGEPAGE), before a start builds a
// large zone in memory. The Go runtime does not ask for huge pages for its
// heap, so where the kernel's THP setting is "madvise" (as on the machines
// of bench/RESULTS.md) every 4 KiB of fresh heap costs a page fault, ~10
// µs in a VM: a restart at 1M delegations spent more than half of its 8 s
// in them. It allocates n bytes it never writes (fresh address space, no
// page touched), advises the whole huge pages inside, and collects them
// again: the pages go back to the heap's free pool with the advice kept
// on their mapping, and the allocations that follow are placed there. It
// returns the advised range (for tests); an error only says the advice
// was not given (a kernel without THP), which costs speed, nothing else.
//
// Best done early: a block that extends free pages the heap has used
// before is zeroed by the runtime, which faults its pages in one by one
// before the advice (the start then costs what it did without it).
func hugeHeap(n int64) (start, length uintptr, err error) {
	n, err = hugeHeapCap(n)
	if err != nil || n < 16*hugePage {
		return 0, 0, err
	}
	b := make([]byte, n)
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	off := (hugePage - addr%hugePage) % hugePage
	length = (uintptr(n) - off) &^ (hugePage - 1)
	if err := unix.Madvise(b[off:off+length], unix.MADV_HUGEPAGE); err != nil {
		return 0, 0, errors.Join(errors.New("madvise MADV_HUGEPAGE"), err)
	}
	runtime.KeepAlive(b)
	b = nil
	runtime.GC()
	return addr + off, length, nil
}

// hugeHeapCap bounds a request to hugeHeap to a quarter of the machine's
// memory: one mapping larger than the memory is what the kernel's
// overcommit check refuses, and the runtime cannot survive a refused heap
// mapping.
func hugeHeapCap(n int64) (int64, error) {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0, errors.Join(errors.New("sysinfo"), err)
	}
	return min(n, int64(si.Totalram)*int64(si.Unit)/4), nil
}
