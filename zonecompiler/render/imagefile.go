package render

import (
	"fmt"
	"maps"
	"slices"

	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/zonecompiler/binfmt"
)

// Encode writes img (with its Incremental, when set) in the form
// DecodeImage reads: the map image part of a compiled zone image (package
// compiled). Names and answers are written in key order, so that one
// image always encodes to the same bytes.
func (img *Image) Encode(w *binfmt.Writer) {
	s := img.sorted()
	w.Int(len(s.NameKeys))
	for i, h := range s.NameKeys {
		e := &s.NameVals[i]
		writeHash(w, h)
		for _, id := range e.Tmpls() {
			w.Uvarint(uint64(id))
		}
		w.Uvarint(uint64(e.Flags))
		w.Uvarint(uint64(e.Cover))
	}
	w.Int(len(s.AnswerKeys))
	for i, k := range s.AnswerKeys {
		v := s.AnswerVals[i]
		writeAnswerKey(w, k)
		w.Uvarint(uint64(v[0]))
		w.Uvarint(uint64(v[1]))
	}
	w.Int(len(img.Templates))
	for i := range img.Templates {
		encodeTemplate(w, &img.Templates[i])
	}
	w.Int(len(img.Denial))
	for _, dz := range img.Denial[min(1, len(img.Denial)):] {
		encodeDenial(w, dz)
	}
	st := img.Stats
	for _, v := range [...]int{st.Names, st.Answers, st.Templates, st.BodyBytes, st.Delegations, st.PassedTemplates, st.Renders} {
		w.Int(v)
	}
	EncodeIncremental(w, img.Incremental)
}

// writeHash and writeAnswerKey write the keys readHash and
// readAnswerKey read.
func writeHash(w *binfmt.Writer, h NameHash) {
	w.U64(h.H1)
	w.U64(h.H2)
}

func writeAnswerKey(w *binfmt.Writer, k AnswerKey) {
	writeHash(w, k.Name)
	w.U16(k.QType)
	w.U16(k.Mode)
}

func readHash(r *binfmt.Reader) NameHash { return NameHash{H1: r.U64(), H2: r.U64()} }

func readAnswerKey(r *binfmt.Reader) AnswerKey {
	return AnswerKey{Name: readHash(r), QType: r.U16(), Mode: r.U16()}
}

// sorted is img's names and answers in key order: its Sorted, or its
// maps' entries sorted.
func (img *Image) sorted() *Sorted {
	if img.Sorted != nil {
		return img.Sorted
	}
	s := &Sorted{NameKeys: slices.SortedFunc(maps.Keys(img.Names), compareHash),
		AnswerKeys: slices.SortedFunc(maps.Keys(img.Answers), compareAnswerKey)}
	s.NameVals = make([]NameEntry, len(s.NameKeys))
	for i, h := range s.NameKeys {
		s.NameVals[i] = img.Names[h]
	}
	s.AnswerVals = make([][2]uint32, len(s.AnswerKeys))
	for i, k := range s.AnswerKeys {
		s.AnswerVals[i] = img.Answers[k]
	}
	return s
}

func encodeTemplate(w *binfmt.Writer, t *Template) {
	w.Bytes(t.Body)
	w.Int(len(t.Relocs))
	for _, r := range t.Relocs {
		w.U16(r)
	}
	w.Int(t.BodyLen)
	w.Int(t.ReqLen)
	w.U16(t.AN)
	w.U16(t.NS)
	w.U16(t.AR)
	w.U16(t.Flags)
	w.U16(t.Kind)
	w.U8(t.RRLClass)
	w.U8(t.RRLLabels)
	w.Bool(t.RRLWild)
	w.Int(t.Slot)
	w.U16(t.Denial)
	w.U32(t.DenialHead)
	w.U32(t.DenialTail)
	w.Bool(t.Shared)
}

// words hands out the []uint16 of relocation lists from blocks, so that
// the millions of a signed TLD's templates and pieces cost a few
// allocations.
type words struct{ block []uint16 }

func (w *words) take(r *binfmt.Reader) []uint16 {
	n := r.Count(2)
	if n == 0 {
		return nil
	}
	if len(w.block) < n {
		w.block = make([]uint16, max(n, 32<<10))
	}
	out := w.block[:n:n]
	w.block = w.block[n:]
	for i := range out {
		out[i] = r.U16()
	}
	return out
}

func decodeTemplate(r *binfmt.Reader, w *words, t *Template) {
	t.Body = r.Bytes()
	t.Relocs = w.take(r)
	t.BodyLen = r.Int(1 << 20)
	t.ReqLen = r.Int(1 << 20)
	t.AN, t.NS, t.AR, t.Flags, t.Kind = r.U16(), r.U16(), r.U16(), r.U16(), r.U16()
	t.RRLClass, t.RRLLabels = r.U8(), r.U8()
	t.RRLWild = r.Bool()
	t.Slot = r.Int(1 << 20)
	t.Denial = r.U16()
	t.DenialHead, t.DenialTail = r.U32(), r.U32()
	t.Shared = r.Bool()
}

func encodeDenial(w *binfmt.Writer, dz *DenialZone) {
	w.U8(dz.Kind)
	w.Bytes(dz.Salt)
	w.U32(dz.Base)
	w.Int(len(dz.Entries))
	for i := range dz.Entries {
		e := &dz.Entries[i]
		for _, k := range e.Key {
			w.U64(k)
		}
		w.Bytes(e.Piece.Body)
		w.Int(len(e.Piece.Relocs))
		for _, r := range e.Piece.Relocs {
			w.U16(r)
		}
		w.U16(e.Piece.Records)
		w.U32(e.Slot)
	}
	w.U8(dz.IndexBits)
	w.Int(len(dz.Index))
	for _, v := range dz.Index {
		w.U32(v)
	}
	owners := slices.Sorted(maps.Keys(dz.byOwner))
	w.Int(len(owners))
	for _, o := range owners {
		w.String(o)
		w.U32(dz.byOwner[o])
	}
	w.Bytes(dz.probe)
	w.Bool(dz.Ref)
	w.Bool(dz.Patch)
	w.U32(dz.Slots)
	w.Int(len(dz.Runs))
	for _, x := range dz.Runs {
		w.U32(x.To)
		w.U32(x.From)
		w.U32(x.N)
	}
}

func decodeDenial(r *binfmt.Reader, w *words) *DenialZone {
	dz := &DenialZone{Kind: r.U8(), Salt: r.Bytes(), Base: r.U32()}
	dz.Entries = make([]DenialEntry, r.Count(8*4+7))
	for i := range dz.Entries {
		e := &dz.Entries[i]
		for k := range e.Key {
			e.Key[k] = r.U64()
		}
		e.Piece.Body = r.Bytes()
		e.Piece.Relocs = w.take(r)
		e.Piece.Records = r.U16()
		e.Slot = r.U32()
	}
	dz.IndexBits = r.U8()
	dz.Index = make([]uint32, r.Count(4))
	for i := range dz.Index {
		dz.Index[i] = r.U32()
	}
	n := r.Count(5)
	dz.byOwner = make(map[string]uint32, n)
	for range n {
		o := r.String()
		dz.byOwner[o] = r.U32()
	}
	dz.probe = r.Bytes()
	dz.Ref = r.Bool()
	dz.Patch = r.Bool()
	dz.Slots = r.U32()
	if n := r.Count(12); n > 0 {
		dz.Runs = make([]PatchRun, n)
		for i := range dz.Runs {
			dz.Runs[i] = PatchRun{To: r.U32(), From: r.U32(), N: r.U32()}
		}
	}
	return dz
}

func (inc *Incremental) encode(w *binfmt.Writer) {
	origins := slices.Sorted(maps.Keys(inc.zones))
	w.Int(len(origins))
	for _, o := range origins {
		u := inc.zones[o]
		w.String(o)
		names := slices.Sorted(maps.Keys(u.refs))
		w.Int(len(names))
		for _, n := range names {
			w.String(n)
			w.Int(len(u.refs[n]))
			for _, by := range u.refs[n] {
				w.String(by)
			}
		}
		encodeHolders(w, &u.holders)
		encodeLayout(w, u.layout)
		names = slices.Sorted(maps.Keys(u.held))
		w.Int(len(names))
		for _, n := range names {
			w.String(n)
		}
		names = slices.Sorted(maps.Keys(u.noView))
		w.Int(len(names))
		for _, n := range names {
			w.String(n)
		}
		names = slices.Sorted(maps.Keys(u.nsecLayouts))
		w.Int(len(names))
		for _, n := range names {
			w.String(n)
			encodeLayout(w, u.nsecLayouts[n])
		}
		w.Bool(u.apex != nil)
		if u.apex != nil {
			encodeHolders(w, u.apex)
		}
	}
}

// encodeHolders writes the holders of a record.
func encodeHolders(w *binfmt.Writer, h *holders) {
	w.Bytes(h.mark)
	w.Int(len(h.reps))
	for i := range h.reps {
		rep := &h.reps[i]
		encodeTemplate(w, &rep.t)
		w.Int(len(rep.queries))
		for _, q := range rep.queries {
			w.Bytes(q.name)
			w.U16(q.qtype)
			w.U16(q.mode)
			w.Bool(q.do)
		}
		w.Bool(rep.all)
	}
	w.Bool(h.tooMany)
	names := slices.Sorted(maps.Keys(h.names))
	w.Int(len(names))
	for _, n := range names {
		w.String(n)
	}
}

// decodeHolders reads what encodeHolders wrote.
func decodeHolders(r *binfmt.Reader, w *words) holders {
	var h holders
	h.mark = r.Bytes()
	h.reps = make([]soaRep, r.Count(30))
	for i := range h.reps {
		rep := &h.reps[i]
		decodeTemplate(r, w, &rep.t)
		rep.queries = make([]repQuery, r.Count(6))
		for j := range rep.queries {
			rep.queries[j] = repQuery{name: r.Bytes(), qtype: r.U16(), mode: r.U16(), do: r.Bool()}
		}
		rep.all = r.Bool()
	}
	h.tooMany = r.Bool()
	nn := r.Count(1)
	h.names = make(map[string]bool, nn)
	for range nn {
		h.names[r.String()] = true
	}
	return h
}

// encodeLayout writes a view's layout (nil: none) as its keys.
func encodeLayout(w *binfmt.Writer, l *chainLayout) {
	w.Int(l.Len())
	for i := range l.Len() {
		for _, x := range l.At(i) {
			w.U64(x)
		}
	}
}

// decodeLayout reads what encodeLayout wrote.
func decodeLayout(r *binfmt.Reader) *chainLayout {
	nl := r.Count(32)
	if nl == 0 {
		return nil
	}
	keys := make([][4]uint64, nl)
	for i := range keys {
		keys[i] = [4]uint64{r.U64(), r.U64(), r.U64(), r.U64()}
	}
	return newChainLayout(keys)
}

func decodeIncremental(r *binfmt.Reader) *Incremental {
	w := &words{} // its own blocks: the Incremental outlives the image
	n := r.Count(4)
	inc := &Incremental{zones: make(map[string]*soaUsers, n)}
	for range n {
		o := r.String()
		u := &soaUsers{}
		nrefs := r.Count(2)
		u.refs = make(map[string][]string, nrefs)
		for range nrefs {
			name := r.String()
			by := make([]string, r.Count(1))
			for i := range by {
				by[i] = r.String()
			}
			u.refs[name] = by
		}
		u.holders = decodeHolders(r, w)
		u.perRep = repQueries
		u.layout = decodeLayout(r)
		if nh := r.Count(1); nh > 0 {
			u.held = make(map[string]bool, nh)
			for range nh {
				u.held[r.String()] = true
			}
		}
		if nv := r.Count(1); nv > 0 {
			u.noView = make(map[string]bool, nv)
			for range nv {
				u.noView[r.String()] = true
			}
		}
		if nl := r.Count(2); nl > 0 {
			u.nsecLayouts = make(map[string]*chainLayout, nl)
			for range nl {
				name := r.String()
				u.nsecLayouts[name] = decodeLayout(r)
			}
		}
		if r.Bool() {
			h := decodeHolders(r, w)
			h.perRep = apexRepQueries
			u.apex = &h
		}
		inc.zones[o] = u
	}
	return inc
}

// DecodeImage reads an image Encode wrote, its names and answers into
// Sorted. Its error is the reader's (a truncated or malformed input), keys
// out of order or repeated, or a template or denial reference out of
// range: an image that decodes is one the loader can lay out.
func DecodeImage(r *binfmt.Reader) (*Image, error) { return decodeImage(r, true) }

// decodeImage is DecodeImage, the templates' denial zones checked when
// denial (a change's name those of the image it changes).
func decodeImage(r *binfmt.Reader, denial bool) (*Image, error) {
	s := &Sorted{}
	img := &Image{Sorted: s}
	n := r.Count(16 + 6)
	// Room for the names and answers the image's changes add, applied
	// in place (Image.Apply).
	s.NameKeys, s.NameVals = make([]NameHash, n, n+n/64), make([]NameEntry, n, n+n/64)
	for i := range n {
		s.NameKeys[i] = readHash(r)
		e := &s.NameVals[i]
		e.ExactDefault[0], e.ExactDefault[1] = uint32(r.Uvarint()), uint32(r.Uvarint())
		e.BelowDefault[0], e.BelowDefault[1] = uint32(r.Uvarint()), uint32(r.Uvarint())
		e.Flags = uint32(r.Uvarint())
		e.Cover = uint32(r.Uvarint())
		if i > 0 && compareHash(s.NameKeys[i-1], s.NameKeys[i]) >= 0 {
			r.Fail("names out of order")
		}
	}
	n = r.Count(20 + 2)
	s.AnswerKeys, s.AnswerVals = make([]AnswerKey, n, n+n/64), make([][2]uint32, n, n+n/64)
	for i := range n {
		s.AnswerKeys[i] = readAnswerKey(r)
		s.AnswerVals[i] = [2]uint32{uint32(r.Uvarint()), uint32(r.Uvarint())}
		if i > 0 && compareAnswerKey(s.AnswerKeys[i-1], s.AnswerKeys[i]) >= 0 {
			r.Fail("answers out of order")
		}
	}
	var w words
	img.Templates = make([]Template, r.Count(20))
	for i := range img.Templates {
		decodeTemplate(r, &w, &img.Templates[i])
	}
	nd := r.Count(1)
	if nd > 0 {
		img.Denial = make([]*DenialZone, nd)
		for i := 1; i < nd && r.Err() == nil; i++ {
			img.Denial[i] = decodeDenial(r, &w)
		}
	}
	st := &img.Stats
	for _, v := range [...]*int{&st.Names, &st.Answers, &st.Templates, &st.BodyBytes, &st.Delegations, &st.PassedTemplates, &st.Renders} {
		*v = r.Int(1 << 40)
	}
	if r.Bool() {
		img.Incremental = decodeIncremental(r)
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if err := img.checkRefs(denial); err != nil {
		return nil, err
	}
	return img, nil
}

// CheckRefs refuses an image whose entries name a template or a template
// a denial zone that it does not have.
func (img *Image) CheckRefs() error { return img.checkRefs(true) }

// checkRefs is CheckRefs, the denial zones checked when denial.
func (img *Image) checkRefs(denial bool) error {
	nt := uint32(len(img.Templates))
	bad := func(id uint32) bool { return id != abi.Pass && id >= nt }
	for _, e := range img.AllNames() {
		for _, id := range e.Tmpls() {
			if bad(id) {
				return errBadRef("name entry", id)
			}
		}
	}
	for _, v := range img.AllAnswers() {
		if bad(v[0]) || bad(v[1]) {
			return errBadRef("answer entry", max(v[0], v[1]))
		}
	}
	for i := 1; i < len(img.Templates); i++ { // [0] is unused
		t := &img.Templates[i]
		if denial && t.Slot != abi.NoSlot && (t.Denial == 0 || int(t.Denial) >= len(img.Denial)) {
			return errBadRef("template's denial zone", uint32(t.Denial))
		}
	}
	return nil
}

func errBadRef(what string, id uint32) error {
	return fmt.Errorf("%s names template or zone %d, which the image does not have", what, id)
}

// Encode writes d in the form DecodeDelta reads (a change appended to a
// compiled zone image: package compiled).
func (d *Delta) Encode(w *binfmt.Writer) {
	d.Image.Encode(w)
	w.Int(len(d.DelNames))
	for _, h := range d.DelNames {
		writeHash(w, h)
	}
	w.Int(len(d.DelAnswers))
	for _, k := range d.DelAnswers {
		writeAnswerKey(w, k)
	}
	w.Int(len(d.Rewrites))
	for _, r := range d.Rewrites {
		w.Uvarint(uint64(r.Old))
		w.Uvarint(uint64(r.New))
	}
	w.Int(len(d.Covers))
	for _, c := range d.Covers {
		writeHash(w, c.Name)
		w.Uvarint(uint64(c.Cover))
	}
}

// DecodeDelta reads a change Delta.Encode wrote. Its templates may name
// the denial zones of the image it changes: Image.Apply's result is
// checked (CheckRefs), not the change alone.
func DecodeDelta(r *binfmt.Reader) (*Delta, error) {
	img, err := decodeImage(r, false)
	if err != nil {
		return nil, err
	}
	d := &Delta{Image: img}
	d.DelNames = make([]NameHash, r.Count(16))
	for i := range d.DelNames {
		d.DelNames[i] = readHash(r)
	}
	d.DelAnswers = make([]AnswerKey, r.Count(20))
	for i := range d.DelAnswers {
		d.DelAnswers[i] = readAnswerKey(r)
	}
	d.Rewrites = make([]Rewrite, r.Count(2))
	for i := range d.Rewrites {
		d.Rewrites[i] = Rewrite{Old: uint32(r.Uvarint()), New: uint32(r.Uvarint())}
		if n := uint32(len(img.Templates)); d.Rewrites[i].Old >= n || d.Rewrites[i].New >= n {
			r.Fail("rewrite of template %d to %d, of %d", d.Rewrites[i].Old, d.Rewrites[i].New, n)
		}
	}
	d.Covers = make([]CoverChange, r.Count(17))
	for i := range d.Covers {
		d.Covers[i] = CoverChange{Name: readHash(r), Cover: uint32(r.Uvarint())}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return d, nil
}

// EncodeIncremental writes inc (nil: none) in the form
// DecodeIncremental reads.
func EncodeIncremental(w *binfmt.Writer, inc *Incremental) {
	w.Bool(inc != nil)
	if inc != nil {
		inc.encode(w)
	}
}

// DecodeIncremental reads what EncodeIncremental wrote.
func DecodeIncremental(r *binfmt.Reader) (*Incremental, error) {
	var inc *Incremental
	if r.Bool() {
		inc = decodeIncremental(r)
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return inc, nil
}
