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
