package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/xdpdns/xdpdns/bpf/abi"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/daemon"
	"github.com/xdpdns/xdpdns/internal/testsupport"
	"github.com/xdpdns/xdpdns/internal/testsupport/daemontest"
)

// startDaemon runs a real daemon in-process serving example.com from a
// temporary file, and returns it with the zone file and socket paths.
func startDaemon(t *testing.T) (d *daemon.Daemon, zoneFile, sock string) {
	t.Helper()
	d, cfg := daemontest.StartExample(t, nil, nil)
	return d, cfg.Zones[0].File, cfg.Control
}

// ctl runs xdpdnsctl with args and returns its exit code and output.
func ctl(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// lookup returns www.example.com's address from the daemon.
func lookup(t *testing.T, d *daemon.Daemon) string {
	t.Helper()
	m := new(dns.Msg).SetQuestion("www.example.com.", dns.TypeA)
	r, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(m, d.Addrs()[0].String())
	if err != nil || len(r.Answer) != 1 {
		t.Fatalf("lookup: %v %v", r, err)
	}
	return r.Answer[0].(*dns.A).A.String()
}

// columns splits a table line on runs of two or more spaces.
var columns = regexp.MustCompile(`\s{2,}`)

func TestReload(t *testing.T) {
	d, zf, sock := startDaemon(t)
	os.WriteFile(zf, []byte(strings.NewReplacer(" 1 7200", " 5 7200", "192.0.2.10", "192.0.2.20").Replace(testsupport.ExampleCom)), 0o644)
	code, out, errOut := ctl("--control", sock, "reload", "example.com")
	if code != exitOK || errOut != "" {
		t.Fatalf("reload: exit %d, stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !slices.Equal(columns.Split(lines[0], -1), []string{"ZONE", "SERIAL", "RECORDS", "WARNINGS", "FILE"}) ||
		!slices.Equal(columns.Split(strings.TrimSpace(lines[1]), -1), []string{"example.com.", "5", "4", "0", zf}) ||
		lines[2] != "reloaded 1 zone" {
		t.Errorf("reload output:\n%s", out)
	}
	// The columns line up.
	if strings.Index(lines[0], "FILE") != strings.Index(lines[1], zf) {
		t.Errorf("columns not aligned:\n%s", out)
	}
	if got := lookup(t, d); got != "192.0.2.20" {
		t.Errorf("after reload: %s", got)
	}

	// All zones, JSON.
	code, out, _ = ctl("--control", sock, "reload", "--json")
	var res control.ReloadResult
	if code != exitOK || json.Unmarshal([]byte(out), &res) != nil || len(res.Zones) != 1 || res.Zones[0].Serial != 5 {
		t.Errorf("reload --json: exit %d\n%s", code, out)
	}
	// Flags after the zone work too.
	if code, out, _ = ctl("--control", sock, "reload", "example.com.", "--json"); code != exitOK || !strings.HasPrefix(out, "{") {
		t.Errorf("reload ZONE --json: exit %d\n%s", code, out)
	}
}

func TestReloadBroken(t *testing.T) {
	d, zf, sock := startDaemon(t)
	os.WriteFile(zf, []byte(strings.Replace(testsupport.ExampleCom, "192.0.2.10", "192.0.2.999", 1)), 0o644)
	code, out, errOut := ctl("--control", sock, "reload")
	if code != exitFailed || out != "" {
		t.Errorf("reload of a broken zone: exit %d, stdout %q", code, out)
	}
	first, _, _ := strings.Cut(errOut, "\n")
	if !strings.HasPrefix(first, zf+":6: ") || !strings.Contains(errOut, "keeps serving the previous zones") {
		t.Errorf("stderr:\n%s", errOut)
	}
	if got := lookup(t, d); got != "192.0.2.10" {
		t.Errorf("after the failed reload: %s, want the old 192.0.2.10", got)
	}
	code, _, errOut = ctl("--control", sock, "reload", "example.org")
	if code != exitFailed || !strings.Contains(errOut, "zone example.org is not configured") {
		t.Errorf("reload of an unknown zone: exit %d\n%s", code, errOut)
	}
}

func TestStatus(t *testing.T) {
	d, zf, sock := startDaemon(t)
	code, out, errOut := ctl("--control", sock, "status")
	if code != exitOK || errOut != "" {
		t.Fatalf("status: exit %d, stderr %q", code, errOut)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^version  xdpdns`),
		regexp.MustCompile(`(?m)^uptime   \d+s \(since \d{4}-\d\d-\d\dT`),
		regexp.MustCompile(`(?m)^listen   ` + regexp.QuoteMeta(d.Addrs()[0].String()) + `$`),
		regexp.MustCompile(`(?m)^xdp      off$`),
		regexp.MustCompile(`(?m)^ZONE +SERIAL +RECORDS +DNSSEC +WARNINGS +LOADED +FILE$`),
		regexp.MustCompile(`(?m)^example\.com\. +1 +4 +unsigned +0 +\d{4}-\d\d-\d\dT\S+ +` + regexp.QuoteMeta(zf) + `$`),
	} {
		if !want.MatchString(out) {
			t.Errorf("status lacks %v:\n%s", want, out)
		}
	}
	code, out, _ = ctl("--control", sock, "status", "--json")
	var st control.Status
	if code != exitOK || json.Unmarshal([]byte(out), &st) != nil || len(st.Zones) != 1 || st.Zones[0].File != zf {
		t.Errorf("status --json: exit %d\n%s", code, out)
	}
}

func TestStats(t *testing.T) {
	d, _, sock := startDaemon(t)
	count := func() map[string]string {
		code, out, errOut := ctl("--control", sock, "stats")
		if code != exitOK || errOut != "" {
			t.Fatalf("stats: exit %d, stderr %q", code, errOut)
		}
		rows := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(l)
			if len(f) == 0 {
				continue // between tables
			}
			rows[f[0]] = strings.Join(f[1:], " ")
		}
		if rows["QUERIES"] != "UDP TCP" || rows["SERVER"] != "COUNT" || rows["tcp_refused_client"] != "0" {
			t.Fatalf("stats header:\n%s", out)
		}
		return rows
	}
	before := count()
	lookup(t, d)
	lookup(t, d)
	after := count()
	if before["answer"] != "0 0" || after["answer"] != "2 0" || after["total"] != "2 0" || after["nxdomain"] != "0 0" {
		t.Errorf("answer counters: before %q, after %q (total %q)", before["answer"], after["answer"], after["total"])
	}
	// Both UDP queries were looked up in the reply cache of the socket
	// they reached (the same one, or one each).
	var hits, misses int
	if after["ANSWER-CACHE"] != "HITS MISSES" {
		t.Errorf("no answer cache table: %v", after)
	} else if _, err := fmt.Sscan(after["udp"], &hits, &misses); err != nil || hits+misses != 2 || misses < 1 {
		t.Errorf("answer cache counters %q, want 2 lookups, at least the first one a miss", after["udp"])
	}
	code, out, _ := ctl("--control", sock, "stats", "--json")
	var s control.Stats
	if code != exitOK || json.Unmarshal([]byte(out), &s) != nil || s.Queries["udp"]["answer"] != 2 {
		t.Errorf("stats --json: exit %d\n%s", code, out)
	}
}

func TestNotRunning(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	for _, cmd := range []string{"reload", "status", "stats"} {
		code, out, errOut := ctl("--control", sock, cmd)
		if code != exitUnreachable || out != "" || !strings.Contains(errOut, "xdpdnsd is not running (nothing listens on "+sock+")") {
			t.Errorf("%s without a daemon: exit %d, stderr %q", cmd, code, errOut)
		}
	}
	// A daemon that stopped leaves nothing to talk to either.
	d, _, sock := startDaemon(t)
	d.Close()
	if code, _, errOut := ctl("--control", sock, "status"); code != exitUnreachable || !strings.Contains(errOut, "not running") {
		t.Errorf("status after stop: exit %d, %q", code, errOut)
	}
}

func TestUsage(t *testing.T) {
	_, _, sock := startDaemon(t)
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, exitUsage, "usage: xdpdnsctl"},
		{[]string{"frob"}, exitUsage, `unknown command "frob"`},
		{[]string{"reload", "a.example", "b.example"}, exitUsage, "at most one ZONE"},
		{[]string{"status", "extra"}, exitUsage, "takes no arguments"},
		{[]string{"stats", "--yaml"}, exitUsage, "flag provided but not defined"},
		{[]string{"--bogus", "status"}, exitUsage, "flag provided but not defined"},
		{[]string{"-h"}, exitOK, "usage: xdpdnsctl"},
	} {
		code, _, errOut := ctl(append([]string{"--control", sock}, c.args...)...)
		if code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("%v: exit %d, want %d; stderr:\n%s", c.args, code, c.code, errOut)
		}
	}
}

// TestXDPCounterOrder checks that stats lists every XDP counter of the ABI
// by its name, in the ABI's order, and keeps counters it does not know.
func TestXDPCounterOrder(t *testing.T) {
	c := map[string]uint64{"zz.new": 1}
	for i, n := range abi.CounterNames {
		c[n] = uint64(i)
	}
	got := xdpCounterOrder(c)
	want := append(abi.CounterNames[:len(abi.CounterNames):len(abi.CounterNames)], "zz.new")
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	var out bytes.Buffer
	if err := printStats(&out, &control.Stats{XDP: c}); err != nil {
		t.Fatal(err)
	}
	for i, n := range abi.CounterNames {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(n) + `\s+` + fmt.Sprint(i) + `$`).MatchString(out.String()) {
			t.Errorf("counter %s missing from\n%s", n, out.String())
		}
	}
}

// TestCheckZone runs check-zone offline on a good and a broken zone.
func TestCheckZone(t *testing.T) {
	dir := t.TempDir()
	good := testsupport.WriteFile(t, dir, "example.com.zone", testsupport.ExampleCom)
	code, out, errOut := ctl("--control", filepath.Join(dir, "no.sock"), "check-zone", "example.com", good)
	if code != exitOK || !strings.Contains(out, "example.com.") || !strings.Contains(out, "xdp: ") {
		t.Errorf("good zone: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = ctl("check-zone", "--json", "example.com", good)
	var r struct {
		Zones []struct{ Origin string }
		XDP   struct{ Names int }
	}
	if code != exitOK || json.Unmarshal([]byte(out), &r) != nil || len(r.Zones) != 1 || r.XDP.Names == 0 {
		t.Errorf("--json: exit %d\n%s", code, out)
	}
	bad := testsupport.WriteFile(t, dir, "bad.zone", strings.Replace(testsupport.ExampleCom, "192.0.2.10", "192.0.2.300", 1))
	code, _, errOut = ctl("check-zone", "example.com", bad)
	if code != exitFailed || !strings.Contains(errOut, bad+":") {
		t.Errorf("broken zone: exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := ctl("check-zone", "example.com"); code != exitUsage {
		t.Errorf("missing FILE: exit %d, want usage", code)
	}
}

// TestCLIHabits: options after the command, per-command help, JSON on
// failures, version, and flags spelled as typed in the usage.
func TestCLIHabits(t *testing.T) {
	_, _, sock := startDaemon(t)
	if code, out, errOut := ctl("status", "--control", sock); code != exitOK || !strings.Contains(out, "example.com.") {
		t.Errorf("status --control after the command: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := ctl("reload", "--help"); code != exitOK || !strings.Contains(out, "reload [ZONE]") {
		t.Errorf("reload --help: exit %d\n%s", code, out)
	}
	code, out, errOut := ctl("--control", sock, "reload", "--json", "no.such.zone")
	var fail struct {
		Command, Error string
		Exit           int
	}
	if code != exitFailed || json.Unmarshal([]byte(out), &fail) != nil || fail.Exit != exitFailed || !strings.Contains(fail.Error, "no.such.zone") || errOut == "" {
		t.Errorf("reload --json of an unknown zone: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = ctl("--control", sock, "version")
	if code != exitOK || !strings.HasPrefix(out, "xdpdnsctl xdpdns") || !strings.Contains(out, "\nxdpdnsd   xdpdns") {
		t.Errorf("version: exit %d\n%s", code, out)
	}
	code, _, errOut = ctl()
	if code != exitUsage || !strings.Contains(errOut, "  --control PATH") || !strings.Contains(errOut, "check-zone ORIGIN FILE") {
		t.Errorf("usage: exit %d\n%s", code, errOut)
	}
}
