package render

import (
	"testing"

	"github.com/xdpdns/xdpdns/bpf/abi"
)

func TestSuffixHashes(t *testing.T) {
	name := []byte("\x03www\x07example\x03com\x00")
	got := SuffixHashes(name, nil)
	want := []NameHash{abi.HashName([]byte{0}), abi.HashName([]byte("\x03com\x00")),
		abi.HashName([]byte("\x07example\x03com\x00")), abi.HashName(name)}
	if len(got) != len(want) {
		t.Fatalf("%d suffixes, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("suffix %d: %x, want %x", i, got[i], want[i])
		}
	}
	if abi.HashName([]byte("\x03com\x00")) == abi.HashName([]byte("\x03net\x00")) {
		t.Error("different names hash alike")
	}
}
