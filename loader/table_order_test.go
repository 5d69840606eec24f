//go:build linux

package loader

import (
	"math/rand/v2"
	"testing"

	"github.com/xdpdns/xdpdns/bpf"
)

// TestOrderByHome: orderByHome leaves every key with its value, each key
// once, the keys' homes ascending by part of the table (homeBuckets of
// them) — for tables smaller and larger than homeBuckets slots.
func TestOrderByHome(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for _, n := range []int{0, 1, 100, 5000, 200000} {
		tb := &nameTable{kind: nameSlots, n: uint32(tableSlots(n)), seed: rng.Uint64()}
		keys := make([]bpf.XdpNameKey, n)
		vals := make([]bpf.XdpNameVer, n)
		want := map[bpf.XdpNameKey]uint32{}
		for i := range keys {
			keys[i] = bpf.XdpNameKey{H1: rng.Uint64(), H2: rng.Uint64()}
			vals[i].Flags = uint32(i)
			want[keys[i]] = uint32(i)
		}
		tb.orderByHome(keys, vals)
		last := -1
		for i, k := range keys {
			if f, ok := want[k]; !ok || f != vals[i].Flags {
				t.Fatalf("%d keys: key %d %x with value %d, want %d (present %v)", n, i, k, vals[i].Flags, f, ok)
			}
			delete(want, k)
			b := int(uint64(tb.home(k)) * homeBuckets / uint64(tb.n))
			if b < last {
				t.Fatalf("%d keys: key %d in part %d after part %d", n, i, b, last)
			}
			last = b
		}
		if len(want) != 0 {
			t.Fatalf("%d keys: %d lost", n, len(want))
		}
	}
}
