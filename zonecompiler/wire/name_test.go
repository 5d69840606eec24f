package wire

import (
	"bytes"
	"testing"
	"unsafe"
)

// TestPacked: a packed name reads back as the name it was made from, in
// 16 bytes; it shares the bytes when the lower-case form is the name
// itself or follows it, and holds a copy of both otherwise (the name it
// came from may then be reused); the zero Packed is the nil name; a
// name longer than MaxNameLen is refused.
func TestPacked(t *testing.T) {
	if n := unsafe.Sizeof(Packed{}); n != 16 {
		t.Fatalf("Packed is %d bytes, want 16", n)
	}
	lower := []byte("\x03www\x07example\x00")
	mixed := []byte("\x03WwW\x07Example\x00")
	check := func(what string, p Packed, w []byte) {
		t.Helper()
		if !bytes.Equal(p.Wire(), w) || !bytes.Equal(p.Lower(), ToLower(w)) {
			t.Fatalf("%s: wire %q lower %q, want %q %q", what, p.Wire(), p.Lower(), w, ToLower(w))
		}
		if n := p.Name(); !bytes.Equal(n.Wire, w) || !bytes.Equal(n.Lower, ToLower(w)) {
			t.Fatalf("%s: Name() %q %q", what, n.Wire, n.Lower)
		}
	}
	p := Pack(NewName(lower))
	check("lower case", p, lower)
	if &p.Wire()[0] != &lower[0] || &p.Lower()[0] != &lower[0] {
		t.Fatal("a lower-case name is copied")
	}
	both := append(append([]byte{}, mixed...), ToLower(mixed)...)
	p = Pack(Name{Wire: both[:len(mixed)], Lower: both[len(mixed):]})
	check("lower case following", p, mixed)
	if &p.Wire()[0] != &both[0] {
		t.Fatal("a lower-case form following the name is copied")
	}
	src := append([]byte{}, mixed...)
	p = Pack(NewName(src))
	src[1] = 'X'
	check("mixed case apart", p, mixed)
	p = NewPacked(append([]byte{}, mixed...))
	check("NewPacked", p, mixed)
	if z := (Packed{}); z.Wire() != nil || z.Lower() != nil || NewPacked(nil) != z {
		t.Fatal("the zero Packed is not the nil name")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a name of 256 bytes was packed")
		}
	}()
	long := make([]byte, MaxNameLen+1)
	Pack(Name{Wire: long, Lower: long})
}
