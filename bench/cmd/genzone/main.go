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
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// Shape of the zone; the percentages are part of the benchmark's contract
// (bench/README.md).
const (
	glueEvery  = 10  // one delegation in glueEvery has in-bailiwick glue
	dsEvery    = 5   // one delegation in dsEvery has a DS record
	providers  = 500 // out-of-zone name server operators
	apexHosts  = 50  // hostK.nic.tld. A records answered authoritatively
	zoneOrigin = "tld."
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
	if err := writeFile(filepath.Join(dir, "tld.zone"), func(w *bufio.Writer) { writeZone(w, n) }); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 0x78647064))
	sets := []struct {
		name string
		gen  func(w *bufio.Writer)
	}{
		{"referral", func(w *bufio.Writer) {
			for range q {
				fmt.Fprintf(w, "www.d%d.%s A\n", rng.IntN(n), zoneOrigin)
			}
		}},
		{"nxdomain", func(w *bufio.Writer) {
			// "nx" + 12 hex digits never matches a dK or nic label.
			for range q {
				fmt.Fprintf(w, "nx%012x.%s A\n", rng.Uint64()&0xffffffffffff, zoneOrigin)
			}
		}},
		{"apex", func(w *bufio.Writer) {
			for range q {
				switch rng.IntN(3) {
				case 0:
					fmt.Fprintf(w, "%s SOA\n", zoneOrigin)
				case 1:
					fmt.Fprintf(w, "%s NS\n", zoneOrigin)
				default:
					fmt.Fprintf(w, "host%d.nic.%s A\n", rng.IntN(apexHosts), zoneOrigin)
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

func writeZone(w *bufio.Writer, n int) {
	fmt.Fprintf(w, "$ORIGIN %s\n$TTL 86400\n", zoneOrigin)
	fmt.Fprintf(w, "@ IN SOA ns1.nic.%s hostmaster.nic.%s 2024010101 7200 3600 1209600 3600\n", zoneOrigin, zoneOrigin)
	fmt.Fprintf(w, "@ IN NS ns1.nic.%s\n@ IN NS ns2.nic.%s\n", zoneOrigin, zoneOrigin)
	fmt.Fprintf(w, "ns1.nic IN A 192.0.2.1\nns1.nic IN AAAA 2001:db8::1\n")
	fmt.Fprintf(w, "ns2.nic IN A 192.0.2.2\nns2.nic IN AAAA 2001:db8::2\n")
	for i := range apexHosts {
		fmt.Fprintf(w, "host%d.nic IN A 192.0.2.%d\n", i, 10+i)
	}
	for k := range n {
		name := fmt.Sprintf("d%d", k)
		if k%glueEvery == 0 {
			fmt.Fprintf(w, "%s IN NS ns1.%s\n%s IN NS ns2.%s\n", name, name, name, name)
			fmt.Fprintf(w, "ns1.%s IN A 198.51.%d.%d\n", name, (k/250)%256, 1+k%250)
			fmt.Fprintf(w, "ns1.%s IN AAAA 2001:db8:%x:%x::1\n", name, k>>16, k&0xffff)
			fmt.Fprintf(w, "ns2.%s IN A 203.0.%d.%d\n", name, (k/250)%256, 1+k%250)
		} else {
			p := k % providers
			fmt.Fprintf(w, "%s IN NS ns1.prov%d.net.\n%s IN NS ns2.prov%d.net.\n", name, p, name, p)
		}
		if k%dsEvery == 0 {
			// A DS whose digest is a hash of the owner: the right shape, no key behind it.
			sum := sha256.Sum256([]byte(name + "." + zoneOrigin))
			fmt.Fprintf(w, "%s IN DS %d 13 2 %s\n", name, 1000+k%60000, hex.EncodeToString(sum[:]))
		}
	}
}
