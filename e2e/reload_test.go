//go:build linux

package e2e

import (
	"context"
	"fmt"
	"github.com/xdpdns/xdpdns/internal/testsupport/netnstest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/interop"
)

// Load and reload parameters.
const (
	loadQPS      = 20000
	loadDuration = 15 * time.Second
	reloads      = 20
	baseSerial   = 2024020100
)

// versionName is the name whose answer encodes the zone version twice:
// ver.example.test. CNAME vN.ver.example.test., which has A 198.18.200.N.
// A reply that mixed two versions would name one version in the CNAME
// and another in the address.
const versionName = "ver.example.test."

// zoneVersion returns the example.test. zone text of version n: the
// hand-written zone with serial baseSerial+n and the versioned names.
func zoneVersion(t *testing.T, base string, n int) string {
	t.Helper()
	const serial = "2024010101 ; serial"
	if !strings.Contains(base, serial) {
		t.Fatalf("the test zone has no %q line", serial)
	}
	text := strings.Replace(base, serial, fmt.Sprintf("%d ; serial", baseSerial+n), 1)
	return text + fmt.Sprintf("\n; version %d (e2e reload test)\nver IN CNAME v%d.ver\nv%d.ver IN A 198.18.200.%d\n", n, n, n, n)
}

// writeAtomic replaces path with text so that a reload never reads half a
// file.
func writeAtomic(t *testing.T, path, text string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestReloadUnderLoad runs dnsperf at loadQPS for loadDuration from the
// client namespace while the zone is rewritten (new serial, new CNAME
// target and address for versionName) and reloaded with xdpdnsctl
// reloads times. dnsperf must lose no query, and a Go client asking
// versionName over and over must never see a reply mixing two versions,
// nor a version older than one it has already seen. When dnsperf cannot
// send at 90% of loadQPS (a busy machine), the test skips with the
// figures after checking all of that.
func TestReloadUnderLoad(t *testing.T) {
	if _, err := os.Stat("/usr/bin/dnsperf"); err != nil {
		t.Skip("dnsperf is not installed")
	}
	r := NewRig(t)
	parent, _, err := interop.TestdataZones()
	if err != nil {
		t.Fatal(err)
	}
	baseText, err := os.ReadFile(parent.Path)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"native", "generic"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			zonePath := filepath.Join(dir, "example.test.zone")
			writeAtomic(t, zonePath, zoneVersion(t, string(baseText), 1))
			d := StartServer(t, bins, r, []interop.Zone{{Origin: parent.Origin, Path: zonePath}}, mode)
			queryFile := filepath.Join(dir, "queries.txt")
			if err := os.WriteFile(queryFile, []byte(strings.Join([]string{
				"www.example.test A", "host.sub.example.test A", "nope.example.test A",
				"ver.example.test A", "mail.example.test AAAA", "x.y.secure.example.test A",
			}, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}

			before := d.Stats(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			var checked versionCheck
			wg.Add(1)
			go func() {
				defer wg.Done()
				checked = watchVersions(ctx, r.Cli, netip.AddrPortFrom(r.SrvV4, 53))
			}()
			perf := make(chan perfResult, 1)
			go func() { perf <- runDnsperf(r.Cli, r.SrvV4, queryFile) }()

			// Reload evenly over the run, leaving a second at each end.
			step := (loadDuration - 2*time.Second) / reloads
			time.Sleep(time.Second)
			for n := 2; n <= reloads+1; n++ {
				writeAtomic(t, zonePath, zoneVersion(t, string(baseText), n))
				out, err := d.Ctl("reload")
				if err != nil {
					t.Errorf("reload %d: %v", n, err)
				} else if !strings.Contains(out, "xdp generation") || !strings.Contains(out, strconv.Itoa(baseSerial+n)) {
					t.Errorf("reload %d: output lacks the XDP generation or serial %d:\n%s", n, baseSerial+n, out)
				}
				time.Sleep(step)
			}
			res := <-perf
			cancel()
			wg.Wait()
			delta := Diff(before, d.Stats(t))

			if res.err != nil {
				t.Fatalf("dnsperf: %v\n%s", res.err, res.out)
			}
			t.Logf("%s: dnsperf sent %d, completed %d, lost %d at %d qps for %v; counters %v",
				mode, res.sent, res.completed, res.lost, loadQPS, loadDuration, delta)
			if res.lost != 0 {
				t.Errorf("%s: dnsperf lost %d of %d queries\n%s", mode, res.lost, res.sent, res.out)
			}
			if delta.Sum("xdp.answer.") == 0 {
				t.Errorf("%s: XDP answered nothing under load", mode)
			}

			t.Logf("%s: version client: %d replies, %d timeouts, versions seen %v", mode, checked.replies, checked.timeouts, checked.seen)
			for _, e := range checked.errs {
				t.Errorf("%s: %s", mode, e)
			}
			if checked.replies < 100 {
				t.Errorf("%s: only %d replies to the version client", mode, checked.replies)
			}
			if last := checked.last; last != reloads+1 {
				t.Errorf("%s: last version seen %d, want %d", mode, last, reloads+1)
			}
			st := d.Status(t)
			if len(st.Zones) != 1 || st.Zones[0].Serial != baseSerial+reloads+1 {
				t.Errorf("%s: status zones %+v, want serial %d", mode, st.Zones, baseSerial+reloads+1)
			}
			// Every reload is a small change: the hot path renders it
			// alone (the zone is unsigned) and writes it into the live
			// maps in place, never as a second generation.
			if x := st.XDP; x != nil && (x.Partial != reloads || x.Swaps != 1) {
				t.Errorf("%s: %d reloads rendered alone, %d compiled whole, %d generations swapped in; want %d, 0 and 1 (the start)",
					mode, x.Partial, x.InPlace, x.Swaps, reloads)
			}
			// Last, as every assertion on xdpdns has run: dnsperf itself
			// falling short of its rate on a busy machine is no fault of
			// xdpdns, but then the test did not prove what it claims.
			if min := uint64(loadQPS) * uint64(loadDuration/time.Second) * 9 / 10; res.sent < min {
				t.Skipf("%s: the load generator fell short: dnsperf sent %d queries, wanted at least %d (machine busy?); loss, versions and reloads were checked",
					mode, res.sent, min)
			}
		})
	}
}

// perfResult is dnsperf's summary.
type perfResult struct {
	sent, completed, lost uint64
	out                   string
	err                   error
}

var perfLineRE = regexp.MustCompile(`(?m)^\s*Queries (sent|completed|lost):\s+(\d+)`)

// runDnsperf runs dnsperf from namespace ns against server and parses its
// summary (dnsperf exits 0 even when it loses every query).
func runDnsperf(ns string, server netip.Addr, queryFile string) perfResult {
	ctx, cancel := context.WithTimeout(context.Background(), loadDuration+30*time.Second)
	defer cancel()
	cmd := netnstest.Command(ctx, ns, "dnsperf", "-s", server.String(), "-p", "53", "-d", queryFile,
		"-Q", strconv.Itoa(loadQPS), "-l", strconv.Itoa(int(loadDuration/time.Second)), "-t", "2")
	outb, err := cmd.CombinedOutput()
	res := perfResult{out: string(outb), err: err}
	found := 0
	for _, m := range perfLineRE.FindAllStringSubmatch(res.out, -1) {
		v, _ := strconv.ParseUint(m[2], 10, 64)
		switch m[1] {
		case "sent":
			res.sent = v
		case "completed":
			res.completed = v
		case "lost":
			res.lost = v
		}
		found++
	}
	if res.err == nil && found != 3 {
		res.err = fmt.Errorf("no sent/completed/lost summary in the output")
	}
	return res
}

// versionCheck is what watchVersions saw.
type versionCheck struct {
	replies, timeouts int
	last              int   // the last version seen
	seen              []int // each version seen, in order of first sight
	errs              []string
}

var versionTargetRE = regexp.MustCompile(`^v(\d+)\.ver\.example\.test\.$`)

// watchVersions asks versionName A (DO=0) from namespace ns until ctx
// ends, requiring every reply to be one whole version and versions never
// to go back.
func watchVersions(ctx context.Context, ns string, server netip.AddrPort) versionCheck {
	var vc versionCheck
	fail := func(format string, args ...any) {
		if len(vc.errs) < 10 {
			vc.errs = append(vc.errs, fmt.Sprintf(format, args...))
		}
	}
	conn, err := netnstest.Dial(ns, "udp", server.String())
	if err != nil {
		fail("dial: %v", err)
		return vc
	}
	defer conn.Close()
	c := &dns.Conn{Conn: conn}
	for ctx.Err() == nil {
		q := new(dns.Msg).SetQuestion(versionName, dns.TypeA)
		c.SetDeadline(time.Now().Add(time.Second))
		if err := c.WriteMsg(q); err != nil {
			fail("write: %v", err)
			return vc
		}
		r, err := c.ReadMsg()
		if err != nil {
			vc.timeouts++
			continue
		}
		if r.Id != q.Id {
			continue // a late reply to an earlier query
		}
		vc.replies++
		v, err := replyVersion(r)
		if err != nil {
			fail("reply %d: %v:\n%v", vc.replies, err, r)
			continue
		}
		if v < vc.last {
			fail("version went back from %d to %d", vc.last, v)
		}
		if v != vc.last {
			vc.seen = append(vc.seen, v)
		}
		vc.last = v
	}
	return vc
}

// replyVersion returns the single version a reply to versionName shows.
func replyVersion(r *dns.Msg) (int, error) {
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 {
		return 0, fmt.Errorf("rcode %s, %d answers; want a CNAME and an A", dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	cn, ok1 := r.Answer[0].(*dns.CNAME)
	a, ok2 := r.Answer[1].(*dns.A)
	if !ok1 || !ok2 {
		return 0, fmt.Errorf("answer types %v, want CNAME then A", types(r.Answer))
	}
	m := versionTargetRE.FindStringSubmatch(strings.ToLower(cn.Target))
	if m == nil || !strings.EqualFold(a.Hdr.Name, cn.Target) {
		return 0, fmt.Errorf("CNAME target %s, A owner %s", cn.Target, a.Hdr.Name)
	}
	v, _ := strconv.Atoi(m[1])
	if want := fmt.Sprintf("198.18.200.%d", v); a.A.String() != want {
		return 0, fmt.Errorf("mixed versions: CNAME to version %d, address %s (want %s)", v, a.A, want)
	}
	return v, nil
}
