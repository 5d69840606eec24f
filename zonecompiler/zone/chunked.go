package zone

import "sort"

// chunked is a sorted sequence kept as a list of sorted chunks, so that a
// new zone version can change a few entries of a million-entry sequence
// (the canonical name index, the NSEC and NSEC3 chains, the RRSIG
// expirations) by copying the chunks it touches and the short list of
// chunk headers, never the whole sequence. A chunked is never modified
// once built: edits go through a listEdit, which copies on write.
type chunked[T any] struct {
	chunks [][]T // each sorted and non-empty; together in order
	n      int
}

// Chunk sizes: a chunk is split in two when it grows past maxChunk, and
// a sequence built from a slice is cut into chunks of buildChunk, leaving
// room to grow before the first split (variables for the tests).
var (
	buildChunk = 256
	maxChunk   = 512
)

// chunkedOf wraps the sorted slice s without copying it: the chunks are
// capped sub-slices, so appending to one can never write into s.
func chunkedOf[T any](s []T) chunked[T] {
	c := chunked[T]{n: len(s), chunks: make([][]T, 0, (len(s)+buildChunk-1)/buildChunk)}
	for i := 0; i < len(s); i += buildChunk {
		j := min(i+buildChunk, len(s))
		c.chunks = append(c.chunks, s[i:j:j])
	}
	return c
}

// Len is the number of entries.
func (c *chunked[T]) Len() int { return c.n }

// search returns the chunk and offset of the first entry e with
// cmp(e) >= 0 (cmp orders an entry against the key sought), and whether
// cmp(e) == 0 there; (len(chunks), 0) when every entry is smaller.
func (c *chunked[T]) search(cmp func(T) int) (ci, i int, found bool) {
	ci = sort.Search(len(c.chunks), func(k int) bool {
		ch := c.chunks[k]
		return cmp(ch[len(ch)-1]) >= 0
	})
	if ci == len(c.chunks) {
		return ci, 0, false
	}
	ch := c.chunks[ci]
	i = sort.Search(len(ch), func(k int) bool { return cmp(ch[k]) >= 0 })
	return ci, i, cmp(ch[i]) == 0
}

// before returns the greatest entry smaller than the key, wrapping to
// the last entry when none is (the NSEC and NSEC3 "cover" rule).
func (c *chunked[T]) before(cmp func(T) int) (T, bool) {
	var zero T
	if c.n == 0 {
		return zero, false
	}
	ci, i, _ := c.search(cmp)
	switch {
	case i > 0:
		return c.chunks[ci][i-1], true
	case ci > 0:
		prev := c.chunks[ci-1]
		return prev[len(prev)-1], true
	}
	last := c.chunks[len(c.chunks)-1]
	return last[len(last)-1], true
}

// from calls f for the entries from the first one with cmp(e) >= 0, in
// order, until f returns false.
func (c *chunked[T]) from(cmp func(T) int, f func(T) bool) {
	ci, i, _ := c.search(cmp)
	for ; ci < len(c.chunks); ci, i = ci+1, 0 {
		for _, e := range c.chunks[ci][i:] {
			if !f(e) {
				return
			}
		}
	}
}

// each calls f for every entry in order until f returns false.
func (c *chunked[T]) each(f func(T) bool) {
	for _, ch := range c.chunks {
		for _, e := range ch {
			if !f(e) {
				return
			}
		}
	}
}

// first returns the smallest entry.
func (c *chunked[T]) first() (T, bool) {
	if c.n == 0 {
		var zero T
		return zero, false
	}
	return c.chunks[0][0], true
}

// slice returns the entries as one new slice.
func (c *chunked[T]) slice() []T {
	out := make([]T, 0, c.n)
	for _, ch := range c.chunks {
		out = append(out, ch...)
	}
	return out
}

// listEdit changes a copy of a chunked sequence: the chunk list is copied
// once, a chunk the first time it is written.
type listEdit[T any] struct {
	c     chunked[T]
	owned []bool // owned[k]: chunks[k] was copied by this edit
}

func (c *chunked[T]) edit() *listEdit[T] {
	e := &listEdit[T]{c: chunked[T]{chunks: append([][]T(nil), c.chunks...), n: c.n}}
	e.owned = make([]bool, len(c.chunks))
	return e
}

// own makes chunk ci writable with room for one more entry.
func (e *listEdit[T]) own(ci int) []T {
	if !e.owned[ci] {
		ch := e.c.chunks[ci]
		cp := make([]T, len(ch), len(ch)+len(ch)/4+1)
		copy(cp, ch)
		e.c.chunks[ci] = cp
		e.owned[ci] = true
	}
	return e.c.chunks[ci]
}

// put inserts v at the position of the key (cmp orders an entry against
// v), replacing an equal entry when replace is set, else keeping both
// (a multiset).
func (e *listEdit[T]) put(cmp func(T) int, v T, replace bool) {
	ci, i, found := e.c.search(cmp)
	if found && replace {
		e.own(ci)[i] = v
		return
	}
	e.c.n++
	if len(e.c.chunks) == 0 {
		e.c.chunks, e.owned = [][]T{{v}}, []bool{true}
		return
	}
	if ci == len(e.c.chunks) { // after every entry: append to the last chunk
		ci = len(e.c.chunks) - 1
		i = len(e.c.chunks[ci])
	}
	ch := e.own(ci)
	ch = append(ch, v)
	copy(ch[i+1:], ch[i:])
	ch[i] = v
	e.c.chunks[ci] = ch
	if len(ch) > maxChunk {
		half := len(ch) / 2
		right := append(make([]T, 0, maxChunk), ch[half:]...)
		left := append(make([]T, 0, maxChunk), ch[:half]...)
		e.c.chunks[ci] = left
		e.c.chunks = insertAt(e.c.chunks, ci+1, right)
		e.owned = insertAt(e.owned, ci+1, true)
	}
}

// del removes one entry equal to the key and reports whether there was one.
func (e *listEdit[T]) del(cmp func(T) int) bool {
	ci, i, found := e.c.search(cmp)
	if !found {
		return false
	}
	e.c.n--
	ch := e.own(ci)
	ch = append(ch[:i], ch[i+1:]...)
	if len(ch) == 0 {
		e.c.chunks = append(e.c.chunks[:ci], e.c.chunks[ci+1:]...)
		e.owned = append(e.owned[:ci], e.owned[ci+1:]...)
		return true
	}
	e.c.chunks[ci] = ch
	return true
}

// done returns the edited sequence; the edit must not be used after.
func (e *listEdit[T]) done() chunked[T] { return e.c }

func insertAt[T any](s []T, i int, v T) []T {
	var zero T
	s = append(s, zero)
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}
