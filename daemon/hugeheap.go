package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"os"
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

// thpEnabled is the kernel's transparent huge page setting.
const thpEnabled = "/sys/kernel/mm/transparent_hugepage/enabled"

// hugeAdvice is a range of the heap advised for huge pages (empty if
// none was).
type hugeAdvice struct{ start, length uintptr }

// hugeHeap asks the kernel to back the next n bytes the heap grows by with
// transparent huge pages (madvise MADV_HUGEPAGE), before a start builds a
// large zone in memory, where the kernel gives huge pages only to memory
// advised so (THP "madvise", as on the machines of bench/RESULTS.md): the
// Go runtime does not advise its heap, so every 4 KiB of fresh heap costs
// a page fault, ~10 µs in a VM, and a restart at 1M delegations spent
// more than half of its 8 s in them. It allocates n bytes it never writes
// (fresh address space: no page touched), advises the whole huge pages
// inside, and collects them again: the pages go back to the heap's free
// pool with the advice kept on their mapping, and the allocations that
// follow are placed there. end takes the advice back once the start is
// done. An error only says the advice was not given, which costs speed.
//
// Best done early: a block that extends free pages the heap has used
// before is zeroed by the runtime, which faults its pages in one by one
// before the advice (the start then costs what it did without it).
func hugeHeap(n int64) (hugeAdvice, error) {
	mode, err := os.ReadFile(thpEnabled)
	if err != nil || !bytes.Contains(mode, []byte("[madvise]")) {
		return hugeAdvice{}, err // none, or given to all memory already
	}
	if n, err = hugeHeapCap(n); err != nil || n < 16*hugePage {
		return hugeAdvice{}, err
	}
	b := make([]byte, n)
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	off := (hugePage - addr%hugePage) % hugePage
	length := (uintptr(n) - off) &^ (hugePage - 1)
	if err := unix.Madvise(b[off:off+length], unix.MADV_HUGEPAGE); err != nil {
		return hugeAdvice{}, fmt.Errorf("madvise MADV_HUGEPAGE: %w", err)
	}
	runtime.KeepAlive(b)
	b = nil
	runtime.GC()
	return hugeAdvice{addr + off, length}, nil
}

// end takes the advice back (MADV_NOHUGEPAGE): the pages already huge
// stay so, but later growth of the heap into the range, in a reload, is
// not: with the advice kept, a reload of the 1M zone took 27 s instead of
// 15 (unsigned) and 77 s instead of 21 (signed) in bench/scale.sh (why
// was not looked into: a reload's heap grows and shrinks while the
// collector runs, where the start's only grew).
func (a hugeAdvice) end() {
	if a.length > 0 {
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, a.start, a.length, unix.MADV_NOHUGEPAGE)
	}
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
