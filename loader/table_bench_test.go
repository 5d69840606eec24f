//go:build linux

package loader_test

import (
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
	keys := randomNameKeys(1200000)
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
