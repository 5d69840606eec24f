//go:build linux

package loader_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/xdpdns/xdpdns/bpf"
)

// BenchmarkBuildNames builds the names table of a TLD's 1.2M names (the
// map created, filled and freed), from keys in the image's order (by
// hash): the restart's largest table. Needs root (BPF maps).
func BenchmarkBuildNames(b *testing.B) {
	e := reachZone(b, []string{"a.reach.test."})
	l := load(b, e, nil)
	rng := rand.New(rand.NewPCG(7, 9))
	keys := make([]bpf.XdpNameKey, 1200000)
	for i := range keys {
		keys[i] = bpf.XdpNameKey{H1: rng.Uint64() | 1, H2: rng.Uint64()}
	}
	slices.SortFunc(keys, func(a, b bpf.XdpNameKey) int {
		if a.H1 != b.H1 {
			if a.H1 < b.H1 {
				return -1
			}
			return 1
		}
		return 0
	})
	vals := make([]bpf.XdpNameVer, len(keys))
	k, v := slices.Clone(keys), slices.Clone(vals)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		copy(k, keys)
		copy(v, vals)
		b.StartTimer()
		if err := l.BuildNamesOnly(k, v, 0x5eed); err != nil {
			b.Fatal(err)
		}
	}
}
