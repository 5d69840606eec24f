//go:build linux

package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/daemon"
	"github.com/xdpdns/xdpdns/internal/testsupport"
	"github.com/xdpdns/xdpdns/internal/testsupport/daemontest"
	"github.com/xdpdns/xdpdns/interop"
	"github.com/xdpdns/xdpdns/interop/interoptest"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// TestExplainAgreesWithCounters serves the differential corpus's
// NSEC3-signed zones from a daemon with a real XDP hot path (loaded, not
// attached), asks `xdpdnsctl explain --json` about every UDP query of the
// corpus, then sends that very query through the program with
// BPF_PROG_TEST_RUN: an "xdp" explanation must be answered and counted as
// answer.KIND of the explained kind, a "userspace" one passed and counted
// under the explained reason.
func TestExplainAgreesWithCounters(t *testing.T) {
	zs := interoptest.PrepareZones(t, interoptest.NSEC3)
	var specs []zone.Spec
	for _, z := range zs.Zones() {
		specs = append(specs, zone.Spec{Origin: z.Origin, File: z.Path})
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "ctl.sock")
	d := daemontest.Start(t, testsupport.Config(t, sock, specs, nil), nil)
	hp := daemontest.HotPath(t, d) // the daemon closes it

	classes := map[string]int{}
	for _, q := range interop.Corpus(1) {
		if q.TCP {
			continue
		}
		eq := control.ExplainQuery{Name: q.Name, Type: dns.TypeToString[q.Type], DO: q.DO, BufSize: q.UDPSize, NoEDNS: !q.EDNS, NSID: q.NSID}
		if eq.Type == "" {
			eq.Type = "TYPE" + strconv.Itoa(int(q.Type))
		}
		if q.Class == dns.ClassCHAOS {
			eq.Class = "CH"
		}
		args := []string{"--control", sock, "explain", "--json", eq.Name, eq.Type}
		if eq.Class != "" {
			args = append(args, eq.Class)
		}
		if eq.DO {
			args = append(args, "+do")
		}
		if eq.NoEDNS {
			args = append(args, "+noedns")
		} else {
			args = append(args, "+bufsize="+strconv.Itoa(int(eq.BufSize)))
		}
		if eq.NSID {
			args = append(args, "+nsid")
		}
		code, out, errOut := ctl(args...)
		var r control.ExplainResult
		if code != exitOK || json.Unmarshal([]byte(out), &r) != nil {
			t.Fatalf("%s: explain exit %d\n%s%s", q, code, out, errOut)
		}
		pkt, err := daemon.ExplainPacket(eq)
		if err != nil {
			t.Fatal(err)
		}
		before, err := hp.Counters()
		if err != nil {
			t.Fatal(err)
		}
		reply, sendErr := hp.SelfTest(pkt)
		after, err := hp.Counters()
		if err != nil {
			t.Fatal(err)
		}
		delta := func(name string) uint64 { return after[name] - before[name] }
		switch r.Path {
		case control.PathXDP:
			want := d.Engine().Respond(nil, pkt, false)
			if sendErr != nil || string(reply) != string(want) || delta("answer."+r.Kind) != 1 {
				t.Errorf("%s: explained as XDP %s, but the program: err %v, counted answer.%s %d, reply equals the engine's: %v",
					q, r.Kind, sendErr, r.Kind, delta("answer."+r.Kind), string(reply) == string(want))
			}
			classes["xdp "+r.Kind]++
		case control.PathUserspace:
			if sendErr == nil || !strings.HasPrefix(r.Reason, "pass.") || delta(r.Reason) != 1 {
				t.Errorf("%s: explained as userspace (%s), but the program: err %v, counted %s %d", q, r.Reason, sendErr, r.Reason, delta(r.Reason))
			}
			classes["userspace "+r.Reason+" "+r.Kind]++
		default:
			t.Fatalf("%s: path %q", q, r.Path)
		}
	}
	t.Logf("classes explained: %v", classes)
	code, out, errOut := ctl("--control", sock, "explain", "example.test.", "SOA")
	if code != exitOK || !regexp.MustCompile(`(?m)^path\s+XDP \(XDP_TX\)`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^template\s+\d+ from `).MatchString(out) || !strings.Contains(out, "IN\tSOA\t") {
		t.Errorf("explain example.test. SOA: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = ctl("--control", sock, "explain", "nope.example.test.", "A", "+do")
	if code != exitOK || !regexp.MustCompile(`(?m)^path\s+XDP \(XDP_TX\)`).MatchString(out) || !strings.Contains(out, "NXDOMAIN") ||
		!regexp.MustCompile(`(?m)^denial\s+NSEC3 zone \d+, entry \d+ covers the next closer name`).MatchString(out) {
		t.Errorf("explain of a DO=1 NXDOMAIN in an NSEC3 zone (answered in XDP, its NSEC3 cover named): exit %d\n%s", code, out)
	}
	for _, want := range []string{"xdp answer", "xdp referral", "xdp nxdomain", "xdp chaos"} {
		if classes[want] == 0 {
			t.Errorf("the corpus exercised no %q explanation: %v", want, classes)
		}
	}
}
