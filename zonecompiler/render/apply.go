package render

import (
	"bytes"
	"fmt"
	"maps"
	"slices"

	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// Apply returns the image img becomes with ds, one after the other: what
// the maps hold once the loader has written each (loader.UpdatePartial).
// For each, every template whose content is a rewrite's old content takes
// the new content, and its names and answers are removed and then set;
// the templates no entry uses any longer are dropped at the end. It is
// how a compiled zone image follows the changes rendered alone
// (Recompile) without a whole compile: img's entries are read once
// whatever the number of changes. The result holds its names and answers
// in Sorted; its Incremental is the caller's to set (Recompile's last
// next), and of its Stats only the counts of names, answers, templates and
// body bytes are counted anew. img is consumed: its templates and
// entries are reused, so it must not be used afterwards (a restart's
// decoded image is applied once: no copy of a TLD's half a million
// templates). A change's chain views
// (a signed zone's, rebuilt into it) are img's by content, as the loader
// finds them in the maps: one that img has not is an error.
func (img *Image) Apply(ds ...*Delta) (*Image, error) {
	out := &Image{Denial: img.Denial, Stats: img.Stats, Templates: img.Templates}
	names := map[NameHash]change[NameEntry]{}
	answers := map[AnswerKey]change[[2]uint32]{}
	s := img.sorted()
	for n, d := range ds {
		dt, err := out.placeViews(d)
		if err != nil {
			return nil, fmt.Errorf("change %d: %w", n+1, err)
		}
		out.rewrite(d, dt)
		// d's template ids, past those before it.
		base := uint32(len(out.Templates))
		moved := func(id uint32) uint32 {
			if id == abi.Pass {
				return id
			}
			return base + id - 1
		}
		if len(dt) > 1 {
			out.Templates = append(out.Templates, dt[1:]...)
		}
		for _, h := range d.DelNames {
			names[h] = change[NameEntry]{gone: true}
		}
		for _, k := range d.DelAnswers {
			answers[k] = change[[2]uint32]{gone: true}
		}
		for h, e := range d.Image.AllNames() {
			names[h] = change[NameEntry]{v: e.withTmpls(moved)}
		}
		for k, v := range d.Image.AllAnswers() {
			answers[k] = change[[2]uint32]{v: [2]uint32{moved(v[0]), moved(v[1])}}
		}
		for _, c := range d.Covers {
			e, ok := names[c.Name]
			if !ok {
				i, found := slices.BinarySearchFunc(s.NameKeys, c.Name, compareHash)
				if found {
					e = change[NameEntry]{v: s.NameVals[i]}
				}
				ok = found
			}
			if !ok || e.gone {
				return nil, fmt.Errorf("change %d: the cover of name %x, which the image does not have", n+1, c.Name)
			}
			e.v.Cover = c.Cover
			names[c.Name] = e
		}
	}
	out.Sorted = &Sorted{}
	out.Sorted.NameKeys, out.Sorted.NameVals = merge(s.NameKeys, s.NameVals, names, compareHash)
	out.Sorted.AnswerKeys, out.Sorted.AnswerVals = merge(s.AnswerKeys, s.AnswerVals, answers, compareAnswerKey)
	out.dropUnused()
	out.Stats.Names, out.Stats.Answers, out.Stats.Templates = out.NameCount(), out.AnswerCount(), len(out.Templates)-1
	out.Stats.BodyBytes = 0
	for _, t := range out.Templates {
		out.Stats.BodyBytes += len(t.Body)
	}
	return out, nil
}

// placeViews returns d's templates with their denial slots reading img's
// chain views of the same content as d's (img's views given d's content
// where it changed, or added).
func (img *Image) placeViews(d *Delta) ([]Template, error) {
	dt := d.Image.Templates
	var views map[uint16]uint16 // d's view -> img's
	for j, dz := range d.Image.Denial {
		if j == 0 || dz == nil {
			continue
		}
		found := false
		for i, lz := range img.Denial {
			if i == 0 || lz == nil {
				continue
			}
			named := lz.Kind == dz.Kind && dz.Name() != nil && bytes.Equal(lz.Name(), dz.Name())
			if (dz.Ref || dz.Patch) && !named {
				continue // the live view of its name only
			}
			same := dz.Ref || !dz.Patch && sameView(lz, img.Templates, dz, dt)
			if !same && !named {
				continue
			}
			patch := dz.Patch
			if patch {
				// The view of that name with the change's pieces.
				var err error
				if dz, err = dz.patched(lz); err != nil {
					return nil, err
				}
			}
			if !same {
				// The view of that name, changed (its chain changed):
				// its templates read the new content, as the loader
				// gives the live view the new content in place.
				img.replaceView(i, dz)
			}
			if views == nil {
				views = map[uint16]uint16{}
			}
			views[uint16(j)] = uint16(i)
			found = true
			break
		}
		if !found {
			if dz.Ref || dz.Patch || dz.Name() == nil {
				return nil, fmt.Errorf("a chain view of %d entries that the image does not have", dz.Count())
			}
			// A view of a name the image has none of (an NSEC zone's new
			// closest encloser): added after the others, as the loader
			// adds it.
			if views == nil {
				views = map[uint16]uint16{}
			}
			views[uint16(j)] = uint16(len(img.Denial))
			img.addView(dz)
		}
	}
	if views == nil {
		return dt, nil
	}
	dt = slices.Clone(dt)
	for i := range dt {
		t := &dt[i]
		if to, ok := views[t.Denial]; ok && t.Slot != abi.NoSlot {
			t.Denial = to
		}
	}
	return dt, nil
}

// addView places dz after img's views.
func (img *Image) addView(dz *DenialZone) {
	end := uint32(0)
	for _, v := range img.Denial {
		if v != nil {
			end = max(end, v.Base+uint32(v.Count()))
		}
	}
	if len(img.Denial) == 0 {
		img.Denial = []*DenialZone{nil}
	}
	img.Denial = append(img.Denial, dz.rebased(end))
}

// replaceView gives view i the content of dz, placed where view i was;
// the views after it move by the difference in entries.
func (img *Image) replaceView(i int, dz *DenialZone) {
	old := img.Denial[i]
	img.Denial[i] = dz.rebased(old.Base)
	shift := uint32(dz.Count()) - uint32(old.Count())
	for _, v := range img.Denial[i+1:] {
		if v != nil {
			*v = *v.rebased(v.Base + shift)
		}
	}
}

// patched is patch view dz made whole: its runs' slots filled from live,
// the view it patches.
func (dz *DenialZone) patched(live *DenialZone) (*DenialZone, error) {
	c := *dz
	c.Patch, c.Slots, c.Runs, c.keys = false, 0, nil, nil
	c.Entries = make([]DenialEntry, dz.Slots)
	filled := make([]bool, dz.Slots)
	fill := func(i uint32, e DenialEntry) bool {
		if i >= dz.Slots || filled[i] {
			return false
		}
		e.Slot = 0
		c.Entries[i], filled[i] = e, true
		return true
	}
	for _, r := range dz.Runs {
		if uint64(r.From)+uint64(r.N) > uint64(len(live.Entries)) {
			return nil, fmt.Errorf("a patch of the chain view of %s takes entries %d+%d of %d", wire.String(dz.Name()), r.From, r.N,
				len(live.Entries))
		}
		for k := range r.N {
			if !fill(r.To+k, live.Entries[r.From+k]) {
				return nil, fmt.Errorf("a patch of the chain view of %s fills slot %d twice, or past its %d", wire.String(dz.Name()), r.To+k, dz.Slots)
			}
		}
	}
	for _, e := range dz.Entries {
		if !fill(e.Slot, e) {
			return nil, fmt.Errorf("a patch of the chain view of %s fills slot %d twice, or past its %d", wire.String(dz.Name()), e.Slot, dz.Slots)
		}
	}
	if i := slices.Index(filled, false); i >= 0 {
		return nil, fmt.Errorf("a patch of the chain view of %s leaves slot %d empty", wire.String(dz.Name()), i)
	}
	return &c, nil
}

// rebased is a copy of dz placed at base (its entries shared).
func (dz *DenialZone) rebased(base uint32) *DenialZone {
	c := *dz
	c.Base = base
	c.Index = make([]uint32, len(dz.Index))
	for i, v := range dz.Index {
		c.Index[i] = v - dz.Base + base
	}
	if dz.byOwner != nil {
		c.byOwner = make(map[string]uint32, len(dz.byOwner))
		for o, v := range dz.byOwner {
			c.byOwner[o] = v - dz.Base + base
		}
	}
	return &c
}

// sameView reports whether chain views a (its templates at) and b (bt)
// hold the same content wherever they are placed: entries, pieces and
// index.
func sameView(a *DenialZone, at []Template, b *DenialZone, bt []Template) bool {
	if a.Kind != b.Kind || !bytes.Equal(a.Salt, b.Salt) || a.IndexBits != b.IndexBits ||
		len(a.Entries) != len(b.Entries) || len(a.Index) != len(b.Index) {
		return false
	}
	for i := range a.Index {
		if a.Index[i]-a.Base != b.Index[i]-b.Base {
			return false
		}
	}
	for i := range a.Entries {
		x, y := &a.Entries[i], &b.Entries[i]
		if x.Key != y.Key || x.Piece.Records != y.Piece.Records || !bytes.Equal(x.Piece.Body, y.Piece.Body) ||
			!slices.Equal(x.Piece.Relocs, y.Piece.Relocs) {
			return false
		}
	}
	return true
}

// rewrite gives every template of img whose content is one of d's
// rewrites' old content the new content (in place: it stays shared or
// plain as it was); dt are d's templates, their views placed in img.
func (img *Image) rewrite(d *Delta, dt []Template) {
	if len(d.Rewrites) == 0 {
		return
	}
	for i := 1; i < len(img.Templates); i++ {
		t := &img.Templates[i]
		for _, r := range d.Rewrites {
			if sameContent(t, &dt[r.Old]) {
				n := dt[r.New]
				n.Shared = t.Shared
				*t = n
				break
			}
		}
	}
}

// sameContent reports whether a and b are the same template but for
// where they are kept (Shared): what key compares, without making keys.
func sameContent(a, b *Template) bool {
	return a.BodyLen == b.BodyLen && a.ReqLen == b.ReqLen && a.AN == b.AN && a.NS == b.NS && a.AR == b.AR &&
		a.Flags == b.Flags && a.Kind == b.Kind && a.RRLClass == b.RRLClass && a.RRLLabels == b.RRLLabels &&
		a.RRLWild == b.RRLWild && a.Slot == b.Slot && a.Denial == b.Denial && a.DenialHead == b.DenialHead &&
		a.DenialTail == b.DenialTail && slices.Equal(a.Relocs, b.Relocs) && bytes.Equal(a.Body, b.Body)
}

// change is an entry's fate in Apply: set to v, or removed.
type change[V any] struct {
	v    V
	gone bool
}

// merge is keys → vals (in key order) with the changes made: an entry
// removed, set or added. It works in place when the slices have room for
// the entries added (a decoded image's have some: DecodeImage), else into
// new ones.
func merge[K comparable, V any](keys []K, vals []V, changes map[K]change[V], compare func(a, b K) int) ([]K, []V) {
	set := slices.SortedFunc(maps.Keys(changes), compare)
	// Forward: entries removed and set, in place; the keys to add kept.
	var add []K
	n, j := 0, 0
	for i := range keys {
		for j < len(set) && compare(set[j], keys[i]) < 0 {
			add = append(add, set[j])
			j++
		}
		k, v := keys[i], vals[i]
		if j < len(set) && set[j] == k {
			ch := changes[k]
			j++
			if ch.gone {
				continue
			}
			v = ch.v
		}
		keys[n], vals[n] = k, v
		n++
	}
	add = append(add, set[j:]...)
	add = slices.DeleteFunc(add, func(k K) bool { return changes[k].gone })
	m := n + len(add)
	if m > cap(keys) || m > cap(vals) {
		nk, nv := make([]K, n, m), make([]V, n, m)
		copy(nk, keys[:n])
		copy(nv, vals[:n])
		keys, vals = nk, nv
	}
	// Backward: the entries added, from the end.
	keys, vals = keys[:m], vals[:m]
	i, w := n-1, m-1
	for a := len(add) - 1; a >= 0; w-- {
		if i >= 0 && compare(keys[i], add[a]) > 0 {
			keys[w], vals[w] = keys[i], vals[i]
			i--
			continue
		}
		keys[w], vals[w] = add[a], changes[add[a]].v
		a--
	}
	return keys, vals
}

// dropUnused removes the templates no names or answers entry and no
// denial zone (its context) refers to, and renumbers the rest.
func (img *Image) dropUnused() {
	used := make([]bool, len(img.Templates))
	mark := func(id uint32) {
		if id != abi.Pass && int(id) < len(used) {
			used[id] = true
		}
	}
	s := img.Sorted
	for _, e := range s.NameVals {
		for _, id := range e.Tmpls() {
			mark(id)
		}
	}
	for _, v := range s.AnswerVals {
		mark(v[0])
		mark(v[1])
	}
	ids := make([]uint32, len(img.Templates))
	kept := 1 // compacted in place
	for i := 1; i < len(img.Templates); i++ {
		if used[i] {
			ids[i] = uint32(kept)
			img.Templates[kept] = img.Templates[i]
			kept++
		}
	}
	if kept == len(img.Templates) {
		return
	}
	clear(img.Templates[kept:]) // their bodies go
	img.Templates = img.Templates[:kept]
	id := func(x uint32) uint32 {
		if x == abi.Pass || int(x) >= len(ids) {
			return x
		}
		return ids[x]
	}
	for i, e := range s.NameVals {
		s.NameVals[i] = e.withTmpls(id)
	}
	for i := range s.AnswerVals {
		s.AnswerVals[i] = [2]uint32{id(s.AnswerVals[i][0]), id(s.AnswerVals[i][1])}
	}
}
