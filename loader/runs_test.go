package loader

import (
	"math/rand/v2"
	"testing"
)

// TestRunsTop allocates, takes from the top and frees runs at random and
// holds the allocator to a model of which indexes are in use: no index
// given twice, every freed one given again when asked, all of them free
// again at the end, and largestFree the longest free run alloc can give.
func TestRunsTop(t *testing.T) {
	const capacity = 4096
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		r := newRuns(100, capacity)
		used := make([]bool, capacity)
		for i := range 100 {
			used[i] = true
		}
		type taken struct{ start, n uint32 }
		var live []taken
		mark := func(s, n uint32, v bool) {
			for i := s; i < s+n; i++ {
				if used[i] == v {
					t.Fatalf("round %d: index %d given twice or freed twice", round, i)
				}
				used[i] = v
			}
		}
		for range 300 {
			switch op := rng.IntN(5); {
			case op <= 1:
				n := uint32(64 + rng.IntN(400))
				if s, ok := r.alloc(n); ok {
					mark(s, n, true)
					live = append(live, taken{s, n})
				}
			case op == 2:
				n := uint32(64 + rng.IntN(400))
				if s, ok := r.takeTop(n); ok {
					if s+n > capacity {
						t.Fatalf("round %d: takeTop gave %d+%d past %d", round, s, n, capacity)
					}
					mark(s, n, true)
					live = append(live, taken{s, n})
				}
			default:
				if len(live) > 0 {
					k := rng.IntN(len(live))
					mark(live[k].start, live[k].n, false)
					r.release(live[k].start, live[k].n)
					live = append(live[:k], live[k+1:]...)
				}
			}
			// The longest free run, and that alloc gives it.
			best, cur := uint32(0), uint32(0)
			for i := range capacity {
				if used[i] {
					cur = 0
				} else {
					cur++
					best = max(best, cur)
				}
			}
			if got := r.largestFree(); got != best && best >= longRun {
				t.Fatalf("round %d: largestFree %d, longest free run %d", round, got, best)
			}
		}
		for _, x := range live {
			r.release(x.start, x.n)
		}
		r.release(0, 100)
		if r.next != 0 || r.cap != capacity || len(r.long) != 0 {
			t.Fatalf("round %d: all freed, yet next %d cap %d, %d free runs listed", round, r.next, r.cap, len(r.long))
		}
	}
}
