package testsupport

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// testSupport lists the packages of the module that are test support by
// design and may import testing: they take a testing.TB, and only
// _test.go files (or, for e2e, its own tests) use them.
var testSupport = map[string]string{
	"github.com/xdpdns/xdpdns/internal/testsupport":            "example zones, files, daemon configuration",
	"github.com/xdpdns/xdpdns/internal/testsupport/daemontest": "starting a daemon",
	"github.com/xdpdns/xdpdns/internal/testsupport/netnstest":  "network namespaces: making them, running commands and code in them",
	"github.com/xdpdns/xdpdns/internal/testsupport/zonegen":    "random signed zones and their changes",
	"github.com/xdpdns/xdpdns/internal/manpage":                "man pages rendered and checked by the tests of their sources",
	"github.com/xdpdns/xdpdns/interop/interoptest":             "reference servers and signed test zones",
	"github.com/xdpdns/xdpdns/e2e":                             "the end-to-end tests' rig; the package holds only those tests",
}

// TestProductionImportsNoTesting fails when a non-test package of the
// module, outside testSupport, depends on package testing (directly or
// through another package).
func TestProductionImportsNoTesting(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goBin, "list", "-test=false",
		"-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "github.com/xdpdns/xdpdns/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkgs++
		if _, ok := testSupport[f[0]]; ok {
			continue
		}
		for _, dep := range f[1:] {
			if dep == "testing" {
				t.Errorf("%s depends on package testing; production code must not (test support belongs in internal/testsupport or a _test.go file)", f[0])
			}
		}
	}
	if pkgs < 20 {
		t.Fatalf("go list named only %d packages:\n%s", pkgs, out)
	}
}
