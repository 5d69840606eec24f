//go:build linux

package hotpath

import (
	"github.com/xdpdns/xdpdns/bpf"
	"github.com/xdpdns/xdpdns/loader"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
)

// FromRender lays a compiled render.Image out as the loader's map image
// (the layout of bpf/include/shared.h): keys and values side by side,
// template bodies cut into chunks.
func FromRender(img *render.Image) *loader.Image {
	out := &loader.Image{}
	for h, e := range img.Names {
		out.NameKeys = append(out.NameKeys, bpf.XdpNameKey{H1: h.H1, H2: h.H2})
		out.NameVals = append(out.NameVals, bpf.XdpNameVal{ExactDefault: e.ExactDefault, BelowDefault: e.BelowDefault, Flags: e.Flags})
	}
	for k, v := range img.Answers {
		out.AnswerKeys = append(out.AnswerKeys, bpf.XdpAnswerKey{H1: k.Name.H1, H2: k.Name.H2, Qtype: k.QType, Mode: k.Mode})
		out.AnswerVals = append(out.AnswerVals, bpf.XdpAnswerVal{Tmpl: v})
	}
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
		}
		if t.RRLWild {
			x.RrlWild = 1
		}
		copy(x.Relocs[:], t.Relocs)
		for b := t.Body; len(b) > 0; {
			var c bpf.XdpChunk
			n := copy(c.B[:], b)
			b = b[n:]
			out.Chunks = append(out.Chunks, c)
		}
		out.Templates = append(out.Templates, x)
	}
	return out
}
