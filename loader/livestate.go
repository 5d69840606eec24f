//go:build linux

package loader

import (
	"cmp"
	"encoding/binary"
	"slices"

	"github.com/cilium/ebpf"

	"github.com/xdpdns/xdpdns/bpf"
	"github.com/xdpdns/xdpdns/bpf/abi"
)

// tmplInfo is what the loader remembers of a live template: its content,
// its chunks (head and tail in one run) and how many names and answers
// entries' slots refer to it.
type tmplInfo struct {
	h              contentHash
	chunk, nchunks uint32
	refs           uint32
	view           uint16 // the denial zone its slot is filled from (0: none)
	live           bool
}

// viewInfo is what the loader remembers of a live denial zone: its
// identity (imageHashes.ident), its content and where its entries, index
// words and pieces' chunks are: the run of chunks written with it, and
// for a zone made by patches of a live one (Image.DenialPatches) the runs
// it keeps from the zones it patched, where its other pieces lie, with
// garbage chunks among them that no entry uses any more.
//
// A zone given new content keeps the room of its content before
// (spare), which no packet reads once the new content is live: its next
// content is written there, so that a zone's changes need no room beyond
// two of its contents; a patch in place, after the one it lacks (behind),
// so that it writes the entries that change, not the zone's. A large
// zone gets its spare room, a copy of its content, when its generation is
// recorded (makeSpares), so that its first patch is written in place too.
type viewInfo struct {
	ident, h        contentHash
	entry, nentries uint32
	entryRoom       uint32 // entries allocated from entry on (nentries or more)
	index, nindex   uint32
	chunk, nchunks  uint32
	kept            []run
	garbage         uint32
	spare           *spareRoom
	// readers: the live templates that fill their slots from it (inUse).
	readers uint32
	live    bool
}

// readView counts template t among the readers of the denial zone it
// reads, d +1 or -1.
func (lv *liveState) readView(t *tmplInfo, d int) {
	if t.live && t.view != 0 && int(t.view) < len(lv.views) {
		if v := &lv.views[t.view]; v.live {
			v.readers = uint32(int(v.readers) + d)
		}
	}
}

// inUse reports whether denial zone id is in use: a live template fills
// its slots from it.
func (lv *liveState) inUse(id uint16) bool { return lv.views[id].readers > 0 }

// spareRoom is the room of a zone's content before its last change, and
// that change when it was a patch keeping the pieces (its content is the
// live one's once the patch is applied; nil: it is the live one's). stale:
// what it holds is not that (the change was written whole, or a write to
// it failed): the next content is written into it whole.
type spareRoom struct {
	entry, room   uint32 // entries
	index, nindex uint32 // index words
	behind        *patchRecord
	stale         bool
}

// patchRoom is the room of entries given to a zone of n entries written
// anew for a patch: room for the next patches to grow it.
func patchRoom(n uint32) uint32 { return n + n/64 + 16 }

// ContentRoom is the room of entries a denial zone's content of n entries
// is given, in an image (FromRender leaves the room after a zone's
// entries free) or by an update: a large zone's (spareMin entries or
// more) patchRoom, so that the room a content leaves when the next one is
// live, its spare, takes the one after it though the zone grew a little
// (an NSEC chain's added names cluster where they sort: the view grows
// where its holes run out).
func ContentRoom(n uint32) uint32 {
	if n >= spareMin {
		return patchRoom(n)
	}
	return n
}

// imageRooms is the room of entries of each of img's denial zones: up to
// the next zone's first entry (or the image's last), at least its own.
func imageRooms(img *Image) []uint32 {
	rooms := make([]uint32, len(img.DenialZones))
	order := make([]int, 0, len(img.DenialZones))
	for i := 1; i < len(img.DenialZones); i++ {
		order = append(order, i)
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(img.DenialZones[a].EntryBase, img.DenialZones[b].EntryBase) })
	for k, i := range order {
		z := &img.DenialZones[i]
		end := uint32(len(img.DenialEntries))
		if k+1 < len(order) {
			end = img.DenialZones[order[k+1]].EntryBase
		}
		rooms[i] = max(z.EntryCount, end-min(end, z.EntryBase))
	}
	return rooms
}

// spareMin is the fewest entries of a zone given a spare room when its
// generation is recorded (below it, copying the zone at its first patch
// costs little). A variable so that a test can lower it.
var spareMin uint32 = 4096

// patchRecord is a patch as written: its runs, and its other entries
// (their pieces placed) at their slots, of count entries in all.
type patchRecord struct {
	runs  []PatchRun
	slots []uint32
	fresh []bpf.XdpDenialEntry
	count uint32
}

// releaseChunks frees the chunks of v's pieces.
func (lv *liveState) releaseChunks(v *viewInfo) {
	lv.chunks.release(v.chunk, v.nchunks)
	for _, r := range v.kept {
		lv.chunks.release(r.start, r.n)
	}
}

// releaseRooms frees the entries and index words of v's content, and its
// spare room.
func (lv *liveState) releaseRooms(v *viewInfo) {
	lv.entries.release(v.entry, v.entryRoom)
	lv.index.release(v.index, v.nindex)
	lv.releaseSpare(v)
}

// releaseSpare frees v's spare room.
func (lv *liveState) releaseSpare(v *viewInfo) {
	if s := v.spare; s != nil {
		lv.entries.release(s.entry, s.room)
		lv.index.release(s.index, s.nindex)
		v.spare = nil
	}
}

// liveState is the Go side's record of the live generation's maps, kept
// so that Update writes only what changed: every names and answers entry,
// each template's and denial zone's content hash, place and references,
// the shared templates' headers, and what is free in the arrays.
type liveState struct {
	h          *hasher
	names      *liveNames
	answers    *liveAnswers
	tmpls      []tmplInfo             // by plain template id
	shared     []tmplInfo             // by shared template id (without abi.SharedTmpl)
	sharedHdr  []bpf.XdpTmpl          // the shared templates as live
	views      []viewInfo             // by denial zone id
	viewHdr    []bpf.XdpDenialZone    // the denial zones as live, by id
	tmplByHash *tmplIndex             // the live templates by content hash
	viewByID   map[contentHash]uint16 // the live denial zones by identity
	tmplIDs    *runs                  // plain template ids (runs of 1)
	sharedIDs  *runs                  // shared template ids (without abi.SharedTmpl)
	viewIDs    *runs
	chunks     *runs
	entries    *runs
	index      *runs
	// filterShift is the name filter's shift (its word 0; 0: no
	// filter), filterMap the filter, whose words an update reads from
	// the map (a TLD's filter is 2 MB: not kept twice).
	filterShift uint64
	filterMap   *ebpf.Map
	// entryMap is the denial entries array, read for the entries a
	// patch drops (runChunks).
	entryMap  *ebpf.Map
	nameCap   int
	answerCap int
	mark      uint32
}

// info is the record of live template id.
func (lv *liveState) info(id uint32) *tmplInfo {
	if id&abi.SharedTmpl != 0 {
		return &lv.shared[id&^abi.SharedTmpl]
	}
	return &lv.tmpls[id]
}

// ref adds d to the references of each template of ids (none for
// abi.Pass).
func (lv *liveState) ref(ids []uint32, d int) {
	for _, id := range ids {
		if id != 0 {
			t := lv.info(id)
			t.refs = uint32(int(t.refs) + d)
		}
	}
}

// slotView is the denial zone template t fills its slot from (0: none).
func slotView(t *bpf.XdpTmpl) uint16 {
	if t.SlotOff == abi.NoSlot {
		return 0
	}
	return t.DenialZone
}

// chunksOf is the number of chunks holding n body bytes.
func chunksOf(n int) uint32 { return uint32((n + abi.ChunkSize - 1) / abi.ChunkSize) }

// firstPart is how many body bytes of template t come before its slot
// (all of them without one): the first abi.ChunkSize of them are in
// t.Head, the rest in chunks from t.FirstChunk on.
func firstPart(t *bpf.XdpTmpl) int {
	switch {
	case t.Flags&abi.FlagTooBig != 0:
		return 0
	case t.SlotOff == abi.NoSlot:
		return int(t.BodyLen)
	}
	return int(min(t.SlotOff, t.BodyLen))
}

// tmplChunks is the number of chunks of template t: those of its first
// part after t.Head, with a slot the tail's, starting a chunk, then the
// chunk of its relocations past its own (t.RelocChunk), if any: all of
// them one run, the tail's and the relocations' at its end.
func tmplChunks(t *bpf.XdpTmpl) (head, all uint32) {
	head = chunksOf(max(firstPart(t)-abi.ChunkSize, 0))
	all = head
	if t.Flags&abi.FlagTooBig == 0 && t.SlotOff != abi.NoSlot {
		all += chunksOf(int(t.BodyLen) - firstPart(t))
	}
	if moreRelocs(t) {
		all++
	}
	return head, all
}

// moreRelocs says template t has relocations past its own, in the chunk
// t.RelocChunk.
func moreRelocs(t *bpf.XdpTmpl) bool { return t.Nrelocs > abi.InlineRelocs }

// relocChunkPlaced says template t's relocation chunk, if it has one, is
// the last of its run of all chunks (tmplChunks), where the loader's
// record and updates look for it.
func relocChunkPlaced(t *bpf.XdpTmpl, all uint32) bool {
	return !moreRelocs(t) || t.RelocChunk == t.FirstChunk+all-1
}

// tmplRelocs returns template t's relocations: its own, then those in
// its relocation chunk, read by chunk; false if it cannot be read.
func tmplRelocs(t *bpf.XdpTmpl, chunk func(uint32) (*bpf.XdpChunk, bool)) ([]uint16, bool) {
	n := min(int(t.Nrelocs), abi.MaxRelocs)
	out := make([]uint16, 0, n)
	out = append(out, t.Relocs[:min(n, abi.InlineRelocs)]...)
	if n <= abi.InlineRelocs {
		return out, true
	}
	c, ok := chunk(t.RelocChunk)
	if !ok {
		return nil, false
	}
	for i := range n - abi.InlineRelocs {
		out = append(out, binary.LittleEndian.Uint16(c.B[2*i:]))
	}
	return out, true
}

// TemplateRelocs returns the relocations of template t of img: its own,
// then those in its relocation chunk; false if img has no such chunk.
func (img *Image) TemplateRelocs(t *bpf.XdpTmpl) ([]uint16, bool) {
	return tmplRelocs(t, func(i uint32) (*bpf.XdpChunk, bool) {
		if int(i) >= len(img.Chunks) {
			return nil, false
		}
		return &img.Chunks[i], true
	})
}

// RelocChunk is the chunk holding a template's relocations past its own
// (abi.InlineRelocs; struct tmpl's reloc_chunk), in the byte order the
// program reads them, as tmplRelocs reads them back.
func RelocChunk(relocs []uint16) bpf.XdpChunk {
	var c bpf.XdpChunk
	for i, r := range relocs[:min(len(relocs), abi.ChunkSize/2)] {
		binary.LittleEndian.PutUint16(c.B[2*i:], r)
	}
	return c
}

// newLiveState records img, as Swap placed it in g, for later updates; nil
// when its layout is not one Update can reuse (a template's head and tail,
// or a denial zone's pieces, not in one run of chunks).
func newLiveState(h *hasher, img *Image, g *generation) *liveState {
	hs := h.hashImage(img)
	lv := &liveState{
		h:         h,
		names:     &liveNames{t: g.names, n: len(img.NameKeys)},
		answers:   &liveAnswers{t: g.answers, n: len(img.AnswerKeys)},
		tmpls:     make([]tmplInfo, g.caps[capTemplates]),
		shared:    make([]tmplInfo, g.caps[capSharedTemplates]),
		sharedHdr: make([]bpf.XdpTmpl, g.caps[capSharedTemplates]),
		views:     make([]viewInfo, g.caps[capDenialZones]),
		viewHdr:   make([]bpf.XdpDenialZone, g.caps[capDenialZones]),
		viewByID:  make(map[contentHash]uint16, len(img.DenialZones)),
		tmplIDs:   newRuns(uint32(max(len(img.Templates), 1)), uint32(g.caps[capTemplates])),
		sharedIDs: newRuns(uint32(max(len(img.SharedTemplates), 1)), uint32(g.caps[capSharedTemplates])),
		viewIDs:   newRuns(uint32(max(len(img.DenialZones), 1)), uint32(min(g.caps[capDenialZones], maxDenialZoneID))),
		chunks:    newRuns(uint32(len(img.Chunks)), uint32(g.caps[capChunks])),
		entries:   newRuns(uint32(len(img.DenialEntries)), uint32(g.caps[capDenialEntries])),
		index:     newRuns(uint32(len(img.DenialIndex)), uint32(g.caps[capDenialIndex])),
		filterMap: g.nameFilter,
		entryMap:  g.denialEntries,
		nameCap:   g.caps[capNames],
		answerCap: g.caps[capAnswers],
	}
	if len(img.NameFilter) > 1 {
		lv.filterShift = img.NameFilter[0]
	}
	lv.tmplByHash = newTmplIndex(len(img.Templates)+len(img.SharedTemplates), func(id uint32) contentHash { return lv.info(id).h })
	record := func(l []bpf.XdpTmpl, infos []tmplInfo, hashes []contentHash, bit uint32) bool {
		for i := 1; i < len(l); i++ {
			t := &l[i]
			head, all := tmplChunks(t)
			if t.SlotOff != abi.NoSlot && all > 0 && t.TailChunk != t.FirstChunk+head || !relocChunkPlaced(t, all) {
				return false
			}
			infos[i] = tmplInfo{h: hashes[i], chunk: t.FirstChunk, nchunks: all, view: slotView(t), live: true}
			if _, dup := lv.tmplByHash.get(hashes[i]); !dup || bit != 0 {
				lv.tmplByHash.set(hashes[i], uint32(i)|bit)
			}
		}
		return true
	}
	copy(lv.sharedHdr, img.SharedTemplates)
	if !record(img.Templates, lv.tmpls, hs.tmpl, 0) || !record(img.SharedTemplates, lv.shared, hs.shared, abi.SharedTmpl) {
		return nil
	}
	for i := range img.NameKeys {
		lv.ref(nameKind.ids(img.NameVals[i]), 1)
	}
	for i := range img.AnswerKeys {
		lv.ref(answerKind.ids(img.AnswerVals[i]), 1)
	}
	rooms := imageRooms(img)
	for i := 1; i < len(img.DenialZones); i++ {
		z := &img.DenialZones[i]
		v := viewInfo{ident: hs.ident[i], h: hs.view[i], entry: z.EntryBase, nentries: z.EntryCount, entryRoom: rooms[i],
			index: z.IndexBase, nindex: 1<<z.IndexBits + 1, live: true}
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
		lv.viewHdr[i] = *z
		if _, dup := lv.viewByID[hs.ident[i]]; !dup {
			lv.viewByID[hs.ident[i]] = uint16(i)
		}
	}
	for i := range lv.tmpls {
		lv.readView(&lv.tmpls[i], 1)
	}
	for i := range lv.shared {
		lv.readView(&lv.shared[i], 1)
	}
	return lv
}

// roomForAll reports whether the free room of entries and index words
// takes new content (patchRoom) for the live zone without a spare room
// that needs the most: every other zone's next content goes to its spare.
func (lv *liveState) roomForAll() bool {
	var entries, index uint32
	for i := range lv.views {
		if v := &lv.views[i]; v.live && v.spare == nil {
			entries, index = max(entries, patchRoom(v.nentries)), max(index, v.nindex)
		}
	}
	return lv.entries.largestFree() >= entries && lv.index.largestFree() >= index
}

// trimSpares frees spare rooms (stale ones first, then the largest) until
// roomForAll holds, or none is left.
func (lv *liveState) trimSpares() {
	for !lv.roomForAll() {
		drop := -1
		for i := range lv.views {
			s := lv.views[i].spare
			if s == nil {
				continue
			}
			if d := drop; d < 0 || s.stale && !lv.views[d].spare.stale ||
				s.stale == lv.views[d].spare.stale && s.room > lv.views[d].spare.room {
				drop = i
			}
		}
		if drop < 0 {
			return
		}
		lv.releaseSpare(&lv.views[drop])
	}
}

// makeSpares gives each live zone of spareMin entries or more a spare
// room holding a copy of its entries (its index words are written with
// every content), largest first, as long as roomForAll holds after. It
// is taken from the top of the unused room: the room between it and the
// zone's content in the image stays one run, which either room joins
// when freed (a zone grown past its rooms).
func (lv *liveState) makeSpares(g *generation) error {
	var ids []int
	for i := range lv.views {
		if v := &lv.views[i]; v.live && v.spare == nil && v.nentries >= spareMin {
			ids = append(ids, i)
		}
	}
	slices.SortFunc(ids, func(a, b int) int { return cmp.Compare(lv.views[b].nentries, lv.views[a].nentries) })
	for _, i := range ids {
		v := &lv.views[i]
		room := patchRoom(v.nentries)
		entry, ok := lv.entries.takeTop(room)
		if !ok {
			return nil
		}
		index, ok := lv.index.takeTop(v.nindex)
		if !ok {
			lv.entries.release(entry, room)
			return nil
		}
		v.spare = &spareRoom{entry: entry, room: room, index: index, nindex: v.nindex}
		if !lv.roomForAll() {
			lv.releaseSpare(v)
			return nil
		}
		if err := copyEntries(g, v.entry, entry, v.nentries); err != nil {
			lv.releaseSpare(v)
			return err
		}
	}
	return nil
}
