package abi

import (
	"fmt"
	"testing"
)

// TestNameFilter: every name the filter is built from is in it (the walk
// would otherwise miss an existing name), it has the bits per name the ABI
// says, and names it was not built from are mostly out of it.
func TestNameFilter(t *testing.T) {
	var names []NameHash
	for i := 0; i < 10000; i++ {
		names = append(names, HashName([]byte(fmt.Sprintf("\x05d%04d\x03tld\x00", i))))
	}
	f := NameFilter(names)
	if bits := uint64(len(f)-1) * 64; bits < uint64(len(names))*FilterBitsPerName || bits != 1<<(64-f[0]) {
		t.Fatalf("%d bits for %d names, shift %d", bits, len(names), f[0])
	}
	for i, h := range names {
		if !FilterHas(f, h) {
			t.Fatalf("name %d is not in the filter", i)
		}
	}
	fp := 0
	for i := 0; i < 10000; i++ {
		if FilterHas(f, HashName([]byte(fmt.Sprintf("\x06nx%04d\x03tld\x00", i)))) {
			fp++
		}
	}
	// One hash, 8 to 16 bits per name: at most ~12% false positives.
	if fp > 1500 {
		t.Errorf("%d of 10000 absent names pass the filter", fp)
	}
	if !FilterHas(nil, names[0]) {
		t.Error("no filter must let every name through")
	}
}
