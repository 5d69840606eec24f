package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/interop"
	"github.com/xdpdns/xdpdns/interop/interoptest"
	"github.com/xdpdns/xdpdns/zonecompiler/binfmt"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// versions makes versions of the unsigned zone rc.test. that differ by a
// few random changes each (always a new serial): delegations with and
// without glue (sibling glue too), hosts, CNAME chains, MX and SRV
// pointing at hosts, a wildcard, deep names with empty non-terminals.
type versions struct {
	rng    *rand.Rand
	serial int
	recs   map[string][]string
}

func newVersions(seed uint64) *versions {
	v := &versions{rng: rand.New(rand.NewPCG(seed, 7)), serial: 1, recs: map[string][]string{}}
	for i := 0; i < 40; i++ {
		v.delegation(i)
	}
	for i := 0; i < 8; i++ {
		v.host(i)
	}
	v.recs["c0"] = []string{"c0 CNAME c1"}
	v.recs["c1"] = []string{"c1 CNAME h1"}
	v.recs["mx"] = []string{"mx MX 10 h2", "mx MX 20 gone"}
	v.recs["_sip._udp"] = []string{"_sip._udp SRV 0 0 5060 h3"}
	v.recs["*.w"] = []string{"*.w A 198.18.9.9"}
	v.recs["a.b.deep"] = []string{"a.b.deep TXT deep"}
	return v
}

func (v *versions) delegation(i int) {
	l := fmt.Sprintf("d%d", i)
	switch i % 4 {
	case 0: // in-bailiwick glue
		v.recs[l] = []string{l + " NS ns1." + l, l + " NS ns2." + l}
		v.recs["ns1."+l] = []string{fmt.Sprintf("ns1.%s A 198.18.%d.1", l, v.rng.IntN(256))}
		v.recs["ns2."+l] = []string{fmt.Sprintf("ns2.%s AAAA 2001:db8::%x", l, v.rng.IntN(65536))}
	case 1: // sibling glue: the name server of d(i-1)
		v.recs[l] = []string{fmt.Sprintf("%s NS ns1.d%d", l, i-1), l + " NS ns.example.net."}
	default:
		v.recs[l] = []string{fmt.Sprintf("%s NS ns%d.example.net.", l, v.rng.IntN(50))}
	}
}

func (v *versions) host(i int) {
	l := fmt.Sprintf("h%d", i)
	v.recs[l] = []string{fmt.Sprintf("%s A 198.18.7.%d", l, v.rng.IntN(256)), fmt.Sprintf("%s TXT \"%d\"", l, v.rng.IntN(100))}
}

func (v *versions) change() {
	v.serial++
	for n := v.rng.IntN(4); n > 0; n-- {
		switch v.rng.IntN(13) {
		case 0, 1:
			v.delegation(40 + v.rng.IntN(40))
		case 2:
			i := v.rng.IntN(80)
			for k := range v.recs {
				if k == fmt.Sprintf("d%d", i) || strings.HasSuffix(k, fmt.Sprintf(".d%d", i)) {
					delete(v.recs, k)
				}
			}
		case 3:
			i := 4 * v.rng.IntN(10)
			if _, ok := v.recs[fmt.Sprintf("ns1.d%d", i)]; ok {
				v.recs[fmt.Sprintf("ns1.d%d", i)] = []string{fmt.Sprintf("ns1.d%d A 198.18.%d.1", i, v.rng.IntN(256))}
			}
		case 4:
			v.host(v.rng.IntN(12))
		case 5:
			delete(v.recs, fmt.Sprintf("h%d", v.rng.IntN(12)))
		case 6:
			if _, ok := v.recs["*.w"]; ok {
				delete(v.recs, "*.w")
			} else {
				v.recs["*.w"] = []string{fmt.Sprintf("*.w A 198.18.9.%d", v.rng.IntN(256))}
			}
		case 7:
			o := fmt.Sprintf("x.y%d.deep", v.rng.IntN(3))
			if _, ok := v.recs[o]; ok {
				delete(v.recs, o)
			} else {
				v.recs[o] = []string{o + " MX 10 h2"}
			}
		case 8:
			v.recs["c1"] = []string{fmt.Sprintf("c1 CNAME h%d", v.rng.IntN(12))}
		case 9:
			v.recs["mx"] = []string{fmt.Sprintf("mx MX 10 h%d", v.rng.IntN(12))}
		case 10: // apex data other than the SOA
			if _, ok := v.recs["@"]; ok {
				delete(v.recs, "@")
			} else {
				v.recs["@"] = []string{fmt.Sprintf("@ TXT \"v=%d\"", v.serial), "@ NS ns2.example.net.", "@ MX 5 h3"}
			}
		case 11: // a DNAME over names below it, or gone
			if _, ok := v.recs["dn"]; ok {
				delete(v.recs, "dn")
			} else {
				v.recs["dn"] = []string{"dn DNAME elsewhere.example.net."}
			}
		case 12: // names below the DNAME's owner, occluded while it is there
			o := fmt.Sprintf("x%d.dn", v.rng.IntN(3))
			v.recs[o] = []string{fmt.Sprintf("%s A 198.18.7.%d", o, v.rng.IntN(256))}
		}
	}
}

func (v *versions) engine(t *testing.T) *engine.Engine {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN rc.test.\n$TTL 300\n@ SOA ns hostmaster %d 7200 3600 1209600 300\n@ NS ns\n@ NS ns1.d0\nns A 198.18.0.53\n", v.serial)
	owners := make([]string, 0, len(v.recs))
	for o := range v.recs {
		owners = append(owners, o)
	}
	sort.Strings(owners)
	for _, o := range owners {
		for _, r := range v.recs[o] {
			b.WriteString(r + "\n")
		}
	}
	return textEngine(t, "rc.test.", b.String())
}

// textEngine is an engine serving the zone origin of the master file text.
func textEngine(t *testing.T, origin, text string) *engine.Engine {
	t.Helper()
	return zonesEngine(t, [2]string{origin, text})
}

// zonesEngine is an engine serving zones, each an origin and its text.
func zonesEngine(t *testing.T, zones ...[2]string) *engine.Engine {
	t.Helper()
	var zs []*zone.Zone
	for _, z := range zones {
		loaded, err := zone.Load(strings.NewReader(z[1]), z[0], z[0]+"zone", zone.Options{})
		if err != nil {
			t.Fatal(err)
		}
		zs = append(zs, loaded)
	}
	set, err := zone.NewSet(zs...)
	if err != nil {
		t.Fatal(err)
	}
	return engine.New(engine.Config{UDPSize: 1232}, set)
}

// canonImage is an image by content: each name's four templates, flags
// and cover, each answer's two templates, and the chain views by name.
// A slot template names its view by name, as the loader's maps do, so
// that a view given new content in place (a changed chain) is what its
// templates read; resolved, the view's entries they point at are keys.
type canonImage struct {
	names   map[NameHash]canonName
	answers map[AnswerKey][2]tmplRef
	views   map[string]*DenialZone
}

// tmplRef is a template by content: key without its view references,
// and for a slot template the view's name and its head and tail places.
type tmplRef struct {
	k, view    string
	head, tail uint32
}

type canonName struct {
	t     [4]tmplRef
	flags uint32
	view  string // the view the cover is a place in
	cover uint32
}

// viewName is how canonImage names view dz.
func viewName(dz *DenialZone) string { return fmt.Sprintf("%d %x", dz.Kind, dz.Name()) }

func refOf(img *Image, id uint32) tmplRef {
	if id == 0 {
		return tmplRef{}
	}
	t := img.Templates[id]
	if t.Slot == abi.NoSlot || int(t.Denial) >= len(img.Denial) || img.Denial[t.Denial] == nil {
		return tmplRef{k: key(t)}
	}
	r := tmplRef{view: viewName(img.Denial[t.Denial]), head: t.DenialHead, tail: t.DenialTail}
	t.Denial, t.DenialHead, t.DenialTail = 0, 0, 0
	r.k = key(t)
	return r
}

func canonOf(img *Image) canonImage {
	// A name's cover is a place in the view its slot-self templates read.
	selfView := func(ids ...uint32) *DenialZone {
		for _, id := range ids {
			if t := &img.Templates[id]; id != 0 && t.Flags&abi.FlagSlotSelf != 0 && int(t.Denial) < len(img.Denial) {
				return img.Denial[t.Denial]
			}
		}
		return nil
	}
	views := map[NameHash]*DenialZone{}
	for a, ids := range img.AllAnswers() {
		if dz := selfView(ids[0], ids[1]); dz != nil {
			views[a.Name] = dz
		}
	}
	c := canonImage{names: map[NameHash]canonName{}, answers: map[AnswerKey][2]tmplRef{}, views: map[string]*DenialZone{}}
	for _, dz := range img.Denial {
		if dz != nil {
			c.views[viewName(dz)] = dz
		}
	}
	for h, e := range img.AllNames() {
		n := canonName{flags: e.Flags, cover: e.Cover}
		for i, id := range [4]uint32{e.ExactDefault[0], e.ExactDefault[1], e.BelowDefault[0], e.BelowDefault[1]} {
			n.t[i] = refOf(img, id)
		}
		dz := selfView(e.ExactDefault[0], e.ExactDefault[1])
		if dz == nil {
			dz = views[h]
		}
		if dz != nil && e.Cover > 0 {
			n.view = viewName(dz)
		}
		c.names[h] = n
	}
	for a, ids := range img.AllAnswers() {
		c.answers[a] = [2]tmplRef{refOf(img, ids[0]), refOf(img, ids[1])}
	}
	return c
}

// apply is what the maps hold after d: every user of a rewritten
// template sees its new content, d's views replace those of their names,
// then d's names and answers are set and removed.
func (c canonImage) apply(d *Delta) {
	rw := map[tmplRef]tmplRef{}
	for _, r := range d.Rewrites {
		rw[refOf(d.Image, r.Old)] = refOf(d.Image, r.New)
	}
	for h, e := range c.names {
		for i := range e.t {
			if n, ok := rw[e.t[i]]; ok {
				e.t[i] = n
			}
		}
		c.names[h] = e
	}
	for a, e := range c.answers {
		for i := range e {
			if n, ok := rw[e[i]]; ok {
				e[i] = n
			}
		}
		c.answers[a] = e
	}
	dc := canonOf(d.Image)
	for n, dz := range dc.views {
		switch {
		case dz.Ref: // a reference to the live view as it is
		case dz.Patch: // the live view changed: the pieces it keeps are the live ones
			live := c.views[n]
			if live == nil {
				panic("a patch of a view that is not live: " + n)
			}
			m, err := dz.patched(live)
			if err != nil {
				panic(err)
			}
			c.views[n] = m
		default:
			c.views[n] = dz
		}
	}
	for _, h := range d.DelNames {
		delete(c.names, h)
	}
	for _, a := range d.DelAnswers {
		delete(c.answers, a)
	}
	for h, e := range dc.names {
		c.names[h] = e
	}
	for a, e := range dc.answers {
		c.answers[a] = e
	}
	for _, cv := range d.Covers {
		e, ok := c.names[cv.Name]
		if !ok {
			panic(fmt.Sprintf("the cover of name %x, which is not live", cv.Name))
		}
		e.cover = cv.Cover
		c.names[cv.Name] = e
	}
}

// resolved is c with every reference into a view made the content it
// reads: a slot template's view by its entries (holes left out) and its
// head and tail entries, a name's cover entry, by their keys.
func (c canonImage) resolved() (map[NameHash][6]string, map[AnswerKey][2]string) {
	prints := map[string]string{}
	at := func(view string, e uint32) string {
		dz := c.views[view]
		if dz == nil || e >= uint32(len(dz.Entries)) {
			return fmt.Sprintf("%s#%d", view, e)
		}
		if x := dz.Entries[e]; len(x.Piece.Body) == 0 && int(e)+1 < len(dz.Entries) && dz.Entries[e+1].Key == x.Key {
			return fmt.Sprintf("%x (a hole)", x.Key) // the program would write no piece
		}
		return fmt.Sprintf("%x", dz.Entries[e].Key)
	}
	res := func(r tmplRef) string {
		if r.view == "" {
			return r.k
		}
		p, ok := prints[r.view]
		if !ok {
			p = viewPrint(c.views[r.view])
			prints[r.view] = p
		}
		return r.k + "|" + p + "|" + at(r.view, r.head) + "|" + at(r.view, r.tail)
	}
	names := make(map[NameHash][6]string, len(c.names))
	for h, n := range c.names {
		cover := fmt.Sprint(n.cover)
		if n.view != "" {
			cover = at(n.view, n.cover-1)
		}
		names[h] = [6]string{res(n.t[0]), res(n.t[1]), res(n.t[2]), res(n.t[3]), fmt.Sprint(n.flags), cover}
	}
	answers := make(map[AnswerKey][2]string, len(c.answers))
	for a, r := range c.answers {
		answers[a] = [2]string{res(r[0]), res(r[1])}
	}
	return names, answers
}

// viewPrint is a chain view's content without its holes.
func viewPrint(dz *DenialZone) string {
	if dz == nil {
		return "no view"
	}
	h := sha256.New()
	fmt.Fprintf(h, "%d %x|", dz.Kind, dz.Salt)
	for i, e := range dz.Entries {
		if i+1 < len(dz.Entries) && dz.Entries[i+1].Key == e.Key && len(e.Piece.Body) == 0 {
			continue // a hole
		}
		fmt.Fprintf(h, "%x %d %v %x|", e.Key, e.Piece.Records, e.Piece.Relocs, e.Piece.Body)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// mustEqual fails the test unless c holds what want (a whole compile)
// holds, entry by entry.
func (c canonImage) mustEqual(t *testing.T, step int, want canonImage) {
	t.Helper()
	if bad := c.differences(want); len(bad) > 0 {
		t.Fatalf("step %d: %d entries differ from a whole compile, e.g. %s", step, len(bad), strings.Join(bad[:min(5, len(bad))], "; "))
	}
}

// differences lists the entries in which c and want (a whole compile)
// differ once resolved.
func (c canonImage) differences(want canonImage) []string {
	gn, ga := c.resolved()
	wn, wa := want.resolved()
	var bad []string
	for h, w := range wn {
		if g, ok := gn[h]; !ok || g != w {
			d := "missing"
			if ok {
				for i := range g {
					if g[i] != w[i] {
						d = fmt.Sprintf("part %d differs", i)
						break
					}
				}
			}
			bad = append(bad, fmt.Sprintf("name %x: %s", h.H1>>32, d))
		}
	}
	for h := range gn {
		if _, ok := wn[h]; !ok {
			bad = append(bad, fmt.Sprintf("name %x left behind", h.H1>>32))
		}
	}
	for a, w := range wa {
		if g, ok := ga[a]; !ok || g != w {
			bad = append(bad, fmt.Sprintf("answer %x type %d mode %d: present %v, differs", a.Name.H1>>32, a.QType, a.Mode, ok))
		}
	}
	for a := range ga {
		if _, ok := wa[a]; !ok {
			bad = append(bad, fmt.Sprintf("answer %x type %d mode %d left behind", a.Name.H1>>32, a.QType, a.Mode))
		}
	}
	sort.Strings(bad)
	return bad
}

// TestRecompileMatchesCompile changes an unsigned zone step by step and
// renders each change with Recompile: the previous image with the delta
// applied must hold, name by name and answer by answer, the templates a
// full Compile of the new version holds; and Recompile must render far
// fewer names than the zone has.
func TestRecompileMatchesCompile(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		v := newVersions(seed)
		e := v.engine(t)
		img, err := Compile(e)
		if err != nil {
			t.Fatal(err)
		}
		live, inc := canonOf(img), img.Incremental
		first, err := Compile(e) // its own: Apply consumes the image
		if err != nil {
			t.Fatal(err)
		}
		var deltas []*Delta
		var full *Image
		rendered, total := 0, 0
		for step := 1; step <= 40; step++ {
			v.change()
			ne := v.engine(t)
			d, next, err := Recompile(inc, e, ne, nil)
			if err != nil {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
			full, err = Compile(ne)
			if err != nil {
				t.Fatal(err)
			}
			live.apply(d)
			img = checkApplied(t, step, img, d, full)
			deltas = append(deltas, d)
			bad := live.differences(canonOf(full))
			if len(bad) > 0 {
				t.Fatalf("seed %d step %d: %d differences, e.g. %s", seed, step, len(bad), strings.Join(bad[:min(5, len(bad))], "; "))
			}
			rendered += len(d.Image.Names)
			total += len(full.Names)
			e, inc = ne, next
		}
		// The 40 changes applied at once give the same.
		all, err := first.Apply(deltas...)
		if err != nil {
			t.Fatal(err)
		}
		canonOf(all).mustEqual(t, 41, canonOf(full))
		t.Logf("seed %d: %d names rendered of %d over 40 changes", seed, rendered, total)
		if rendered*3 > total {
			t.Errorf("seed %d: Recompile rendered %d names of %d: not incremental", seed, rendered, total)
		}
	}
}

// wireName names an entry in a failure message (the image keeps hashes,
// not names).
func wireName(_ *Image, h NameHash) string { return fmt.Sprintf("%x", h.H1>>32) }

// recompileStep renders the change from e to ne with Recompile, applies it
// to live and to img (Image.Apply) and holds both to a whole compile of ne;
// it returns the delta, the next Incremental and img after the change.
func recompileStep(t *testing.T, step int, live canonImage, img *Image, inc *Incremental, e, ne *engine.Engine) (*Delta, *Incremental, *Image) {
	t.Helper()
	d, next, err := Recompile(inc, e, ne, nil)
	if err != nil {
		t.Fatalf("step %d: %v", step, err)
	}
	full, err := Compile(ne)
	if err != nil {
		t.Fatal(err)
	}
	live.apply(d)
	live.mustEqual(t, step, canonOf(full))
	return d, next, checkApplied(t, step, img, d, full)
}

// checkApplied applies d to img (Image.Apply) and holds the result to
// full, the whole compile of the same version: the same entries with the
// same template contents, no template left that nothing uses, and an
// image that encodes and decodes to the same.
func checkApplied(t *testing.T, step int, img *Image, d *Delta, full *Image) *Image {
	t.Helper()
	// The change as a restart reads it back from the image file.
	var dbuf bytes.Buffer
	dw := binfmt.NewWriter(&dbuf)
	d.Encode(dw)
	if err := dw.Flush(); err != nil {
		t.Fatal(err)
	}
	// The layouts of the views d patches, before the change.
	was := map[string][][4]uint64{}
	for _, dz := range d.Image.Denial {
		if dz != nil && dz.Patch {
			for _, lz := range img.Denial {
				if lz != nil && viewName(lz) == viewName(dz) {
					was[viewName(dz)] = lz.Layout()
				}
			}
		}
	}
	d, err := DecodeDelta(binfmt.NewReader(dbuf.Bytes()))
	if err != nil {
		t.Fatalf("step %d: the change does not decode: %v", step, err)
	}
	next, err := img.Apply(d)
	if err != nil {
		t.Fatalf("step %d: Apply: %v", step, err)
	}
	// A patched view is, slot by slot (holes too), the whole compile's
	// chain laid out as patchLayout places it in the old layout.
	for _, fz := range full.Denial {
		if fz == nil {
			continue
		}
		old, ok := was[viewName(fz)]
		if !ok {
			continue
		}
		want := &DenialZone{}
		for i, e := range fz.Entries {
			if i+1 == len(fz.Entries) || fz.Entries[i+1].Key != e.Key {
				want.Entries = append(want.Entries, e)
			}
		}
		if !want.layOut(patchLayout(old, want.Layout())) {
			t.Fatalf("step %d: the chain does not lay out in the old layout", step)
		}
		for _, nz := range next.Denial {
			if nz == nil || viewName(nz) != viewName(fz) {
				continue
			}
			if len(nz.Entries) != len(want.Entries) {
				t.Fatalf("step %d: the patched view has %d slots, the chain laid out in the old layout %d", step, len(nz.Entries),
					len(want.Entries))
			}
			for i := range want.Entries {
				if g, w := nz.Entries[i], want.Entries[i]; g.Key != w.Key || !bytes.Equal(g.Piece.Body, w.Piece.Body) ||
					!slices.Equal(g.Piece.Relocs, w.Piece.Relocs) || g.Piece.Records != w.Piece.Records {
					t.Fatalf("step %d: slot %d of the patched view holds %x (%d bytes), want %x (%d bytes)", step, i, g.Key,
						len(g.Piece.Body), w.Key, len(w.Piece.Body))
				}
			}
		}
	}
	canonOf(next).mustEqual(t, step, canonOf(full))
	used := make([]bool, len(next.Templates))
	for _, e := range next.AllNames() {
		for _, id := range [...]uint32{e.ExactDefault[0], e.ExactDefault[1], e.BelowDefault[0], e.BelowDefault[1]} {
			used[id] = true
		}
	}
	for _, v := range next.AllAnswers() {
		used[v[0]], used[v[1]] = true, true
	}
	if i := slices.Index(used[1:], false); i >= 0 {
		t.Fatalf("step %d: template %d of %d left in the image, unused", step, i+1, len(used)-1)
	}
	if next.Stats.Names != full.Stats.Names || next.Stats.Answers != full.Stats.Answers {
		t.Fatalf("step %d: stats %+v, the whole compile's %+v", step, next.Stats, full.Stats)
	}
	next.Incremental = full.Incremental
	var buf bytes.Buffer
	w := binfmt.NewWriter(&buf)
	next.Encode(w)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	back, err := DecodeImage(binfmt.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("step %d: the image after the change does not decode: %v", step, err)
	}
	canonOf(back).mustEqual(t, step, canonOf(full))
	return next
}

// TestRecompileTwoZones runs Recompile on the differential test's
// unsigned zones, a parent and its served child (whose apex is a name of
// both, the parent's cut and the child's apex): changes to either, and
// new serials, must give what a full compile gives.
func TestRecompileTwoZones(t *testing.T) {
	parentZ, childZ, err := interop.TestdataZones()
	if err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	parent, child := read(parentZ.Path), read(childZ.Path)
	mk := func(step int) *engine.Engine {
		p := strings.Replace(parent, "2024010101 ; serial", fmt.Sprintf("%d ; serial", 2024010101+step), 1)
		c := strings.Replace(child, "2024010101", fmt.Sprint(2024010101+step/2), 1)
		for i := 0; i < step; i++ {
			p += fmt.Sprintf("\nrc%d IN A 198.18.5.%d\n", i, i)
			if i%2 == 0 {
				c += fmt.Sprintf("\nrc%d IN TXT \"%d\"\n", i, step)
			}
		}
		if step%3 == 1 {
			p += "\nns9.sub2 IN A 198.18.5.99\nsub2 IN NS ns9.sub2\n" // the child's cut and glue in the parent
		}
		var zs []*zone.Zone
		for _, x := range []struct{ origin, text string }{{parentZ.Origin, p}, {childZ.Origin, c}} {
			z, err := zone.Load(strings.NewReader(x.text), x.origin, x.origin+"zone", zone.Options{})
			if err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			zs = append(zs, z)
		}
		set, err := zone.NewSet(zs...)
		if err != nil {
			t.Fatal(err)
		}
		return engine.New(engine.Config{UDPSize: 1232}, set)
	}
	e := mk(0)
	img, err := Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	live, inc := canonOf(img), img.Incremental
	for step := 1; step <= 8; step++ {
		ne := mk(step)
		_, inc, img = recompileStep(t, step, live, img, inc, e, ne)
		e = ne
	}
}

// rrsEngine is an engine serving the zone origin made of rrs.
func rrsEngine(t *testing.T, origin string, rrs []dns.RR) *engine.Engine {
	t.Helper()
	return textEngine(t, origin, rrsText(rrs))
}

// rrsText is rrs in zone file form.
func rrsText(rrs []dns.RR) string {
	var b strings.Builder
	for _, rr := range rrs {
		b.WriteString(rr.String() + "\n")
	}
	return b.String()
}

// TestRecompileOptOut renders, change by change, an NSEC3 opt-out zone
// whose insecure delegations (and their glue) come and go and whose SOA
// serial and signature change each time, the chain itself unchanged, and
// then an NSEC3 record goes: what Recompile renders (the chain view
// rebuilt into the delta) must equal a whole compile.
func TestRecompileOptOut(t *testing.T) {
	rrs := interoptest.SignedOptOut(t, "oo.test.", 5, 30, "h1 A 198.18.4.1\nh1 TXT one\n*.w A 198.18.4.2\n")
	rng := rand.New(rand.NewPCG(5, 5))
	engineOf := func(rrs []dns.RR) *engine.Engine { return rrsEngine(t, "oo.test.", rrs) }
	e := engineOf(rrs)
	img, err := Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	live, inc := canonOf(img), img.Incremental
	serial := uint32(1)
	for step := 1; step <= 20; step++ {
		serial++
		var next []dns.RR
		drop := fmt.Sprintf("d%d.oo.test.", rng.IntN(40))
		for _, rr := range rrs {
			h := rr.Header()
			switch {
			case h.Rrtype == dns.TypeSOA:
				soa := dns.Copy(rr).(*dns.SOA)
				soa.Serial = serial
				rr = soa
			case h.Rrtype == dns.TypeRRSIG && rr.(*dns.RRSIG).TypeCovered == dns.TypeSOA:
				sig := dns.Copy(rr).(*dns.RRSIG)
				raw := make([]byte, 64)
				for i := range raw {
					raw[i] = byte(rng.Uint32())
				}
				sig.Signature = base64.StdEncoding.EncodeToString(raw)
				rr = sig
			case strings.EqualFold(h.Name, drop) || strings.HasSuffix(strings.ToLower(h.Name), "."+drop):
				continue // an insecure delegation and its glue go
			case h.Rrtype == dns.TypeA && strings.HasPrefix(h.Name, "ns.d") && rng.IntN(8) == 0:
				a := dns.Copy(rr).(*dns.A)
				a.A = net.IPv4(198, 18, 9, byte(rng.IntN(256)))
				rr = a
			}
			next = append(next, rr)
		}
		if rng.IntN(2) == 0 {
			k := 30 + rng.IntN(10)
			for _, s := range []string{fmt.Sprintf("d%d.oo.test. 300 IN NS ns.d%d.oo.test.", k, k), fmt.Sprintf("ns.d%d.oo.test. 300 IN A 198.18.5.%d", k, k)} {
				rr, err := dns.NewRR(s)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.ContainsFunc(next, func(o dns.RR) bool { return dns.IsDuplicate(o, rr) }) {
					next = append(next, rr)
				}
			}
		}
		rrs = next
		ne := engineOf(rrs)
		_, inc, img = recompileStep(t, step, live, img, inc, e, ne)
		e = ne
	}
	// Too many names holding the SOA in templates of their own (every
	// insecure delegation's DO=1 DS NODATA): a new serial is left to
	// Compile, and the next compile keeps no list of them.
	defer func(n int) { maxSOANames = n }(maxSOANames)
	maxSOANames = 3
	full, err := Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	if u := full.Incremental.zones[string(e.Zones().Zones()[0].Origin.Lower)]; !u.tooMany || u.names != nil {
		t.Errorf("%d names kept, tooMany %v", len(u.names), u.tooMany)
	}
	var bumped []dns.RR
	for _, rr := range rrs {
		if soa, ok := rr.(*dns.SOA); ok {
			soa = dns.Copy(soa).(*dns.SOA)
			soa.Serial++
			rr = soa
		}
		bumped = append(bumped, rr)
	}
	if _, _, err := Recompile(full.Incremental, e, engineOf(bumped), nil); !errors.Is(err, ErrRecompile) {
		t.Errorf("a new serial with too many names holding it: %v, want ErrRecompile", err)
	}
	maxSOANames = 50000

	// A change to the chain (an NSEC3 record gone, not the apex's) is
	// rendered alone, the view given the new chain in place.
	var next []dns.RR
	var gone string
	z := e.Zones().Zones()[0]
	apex := strings.ToLower(z.NSEC3Hash(z.Apex))
	for _, rr := range rrs {
		if _, ok := rr.(*dns.NSEC3); ok && gone == "" && !strings.HasPrefix(strings.ToLower(rr.Header().Name), apex) {
			gone = rr.Header().Name
		}
		if gone != "" && strings.EqualFold(rr.Header().Name, gone) {
			continue
		}
		next = append(next, rr)
	}
	live = canonOf(img)
	d, _, _ := recompileStep(t, 21, live, img, inc, e, engineOf(next))
	if len(d.Image.Denial) != 2 || len(d.Image.Names) > 10 {
		t.Errorf("a change of the NSEC3 chain: %d views, %d names rendered", len(d.Image.Denial)-1, len(d.Image.Names))
	}
}

// TestApplyTwoSignedZones: a change to the second of two NSEC3 opt-out
// zones carries that zone's chain view placed as the change's first
// (another index, another first entry than in the image); Image.Apply
// finds the image's view of the same name and moves the slots' zone to
// it, so the image equals a whole compile.
func TestApplyTwoSignedZones(t *testing.T) {
	a := interoptest.SignedOptOut(t, "oa.test.", 4, 10, "")
	b := interoptest.SignedOptOut(t, "ob.test.", 6, 10, "h1 A 198.18.4.1\n")
	engineOf := func(b []dns.RR) *engine.Engine {
		t.Helper()
		return zonesEngine(t, [2]string{"oa.test.", rrsText(a)}, [2]string{"ob.test.", rrsText(b)})
	}
	// Both SOAs end alike: a new serial of one is left to Compile (the
	// maps hold one template for both zones' negative answers, which a
	// rewrite in place would change for the other zone too).
	e := engineOf(b)
	img, err := Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	bumped := func(rrs []dns.RR, by uint32) []dns.RR {
		var out []dns.RR
		for _, rr := range rrs {
			if soa, ok := rr.(*dns.SOA); ok {
				soa = dns.Copy(soa).(*dns.SOA)
				soa.Serial += by
				rr = soa
			}
			out = append(out, rr)
		}
		return out
	}
	if _, _, err := Recompile(img.Incremental, e, engineOf(bumped(b, 1)), nil); !errors.Is(err, ErrRecompile) {
		t.Fatalf("a new serial of one of two zones whose SOAs end alike: %v", err)
	}
	a = bumped(a, 6) // their SOAs differ from here on
	e = engineOf(b)
	if img, err = Compile(e); err != nil {
		t.Fatal(err)
	}
	// ob.test.'s new serial, and one of its insecure delegations gone.
	var next []dns.RR
	for _, rr := range b {
		switch h := rr.Header(); {
		case h.Rrtype == dns.TypeSOA:
			soa := dns.Copy(rr).(*dns.SOA)
			soa.Serial++
			rr = soa
		case strings.HasPrefix(strings.ToLower(h.Name), "d3.ob.test.") || strings.HasSuffix(strings.ToLower(h.Name), ".d3.ob.test."):
			continue
		}
		next = append(next, rr)
	}
	ne := engineOf(next)
	d, _, err := Recompile(img.Incremental, e, ne, nil)
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := 0
	for j, dz := range d.Image.Denial {
		for i, lz := range img.Denial {
			if j > 0 && i > 0 && dz != nil && lz != nil && viewName(lz) == viewName(dz) && (i != j || lz.Base != dz.Base) {
				elsewhere++
			}
		}
	}
	if elsewhere == 0 {
		t.Fatalf("the change's %d chain views sit where the image's do: the test does not move one", len(d.Image.Denial)-1)
	}
	full, err := Compile(ne)
	if err != nil {
		t.Fatal(err)
	}
	checkApplied(t, 1, img, d, full)
}

// TestRecompileSOAsAlike: two zones whose SOAs render to the same bytes
// share the templates of their negative answers, so a new serial of one
// is left to Compile (a rewrite in place would give the other zone's
// answers that serial); once their SOAs differ, it is rendered alone and
// equals a whole compile.
func TestRecompileSOAsAlike(t *testing.T) {
	text := func(origin string, serial int) string {
		return fmt.Sprintf("$ORIGIN %s\n$TTL 300\n@ SOA ns1 hostmaster %d 7200 3600 1209600 300\n@ NS ns1\nns1 A 198.18.0.53\nwww A 198.18.0.80\n", origin, serial)
	}
	engineOf := func(sa, sb int) *engine.Engine {
		t.Helper()
		return zonesEngine(t, [2]string{"ua.test.", text("ua.test.", sa)}, [2]string{"ub.test.", text("ub.test.", sb)})
	}
	e := engineOf(1, 1)
	img, err := Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Recompile(img.Incremental, e, engineOf(1, 2), nil); !errors.Is(err, ErrRecompile) {
		t.Fatalf("a new serial of one of two zones whose SOAs render alike: %v", err)
	}
	e = engineOf(5, 1)
	if img, err = Compile(e); err != nil {
		t.Fatal(err)
	}
	recompileStep(t, 1, canonOf(img), img, img.Incremental, e, engineOf(5, 2))
}
