//go:build linux

package loader

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/xdpdns/xdpdns/bpf"
)

// A patch of a live denial zone (Image.DenialPatches: a changed NSEC3
// chain) holds only the entries that change, so neither the compiler nor
// the update handles the chain's hundreds of thousands of unchanged
// entries one by one in Go. The patched zone keeps the live zone's
// pieces where they are (keepChunks), its new pieces in a run of their
// own, and its entries go where no packet reads: into the zone's spare
// room (the room of its content before the last change, or a copy of it
// made at load: makeSpares), brought up to date by that change first,
// in place, only the entries that move or change written (applyPatch);
// else (a small zone's first patch, a spare written whole before, or
// the zone grown past it) copied from the live entries, into the spare
// when it fits, else into new room. When the garbage among the kept
// chunks grows too large, the patch writes every piece again into one
// run (write), into the spare too.

// patchWrite is a patch to write: its runs and the entries of the image
// (at patch.Slots), from the live zone live to the new room of
// viewInfo[view].
type patchWrite struct {
	patch   *DenialPatch
	entries []bpf.XdpDenialEntry
	chunks  []bpf.XdpChunk
	live    viewInfo
	view    int
	keep    bool       // the live zone's chunks kept (keepChunks): its entries copied as they are
	spare   *spareRoom // the room written, when it is the live zone's spare (brought up to date first, unless stale)
}

// inPlace reports whether w is applied in place to the spare room it is
// written to: it keeps the pieces, and the room holds the content before
// the last patch.
func (w *patchWrite) inPlace() bool { return w.keep && w.spare != nil && !w.spare.stale }

// mappedRange maps entries first .. first+n-1 of the mmapable array map m;
// done unmaps them.
func mappedRange[T any](m *ebpf.Map, first, n uint32) (entries []T, done func() error, err error) {
	if n == 0 {
		return nil, func() error { return nil }, nil
	}
	var zero T
	size := int64(unsafe.Sizeof(zero))
	start := int64(first) * size
	off := start &^ int64(os.Getpagesize()-1)
	mem, err := mapRange(m, off, int(start-off+int64(n)*size))
	if err != nil {
		return nil, nil, err
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&mem[start-off])), n), func() error { return unix.Munmap(mem) }, nil
}

// runChunks is how many chunks the pieces of live zone v's entries in
// runs take (carried), and those of all its entries (used): its chunks
// but the garbage, less those of the entries no run takes, read from the
// map (a few: the records a change removes or changes); ErrImage when a
// run is not among its entries, or two take the same one.
func (lv *liveState) runChunks(v viewInfo, runs []PatchRun) (carried, used uint32, err error) {
	byFrom := slices.Clone(runs)
	slices.SortFunc(byFrom, func(a, b PatchRun) int { return cmp.Compare(a.From, b.From) })
	used = v.nchunks - v.garbage
	for _, r := range v.kept {
		used += r.n
	}
	dropped, next := uint32(0), uint32(0)
	drop := func(first, end uint32) error {
		for first < end {
			batch := make([]bpf.XdpDenialEntry, min(end-first, 4096))
			if err := readRun(lv.entryMap, v.entry+first, batch); err != nil {
				return fmt.Errorf("%w: %w", ErrNoUpdate, err)
			}
			for _, e := range batch {
				dropped += chunksOf(int(e.Len))
			}
			first += uint32(len(batch))
		}
		return nil
	}
	for _, r := range byFrom {
		if uint64(r.From)+uint64(r.N) > uint64(v.nentries) || r.From < next {
			return 0, 0, fmt.Errorf("%w: a patch takes entries %d+%d of a live zone of %d, or twice", ErrImage, r.From, r.N, v.nentries)
		}
		if err := drop(next, r.From); err != nil {
			return 0, 0, err
		}
		next = r.From + r.N
	}
	if err := drop(next, v.nentries); err != nil {
		return 0, 0, err
	}
	if dropped > used {
		return 0, 0, fmt.Errorf("%w: a live zone's entries use %d chunks, its record %d", ErrNoUpdate, dropped, used)
	}
	return used - dropped, used, nil
}

// garbageDiv and maxKept bound what a patched zone keeps of the zones it
// patched: while its garbage stays below 1/garbageDiv of its chunks and
// it keeps fewer than maxKept runs, its pieces stay where they are (the
// patch writes only its entries and new pieces); past that, every piece
// is written again into one run.
const garbageDiv = 4

var maxKept = 32 // a variable for the tests

// keepChunks reports whether a patch of live zone lz, carrying pieces of
// carried of the used chunks its entries use and adding fresh, keeps
// lz's chunks.
func keepChunks(lz *viewInfo, carried, used, fresh uint32) bool {
	total := lz.nchunks + fresh
	for _, r := range lz.kept {
		total += r.n
	}
	return len(lz.kept) < maxKept && (lz.garbage+used-carried)*garbageDiv <= total
}

// writePatches writes the entries and chunks of p's patches to their new
// room: the runs' from the live zones, the others' from the image.
func writePatches(g *generation, p *updatePlan) error {
	for k := range p.patches {
		w := &p.patches[k]
		rec, err := w.write(g, p.viewInfo[w.view])
		if err != nil {
			return err
		}
		if rec != nil {
			if p.records == nil {
				p.records = make(map[int]*patchRecord)
			}
			p.records[w.view] = rec
		}
	}
	return nil
}

// applyPatch writes into dst the content src (a zone's entries) takes
// with the patch rec: its runs moved from src where they go, then its
// other entries. dst may be src itself (in place): the runs moving down
// go first, in order, then those moving up, from the last, so that no
// run's source is written before it is read (the patch keeps the
// entries' order).
func applyPatch(dst, src []bpf.XdpDenialEntry, rec *patchRecord) error {
	for _, r := range rec.runs {
		if uint64(r.To)+uint64(r.N) > uint64(len(dst)) || uint64(r.From)+uint64(r.N) > uint64(len(src)) {
			return fmt.Errorf("loader: a patch moves entries %d+%d of %d to %d of %d", r.From, r.N, len(src), r.To, len(dst))
		}
	}
	inPlace := len(dst) > 0 && len(src) > 0 && &dst[0] == &src[0]
	for _, r := range rec.runs {
		if r.To < r.From || r.To == r.From && !inPlace { // in place, an entry that stays is not written
			copy(dst[r.To:r.To+r.N], src[r.From:r.From+r.N])
		}
	}
	for k := len(rec.runs) - 1; k >= 0; k-- {
		if r := rec.runs[k]; r.To > r.From {
			copy(dst[r.To:r.To+r.N], src[r.From:r.From+r.N])
		}
	}
	for k, slot := range rec.slots {
		if slot >= uint32(len(dst)) {
			return fmt.Errorf("loader: a patch sets entry %d of %d", slot, len(dst))
		}
		dst[slot] = rec.fresh[k]
	}
	return nil
}

// write writes patch w to the room of v; when it keeps the pieces, it
// returns the patch as written (for the spare room it leaves).
func (w *patchWrite) write(g *generation, v viewInfo) (*patchRecord, error) {
	var dones []func() error
	defer func() {
		for _, d := range dones {
			_ = d()
		}
	}()
	if w.keep {
		return w.writeKept(g, v, &dones)
	}
	liveEntries, done, err := mappedRange[bpf.XdpDenialEntry](g.denialEntries, w.live.entry, w.live.nentries)
	if err != nil {
		return nil, err
	}
	dones = append(dones, done)
	// The runs the live zone's pieces lie in: every piece is written
	// again, into one run.
	type mappedRun struct {
		run
		c []bpf.XdpChunk
	}
	var liveRuns []mappedRun
	for _, r := range append([]run{{w.live.chunk, w.live.nchunks}}, w.live.kept...) {
		c, done, err := mappedRange[bpf.XdpChunk](g.chunks, r.start, r.n)
		if err != nil {
			return nil, err
		}
		dones = append(dones, done)
		liveRuns = append(liveRuns, mappedRun{r, c})
	}
	livePiece := func(e bpf.XdpDenialEntry) ([]bpf.XdpChunk, bool) {
		n := chunksOf(int(e.Len))
		for _, r := range liveRuns {
			if e.FirstChunk >= r.start && uint64(e.FirstChunk)+uint64(n) <= uint64(r.start)+uint64(r.n) {
				return r.c[e.FirstChunk-r.start:], true
			}
		}
		return nil, n == 0
	}
	entries, done, err := mappedRange[bpf.XdpDenialEntry](g.denialEntries, v.entry, v.nentries)
	if err != nil {
		return nil, err
	}
	dones = append(dones, done)
	chunks, done, err := mappedRange[bpf.XdpChunk](g.chunks, v.chunk, v.nchunks)
	if err != nil {
		return nil, err
	}
	dones = append(dones, done)
	c := uint32(0) // the next chunk of the room
	put := func(slot uint32, e bpf.XdpDenialEntry, src []bpf.XdpChunk) error {
		n := chunksOf(int(e.Len))
		if c+n > v.nchunks || slot >= v.nentries {
			return fmt.Errorf("loader: a patch outgrows its room (%d chunks, %d entries)", v.nchunks, v.nentries)
		}
		copy(chunks[c:c+n], src[:n])
		e.FirstChunk = v.chunk + c
		entries[slot] = e
		c += n
		return nil
	}
	for _, r := range w.patch.Runs {
		for k := range r.N {
			e := liveEntries[r.From+k]
			src, ok := livePiece(e)
			if !ok {
				return nil, fmt.Errorf("loader: live denial entry %d has chunks outside its zone's", w.live.entry+r.From+k)
			}
			if err := put(r.To+k, e, src); err != nil {
				return nil, err
			}
		}
	}
	for k, e := range w.entries {
		if err := put(w.patch.Slots[k], e, w.chunks[e.FirstChunk:]); err != nil {
			return nil, err
		}
	}
	return nil, unmapAll(&dones)
}

// unmapAll undoes the mappings of dones, emptied.
func unmapAll(dones *[]func() error) error {
	var first error
	for _, d := range *dones {
		if err := d(); err != nil && first == nil {
			first = fmt.Errorf("loader: unmapping: %w", err)
		}
	}
	*dones = nil
	return first
}

// writeKept writes patch w, which keeps the live zone's pieces where
// they are, to the room of v: the new pieces into its run of chunks; the
// entries copied from the live zone's, or, in the zone's spare room, the
// patch it lacks applied and then this one, in place.
func (w *patchWrite) writeKept(g *generation, v viewInfo, dones *[]func() error) (*patchRecord, error) {
	chunks, done, err := mappedRange[bpf.XdpChunk](g.chunks, v.chunk, v.nchunks)
	if err != nil {
		return nil, err
	}
	*dones = append(*dones, done)
	rec := &patchRecord{runs: w.patch.Runs, slots: w.patch.Slots, fresh: make([]bpf.XdpDenialEntry, len(w.entries)), count: v.nentries}
	c := uint32(0)
	for k, e := range w.entries {
		n := chunksOf(int(e.Len))
		if c+n > v.nchunks {
			return nil, fmt.Errorf("loader: a patch outgrows its room (%d chunks)", v.nchunks)
		}
		copy(chunks[c:c+n], w.chunks[e.FirstChunk:e.FirstChunk+n])
		e.FirstChunk = v.chunk + c
		rec.fresh[k] = e
		c += n
	}
	if w.inPlace() {
		room, done, err := mappedRange[bpf.XdpDenialEntry](g.denialEntries, v.entry, v.entryRoom)
		if err != nil {
			return nil, err
		}
		*dones = append(*dones, done)
		if b := w.spare.behind; b != nil {
			if err := applyPatch(room, room, b); err != nil {
				return nil, err
			}
		}
		if err := applyPatch(room, room, rec); err != nil {
			return nil, err
		}
		return rec, unmapAll(dones)
	}
	liveEntries, done, err := mappedRange[bpf.XdpDenialEntry](g.denialEntries, w.live.entry, w.live.nentries)
	if err != nil {
		return nil, err
	}
	*dones = append(*dones, done)
	entries, done, err := mappedRange[bpf.XdpDenialEntry](g.denialEntries, v.entry, v.nentries)
	if err != nil {
		return nil, err
	}
	*dones = append(*dones, done)
	if err := applyPatch(entries, liveEntries, rec); err != nil {
		return nil, err
	}
	return rec, unmapAll(dones)
}

// copyEntries copies n denial entries of g from index from on to index to
// on (apart).
func copyEntries(g *generation, from, to, n uint32) error {
	src, done, err := mappedRange[bpf.XdpDenialEntry](g.denialEntries, from, n)
	if err != nil {
		return err
	}
	defer func() { _ = done() }()
	dst, doneDst, err := mappedRange[bpf.XdpDenialEntry](g.denialEntries, to, n)
	if err != nil {
		return err
	}
	copy(dst, src)
	return doneDst()
}
