//go:build linux

package loader

import (
	"hash/maphash"
	"testing"
)

// TestHasherStreams: an input streamed in pieces (spill) sums as the same
// bytes hashed at once, and the buffer stays near hashPiece; a short input
// after a long one sums as itself.
func TestHasherStreams(t *testing.T) {
	h := newHasher()
	var all []byte
	h.reset()
	for i := range 40000 {
		h.u64(uint64(i) * 0x9e3779b97f4a7c15)
		all = append(all, h.buf[len(h.buf)-8:]...)
		h.spill()
		if cap(h.buf) > 2*hashPiece {
			t.Fatalf("buffer of %d bytes after %d of input", cap(h.buf), len(all))
		}
	}
	want := contentHash{maphash.Bytes(h.seeds[0], all), maphash.Bytes(h.seeds[1], all)}
	if got := h.sum(); !h.streamed || got != want {
		t.Fatalf("streamed %v: %x, want %x", h.streamed, got, want)
	}
	h.reset()
	h.u32(7)
	if got, want := h.sum(), (contentHash{maphash.Bytes(h.seeds[0], h.buf), maphash.Bytes(h.seeds[1], h.buf)}); got != want || h.streamed {
		t.Fatalf("short input after a long one: %x, want %x", got, want)
	}
}
