package loader

import "sort"

// runs allocates runs of consecutive indexes of an array map below a
// capacity. Short runs (templates' chunks, ids) are reused by runs of the
// same length; long runs (a denial zone's entries and pieces) are kept
// sorted and merged with their free neighbours, so that a zone rewritten
// one entry longer fits where the old one was; otherwise the next unused
// index is taken. Allocations made since begin can be given back with
// rollback, so a failed Update leaves nothing behind. takeTop takes a run
// from the top of the unused indexes instead (a zone's spare room: the
// rooms of its two contents then lie apart, the unused run between them,
// so that either freed joins it).
type runs struct {
	// next .. cap-1 are unused; cap .. limit-1 were taken by takeTop
	// (some freed again, in long).
	next, cap, limit uint32
	short            map[uint32][]uint32 // start indexes of free short runs, by length
	long             []run               // free long runs, by start, none adjacent
	journal          []run               // allocations since begin
}

type run struct{ start, n uint32 }

// longRun is the shortest run kept in runs.long.
const longRun = 64

func newRuns(used, capacity uint32) *runs {
	return &runs{next: used, cap: capacity, limit: capacity, short: make(map[uint32][]uint32)}
}

// alloc returns the start of a free run of n indexes (n 0: 0, always
// possible), or false when there is no room.
func (r *runs) alloc(n uint32) (uint32, bool) {
	if n == 0 {
		return 0, true
	}
	s, ok := r.take(n)
	if ok {
		r.journal = append(r.journal, run{s, n})
	}
	return s, ok
}

func (r *runs) take(n uint32) (uint32, bool) {
	if n < longRun {
		if l := r.short[n]; len(l) > 0 {
			r.short[n] = l[:len(l)-1]
			return l[len(l)-1], true
		}
	} else {
		for i, f := range r.long {
			if f.n >= n {
				if f.n == n {
					r.long = append(r.long[:i], r.long[i+1:]...)
				} else {
					r.long[i] = run{f.start + n, f.n - n}
				}
				return f.start, true
			}
		}
	}
	if r.cap-r.next < n {
		return 0, false
	}
	s := r.next
	r.next += n
	return s, true
}

// takeTop returns the start of the last n unused indexes (not
// journaled), or false when fewer are unused.
func (r *runs) takeTop(n uint32) (uint32, bool) {
	if n == 0 || r.cap-r.next < n {
		return 0, n == 0
	}
	r.cap -= n
	return r.cap, true
}

// release makes a run free again.
func (r *runs) release(start, n uint32) {
	if n == 0 {
		return
	}
	if start == r.cap {
		// The lowest run takeTop gave: unused again, with the freed
		// ones above it.
		r.cap += n
		k := sort.Search(len(r.long), func(k int) bool { return r.long[k].start >= r.cap })
		if k < len(r.long) && r.long[k].start == r.cap {
			r.cap += r.long[k].n
			r.long = append(r.long[:k], r.long[k+1:]...)
		}
		return
	}
	if start+n == r.next {
		r.next = start
		r.joinNext()
		return
	}
	if n < longRun && start < r.cap {
		r.short[n] = append(r.short[n], start)
		return
	}
	i := sort.Search(len(r.long), func(i int) bool { return r.long[i].start > start })
	r.long = append(r.long, run{})
	copy(r.long[i+1:], r.long[i:])
	r.long[i] = run{start, n}
	if i+1 < len(r.long) && r.long[i].start+r.long[i].n == r.long[i+1].start {
		r.long[i].n += r.long[i+1].n
		r.long = append(r.long[:i+1], r.long[i+2:]...)
	}
	if i > 0 && r.long[i-1].start+r.long[i-1].n == r.long[i].start {
		r.long[i-1].n += r.long[i].n
		r.long = append(r.long[:i], r.long[i+1:]...)
	}
	r.joinNext()
}

// joinNext makes the free long run just below the unused indexes, if
// any, unused (runs above cap are after it in long).
func (r *runs) joinNext() {
	k := sort.Search(len(r.long), func(k int) bool { return r.long[k].start >= r.next }) - 1
	if k >= 0 && r.long[k].start+r.long[k].n == r.next {
		r.next = r.long[k].start
		r.long = append(r.long[:k], r.long[k+1:]...)
	}
}

// begin starts a journal of allocations.
func (r *runs) begin() { r.journal = r.journal[:0] }

// rollback frees every run allocated since begin.
func (r *runs) rollback() {
	for i := len(r.journal) - 1; i >= 0; i-- {
		r.release(r.journal[i].start, r.journal[i].n)
	}
	r.journal = r.journal[:0]
}

// largestFree is the longest run alloc can give (short free runs left
// out).
func (r *runs) largestFree() uint32 {
	// (Runs above cap too: long holds the freed ones.)
	n := r.cap - r.next
	for _, f := range r.long {
		n = max(n, f.n)
	}
	return n
}
