// Package interop compares xdpdns's answers with those of the reference
// name servers (NSD and Knot DNS): the query corpus, the comparison, the
// allowed differences with their reasons, and the resolver cases a
// validating Unbound must get. It imports no testing: bench/cmd/anscmp
// uses it. Starting throw-away servers and preparing the signed test
// zones is test support, in interop/interoptest; the tests live in
// *_test.go.
package interop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Zone is one zone file served under an origin.
type Zone struct {
	Origin string // fully qualified, e.g. "example.test."
	Path   string
}

// Server is a running name server instance on loopback.
type Server struct {
	// Control is the server's control socket (knotc -s), when it has one.
	Control string
	Name    string // "xdpdns", "nsd", "knot", "unbound"
	Addr    string // 127.0.0.1:port, UDP and TCP
	Log     string // path of the file holding its stdout and stderr
}

// Identity is what every server under test is told to call itself, so that
// CHAOS and NSID answers can be compared like any other.
const (
	Identity = "interop.test"
	NSID     = "interop"
)

// BuildXdpdns builds cmd/xdpdnsd into dir.
func BuildXdpdns(dir string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	out := filepath.Join(dir, "xdpdnsd")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, "./cmd/xdpdnsd")
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/xdpdnsd: %w\n%s", err, msg)
	}
	return out, nil
}

// RepoRoot finds the module root above the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// TestdataZones returns the hand-written zone files.
func TestdataZones() (parent, child Zone, err error) {
	root, err := RepoRoot()
	if err != nil {
		return Zone{}, Zone{}, err
	}
	dir := filepath.Join(root, "testdata", "zones")
	return Zone{Origin: "example.test.", Path: filepath.Join(dir, "example.test.zone")},
		Zone{Origin: "sub2.example.test.", Path: filepath.Join(dir, "sub2.example.test.zone")},
		nil
}
