package interop_test

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/xdpdns/xdpdns/interop"
	"github.com/xdpdns/xdpdns/interop/interoptest"
)

// corpusSeed fixes the query corpus; change it to explore other cases.
const corpusSeed = 20240101

// detail caps the outcomes printed in full per variant and kind.
var detail = flag.Int("interop.detail", 12, "outcomes printed in full per variant and kind")

// buildDaemon builds cmd/xdpdnsd.
func buildDaemon(t *testing.T) string {
	t.Helper()
	bin, err := interop.BuildXdpdns(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestDifferential sends the corpus to xdpdns, NSD and Knot serving the
// same zones, per signing variant, and fails on any difference between
// xdpdns and both references that is not on the allowed list. Every other
// variant runs xdpdns with response rate limiting on, at a rate the
// corpus never reaches: it must change no answer.
func TestDifferential(t *testing.T) {
	bin := buildDaemon(t)
	qs := interop.Corpus(corpusSeed)
	t.Logf("corpus: %d queries per zone variant", len(qs))
	for i, v := range interoptest.Variants {
		var extra []string
		if i%2 == 0 {
			extra = []string{"--rrl-rate", "1000000"}
		}
		t.Run(string(v), func(t *testing.T) {
			zs := interoptest.PrepareZones(t, v)
			servers := interop.Servers{NSD: interoptest.StartNSD(t, zs.Zones()), Knot: interoptest.StartKnot(t, zs.Zones()), Xdpdns: interoptest.StartXdpdns(t, bin, zs.Zones(), extra...)}
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			sum := interop.Summarise(interop.RunCorpus(ctx, servers, qs))
			report := sum.Report(*detail)
			if len(sum.Failures) > 0 {
				t.Errorf("%s", report)
				return
			}
			t.Logf("%s", report)
		})
	}
}
