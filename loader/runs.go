package loader

import "sort"

// runs allocates runs of consecutive indexes of an array map below a
// capacity. Short runs (templates' chunks, ids) are reused by runs of the
// same length; long runs (a denial zone's entries and pieces) are kept
// sorted and merged with their free neighbours, so that a zone rewritten
// one entry longer fits where the old one was; otherwise the next unused
// index is taken. Allocations made since begin can be given back with
// rollback, so a failed Update leaves nothing behind.
type runs struct {
	next, cap uint32
	short     map[uint32][]uint32 // start indexes of free short runs, by length
	long      []run               // free long runs, by start, none adjacent
	journal   []run               // allocations since begin
}

type run struct{ start, n uint32 }

// longRun is the shortest run kept in runs.long.
const longRun = 64

func newRuns(used, capacity uint32) *runs {
	return &runs{next: used, cap: capacity, short: make(map[uint32][]uint32)}
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

// release makes a run free again.
func (r *runs) release(start, n uint32) {
	if n == 0 {
		return
	}
	if n < longRun {
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
	if last := r.long[len(r.long)-1]; last.start+last.n == r.next {
		r.next = last.start
		r.long = r.long[:len(r.long)-1]
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
