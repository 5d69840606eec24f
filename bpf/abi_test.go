//go:build linux

package bpf

import (
	"testing"

	"github.com/xdpdns/xdpdns/bpf/abi"
)

// TestABIAgrees checks that the two generated views of shared.h — bpf2go's
// struct types, which the loader fills, and abigen's package abi — say the
// same, and that the compiled object's counters map is sized by the ABI.
func TestABIAgrees(t *testing.T) {
	var (
		tm  XdpTmpl
		ch  XdpChunk
		cfg XdpConfig
	)
	for _, c := range []struct {
		what      string
		got, want int
	}{
		{"tmpl.relocs", len(tm.Relocs), abi.InlineRelocs},
		{"chunk.b", len(ch.B), abi.ChunkSize},
		{"config.nsid", len(cfg.Nsid), abi.MaxNSID},
		{"config.ports", len(cfg.Ports), abi.MaxPorts},
	} {
		if c.got != c.want {
			t.Errorf("%s: bpf2go says %d, abi %d", c.what, c.got, c.want)
		}
	}
	spec, err := LoadXdp()
	if err != nil {
		t.Fatal(err)
	}
	if m := spec.Maps[XdpMapCounters]; m == nil || m.MaxEntries != uint32(abi.CounterMax) {
		t.Errorf("counters map %+v, want %d entries", m, abi.CounterMax)
	}
	if len(abi.CounterNames) != int(abi.CounterMax) {
		t.Errorf("%d counter names for %d counters", len(abi.CounterNames), abi.CounterMax)
	}
}
