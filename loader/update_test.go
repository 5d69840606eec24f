//go:build linux

package loader_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/daemon/hotpath"
	"github.com/xdpdns/xdpdns/interop"
	"github.com/xdpdns/xdpdns/interop/interoptest"
	"github.com/xdpdns/xdpdns/loader"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
)

// zoneVersions makes versions of the zone upd.test. that differ by a few
// random changes each, as a hidden primary's zone does through a day:
// delegations with glue and DS come and go, glue moves, hosts, a wildcard,
// names deep enough to make empty non-terminals, CNAMEs; every version
// bumps the SOA serial.
type zoneVersions struct {
	rng    *rand.Rand
	serial int
	recs   map[string][]string // by owner label: the records' text
}

func newZoneVersions(seed uint64) *zoneVersions {
	zv := &zoneVersions{rng: rand.New(rand.NewPCG(seed, 1)), serial: 1, recs: map[string][]string{}}
	for i := 0; i < 12; i++ {
		zv.addDelegation(fmt.Sprintf("d%d", i))
	}
	for i := 0; i < 6; i++ {
		zv.addHost(fmt.Sprintf("h%d", i))
	}
	zv.recs["a.b.deep"] = []string{"a.b.deep A 198.18.1.1"}
	zv.recs["*.w"] = []string{"*.w A 198.18.1.2", "*.w TXT \"wild\""}
	zv.recs["x.w"] = []string{"x.w AAAA 2001:db8::1"}
	zv.recs["c0"] = []string{"c0 CNAME h0"}
	return zv
}

func (zv *zoneVersions) addDelegation(l string) {
	r := []string{fmt.Sprintf("%s NS ns.%s", l, l), fmt.Sprintf("%s NS ns.example.net.", l)}
	if zv.rng.IntN(2) == 0 {
		r = append(r, fmt.Sprintf("%s DS %d 13 2 %064x", l, zv.rng.IntN(65536), zv.rng.Uint64()))
	}
	zv.recs[l] = r
	zv.recs["ns."+l] = []string{fmt.Sprintf("ns.%s A 198.18.%d.%d", l, zv.rng.IntN(256), zv.rng.IntN(256))}
}

func (zv *zoneVersions) addHost(l string) {
	zv.recs[l] = []string{fmt.Sprintf("%s A 198.18.%d.%d", l, zv.rng.IntN(256), zv.rng.IntN(256)),
		fmt.Sprintf("%s TXT \"v%d\"", l, zv.rng.IntN(1000))}
}

// labels lists the owners whose label starts with prefix.
func (zv *zoneVersions) labels(prefix string) []string {
	var out []string
	for l := range zv.recs {
		if strings.HasPrefix(l, prefix) && !strings.Contains(l, ".") {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

func (zv *zoneVersions) pick(prefix string) string {
	l := zv.labels(prefix)
	if len(l) == 0 {
		return ""
	}
	return l[zv.rng.IntN(len(l))]
}

// change makes a few random changes and bumps the serial.
func (zv *zoneVersions) change() {
	zv.serial++
	for n := 1 + zv.rng.IntN(3); n > 0; n-- {
		switch zv.rng.IntN(11) {
		case 0:
			zv.addDelegation(fmt.Sprintf("d%d", 100+zv.rng.IntN(1000)))
		case 1:
			if l := zv.pick("d"); l != "" {
				delete(zv.recs, l)
				delete(zv.recs, "ns."+l)
			}
		case 2:
			if l := zv.pick("d"); l != "" {
				zv.recs["ns."+l] = []string{fmt.Sprintf("ns.%s A 198.18.%d.%d", l, zv.rng.IntN(256), zv.rng.IntN(256))}
			}
		case 3:
			if l := zv.pick("d"); l != "" {
				r := zv.recs[l][:2]
				if len(zv.recs[l]) == 2 {
					r = append(r, fmt.Sprintf("%s DS %d 13 2 %064x", l, zv.rng.IntN(65536), zv.rng.Uint64()))
				}
				zv.recs[l] = r
			}
		case 4:
			zv.addHost(fmt.Sprintf("h%d", zv.rng.IntN(40)))
		case 5:
			if l := zv.pick("h"); l != "" && l != "h0" {
				delete(zv.recs, l)
			}
		case 6:
			if _, ok := zv.recs["*.w"]; ok {
				delete(zv.recs, "*.w")
			} else {
				zv.recs["*.w"] = []string{"*.w A 198.18.1.2", fmt.Sprintf("*.w TXT \"wild%d\"", zv.serial)}
			}
		case 7:
			o := fmt.Sprintf("x.y%d.deep", zv.rng.IntN(4))
			if _, ok := zv.recs[o]; ok {
				delete(zv.recs, o)
			} else {
				zv.recs[o] = []string{o + " MX 10 h0"}
			}
		case 8:
			c := fmt.Sprintf("c%d", zv.rng.IntN(4))
			if _, ok := zv.recs[c]; ok && c != "c0" {
				delete(zv.recs, c)
			} else if h := zv.pick("h"); h != "" {
				zv.recs[c] = []string{c + " CNAME " + h}
			}
		case 9: // apex data other than the SOA
			if _, ok := zv.recs["@"]; ok {
				delete(zv.recs, "@")
			} else {
				zv.recs["@"] = []string{fmt.Sprintf("@ TXT \"v%d\"", zv.serial), "@ MX 10 h0", "@ NS ns2.example.net."}
			}
		case 10: // a DNAME over names below it, or gone
			if _, ok := zv.recs["dn"]; ok {
				delete(zv.recs, "dn")
			} else {
				zv.recs["dn"] = []string{"dn DNAME elsewhere.example.net."}
				zv.recs["x.dn"] = []string{fmt.Sprintf("x.dn A 198.18.7.%d", zv.rng.IntN(256))}
			}
		}
	}
}

func (zv *zoneVersions) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN upd.test.\n$TTL 300\n@ SOA ns1 hostmaster %d 7200 3600 1209600 300\n@ NS ns1\nns1 A 198.18.0.53\n", zv.serial)
	owners := make([]string, 0, len(zv.recs))
	for o := range zv.recs {
		owners = append(owners, o)
	}
	sort.Strings(owners)
	for _, o := range owners {
		for _, r := range zv.recs[o] {
			b.WriteString(r + "\n")
		}
	}
	return b.String()
}

// queries are the test queries of a version: every owner, a name below
// it, and the apex, for A, AAAA, TXT, DS, NS and MX, DO off and on.
func (zv *zoneVersions) queries(t *testing.T) [][]byte {
	names := []string{"upd.test.", "nope.upd.test.", "x.nope.upd.test.", "q.w.upd.test.", "b.deep.upd.test."}
	for o := range zv.recs {
		if o == "@" {
			continue // the apex, asked above
		}
		names = append(names, o+".upd.test.", "zz."+strings.TrimPrefix(o, "*.")+".upd.test.")
	}
	for i := 0; i < 20; i++ {
		names = append(names, fmt.Sprintf("d%d.upd.test.", 100+i*50), fmt.Sprintf("h%d.upd.test.", i*2))
	}
	sort.Strings(names)
	var out [][]byte
	for _, n := range slices.Compact(names) {
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeTXT, dns.TypeDS, dns.TypeNS, dns.TypeMX} {
			for _, do := range []bool{false, true} {
				out = append(out, query(t, n, qt, dns.ClassINET, edns(1232, do, false)))
			}
		}
	}
	return out
}

// engineOf is an engine serving the zone origin of text.
func engineOf(t *testing.T, origin, text string) *engine.Engine {
	t.Helper()
	return testEngine(t, origin, text, interop.EngineConfig)
}

// TestUpdateMatchesSwap changes a zone step by step (unsigned, NSEC, NSEC3
// and NSEC3 opt-out, re-signed at every version) and applies every
// version to the live maps in place, with Update (the whole image) and
// UpdatePartial (only the change) in turn: after each, the live maps
// must hold exactly the content a fresh Swap of that version would (read
// back from the kernel, compared by content, both versions of every entry
// settled), and every query of the version sent through the program must
// get the engine's bytes, or be passed as the model says. Half the
// variants start with SwapLater.
func TestUpdateMatchesSwap(t *testing.T) {
	requireRoot(t)
	const steps = 12
	for vi, v := range interoptest.Variants {
		t.Run(string(v), func(t *testing.T) {
			signer := interoptest.NewSigner(t, "upd.test.")
			zv := newZoneVersions(uint64(vi + 1))
			e := engineOf(t, "upd.test.", signer.Sign(t, v, zv.text()))
			prev := compile(t, e)
			l := loadWith(t, e, nil, nil)
			// Half the variants start as the daemon does from a
			// compiled image: the record of the first generation is
			// made by the first update (SwapLater).
			swap := l.Swap
			if vi%2 == 1 {
				swap = l.SwapLater
			}
			if _, err := swap(prev); err != nil {
				t.Fatal(err)
			}
			var written, total int
			for step := 1; step <= steps; step++ {
				zv.change()
				e = engineOf(t, "upd.test.", signer.Sign(t, v, zv.text()))
				img := compile(t, e)
				st := applyVersion(t, l, step, prev, img)
				prev = img
				written += st.NamesChanged + st.NamesAdded + st.NamesGone + st.AnswersChanged + st.AnswersGone
				total += len(img.NameKeys) + len(img.AnswerKeys)
				answered := checkVersion(t, step, l, e, img, zv)
				// Nothing the version does not use stays behind.
				want := len(img.Templates) - 1 + max(len(img.SharedTemplates)-1, 0)
				if err := l.CheckTemplateViews(); err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				if nt, nz := l.LiveUse(); nt > want || nz > len(img.DenialZones)-1 {
					t.Fatalf("step %d: %d templates and %d denial zones live, the version has %d and %d", step, nt, nz, want, len(img.DenialZones)-1)
				}
				t.Logf("step %d: %+v; %d queries answered in XDP", step, st, answered)
			}
			t.Logf("%d of %d entries written over %d updates", written, total, steps)
		})
	}
}

// TestUpdateWindows: updates of a table that spans many windows (one
// page each here, several hundred names): keys added, changed and
// removed across them, the whole live content read back window by
// window, every version as a Swap of it would be.
func TestUpdateWindows(t *testing.T) {
	requireRoot(t)
	defer loader.SetSlotWindow(os.Getpagesize())()
	for _, sparse := range []bool{false, true} {
		t.Run(fmt.Sprintf("sparse=%v", sparse), func(t *testing.T) {
			defer loader.ForceSparse(sparse)()
			updateWindows(t)
		})
	}
}

// updateWindows is TestUpdateWindows with the tables reached one way.
func updateWindows(t *testing.T) {
	zv := newZoneVersions(99)
	for i := range 400 {
		zv.addDelegation(fmt.Sprintf("d%d", 2000+i))
	}
	e := engineOf(t, "upd.test.", zv.text())
	prev := compile(t, e)
	l := load(t, e, prev)
	if n, a := l.TableSizes(); n < 8*uint32(os.Getpagesize()/32) || a < 4*uint32(os.Getpagesize()/32) {
		t.Fatalf("tables of %d and %d slots: want several windows each", n, a)
	}
	for step := 1; step <= 8; step++ {
		for range 20 {
			zv.change()
		}
		e = engineOf(t, "upd.test.", zv.text())
		img := compile(t, e)
		applyVersion(t, l, step, prev, img)
		prev = img
		checkVersion(t, step, l, e, img, zv)
	}
}

// applyVersion makes img, the version after prev, live in place: on odd
// steps the whole image (Update), on even ones only what changed
// (UpdatePartial, as an incremental compile hands it over).
func applyVersion(t *testing.T, l *loader.Loader, step int, prev, img *loader.Image) loader.UpdateStats {
	t.Helper()
	var st loader.UpdateStats
	var err error
	if step%2 == 1 {
		st, err = l.Update(img)
	} else {
		st, err = l.UpdatePartial(delta(l, prev, img))
	}
	if err != nil {
		t.Fatalf("step %d: %v", step, err)
	}
	return st
}

// checkVersion holds the live maps to img (read back from the kernel,
// compared by content, both versions of every entry settled) and the
// version's queries through the program to e's bytes; it returns how many
// the program answered (at least one).
func checkVersion(t *testing.T, step int, l *loader.Loader, e *engine.Engine, img *loader.Image, zv *zoneVersions) int {
	t.Helper()
	live, err := l.LiveCanon()
	if err != nil {
		t.Fatalf("step %d: live maps: %v", step, err)
	}
	if diff := canonDiff(live, l.ImageCanon(img)); diff != "" {
		t.Fatalf("step %d: the live maps differ from the version's image: %s", step, diff)
	}
	answered := 0
	for i, pkt := range zv.queries(t) {
		got := xdpReply(t, l.Program(), layout{v6: i%2 == 1}, pkt)
		if got == nil {
			continue
		}
		answered++
		if want := e.Respond(nil, pkt, false); !bytes.Equal(got, want) {
			m := new(dns.Msg)
			_ = m.Unpack(pkt)
			t.Fatalf("step %d: %s: XDP and engine differ\nxdp    %x\nengine %x", step, m.Question[0].String(), got, want)
		}
	}
	if answered == 0 {
		t.Fatalf("step %d: nothing answered in XDP", step)
	}
	return answered
}

// delta is the change from image a to image b as UpdatePartial takes
// it: b's entries whose content differs from a's (with all of b's
// templates and denial zones), and a's entries b lacks.
func delta(l *loader.Loader, a, b *loader.Image) *loader.Delta {
	ca, cb := l.ImageCanon(a), l.ImageCanon(b)
	d := &loader.Delta{Image: *b}
	d.NameKeys, d.NameVals, d.AnswerKeys, d.AnswerVals = nil, nil, nil, nil
	for i, k := range b.NameKeys {
		if old, ok := ca.Names[k]; !ok || old != cb.Names[k] {
			d.NameKeys, d.NameVals = append(d.NameKeys, k), append(d.NameVals, b.NameVals[i])
		}
	}
	for k := range ca.Names {
		if _, ok := cb.Names[k]; !ok {
			d.DelNames = append(d.DelNames, k)
		}
	}
	for i, k := range b.AnswerKeys {
		if old, ok := ca.Answers[k]; !ok || old != cb.Answers[k] {
			d.AnswerKeys, d.AnswerVals = append(d.AnswerKeys, k), append(d.AnswerVals, b.AnswerVals[i])
		}
	}
	for k := range ca.Answers {
		if _, ok := cb.Answers[k]; !ok {
			d.DelAnswers = append(d.DelAnswers, k)
		}
	}
	return d
}

// canonDiff describes how two Canons differ ("" when equal).
func canonDiff(got, want loader.Canon) string {
	var d []string
	for k, w := range want.Names {
		if g, ok := got.Names[k]; !ok {
			d = append(d, fmt.Sprintf("name %x missing", k))
		} else if g != w {
			d = append(d, fmt.Sprintf("name %x: %+v, want %+v", k, g, w))
		}
	}
	for k := range got.Names {
		if _, ok := want.Names[k]; !ok {
			d = append(d, fmt.Sprintf("name %x extra", k))
		}
	}
	for k, w := range want.Answers {
		if g, ok := got.Answers[k]; !ok || g != w {
			d = append(d, fmt.Sprintf("answer %+v: %v (present %v), want %v", k, g, ok, w))
		}
	}
	for k := range got.Answers {
		if _, ok := want.Answers[k]; !ok {
			d = append(d, fmt.Sprintf("answer %+v extra", k))
		}
	}
	if len(d) > 5 {
		d = append(d[:5], fmt.Sprintf("and %d more", len(d)-5))
	}
	return strings.Join(d, "; ")
}

// TestUpdateSerialInPlace: a new SOA serial changes every negative answer
// of a zone of many delegations (the DS NODATA of each, NXDOMAIN below the
// apex); Update must write it as a few shared templates rewritten in
// place, writing only the entries of the names whose own answers hold
// the SOA (the apex, its name server), and serve the new serial.
func TestUpdateSerialInPlace(t *testing.T) {
	requireRoot(t)
	text := func(serial int) string {
		var b strings.Builder
		fmt.Fprintf(&b, "$ORIGIN upd.test.\n$TTL 300\n@ SOA ns1 hostmaster %d 7200 3600 1209600 300\n@ NS ns1\nns1 A 198.18.0.53\n", serial)
		for i := 0; i < 500; i++ {
			fmt.Fprintf(&b, "d%d NS ns.example.net.\n", i)
		}
		return b.String()
	}
	e := engineOf(t, "upd.test.", text(1))
	l := load(t, e, compile(t, e))
	for serial := 2; serial <= 4; serial++ {
		e = engineOf(t, "upd.test.", text(serial))
		img := compile(t, e)
		st, err := l.Update(img)
		if err != nil {
			t.Fatal(err)
		}
		if n := st.NamesChanged + st.NamesAdded + st.NamesGone + st.AnswersChanged + st.AnswersGone; n > 4 || st.InPlace == 0 {
			t.Errorf("serial %d: %+v: want at most the apex's entries written, shared templates rewritten in place", serial, st)
		}
		live, err := l.LiveCanon()
		if err != nil {
			t.Fatal(err)
		}
		if diff := canonDiff(live, l.ImageCanon(img)); diff != "" {
			t.Fatalf("serial %d: %s", serial, diff)
		}
		for _, q := range []string{"d7.upd.test.", "nope.upd.test.", "upd.test."} {
			pkt := query(t, q, dns.TypeDS, dns.ClassINET, edns(1232, false, false))
			verdict, out := run(t, l.Program(), layout{}.build(pkt))
			if verdict != xdpTX {
				t.Fatalf("serial %d: %s DS: verdict %d", serial, q, verdict)
			}
			if got, want := checkReply(t, layout{}, out), e.Respond(nil, pkt, false); !bytes.Equal(got, want) {
				t.Fatalf("serial %d: %s DS: XDP and engine differ\nxdp    %x\nengine %x", serial, q, got, want)
			}
		}
		t.Logf("serial %d: %+v", serial, st)
	}
}

// TestRecompileUpdates is the incremental path end to end on an unsigned
// zone: each change is rendered alone (render.Recompile) and written with
// UpdatePartial; the live maps must then hold what a full compile of the
// version holds, and its queries through the program must get the
// engine's bytes.
func TestRecompileUpdates(t *testing.T) {
	requireRoot(t)
	zv := newZoneVersions(99)
	e := engineOf(t, "upd.test.", zv.text())
	rimg, err := render.Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	l := load(t, e, hotpath.FromRender(rimg))
	inc := rimg.Incremental
	for step := 1; step <= 30; step++ {
		zv.change()
		ne := engineOf(t, "upd.test.", zv.text())
		d, next, err := render.Recompile(inc, e, ne, nil)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		st, err := l.UpdatePartial(hotpath.DeltaFromRender(d))
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		e, inc = ne, next
		full := compile(t, e)
		answered := checkVersion(t, step, l, e, full, zv)
		t.Logf("step %d: %d names rendered, %d rewrites; %+v; %d answered in XDP", step, len(d.Image.Names), len(d.Rewrites), st, answered)
	}
}

// TestRecompileOptOutUpdates: an NSEC3 opt-out zone signed once, whose
// insecure delegations come and go and whose SOA serial and signature
// change, each change rendered alone (the chain view rebuilt into the
// delta, which the loader must find live by its content) and written with
// UpdatePartial: the maps must equal a whole compile's and DO=1 queries
// (NXDOMAIN with the NSEC3 cover in the slot, DS NODATA, referrals) get
// the engine's bytes.
func TestRecompileOptOutUpdates(t *testing.T) {
	requireRoot(t)
	var base []string
	var soa, soaSig string
	for _, rr := range interoptest.SignedOptOut(t, "oo.test.", 4, 24, "h1 A 198.18.4.1\n") {
		switch sig, _ := rr.(*dns.RRSIG); {
		case rr.Header().Rrtype == dns.TypeSOA:
			soa = rr.String()
		case sig != nil && sig.TypeCovered == dns.TypeSOA:
			soaSig = rr.String()
		default:
			base = append(base, rr.String())
		}
	}
	version := func(step int) *engine.Engine {
		var b strings.Builder
		b.WriteString(strings.Replace(soa, " 1 7200 ", fmt.Sprintf(" %d 7200 ", 1+step), 1) + "\n")
		// The SOA's signature changes with it (same size; not verified).
		b.WriteString(soaSig[:len(soaSig)-8] + fmt.Sprintf("%08d", step) + "\n")
		for _, l := range base {
			if f := strings.Fields(l); len(f) > 0 && (f[0] == fmt.Sprintf("d%d.oo.test.", step%24) || f[0] == fmt.Sprintf("ns.d%d.oo.test.", step%24)) {
				continue // an insecure delegation gone for this version
			}
			b.WriteString(l + "\n")
		}
		for k := 100; k < 100+step; k++ {
			fmt.Fprintf(&b, "d%d.oo.test. 300 IN NS ns.example.net.\n", k)
		}
		return engineOf(t, "oo.test.", b.String())
	}
	e := version(0)
	rimg, err := render.Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	l := load(t, e, hotpath.FromRender(rimg))
	inc := rimg.Incremental
	for step := 1; step <= 10; step++ {
		ne := version(step)
		d, next, err := render.Recompile(inc, e, ne, nil)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		st, err := l.UpdatePartial(hotpath.DeltaFromRender(d))
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if st.DenialZones != 0 {
			t.Errorf("step %d: %d denial zones written: the chain did not change", step, st.DenialZones)
		}
		e, inc = ne, next
		live, err := l.LiveCanon()
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if diff := canonDiff(live, l.ImageCanon(compile(t, e))); diff != "" {
			t.Fatalf("step %d: the live maps differ from a whole compile: %s", step, diff)
		}
		answered := 0
		for i, name := range []string{"nope.oo.test.", "x.h1.oo.test.", fmt.Sprintf("d%d.oo.test.", 100+step-1), "d3.oo.test.", "www.d5.oo.test.", "oo.test."} {
			for _, qt := range []uint16{dns.TypeA, dns.TypeDS, dns.TypeSOA} {
				pkt := query(t, name, qt, dns.ClassINET, edns(1232, true, false))
				got := xdpReply(t, l.Program(), layout{v6: i%2 == 1}, pkt)
				if got == nil {
					continue
				}
				answered++
				if want := e.Respond(nil, pkt, false); !bytes.Equal(got, want) {
					t.Fatalf("step %d: %s %d: XDP and engine differ\nxdp    %x\nengine %x", step, name, qt, got, want)
				}
			}
		}
		if answered == 0 {
			t.Fatalf("step %d: nothing answered in XDP", step)
		}
		t.Logf("step %d: %d names rendered, %d rewrites; %+v; %d DO=1 queries answered in XDP", step, len(d.Image.Names), len(d.Rewrites), st, answered)
	}
}

// TestUpdateSideVersions: while an update runs, the names entries it
// changes point to names_side (a names slot holds one version): written
// but not flipped, every query through the program gets the old
// version's bytes; flipped but not settled, the new version's — for the
// whole image (Update) and a change alone (UpdatePartial), names added,
// changed and removed.
func TestUpdateSideVersions(t *testing.T) {
	requireRoot(t)
	for vi, v := range []interoptest.Variant{interoptest.Variants[0], interoptest.Variants[len(interoptest.Variants)-1]} {
		t.Run(string(v), func(t *testing.T) {
			signer := interoptest.NewSigner(t, "upd.test.")
			zv := newZoneVersions(uint64(40 + vi))
			e := engineOf(t, "upd.test.", signer.Sign(t, v, zv.text()))
			prev := compile(t, e)
			l := loadWith(t, e, nil, nil)
			if _, err := l.Swap(prev); err != nil {
				t.Fatal(err)
			}
			var old, cur *engine.Engine
			var queries [][]byte
			var sides, differ int
			// check sends every query through the program at a stage
			// and compares with want's bytes; it counts the queries
			// whose old and new answers differ.
			check := func(stage string, want *engine.Engine) {
				for i, pkt := range queries {
					got := xdpReply(t, l.Program(), layout{v6: i%2 == 1}, pkt)
					if got == nil {
						continue
					}
					w := want.Respond(nil, pkt, false)
					if !bytes.Equal(got, w) {
						m := new(dns.Msg)
						_ = m.Unpack(pkt)
						t.Fatalf("%s: %s: XDP and the engine differ\nxdp    %x\nengine %x", stage, m.Question[0].String(), got, w)
					}
					if stage == "flipped" && !bytes.Equal(old.Respond(nil, pkt, false), w) {
						differ++
					}
				}
			}
			l.SetStageHook(func(stage string) {
				switch stage {
				case "written":
					n, err := l.SideEntries()
					if err != nil {
						t.Fatal(err)
					}
					sides += n
					check(stage, old)
				case "flipped":
					check(stage, cur)
				}
			})
			for step := 1; step <= 8; step++ {
				zv.change()
				old = e
				e = engineOf(t, "upd.test.", signer.Sign(t, v, zv.text()))
				cur = e
				img := compile(t, e)
				queries = zv.queries(t)
				graces := l.Graces()
				applyVersion(t, l, step, prev, img)
				prev = img
				// Updates take turns between names_side's halves: the
				// flip's grace period is the only one waited for.
				if n := l.Graces() - graces; n != 1 {
					t.Fatalf("step %d: the update waited %d grace periods, want 1", step, n)
				}
				checkVersion(t, step, l, e, img, zv)
				if n, err := l.SideEntries(); err != nil || n != 0 {
					t.Fatalf("step %d: %d names entries still in names_side after the update (%v)", step, n, err)
				}
			}
			if sides == 0 || differ == 0 {
				t.Fatalf("%d names entries in names_side over the updates, %d answers changed: the stages were not seen", sides, differ)
			}
			t.Logf("%d names entries in names_side over the updates, %d answers changed", sides, differ)
		})
	}
}

// TestUpdateSideRoom: an update that changes more names entries than a
// turn of names_side holds is refused with ErrNoUpdate before it writes
// anything (the live version keeps answering), and the same version is
// then swapped in whole.
func TestUpdateSideRoom(t *testing.T) {
	requireRoot(t)
	zv := newZoneVersions(77)
	for i := range 1500 {
		zv.addDelegation(fmt.Sprintf("d%d", 100+i))
	}
	e := engineOf(t, "upd.test.", zv.text())
	img := compile(t, e)
	l := loadWith(t, e, nil, nil)
	if _, err := l.Swap(img); err != nil {
		t.Fatal(err)
	}
	// Every delegation's second name server moves: 1500 names entries
	// change, a turn of names_side holds 1024 at this size.
	for o, recs := range zv.recs {
		for i, r := range recs {
			recs[i] = strings.Replace(r, "ns.example.net.", "ns.example.org.", 1)
		}
		zv.recs[o] = recs
	}
	zv.serial++
	e2 := engineOf(t, "upd.test.", zv.text())
	img2 := compile(t, e2)
	if _, err := l.Update(img2); !errors.Is(err, loader.ErrNoUpdate) {
		t.Fatalf("Update of 1500 changed names: %v, want ErrNoUpdate", err)
	}
	if n, err := l.SideEntries(); err != nil || n != 0 {
		t.Fatalf("%d names entries point to names_side after the refused update (%v)", n, err)
	}
	checkVersion(t, 1, l, e, img, zv) // the same owners: the same queries
	if _, err := l.Swap(img2); err != nil {
		t.Fatal(err)
	}
	checkVersion(t, 2, l, e2, img2, zv)
}
