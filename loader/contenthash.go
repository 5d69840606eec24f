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
	buf   []byte
}

func newHasher() *hasher {
	return &hasher{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
}

func (h *hasher) sum() contentHash {
	return contentHash{maphash.Bytes(h.seeds[0], h.buf), maphash.Bytes(h.seeds[1], h.buf)}
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
// head and tail entries), which denial zone hashes include for their
// context template.
func (h *hasher) plainHash(img *Image, t *bpf.XdpTmpl) contentHash {
	h.buf = h.buf[:0]
	for _, v := range [...]uint16{t.BodyLen, t.ReqLen, t.Ancount, t.Nscount, t.Arcount, t.Flags, t.Nrelocs, t.Kind,
		uint16(t.RrlClass)<<8 | uint16(t.RrlLabels), t.RrlWild, t.SlotOff} {
		h.u16(v)
	}
	for _, r := range t.Relocs[:min(int(t.Nrelocs), len(t.Relocs))] {
		h.u16(r)
	}
	if t.Flags&abi.FlagTooBig == 0 {
		if t.SlotOff == abi.NoSlot {
			h.chunkBytes(img.Chunks, t.FirstChunk, int(t.BodyLen))
		} else {
			h.chunkBytes(img.Chunks, t.FirstChunk, int(t.SlotOff))
			h.chunkBytes(img.Chunks, t.TailChunk, int(t.BodyLen)-int(t.SlotOff))
		}
	}
	return h.sum()
}

// relEntry is a template's denial head or tail entry relative to its
// zone's first entry (abi.NoDenial stays).
func relEntry(e uint32, z *bpf.XdpDenialZone) uint32 {
	if e == abi.NoDenial {
		return e
	}
	return e - z.EntryBase
}

// imageHashes are the content hashes of an image's templates and denial
// zones, by their index in it ([0] unused).
type imageHashes struct {
	tmpl, view []contentHash
}

// hashImage computes the content hashes of img's templates and denial
// zones. A zone's hash covers its entries, pieces and index (relative to
// its first entry) and its context template without that template's
// denial references; a template's hash covers its zone's hash and its
// head and tail entries relative to the zone, so no hash depends on
// another's position in the maps.
func (h *hasher) hashImage(img *Image) imageHashes {
	out := imageHashes{tmpl: make([]contentHash, len(img.Templates)), view: make([]contentHash, len(img.DenialZones))}
	plain := make([]contentHash, len(img.Templates))
	for i := 1; i < len(img.Templates); i++ {
		plain[i] = h.plainHash(img, &img.Templates[i])
	}
	for i := 1; i < len(img.DenialZones); i++ {
		z := &img.DenialZones[i]
		h.buf = h.buf[:0]
		h.u32(z.EntryCount)
		h.buf = append(h.buf, z.Kind, z.IndexBits, z.SaltLen)
		h.buf = append(h.buf, z.Salt[:]...)
		switch c := z.CtxTmpl; {
		case c == 0 || c == abi.NoDenial || int(c) >= len(img.Templates):
			h.u32(c)
		default:
			t := &img.Templates[c]
			h.u32(1)
			h.hash(plain[c])
			h.u32(relEntry(t.DenialHead, z))
			h.u32(relEntry(t.DenialTail, z))
			if int(t.DenialZone) == i {
				h.u32(1)
			}
		}
		for b := 0; b <= 1<<z.IndexBits; b++ {
			h.u32(img.DenialIndex[int(z.IndexBase)+b] - z.EntryBase)
		}
		for j := z.EntryBase; j < z.EntryBase+z.EntryCount; j++ {
			e := &img.DenialEntries[j]
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
		}
		out.view[i] = h.sum()
	}
	for i := 1; i < len(img.Templates); i++ {
		t := &img.Templates[i]
		if t.SlotOff == abi.NoSlot || int(t.DenialZone) >= len(img.DenialZones) {
			out.tmpl[i] = plain[i]
			continue
		}
		z := &img.DenialZones[t.DenialZone]
		h.buf = h.buf[:0]
		h.hash(plain[i])
		h.hash(out.view[t.DenialZone])
		h.u32(relEntry(t.DenialHead, z))
		h.u32(relEntry(t.DenialTail, z))
		out.tmpl[i] = h.sum()
	}
	return out
}
