//go:build linux

package bpf

import (
	"errors"
	"os"
	"testing"

	"github.com/cilium/ebpf"
)

// TestVerifier loads the program into the running kernel: the verifier
// must accept it.
func TestVerifier(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_BPF)")
	}
	var objs XdpObjects
	level := ebpf.LogLevelStats
	if os.Getenv("XDPDNS_VERIFIER_LOG") != "" {
		level |= ebpf.LogLevelInstruction
	}
	err := LoadXdpObjects(&objs, &ebpf.CollectionOptions{Programs: ebpf.ProgramOptions{LogLevel: level}})
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			t.Fatalf("verifier: %+v", ve)
		}
		t.Fatal(err)
	}
	defer objs.Close()
	t.Logf("verifier, xdpdns: %s", objs.Xdpdns.VerifierLog)
	t.Logf("verifier, xdpdns_tc: %s", objs.XdpdnsTc.VerifierLog)
}
