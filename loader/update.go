//go:build linux

package loader

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/cilium/ebpf"

	"github.com/xdpdns/xdpdns/bpf"
	"github.com/xdpdns/xdpdns/bpf/abi"
)

// ErrNoUpdate says that Update cannot apply an image in place (no
// generation made by Swap to update, or not enough room left in its maps);
// the caller swaps in a new generation instead. Nothing has changed.
var ErrNoUpdate = errors.New("loader: cannot update the live generation in place")

// A generation made by Swap has room beyond its image for the templates,
// chunks, names and denial zones of later updates: an eighth more, and at
// least slackMin entries of each map.
const (
	slackDiv = 8
	slackMin = 1024
)

// withSlack is the capacity of a map holding n entries, room for updates
// included.
func withSlack(n int) int { return n + n/slackDiv + slackMin }

// rewriteRoom is the room, beyond withSlack, that an update needs to
// write a new version of img's largest denial zone while the old one is
// live: its entries, index words and pieces' chunks.
func rewriteRoom(img *Image) [capMaps]int {
	var room [capMaps]int
	for i := 1; i < len(img.DenialZones); i++ {
		z := &img.DenialZones[i]
		if int(z.EntryBase)+int(z.EntryCount) > len(img.DenialEntries) {
			continue // checkImage refuses it
		}
		chunks := 0
		for _, e := range img.DenialEntries[z.EntryBase : z.EntryBase+z.EntryCount] {
			chunks += int(chunksOf(int(e.Len)))
		}
		room[capDenialEntries] = max(room[capDenialEntries], int(z.EntryCount))
		room[capDenialIndex] = max(room[capDenialIndex], 1<<z.IndexBits+1)
		room[capChunks] = max(room[capChunks], chunks)
	}
	return room
}

// maxDenialZoneID bounds denial zone ids (tmpl.denial_zone is 16 bits).
const maxDenialZoneID = 0xffff

// absentName and absentAnswer are the versions of an entry that is not
// in a generation.
var (
	absentName   = bpf.XdpNameVer{Flags: abi.NameFlagAbsent}
	absentAnswer = bpf.XdpAnswerVer{Tmpl: [2]uint32{abi.Absent, abi.Absent}}
)

// UpdateStats says what an Update wrote.
type UpdateStats struct {
	Serial                              uint32 // the generation's new serial
	NamesChanged, NamesAdded, NamesGone int
	AnswersChanged, AnswersGone         int
	Templates, DenialZones, Chunks      int // written (new content)
	TemplatesFreed, DenialZonesFreed    int
}

// tmplInfo is what the loader remembers of a live template: its content
// and its chunks (head and tail in one run).
type tmplInfo struct {
	h              contentHash
	chunk, nchunks uint32
	live           bool
}

// viewInfo is what the loader remembers of a live denial zone: its
// content and where its entries, index words and pieces' chunks are.
type viewInfo struct {
	h               contentHash
	entry, nentries uint32
	index, nindex   uint32
	chunk, nchunks  uint32
	live            bool
}

type liveName struct {
	v    bpf.XdpNameVer
	mark uint32
}

type liveAnswer struct {
	v    bpf.XdpAnswerVer
	mark uint32
}

// liveState is the Go side's record of the live generation's maps, kept
// so that Update writes only what changed: every names and answers entry,
// each template's and denial zone's content hash and place, and what is
// free in the arrays.
type liveState struct {
	h          *hasher
	names      map[bpf.XdpNameKey]liveName
	answers    map[bpf.XdpAnswerKey]liveAnswer
	tmpls      []tmplInfo // by template id
	views      []viewInfo // by denial zone id
	tmplByHash map[contentHash]uint32
	viewByHash map[contentHash]uint16
	tmplIDs    *runs // template ids (runs of 1)
	viewIDs    *runs
	chunks     *runs
	entries    *runs
	index      *runs
	filter     []uint64
	nameCap    int
	answerCap  int
	mark       uint32
}

// chunksOf is the number of chunks holding n body bytes.
func chunksOf(n int) uint32 { return uint32((n + abi.ChunkSize - 1) / abi.ChunkSize) }

// tmplChunks is the number of chunks of template t: its body, or its head
// and tail each starting a chunk.
func tmplChunks(t *bpf.XdpTmpl) (head, all uint32) {
	switch {
	case t.Flags&abi.FlagTooBig != 0:
		return 0, 0
	case t.SlotOff == abi.NoSlot:
		n := chunksOf(int(t.BodyLen))
		return n, n
	}
	head = chunksOf(int(t.SlotOff))
	return head, head + chunksOf(int(t.BodyLen)-int(t.SlotOff))
}

// newLiveState records img, as Swap placed it in g, for later updates; nil
// when its layout is not one Update can reuse (a template's head and tail,
// or a denial zone's pieces, not in one run of chunks).
func newLiveState(h *hasher, img *Image, g *generation) *liveState {
	hs := h.hashImage(img)
	lv := &liveState{
		h:          h,
		names:      make(map[bpf.XdpNameKey]liveName, len(img.NameKeys)),
		answers:    make(map[bpf.XdpAnswerKey]liveAnswer, len(img.AnswerKeys)),
		tmpls:      make([]tmplInfo, g.caps[capTemplates]),
		views:      make([]viewInfo, g.caps[capDenialZones]),
		tmplByHash: make(map[contentHash]uint32, len(img.Templates)),
		viewByHash: make(map[contentHash]uint16, len(img.DenialZones)),
		tmplIDs:    newRuns(uint32(max(len(img.Templates), 1)), uint32(g.caps[capTemplates])),
		viewIDs:    newRuns(uint32(max(len(img.DenialZones), 1)), uint32(min(g.caps[capDenialZones], maxDenialZoneID))),
		chunks:     newRuns(uint32(len(img.Chunks)), uint32(g.caps[capChunks])),
		entries:    newRuns(uint32(len(img.DenialEntries)), uint32(g.caps[capDenialEntries])),
		index:      newRuns(uint32(len(img.DenialIndex)), uint32(g.caps[capDenialIndex])),
		filter:     append([]uint64(nil), img.NameFilter...),
		nameCap:    g.caps[capNames],
		answerCap:  g.caps[capAnswers],
	}
	for i, k := range img.NameKeys {
		lv.names[k] = liveName{v: img.NameVals[i]}
	}
	for i, k := range img.AnswerKeys {
		lv.answers[k] = liveAnswer{v: img.AnswerVals[i]}
	}
	for i := 1; i < len(img.Templates); i++ {
		t := &img.Templates[i]
		head, all := tmplChunks(t)
		if t.SlotOff != abi.NoSlot && all > 0 && t.TailChunk != t.FirstChunk+head {
			return nil
		}
		lv.tmpls[i] = tmplInfo{h: hs.tmpl[i], chunk: t.FirstChunk, nchunks: all, live: true}
		if _, dup := lv.tmplByHash[hs.tmpl[i]]; !dup {
			lv.tmplByHash[hs.tmpl[i]] = uint32(i)
		}
	}
	for i := 1; i < len(img.DenialZones); i++ {
		z := &img.DenialZones[i]
		v := viewInfo{h: hs.view[i], entry: z.EntryBase, nentries: z.EntryCount, index: z.IndexBase, nindex: 1<<z.IndexBits + 1, live: true}
		for j := z.EntryBase; j < z.EntryBase+z.EntryCount; j++ {
			e := &img.DenialEntries[j]
			if j == z.EntryBase {
				v.chunk = e.FirstChunk
			}
			if e.FirstChunk != v.chunk+v.nchunks {
				return nil
			}
			v.nchunks += chunksOf(int(e.Len))
		}
		lv.views[i] = v
		if _, dup := lv.viewByHash[hs.view[i]]; !dup {
			lv.viewByHash[hs.view[i]] = uint16(i)
		}
	}
	return lv
}

// updatePlan is an Update worked out before anything is written: where
// each of the image's templates and denial zones lives (reused or newly
// placed), the array entries to write, and the names and answers entries
// that change.
type updatePlan struct {
	tmplID []uint32 // image template index -> live id
	viewID []uint16 // image denial zone index -> live id
	// New content placed in free room, and what it is.
	newTmpl, newView      map[contentHash]uint32
	viewIdx               map[uint16]int // new denial zone id -> its index in viewKeys
	filterIdx             map[uint32]int // filter word -> its index in filterKeys
	tmplInfo              []tmplInfo     // by new id order of tmplKeys
	viewInfo              []viewInfo
	chunkKeys             []uint32
	chunkVals             []bpf.XdpChunk
	tmplKeys              []uint32
	tmplVals              []bpf.XdpTmpl
	viewKeys              []uint32
	viewVals              []bpf.XdpDenialZone
	entryKeys, indexKeys  []uint32
	entryVals             []bpf.XdpDenialEntry
	indexVals             []uint32
	filterKeys            []uint32
	filterVals            []uint64
	nameKeys              []bpf.XdpNameKey
	nameOld, nameNew      []bpf.XdpNameVer // absentName: added / gone
	answerKeys            []bpf.XdpAnswerKey
	answerOld, answerNew  []bpf.XdpAnswerVer
	namesAdded, namesGone int
	answersAdded          int
}

// plan places img's new content in the live generation's free room; the
// allocations are journaled, so rollback undoes them. ErrNoUpdate when
// there is no room.
func (lv *liveState) plan(img *Image, hs imageHashes) (*updatePlan, error) {
	p := &updatePlan{
		tmplID:  make([]uint32, len(img.Templates)),
		viewID:  make([]uint16, len(img.DenialZones)),
		newTmpl: make(map[contentHash]uint32),
		newView: make(map[contentHash]uint32),
		viewIdx: make(map[uint16]int),
	}
	noRoom := func(what string) error { return fmt.Errorf("%w: no room for %s", ErrNoUpdate, what) }
	// Denial zones first: templates refer to their entries.
	for i := 1; i < len(img.DenialZones); i++ {
		h := hs.view[i]
		if id, ok := lv.viewByHash[h]; ok {
			p.viewID[i] = id
			continue
		}
		if j, ok := p.newView[h]; ok {
			p.viewID[i] = uint16(p.viewKeys[j])
			continue
		}
		z := &img.DenialZones[i]
		v := viewInfo{h: h, nentries: z.EntryCount, nindex: 1<<z.IndexBits + 1, live: true}
		for j := z.EntryBase; j < z.EntryBase+z.EntryCount; j++ {
			v.nchunks += chunksOf(int(img.DenialEntries[j].Len))
		}
		id, ok1 := lv.viewIDs.alloc(1)
		var ok2, ok3, ok4 bool
		v.entry, ok2 = lv.entries.alloc(v.nentries)
		v.index, ok3 = lv.index.alloc(v.nindex)
		v.chunk, ok4 = lv.chunks.alloc(v.nchunks)
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return nil, noRoom("a denial zone")
		}
		p.viewID[i] = uint16(id)
		p.viewIdx[uint16(id)] = len(p.viewKeys)
		p.newView[h] = uint32(len(p.viewKeys))
		p.viewKeys = append(p.viewKeys, id)
		p.viewInfo = append(p.viewInfo, v)
		p.viewVals = append(p.viewVals, bpf.XdpDenialZone{}) // filled below, once template ids are known
	}
	for i := 1; i < len(img.Templates); i++ {
		h := hs.tmpl[i]
		if id, ok := lv.tmplByHash[h]; ok {
			p.tmplID[i] = id
			continue
		}
		if j, ok := p.newTmpl[h]; ok {
			p.tmplID[i] = p.tmplKeys[j]
			continue
		}
		t := img.Templates[i]
		head, all := tmplChunks(&t)
		id, ok1 := lv.tmplIDs.alloc(1)
		c, ok2 := lv.chunks.alloc(all)
		if !ok1 || !ok2 {
			return nil, noRoom("a template")
		}
		p.tmplID[i] = id
		p.newTmpl[h] = uint32(len(p.tmplKeys))
		p.tmplInfo = append(p.tmplInfo, tmplInfo{h: h, chunk: c, nchunks: all, live: true})
		// The body, head and tail in one run.
		if all > 0 {
			if t.SlotOff == abi.NoSlot {
				p.chunkKeys, p.chunkVals = appendRun(p.chunkKeys, p.chunkVals, img.Chunks, t.FirstChunk, c, all)
			} else {
				p.chunkKeys, p.chunkVals = appendRun(p.chunkKeys, p.chunkVals, img.Chunks, t.FirstChunk, c, head)
				p.chunkKeys, p.chunkVals = appendRun(p.chunkKeys, p.chunkVals, img.Chunks, t.TailChunk, c+head, all-head)
			}
		}
		t.FirstChunk, t.TailChunk = c, c+head
		if t.SlotOff != abi.NoSlot {
			src := &img.DenialZones[t.DenialZone]
			dst := p.viewAt(lv, p.viewID[t.DenialZone])
			t.DenialZone = p.viewID[t.DenialZone]
			t.DenialHead = moveEntry(t.DenialHead, src.EntryBase, dst.entry)
			t.DenialTail = moveEntry(t.DenialTail, src.EntryBase, dst.entry)
		}
		p.tmplKeys = append(p.tmplKeys, id)
		p.tmplVals = append(p.tmplVals, t)
	}
	// The new denial zones' contents, now that template ids are known.
	written := make([]bool, len(p.viewKeys))
	for i := 1; i < len(img.DenialZones); i++ {
		j, ok := p.newView[hs.view[i]]
		if !ok || written[j] {
			continue // reused, or written already for an equal zone
		}
		written[j] = true
		z := img.DenialZones[i]
		v := p.viewInfo[j]
		if c := z.CtxTmpl; c != 0 && c != abi.NoDenial {
			z.CtxTmpl = p.tmplID[c]
		}
		for b := uint32(0); b < v.nindex; b++ {
			p.indexKeys = append(p.indexKeys, v.index+b)
			p.indexVals = append(p.indexVals, img.DenialIndex[z.IndexBase+b]-z.EntryBase+v.entry)
		}
		c := v.chunk
		for e := uint32(0); e < z.EntryCount; e++ {
			x := img.DenialEntries[z.EntryBase+e]
			n := chunksOf(int(x.Len))
			p.chunkKeys, p.chunkVals = appendRun(p.chunkKeys, p.chunkVals, img.Chunks, x.FirstChunk, c, n)
			x.FirstChunk = c
			c += n
			p.entryKeys = append(p.entryKeys, v.entry+e)
			p.entryVals = append(p.entryVals, x)
		}
		z.EntryBase, z.IndexBase = v.entry, v.index
		p.viewVals[j] = z
	}
	return p, nil
}

// viewAt is where denial zone id lives: newly placed in p, or live.
func (p *updatePlan) viewAt(lv *liveState, id uint16) viewInfo {
	if j, ok := p.viewIdx[id]; ok {
		return p.viewInfo[j]
	}
	return lv.views[id]
}

// moveEntry moves an absolute denial entry index from a zone placed at
// from to the same zone placed at to.
func moveEntry(e, from, to uint32) uint32 {
	if e == abi.NoDenial {
		return e
	}
	return e - from + to
}

// appendRun appends n chunks of src from chunk first, to be written at
// chunk at on.
func appendRun(keys []uint32, vals []bpf.XdpChunk, src []bpf.XdpChunk, first, at, n uint32) ([]uint32, []bpf.XdpChunk) {
	for i := uint32(0); i < n; i++ {
		keys = append(keys, at+i)
		vals = append(vals, src[first+i])
	}
	return keys, vals
}

// remapName is v with the image's template ids replaced by live ones.
func remapName(v bpf.XdpNameVer, ids []uint32) bpf.XdpNameVer {
	for i := range 2 {
		v.ExactDefault[i] = ids[v.ExactDefault[i]]
		v.BelowDefault[i] = ids[v.BelowDefault[i]]
	}
	return v
}

// diff lists the names and answers entries that img changes, adds or
// removes, with their live and new versions.
func (lv *liveState) diff(img *Image, p *updatePlan) error {
	lv.mark++
	for i, k := range img.NameKeys {
		v := remapName(img.NameVals[i], p.tmplID)
		old, ok := lv.names[k]
		if ok {
			if old.mark == lv.mark {
				return fmt.Errorf("%w: name %x listed twice", ErrImage, k)
			}
			lv.names[k] = liveName{v: old.v, mark: lv.mark}
			if old.v == v {
				continue
			}
		} else {
			p.namesAdded++
			old.v = absentName
		}
		p.nameKeys, p.nameOld, p.nameNew = append(p.nameKeys, k), append(p.nameOld, old.v), append(p.nameNew, v)
		if !ok && len(lv.filter) > 1 {
			p.filterBit(lv, abi.NameHash{H1: k.H1, H2: k.H2})
		}
	}
	for k, old := range lv.names {
		if old.mark != lv.mark {
			p.namesGone++
			p.nameKeys, p.nameOld, p.nameNew = append(p.nameKeys, k), append(p.nameOld, old.v), append(p.nameNew, absentName)
		}
	}
	for i, k := range img.AnswerKeys {
		v := img.AnswerVals[i]
		for d := range 2 {
			v.Tmpl[d] = p.tmplID[v.Tmpl[d]]
		}
		old, ok := lv.answers[k]
		if ok {
			if old.mark == lv.mark {
				return fmt.Errorf("%w: answer %+v listed twice", ErrImage, k)
			}
			lv.answers[k] = liveAnswer{v: old.v, mark: lv.mark}
			if old.v == v {
				continue
			}
		} else {
			p.answersAdded++
			old.v = absentAnswer
		}
		p.answerKeys, p.answerOld, p.answerNew = append(p.answerKeys, k), append(p.answerOld, old.v), append(p.answerNew, v)
	}
	for k, old := range lv.answers {
		if old.mark != lv.mark {
			p.answerKeys, p.answerOld, p.answerNew = append(p.answerKeys, k), append(p.answerOld, old.v), append(p.answerNew, absentAnswer)
		}
	}
	if len(lv.names)+p.namesAdded > lv.nameCap || len(lv.answers)+p.answersAdded > lv.answerCap {
		return fmt.Errorf("%w: no room for %d more names and %d more answers", ErrNoUpdate, p.namesAdded, p.answersAdded)
	}
	return nil
}

// filterBit sets name h's bit in the filter words to write.
func (p *updatePlan) filterBit(lv *liveState, h abi.NameHash) {
	b := h.H2 >> lv.filter[0]
	w := uint32(1 + b/64)
	if p.filterIdx == nil {
		p.filterIdx = make(map[uint32]int)
	}
	if i, ok := p.filterIdx[w]; ok {
		p.filterVals[i] |= 1 << (b % 64)
		return
	}
	p.filterIdx[w] = len(p.filterKeys)
	p.filterKeys = append(p.filterKeys, w)
	p.filterVals = append(p.filterVals, lv.filter[w]|1<<(b%64))
}

// versions builds names (or answers) values holding a in version slot
// and b in the other.
func versions[V any, W any](slot uint32, a, b []V, val func(x, y V) W) []W {
	out := make([]W, len(a))
	for i := range a {
		if slot == 0 {
			out[i] = val(a[i], b[i])
		} else {
			out[i] = val(b[i], a[i])
		}
	}
	return out
}

func nameVals(x, y bpf.XdpNameVer) bpf.XdpNameVal {
	return bpf.XdpNameVal{V: [abi.Gens]bpf.XdpNameVer{x, y}}
}
func answerVals(x, y bpf.XdpAnswerVer) bpf.XdpAnswerVal {
	return bpf.XdpAnswerVal{V: [abi.Gens]bpf.XdpAnswerVer{x, y}}
}

// Update makes img the live content by changing the live generation's
// maps in place, writing only what differs: new templates, chunks and
// denial zones go to free room, the names and answers entries that change
// get their new version in the slot config.gen does not name, then
// config.gen flips (one atomic store, so a packet reads one version
// throughout) and, after an RCU grace period, the other version is brought
// in step and what the old content alone used is freed. Memory stays that
// of one generation plus the change. ErrNoUpdate (nothing changed) when
// the live generation has no room or was not made by Swap.
func (l *Loader) Update(img *Image) (UpdateStats, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return UpdateStats{}, ErrClosed
	}
	lv := l.live
	if lv == nil {
		return UpdateStats{}, fmt.Errorf("%w: no generation to update", ErrNoUpdate)
	}
	if err := checkImage(img); err != nil {
		return UpdateStats{}, err
	}
	for _, r := range lv.allRuns() {
		r.begin()
	}
	p, err := lv.plan(img, lv.h.hashImage(img))
	if err == nil {
		err = lv.diff(img, p)
	}
	if err != nil {
		lv.rollback()
		return UpdateStats{}, err
	}
	cur := l.slot
	next := 1 - cur
	g := l.gens[cur]
	// Both slots name the live maps, so the flip changes only which
	// version of each entry is read.
	if l.gens[next] != g {
		if err := l.install(next, g); err != nil {
			lv.rollback()
			return UpdateStats{}, err
		}
	}
	if err := l.writeNew(g, p, next); err != nil {
		lv.rollback()
		// Undo what the idle version may hold of the failed change.
		restore := versions(cur, p.nameOld, p.nameOld, nameVals)
		_ = fill(g.names, p.nameKeys, restore)
		answersRestore := versions(cur, p.answerOld, p.answerOld, answerVals)
		_ = fill(g.answers, p.answerKeys, answersRestore)
		for i, k := range p.nameKeys {
			if p.nameOld[i] == absentName {
				_ = g.names.Delete(k)
			}
		}
		for i, k := range p.answerKeys {
			if p.answerOld[i] == absentAnswer {
				_ = g.answers.Delete(k)
			}
		}
		return UpdateStats{}, fmt.Errorf("%w: %w", ErrNoUpdate, err)
	}
	atomic.StoreUint32(l.gen, next)
	l.slot = next
	l.serial++
	g.serial = l.serial
	l.synchronize()
	st := lv.commit(p)
	st.Serial = l.serial
	if err := l.settle(g, p); err != nil {
		// The live version is right; the other one is not, so the next
		// change must be a Swap.
		l.live = nil
		return st, fmt.Errorf("loader: update live, its other version not written: %w", err)
	}
	g.counts = [4]int{len(lv.names), len(lv.answers), int(lv.tmplIDs.next), int(lv.chunks.next)}
	return st, nil
}

// writeNew writes the new content and the changed entries' versions for
// slot next, none of which the live slot reads.
func (l *Loader) writeNew(g *generation, p *updatePlan, next uint32) error {
	steps := []struct {
		what string
		do   func() error
	}{
		{"chunks", func() error { return fill(g.chunks, p.chunkKeys, p.chunkVals) }},
		{"denial entries", func() error { return fill(g.denialEntries, p.entryKeys, p.entryVals) }},
		{"denial index", func() error { return fill(g.denialIndex, p.indexKeys, p.indexVals) }},
		{"denial zones", func() error { return fill(g.denialZones, p.viewKeys, p.viewVals) }},
		{"templates", func() error { return fill(g.templates, p.tmplKeys, p.tmplVals) }},
		{"name filter", func() error { return fill(g.nameFilter, p.filterKeys, p.filterVals) }},
		{"names", func() error { return fill(g.names, p.nameKeys, versions(next, p.nameNew, p.nameOld, nameVals)) }},
		{"answers", func() error {
			return fill(g.answers, p.answerKeys, versions(next, p.answerNew, p.answerOld, answerVals))
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fmt.Errorf("writing %s: %w", s.what, err)
		}
	}
	return nil
}

// settle brings the version the old slot reads in step with the live one
// and deletes the entries neither holds (after the grace period: no
// packet reads the old version any more).
func (l *Loader) settle(g *generation, p *updatePlan) error {
	var nk []bpf.XdpNameKey
	var nv []bpf.XdpNameVer
	for i, k := range p.nameKeys {
		if p.nameNew[i] == absentName {
			if err := g.names.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
				return err
			}
			continue
		}
		nk, nv = append(nk, k), append(nv, p.nameNew[i])
	}
	if err := fill(g.names, nk, versions(0, nv, nv, nameVals)); err != nil {
		return err
	}
	var ak []bpf.XdpAnswerKey
	var av []bpf.XdpAnswerVer
	for i, k := range p.answerKeys {
		if p.answerNew[i] == absentAnswer {
			if err := g.answers.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
				return err
			}
			continue
		}
		ak, av = append(ak, k), append(av, p.answerNew[i])
	}
	return fill(g.answers, ak, versions(0, av, av, answerVals))
}

func (lv *liveState) allRuns() []*runs {
	return []*runs{lv.tmplIDs, lv.viewIDs, lv.chunks, lv.entries, lv.index}
}

func (lv *liveState) rollback() {
	for _, r := range lv.allRuns() {
		r.rollback()
	}
}

// commit records the update in the Go state: the entries' new versions,
// the new templates and denial zones, and frees what no entry refers to
// any more.
func (lv *liveState) commit(p *updatePlan) UpdateStats {
	st := UpdateStats{NamesAdded: p.namesAdded, Templates: len(p.tmplKeys), DenialZones: len(p.viewKeys), Chunks: len(p.chunkKeys)}
	for i, k := range p.nameKeys {
		switch {
		case p.nameNew[i] == absentName:
			delete(lv.names, k)
			st.NamesGone++
		default:
			if p.nameOld[i] != absentName {
				st.NamesChanged++
			}
			lv.names[k] = liveName{v: p.nameNew[i], mark: lv.mark}
		}
	}
	for i, k := range p.answerKeys {
		if p.answerNew[i] == absentAnswer {
			delete(lv.answers, k)
			st.AnswersGone++
			continue
		}
		st.AnswersChanged++
		lv.answers[k] = liveAnswer{v: p.answerNew[i], mark: lv.mark}
	}
	for i, w := range p.filterKeys {
		lv.filter[w] = p.filterVals[i]
	}
	for j, id := range p.viewKeys {
		lv.views[id] = p.viewInfo[j]
		lv.viewByHash[p.viewInfo[j].h] = uint16(id)
	}
	for j, id := range p.tmplKeys {
		lv.tmpls[id] = p.tmplInfo[j]
		lv.tmplByHash[p.tmplInfo[j].h] = id
	}
	// What the new content uses: every template and denial zone of the
	// image (an image holds only what its entries need).
	usedT := make([]bool, len(lv.tmpls))
	for _, id := range p.tmplID[min(1, len(p.tmplID)):] {
		usedT[id] = true
	}
	usedV := make([]bool, len(lv.views))
	for _, id := range p.viewID[min(1, len(p.viewID)):] {
		usedV[id] = true
	}
	for id := range lv.tmpls {
		t := &lv.tmpls[id]
		if !t.live || usedT[uint32(id)] {
			continue
		}
		if lv.tmplByHash[t.h] == uint32(id) {
			delete(lv.tmplByHash, t.h)
		}
		lv.tmplIDs.release(uint32(id), 1)
		lv.chunks.release(t.chunk, t.nchunks)
		*t = tmplInfo{}
		st.TemplatesFreed++
	}
	for id := range lv.views {
		v := &lv.views[id]
		if !v.live || usedV[uint16(id)] {
			continue
		}
		if lv.viewByHash[v.h] == uint16(id) {
			delete(lv.viewByHash, v.h)
		}
		lv.viewIDs.release(uint32(id), 1)
		lv.entries.release(v.entry, v.nentries)
		lv.index.release(v.index, v.nindex)
		lv.chunks.release(v.chunk, v.nchunks)
		*v = viewInfo{}
		st.DenialZonesFreed++
	}
	return st
}
