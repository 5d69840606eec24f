package render

import "testing"

func TestSuffixHashes(t *testing.T) {
	name := []byte("\x03www\x07example\x03com\x00")
	got := SuffixHashes(name, nil)
	want := []NameHash{HashName([]byte{0}), HashName([]byte("\x03com\x00")),
		HashName([]byte("\x07example\x03com\x00")), HashName(name)}
	if len(got) != len(want) {
		t.Fatalf("%d suffixes, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("suffix %d: %x, want %x", i, got[i], want[i])
		}
	}
	if HashName([]byte("\x03com\x00")) == HashName([]byte("\x03net\x00")) {
		t.Error("different names hash alike")
	}
}
