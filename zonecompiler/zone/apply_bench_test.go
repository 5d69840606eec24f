package zone

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkApply applies changes of 100 and 1,000 delegations (half new,
// half removed with their glue and DS, and a new SOA serial) one after
// the other to a TLD zone of the benchmark's shape (bench/xdp.WriteZone:
// two NS per delegation, in-bailiwick glue for one in ten, a DS for one
// in five). XDPDNS_APPLY_DELEGATIONS sets the zone's size (default
// 100000; the bench rig's TLD has 1000000). It reports the reload it
// replaces as load-ms, and as index-ms what the first change to a loaded
// zone adds, once, to build the loaded zone's name index.
func BenchmarkApply(b *testing.B) {
	n := 100000
	if s := os.Getenv("XDPDNS_APPLY_DELEGATIONS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 10 {
			b.Fatalf("XDPDNS_APPLY_DELEGATIONS=%q", s)
		}
		n = v
	}
	base, loadTime, indexTime := benchZone(b, n)
	for _, changes := range []int{100, 1000} {
		b.Run(fmt.Sprintf("delegations=%d/changes=%d", n, changes), func(b *testing.B) {
			g := &benchChanges{z: base, n: n, next: n}
			z, _, err := Apply(base, g.change(changes), Options{})
			if err != nil {
				b.Fatal(err)
			}
			g.z = z
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				ch := g.change(changes)
				b.StartTimer()
				nz, _, err := Apply(g.z, ch, Options{})
				if err != nil {
					b.Fatal(err)
				}
				g.z = nz
			}
			b.ReportMetric(float64(loadTime.Milliseconds()), "load-ms")
			b.ReportMetric(float64(indexTime.Milliseconds()), "index-ms")
		})
	}
}

var benchZones sync.Map // delegations → *benchLoaded

type benchLoaded struct {
	once      sync.Once
	z         *Zone
	took, idx time.Duration
	err       error
}

// benchZone loads the TLD zone with n delegations once per process.
func benchZone(b *testing.B, n int) (*Zone, time.Duration, time.Duration) {
	v, _ := benchZones.LoadOrStore(n, &benchLoaded{})
	l := v.(*benchLoaded)
	l.once.Do(func() {
		var buf bytes.Buffer
		writeTLD(&buf, n)
		start := time.Now()
		l.z, l.err = Load(&buf, "tld.", "tld.zone", Options{})
		l.took = time.Since(start)
		if l.err == nil {
			start = time.Now()
			l.z.index()
			l.idx = time.Since(start)
		}
	})
	if l.err != nil {
		b.Fatal(l.err)
	}
	return l.z, l.took, l.idx
}

// writeTLD writes the zone of bench/xdp.WriteZone's shape.
func writeTLD(buf *bytes.Buffer, n int) {
	w := bufio.NewWriter(buf)
	fmt.Fprintf(w, "$ORIGIN tld.\n$TTL 86400\n@ SOA ns1.nic hostmaster.nic 2024010101 7200 3600 1209600 3600\n")
	fmt.Fprintf(w, "@ NS ns1.nic\n@ NS ns2.nic\nns1.nic A 192.0.2.1\nns2.nic A 192.0.2.2\n")
	for k := range n {
		if k%10 == 0 {
			fmt.Fprintf(w, "d%d NS ns1.d%d\nd%d NS ns2.d%d\nns1.d%d A 198.51.%d.%d\nns1.d%d AAAA 2001:db8:%x:%x::1\nns2.d%d A 203.0.%d.%d\n",
				k, k, k, k, k, (k/250)%256, 1+k%250, k, k>>16, k&0xffff, k, (k/250)%256, 1+k%250)
		} else {
			fmt.Fprintf(w, "d%d NS ns1.prov%d.net.\nd%d NS ns2.prov%d.net.\n", k, k%500, k, k%500)
		}
		if k%5 == 0 {
			fmt.Fprintf(w, "d%d DS %d 13 2 %064x\n", k, 1000+k%60000, k)
		}
	}
	w.Flush()
}

// benchChanges makes the successive changes: each removes the next
// delegations dK still in the zone (their records read from it) and adds
// as many new ones, half of them with glue and a DS.
type benchChanges struct {
	z       *Zone
	n       int // delegations dK of the base zone
	removed int // dK removed so far, from d0 up
	next    int // number of the next added delegation
}

func (g *benchChanges) change(changes int) Change {
	var ch Change
	for range changes / 2 {
		for g.removed < g.n {
			name := fmt.Sprintf("d%d.tld.", g.removed)
			g.removed++
			if d := g.z.Node(lowerWire(name)); d != nil {
				ch.Del = append(ch.Del, nodeRecords(d)...)
				for _, ns := range []string{"ns1.", "ns2."} {
					if glue := g.z.Node(lowerWire(ns + name)); glue != nil {
						ch.Del = append(ch.Del, nodeRecords(glue)...)
					}
				}
				break
			}
		}
		k := g.next
		g.next++
		name := fmt.Sprintf("a%d.tld.", k)
		rr := func(s string) {
			r, err := dns.NewRR(s)
			if err != nil {
				panic(err)
			}
			ch.Add = append(ch.Add, r)
		}
		if k%2 == 0 {
			rr(fmt.Sprintf("%s 86400 NS ns1.%s", name, name))
			rr(fmt.Sprintf("%s 86400 NS ns2.%s", name, name))
			rr(fmt.Sprintf("ns1.%s 86400 A 198.51.100.%d", name, k%250))
			rr(fmt.Sprintf("ns2.%s 86400 AAAA 2001:db8::%x:%x", name, k>>16, k&0xffff))
			rr(fmt.Sprintf("%s 86400 DS %d 13 2 %064x", name, k%60000, k))
		} else {
			rr(fmt.Sprintf("%s 86400 NS ns1.prov%d.net.", name, k%500))
			rr(fmt.Sprintf("%s 86400 NS ns2.prov%d.net.", name, k%500))
		}
	}
	soa := dns.Copy(g.z.SOA.RRs()[0].Src()).(*dns.SOA)
	ch.Del = append(ch.Del, g.z.SOA.RRs()[0].Src())
	soa.Serial++
	ch.Add = append(ch.Add, soa)
	return ch
}

func nodeRecords(n *Node) []dns.RR {
	var out []dns.RR
	for s := range n.EachSet {
		for _, rr := range s.RRs() {
			out = append(out, rr.Src())
		}
		for _, rr := range s.Sigs() {
			out = append(out, rr.Src())
		}
	}
	return out
}

// BenchmarkReloadFile reloads a TLD zone file (the shape of benchZone's,
// 100000 delegations or XDPDNS_APPLY_DELEGATIONS) whose SOA serial
// changed: the file read and compared with the served version record by
// record, the one difference applied. B/op is what a reload allocates
// beside the zone it serves.
func BenchmarkReloadFile(b *testing.B) {
	n := 100000
	if s := os.Getenv("XDPDNS_APPLY_DELEGATIONS"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v >= 10 {
			n = v
		}
	}
	var buf bytes.Buffer
	writeTLD(&buf, n)
	path := b.TempDir() + "/tld.zone"
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	served, err := LoadFileContext(b.Context(), "tld.", path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	next := bytes.Replace(buf.Bytes(), []byte(" 2024010101 "), []byte(" 2024010102 "), 1)
	if err := os.WriteFile(path, next, 0o644); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		nz, changed, err := ReloadFile(b.Context(), served, path, Options{})
		if err != nil || changed == nil || nz.Serial != 2024010102 {
			b.Fatalf("reload: %v, changed %v", err, changed)
		}
	}
}
