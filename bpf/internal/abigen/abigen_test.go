package main

import (
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// parseShared parses the real header.
func parseShared(t *testing.T) *ABI {
	t.Helper()
	src, err := os.ReadFile("../../include/shared.h")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Parse(string(src))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestGeneratedIsCurrent fails when bpf/abi/abi_gen.go or the counter
// table in docs/CONFIG.md is not what shared.h generates: run
// `go generate ./bpf` and commit.
func TestGeneratedIsCurrent(t *testing.T) {
	abi := parseShared(t)
	code, err := GoSource(abi)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile("../../abi/abi_gen.go"); err != nil || string(got) != string(code) {
		t.Errorf("bpf/abi/abi_gen.go is out of date (%v): run go generate ./bpf", err)
	}
	md, err := os.ReadFile("../../../docs/CONFIG.md")
	if err != nil {
		t.Fatal(err)
	}
	if want, err := ReplaceDocTable(string(md), abi); err != nil || want != string(md) {
		t.Errorf("the counter table in docs/CONFIG.md is out of date (%v): run go generate ./bpf", err)
	}
}

// TestParseShared checks what the parser reads from the real header.
func TestParseShared(t *testing.T) {
	abi := parseShared(t)
	consts := map[string]uint64{}
	for _, c := range abi.Consts {
		consts[c.Go] = c.Value
	}
	if consts["MaxChunks"] != consts["MaxBody"]/consts["ChunkSize"] || consts["FlagTooBig"] != 0x8000 {
		t.Errorf("constants %v", consts)
	}
	if len(abi.Counters) != int(abi.CounterConsts[len(abi.CounterConsts)-1].Value) {
		t.Errorf("%d counters, CNT_MAX %d", len(abi.Counters), abi.CounterConsts[len(abi.CounterConsts)-1].Value)
	}
	seen := map[string]bool{}
	for i, c := range abi.Counters {
		if c.Index != uint64(i) || seen[c.Name] || c.Doc == "" {
			t.Errorf("counter %d: %+v (duplicate: %v)", i, c, seen[c.Name])
		}
		seen[c.Name] = true
	}
	if !seen["answer.nxdomain"] || !seen["pass.ipv4_frag"] || !seen["tc_ingress.answer"] {
		t.Errorf("counter names %v", seen)
	}
}

// TestParseRefuses checks that what abigen does not understand stops it,
// rather than being left out of the Go side.
func TestParseRefuses(t *testing.T) {
	const good = `/* doc */
#ifndef XDPDNS_SHARED_H
#define XDPDNS_SHARED_H

#include <linux/types.h>

/* A limit. */
#define XDPDNS_MAX_A 4
/* Never. */
#define XDPDNS_NEVER_IN_XDP(X) X(0, 0) X(249, 255)

struct s {
	__u32 a[XDPDNS_MAX_A];
};

enum answer_kind {
	KIND_A, /* a: the first */
	KIND_B, /* b: the second,
	           on two lines */
	KIND_MAX, /* count */
};

enum counter {
	CNT_RX,          /* rx: seen */
	CNT_ANSWER_BASE, /* answer.KIND: answered */
	CNT_TC = CNT_ANSWER_BASE + KIND_MAX, /* tc: truncated */
	CNT_MAX, /* count */
};

#endif
`
	abi, err := Parse(good)
	if err != nil {
		t.Fatalf("good header: %v", err)
	}
	var names []string
	for _, c := range abi.Counters {
		names = append(names, c.Name)
	}
	if strings.Join(names, " ") != "rx answer.a answer.b tc" || abi.Kinds[1].Doc != "the second, on two lines" {
		t.Errorf("counters %v, kinds %+v", names, abi.Kinds)
	}
	for _, bad := range []struct{ desc, from, to, want string }{
		{"a define without a comment", "/* A limit. */\n", "", "no comment"},
		{"a define with a non-integer value", "XDPDNS_MAX_A 4", "XDPDNS_MAX_A 4.5", "cannot read"},
		{"an unknown name in an expression", "XDPDNS_MAX_A 4", "XDPDNS_MAX_A (XDPDNS_B + 1)", "unknown name"},
		{"a define outside the XDPDNS_ namespace", "#define XDPDNS_MAX_A 4", "#define MAX_A 4", "unexpected #define"},
		{"a typedef", "struct s {", "typedef int x;\nstruct s {", "unexpected line"},
		{"a gap in the counters", "CNT_TC = CNT_ANSWER_BASE + KIND_MAX,", "CNT_TC = 9,", "contiguous"},
		{"a counter without a name", "/* tc: truncated */", "/* truncated */", "name: meaning"},
		{"an unknown enum", "enum counter {", "enum other {", "unexpected enum"},
		{"a bad range", "X(249, 255)", "X(255, 249)", "bad range"},
	} {
		src := strings.Replace(good, bad.from, bad.to, 1)
		if src == good {
			t.Fatalf("%s: the replacement did not apply", bad.desc)
		}
		if _, err := Parse(src); err == nil || !strings.Contains(err.Error(), bad.want) || !strings.HasPrefix(err.Error(), "shared.h:") {
			t.Errorf("%s: err %v, want shared.h:LINE: ...%s...", bad.desc, err, bad.want)
		}
	}
}

// TestParseMatchesObject compares what abigen read from shared.h with what
// clang compiled from it: the enums' names and values and the array sizes
// of the map structs, from the committed object's BTF.
func TestParseMatchesObject(t *testing.T) {
	a := parseShared(t)
	spec, err := btf.LoadSpec("../../xdp_bpfel.o")
	if err != nil {
		t.Fatal(err)
	}
	enum := func(name string) map[string]uint64 {
		var e *btf.Enum
		if err := spec.TypeByName(name, &e); err != nil {
			t.Fatalf("enum %s: %v", name, err)
		}
		out := map[string]uint64{}
		for _, v := range e.Values {
			out[v.Name] = v.Value
		}
		return out
	}
	kinds := enum("answer_kind")
	if len(kinds) != len(a.Kinds)+1 {
		t.Errorf("object: %d answer kinds, abigen %d (+ KIND_MAX)", len(kinds), len(a.Kinds))
	}
	for _, k := range a.Kinds {
		if v, ok := kinds[k.C]; !ok || v != k.Index {
			t.Errorf("%s: object %d (%v), abigen %d", k.C, v, ok, k.Index)
		}
	}
	counters := enum("counter")
	if len(counters) != len(a.CounterConsts) {
		t.Errorf("object: %d counter enum values, abigen %d", len(counters), len(a.CounterConsts))
	}
	for _, c := range a.CounterConsts {
		if v, ok := counters[c.C]; !ok || v != c.Value {
			t.Errorf("%s: object %d (%v), abigen %d", c.C, v, ok, c.Value)
		}
	}
	consts := map[string]uint64{}
	for _, c := range a.Consts {
		consts[c.C] = c.Value
	}
	for _, f := range []struct{ strct, field, limit string }{
		{"tmpl", "relocs", "XDPDNS_INLINE_RELOCS"},
		{"chunk", "b", "XDPDNS_CHUNK_SIZE"},
		{"config", "nsid", "XDPDNS_MAX_NSID"},
		{"config", "ports", "XDPDNS_MAX_PORTS"},
	} {
		var s *btf.Struct
		if err := spec.TypeByName(f.strct, &s); err != nil {
			t.Fatalf("struct %s: %v", f.strct, err)
		}
		var n uint32
		for _, m := range s.Members {
			if arr, ok := m.Type.(*btf.Array); ok && m.Name == f.field {
				n = arr.Nelems
			}
		}
		if uint64(n) != consts[f.limit] {
			t.Errorf("%s.%s has %d elements in the object, %s is %d", f.strct, f.field, n, f.limit, consts[f.limit])
		}
	}
}
