package render

import (
	"bytes"
	"testing"

	"github.com/xdpdns/xdpdns/interop/interoptest"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
)

// FuzzModel feeds arbitrary packets to the XDP model of the NSEC3- and
// NSEC-signed test zones: whenever the model answers (a template, with
// its denial slot filled from the chain), its bytes must be the engine's.
// The seeds are the signed-denial corpus, so mutations land on names the
// denial slots answer.
func FuzzModel(f *testing.F) {
	type target struct {
		e *engine.Engine
		m *Model
	}
	var targets []target
	for _, v := range []interoptest.Variant{interoptest.NSEC3, interoptest.NSEC} {
		e, _, m := compileModel(f, v)
		targets = append(targets, target{e, m})
		for i, q := range interoptest.DenialCorpus(f, e, 3) {
			if i%4 == 0 {
				f.Add(q.Packet)
			}
		}
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		for _, tg := range targets {
			got, _ := tg.m.Reply(pkt)
			if got == nil {
				continue
			}
			if want := tg.e.Respond(nil, pkt, false); !bytes.Equal(got, want) {
				t.Fatalf("model and engine differ for %x\nmodel  %x\nengine %x", pkt, got, want)
			}
		}
	})
}
