//go:build linux

package main

import (
	"github.com/xdpdns/xdpdns/internal/testsupport/daemontest"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/bpf/abi"
)

// TestStatsXDPCounters gives a real daemon a real XDP hot path (loaded,
// not attached: no interface needed), answers one query through it with
// BPF_PROG_TEST_RUN, and requires `xdpdnsctl stats` to list every counter
// of the ABI by its name, in the ABI's order, with the query counted.
func TestStatsXDPCounters(t *testing.T) {
	d, _, sock := startDaemon(t)
	hp := daemontest.HotPath(t, d) // the daemon closes it
	q, err := new(dns.Msg).SetQuestion("www.example.com.", dns.TypeA).Pack()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hp.SelfTest(q); err != nil {
		t.Fatalf("self-test query: %v", err)
	}

	code, out, errOut := ctl("--control", sock, "stats")
	if code != exitOK || errOut != "" {
		t.Fatalf("stats: exit %d, stderr %q", code, errOut)
	}
	_, table, ok := strings.Cut(out, "\nXDP ")
	if !ok {
		t.Fatalf("stats has no XDP table:\n%s", out)
	}
	var names []string
	rows := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(table), "\n")[1:] {
		f := strings.Fields(l)
		if len(f) != 2 {
			t.Fatalf("XDP row %q:\n%s", l, out)
		}
		names = append(names, f[0])
		rows[f[0]] = f[1]
	}
	if strings.Join(names, " ") != strings.Join(abi.CounterNames[:], " ") {
		t.Errorf("XDP counters listed:\n%v\nwant the ABI's, in its order:\n%v", names, abi.CounterNames)
	}
	if rows["rx"] == "0" || rows["answer.answer"] == "0" {
		t.Errorf("the self-test query is not counted (rx %s, answer.answer %s):\n%s", rows["rx"], rows["answer.answer"], out)
	}
}
