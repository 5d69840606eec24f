//go:build linux

package loader

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// slotPages gives access to the entries of an mmapable array map (a
// table's slots): the whole map mapped for a build; for an update, the
// entries it reads, one by one (a lookup each, kept, written back with
// write), since a mapping costs two system calls and counts in the
// process's RSS (every page of one does), and an update of a few
// thousand keys of a TLD touches as many windows; a scan maps one window
// of slotWindow bytes at a time.
type slotPages[S any] struct {
	m    *ebpf.Map
	n    uint32 // entries
	all  []S    // the whole map, mapped whole
	per  uint32 // entries per window
	wins map[uint32]window[S]
	// unmapAll unmaps all (mapArray's).
	unmapAll func() error
	// region is address space reserved for the map's windows (each
	// mapped at its place in it), so that close unmaps them all with one
	// call: a munmap each cost a TLB shootdown each (~50 µs on these
	// VMs), more than the rest of a few-hundred-name update.
	region    unsafe.Pointer
	regionLen uintptr
	// sparse: entries read a few at a time into read (by index), and
	// written back by write, in order, at flush.
	sparse bool
	read   map[uint32]*S
	pendK  []uint32
	pendV  []S
}

// slotAccess is how slotPages reaches a map's entries.
type slotAccess int

const (
	slotsWindows slotAccess = iota // windows mapped on first use
	slotsWhole                     // the whole map mapped at once
	slotsSparse                    // entry by entry, with system calls
)

// window is one mapped window of a map: its entries and the mapping.
type window[S any] struct {
	slots []S
	mem   []byte
}

// slotWindow is the size of a window: four pages (a whole number of
// pages; tests make it one, so that a small table spans several).
var slotWindow = 16 << 10

// newSlotPages gives access to m's entries as access says.
func newSlotPages[S any](m *ebpf.Map, access slotAccess) (*slotPages[S], error) {
	var zero S
	size := uint32(unsafe.Sizeof(zero))
	p := &slotPages[S]{m: m, n: m.MaxEntries(), per: uint32(slotWindow) / size, wins: map[uint32]window[S]{}}
	if uint32(slotWindow)%size != 0 {
		return nil, fmt.Errorf("loader: %s entries of %d bytes do not tile a window", m, size)
	}
	if access == slotsSparse {
		p.sparse, p.read = true, map[uint32]*S{}
	}
	if access == slotsWhole {
		all, unmap, err := mapArray[S](m)
		if err != nil {
			return nil, err
		}
		p.all, p.unmapAll = all, unmap
	}
	return p, nil
}

// mapRange maps bytes off .. off+n of m (off a multiple of the page
// size; n rounded up to whole pages).
func mapRange(m *ebpf.Map, off int64, n int) ([]byte, error) {
	page := os.Getpagesize()
	mem, err := unix.Mmap(m.FD(), off, (n+page-1)&^(page-1), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("loader: mapping %s: %w", m, err)
	}
	return mem, nil
}

// at returns entry i (i < n).
func (p *slotPages[S]) at(i uint32) (*S, error) {
	if p.all != nil {
		return &p.all[i], nil
	}
	if p.sparse {
		if s, ok := p.read[i]; ok {
			return s, nil
		}
		// A probe goes on to the next slots: read a few at once.
		run := make([]S, min(sparseRun, p.n-i))
		if err := readRun(p.m, i, run); err != nil {
			return nil, err
		}
		for j := range run {
			if _, ok := p.read[i+uint32(j)]; !ok {
				p.read[i+uint32(j)] = &run[j]
			}
		}
		return p.read[i], nil
	}
	w := i / p.per
	win, ok := p.wins[w]
	if !ok {
		var err error
		if win, err = p.mapWindow(w); err != nil {
			return nil, err
		}
		p.wins[w] = win
	}
	return &win.slots[i-w*p.per], nil
}

// sparseRun is how many consecutive entries a sparse access reads at
// once (a probe window's next slots).
const sparseRun = 8

// prefetch reads, for a sparse access, the sparseRun entries from each of
// firsts on that it has not read, on every CPU at once (the reads are
// system calls: an update of a thousand names makes thousands).
func (p *slotPages[S]) prefetch(firsts []uint32) error {
	if !p.sparse {
		return nil
	}
	var todo []uint32
	for _, f := range firsts {
		if _, ok := p.read[f]; !ok && f < p.n {
			todo = append(todo, f)
		}
	}
	slices.Sort(todo)
	todo = slices.Compact(todo)
	if len(todo) == 0 {
		return nil
	}
	runs := make([][]S, len(todo))
	errs := make([]error, len(todo))
	workers := min(runtime.GOMAXPROCS(0), len(todo))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := w; k < len(todo); k += workers {
				runs[k] = make([]S, min(sparseRun, p.n-todo[k]))
				errs[k] = readRun(p.m, todo[k], runs[k])
			}
		}()
	}
	wg.Wait()
	for k, f := range todo {
		if errs[k] != nil {
			return errs[k]
		}
		for j := range runs[k] {
			if _, ok := p.read[f+uint32(j)]; !ok {
				p.read[f+uint32(j)] = &runs[k][j]
			}
		}
	}
	return nil
}

// batchAttr is the bpf_attr of the BPF_MAP_*_BATCH commands.
type batchAttr struct {
	inBatch, outBatch, keys, values uint64
	count, mapFD                    uint32
	elemFlags, flags                uint64
}

// readRun reads entries first .. first+len(dst)-1 of the array map m
// into dst with one system call (BPF_MAP_LOOKUP_BATCH, which starts
// after the key in_batch points to).
func readRun[S any](m *ebpf.Map, first uint32, dst []S) error {
	if len(dst) == 0 {
		return nil
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	keys := make([]uint32, len(dst))
	prev, out := new(uint32), new(uint32)
	*prev = first - 1
	pin.Pin(&keys[0])
	pin.Pin(&dst[0])
	pin.Pin(prev)
	pin.Pin(out)
	attr := &batchAttr{
		outBatch: uint64(uintptr(unsafe.Pointer(out))),
		keys:     uint64(uintptr(unsafe.Pointer(&keys[0]))),
		values:   uint64(uintptr(unsafe.Pointer(&dst[0]))),
		count:    uint32(len(dst)),
		mapFD:    uint32(m.FD()),
	}
	if first > 0 {
		attr.inBatch = uint64(uintptr(unsafe.Pointer(prev)))
	}
	pin.Pin(attr)
	_, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_MAP_LOOKUP_BATCH, uintptr(unsafe.Pointer(attr)), unsafe.Sizeof(*attr))
	if errno != 0 {
		return fmt.Errorf("loader: reading entries %d+%d of %s: %w", first, len(dst), m, errno)
	}
	for j, k := range keys[:attr.count] {
		if k != first+uint32(j) {
			return fmt.Errorf("loader: reading entries %d+%d of %s: got entry %d at %d", first, len(dst), m, k, j)
		}
	}
	if int(attr.count) != len(dst) {
		return fmt.Errorf("loader: reading entries %d+%d of %s: %d read", first, len(dst), m, attr.count)
	}
	return nil
}

// write makes the map's entry i what at(i) returned holds: a mapping's
// entries are the map's, a sparse access's are written back at flush.
func (p *slotPages[S]) write(i uint32) error {
	if !p.sparse {
		return nil
	}
	s, ok := p.read[i]
	if !ok {
		return fmt.Errorf("loader: entry %d of %s written unread", i, p.m)
	}
	p.pendK, p.pendV = append(p.pendK, i), append(p.pendV, *s)
	return nil
}

// flush writes what write was given since the last flush, in order (one
// system call: a batch update writes its entries one after the other).
func (p *slotPages[S]) flush() error {
	if len(p.pendK) == 0 {
		return nil
	}
	defer func() { p.pendK, p.pendV = p.pendK[:0], p.pendV[:0] }()
	if err := fill(p.m, p.pendK, p.pendV); err != nil {
		return fmt.Errorf("loader: writing %d entries of %s: %w", len(p.pendK), p.m, err)
	}
	return nil
}

// mapWindow maps window w at its place in the reserved region.
func (p *slotPages[S]) mapWindow(w uint32) (window[S], error) {
	first := w * p.per
	n := min(p.per, p.n-first)
	var zero S
	page := uintptr(os.Getpagesize())
	if p.region == nil {
		size := (uintptr(p.n)*unsafe.Sizeof(zero) + page - 1) &^ (page - 1)
		r, err := unix.MmapPtr(-1, 0, nil, size, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
		if err != nil {
			return window[S]{}, fmt.Errorf("loader: reserving %d bytes for %s: %w", size, p.m, err)
		}
		p.region, p.regionLen = r, size
	}
	off := uintptr(w) * uintptr(slotWindow)
	size := (uintptr(n)*unsafe.Sizeof(zero) + page - 1) &^ (page - 1)
	at := unsafe.Add(p.region, off)
	ptr, err := unix.MmapPtr(p.m.FD(), int64(off), at, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_FIXED)
	if err != nil {
		return window[S]{}, fmt.Errorf("loader: mapping %s: %w", p.m, err)
	}
	return window[S]{slots: unsafe.Slice((*S)(ptr), n), mem: unsafe.Slice((*byte)(ptr), size)}, nil
}

// unmapWindow unmaps a window mapWindow mapped (its place stays reserved).
func (p *slotPages[S]) unmapWindow(win window[S]) error {
	_, err := unix.MmapPtr(-1, 0, unsafe.Pointer(unsafe.SliceData(win.mem)), uintptr(len(win.mem)), unix.PROT_NONE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE|unix.MAP_FIXED)
	return err
}

// scan calls f with each entry from first on, in order, mapping one
// window at a time (and unmapping it after) unless the map is mapped
// whole; it stops at f's first error.
func (p *slotPages[S]) scan(first uint32, f func(i uint32, s *S) error) error {
	if p.all != nil {
		for i := first; i < p.n; i++ {
			if err := f(i, &p.all[i]); err != nil {
				return err
			}
		}
		return nil
	}
	for w := first / p.per; w*p.per < p.n; w++ {
		win, kept := p.wins[w]
		if !kept {
			var err error
			if win, err = p.mapWindow(w); err != nil {
				return err
			}
		}
		base := w * p.per
		var err error
		for j := range win.slots {
			if i := base + uint32(j); i >= first {
				s := &win.slots[j]
				if r, ok := p.read[i]; ok {
					s = r // read, maybe changed: the same as the map's once written
				}
				if err = f(i, s); err != nil {
					break
				}
			}
		}
		if !kept {
			_ = p.unmapWindow(win)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// close unmaps everything mapped.
func (p *slotPages[S]) close() error {
	var first error
	if p.region != nil {
		first = unix.MunmapPtr(p.region, p.regionLen)
		p.region, p.regionLen = nil, 0
	}
	p.wins = nil
	if p.unmapAll != nil {
		if err := p.unmapAll(); err != nil && first == nil {
			first = err
		}
		p.unmapAll, p.all = nil, nil
	}
	return first
}
