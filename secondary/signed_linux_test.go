//go:build linux

package secondary_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/xdpdns/xdpdns/daemon"
	"github.com/xdpdns/xdpdns/daemon/hotpath"
	"github.com/xdpdns/xdpdns/internal/testsupport"
	"github.com/xdpdns/xdpdns/internal/testsupport/daemontest"
	"github.com/xdpdns/xdpdns/interop/interoptest"
	"github.com/xdpdns/xdpdns/loader"
	"github.com/xdpdns/xdpdns/secondary"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
)

// signedExample is ExampleCom with more names for an NSEC chain to cover:
// delegations with and without glue, a wildcard, an empty non-terminal.
const signedExample = testsupport.ExampleCom + `a   IN A   192.0.2.2
d1  IN NS  ns.example.net.
d2  IN NS  ns.d2
ns.d2 IN A 192.0.2.3
*.w IN TXT "wild"
x.y.deep IN TXT "deep"
`

// TestSecondarySignedByKnot: Knot DNS as a signing hidden primary (its
// own keys and NSEC, NSEC3 or NSEC3 opt-out chain, signed again at every
// change, as a TLD's signer does) feeds a secondary with an XDP hot path: the first version
// by AXFR, then a change (a delegation added, an address changed) by
// Knot's NOTIFY and an IXFR carrying the new NSEC records and signatures,
// rendered alone into the maps (no whole compile); after it every DO=1
// query of the denial corpus the program answers gets the engine's bytes,
// and those it must answer are answered.
func TestSecondarySignedByKnot(t *testing.T) {
	for _, c := range []struct {
		name          string
		nsec3, optOut bool
	}{{"nsec", false, false}, {"nsec3", true, false}, {"nsec3-optout", true, true}} {
		t.Run(c.name, func(t *testing.T) { secondarySignedByKnot(t, c.nsec3, c.optOut) })
	}
}

func secondarySignedByKnot(t *testing.T, nsec3, optOut bool) {
	kp := startKnotPrimary(t, signedExample, interoptest.KnotOptions{Sign: true, NSEC3: nsec3, OptOut: optOut})
	knotc, knot, zf := kp.knotc, kp.knot, kp.zone
	// The hot path attached before the daemon starts, so that it takes
	// the first transfer (and renders the next alone against it).
	var hp *hotpath.HotPath
	sec, _ := daemontest.StartExample(t, kp.secondary, func(d *daemon.Daemon) {
		hp = daemontest.HotPathWith(t, d, func(o *loader.Options) { o.Ports = []uint16{kp.port} }) // the daemon closes it
	})
	secAddr := sec.Addrs()[0].String()
	eventually(t, "the first transfer from Knot answers", 10*time.Second, func() bool { return lookupA(t, secAddr) == "192.0.2.10" })
	signed := func() bool {
		z := sec.Engine().Zones().Zone([]byte("\x07example\x03com\x00"))
		if z == nil || !z.Signed {
			return false
		}
		if nsec3 {
			return z.NSEC3 != nil && z.NSEC3.Iterations == 0 && len(z.NSEC3Chain()) > 0
		}
		return z.NSEC3 == nil && len(z.NSECChain()) > 0
	}
	eventually(t, "the zone served signed", 10*time.Second, signed)
	// Each change by Knot's NOTIFY and an IXFR, the address of www
	// telling it served: rendered alone into the maps (an NSEC3 zone's
	// apex change changes the apex's NSEC3 record: its own answers, and an
	// opt-out zone's insecure referrals, rendered again), then the corpus
	// through the program.
	text, prev := signedExample, "192.0.2.10"
	for step, edit := range []func(string) string{
		func(s string) string { return s + "d3  IN NS  ns.example.net.\n" },                        // a delegation added
		func(s string) string { return s + "@   IN TXT \"v2\"\n" },                                 // apex data
		func(s string) string { return strings.Replace(s, "d1  IN NS  ns.example.net.\n", "", 1) }, // a delegation gone
	} {
		addr := fmt.Sprintf("192.0.2.%d", 30+step)
		text, prev = edit(strings.Replace(text, prev, addr, 1)), addr
		partial0, _, _ := hp.MapUpdates()
		if err := os.WriteFile(zf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(knotc, "-s", knot.Control, "zone-reload", "example.com.").CombinedOutput(); err != nil {
			t.Fatalf("knotc zone-reload: %v\n%s", err, out)
		}
		eventually(t, fmt.Sprintf("change %d served", step+1), 5*time.Second, func() bool { return lookupA(t, secAddr) == addr })
		if st, ok := statusWithin(sec, func(s secondary.Status) bool { return s.IXFRs >= uint64(step+1) }); !ok {
			t.Fatalf("change %d: want it by IXFR: status %+v", step+1, st)
		}
		if partial, _, _ := hp.MapUpdates(); partial <= partial0 {
			t.Errorf("change %d: the IXFR of the signed zone was not rendered alone (partial map updates %d, %d before)", step+1,
				partial, partial0)
		}
		if !signed() {
			t.Fatalf("change %d: the zone is no longer served signed as it was", step+1)
		}
		checkCorpus(t, hp, sec.Engine(), step+1)
	}
}

// checkCorpus runs the DO=1 denial corpus of e through the hot path: every
// query the program must answer answered, every one it answers with the
// engine's bytes.
func checkCorpus(t *testing.T, hp *hotpath.HotPath, e *engine.Engine, step int) {
	t.Helper()
	queries := interoptest.DenialCorpus(t, e, int64(step))
	answered, must := interoptest.XDPMatchesEngine(t, e, fmt.Sprintf("change %d", step), queries, func(_ int, pkt []byte) []byte {
		got, err := hp.SelfTest(pkt)
		if err != nil {
			return nil // passed to userspace
		}
		return got
	})
	if must == 0 || answered < must {
		t.Errorf("change %d: %d of %d corpus queries answered in XDP, %d must be", step, answered, len(queries), must)
	}
	z := e.Zones().Zone([]byte("\x07example\x03com\x00"))
	t.Logf("change %d: NSEC chain %d, NSEC3 chain %d; %d of %d DO=1 corpus queries answered in XDP (%d must), equal to the engine's",
		step, len(z.NSECChain()), len(z.NSEC3Chain()), answered, len(queries), must)
}
