//go:build linux

package bpf

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/cilium/ebpf"
)

// maxVerified bounds the instructions the verifier may process per
// program: the kernel's limit is 1,000,000, and a program near it fails to
// load on a kernel whose verifier explores a little more (older pruning,
// other helper models). A change that crosses it must make the program
// cheaper to verify (bpf_loop callbacks, fewer paths), not raise it.
const maxVerified = 850_000

// TestVerifierHeadroom loads both programs with verifier statistics and
// fails when either comes near the kernel's limit.
func TestVerifierHeadroom(t *testing.T) {
	spec, err := LoadXdp()
	if err != nil {
		t.Fatal(err)
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{Programs: ebpf.ProgramOptions{LogLevel: ebpf.LogLevelStats}})
	if err != nil {
		t.Skipf("loading the programs needs CAP_BPF: %v", err)
	}
	defer coll.Close()
	re := regexp.MustCompile(`processed (\d+) insns`)
	for name, p := range coll.Programs {
		m := re.FindStringSubmatch(p.VerifierLog)
		if m == nil {
			t.Errorf("%s: no verifier statistics in its log", name)
			continue
		}
		n, _ := strconv.Atoi(m[1])
		t.Logf("%s: the verifier processed %d instructions (limit 1000000)", name, n)
		if n > maxVerified {
			t.Errorf("%s: the verifier processed %d instructions, over %d: too close to the kernel's limit", name, n, maxVerified)
		}
	}
}
