//go:build linux

package e2e

import (
	"fmt"
	"os"
	"testing"
)

// bins are the binaries TestMain built for this run; tests only read it.
var bins Binaries

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "xdpdns-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if os.Geteuid() == 0 {
		if bins, err = BuildBinaries(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
