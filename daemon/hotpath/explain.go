//go:build linux

package hotpath

import (
	"github.com/xdpdns/xdpdns/bpf"
	"github.com/xdpdns/xdpdns/loader"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
)

// liveMaps is render.Maps over the live kernel maps: the entries the
// program would read, converted back to the compiler's types (the inverse
// of FromRender, entry by entry). The first read error is kept in err.
type liveMaps struct {
	v   loader.LiveView
	err error
}

func (m *liveMaps) keep(err error) {
	if m.err == nil {
		m.err = err
	}
}

func (m *liveMaps) Name(h render.NameHash) (render.NameEntry, bool) {
	v, ok, err := m.v.Name(bpf.XdpNameKey{H1: h.H1, H2: h.H2})
	m.keep(err)
	return render.NameEntry{ExactDefault: v.ExactDefault, BelowDefault: v.BelowDefault, Flags: v.Flags, Cover: v.Cover}, ok
}

func (m *liveMaps) Answer(k render.AnswerKey) ([2]uint32, bool) {
	v, ok, err := m.v.Answer(AnswerKey(k))
	m.keep(err)
	return v.Tmpl, ok
}

func (m *liveMaps) Template(id uint32) (*render.Template, bool) {
	t, body, relocs, ok, err := m.v.Template(id)
	m.keep(err)
	if !ok {
		return nil, false
	}
	return &render.Template{
		Body: body, Relocs: relocs, BodyLen: int(t.BodyLen), ReqLen: int(t.ReqLen),
		AN: t.Ancount, NS: t.Nscount, AR: t.Arcount, Flags: t.Flags, Kind: t.Kind,
		Slot: int(t.SlotOff), Denial: t.DenialZone, DenialHead: t.DenialHead, DenialTail: t.DenialTail,
	}, true
}

func (m *liveMaps) DenialZone(i uint16) (*render.DenialZone, bool) {
	z, ok, err := m.v.DenialZone(i)
	m.keep(err)
	if !ok || i == 0 {
		return nil, false
	}
	return &render.DenialZone{Kind: z.Kind, Salt: append([]byte(nil), z.Salt[:min(int(z.SaltLen), len(z.Salt))]...),
		Base: z.EntryBase, IndexBits: z.IndexBits}, true
}

// DenialCover searches the live entries as the program does.
func (m *liveMaps) DenialCover(i uint16, key [4]uint64) (uint32, *render.Piece, bool) {
	z, ok, err := m.v.DenialZone(i)
	m.keep(err)
	if !ok || i == 0 {
		return 0, nil, false
	}
	dz := &render.DenialZone{Base: z.EntryBase, IndexBits: z.IndexBits}
	idx, ok := render.Cover(dz, z.EntryCount, func(b uint32) (uint32, bool) {
		x, ok, err := m.v.DenialIndex(z.IndexBase + b)
		m.keep(err)
		return x, ok
	}, func(j uint32) ([4]uint64, bool) {
		e, _, ok, err := m.v.DenialEntry(j)
		m.keep(err)
		return e.Key, ok
	}, key)
	if !ok {
		return 0, nil, false
	}
	return m.entry(idx)
}

// DenialAt reads the live entry rel of zone i.
func (m *liveMaps) DenialAt(i uint16, rel uint32) (uint32, *render.Piece, bool) {
	z, ok, err := m.v.DenialZone(i)
	m.keep(err)
	if !ok || i == 0 || rel >= z.EntryCount {
		return 0, nil, false
	}
	return m.entry(z.EntryBase + rel)
}

// entry reads live denial entry idx as its piece.
func (m *liveMaps) entry(idx uint32) (uint32, *render.Piece, bool) {
	e, body, ok, err := m.v.DenialEntry(idx)
	m.keep(err)
	if !ok {
		return 0, nil, false
	}
	return idx, &render.Piece{Body: body, Relocs: append([]uint16(nil), e.Relocs[:e.Nrelocs]...), Records: e.Nrecs}, true
}

// Explain decides query (a DNS message, as sent over UDP) the way the
// program would with the live maps: render.Model reading the kernel's
// entries. The decision names the entries it used and, for a pass, the
// reason the program would count.
func (h *HotPath) Explain(query []byte) (render.Decision, error) {
	var dec render.Decision
	err := h.l.View(func(v loader.LiveView) error {
		m := &liveMaps{v: v}
		dec = (&render.Model{Maps: m, UDPSize: h.cfg.UDPSize, NSID: h.cfg.NSID}).Decide(query)
		return m.err
	})
	return dec, err
}
