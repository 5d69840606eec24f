// Command genzone writes the benchmark's TLD-like zone and the dnsperf query
// files that go with it.
//
//	genzone -out DIR [-delegations N] [-queries N] [-seed S]
//
// It writes DIR/tld.zone and DIR/queries-{referral,nxdomain,apex}.txt.
// Everything is derived from the seed, so two runs with the same flags give
// byte-identical files.
//
// The zone has an apex (SOA, two NS in ns{1,2}.nic.tld. with A and AAAA glue,
// and a few host names under nic.tld.) and N delegations dK.tld. (K from 0
// to N-1), each with two NS:
//
//   - K%10 == 0: in-bailiwick name servers ns{1,2}.dK.tld., with A glue
//     (and AAAA on ns1);
//   - otherwise: out-of-zone name servers at one of a few hundred "hosting
//     providers" (nsX.provK.net.), as in a real TLD where many delegations
//     share the same name servers;
//   - K%5 == 0 (20%): a DS record.
//
// The zone is bench/xdp.WriteZone's, so the XDP benchmarks use the same.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/xdpdns/xdpdns/bench/xdp"
)

func main() {
	out := flag.String("out", "", "output directory (required)")
	delegations := flag.Int("delegations", 20000, "number of delegations dK.tld.")
	queries := flag.Int("queries", 100000, "lines per query file")
	seed := flag.Uint64("seed", 1, "random seed for the query files")
	flag.Parse()
	if *out == "" || *delegations < 1 || *queries < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*out, *delegations, *queries, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "genzone:", err)
		os.Exit(1)
	}
}

func run(dir string, n, q int, seed uint64) error {
	if _, err := xdp.WriteZoneFile(dir, n); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 0x78647064))
	sets := []struct {
		name string
		gen  func(w *bufio.Writer)
	}{
		{"referral", func(w *bufio.Writer) {
			for range q {
				fmt.Fprintf(w, "www.d%d.%s A\n", rng.IntN(n), xdp.Origin)
			}
		}},
		{"nxdomain", func(w *bufio.Writer) {
			// "nx" + 12 hex digits never matches a dK or nic label.
			for range q {
				fmt.Fprintf(w, "nx%012x.%s A\n", rng.Uint64()&0xffffffffffff, xdp.Origin)
			}
		}},
		{"apex", func(w *bufio.Writer) {
			for range q {
				switch rng.IntN(3) {
				case 0:
					fmt.Fprintf(w, "%s SOA\n", xdp.Origin)
				case 1:
					fmt.Fprintf(w, "%s NS\n", xdp.Origin)
				default:
					fmt.Fprintf(w, "host%d.nic.%s A\n", rng.IntN(xdp.ApexHosts), xdp.Origin)
				}
			}
		}},
	}
	for _, s := range sets {
		if err := writeFile(filepath.Join(dir, "queries-"+s.name+".txt"), s.gen); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, body func(w *bufio.Writer)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<16)
	body(w)
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
