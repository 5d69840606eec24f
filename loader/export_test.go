//go:build linux

package loader

import (
	"fmt"

	"github.com/xdpdns/xdpdns/bpf"
	"github.com/xdpdns/xdpdns/bpf/abi"
)

// CanonName is a names entry by content: the content hashes of its four
// default templates (zero: abi.Pass), its flags and its cover.
type CanonName struct {
	T     [4]contentHash
	Flags uint32
	Cover uint32
}

// Canon is the content of a generation independent of where anything
// sits in the maps: two generations answer every query alike exactly when
// their Canons are equal.
type Canon struct {
	Names   map[bpf.XdpNameKey]CanonName
	Answers map[bpf.XdpNameKey][2]contentHash
}

// canon computes img's Canon with the loader's hasher.
func canon(h *hasher, img *Image) Canon {
	byContent := *img // templates' zones by content: the maps keep no names
	byContent.DenialNames = nil
	hs := h.hashImage(&byContent)
	id := hs.of
	c := Canon{Names: map[bpf.XdpNameKey]CanonName{}, Answers: map[bpf.XdpNameKey][2]contentHash{}}
	for i, k := range img.NameKeys {
		v := img.NameVals[i]
		c.Names[k] = CanonName{T: [4]contentHash{id(v.ExactDefault[0]), id(v.ExactDefault[1]), id(v.BelowDefault[0]), id(v.BelowDefault[1])}, Flags: v.Flags, Cover: v.Cover}
	}
	for i, k := range img.AnswerKeys {
		v := img.AnswerVals[i]
		c.Answers[k] = [2]contentHash{id(v.Tmpl[0]), id(v.Tmpl[1])}
	}
	return c
}

// ImageCanon is img's Canon.
func (l *Loader) ImageCanon(img *Image) Canon { return canon(l.hasher, img) }

// LiveCanon reads the live generation back from the kernel's maps and
// returns its Canon. It fails when an entry's two versions differ (an
// update not settled: an answers entry's versions, a names entry still
// pointing to names_side).
func (l *Loader) LiveCanon() (Canon, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.gens[l.slot]
	r := &reader{g: g, img: &Image{Templates: []bpf.XdpTmpl{{}}, DenialZones: []bpf.XdpDenialZone{{}}},
		tmpl: map[uint32]uint32{0: 0}, view: map[uint16]uint16{}}
	// Removed entries (absent from both versions) stay in the tables as
	// slots to reuse; each skips them.
	err := g.names.each(func(k bpf.XdpNameKey, e bpf.XdpNameEnt) error {
		if i, side := sideIndex(e); side {
			return fmt.Errorf("name %x: versions in names_side entry %d", k, i)
		}
		x := unpackName(e)
		for i := range 2 {
			var err error
			if x.ExactDefault[i], err = r.template(x.ExactDefault[i]); err != nil {
				return err
			}
			if x.BelowDefault[i], err = r.template(x.BelowDefault[i]); err != nil {
				return err
			}
		}
		r.img.NameKeys, r.img.NameVals = append(r.img.NameKeys, k), append(r.img.NameVals, x)
		return nil
	})
	if err != nil {
		return Canon{}, err
	}
	err = g.answers.each(func(k bpf.XdpNameKey, v bpf.XdpAnswerVal) error {
		if v.V[0] != v.V[1] {
			return fmt.Errorf("answer %x: versions %+v", k, v.V)
		}
		x := v.V[0]
		for i := range 2 {
			var err error
			if x.Tmpl[i], err = r.template(x.Tmpl[i]); err != nil {
				return err
			}
		}
		r.img.AnswerKeys, r.img.AnswerVals = append(r.img.AnswerKeys, k), append(r.img.AnswerVals, x)
		return nil
	})
	if err != nil {
		return Canon{}, err
	}
	return canon(l.hasher, r.img), nil
}

// reader copies the templates and denial zones live entries refer to into
// a compact image.
type reader struct {
	g    *generation
	img  *Image
	tmpl map[uint32]uint32
	view map[uint16]uint16
}

func (r *reader) chunks(first uint32, n uint32) (uint32, error) {
	at := uint32(len(r.img.Chunks))
	for i := uint32(0); i < n; i++ {
		var c bpf.XdpChunk
		if err := r.g.chunks.Lookup(first+i, &c); err != nil {
			return 0, fmt.Errorf("chunk %d: %w", first+i, err)
		}
		r.img.Chunks = append(r.img.Chunks, c)
	}
	return at, nil
}

func (r *reader) template(id uint32) (uint32, error) {
	if i, ok := r.tmpl[id]; ok {
		return i, nil
	}
	var t bpf.XdpTmpl
	if id&abi.SharedTmpl != 0 {
		var tv bpf.XdpTmplVersions
		if err := r.g.sharedTemplates.Lookup(id&^abi.SharedTmpl, &tv); err != nil {
			return 0, fmt.Errorf("shared template %#x: %w", id, err)
		}
		if tv.V[0] != tv.V[1] {
			return 0, fmt.Errorf("shared template %#x: versions differ", id)
		}
		t = tv.V[0]
	} else if err := r.g.templates.Lookup(id, &t); err != nil {
		return 0, fmt.Errorf("template %d: %w", id, err)
	}
	i := uint32(len(r.img.Templates))
	r.tmpl[id] = i
	r.img.Templates = append(r.img.Templates, bpf.XdpTmpl{})
	head, all := tmplChunks(&t)
	var err error
	if t.SlotOff == abi.NoSlot {
		t.FirstChunk, err = r.chunks(t.FirstChunk, all)
	} else if all > 0 {
		if t.FirstChunk, err = r.chunks(t.FirstChunk, head); err == nil {
			t.TailChunk, err = r.chunks(t.TailChunk, all-head)
		}
	}
	if err != nil {
		return 0, err
	}
	if moreRelocs(&t) {
		t.RelocChunk = t.FirstChunk + all - 1 // the runs were copied in a row
	}
	if t.SlotOff != abi.NoSlot {
		vz, err := r.zone(t.DenialZone)
		if err != nil {
			return 0, err
		}
		t.DenialZone = vz
	}
	r.img.Templates[i] = t
	return i, nil
}

func (r *reader) zone(id uint16) (uint16, error) {
	if i, ok := r.view[id]; ok {
		return i, nil
	}
	var zv bpf.XdpDenialZoneVersions
	if err := r.g.denialZones.Lookup(uint32(id), &zv); err != nil {
		return 0, fmt.Errorf("denial zone %d: %w", id, err)
	}
	if zv.V[0] != zv.V[1] {
		return 0, fmt.Errorf("denial zone %d: versions %+v", id, zv.V)
	}
	z := zv.V[0]
	i := uint16(len(r.img.DenialZones))
	r.view[id] = i
	r.img.DenialZones = append(r.img.DenialZones, bpf.XdpDenialZone{})
	nz := z
	nz.EntryBase, nz.IndexBase = uint32(len(r.img.DenialEntries)), uint32(len(r.img.DenialIndex))
	for b := uint32(0); b <= 1<<z.IndexBits; b++ {
		var w uint32
		if err := r.g.denialIndex.Lookup(z.IndexBase+b, &w); err != nil {
			return 0, err
		}
		r.img.DenialIndex = append(r.img.DenialIndex, w-z.EntryBase+nz.EntryBase)
	}
	for j := z.EntryBase; j < z.EntryBase+z.EntryCount; j++ {
		var e bpf.XdpDenialEntry
		if err := r.g.denialEntries.Lookup(j, &e); err != nil {
			return 0, err
		}
		var err error
		if e.FirstChunk, err = r.chunks(e.FirstChunk, chunksOf(int(e.Len))); err != nil {
			return 0, err
		}
		r.img.DenialEntries = append(r.img.DenialEntries, e)
	}
	r.img.DenialZones[i] = nz
	return i, nil
}

// LiveUse counts the templates (plain, and shared ones in use) and the
// denial zones the live generation holds.
func (l *Loader) LiveUse() (templates, zones int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.settleLive()
	for _, t := range l.live.tmpls {
		if t.live {
			templates++
		}
	}
	for _, t := range l.live.shared {
		if t.live && t.refs > 0 {
			templates++
		}
	}
	for _, v := range l.live.views {
		if v.live {
			zones++
		}
	}
	return templates, zones
}

// SetTableSeed makes f draw the seeds of the names and answers tables
// built from now on (nil: at random).
func (l *Loader) SetTableSeed(f func() uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tableSeed = f
}

// TableHome is the home slot of k in a names or answers table of n
// slots and seed seed.
func TableHome(seed uint64, n uint32, k bpf.XdpNameKey) uint32 { return tableHome(seed, n, k) }

// TableSizes are the slots of the live names and answers tables.
func (l *Loader) TableSizes() (names, answers uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.gens[l.slot]
	return g.names.n, g.answers.n
}

// NameReach reads the live names table and returns how far each name
// (removed ones included) sits from its home.
func (l *Loader) NameReach() (map[bpf.XdpNameKey]uint32, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return reach(l.gens[l.slot].names)
}

// AnswerReach is NameReach for the answers table.
func (l *Loader) AnswerReach() (map[bpf.XdpNameKey]uint32, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return reach(l.gens[l.slot].answers)
}

func reach[S, W any, V comparable](t *table[S, W, V]) (map[bpf.XdpNameKey]uint32, error) {
	slots, done, err := t.slotsView(slotsWindows)
	if err != nil {
		return nil, err
	}
	defer done()
	out := map[bpf.XdpNameKey]uint32{}
	err = slots.scan(1, func(i uint32, s *S) error {
		if k := *t.kind.key(s); k != (bpf.XdpNameKey{}) {
			out[k] = t.dist(i-1, t.home(k))
		}
		return nil
	})
	return out, err
}

// SetSlotWindow makes the tables' windows n bytes (a whole number of
// pages) and returns what puts the size back.
func SetSlotWindow(n int) (restore func()) {
	old := slotWindow
	slotWindow = n
	return func() { slotWindow = old }
}

// BuildNames builds a names table of keys alone (newTable, seed fixed)
// and returns how far each key sits from its home, and whether a slot
// between a key's home and its slot is empty (the program's probe would
// stop there, before the key).
func (l *Loader) BuildNames(keys []bpf.XdpNameKey, seed uint64) (reachOf map[bpf.XdpNameKey]uint32, holes int, err error) {
	vals := make([]bpf.XdpNameVer, len(keys))
	t, err := newTable(nameSlots, l.innerSpec("names"), keys, vals, len(keys), func() uint64 { return seed })
	if err != nil {
		return nil, 0, err
	}
	defer t.m.Close()
	if reachOf, err = reach(t); err != nil {
		return nil, 0, err
	}
	slots, done, err := t.slotsView(slotsWhole)
	if err != nil {
		return nil, 0, err
	}
	defer done()
	for k, d := range reachOf {
		home := t.home(k)
		for p := uint32(0); p < d; p++ {
			if *t.kind.key(&slots.all[t.slot(home, p)]) == (bpf.XdpNameKey{}) {
				holes++
			}
		}
	}
	return reachOf, holes, nil
}

// BuildNamesOnly builds a names table of keys and vals (reordered by
// it) with seed and frees it: the restart's table build, for the
// benchmark.
func (l *Loader) BuildNamesOnly(keys []bpf.XdpNameKey, vals []bpf.XdpNameVer, seed uint64) error {
	t, err := newTable(nameSlots, l.innerSpec("names"), keys, vals, len(keys), func() uint64 { return seed })
	if err != nil {
		return err
	}
	return t.m.Close()
}

// ChunkUse is how many chunks the live state holds (the live templates'
// runs, the denial zones' runs and those they keep from zones they
// patched) and how many its allocator has given out (equal unless chunks
// leak or are freed twice), how many runs the live zones keep, and the
// garbage among their chunks: as recorded, and as counted from their
// entries.
func (l *Loader) ChunkUse() (held, allocated uint32, kept int, garbage, unused uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.settleLive()
	lv := l.live
	for _, ts := range [][]tmplInfo{lv.tmpls, lv.shared} {
		for _, t := range ts {
			if t.live {
				held += t.nchunks
			}
		}
	}
	for _, v := range lv.views {
		if v.live {
			held += v.nchunks
			for _, r := range v.kept {
				held += r.n
			}
			kept += len(v.kept)
			garbage += v.garbage
			entries, done, err := mappedRange[bpf.XdpDenialEntry](lv.entryMap, v.entry, v.nentries)
			if err != nil {
				panic(err)
			}
			unused += v.nchunks
			for _, r := range v.kept {
				unused += r.n
			}
			for _, e := range entries {
				unused -= chunksOf(int(e.Len))
			}
			_ = done()
		}
	}
	allocated = lv.chunks.next
	for n, starts := range lv.chunks.short {
		allocated -= n * uint32(len(starts))
	}
	for _, r := range lv.chunks.long {
		allocated -= r.n
	}
	return held, allocated, kept, garbage, unused
}

// SetMaxKept sets how many runs of chunks a patched zone keeps before it
// is written again whole (maxKept); restore sets it back.
func SetMaxKept(n int) (restore func()) {
	old := maxKept
	maxKept = n
	return func() { maxKept = old }
}

// SetSpareMin sets the fewest entries of a zone given a spare room when
// its generation is recorded (spareMin).
func SetSpareMin(n uint32) (restore func()) {
	old := spareMin
	spareMin = n
	return func() { spareMin = old }
}

// SetDenialSlack sets the least room beyond their image's that a
// generation's denial entry and index maps get (slackMin by default).
func SetDenialSlack(n int) (restore func()) {
	old := denialSlackMin
	denialSlackMin = n
	return func() { denialSlackMin = old }
}

// EntryUse is how many denial entries the live state holds (its zones'
// rooms and spare rooms) and how many its allocator has given out (equal
// unless entries leak or are freed twice).
func (l *Loader) EntryUse() (held, allocated uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.settleLive()
	lv := l.live
	for _, v := range lv.views {
		if v.live {
			held += v.entryRoom
			if v.spare != nil {
				held += v.spare.room
			}
		}
	}
	allocated = lv.entries.next + lv.entries.limit - lv.entries.cap
	for n, starts := range lv.entries.short {
		allocated -= n * uint32(len(starts))
	}
	for _, r := range lv.entries.long {
		allocated -= r.n
	}
	return held, allocated
}

// ForceSparse makes every update reach the tables' slots one by one
// (sparse: true) or window by window; restore puts the choice by size
// back.
func ForceSparse(sparse bool) (restore func()) {
	a := slotsWindows
	if sparse {
		a = slotsSparse
	}
	old := forcedAccess
	forcedAccess = &a
	return func() { forcedAccess = old }
}

// CheckTemplateViews reports a live template that fills its slots from a
// denial zone that is not live, and a live zone whose count of readers
// (viewInfo.readers) is not the live templates reading it, counted anew.
func (l *Loader) CheckTemplateViews() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.settleLive()
	lv := l.live
	if lv == nil {
		return nil
	}
	want := make([]uint32, len(lv.views))
	for _, ts := range [][]tmplInfo{lv.tmpls, lv.shared} {
		for i := range ts {
			t := &ts[i]
			if !t.live || t.view == 0 {
				continue
			}
			if !lv.views[t.view].live {
				return fmt.Errorf("template %d (%d references) reads denial zone %d, which is not live", i, t.refs, t.view)
			}
			want[t.view]++
		}
	}
	for id := range lv.views {
		if v := &lv.views[id]; v.live && v.readers != want[id] {
			return fmt.Errorf("denial zone %d counts %d readers, %d live templates read it", id, v.readers, want[id])
		}
	}
	return nil
}

// SetStageHook sets the hook an update calls at its stages (Loader.stageHook).
func (l *Loader) SetStageHook(f func(stage string)) { l.stageHook = f }

// SideEntries counts the names entries of the live generation that point
// to names_side. For a stage hook: it takes no lock.
func (l *Loader) SideEntries() (int, error) {
	n := 0
	err := l.gens[l.slot].names.each(func(_ bpf.XdpNameKey, e bpf.XdpNameEnt) error {
		if _, side := sideIndex(e); side {
			n++
		}
		return nil
	})
	return n, err
}

// Graces is how many grace periods the loader has waited.
func (l *Loader) Graces() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.graces
}

// LiveMapFDs are the descriptors of the live generation's zone maps.
func (l *Loader) LiveMapFDs() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var fds []int
	for _, m := range l.gens[l.slot].maps() {
		if m != nil {
			fds = append(fds, m.FD())
		}
	}
	return fds
}
