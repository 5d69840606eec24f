//go:build linux

package loader

import (
	"fmt"

	"github.com/xdpdns/xdpdns/bpf"
	"github.com/xdpdns/xdpdns/bpf/abi"
)

// deletions are the entries a partial update removes.
type deletions struct {
	names    []bpf.XdpNameKey
	answers  []bpf.XdpNameKey
	rewrites []Rewrite
	covers   []NameCover
}

// coverKeys are the names whose covers del changes.
func (del *deletions) coverKeys() []bpf.XdpNameKey {
	keys := make([]bpf.XdpNameKey, len(del.covers))
	for i, c := range del.covers {
		keys[i] = c.Name
	}
	return keys
}

// move follows the references of one live shared template through an
// update: where the slots that referred to it go.
type move struct {
	to      contentHash // the content they all go to
	n, gone uint32      // slots going there, slots whose entry is removed
	mixed   bool        // slots going to different contents
}

// updatePlan is an Update worked out before anything is written: where
// each new template and denial zone goes (reused by content, rewritten in
// place, or newly placed), the array entries to write, and the names and
// answers entries that change.
type updatePlan struct {
	viewID  []uint16               // image denial zone -> live id
	idOf    map[contentHash]uint32 // template content -> live id after the update
	newView map[contentHash]int    // identity of a newly placed zone -> index in viewKeys
	// replaced: live zones given new content in place -> index in
	// viewKeys (their ids are the live ones).
	replaced map[uint16]int
	viewIdx  map[uint16]int         // newly placed zone id -> index in viewKeys
	inPlace  map[uint32]contentHash // shared template -> its new content
	// rewritten: the contents that rewrites the caller asks for replace
	// (an image holds them to name the live templates): not placed.
	rewritten map[contentHash]bool

	viewInfo   []viewInfo
	tmplInfo   []tmplInfo // of tmplKeys
	sharedInfo []tmplInfo // of sharedKeys
	chunkKeys  []uint32
	chunkVals  []bpf.XdpChunk
	// patches: the zones that patch live ones (writePatches); records[j]:
	// viewKeys[j]'s patch as written, when it kept the pieces of the zone
	// it patches where they are.
	patches    []patchWrite
	records    map[int]*patchRecord
	tmplKeys   []uint32
	tmplVals   []bpf.XdpTmpl
	sharedKeys []uint32 // without abi.SharedTmpl
	sharedVals []bpf.XdpTmpl
	viewKeys   []uint32
	viewVals   []bpf.XdpDenialZone
	entryKeys  []uint32
	entryVals  []bpf.XdpDenialEntry
	indexKeys  []uint32
	indexVals  []uint32
	filterKeys []uint32
	filterVals []uint64
	filterIdx  map[uint32]int
	names      []entryChange[bpf.XdpNameKey, bpf.XdpNameVer]
	answers    []entryChange[bpf.XdpNameKey, bpf.XdpAnswerVer]
	// covers: names whose Cover alone changes, their template ids as
	// they are (joined to names by entryIDs).
	covers []entryChange[bpf.XdpNameKey, bpf.XdpNameVer]

	namesAdded, answersAdded int
}

// plan works out how to make img live; the allocations are journaled, so
// rollback undoes them. ErrNoUpdate when the maps have no room.
//
// With del nil, img is the whole new content and every live entry it
// lacks is removed; otherwise img holds only the entries to set, and del
// the entries to remove.
func (lv *liveState) plan(img *Image, hs imageHashes, del *deletions) (*updatePlan, error) {
	p := &updatePlan{
		viewID:   make([]uint16, len(img.DenialZones)),
		idOf:     make(map[contentHash]uint32),
		newView:  make(map[contentHash]int),
		replaced: make(map[uint16]int),
		viewIdx:  make(map[uint16]int),
		inPlace:  make(map[uint32]contentHash),
	}
	if err := lv.placeViews(img, hs, p); err != nil {
		return nil, err
	}
	moves, err := lv.diff(img, hs, p, del)
	if err != nil {
		return nil, err
	}
	// A shared template whose every reference goes to one new content is
	// rewritten in place: those entries need not change.
	// (Not when a live template has that content already: the entries
	// move to it, and no two templates hold one content.)
	for o, m := range moves {
		_, live := lv.tmplByHash.get(m.to)
		if !m.mixed && !live && m.to != (contentHash{}) && m.n+m.gone == lv.info(o).refs && m.to != lv.info(o).h {
			p.inPlace[o] = m.to
		}
	}
	// One template per content: of several going to the same one, the
	// first takes it in place, the others' entries move to it.
	first := make(map[contentHash]uint32, len(p.inPlace))
	for o, h := range p.inPlace {
		if f, ok := first[h]; !ok || o < f {
			first[h] = o
		}
	}
	for o, h := range p.inPlace {
		if first[h] != o {
			delete(p.inPlace, o)
		}
	}
	// Rewrites the caller asks for take precedence.
	if del != nil && len(del.rewrites) > 0 {
		forced := make(map[contentHash]uint32, len(del.rewrites))
		for _, r := range del.rewrites {
			if tmplAt(img, r.Old) == nil || tmplAt(img, r.New) == nil {
				return nil, fmt.Errorf("%w: rewrite of template %#x to %#x", ErrImage, r.Old, r.New)
			}
			if hs.of(r.Old) == hs.of(r.New) {
				continue // nothing changes
			}
			o, ok := lv.tmplByHash.get(hs.of(r.Old))
			if !ok {
				// Its users would keep the old content: let the caller
				// compile whole rather than guess.
				return nil, fmt.Errorf("%w: no live template has the content template %#x rewrites", ErrNoUpdate, r.Old)
			}
			if o&abi.SharedTmpl == 0 {
				return nil, fmt.Errorf("%w: template %#x to rewrite is not shared", ErrNoUpdate, o)
			}
			forced[hs.of(r.New)] = o
			if p.rewritten == nil {
				p.rewritten = make(map[contentHash]bool, len(del.rewrites))
			}
			p.rewritten[hs.of(r.Old)] = true
		}
		for o, h := range p.inPlace {
			if _, ok := forced[h]; ok {
				delete(p.inPlace, o)
			}
		}
		for h, o := range forced {
			p.inPlace[o] = h
		}
	}
	if err := lv.placeTemplates(img, hs, p); err != nil {
		return nil, err
	}
	lv.writeViews(img, hs, p)
	if !p.entryIDs(lv) {
		return nil, fmt.Errorf("%w: an entry reads a content a rewrite replaces", ErrImage)
	}
	return p, nil
}

// placeViews gives every denial zone of img a live id: the live zone of
// the same content, or room for a new one.
func (lv *liveState) placeViews(img *Image, hs imageHashes, p *updatePlan) error {
	for i := 1; i < len(img.DenialZones); i++ {
		h, ident := hs.view[i], hs.ident[i]
		live, known := lv.viewByID[ident]
		pt := img.denialPatch(i)
		if pt != nil {
			if !known {
				return fmt.Errorf("%w: denial zone of %x to patch is not live", ErrNoUpdate, img.DenialNames[i])
			}
			h = lv.h.patchHash(lv.views[live].h, h)
		}
		if j, ok := p.newView[ident]; ok {
			if p.viewInfo[j].h != h {
				return fmt.Errorf("%w: two denial zones of one name", ErrImage)
			}
			p.viewID[i] = uint16(p.viewKeys[j])
			continue
		}
		if img.denialRef(i) {
			if !known {
				return fmt.Errorf("%w: denial zone of %x is not live", ErrNoUpdate, img.DenialNames[i])
			}
			p.viewID[i] = live
			continue
		}
		if known && lv.views[live].h == h {
			p.viewID[i] = live
			continue
		}
		z := &img.DenialZones[i]
		v := viewInfo{ident: ident, h: h, nentries: z.EntryCount, nindex: 1<<z.IndexBits + 1, live: true}
		inImage := img.entriesIn(i)
		for j := z.EntryBase; j < z.EntryBase+inImage; j++ {
			v.nchunks += chunksOf(int(img.DenialEntries[j].Len))
		}
		keep := false
		if pt != nil {
			lz := lv.views[live]
			carried, used, err := lv.runChunks(lz, pt.Runs)
			if err != nil {
				return err
			}
			if keep = keepChunks(&lz, carried, used, v.nchunks); keep {
				// The pieces it keeps stay where they are, with those the
				// patch drops as garbage among them.
				v.kept = append(append(make([]run, 0, len(lz.kept)+1), lz.kept...), run{lz.chunk, lz.nchunks})
				v.garbage = lz.garbage + used - carried
			} else {
				v.nchunks += carried // written again, without the garbage
			}
		}
		if known {
			// The live zone of that name gets this content in place,
			// the same id, in the spare room of its content before
			// when it fits, else in new room (the spare freed first:
			// with the unused room beside it, it may take the zone
			// grown).
			var spare *spareRoom
			ok1, ok2, ok3 := true, true, true
			if s := lv.views[live].spare; s != nil && s.room >= v.nentries && s.nindex == v.nindex {
				spare = s
				v.entry, v.entryRoom, v.index = s.entry, s.room, s.index
			} else {
				lv.releaseSpare(&lv.views[live])
				v.entryRoom = ContentRoom(v.nentries)
				if pt != nil {
					v.entryRoom = patchRoom(v.nentries)
				}
				v.entry, ok1 = lv.entries.alloc(v.entryRoom)
				v.index, ok2 = lv.index.alloc(v.nindex)
			}
			v.chunk, ok3 = lv.chunks.alloc(v.nchunks)
			if !ok1 || !ok2 || !ok3 {
				return fmt.Errorf("%w: no room for a denial zone's new content (%d entries, %d index words, %d chunks; spare %+v)",
					ErrNoUpdate, v.nentries, v.nindex, v.nchunks, lv.views[live].spare)
			}
			p.viewID[i] = live
			p.viewIdx[live] = len(p.viewKeys)
			p.newView[ident] = len(p.viewKeys)
			p.replaced[live] = len(p.viewKeys)
			if pt != nil {
				p.patches = append(p.patches, patchWrite{patch: pt, entries: img.DenialEntries[z.EntryBase : z.EntryBase+inImage],
					chunks: img.Chunks, live: lv.views[live], view: len(p.viewKeys), keep: keep, spare: spare})
			}
			p.viewKeys = append(p.viewKeys, uint32(live))
			p.viewInfo = append(p.viewInfo, v)
			p.viewVals = append(p.viewVals, bpf.XdpDenialZone{})
			continue
		}
		id, ok1 := lv.viewIDs.alloc(1)
		var ok2, ok3, ok4 bool
		v.entryRoom = ContentRoom(v.nentries)
		v.entry, ok2 = lv.entries.alloc(v.entryRoom)
		v.index, ok3 = lv.index.alloc(v.nindex)
		v.chunk, ok4 = lv.chunks.alloc(v.nchunks)
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return fmt.Errorf("%w: no room for a denial zone", ErrNoUpdate)
		}
		p.viewID[i] = uint16(id)
		p.viewIdx[uint16(id)] = len(p.viewKeys)
		p.newView[ident] = len(p.viewKeys)
		p.viewKeys = append(p.viewKeys, id)
		p.viewInfo = append(p.viewInfo, v)
		p.viewVals = append(p.viewVals, bpf.XdpDenialZone{}) // writeViews fills it in
	}
	return nil
}

// viewAt is where denial zone id lives: newly placed in p, or live.
func (p *updatePlan) viewAt(lv *liveState, id uint16) viewInfo {
	if j, ok := p.viewIdx[id]; ok {
		return p.viewInfo[j]
	}
	return lv.views[id]
}

// diff lists the names and answers entries whose content img changes,
// adds or removes (compared by the content of their templates, not ids),
// and follows where the references of each live shared template go.
func (lv *liveState) diff(img *Image, hs imageHashes, p *updatePlan, del *deletions) (map[uint32]*move, error) {
	moves := make(map[uint32]*move)
	note := func(old uint32, to contentHash, gone bool) {
		if old&abi.SharedTmpl == 0 {
			return
		}
		m := moves[old]
		if m == nil {
			m = &move{to: to}
			moves[old] = m
		}
		switch {
		case gone:
			m.gone++
		case m.to != to:
			m.mixed = true
		default:
			m.n++
		}
	}
	liveH := func(id uint32) contentHash {
		if id == 0 {
			return contentHash{}
		}
		return lv.info(id).h
	}
	lv.mark++
	complete := del == nil
	if del == nil {
		del = &deletions{}
	}
	var err error
	p.names, p.namesAdded, err = entryDiff(nameKind, lv.names, lv.mark, img.NameKeys, img.NameVals, complete, del.names,
		hs, liveH, note, func(k bpf.XdpNameKey) {
			if lv.filterShift != 0 {
				p.filterBit(lv, abi.NameHash{H1: k.H1, H2: k.H2})
			}
		})
	if err != nil {
		return nil, err
	}
	for _, c := range del.covers {
		if c.Cover > abi.NameCoverMask {
			return nil, fmt.Errorf("%w: name %+v: cover %d (at most %d)", ErrImage, c.Name, c.Cover, abi.NameCoverMask)
		}
		old, ok := lv.names.get(c.Name)
		if !ok || old.mark == lv.mark {
			return nil, fmt.Errorf("%w: the cover of name %+v, which is not live or is set too", ErrImage, c.Name)
		}
		lv.names.put(c.Name, liveEntry[bpf.XdpNameVer]{v: old.v, mark: lv.mark})
		if nv := old.v; nv.Cover != c.Cover {
			nv.Cover = c.Cover
			p.covers = append(p.covers, entryChange[bpf.XdpNameKey, bpf.XdpNameVer]{k: c.Name, old: old.v, new: nv})
		}
	}
	p.answers, p.answersAdded, err = entryDiff(answerKind, lv.answers, lv.mark, img.AnswerKeys, img.AnswerVals, complete,
		del.answers, hs, liveH, note, func(bpf.XdpNameKey) {})
	if err != nil {
		return nil, err
	}
	if lv.names.size()+p.namesAdded > lv.nameCap || lv.answers.size()+p.answersAdded > lv.answerCap {
		return nil, fmt.Errorf("%w: no room for %d more names and %d more answers", ErrNoUpdate, p.namesAdded, p.answersAdded)
	}
	return moves, nil
}

// placeTemplates gives every template content of img a live id: a live
// template of that content (not one being rewritten), a shared template
// rewritten to it in place, or room for a new one; and lays out what is
// written for the new and the rewritten ones.
func (lv *liveState) placeTemplates(img *Image, hs imageHashes, p *updatePlan) error {
	target := make(map[contentHash]uint32, len(p.inPlace))
	for o, h := range p.inPlace {
		target[h] = o
	}
	place := func(t bpf.XdpTmpl, h contentHash, shared bool) error {
		if _, done := p.idOf[h]; done {
			return nil
		}
		if _, isNew := target[h]; p.rewritten[h] && !isNew {
			// A content a rewrite replaces: no entry of the image reads
			// it (the new zone has no answer with it), its live
			// template takes the new one.
			return nil
		}
		if id, ok := lv.tmplByHash.get(h); ok {
			if _, rewritten := p.inPlace[id]; !rewritten {
				p.idOf[h] = id
				return nil
			}
		}
		head, all := tmplChunks(&t)
		c, ok := lv.chunks.alloc(all)
		if !ok {
			return fmt.Errorf("%w: no room for a template's chunks", ErrNoUpdate)
		}
		if all > 0 {
			if t.SlotOff == abi.NoSlot {
				p.chunkKeys, p.chunkVals = appendRun(p.chunkKeys, p.chunkVals, img.Chunks, t.FirstChunk, c, all)
			} else {
				p.chunkKeys, p.chunkVals = appendRun(p.chunkKeys, p.chunkVals, img.Chunks, t.FirstChunk, c, head)
				p.chunkKeys, p.chunkVals = appendRun(p.chunkKeys, p.chunkVals, img.Chunks, t.TailChunk, c+head, all-head)
			}
		}
		t.FirstChunk, t.TailChunk = c, c+head
		if moreRelocs(&t) {
			t.RelocChunk = c + all - 1
		}
		if t.SlotOff != abi.NoSlot {
			t.DenialZone = p.viewID[t.DenialZone]
		}
		info := tmplInfo{h: h, chunk: c, nchunks: all, view: slotView(&t), live: true}
		if o, ok := target[h]; ok {
			info.refs = lv.info(o).refs
			p.sharedKeys = append(p.sharedKeys, o&^abi.SharedTmpl)
			p.sharedVals = append(p.sharedVals, t)
			p.sharedInfo = append(p.sharedInfo, info)
			p.idOf[h] = o
			return nil
		}
		if shared {
			id, ok := lv.sharedIDs.alloc(1)
			if !ok {
				return fmt.Errorf("%w: no room for a shared template", ErrNoUpdate)
			}
			p.idOf[h] = id | abi.SharedTmpl
			p.sharedKeys = append(p.sharedKeys, id)
			p.sharedVals = append(p.sharedVals, t)
			p.sharedInfo = append(p.sharedInfo, info)
			return nil
		}
		id, ok := lv.tmplIDs.alloc(1)
		if !ok {
			return fmt.Errorf("%w: no room for a template", ErrNoUpdate)
		}
		p.idOf[h] = id
		p.tmplKeys = append(p.tmplKeys, id)
		p.tmplVals = append(p.tmplVals, t)
		p.tmplInfo = append(p.tmplInfo, info)
		return nil
	}
	for i := 1; i < len(img.Templates); i++ {
		if err := place(img.Templates[i], hs.tmpl[i], false); err != nil {
			return err
		}
	}
	for i := 1; i < len(img.SharedTemplates); i++ {
		if err := place(img.SharedTemplates[i], hs.shared[i], true); err != nil {
			return err
		}
	}
	return nil
}

// writeViews lays out the contents of the newly placed denial zones, now
// that template ids are known.
func (lv *liveState) writeViews(img *Image, hs imageHashes, p *updatePlan) {
	written := make([]bool, len(p.viewKeys))
	for i := 1; i < len(img.DenialZones); i++ {
		j, ok := p.newView[hs.ident[i]]
		if !ok || written[j] {
			continue // reused, or written already for an equal zone
		}
		written[j] = true
		z := img.DenialZones[i]
		v := p.viewInfo[j]
		for b := uint32(0); b < v.nindex; b++ {
			p.indexKeys = append(p.indexKeys, v.index+b)
			p.indexVals = append(p.indexVals, img.DenialIndex[z.IndexBase+b]-z.EntryBase+v.entry)
		}
		c := v.chunk
		for e := uint32(0); e < z.EntryCount && img.denialPatch(i) == nil; e++ {
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
}

// entryIDs gives the changed entries their new template ids, and drops
// those that end up as they are (every change made in place).
func (p *updatePlan) entryIDs(lv *liveState) (ok bool) {
	ok = true
	id := func(old uint32, h contentHash) uint32 {
		switch {
		case h == (contentHash{}):
			return 0
		case old != 0 && lv.info(old).h == h:
			if _, rewritten := p.inPlace[old]; !rewritten {
				return old
			}
		}
		if to, ok := p.inPlace[old]; ok && to == h {
			return old
		}
		i, placed := p.idOf[h]
		ok = ok && placed // (not placed: a content a rewrite replaces)
		return i
	}
	p.names = append(entryIDs(nameKind, p.names, id), p.covers...)
	p.answers = entryIDs(answerKind, p.answers, id)
	return ok
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

// filterBit sets name h's bit in the filter words to write, each read
// from the live filter (a word it cannot read is written with every bit
// set: a Bloom filter may say yes wrongly, never no).
func (p *updatePlan) filterBit(lv *liveState, h abi.NameHash) {
	b := h.H2 >> lv.filterShift
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
	word := ^uint64(0)
	if err := lv.filterMap.Lookup(w, &word); err != nil {
		word = ^uint64(0)
	}
	p.filterVals = append(p.filterVals, word|1<<(b%64))
}
