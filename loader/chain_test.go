//go:build linux

package loader_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/daemon/hotpath"
	"github.com/xdpdns/xdpdns/internal/testsupport/zonegen"
	"github.com/xdpdns/xdpdns/interop"
	"github.com/xdpdns/xdpdns/interop/interoptest"
	"github.com/xdpdns/xdpdns/loader"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// TestChainUpdates is the incremental path end to end on a TLD-shaped
// signed zone (NSEC3, NSEC3 opt-out) whose NSEC3 chain changes at every
// step (zonegen: DS records and secure delegations come and go, a new
// serial every other step): each change rendered alone (render.Recompile,
// the chain view laid out as the live one but for the records that
// change) and written with UpdatePartial, which gives the live view the
// new content in place. Every query of the denial corpus (NXDOMAIN in
// every interval, the wrapping one, delegations and names below them,
// DS) must then get the engine's bytes from the program, those it must
// answer answered; the maps must keep one view, its old content freed.
// Twice: with room to spare, and with the room of the denial entries as
// tight as a TLD's (an eighth more than the image's, beside room for one
// more content of the zone: a small zone would otherwise find room
// anywhere), the zone given its spare room at load as a TLD's is; every
// change must then still be written in place (no ErrNoUpdate: the
// daemon would compile the whole zone).
func TestChainUpdates(t *testing.T) {
	requireRoot(t)
	for _, kind := range []zonegen.Kind{zonegen.NSEC3, zonegen.NSEC3OptOut} {
		for _, tight := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/tight=%v", kind, tight), func(t *testing.T) {
				if tight {
					defer loader.SetDenialSlack(32)()
					defer loader.SetSpareMin(0)()
				}
				chainUpdates(t, kind, tight)
			})
		}
	}
}

// takeVersion takes version ne of the zone served as e (inc: its
// Incremental) into l as the daemon does: the change rendered alone
// (render.Recompile) and written with UpdatePartial, settled; or, when
// Recompile leaves it to the whole compile, full (compiled here when nil)
// written with Update. It returns the change (nil when compiled whole),
// the partial update's figures, and the Incremental for the next change.
func takeVersion(t *testing.T, l *loader.Loader, inc *render.Incremental, e, ne *engine.Engine, full *render.Image,
	step int) (*render.Delta, loader.UpdateStats, *render.Incremental) {
	t.Helper()
	d, next, err := render.Recompile(inc, e, ne, nil)
	if errors.Is(err, render.ErrRecompile) {
		t.Logf("step %d: %v", step, err)
		if full == nil {
			if full, err = render.Compile(ne); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := l.Update(hotpath.FromRender(full)); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		return nil, loader.UpdateStats{}, full.Incremental
	}
	if err != nil {
		t.Fatalf("step %d: %v", step, err)
	}
	st, err := l.UpdatePartial(hotpath.DeltaFromRender(d))
	if err != nil {
		t.Fatalf("step %d: %v", step, err)
	}
	if st.Unsettled != nil {
		t.Fatalf("step %d: %v", step, st.Unsettled)
	}
	return d, st, next
}

// loadVersion loads a zonegen version: its engine, a loader holding its
// whole compile, and the compile's Incremental.
func loadVersion(t *testing.T, rrs map[string]dns.RR) (*engine.Engine, *loader.Loader, *render.Incremental) {
	t.Helper()
	e := interoptest.GenEngine(t, interop.EngineConfig, rrs)
	rimg, err := render.Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	return e, load(t, e, hotpath.FromRender(rimg)), rimg.Incremental
}

// checkViews fails the test unless l's live templates and denial zones
// agree (CheckTemplateViews), l holds as many denial zones as full (the
// whole compile of the version served) has, and its room is accounted for
// (checkRoom).
func checkViews(t *testing.T, l *loader.Loader, full *render.Image, step int) {
	t.Helper()
	if err := l.CheckTemplateViews(); err != nil {
		t.Fatalf("step %d: %v", step, err)
	}
	views := 0
	for _, dz := range full.Denial {
		if dz != nil {
			views++
		}
	}
	if _, zones := l.LiveUse(); zones != views {
		t.Fatalf("step %d: %d denial zones live, the whole compile has %d", step, zones, views)
	}
	checkRoom(t, l, step)
}

// checkRoom fails the test unless l's chunks and denial entries are all
// accounted for: none leaked, none freed twice, the garbage recorded what
// the live entries leave unused. It returns the runs of chunks kept.
func checkRoom(t *testing.T, l *loader.Loader, step int) (kept int) {
	t.Helper()
	held, allocated, kept, garbage, unused := l.ChunkUse()
	if held != allocated || garbage != unused {
		t.Fatalf("step %d: %d chunks held, %d allocated; garbage %d recorded, %d unused", step, held, allocated, garbage,
			unused)
	}
	if held, allocated := l.EntryUse(); held != allocated {
		t.Fatalf("step %d: %d denial entries held, %d allocated", step, held, allocated)
	}
	return kept
}

// xdpMatchesEngine is interoptest.XDPMatchesEngine through l's program
// (IPv4 and IPv6 in turn); the test stops at the first failure.
func xdpMatchesEngine(t *testing.T, l *loader.Loader, e *engine.Engine, step int, queries []interoptest.DenialQuery) (answered, must int) {
	t.Helper()
	answered, must = interoptest.XDPMatchesEngine(t, e, fmt.Sprintf("step %d", step), queries, func(i int, pkt []byte) []byte {
		return xdpReply(t, l.Program(), layout{v6: i%2 == 1}, pkt)
	})
	if t.Failed() {
		t.FailNow()
	}
	return answered, must
}

func chainUpdates(t *testing.T, kind zonegen.Kind, tight bool) {
	// Few runs kept, so that the zone is written again too.
	defer loader.SetMaxKept(4)()
	// The tables' slots read one by one, as a TLD's change of a
	// few names reads them (a table this small would be read
	// window by window).
	defer loader.ForceSparse(true)()
	m := zonegen.New(t, 5+uint64(kind))
	const n = 150
	m.AddDelegations(n)
	e := interoptest.GenEngine(t, interop.EngineConfig, m.Signed(kind))
	rimg, err := render.Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	l := load(t, e, hotpath.FromRender(rimg))
	inc := rimg.Incremental
	replaced, patches, covers := 0, 0, 0
	mostKept, lastKept, compacted, inPlace := 0, 0, 0, 0
	for step := 1; step <= 12; step++ {
		m.ChangeDelegations(n)
		if step%2 == 0 {
			m.Bump()
		}
		ne := interoptest.GenEngine(t, interop.EngineConfig, m.Signed(kind))
		d, st, next := takeVersion(t, l, inc, e, ne, nil, step)
		if d == nil {
			e, inc = ne, next
			continue
		}
		replaced += st.DenialZones
		covers += len(d.Covers)
		for _, dz := range d.Image.Denial {
			if dz == nil || !dz.Patch {
				continue
			}
			// A patch renders only the changed records' pieces. The
			// first is written in place when the zone was given its
			// spare room at load.
			if patches == 0 && tight && st.PatchesInPlace == 0 {
				t.Errorf("step %d: the first patch not written in place (no spare room made at load)", step)
			}
			patches++
			fresh := 0
			for _, x := range dz.Entries {
				if len(x.Piece.Body) > 0 {
					fresh++
				}
			}
			if fresh*2 > dz.Count() {
				t.Errorf("step %d: a patch of the chain view renders %d pieces of %d slots", step, fresh, dz.Count())
			}
		}
		e, inc = ne, next
		answered, must := xdpMatchesEngine(t, l, e, step, interoptest.DenialCorpus(t, e, int64(step)))
		if err := l.CheckTemplateViews(); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if _, zones := l.LiveUse(); zones != 1 {
			t.Fatalf("step %d: %d denial zones live, want the one", step, zones)
		}
		// A patched zone keeps the chunks of the zone it patched
		// until their garbage is too much: none leaks, none is
		// freed twice.
		kept := checkRoom(t, l, step)
		inPlace += st.PatchesInPlace
		mostKept = max(mostKept, kept)
		if kept < lastKept {
			compacted++
		}
		lastKept = kept
		t.Logf("step %d: %d names rendered; %d denial zones written, %d names, %d answers; %d of %d corpus queries answered in XDP (%d must)",
			step, len(d.Image.Names), st.DenialZones, st.NamesChanged+st.NamesAdded, st.AnswersChanged, answered,
			answered, must)
	}
	t.Logf("the zone kept up to %d runs of chunks, written again %d times; %d patches written in place", mostKept, compacted,
		inPlace)
	if inPlace < 2 {
		t.Errorf("%d patches written in place in the spare room", inPlace)
	}
	// An opt-out zone's insecure delegations read their covers from the
	// view: one moved changes the name's entry alone (Delta.Covers).
	if kind == zonegen.NSEC3OptOut && covers == 0 {
		t.Error("no name's cover written alone")
	}
	if mostKept < 2 || compacted == 0 {
		t.Errorf("the zone kept up to %d runs of chunks, written again %d times: want both ways taken", mostKept, compacted)
	}
	if replaced < 8 || patches < replaced {
		t.Errorf("the chain view was given new content %d times in 12 changes of the chain, %d of them as patches", replaced, patches)
	}
}

// TestNSECUpdates is the incremental path end to end on an NSEC-signed
// zone (zonegen: delegations, DS, glue, wildcards, empty non-terminals,
// CNAMEs come and go, a new serial every other step): each change that
// render.Recompile renders alone (the NSEC views it reaches built again
// whole) is written with UpdatePartial, which gives the live views of the
// same names their new content in place, adds the views of new closest
// encloser and frees those no answer reads any longer. After each step
// every query of the denial corpus and a DO=1 query of every name must
// get the engine's bytes from the program when it answers them (and those
// it must answer answered), and the maps must hold the whole compile's
// views, no more.
func TestNSECUpdates(t *testing.T) {
	requireRoot(t)
	m := zonegen.New(t, 23)
	e, l, inc := loadVersion(t, m.Signed(zonegen.NSEC))
	alone, replaced := 0, 0
	for step := 1; step <= 16; step++ {
		m.Change()
		if step%2 == 0 {
			m.Bump()
		}
		ne := interoptest.GenEngine(t, interop.EngineConfig, m.Signed(zonegen.NSEC))
		full, err := render.Compile(ne)
		if err != nil {
			t.Fatal(err)
		}
		d, st, next := takeVersion(t, l, inc, e, ne, full, step)
		if d == nil {
			e, inc = ne, next
			continue
		}
		alone++
		replaced += st.DenialZones
		e, inc = ne, next
		queries := interoptest.DenialCorpus(t, e, int64(step))
		e.Zones().Zones()[0].ForEachNode(func(n *zone.Node) {
			for _, qt := range []uint16{dns.TypeA, dns.TypeTXT, dns.TypeDS} {
				q := new(dns.Msg)
				q.SetQuestion(wire.String(n.Name.Lower()), qt)
				q.SetEdns0(1232, true)
				pkt, err := q.Pack()
				if err != nil {
					t.Fatal(err)
				}
				queries = append(queries, interoptest.DenialQuery{Name: q.Question[0].Name + " " + dns.TypeToString[qt], Packet: pkt})
			}
		})
		answered, must := xdpMatchesEngine(t, l, e, step, queries)
		checkViews(t, l, full, step)
		t.Logf("step %d: %d names rendered, %d views in the change; %d denial zones written; %d of %d queries answered in XDP (%d must)",
			step, len(d.Image.Names), len(d.Image.Denial)-1, st.DenialZones, answered, len(queries), must)
	}
	if alone < 8 || replaced < 4 {
		t.Errorf("%d of 16 changes rendered alone, %d views written: want most changes alone, views given new content", alone, replaced)
	}
}

// TestNSECPatchUpdates is the incremental path end to end on an NSEC TLD
// whose apex view is laid out with holes (render.NSECPatchMin, lowered
// here to 8): each change of its delegations (DS and delegations come and
// go, some added in one place so that entries move, a new serial every
// other step) is a patch of the live view, written
// in its spare room by UpdatePartial; after each, every query of the
// denial corpus and every DS query at a delegation gets the engine's bytes
// from the program when it answers them, and the maps hold the whole
// compile's views, with no chunk or entry leaked.
func TestNSECPatchUpdates(t *testing.T) {
	requireRoot(t)
	defer func(p int) { render.NSECPatchMin = p }(render.NSECPatchMin)
	render.NSECPatchMin = 8
	m := zonegen.New(t, 29)
	m.AddDelegations(300)
	e, l, inc := loadVersion(t, m.Signed(zonegen.NSEC))
	patches := 0
	for step := 1; step <= 10; step++ {
		m.ChangeDelegations(300)
		for i := range 6 {
			// Between t1K and t1K0: more than the holes there take, the
			// entries after move (their delegations' places, Delta.Covers).
			m.Add(fmt.Sprintf("t1%d-%d NS ns1.example.net.", step, i))
		}
		if step%2 == 0 {
			m.Bump()
		}
		ne := interoptest.GenEngine(t, interop.EngineConfig, m.Signed(zonegen.NSEC))
		d, st, next := takeVersion(t, l, inc, e, ne, nil, step)
		if d == nil {
			t.Fatalf("step %d: compiled whole", step)
		}
		for _, dz := range d.Image.Denial {
			if dz != nil && dz.Patch {
				patches++
			}
		}
		e, inc = ne, next
		queries := interoptest.DenialCorpus(t, e, int64(step))
		answered, must := xdpMatchesEngine(t, l, e, step, queries)
		full, err := render.Compile(e)
		if err != nil {
			t.Fatal(err)
		}
		checkViews(t, l, full, step)
		t.Logf("step %d: %d names rendered; %d denial zones written; %d of %d queries answered in XDP (%d must)",
			step, len(d.Image.Names), st.DenialZones, answered, len(queries), must)
	}
	if patches < 8 {
		t.Errorf("%d of 10 changes patched the apex's view", patches)
	}
}

// TestNSECViewGrows: names added where an NSEC TLD's apex view has no
// holes left (they sort last: zzK) grow the view at every change; with
// the room of the denial entries as tight as a TLD's and the zone given
// its spare room at load, each change must still be a patch written in
// place (each content is given room to grow, loader.ContentRoom: the
// room one leaves takes the one after next), no ErrNoUpdate.
func TestNSECViewGrows(t *testing.T) {
	requireRoot(t)
	defer func(p int) { render.NSECPatchMin = p }(render.NSECPatchMin)
	render.NSECPatchMin = 8
	defer loader.SetDenialSlack(32)()
	m := zonegen.New(t, 37)
	m.AddDelegations(3000) // the apex's view: 4500 slots, a spare room at load (spareMin)
	e, l, inc := loadVersion(t, m.Signed(zonegen.NSEC))
	inPlace := 0
	for step := 1; step <= 8; step++ {
		for i := range 3 {
			m.Add(fmt.Sprintf("zz%d-%d NS ns1.example.net.", step, i))
		}
		ne := interoptest.GenEngine(t, interop.EngineConfig, m.Signed(zonegen.NSEC))
		d, st, next := takeVersion(t, l, inc, e, ne, nil, step)
		if d == nil {
			t.Fatalf("step %d: compiled whole", step)
		}
		inPlace += st.PatchesInPlace
		e, inc = ne, next
		xdpMatchesEngine(t, l, e, step, interoptest.DenialCorpus(t, e, int64(step)))
		checkRoom(t, l, step)
	}
	if inPlace < 7 {
		t.Errorf("%d of 8 patches written in place", inPlace)
	}
}

// TestOptOutApexUpdates: in an NSEC3 opt-out TLD (its insecure
// delegations most of it), a change of the apex's NSEC3 record (a type
// added at the apex, with a new serial or without) is rendered alone —
// the shared templates holding it (the insecure delegations' referrals
// and DS NODATA) rewritten in place — and written with UpdatePartial;
// every query of the denial corpus then gets the engine's bytes from the
// program when it answers them.
func TestOptOutApexUpdates(t *testing.T) {
	requireRoot(t)
	m := zonegen.New(t, 41)
	m.AddDelegations(2000)
	e, l, inc := loadVersion(t, m.Signed(zonegen.NSEC3OptOut))
	for step, add := range []string{"@ SSHFP 1 1 0123456789abcdef0123456789abcdef01234567", `@ HINFO "a" "b"`, ""} {
		if add != "" {
			m.Add(add)
		}
		if step > 0 {
			m.Bump()
		}
		ne := interoptest.GenEngine(t, interop.EngineConfig, m.Signed(zonegen.NSEC3OptOut))
		d, st, next := takeVersion(t, l, inc, e, ne, nil, step+1)
		if d == nil {
			t.Fatalf("step %d: compiled whole", step+1)
		}
		if len(d.Rewrites) == 0 || st.InPlace == 0 {
			t.Fatalf("step %d: %d rewrites, %d templates rewritten in place: want the apex NSEC3's holders", step+1, len(d.Rewrites), st.InPlace)
		}
		if st.InPlace > len(d.Rewrites)*3/2+4 {
			// The contents rewritten are named in the change, not placed
			// as shared templates of their own (a TLD's thousand rewrites
			// would fill the room); a few more shared templates may be
			// rewritten for their users' entries all moving to one.
			t.Fatalf("step %d: %d shared templates written for %d rewrites", step+1, st.InPlace, len(d.Rewrites))
		}
		e, inc = ne, next
		answered, must := xdpMatchesEngine(t, l, e, step+1, interoptest.DenialCorpus(t, e, int64(step)))
		full, err := render.Compile(e)
		if err != nil {
			t.Fatal(err)
		}
		checkViews(t, l, full, step+1)
		t.Logf("step %d: %d names rendered, %d shared templates rewritten in place; %d queries answered in XDP (%d must)",
			step+1, len(d.Image.Names), st.InPlace, answered, must)
	}
}

// TestRewrittenContentRead: a change whose entries read a content one of
// its rewrites replaces (which the loader does not place) is refused, not
// written with the entry reading nothing; the change as made is written
// after it.
func TestRewrittenContentRead(t *testing.T) {
	requireRoot(t)
	m := zonegen.New(t, 47)
	m.AddDelegations(60)
	e, l, inc := loadVersion(t, m.Signed(zonegen.NSEC3OptOut))
	m.Add("@ SSHFP 1 1 0123456789abcdef0123456789abcdef01234567")
	m.Bump()
	ne := interoptest.GenEngine(t, interop.EngineConfig, m.Signed(zonegen.NSEC3OptOut))
	d, _, err := render.Recompile(inc, e, ne, nil)
	if err != nil || len(d.Rewrites) == 0 {
		t.Fatalf("the change: %v, %d rewrites", err, len(d.Rewrites))
	}
	var h render.NameHash
	var ent render.NameEntry
	for h, ent = range d.Image.Names {
		break
	}
	bad := *d
	bad.Image = &render.Image{Names: map[render.NameHash]render.NameEntry{}, Answers: d.Image.Answers, Templates: d.Image.Templates,
		Denial: d.Image.Denial, Stats: d.Image.Stats}
	for k, v := range d.Image.Names {
		bad.Image.Names[k] = v
	}
	ent.ExactDefault[0] = d.Rewrites[0].Old
	bad.Image.Names[h] = ent
	if _, err := l.UpdatePartial(hotpath.DeltaFromRender(&bad)); !errors.Is(err, loader.ErrImage) {
		t.Fatalf("an entry reading a rewritten content: %v, want ErrImage", err)
	}
	if st, err := l.UpdatePartial(hotpath.DeltaFromRender(d)); err != nil || st.Unsettled != nil {
		t.Fatalf("the change as made, after: %v %v", err, st.Unsettled)
	}
	xdpMatchesEngine(t, l, ne, 1, interoptest.DenialCorpus(t, ne, 1))
}
