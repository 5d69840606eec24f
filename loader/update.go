//go:build linux

package loader

import (
	"cmp"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/xdpdns/xdpdns/bpf"
	"github.com/xdpdns/xdpdns/bpf/abi"
)

// ErrNoUpdate says that Update cannot apply an image in place (no
// generation made by Swap to update, or not enough room left in its maps);
// the caller swaps in a new generation instead. Nothing has changed.
var ErrNoUpdate = errors.New("loader: cannot update the live generation in place")

// A generation made by Swap has room beyond its image for the templates,
// chunks, names and denial zones of later updates: a sixteenth more, and
// at least slackMin entries of each map (at a TLD's million names, 62k
// new names between two whole compiles, where one update may change
// sideHalf, n/32).
const (
	slackDiv = 16
	slackMin = 1024
)

// sideHalf is how many names entries one update may change in a
// generation of n names (half of its names_side map: updates take
// turns); more is ErrNoUpdate, a Swap.
func sideHalf(n int) int { return max(slackMin, n/32) }

// denialSlackMin is slackMin for the denial entries and index words (a
// variable: a test lowers it, so that a small zone's rooms are as tight
// as a TLD's).
var denialSlackMin = slackMin

// withSlack is the capacity of map i (capNames ...) holding n entries,
// room for updates included.
func withSlack(i, n int) int {
	if i == capDenialEntries || i == capDenialIndex {
		return n + n/slackDiv + denialSlackMin
	}
	return n + n/slackDiv + slackMin
}

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
	InPlace                             int // shared templates rewritten in place
	// PatchesInPlace: denial zones whose patch was written, in place, to
	// the room of their content before the last one (its pieces kept).
	PatchesInPlace                   int
	TemplatesFreed, DenialZonesFreed int
	// Unsettled, when not nil, says why the version the old slot reads
	// could not be brought in step after the flip: the change is live,
	// and the next one will swap a whole generation in.
	Unsettled error
	// Where the time went: hashing the image and working out the change,
	// writing it, the RCU grace period after the flip, settling the
	// other versions and freeing.
	Plan, Write, Grace, Settle time.Duration
}

// Update makes img the live content by changing the live generation's
// maps in place, writing only what differs: new templates, chunks and
// denial zones go to free room; a shared template whose every user moves
// to one new content (a new SOA serial in every negative answer) gets
// that content as its other version; the names and answers entries that
// still change get their new version in the slot config.gen does not
// name. Then config.gen flips (one atomic store, so a packet reads one
// version throughout) and, after an RCU grace period, the other versions
// are brought in step and what only the old content used is freed.
// Memory stays that of one generation plus the change. ErrNoUpdate
// (nothing changed) when the live generation has no room or was not made
// by Swap; the caller swaps instead.
func (l *Loader) Update(img *Image) (UpdateStats, error) { return l.update(img, nil) }

// Delta is a change to the live content: Image holds the names and
// answers entries to set, with the templates and denial zones they use
// (numbered within the Delta, as in any Image; its NameFilter is not
// read), DelNames and DelAnswers the entries to remove. Every other entry
// stays as it is.
type Delta struct {
	Image
	DelNames   []bpf.XdpNameKey
	DelAnswers []bpf.XdpNameKey
	// Rewrites give live shared templates new content for every entry
	// that uses them (a new SOA serial in a negative answer), by
	// template ids of Image: the live template with the content of Old
	// gets that of New in place. One that is not shared, or not live,
	// cannot be rewritten (ErrNoUpdate).
	Rewrites []Rewrite
	// Covers give live names entries new Cover fields, their templates
	// as they are (a name whose cover moved in its zone's chain view).
	// A name not live, or set by Image too, is an error (ErrImage).
	Covers []NameCover
}

// Rewrite names a template's old and new content (ids in a Delta's
// Image).
type Rewrite struct{ Old, New uint32 }

// NameCover is a name's new Cover (the place of its cover among its
// zone's denial entries, 1-based; name_ver.cover).
type NameCover struct {
	Name  bpf.XdpNameKey
	Cover uint32
}

// UpdatePartial is Update for a change given as a Delta: it works in time
// and memory proportional to the change, not to the live content (what
// an IXFR or an incremental recompile of a few names hands over).
func (l *Loader) UpdatePartial(d *Delta) (UpdateStats, error) {
	return l.update(&d.Image, &deletions{names: d.DelNames, answers: d.DelAnswers, rewrites: d.Rewrites, covers: d.Covers})
}

func (l *Loader) update(img *Image, del *deletions) (UpdateStats, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return UpdateStats{}, ErrClosed
	}
	l.settleLive()
	lv := l.live
	if lv == nil {
		return UpdateStats{}, fmt.Errorf("%w: no generation to update", ErrNoUpdate)
	}
	if del != nil {
		c := *img
		c.NameFilter = nil // a delta's filter is not read
		img = &c
	}
	if err := checkImage(img); err != nil {
		return UpdateStats{}, err
	}
	// How many keys of each table the update touches (-1: all).
	nameKeys, answerKeys := -1, -1
	if del != nil {
		nameKeys, answerKeys = len(img.NameKeys)+len(del.names)+len(del.covers), len(img.AnswerKeys)+len(del.answers)
	}
	done, err := lv.names.open(l.slot, nameKeys)
	if err != nil {
		return UpdateStats{}, err
	}
	defer done()
	doneAnswers, err := lv.answers.open(l.slot, answerKeys)
	if err != nil {
		return UpdateStats{}, err
	}
	defer doneAnswers()
	for _, r := range lv.allRuns() {
		r.begin()
	}
	t0 := time.Now()
	if del != nil {
		// A change of a few keys: their slots read at once.
		if err := cmp.Or(lv.names.prefetch(img.NameKeys, del.names, del.coverKeys()), lv.answers.prefetch(img.AnswerKeys, del.answers)); err != nil {
			lv.rollback()
			return UpdateStats{}, fmt.Errorf("%w: %w", ErrNoUpdate, err)
		}
	}
	p, err := lv.plan(img, lv.h.hashImage(img), del)
	if err == nil {
		err = cmp.Or(lv.names.failed(), lv.answers.failed())
	}
	if err == nil && len(p.names) > l.gens[l.slot].caps[capNamesSide]/2 {
		err = fmt.Errorf("%w: %d names entries change, names_side holds %d a turn", ErrNoUpdate, len(p.names), l.gens[l.slot].caps[capNamesSide]/2)
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
	t1 := time.Now()
	// The names_side half this update writes is read from until it
	// returns (settled, or put back by unwrite).
	defer func() {
		if g.sideOpen != 0 {
			g.side[g.sideOpen-1] = sideUse{used: true, grace: l.graces}
			g.sideOpen = 0
		}
	}()
	if err := l.writeNew(g, p, next); err != nil {
		lv.rollback()
		l.unwrite(g, p)
		return UpdateStats{}, fmt.Errorf("%w: %w", ErrNoUpdate, err)
	}
	if l.stageHook != nil {
		l.stageHook("written")
	}
	atomic.StoreUint32(l.gen, next)
	l.slot = next
	l.serial++
	g.serial = l.serial
	t2 := time.Now()
	l.synchronize()
	t3 := time.Now()
	if l.stageHook != nil {
		l.stageHook("flipped")
	}
	st := lv.commit(p, del != nil)
	st.Serial = l.serial
	st.Plan, st.Write, st.Grace = t1.Sub(t0), t2.Sub(t1), t3.Sub(t2)
	err = l.settle(g, p)
	st.Settle = time.Since(t3)
	if err != nil {
		// The change is live and right; the other version is not, so
		// the next change must be a Swap. Not an error for the caller:
		// failing here would leave its userspace engine on the old zones
		// while the program serves the new ones.
		l.live = nil
		st.Unsettled = err
	}
	g.counts = [4]int{lv.names.size(), lv.answers.size(), int(lv.tmplIDs.next), int(lv.chunks.next)}
	return st, nil
}

// sharedVersions are the shared_templates values of p's rewritten and new
// shared templates: the new header in version slot, in the other the
// live one (or the new one too, newInBoth).
func (p *updatePlan) sharedVersions(lv *liveState, slot uint32, newInBoth bool) []bpf.XdpTmplVersions {
	vals := make([]bpf.XdpTmplVersions, len(p.sharedKeys))
	for i, k := range p.sharedKeys {
		other := lv.sharedHdr[k]
		if newInBoth {
			other = p.sharedVals[i]
		}
		vals[i].V[slot&1], vals[i].V[1-slot&1] = p.sharedVals[i], other
	}
	return vals
}

// writeNew writes the new content, and the changed entries' and rewritten
// shared templates' versions for slot next, none of which the live slot
// reads.
func (l *Loader) writeNew(g *generation, p *updatePlan, next uint32) error {
	ak, av := entryValues(answerKind, p.answers, next, func(o, n bpf.XdpAnswerVer) (bpf.XdpAnswerVer, bpf.XdpAnswerVer) { return n, o })
	steps := []struct {
		what string
		do   func() error
	}{
		{"chunks", func() error { return fillRuns(g.chunks, p.chunkKeys, p.chunkVals) }},
		{"patched denial zones", func() error { return writePatches(g, p) }},
		{"denial entries", func() error { return fillRuns(g.denialEntries, p.entryKeys, p.entryVals) }},
		{"denial index", func() error { return fillRuns(g.denialIndex, p.indexKeys, p.indexVals) }},
		{"denial zones", func() error { return fill(g.denialZones, p.viewKeys, p.viewVersions(l.live, next, false)) }},
		{"templates", func() error { return fillRuns(g.templates, p.tmplKeys, p.tmplVals) }},
		{"shared templates", func() error { return fill(g.sharedTemplates, p.sharedKeys, p.sharedVersions(l.live, next, false)) }},
		{"name filter", func() error { return fill(g.nameFilter, p.filterKeys, p.filterVals) }},
		{"names", func() error { return l.writeSide(g, p.names, next) }},
		{"answers", func() error { return g.answers.put(ak, av) }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fmt.Errorf("writing %s: %w", s.what, err)
		}
	}
	return nil
}

// writeSide writes the changed names entries' two versions (the new one
// in slot next) to the names_side half whose turn it is, then points
// each entry there (its word, one store; an added entry's key last): a
// names slot holds one version, and a packet reads a changed entry's
// from names_side until settle writes the new one into the slot. The
// half was last read from until the update before the last ended; a
// grace period since (the last update's) means no packet still reads
// it, else one is waited for.
func (l *Loader) writeSide(g *generation, cs []entryChange[bpf.XdpNameKey, bpf.XdpNameVer], next uint32) error {
	if len(cs) == 0 {
		return nil
	}
	half := uint32(g.caps[capNamesSide] / 2) // update checked that cs fit
	h := g.sideTurn & 1
	if u := g.side[h]; u.used && u.grace == l.graces {
		l.synchronize()
	}
	g.sideTurn++
	g.sideOpen = 1 + h
	keys, vals := make([]uint32, len(cs)), make([]bpf.XdpNameVal, len(cs))
	nkeys, ents := make([]bpf.XdpNameKey, len(cs)), make([]bpf.XdpNameEnt, len(cs))
	for i, c := range cs {
		keys[i] = h*half + uint32(i)
		vals[i].V[next&1], vals[i].V[1-next&1] = c.new, c.old
		nkeys[i] = c.k
		// An added entry's slot takes the ids of its live version
		// (absent), which the word makes a packet skip.
		ents[i] = packName(c.old)
		ents[i].Word = sideWord(keys[i])
	}
	if err := fill(g.namesSide, keys, vals); err != nil {
		return err
	}
	return g.names.putEach(nkeys, ents, func(dst *bpf.XdpNameEnt, e bpf.XdpNameEnt) { atomic.StoreUint32(&dst.Word, e.Word) })
}

// unwrite undoes what a failed writeNew may have written where a later
// flip would see it: the idle versions of the changed entries, the
// entries it added.
func (l *Loader) unwrite(g *generation, p *updatePlan) {
	unwriteEntries(nameKind, g.names, p.names)
	unwriteEntries(answerKind, g.answers, p.answers)
	old := make([]bpf.XdpTmplVersions, len(p.sharedKeys))
	for i, k := range p.sharedKeys {
		old[i] = tmplVersions(l.live.sharedHdr[k])
	}
	_ = fill(g.sharedTemplates, p.sharedKeys, old)
	var ids []uint32
	var zones []bpf.XdpDenialZoneVersions
	for id := range p.replaced {
		ids = append(ids, uint32(id))
		zones = append(zones, zoneVersions(l.live.viewHdr[id]))
	}
	_ = fill(g.denialZones, ids, zones)
	// A spare room a new content was being written to holds neither
	// content.
	for j, id := range p.viewKeys {
		if _, ok := p.replaced[uint16(id)]; ok {
			if s := l.live.views[id].spare; s != nil && s.entry == p.viewInfo[j].entry {
				s.stale = true
			}
		}
	}
}

// settle brings the versions the old slot reads in step with the live
// ones and deletes the entries neither holds (after the grace period: no
// packet reads the old versions any more).
func (l *Loader) settle(g *generation, p *updatePlan) error {
	if err := settleEntries(nameKind, g.names, p.names); err != nil {
		return err
	}
	if err := settleEntries(answerKind, g.answers, p.answers); err != nil {
		return err
	}
	if err := fill(g.denialZones, p.viewKeys, p.viewVersions(l.live, 0, true)); err != nil {
		return err
	}
	return fill(g.sharedTemplates, p.sharedKeys, p.sharedVersions(l.live, 0, true))
}

// viewVersions are the denial_zones values of p's new and replaced denial
// zones: the new zone in version slot, in the other the live one for a
// zone replaced in place (newInBoth: the new one too), else the new one
// (a new id no live template reads).
func (p *updatePlan) viewVersions(lv *liveState, slot uint32, newInBoth bool) []bpf.XdpDenialZoneVersions {
	vals := make([]bpf.XdpDenialZoneVersions, len(p.viewKeys))
	for j, id := range p.viewKeys {
		other := p.viewVals[j]
		if _, ok := p.replaced[uint16(id)]; ok && !newInBoth {
			other = lv.viewHdr[id]
		}
		vals[j].V[slot&1], vals[j].V[1-slot&1] = p.viewVals[j], other
	}
	return vals
}

func (lv *liveState) allRuns() []*runs {
	return []*runs{lv.tmplIDs, lv.sharedIDs, lv.viewIDs, lv.chunks, lv.entries, lv.index}
}

func (lv *liveState) rollback() {
	for _, r := range lv.allRuns() {
		r.rollback()
	}
}

// commit records the update in the Go state: the entries' new versions
// and references, the new and rewritten templates, the new denial zones
// (the rooms of a replaced zone's old content its spare); and frees what
// the new content does not use (an image holds only what its entries
// need).
func (lv *liveState) commit(p *updatePlan, partial bool) UpdateStats {
	// Then the spare rooms the room left for the other zones allows.
	defer lv.trimSpares()
	st := UpdateStats{NamesAdded: p.namesAdded, Templates: len(p.tmplKeys), DenialZones: len(p.viewKeys), Chunks: len(p.chunkKeys),
		InPlace: len(p.sharedKeys)}
	for _, w := range p.patches {
		if w.inPlace() {
			st.PatchesInPlace++
		}
	}
	for j, id := range p.viewKeys {
		if _, ok := p.replaced[uint16(id)]; ok {
			// The old content, which no packet reads after the grace
			// period: its room the spare the next content is written to
			// (the spare it had is the new content's room, or freed);
			// its pieces stay where a patch kept them, else are freed.
			old := &lv.views[id]
			if s := old.spare; s != nil && s.entry != p.viewInfo[j].entry {
				lv.releaseSpare(old)
			}
			rec := p.records[j]
			if rec == nil {
				lv.releaseChunks(old)
			}
			p.viewInfo[j].spare = &spareRoom{entry: old.entry, room: old.entryRoom, index: old.index, nindex: old.nindex, behind: rec,
				stale: rec == nil}
		}
		if _, ok := p.replaced[uint16(id)]; ok {
			// The same id, read by the same templates.
			p.viewInfo[j].readers = lv.views[id].readers
		}
		lv.views[id] = p.viewInfo[j]
		lv.viewHdr[id] = p.viewVals[j]
		lv.viewByID[p.viewInfo[j].ident] = uint16(id)
	}
	for j, id := range p.tmplKeys {
		lv.tmpls[id] = p.tmplInfo[j]
		lv.readView(&lv.tmpls[id], 1)
		lv.tmplByHash.set(p.tmplInfo[j].h, id)
	}
	for j, k := range p.sharedKeys {
		old := &lv.shared[k]
		if id, _ := lv.tmplByHash.get(old.h); id == k|abi.SharedTmpl {
			lv.tmplByHash.del(old.h)
		}
		lv.chunks.release(old.chunk, old.nchunks)
		lv.readView(old, -1)
		*old = p.sharedInfo[j]
		lv.readView(old, 1)
		lv.sharedHdr[k] = p.sharedVals[j]
		lv.tmplByHash.set(old.h, k|abi.SharedTmpl)
	}
	var added int
	var namesAdded int
	st.NamesChanged, namesAdded, st.NamesGone = commitEntries(nameKind, lv.names, p.names, lv.mark, lv.ref)
	lv.names.n += namesAdded - st.NamesGone
	st.AnswersChanged, added, st.AnswersGone = commitEntries(answerKind, lv.answers, p.answers, lv.mark, lv.ref)
	st.AnswersChanged += added // an added answer counts as changed
	if partial {
		lv.freeUnused(p, &st)
		return st
	}
	// What the new content uses: the templates of its entries, and its
	// denial zones.
	usedV := make([]bool, len(lv.views))
	for _, id := range p.viewID[min(1, len(p.viewID)):] {
		usedV[id] = true
	}
	usedT := make([]bool, len(lv.tmpls))
	usedS := make([]bool, len(lv.shared))
	for _, id := range p.idOf {
		if id&abi.SharedTmpl == 0 {
			usedT[id] = true
		} else {
			usedS[id&^abi.SharedTmpl] = true
		}
	}
	for id := range lv.tmpls {
		if t := &lv.tmpls[id]; t.live && !usedT[id] && t.refs == 0 {
			lv.freeTemplate(uint32(id), &st)
		}
	}
	for id := range lv.shared {
		if t := &lv.shared[id]; t.live && !usedS[id] && t.refs == 0 {
			lv.freeTemplate(uint32(id)|abi.SharedTmpl, &st)
		}
	}
	for id := range lv.views {
		if v := &lv.views[id]; v.live && !usedV[id] {
			lv.freeView(uint16(id), &st)
		}
	}
	return st
}

func (lv *liveState) freeTemplate(id uint32, st *UpdateStats) {
	t := lv.info(id)
	if got, ok := lv.tmplByHash.get(t.h); ok && got == id {
		lv.tmplByHash.del(t.h)
	}
	if id&abi.SharedTmpl != 0 {
		lv.sharedIDs.release(id&^abi.SharedTmpl, 1)
	} else {
		lv.tmplIDs.release(id, 1)
	}
	lv.chunks.release(t.chunk, t.nchunks)
	lv.readView(t, -1)
	*t = tmplInfo{}
	st.TemplatesFreed++
}

func (lv *liveState) freeView(id uint16, st *UpdateStats) {
	v := &lv.views[id]
	if lv.viewByID[v.ident] == id {
		delete(lv.viewByID, v.ident)
	}
	lv.viewIDs.release(uint32(id), 1)
	lv.releaseRooms(v)
	lv.releaseChunks(v)
	*v = viewInfo{}
	st.DenialZonesFreed++
}

// freeUnused frees, after a partial update, the plain templates no entry
// refers to any more, and then the denial zones no live template uses.
func (lv *liveState) freeUnused(p *updatePlan, st *UpdateStats) {
	cand := make(map[uint32]bool)
	for _, c := range p.names {
		if c.old != absentName {
			for _, id := range nameKind.ids(c.old) {
				cand[id] = true
			}
		}
	}
	for _, c := range p.answers {
		if c.old != absentAnswer {
			for _, id := range answerKind.ids(c.old) {
				cand[id] = true
			}
		}
	}
	for _, id := range p.tmplKeys {
		cand[id] = true
	}
	for _, k := range p.sharedKeys {
		cand[k|abi.SharedTmpl] = true
	}
	for id := range cand {
		if t := lv.info(id); id != 0 && t.live && t.refs == 0 {
			lv.freeTemplate(id, st)
		}
	}
	// The zones left unused (inUse: each counts its readers).
	for id := range lv.views {
		v := &lv.views[id]
		if !v.live || lv.inUse(uint16(id)) {
			continue
		}
		lv.freeView(uint16(id), st)
	}
}
