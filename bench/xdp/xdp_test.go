//go:build linux

package xdp

import (
	"os"
	"sync"
	"testing"

	"github.com/cilium/ebpf"
)

// The Go benchmarks use a smaller zone than the command (bench/cmd/xdpbench)
// so that `go test -bench` starts quickly.
const (
	benchDelegations = 10000
	benchQueries     = 2000
)

var (
	setupOnce sync.Once
	setup     *Setup
	setupErr  error
)

func getSetup(tb testing.TB) *Setup {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root (CAP_BPF, BPF_ENABLE_STATS)")
	}
	setupOnce.Do(func() {
		setup, setupErr = NewSetup(SetupOptions{Delegations: benchDelegations, Queries: benchQueries})
		if setupErr == nil {
			setupErr = setup.Verify()
		}
	})
	if setupErr != nil {
		tb.Fatal(setupErr)
	}
	return setup
}

func TestMain(m *testing.M) {
	code := m.Run()
	if setup != nil {
		setup.Close()
	}
	os.Exit(code)
}

// TestVerify checks that every benchmark frame gets the engine's answer
// from the kernel (or is passed where the class says so), and that a short
// measurement gives figures.
func TestVerify(t *testing.T) {
	s := getSetup(t)
	res, err := s.Measure(MeasureOptions{Rounds: 1, Repeat: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.XDPStats <= 0 || r.ReflStats <= 0 || r.XDPRun <= 0 || r.ReflRepeat <= 0 {
			t.Errorf("%s: empty figures %+v", r.Class.Name, r)
		}
		t.Logf("%-18s xdpdns %6.1f ns  reflector %5.1f ns  empty %5.1f ns  (bpf_stats)", r.Class.Name, r.XDPStats, r.ReflStats, r.EmptyStats)
	}
}

// BenchmarkXDP runs each class's frames once each (repeat 1) through the
// XDP program, and the reflector on the same frames; ns/op is the kernel's
// BPF statistics (run_time_ns / run_cnt), testrun-ns/op the duration
// BPF_PROG_TEST_RUN reports.
func BenchmarkXDP(b *testing.B) {
	s := getSetup(b)
	for _, c := range s.Classes {
		b.Run(c.Name, func(b *testing.B) { benchProg(b, c.Target.Loader.Program(), c.Frames) })
		b.Run(c.Name+"/reflector", func(b *testing.B) { benchProg(b, s.Reflector, c.Frames) })
	}
}

func benchProg(b *testing.B, p *ebpf.Program, frames [][]byte) {
	before, err := p.Stats()
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	i := 0
	for b.Loop() {
		_, d, err := p.Benchmark(frames[i%len(frames)], 1, nil)
		if err != nil {
			b.Fatal(err)
		}
		total += int64(d)
		i++
	}
	after, err := p.Stats()
	if err != nil {
		b.Fatal(err)
	}
	if n := after.RunCount - before.RunCount; n > 0 {
		b.ReportMetric(float64(after.Runtime-before.Runtime)/float64(n), "ns/op")
		b.ReportMetric(float64(total)/float64(i), "testrun-ns/op")
	}
}
