//go:build linux

package hotpath

import (
	"github.com/xdpdns/xdpdns/bpf"
	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/loader"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
)

// FromRender lays a compiled render.Image out as the loader's map image
// (the layout of bpf/include/shared.h): keys and values side by side,
// template bodies cut into chunks.
func FromRender(img *render.Image) *loader.Image {
	out, _ := fromRender(img, true)
	return out
}

// DeltaFromRender lays a render.Delta out as the loader's (the entries
// it sets, with their templates, and those it removes).
func DeltaFromRender(d *render.Delta) *loader.Delta {
	img, id := fromRender(d.Image, false)
	out := &loader.Delta{Image: *img}
	for _, h := range d.DelNames {
		out.DelNames = append(out.DelNames, bpf.XdpNameKey{H1: h.H1, H2: h.H2})
	}
	for _, k := range d.DelAnswers {
		out.DelAnswers = append(out.DelAnswers, AnswerKey(k))
	}
	for _, r := range d.Rewrites {
		out.Rewrites = append(out.Rewrites, loader.Rewrite{Old: id(r.Old), New: id(r.New)})
	}
	for _, c := range d.Covers {
		out.Covers = append(out.Covers, loader.NameCover{Name: bpf.XdpNameKey{H1: c.Name.H1, H2: c.Name.H2}, Cover: c.Cover})
	}
	return out
}

// fromRender is FromRender, with the name filter when filter, returning
// the map from render template ids to the image's.
func fromRender(img *render.Image, filter bool) (*loader.Image, func(uint32) uint32) {
	out := &loader.Image{}
	if filter {
		out.NameFilter = abi.NameFilter(img.NameHashes())
	}
	// Shared templates go to their own array, their ids marked.
	ids := make([]uint32, len(img.Templates))
	nplain, nshared := uint32(1), uint32(1)
	for i := 1; i < len(img.Templates); i++ {
		if img.Templates[i].Shared {
			ids[i] = nshared | abi.SharedTmpl
			nshared++
		} else {
			ids[i] = nplain
			nplain++
		}
	}
	id := func(i uint32) uint32 {
		if int(i) < len(ids) {
			return ids[i]
		}
		return i
	}
	out.NameKeys = make([]bpf.XdpNameKey, 0, img.NameCount())
	out.NameVals = make([]bpf.XdpNameVer, 0, img.NameCount())
	out.AnswerKeys = make([]bpf.XdpNameKey, 0, img.AnswerCount())
	out.AnswerVals = make([]bpf.XdpAnswerVer, 0, img.AnswerCount())
	for h, e := range img.AllNames() {
		out.NameKeys = append(out.NameKeys, bpf.XdpNameKey{H1: h.H1, H2: h.H2})
		out.NameVals = append(out.NameVals, bpf.XdpNameVer{
			ExactDefault: [2]uint32{id(e.ExactDefault[0]), id(e.ExactDefault[1])},
			BelowDefault: [2]uint32{id(e.BelowDefault[0]), id(e.BelowDefault[1])}, Flags: e.Flags, Cover: e.Cover})
	}
	for k, v := range img.AllAnswers() {
		out.AnswerKeys = append(out.AnswerKeys, AnswerKey(k))
		out.AnswerVals = append(out.AnswerVals, bpf.XdpAnswerVer{Tmpl: [2]uint32{id(v[0]), id(v[1])}})
	}
	// Sized once: a signed TLD's chunks are hundreds of MB, which
	// growing by append would copy again and again.
	out.Chunks = make([]bpf.XdpChunk, 0, chunksOf(img))
	out.Templates = make([]bpf.XdpTmpl, 0, nplain)
	out.SharedTemplates = make([]bpf.XdpTmpl, 1, nshared)
	for i := range img.Templates {
		t := &img.Templates[i]
		x := bpf.XdpTmpl{
			FirstChunk: uint32(len(out.Chunks)),
			BodyLen:    uint16(t.BodyLen),
			ReqLen:     uint16(t.ReqLen),
			Ancount:    t.AN,
			Nscount:    t.NS,
			Arcount:    t.AR,
			Flags:      t.Flags,
			Nrelocs:    uint16(len(t.Relocs)),
			Kind:       t.Kind,
			RrlClass:   t.RRLClass,
			RrlLabels:  t.RRLLabels,
			SlotOff:    abi.NoSlot,
			DenialHead: abi.NoDenial,
			DenialTail: abi.NoDenial,
		}
		if t.RRLWild {
			x.RrlWild = 1
		}
		copy(x.Relocs[:], t.Relocs) // the first abi.InlineRelocs
		first := t.Body
		if i > 0 && t.Slot != abi.NoSlot && len(t.Body) > 0 {
			// The head and the tail each start a chunk: the program puts
			// the piece between them.
			x.SlotOff, x.DenialZone = uint16(t.Slot), t.Denial
			x.DenialHead, x.DenialTail = t.DenialHead, t.DenialTail
			first = t.Body[:t.Slot]
		}
		// The first part's first chunk goes in the template (tmpl.head).
		n := copy(x.Head[:], first)
		out.Chunks = appendChunks(out.Chunks, first[n:])
		if x.SlotOff != abi.NoSlot {
			x.TailChunk = uint32(len(out.Chunks))
			out.Chunks = appendChunks(out.Chunks, t.Body[t.Slot:])
		}
		if len(t.Relocs) > abi.InlineRelocs {
			// The rest after the body's last chunk (one run).
			x.RelocChunk = uint32(len(out.Chunks))
			out.Chunks = append(out.Chunks, loader.RelocChunk(t.Relocs[abi.InlineRelocs:]))
		}
		if i > 0 && img.Templates[i].Shared {
			out.SharedTemplates = append(out.SharedTemplates, x)
		} else {
			out.Templates = append(out.Templates, x)
		}
	}
	if len(out.SharedTemplates) == 1 {
		out.SharedTemplates = nil
	}
	out.DenialZones = make([]bpf.XdpDenialZone, len(img.Denial))
	out.DenialNames = make([][]byte, len(img.Denial))
	out.DenialRefs = make([]bool, len(img.Denial))
	out.DenialPatches = make([]*loader.DenialPatch, len(img.Denial))
	for i, dz := range img.Denial {
		if dz == nil {
			continue
		}
		out.DenialNames[i] = dz.Name()
		if dz.Ref {
			// The live zone of its name: only named.
			out.DenialRefs[i] = true
			out.DenialZones[i] = bpf.XdpDenialZone{Kind: dz.Kind}
			continue
		}
		base := uint32(len(out.DenialEntries))
		var pt *loader.DenialPatch
		if dz.Patch {
			// The live zone of its name changed: the entries it keeps are
			// the live zone's.
			pt = &loader.DenialPatch{Runs: make([]loader.PatchRun, len(dz.Runs)), Slots: make([]uint32, len(dz.Entries))}
			for k, r := range dz.Runs {
				pt.Runs[k] = loader.PatchRun{To: r.To, From: r.From, N: r.N}
			}
			out.DenialPatches[i] = pt
		}
		z := bpf.XdpDenialZone{
			EntryBase:  base,
			EntryCount: uint32(dz.Count()),
			IndexBase:  uint32(len(out.DenialIndex)),
			Kind:       dz.Kind,
			IndexBits:  dz.IndexBits,
			SaltLen:    uint8(len(dz.Salt)),
		}
		copy(z.Salt[:], dz.Salt)
		out.DenialZones[i] = z
		for _, v := range dz.Index {
			out.DenialIndex = append(out.DenialIndex, v-dz.Base+base)
		}
		for k, e := range dz.Entries {
			if pt != nil {
				pt.Slots[k] = e.Slot
			}
			x := bpf.XdpDenialEntry{
				Key:        e.Key,
				FirstChunk: uint32(len(out.Chunks)),
				Len:        uint16(len(e.Piece.Body)),
				Nrecs:      e.Piece.Records,
				Nrelocs:    uint16(len(e.Piece.Relocs)),
			}
			copy(x.Relocs[:], e.Piece.Relocs)
			out.Chunks = appendChunks(out.Chunks, e.Piece.Body)
			out.DenialEntries = append(out.DenialEntries, x)
		}
		if !dz.Patch && !dz.Ref {
			// The room the loader gives the content: free after it.
			n := uint32(len(dz.Entries))
			out.DenialEntries = append(out.DenialEntries, make([]bpf.XdpDenialEntry, loader.ContentRoom(n)-n)...)
		}
	}
	return out, id
}

// AnswerKey is the answers table key of k (abi.AnswerKey).
func AnswerKey(k render.AnswerKey) bpf.XdpNameKey {
	h := abi.AnswerKey(k.Name, k.QType, k.Mode)
	return bpf.XdpNameKey{H1: h.H1, H2: h.H2}
}

// chunksOf is how many chunks fromRender cuts img's bodies, relocations
// and pieces into.
func chunksOf(img *render.Image) int {
	n := 0
	for i, t := range img.Templates {
		if len(t.Relocs) > abi.InlineRelocs {
			n++
		}
		// The first chunk of a body (of its part before the slot) is in
		// the template.
		if i > 0 && t.Slot != abi.NoSlot && len(t.Body) > 0 {
			n += nchunks(t.Slot-abi.ChunkSize) + nchunks(len(t.Body)-t.Slot)
		} else {
			n += nchunks(len(t.Body) - abi.ChunkSize)
		}
	}
	for _, dz := range img.Denial {
		if dz != nil {
			for _, e := range dz.Entries {
				n += nchunks(len(e.Piece.Body))
			}
		}
	}
	return n
}

// nchunks is how many chunks n bytes take (none for n <= 0).
func nchunks(n int) int { return (max(n, 0) + abi.ChunkSize - 1) / abi.ChunkSize }

// appendChunks cuts b into chunks.
func appendChunks(chunks []bpf.XdpChunk, b []byte) []bpf.XdpChunk {
	for len(b) > 0 {
		var c bpf.XdpChunk
		n := copy(c.B[:], b)
		b = b[n:]
		chunks = append(chunks, c)
	}
	return chunks
}
