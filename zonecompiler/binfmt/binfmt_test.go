package binfmt

import (
	"bytes"
	"testing"
)

// TestArena: copies read back as given, independent of their source and
// of one another; a few small strings take a small block, many take
// blocks growing to ArenaBlock; a long string gets its own allocation;
// nil stays nil.
func TestArena(t *testing.T) {
	var a Arena
	src := []byte("\x03www\x07example\x00")
	c := a.Copy(src)
	src[1] = 'X'
	if string(c) != "\x03www\x07example\x00" || cap(c) != len(c) {
		t.Fatalf("copy %q (cap %d)", c, cap(c))
	}
	if a.block != minArenaBlock {
		t.Fatalf("first block %d bytes, want %d", a.block, minArenaBlock)
	}
	var all [][]byte
	for i := range 100000 {
		b := bytes.Repeat([]byte{byte(i)}, 1+i%40)
		all = append(all, a.Copy(b))
	}
	if a.block != ArenaBlock {
		t.Fatalf("block %d bytes after 2 MB of strings, want %d", a.block, ArenaBlock)
	}
	for i, b := range all {
		if len(b) != 1+i%40 || b[0] != byte(i) || b[len(b)-1] != byte(i) {
			t.Fatalf("copy %d reads back as %v", i, b)
		}
	}
	long := make([]byte, ArenaBlock/4+1)
	if lc := a.Copy(long); &lc[0] == &long[0] || len(lc) != len(long) || cap(a.free) > ArenaBlock {
		t.Fatal("a long string is not copied alone")
	}
	if a.Copy(nil) != nil {
		t.Fatal("nil copied as non-nil")
	}
}
