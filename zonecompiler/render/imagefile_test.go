package render

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/xdpdns/xdpdns/internal/testsupport/zonegen"
	"github.com/xdpdns/xdpdns/interop/interoptest"
	"github.com/xdpdns/xdpdns/zonecompiler/binfmt"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
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
			// Its entries, held sorted, are found as the compiler's.
			for h, e := range img.Names {
				if ge, ok := got.Name(h); !ok || ge != e {
					t.Fatalf("name %v: %+v %v, want %+v", h, ge, ok, e)
				}
				other := NameHash{H1: h.H1, H2: h.H2 ^ 1}
				_, want := img.Names[other]
				if _, ok := got.Name(other); ok != want {
					t.Fatalf("name %v found: %v, want %v", other, ok, want)
				}
			}
			for k, v := range img.Answers {
				if gv, ok := got.Answer(k); !ok || gv != v {
					t.Fatalf("answer %v: %v %v, want %v", k, gv, ok, v)
				}
			}
			if got.NameCount() != len(img.Names) || got.AnswerCount() != len(img.Answers) {
				t.Fatalf("%d names %d answers, want %d %d", got.NameCount(), got.AnswerCount(), len(img.Names), len(img.Answers))
			}
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

// recompileBoth renders the change from e to e2 from img's Incremental
// (the compiler's) and from got's (read back), held equal; each image
// then holds its next Incremental.
func recompileBoth(t *testing.T, step int, img, got *Image, e, e2 *engine.Engine) (d, want *Delta) {
	t.Helper()
	want, nextWant, err := Recompile(img.Incremental, e, e2, nil)
	if err != nil {
		t.Fatalf("step %d: Recompile: %v", step, err)
	}
	d, next, err := Recompile(got.Incremental, e, e2, nil)
	if err != nil {
		t.Fatalf("step %d: Recompile from the image read back: %v", step, err)
	}
	canonOf(d.Image).mustEqual(t, step, canonOf(want.Image))
	img.Incremental, got.Incremental = nextWant, next
	return d, want
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
		d, want := recompileBoth(t, step, img, got, e, e2)
		for _, x := range []*Delta{d, want} {
			slices.SortFunc(x.DelNames, compareHash)
			slices.SortFunc(x.DelAnswers, compareAnswerKey)
		}
		if fmt.Sprint(d.DelNames, d.DelAnswers, len(d.Rewrites)) != fmt.Sprint(want.DelNames, want.DelAnswers, len(want.Rewrites)) {
			t.Fatalf("step %d: deletions or rewrites differ", step)
		}
		e = e2
	}
}

// TestImageOrder: an image whose names or answers are out of key order, or
// repeated, does not decode (the loader would lay a key out twice).
func TestImageOrder(t *testing.T) {
	img, err := Compile(interoptest.Engine(t, interoptest.Variants[0]))
	if err != nil {
		t.Fatal(err)
	}
	good, err := DecodeImage(binfmt.NewReader(encoded(t, img)))
	if err != nil {
		t.Fatal(err)
	}
	s := good.Sorted
	if len(s.NameKeys) < 3 || len(s.AnswerKeys) < 3 {
		t.Fatalf("%d names, %d answers: too few to reorder", len(s.NameKeys), len(s.AnswerKeys))
	}
	for _, c := range []struct {
		what  string
		spoil func(s *Sorted)
	}{
		{"names swapped", func(s *Sorted) { s.NameKeys[1], s.NameKeys[2] = s.NameKeys[2], s.NameKeys[1] }},
		{"a name repeated", func(s *Sorted) { s.NameKeys[2] = s.NameKeys[1] }},
		{"answers swapped", func(s *Sorted) { s.AnswerKeys[0], s.AnswerKeys[1] = s.AnswerKeys[1], s.AnswerKeys[0] }},
		{"an answer repeated", func(s *Sorted) { s.AnswerKeys[1] = s.AnswerKeys[0] }},
	} {
		bad := *good
		bs := Sorted{NameKeys: slices.Clone(s.NameKeys), NameVals: s.NameVals, AnswerKeys: slices.Clone(s.AnswerKeys), AnswerVals: s.AnswerVals}
		c.spoil(&bs)
		bad.Sorted = &bs
		if _, err := DecodeImage(binfmt.NewReader(encoded(t, &bad))); err == nil || !strings.Contains(err.Error(), "out of order") {
			t.Errorf("%s: decoded (error %v)", c.what, err)
		}
	}
}

// compiledAndRead compiles e's zones, and the image read back.
func compiledAndRead(t *testing.T, e *engine.Engine) (img, got *Image) {
	t.Helper()
	img, err := Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	if got, err = DecodeImage(binfmt.NewReader(encoded(t, img))); err != nil {
		t.Fatal(err)
	}
	return img, got
}

// TestImageRecompilesNSEC: read back, the Incremental of an NSEC TLD whose
// apex view has holes (NSECPatchMin lowered to 8) and an encloser without
// a view (below a DNAME) renders each change as the compiler's own does:
// the apex's view patched from the layout read back.
func TestImageRecompilesNSEC(t *testing.T) {
	defer func(p int) { NSECPatchMin = p }(NSECPatchMin)
	NSECPatchMin = 8
	m := zonegen.New(t, 31)
	m.AddDelegations(100)
	m.Add("dn DNAME elsewhere.example.net.")
	m.Add("x.y.dn TXT \"occluded\"")
	e := genEngine(t, m.Signed(zonegen.NSEC))
	img, got := compiledAndRead(t, e)
	u := got.Incremental.zones[string(e.Zones().Zones()[0].Origin.Lower)]
	if u == nil || len(u.nsecLayouts) == 0 || len(u.noView) == 0 {
		t.Fatalf("read back: %d NSEC layouts, %d enclosers without a view; want both", len(u.nsecLayouts), len(u.noView))
	}
	patched := 0
	for step := 1; step <= 6; step++ {
		m.ChangeDelegations(100)
		if step%2 == 0 {
			m.Bump()
		}
		e2 := genEngine(t, m.Signed(zonegen.NSEC))
		d, _ := recompileBoth(t, step, img, got, e, e2)
		for _, dz := range d.Image.Denial {
			if dz != nil && dz.Patch {
				patched++
			}
		}
		e = e2
	}
	if patched == 0 {
		t.Errorf("no change patched the apex's view")
	}
}

// TestImageRecompilesOptOutApex: read back, the Incremental of an NSEC3
// opt-out zone knows the holders of its apex NSEC3 record, and renders a
// change of that record as the compiler's own does.
func TestImageRecompilesOptOutApex(t *testing.T) {
	m := zonegen.New(t, 43)
	m.AddDelegations(300)
	e := genEngine(t, m.Signed(zonegen.NSEC3OptOut))
	img, got := compiledAndRead(t, e)
	u := got.Incremental.zones[string(e.Zones().Zones()[0].Origin.Lower)]
	if u == nil || u.apex == nil || len(u.apex.reps) == 0 {
		t.Fatalf("read back: no holders of the apex NSEC3 record")
	}
	m.Add("@ SSHFP 1 1 0123456789abcdef0123456789abcdef01234567")
	m.Bump()
	d, want := recompileBoth(t, 1, img, got, e, genEngine(t, m.Signed(zonegen.NSEC3OptOut)))
	if len(d.Rewrites) != len(want.Rewrites) || len(d.Rewrites) == 0 {
		t.Fatalf("%d rewrites from the image read back, %d from the compiler's", len(d.Rewrites), len(want.Rewrites))
	}
}
