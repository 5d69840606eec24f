//go:build linux

package loader

import (
	"math/rand/v2"
	"testing"

	"github.com/xdpdns/xdpdns/bpf"
)

// TestApplyPatch: a patch applied in place to a zone's entries (the
// spare room) gives what building the new content apart gives, for
// random order-keeping patches: runs moving down and up, next to each
// other and to new entries.
func TestApplyPatch(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for round := range 2000 {
		n := 1 + r.IntN(40)
		old := make([]bpf.XdpDenialEntry, n)
		for i := range old {
			old[i].FirstChunk = uint32(i) + 1 // tells the entries apart
		}
		// The new content: each slot a new entry or the next old ones,
		// skipping some (removed).
		var rec patchRecord
		var want []bpf.XdpDenialEntry
		from := 0
		for len(want) < 2*n && (from < n || len(want) == 0) {
			switch k := r.IntN(6); {
			case k == 0 || from >= n:
				e := bpf.XdpDenialEntry{FirstChunk: uint32(1000 + len(want))}
				rec.slots = append(rec.slots, uint32(len(want)))
				rec.fresh = append(rec.fresh, e)
				want = append(want, e)
			case k == 1:
				from++ // removed
			default:
				to := uint32(len(want))
				if l := len(rec.runs) - 1; l >= 0 && rec.runs[l].To+rec.runs[l].N == to && rec.runs[l].From+rec.runs[l].N == uint32(from) {
					rec.runs[l].N++
				} else {
					rec.runs = append(rec.runs, PatchRun{To: to, From: uint32(from), N: 1})
				}
				want = append(want, old[from])
				from++
			}
		}
		room := make([]bpf.XdpDenialEntry, max(n, len(want)))
		copy(room, old)
		apart := make([]bpf.XdpDenialEntry, len(want))
		if err := applyPatch(room, room, &rec); err != nil {
			t.Fatal(err)
		}
		if err := applyPatch(apart, old, &rec); err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if room[i] != want[i] || apart[i] != want[i] {
				t.Fatalf("round %d: slot %d holds %d in place and %d apart, want %d (runs %v)", round, i, room[i].FirstChunk,
					apart[i].FirstChunk, want[i].FirstChunk, rec.runs)
			}
		}
	}
}

// TestTrimSpares: spare rooms are kept while the room left takes new
// content for every zone without one, and dropped, stale ones first, then
// the largest, when it does not (a zone then needs new room for its next
// content, which a spare would otherwise hold).
func TestTrimSpares(t *testing.T) {
	// Three zones of 3000, 2000 and 1000 entries laid out from 0.
	mk := func(capacity uint32) *liveState {
		lv := &liveState{entries: newRuns(6000, capacity), index: newRuns(0, 1<<20), views: make([]viewInfo, 4)}
		entry := uint32(0)
		for i, n := range []uint32{3000, 2000, 1000} {
			lv.views[i+1] = viewInfo{entry: entry, nentries: n, entryRoom: n, nindex: 3, live: true}
			entry += n
		}
		return lv
	}
	spare := func(lv *liveState, i int, stale bool) {
		v := &lv.views[i]
		room := patchRoom(v.nentries)
		s, ok := lv.entries.takeTop(room)
		if !ok {
			t.Fatalf("no room for zone %d's spare", i)
		}
		v.spare = &spareRoom{entry: s, room: room, nindex: v.nindex, stale: stale}
	}
	has := func(lv *liveState) (out [4]bool) {
		for i, v := range lv.views {
			out[i] = v.spare != nil
		}
		return out
	}

	// 3200 entries free take zone 1's new content (3063), not beside
	// zone 3's spare (1031).
	lv := mk(9200)
	if !lv.roomForAll() {
		t.Fatal("no room for all without spares")
	}
	spare(lv, 3, false)
	if lv.roomForAll() {
		t.Fatalf("room for all with %d entries free: zone 1 (3000 entries) has no spare", lv.entries.largestFree())
	}
	lv.trimSpares()
	if got := has(lv); got != [4]bool{} || !lv.roomForAll() {
		t.Fatalf("after trimSpares: spares %v, room for all %v", got, lv.roomForAll())
	}

	// With room for them, no spare is dropped.
	lv = mk(20000)
	spare(lv, 1, false)
	spare(lv, 3, true)
	lv.trimSpares()
	if got := has(lv); got != [4]bool{false, true, false, true} {
		t.Fatalf("spares %v kept, want zones 1 and 3's", got)
	}

	// 2006 entries free, zone 2's new content needs 2047: one spare
	// dropped, the stale one, though smaller.
	lv = mk(12500)
	if _, ok := lv.entries.takeTop(400); !ok { // (something else's)
		t.Fatal("no room")
	}
	spare(lv, 1, false)
	spare(lv, 3, true)
	lv.trimSpares()
	if got := has(lv); got != [4]bool{false, true, false, false} || !lv.roomForAll() {
		t.Fatalf("spares %v kept, want zone 1's (zone 3's is stale); room for all %v", got, lv.roomForAll())
	}

	// The same with neither stale: the largest goes.
	lv = mk(12500)
	if _, ok := lv.entries.takeTop(400); !ok {
		t.Fatal("no room")
	}
	spare(lv, 3, false)
	spare(lv, 1, false)
	lv.trimSpares()
	if got := has(lv); got != [4]bool{false, false, false, true} || !lv.roomForAll() {
		t.Fatalf("spares %v kept, want zone 3's; room for all %v", got, lv.roomForAll())
	}
}
