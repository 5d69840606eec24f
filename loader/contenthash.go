//go:build linux

package loader

import (
	"encoding/binary"
	"hash/maphash"

	"github.com/xdpdns/xdpdns/bpf"
	"github.com/xdpdns/xdpdns/bpf/abi"
)

// contentHash identifies a template or a denial zone by what the program
// reads from it, independent of where it sits in the maps: two 64-bit
// maphash sums with independent seeds.
type contentHash [2]uint64

// hasher computes content hashes with the loader's seeds (fixed for the
// life of the Loader, so hashes of successive images compare).
type hasher struct {
	seeds [2]maphash.Seed
	buf   []byte // the input since reset, or since the last spill
	// long: the input went past hashPiece bytes and is streamed through
	// these (a denial zone's entries: a TLD's NSEC3 chain is tens of MB,
	// which a buffer would hold for the Loader's life).
	long     [2]maphash.Hash
	streamed bool
}

// hashPiece is how much input the hasher buffers before streaming it.
const hashPiece = 64 << 10

func newHasher() *hasher {
	return &hasher{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
}

// reset starts a new input.
func (h *hasher) reset() { h.buf, h.streamed = h.buf[:0], false }

// spill streams the input buffered so far once it is hashPiece bytes or
// more (maphash.Hash sums a sequence of writes as their concatenation:
// the sum is the same).
func (h *hasher) spill() {
	if len(h.buf) < hashPiece {
		return
	}
	for i := range h.long {
		if !h.streamed {
			h.long[i].SetSeed(h.seeds[i])
		}
		h.long[i].Write(h.buf)
	}
	h.buf, h.streamed = h.buf[:0], true
}

func (h *hasher) sum() contentHash {
	if !h.streamed {
		return contentHash{maphash.Bytes(h.seeds[0], h.buf), maphash.Bytes(h.seeds[1], h.buf)}
	}
	var out contentHash
	for i := range h.long {
		h.long[i].Write(h.buf)
		out[i] = h.long[i].Sum64()
	}
	return out
}

func (h *hasher) u16(v uint16) { h.buf = binary.LittleEndian.AppendUint16(h.buf, v) }
func (h *hasher) u32(v uint32) { h.buf = binary.LittleEndian.AppendUint32(h.buf, v) }
func (h *hasher) u64(v uint64) { h.buf = binary.LittleEndian.AppendUint64(h.buf, v) }
func (h *hasher) hash(c contentHash) {
	h.u64(c[0])
	h.u64(c[1])
}

// chunkBytes appends n body bytes from chunk first on.
func (h *hasher) chunkBytes(chunks []bpf.XdpChunk, first uint32, n int) {
	for i := first; n > 0; i++ {
		k := min(n, abi.ChunkSize)
		h.buf = append(h.buf, chunks[i].B[:k]...)
		n -= k
	}
}

// plainHash hashes template t without its denial references (its zone,
// head and tail entries).
func (h *hasher) plainHash(img *Image, t *bpf.XdpTmpl) contentHash {
	h.reset()
	for _, v := range [...]uint16{t.BodyLen, t.ReqLen, t.Ancount, t.Nscount, t.Arcount, t.Flags, t.Nrelocs, t.Kind,
		uint16(t.RrlClass)<<8 | uint16(t.RrlLabels), t.RrlWild, t.SlotOff} {
		h.u16(v)
	}
	relocs, _ := img.TemplateRelocs(t)
	for _, r := range relocs {
		h.u16(r)
	}
	if t.Flags&abi.FlagTooBig == 0 {
		first := firstPart(t)
		h.buf = append(h.buf, t.Head[:min(first, abi.ChunkSize)]...)
		h.chunkBytes(img.Chunks, t.FirstChunk, first-abi.ChunkSize)
		if t.SlotOff != abi.NoSlot {
			h.chunkBytes(img.Chunks, t.TailChunk, int(t.BodyLen)-first)
		}
	}
	return h.sum()
}

// patchHash is the content hash of live zone content live patched with
// the change whose hash is patch.
func (h *hasher) patchHash(live, patch contentHash) contentHash {
	h.reset()
	h.hash(live)
	h.hash(patch)
	return h.sum()
}

// nameIdent is the identity of the denial zone of kind that is the chain
// of name.
func (h *hasher) nameIdent(kind uint8, name []byte) contentHash {
	h.reset()
	h.buf = append(h.buf, "denial zone of "...)
	h.buf = append(h.buf, kind)
	h.buf = append(h.buf, name...)
	return h.sum()
}

// imageHashes are the content hashes of an image's templates (plain and
// shared, by their index in each) and denial zones ([0] unused), and the
// zones' identities: a hash of the name a zone is the chain of
// (Image.DenialNames), or its content hash when it has none. A slot
// template's hash covers the identity of its zone, not the content, so a
// zone's content can change under its templates.
type imageHashes struct {
	tmpl, shared, view, ident []contentHash
}

// of is the content hash of template id (zero for abi.Pass).
func (hs *imageHashes) of(id uint32) contentHash {
	switch {
	case id == 0:
		return contentHash{}
	case id&abi.SharedTmpl != 0:
		return hs.shared[id&^abi.SharedTmpl]
	}
	return hs.tmpl[id]
}

// tmplAt is template id of img (nil when there is none).
func tmplAt(img *Image, id uint32) *bpf.XdpTmpl {
	l := img.Templates
	if id&abi.SharedTmpl != 0 {
		l, id = img.SharedTemplates, id&^abi.SharedTmpl
	}
	if id == 0 || int(id) >= len(l) {
		return nil
	}
	return &l[id]
}

// hashImage computes the content hashes of img's templates and denial
// zones. A zone's hash covers its entries, pieces and index (relative to
// its first entry); a template's hash covers its zone's identity and its
// head and tail entries relative to the zone, so no hash depends on
// another's position in the maps.
func (h *hasher) hashImage(img *Image) imageHashes {
	out := imageHashes{tmpl: make([]contentHash, len(img.Templates)), shared: make([]contentHash, len(img.SharedTemplates)),
		view: make([]contentHash, len(img.DenialZones)), ident: make([]contentHash, len(img.DenialZones))}
	plain := func(l []bpf.XdpTmpl) []contentHash {
		p := make([]contentHash, len(l))
		for i := 1; i < len(l); i++ {
			p[i] = h.plainHash(img, &l[i])
		}
		return p
	}
	plainT, plainS := plain(img.Templates), plain(img.SharedTemplates)
	for i := 1; i < len(img.DenialZones); i++ {
		z := &img.DenialZones[i]
		if img.denialRef(i) {
			// Not here: the live zone of its name.
			out.ident[i] = h.nameIdent(z.Kind, img.DenialNames[i])
			out.view[i] = out.ident[i]
			continue
		}
		h.reset()
		pt := img.denialPatch(i)
		if pt != nil {
			// The hash of the change alone: the update hashes it with
			// the live zone's (patchHash).
			h.buf = append(h.buf, "patch"...)
			for _, r := range pt.Runs {
				h.u32(r.To)
				h.u32(r.From)
				h.u32(r.N)
				h.spill()
			}
		}
		h.u32(z.EntryCount)
		h.buf = append(h.buf, z.Kind, z.IndexBits, z.SaltLen)
		h.buf = append(h.buf, z.Salt[:]...)
		for b := 0; b <= 1<<z.IndexBits; b++ {
			h.u32(img.DenialIndex[int(z.IndexBase)+b] - z.EntryBase)
			h.spill()
		}
		for j, end := z.EntryBase, z.EntryBase+img.entriesIn(i); j < end; j++ {
			e := &img.DenialEntries[j]
			if pt != nil {
				h.u32(pt.Slots[j-z.EntryBase])
			}
			for _, k := range e.Key {
				h.u64(k)
			}
			h.u16(e.Len)
			h.u16(e.Nrecs)
			h.u16(e.Nrelocs)
			for _, r := range e.Relocs {
				h.u16(r)
			}
			h.chunkBytes(img.Chunks, e.FirstChunk, int(e.Len))
			h.spill()
		}
		out.view[i] = h.sum()
		out.ident[i] = out.view[i]
		if i < len(img.DenialNames) && img.DenialNames[i] != nil {
			out.ident[i] = h.nameIdent(z.Kind, img.DenialNames[i])
		}
	}
	full := func(l []bpf.XdpTmpl, plain, dst []contentHash) {
		for i := 1; i < len(l); i++ {
			t := &l[i]
			if t.SlotOff == abi.NoSlot || int(t.DenialZone) >= len(img.DenialZones) {
				dst[i] = plain[i]
				continue
			}
			h.reset()
			h.hash(plain[i])
			h.hash(out.ident[t.DenialZone])
			h.u32(t.DenialHead)
			h.u32(t.DenialTail)
			dst[i] = h.sum()
		}
	}
	full(img.Templates, plainT, out.tmpl)
	full(img.SharedTemplates, plainS, out.shared)
	return out
}
