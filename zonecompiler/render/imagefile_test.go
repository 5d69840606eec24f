package render

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/xdpdns/xdpdns/interop/interoptest"
	"github.com/xdpdns/xdpdns/zonecompiler/binfmt"
)

func encoded(t testing.TB, img *Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := binfmt.NewWriter(&buf)
	img.Encode(w)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestImageRoundTrip: an image read back encodes to the same bytes (its
// names, answers, templates, denial zones and Incremental), and every
// truncation of it is an error.
func TestImageRoundTrip(t *testing.T) {
	for _, v := range interoptest.Variants {
		t.Run(string(v), func(t *testing.T) {
			img, err := Compile(interoptest.Engine(t, v))
			if err != nil {
				t.Fatal(err)
			}
			b := encoded(t, img)
			r := binfmt.NewReader(b)
			got, err := DecodeImage(r)
			if err != nil {
				t.Fatalf("DecodeImage: %v", err)
			}
			if r.Left() != 0 {
				t.Fatalf("%d bytes left unread", r.Left())
			}
			if !bytes.Equal(encoded(t, got), b) {
				t.Fatal("the image read back encodes differently")
			}
			canonOf(got).mustEqual(t, 0, canonOf(img))
			if len(got.Denial) != len(img.Denial) || got.Stats != img.Stats || got.Incremental == nil {
				t.Fatalf("denial zones %d stats %+v, want %d %+v (and an Incremental)", len(got.Denial), got.Stats, len(img.Denial), img.Stats)
			}
			for n := 0; n < len(b); n += 1 + len(b)/211 {
				if _, err := DecodeImage(binfmt.NewReader(b[:n])); err == nil {
					t.Fatalf("image cut to %d of %d bytes decoded without error", n, len(b))
				}
			}
		})
	}
}

// TestImageRecompiles: the Incremental read back renders a change as the
// compiler's own does.
func TestImageRecompiles(t *testing.T) {
	v := newVersions(3)
	e := v.engine(t)
	img, err := Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeImage(binfmt.NewReader(encoded(t, img)))
	if err != nil {
		t.Fatal(err)
	}
	for step := 1; step <= 10; step++ {
		v.change()
		e2 := v.engine(t)
		want, nextWant, err := Recompile(img.Incremental, e, e2, nil)
		if err != nil {
			t.Fatalf("step %d: Recompile: %v", step, err)
		}
		d, next, err := Recompile(got.Incremental, e, e2, nil)
		if err != nil {
			t.Fatalf("step %d: Recompile from the image read back: %v", step, err)
		}
		a, b := canonOf(d.Image), canonOf(want.Image)
		a.mustEqual(t, step, b)
		for _, x := range []*Delta{d, want} {
			slices.SortFunc(x.DelNames, compareHash)
			slices.SortFunc(x.DelAnswers, compareAnswerKey)
		}
		if fmt.Sprint(d.DelNames, d.DelAnswers, len(d.Rewrites)) != fmt.Sprint(want.DelNames, want.DelAnswers, len(want.Rewrites)) {
			t.Fatalf("step %d: deletions or rewrites differ", step)
		}
		got.Incremental, e = next, e2
		img.Incremental = nextWant
	}
}
