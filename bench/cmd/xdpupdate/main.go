//go:build linux

// Command xdpupdate measures zone changes written into the live XDP maps
// on the benchmark's TLD zone, as xdpdnsd does on a reload: for each
// change size it edits the zone (half new delegations, half removed ones,
// a new SOA serial), loads it, renders the change alone (render.Recompile)
// and writes it in place (loader.UpdatePartial), timing each; checks
// through the program (BPF_PROG_TEST_RUN) that an added delegation gets
// its referral, a removed one NXDOMAIN and the apex SOA the new serial,
// all equal to the engine's bytes; then compiles the version whole and
// writes it (loader.Update), which must find nothing left to change, for
// the time it takes beside.
//
//	xdpupdate [-delegations 1000000] [-changes 0,100,1000]
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/bench/xdp"
	"github.com/xdpdns/xdpdns/daemon/hotpath"
	"github.com/xdpdns/xdpdns/loader"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

func main() {
	n := flag.Int("delegations", 1000000, "delegations in the zone")
	changes := flag.String("changes", "0,100,1000", "changed delegations per step (0: the SOA serial only)")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the Recompile calls to this file")
	flag.Parse()
	var steps []int
	for _, s := range strings.Split(*changes, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || c < 0 {
			fmt.Fprintln(os.Stderr, "xdpupdate: bad -changes")
			os.Exit(2)
		}
		steps = append(steps, c)
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "xdpupdate:", err)
			os.Exit(1)
		}
		defer f.Close()
		profileTo = f
	}
	if err := run(*n, steps); err != nil {
		fmt.Fprintln(os.Stderr, "xdpupdate:", err)
		os.Exit(1)
	}
}

// version is the zone text with serial s, the delegations added (aK) and
// removed (dK) so far.
type version struct {
	base    []byte
	serial  int
	added   []int
	removed map[int]bool
}

func (v *version) text() []byte {
	var b bytes.Buffer
	b.Grow(len(v.base) + 64*len(v.added))
	for _, line := range bytes.SplitAfter(v.base, []byte("\n")) {
		if bytes.Contains(line, []byte(" SOA ")) {
			line = bytes.Replace(line, []byte("2024010101"), []byte(strconv.Itoa(v.serial)), 1)
		} else if len(line) > 1 && line[0] == 'd' {
			if k, err := strconv.Atoi(string(line[1:bytes.IndexByte(line, ' ')])); err == nil && v.removed[k] {
				continue
			}
		}
		b.Write(line)
	}
	for _, k := range v.added {
		fmt.Fprintf(&b, "a%d IN NS ns1.prov%d.net.\na%d IN NS ns2.prov%d.net.\n", k, k%500, k, k%500)
	}
	return b.Bytes()
}

func run(n int, steps []int) error {
	var base bytes.Buffer
	if err := xdp.WriteZone(&base, n); err != nil {
		return err
	}
	v := &version{base: base.Bytes(), serial: 2024010101, removed: map[int]bool{}}
	fmt.Printf("zone: %d delegations, %d MB; GOMAXPROCS %d, %s\n", n, base.Len()>>20, runtime.GOMAXPROCS(0), runtime.Version())
	e, rimg, tl, tc, err := compile(v.text())
	if err != nil {
		return err
	}
	img := hotpath.FromRender(rimg)
	inc := rimg.Incremental
	rimg = nil
	l, err := xdp.LoadProgram(e)
	if err != nil {
		return err
	}
	defer l.Close()
	t0 := time.Now()
	if _, err := l.Swap(img); err != nil {
		return err
	}
	fmt.Printf("first generation: load %.2f s, compile %.2f s, swap %.2f s; %s\n", tl.Seconds(), tc.Seconds(), time.Since(t0).Seconds(), memory())
	fmt.Println("| changed delegations | IXFR: zone.Apply (ms) | Recompile (ms) | names rendered | UpdatePartial (ms: plan + write + grace + settle) | names written | answers written | templates new / rewritten | IXFR total (ms) | allocated (MiB) | reload: load (s) + Recompile (ms) | full compile + Update (s) | checked |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|")
	next := n
	for i, c := range steps {
		v.serial++
		var added, removed []int
		for j := 0; j < c/2; j++ {
			v.added = append(v.added, next)
			added = append(added, next)
			next++
		}
		for j := 0; j < c-c/2; j++ {
			k := 1 + (i*7919+j*104729)%(n-1)
			if k%10 == 0 {
				k++ // a delegation without glue: two lines to drop
			}
			if !v.removed[k] {
				v.removed[k] = true
				removed = append(removed, k)
			}
		}
		// The reload: the whole file loaded, the versions compared.
		re, tl, err := load(v.text())
		if err != nil {
			return err
		}
		t0 := time.Now()
		if _, _, err := render.Recompile(inc, e, re, nil); err != nil {
			return fmt.Errorf("recompile of the reloaded version: %w", err)
		}
		trl := time.Since(t0)
		re = nil
		// The IXFR: the change applied to the served version, its
		// changed names handed over.
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		t0 = time.Now()
		z0 := e.Zones().Zones()[0]
		nz, changed, err := zone.Apply(z0, change(z0, v.serial, added, removed), zone.Options{})
		if err != nil {
			return fmt.Errorf("zone.Apply of %d changes: %w", c, err)
		}
		set, err := zone.NewSet(nz)
		if err != nil {
			return err
		}
		ne := engine.New(engine.Config{}, set)
		ta := time.Since(t0)
		t0 = time.Now()
		if profileTo != nil {
			_ = pprof.StartCPUProfile(profileTo)
		}
		d, next, err := render.Recompile(inc, e, ne, map[string][][]byte{string(nz.Origin.Lower): changed.Names})
		if profileTo != nil {
			pprof.StopCPUProfile()
			profileTo = nil
		}
		if err != nil {
			return fmt.Errorf("recompile of %d changes: %w", c, err)
		}
		trc := time.Since(t0)
		t0 = time.Now()
		st, err := l.UpdatePartial(hotpath.DeltaFromRender(d))
		if err != nil {
			return fmt.Errorf("update of %d changes: %w", c, err)
		}
		tu := time.Since(t0)
		runtime.ReadMemStats(&ms1)
		alloc := float64(ms1.TotalAlloc-ms0.TotalAlloc) / (1 << 20)
		e, inc = ne, next
		checked, err := check(l, e, added, removed)
		if err != nil {
			return err
		}
		// The whole compile of the same version, for comparison (and
		// the check that it changes nothing more).
		t0 = time.Now()
		full, err := render.Compile(e)
		if err != nil {
			return err
		}
		fst, err := l.Update(hotpath.FromRender(full))
		if err != nil {
			return err
		}
		tf := time.Since(t0)
		full = nil
		debug.FreeOSMemory()
		if n := fst.NamesChanged + fst.NamesAdded + fst.NamesGone + fst.AnswersChanged + fst.AnswersGone; n != 0 {
			return fmt.Errorf("after the incremental update, the full compile still changes %d entries", n)
		}
		fmt.Printf("| %d | %.1f | %.1f | %d | %.1f (%.1f + %.1f + %.1f + %.1f) | %d | %d | %d / %d | %.1f | %.1f | %.2f + %.0f | %.1f | %s |\n", c, ms(ta), ms(trc), len(d.Image.Names),
			ms(tu), ms(st.Plan), ms(st.Write), ms(st.Grace), ms(st.Settle),
			st.NamesChanged+st.NamesAdded+st.NamesGone, st.AnswersChanged+st.AnswersGone, st.Templates, st.InPlace,
			ms(ta+trc+tu), alloc, tl.Seconds(), ms(trl), tf.Seconds(), checked)
		_ = tc
	}
	fmt.Println(memory())
	return nil
}

// change is the IXFR from z to serial: the delegations added (aK, two
// NS each) and removed (dK with their NS and DS; no glue, see run), and
// the new SOA.
func change(z *zone.Zone, serial int, added, removed []int) zone.Change {
	var ch zone.Change
	soa := z.SOA.RRs[0].Src()
	ch.Del = append(ch.Del, soa)
	nsoa := dns.Copy(soa).(*dns.SOA)
	nsoa.Serial = uint32(serial)
	ch.Add = append(ch.Add, nsoa)
	for _, k := range removed {
		name := fmt.Sprintf("d%d.%s", k, xdp.Origin)
		buf := make([]byte, 256)
		n, _ := dns.PackDomainName(name, buf, 0, nil, false)
		if node := z.Node(buf[:n]); node != nil {
			for _, s := range node.Sets {
				for _, rr := range s.RRs {
					ch.Del = append(ch.Del, rr.Src())
				}
			}
		}
	}
	for _, k := range added {
		for _, ns := range []string{"ns1", "ns2"} {
			rr, err := dns.NewRR(fmt.Sprintf("a%d.%s 86400 IN NS %s.prov%d.net.", k, xdp.Origin, ns, k%500))
			if err == nil {
				ch.Add = append(ch.Add, rr)
			}
		}
	}
	return ch
}

// load loads text as xdpdnsd does.
func load(text []byte) (*engine.Engine, time.Duration, error) {
	t0 := time.Now()
	z, err := zone.Load(bytes.NewReader(text), xdp.Origin, "tld.zone", zone.Options{})
	if err != nil {
		return nil, 0, err
	}
	set, err := zone.NewSet(z)
	if err != nil {
		return nil, 0, err
	}
	return engine.New(engine.Config{}, set), time.Since(t0), nil
}

// compile loads text and compiles it whole.
func compile(text []byte) (*engine.Engine, *render.Image, time.Duration, time.Duration, error) {
	e, tl, err := load(text)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	t0 := time.Now()
	rimg, err := render.Compile(e)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	tc := time.Since(t0)
	debug.FreeOSMemory()
	return e, rimg, tl, tc, nil
}

// check sends a query for the first added and the first removed
// delegation through the program and compares with the engine.
func check(l *loader.Loader, e *engine.Engine, added, removed []int) (string, error) {
	var names []string
	if len(added) > 0 {
		names = append(names, fmt.Sprintf("www.a%d.%s", added[0], xdp.Origin))
	}
	if len(removed) > 0 {
		names = append(names, fmt.Sprintf("www.d%d.%s", removed[0], xdp.Origin))
	}
	names = append(names, xdp.Origin) // the apex SOA: the new serial
	var kinds []string
	for _, name := range names {
		qt := dns.TypeA
		if name == xdp.Origin {
			qt = dns.TypeSOA
		}
		q := xdp.Query{Name: name, Type: qt, EDNS: true}.Pack()
		opts := &ebpf.RunOptions{Data: xdp.Frame(q), DataOut: make([]byte, 4096)}
		verdict, err := l.Program().Run(opts)
		if err != nil {
			return "", err
		}
		want := e.Respond(nil, q, false)
		if verdict != 3 || !bytes.Contains(opts.DataOut, want[2:]) {
			return "", errors.New(name + ": the program's reply is not the engine's")
		}
		m := new(dns.Msg)
		if err := m.Unpack(want); err != nil {
			return "", err
		}
		kinds = append(kinds, dns.RcodeToString[m.Rcode])
	}
	return strings.Join(kinds, ", "), nil
}

// memory is the process's resident and peak size.
func memory() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS") || strings.HasPrefix(line, "VmHWM") {
			out = append(out, strings.Join(strings.Fields(line), " "))
		}
	}
	return strings.Join(out, ", ")
}

// profileTo receives the CPU profile of the first Recompile.
var profileTo *os.File

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
