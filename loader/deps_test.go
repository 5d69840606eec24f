//go:build linux

package loader_test

import (
	"go/build"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportsOnlyBPF holds the loader to the BPF side: of this module it
// may import packages bpf and bpf/abi (the program and its ABI) and internal/frame (the self-test's frame, a leaf
// that imports nothing of this module) and nothing else, directly or not
// (the zone compiler, control and the daemon sit above it; daemon/hotpath
// joins them).
func TestImportsOnlyBPF(t *testing.T) {
	goTool := filepath.Join(build.Default.GOROOT, "bin", "go")
	cmd := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}", ".")
	cmd.Env = append(cmd.Environ(), "GOOS=linux")
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	const module = "github.com/xdpdns/xdpdns"
	allowed := map[string]bool{module + "/loader": true, module + "/bpf": true, module + "/bpf/abi": true, module + "/internal/frame": true}
	seen := false
	for _, p := range strings.Fields(string(out)) {
		if p != module && !strings.HasPrefix(p, module+"/") {
			continue
		}
		seen = seen || p == module+"/bpf"
		if !allowed[p] {
			t.Errorf("the loader depends on %s; of this module it may import only %s/bpf, %s/bpf/abi and %s/internal/frame", p, module, module, module)
		}
	}
	if !seen {
		t.Errorf("go list -deps does not list %s/bpf: the check lists the wrong package\n%s", module, out)
	}
}
