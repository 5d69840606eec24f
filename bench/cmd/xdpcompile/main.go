// Command xdpcompile measures the zone compiler on a large zone: load and
// compile time, the map image's size and bytes per delegation, and the
// share of a query mix the XDP program answers (decided by render.Model,
// the Go model the program is tested against).
//
//	xdpcompile -zone tld.=FILE [-referrals FILE] [-nxdomain FILE] [-do 0.7] [-nx 0.05] [-n 200000]
//
// The query files hold dnsperf lines ("name type"); the mix draws from
// the referral file, with a share nx from the NXDOMAIN file, and sets DO on
// a share do of the queries, all with EDNS (1232 bytes).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

func main() {
	zoneArg := flag.String("zone", "", "ORIGIN=FILE of the zone to compile (required)")
	refs := flag.String("referrals", "", "dnsperf query file of referral queries")
	nxs := flag.String("nxdomain", "", "dnsperf query file of NXDOMAIN queries")
	doShare := flag.Float64("do", 0.7, "share of queries with DO=1")
	nxShare := flag.Float64("nx", 0.05, "share of NXDOMAIN queries in the mix")
	n := flag.Int("n", 200000, "queries in the mix")
	flag.Parse()
	origin, file, ok := strings.Cut(*zoneArg, "=")
	if !ok {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(origin, file, *refs, *nxs, *doShare, *nxShare, *n); err != nil {
		fmt.Fprintln(os.Stderr, "xdpcompile:", err)
		os.Exit(1)
	}
}

func run(origin, file, refs, nxs string, doShare, nxShare float64, n int) error {
	start := time.Now()
	z, err := zone.LoadFile(origin, file, zone.Options{})
	if err != nil {
		return err
	}
	loaded := time.Since(start)
	set, err := zone.NewSet(z)
	if err != nil {
		return err
	}
	e := engine.New(engine.Config{}, set)
	start = time.Now()
	img, err := render.Compile(e)
	if err != nil {
		return err
	}
	compiled := time.Since(start)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := img.Stats
	fmt.Printf("zone %s: %d names, signed=%v nsec3=%v, %d delegations\n", origin, z.NodeCount(), z.Signed, z.NSEC3 != nil, st.Delegations)
	fmt.Printf("load %.2f s, compile %.2f s (%d renders), total %.2f s\n", loaded.Seconds(), compiled.Seconds(), st.Renders, (loaded + compiled).Seconds())
	fmt.Printf("image: %d names, %d typed answers, %d templates (%d passed up), %d body bytes, %d chunks\n",
		st.Names, st.Answers, st.Templates, st.PassedTemplates, st.BodyBytes, img.Chunks())
	mb := img.MapBytes()
	per := 0
	if st.Delegations > 0 {
		per = mb / st.Delegations
	}
	fmt.Printf("map memory (estimate): %.1f MiB, %d bytes per delegation; Go heap after compile %.1f MiB\n",
		float64(mb)/(1<<20), per, float64(ms.HeapAlloc)/(1<<20))
	if refs == "" {
		return nil
	}
	return coverage(e, img, refs, nxs, doShare, nxShare, n)
}

func readQueries(path string) ([][2]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][2]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 {
			out = append(out, [2]string{f[0], f[1]})
		}
	}
	return out, sc.Err()
}

func coverage(e *engine.Engine, img *render.Image, refs, nxs string, doShare, nxShare float64, n int) error {
	r, err := readQueries(refs)
	if err != nil {
		return err
	}
	var x [][2]string
	if nxs != "" {
		if x, err = readQueries(nxs); err != nil {
			return err
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	m := &render.Model{Image: img, UDPSize: e.Config().UDPSize}
	answered, mismatched := 0, 0
	reasons := map[string]int{}
	for i := 0; i < n; i++ {
		q := r[rng.IntN(len(r))]
		if len(x) > 0 && rng.Float64() < nxShare {
			q = x[rng.IntN(len(x))]
		}
		msg := new(dns.Msg)
		msg.SetQuestion(q[0], dns.StringToType[q[1]])
		msg.Id = uint16(i)
		msg.SetEdns0(1232, rng.Float64() < doShare)
		pkt, err := msg.Pack()
		if err != nil {
			return err
		}
		reply, reason := m.Reply(pkt)
		if reply == nil {
			reasons[reason]++
			continue
		}
		answered++
		if string(reply) != string(e.Respond(nil, pkt, false)) {
			mismatched++
		}
	}
	fmt.Printf("TLD mix (%d queries, %.0f%% NXDOMAIN, DO on %.0f%%): %.2f%% answered in XDP; passed %v; %d differ from the engine\n",
		n, 100*nxShare, 100*doShare, 100*float64(answered)/float64(n), reasons, mismatched)
	if mismatched > 0 {
		return fmt.Errorf("%d XDP answers differ from the engine", mismatched)
	}
	return nil
}
