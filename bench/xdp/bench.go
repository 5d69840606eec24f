//go:build linux

// Package xdp measures the XDP program (bpf/, loaded by loader/) in the
// kernel through BPF_PROG_TEST_RUN, answer class by answer class, beside
// a bare swap-and-XDP_TX reflector and an empty program measured in the
// same run; and the zone compiler and loader at TLD scale (scale.go).
//
// The XDP program rewrites its packet in place, so a repeated test run
// would see its own reply: every input runs once (repeat 1), over many
// inputs. Two clocks are read: the kernel's BPF statistics (run_time_ns /
// run_cnt of the program, enabled with BPF_ENABLE_STATS) and the duration
// BPF_PROG_TEST_RUN returns. Both include the cost of the timing itself,
// which the empty program shows.
package xdp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/xdpdns/xdpdns/daemon/hotpath"
	"github.com/xdpdns/xdpdns/internal/frame"
	"github.com/xdpdns/xdpdns/loader"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// Target is one zone compiled, loaded into its own instance of the XDP
// program and swapped in.
type Target struct {
	Name    string // "unsigned", "nsec3", "nsec"
	Engine  *engine.Engine
	Loader  *loader.Loader
	Records int
}

// LoadTarget loads the zone file (origin tld.), compiles it and loads it
// into a fresh instance of the XDP program (port 53, any address, the
// engine's EDNS size).
func LoadTarget(name, path string) (*Target, error) {
	z, err := zone.LoadFile(Origin, path, zone.Options{})
	if err != nil {
		return nil, err
	}
	set, err := zone.NewSet(z)
	if err != nil {
		return nil, err
	}
	e := engine.New(engine.Config{}, set)
	img, err := render.Compile(e)
	if err != nil {
		return nil, err
	}
	l, err := LoadProgram(e)
	if err != nil {
		return nil, err
	}
	if _, err := l.Swap(hotpath.FromRender(img)); err != nil {
		l.Close()
		return nil, err
	}
	// The image is not kept: at 1M delegations three targets' images
	// would not fit in memory beside their engines.
	return &Target{Name: name, Engine: e, Loader: l}, nil
}

// LoadProgram loads the XDP program configured like e (port 53, any
// destination address), unattached.
func LoadProgram(e *engine.Engine) (*loader.Loader, error) {
	l, err := loader.Load(loader.Options{Ports: []uint16{53}, AnyAddress: true, UDPSize: e.Config().UDPSize, NSID: e.Config().NSID})
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("%+v", ve)
		}
		return nil, err
	}
	return l, nil
}

// Close releases the program and its maps.
func (t *Target) Close() {
	if t != nil && t.Loader != nil {
		t.Loader.Close()
	}
}

// Class is one answer class: a set of query frames that all get the same
// kind of answer from one target.
type Class struct {
	Name, Desc string
	Target     *Target
	Frames     [][]byte // Ethernet/IPv4/UDP query frames
	Verdict    uint32   // XDPTX: every frame must be answered, as the engine does; XDPPass: passed
	PassReason string   // for XDPPass classes: the program's pass counter that counted them (set by Verify)
}

// Query describes one DNS query.
type Query struct {
	Name  string
	Type  uint16
	DO    bool
	EDNS  bool
	ID    uint16
	Class uint16 // 0: IN
}

// Pack returns the query's DNS message (RD set, EDNS 1232 when EDNS).
func (q Query) Pack() []byte {
	m := new(dns.Msg)
	m.Id = q.ID
	m.RecursionDesired = true
	cl := q.Class
	if cl == 0 {
		cl = dns.ClassINET
	}
	m.Question = []dns.Question{{Name: q.Name, Qtype: q.Type, Qclass: cl}}
	if q.EDNS {
		m.SetEdns0(1232, q.DO)
	}
	p, err := m.Pack()
	if err != nil {
		panic(err)
	}
	return p
}

// The query frames' endpoints.
var (
	macClient = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
	macServer = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	ipClient  = netip.MustParseAddr("198.18.0.2")
	ipServer  = netip.MustParseAddr("198.18.0.1")
)

// Frame wraps a DNS payload in Ethernet, IPv4 (198.18.0.2 → 198.18.0.1,
// TTL 63) and UDP (40000 → 53) headers with valid checksums.
func Frame(payload []byte) []byte {
	return frame.Spec{
		DstMAC: macServer, SrcMAC: macClient, Src: ipClient, Dst: ipServer,
		SrcPort: 40000, DstPort: 53, TTL: 63, IPID: 0x1234,
	}.Build(payload)
}

// Setup is everything one measurement run needs.
type Setup struct {
	Delegations     int
	Unsigned, NSEC3 *Target
	NSEC            *Target // the zone signed with NSEC
	Reflector       *ebpf.Program
	Empty           *ebpf.Program
	Classes         []*Class
	Timings         []Timing // how long setting up took, step by step
	dir             string
	stats           io.Closer
	// IngressIfindex, when set, runs every xdpdns frame as received on
	// that interface (not loopback), so that every check applies, the UDP
	// checksum included (it is trusted on loopback). The test-run column is
	// then not measured for xdpdns (RunOptions carries the context;
	// Program.Benchmark cannot).
	IngressIfindex int
}

// runXDP runs frame f through the xdpdns program p once, with the ingress
// interface when one is set. With out it returns the output frame;
// without, the test-run duration (0 when not measured: with an ingress).
func (s *Setup) runXDP(p *ebpf.Program, f, out []byte) (uint32, time.Duration, []byte, error) {
	if s.IngressIfindex == 0 && out == nil {
		v, d, err := p.Benchmark(f, 1, nil)
		return v, d, nil, err
	}
	opts := &ebpf.RunOptions{Data: f, DataOut: out}
	if s.IngressIfindex != 0 {
		opts.Context = &struct {
			Data, DataEnd, DataMeta, IngressIfindex, RxQueueIndex, EgressIfindex uint32
		}{DataEnd: uint32(len(f)), IngressIfindex: uint32(s.IngressIfindex)}
	}
	v, err := p.Run(opts)
	return v, 0, opts.DataOut, err
}

// Timing is one set-up step and its wall time.
type Timing struct {
	Step string
	D    time.Duration
}

// SetupOptions configure NewSetup.
type SetupOptions struct {
	Delegations int // delegations in tld. (default 100000)
	Queries     int // frames per class (default 10000)
	Seed        uint64
	NoSigned    bool // skip the NSEC3-signed zone (and its classes)
	NoNSEC      bool // skip the NSEC-signed zone (and its class)
	// NoUnsigned signs the generated zone without loading it: the
	// unsigned classes are left out (at 1M delegations a run loads one
	// zone at a time).
	NoUnsigned bool
}

// NewSetup generates the zone (and its NSEC3-signed copy), compiles and
// loads both, loads the reflector and the empty program, builds the
// query frames of every class and enables kernel BPF statistics. Close
// releases everything.
func NewSetup(o SetupOptions) (_ *Setup, err error) {
	if o.Delegations <= 0 {
		o.Delegations = 100000
	}
	if o.Queries <= 0 {
		o.Queries = 10000
	}
	s := &Setup{Delegations: o.Delegations}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	step := func(name string, f func() error) error {
		t0 := time.Now()
		if err := f(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		s.Timings = append(s.Timings, Timing{name, time.Since(t0)})
		// Three targets of a 1M-delegation zone fit in memory only if
		// each step's garbage (the compile's) is handed back first.
		debug.FreeOSMemory()
		return nil
	}
	if s.dir, err = os.MkdirTemp("", "xdpbench-"); err != nil {
		return nil, err
	}
	var plain, signed string
	if err = step("generate zone", func() (err error) { plain, err = WriteZoneFile(s.dir, o.Delegations); return }); err != nil {
		return nil, err
	}
	if !o.NoUnsigned {
		if err = step("compile+load unsigned", func() (err error) { s.Unsigned, err = LoadTarget("unsigned", plain); return }); err != nil {
			return nil, err
		}
	}
	if !o.NoSigned {
		if err = step("sign (dnssec-signzone)", func() (err error) { signed, err = SignZone(s.dir, plain); return }); err != nil {
			return nil, err
		}
		if err = step("compile+load nsec3", func() (err error) { s.NSEC3, err = LoadTarget("nsec3", signed); return }); err != nil {
			return nil, err
		}
	}
	if !o.NoNSEC {
		var nsec string
		if err = step("sign NSEC (dnssec-signzone)", func() (err error) { nsec, err = SignZoneNSEC(s.dir, plain); return }); err != nil {
			return nil, err
		}
		if err = step("compile+load nsec", func() (err error) { s.NSEC, err = LoadTarget("nsec", nsec); return }); err != nil {
			return nil, err
		}
	}
	if s.Reflector, err = ebpf.NewProgram(ReflectorSpec()); err != nil {
		return nil, fmt.Errorf("loading the reflector: %w", err)
	}
	if s.Empty, err = ebpf.NewProgram(EmptySpec()); err != nil {
		return nil, fmt.Errorf("loading the empty program: %w", err)
	}
	s.Classes = s.classes(o)
	if s.stats, err = ebpf.EnableStats(unix.BPF_STATS_RUN_TIME); err != nil {
		return nil, fmt.Errorf("enabling BPF statistics: %w", err)
	}
	return s, nil
}

// Close releases the programs, maps, statistics and temporary files.
func (s *Setup) Close() {
	if s.stats != nil {
		s.stats.Close()
	}
	s.Unsigned.Close()
	s.NSEC3.Close()
	s.NSEC.Close()
	for _, p := range []*ebpf.Program{s.Reflector, s.Empty} {
		if p != nil {
			p.Close()
		}
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

func (s *Setup) classes(o SetupOptions) []*Class {
	rng := rand.New(rand.NewPCG(o.Seed, 0x78647062))
	n := o.Delegations
	mk := func(name, desc string, t *Target, verdict uint32, gen func(i int) Query) *Class {
		c := &Class{Name: name, Desc: desc, Target: t, Verdict: verdict}
		for i := range o.Queries {
			q := gen(i)
			q.ID = uint16(i)
			c.Frames = append(c.Frames, Frame(q.Pack()))
		}
		return c
	}
	referral := func(i int) Query {
		return Query{Name: fmt.Sprintf("www.d%d.%s", rng.IntN(n), Origin), Type: dns.TypeA, EDNS: true}
	}
	nx := func(i int) Query {
		return Query{Name: fmt.Sprintf("nx%012x.%s", rng.Uint64()&0xffffffffffff, Origin), Type: dns.TypeA, EDNS: true}
	}
	var cs []*Class
	if s.Unsigned != nil {
		cs = append(cs, mk("exact-A", "`hostK.nic.tld. A` (authoritative answer, unsigned zone)", s.Unsigned, XDPTX, func(i int) Query {
			return Query{Name: fmt.Sprintf("host%d.nic.%s", rng.IntN(ApexHosts), Origin), Type: dns.TypeA, EDNS: true}
		}),
			mk("referral", "`www.dK.tld. A`, random K (referral, unsigned zone, glue for 10%)", s.Unsigned, XDPTX, referral),
			mk("nxdomain", "`nxXXXXXXXXXXXX.tld. A`, DO=0 (NXDOMAIN, SOA in authority)", s.Unsigned, XDPTX, nx),
			// The same name every time: the maps' entries stay in the CPU
			// caches, so the difference to "referral" is the cost of memory.
			mk("referral-hot", "`www.d1.tld. A` every time (one referral, its map entries cached: referral minus cache misses)", s.Unsigned, XDPTX, func(i int) Query {
				return Query{Name: "www.d1." + Origin, Type: dns.TypeA, EDNS: true}
			}))
	}
	if s.NSEC3 != nil {
		cs = append(cs,
			mk("do-referral-ds", "`www.dK.tld. A`, K%5 == 0, DO=1, NSEC3-signed zone (referral with DS and its RRSIG)", s.NSEC3, XDPTX, func(i int) Query {
				return Query{Name: fmt.Sprintf("www.d%d.%s", dsEvery*rng.IntN(max(n/dsEvery, 1)), Origin), Type: dns.TypeA, EDNS: true, DO: true}
			}),
			// An insecure delegation's opt-out proof covers the
			// delegation's own hash: the program reads its place from
			// the delegation's names entry (abi.FlagSlotSelf).
			mk("do-referral-optout", "`www.dK.tld. A`, K%5 != 0, DO=1, NSEC3 opt-out zone (referral with the opt-out proof: the apex's NSEC3, and the one covering the delegation's hash, its place in the name's entry, in the template's slot)", s.NSEC3, XDPTX, func(i int) Query {
				k := rng.IntN(n)
				if k%dsEvery == 0 {
					k = (k + 1) % n
				}
				return Query{Name: fmt.Sprintf("www.d%d.%s", k, Origin), Type: dns.TypeA, EDNS: true, DO: true}
			}),
			// The NSEC3 record covering the next closer name depends on
			// the qname: the program hashes it (SHA-1) and searches the
			// chain (bpf/include/denial.h).
			mk("do-nxdomain-nsec3", "`nxXXXXXXXXXXXX.tld. A`, DO=1, NSEC3-signed zone (SHA-1 of the next closer name, covering NSEC3 searched, put in the template's slot)", s.NSEC3, XDPTX, func(i int) Query {
				q := nx(i)
				q.DO = true
				return q
			}),
		)
	}
	if s.NSEC != nil {
		cs = append(cs, mk("do-nxdomain-nsec", "`nxXXXXXXXXXXXX.tld. A`, DO=1, NSEC-signed zone (the covering NSEC searched by the next closer label, put in the template's slot)", s.NSEC, XDPTX, func(i int) Query {
			q := nx(i)
			q.DO = true
			return q
		}),
			// An insecure delegation's DS NODATA: one template for every
			// delegation of the apex, its own NSEC found by its label in
			// the apex's view (abi.FlagSlotSelf).
			mk("do-ds-nodata-nsec", "`dK.tld. DS`, K%5 != 0, DO=1, NSEC-signed zone (NODATA: the SOA, and the delegation's own NSEC searched by its label in the apex's view, put in the template's slot)", s.NSEC, XDPTX, func(i int) Query {
				k := rng.IntN(n)
				if k%dsEvery == 0 {
					k = (k + 1) % n
				}
				return Query{Name: fmt.Sprintf("d%d.%s", k, Origin), Type: dns.TypeDS, EDNS: true, DO: true}
			}))
	}
	if s.Unsigned != nil {
		cs = append(cs, mk("pass-any", "`www.dK.tld. ANY` (parsed, hashed, then XDP_PASS: the cost of getting to a template)", s.Unsigned, XDPPass, func(i int) Query {
			q := referral(i)
			q.Type = dns.TypeANY
			return q
		}))
	}
	return cs
}

// Verify runs every frame of every class once through its XDP program
// and checks the verdict and, for XDP_TX, that the frame is the query's
// turned around and that the DNS payload equals engine.Respond's reply.
// It also checks the reflector on one frame.
func (s *Setup) Verify() error {
	out := make([]byte, 4096)
	for _, c := range s.Classes {
		before, err := c.Target.Loader.Counters()
		if err != nil {
			return err
		}
		for i, f := range c.Frames {
			v, _, got, err := s.runXDP(c.Target.Loader.Program(), f, out)
			if err != nil {
				return fmt.Errorf("%s: frame %d: %w", c.Name, i, err)
			}
			if v != c.Verdict {
				return fmt.Errorf("%s: frame %d: verdict %d, want %d", c.Name, i, v, c.Verdict)
			}
			if v != XDPTX {
				continue
			}
			if err := checkReply(c.Target.Engine, f, got); err != nil {
				return fmt.Errorf("%s: frame %d: %w", c.Name, i, err)
			}
		}
		if c.Verdict == XDPPass {
			after, err := c.Target.Loader.Counters()
			if err != nil {
				return err
			}
			for k, v := range after {
				if strings.HasPrefix(k, "pass.") && v-before[k] == uint64(len(c.Frames)) {
					c.PassReason = k
				}
			}
		}
	}
	f := s.Classes[0].Frames[0]
	opts := &ebpf.RunOptions{Data: f, DataOut: out}
	v, err := s.Reflector.Run(opts)
	if err != nil {
		return fmt.Errorf("reflector: %w", err)
	}
	r := opts.DataOut
	if v != XDPTX || len(r) != len(f) || string(r[0:6]) != string(f[6:12]) || string(r[26:30]) != string(f[30:34]) ||
		string(r[34:36]) != string(f[36:38]) || string(r[42:]) != string(f[42:]) {
		return fmt.Errorf("reflector: verdict %d, frame not turned around", v)
	}
	return nil
}

// checkReply checks that out is the reply frame to the query frame in:
// addresses and ports swapped, lengths consistent, and the DNS payload
// equal to the engine's reply.
func checkReply(e *engine.Engine, in, out []byte) error {
	q, err := frame.Parse(in)
	if err != nil {
		return fmt.Errorf("query frame: %w", err)
	}
	r, err := frame.Parse(out)
	if err != nil {
		return fmt.Errorf("reply frame: %w", err)
	}
	if !bytes.Equal(r.DstMAC, q.SrcMAC) || !bytes.Equal(r.SrcMAC, q.DstMAC) {
		return fmt.Errorf("MACs not swapped")
	}
	if r.Src != q.Dst || r.Dst != q.Src || r.SrcPort != q.DstPort || r.DstPort != q.SrcPort {
		return fmt.Errorf("addresses or ports not swapped")
	}
	if r.Trailer != 0 {
		return fmt.Errorf("%d bytes after the IP packet", r.Trailer)
	}
	want := e.Respond(nil, q.Payload, false)
	if !bytes.Equal(r.Payload, want) {
		return fmt.Errorf("reply differs from the engine's (%d vs %d bytes)", len(r.Payload), len(want))
	}
	return nil
}

// Result is one class's figures: medians over rounds of the per-round
// mean, in ns per run.
type Result struct {
	Class *Class
	// Kernel BPF statistics (run_time_ns / run_cnt), repeat 1 per frame.
	XDPStats, ReflStats, EmptyStats float64
	// BPF_PROG_TEST_RUN's duration, repeat 1 per frame.
	XDPRun, ReflRun, EmptyRun float64
	// BPF_PROG_TEST_RUN's duration with repeat = Repeat on one frame
	// (valid for the reflector and the empty program only).
	ReflRepeat, EmptyRepeat float64
	// Lowest and highest per-round xdpdns and reflector figures (stats).
	XDPStatsRange, ReflStatsRange [2]float64
	Rounds                        int
}

// Ratio is xdpdns over the reflector by the BPF statistics.
func (r Result) Ratio() float64 { return r.XDPStats / r.ReflStats }

// RatioRun is xdpdns over the reflector by the test-run duration.
func (r Result) RatioRun() float64 { return r.XDPRun / r.ReflRun }

// MeasureOptions configure Measure.
type MeasureOptions struct {
	Rounds int // default 5
	Repeat int // repeat of the reflector's repeated runs (default 10000)
}

// Measure runs, round after round, every class: each frame once through
// the class's XDP program, the reflector and the empty program in turn
// (the order rotating from frame to frame), reading each program's BPF
// statistics before and after; then the reflector and the empty program
// with repeat on the class's first frame. It reports the medians.
func (s *Setup) Measure(o MeasureOptions) ([]Result, error) {
	if o.Rounds <= 0 {
		o.Rounds = 5
	}
	if o.Repeat <= 0 {
		o.Repeat = 10000
	}
	type sample struct{ stats, run [3]float64 }
	samples := make([][]sample, len(s.Classes))
	reflRep := make([][]float64, len(s.Classes))
	emptyRep := make([][]float64, len(s.Classes))
	for r := 0; r < o.Rounds; r++ {
		for ci, c := range s.Classes {
			progs := [3]*ebpf.Program{c.Target.Loader.Program(), s.Reflector, s.Empty}
			var before, after [3]*ebpf.ProgramStats
			var err error
			for j, p := range progs {
				if before[j], err = p.Stats(); err != nil {
					return nil, err
				}
			}
			var sum [3]time.Duration
			for i, f := range c.Frames {
				for k := range 3 {
					j := (i + k) % 3
					var d time.Duration
					var err error
					if j == 0 {
						_, d, _, err = s.runXDP(progs[j], f, nil)
					} else {
						_, d, err = progs[j].Benchmark(f, 1, nil)
					}
					if err != nil {
						return nil, fmt.Errorf("%s: %w", c.Name, err)
					}
					sum[j] += d
				}
			}
			for j, p := range progs {
				if after[j], err = p.Stats(); err != nil {
					return nil, err
				}
			}
			var sm sample
			for j := range 3 {
				cnt := after[j].RunCount - before[j].RunCount
				if cnt != uint64(len(c.Frames)) {
					return nil, fmt.Errorf("%s: program %d ran %d times, want %d (attached somewhere?)", c.Name, j, cnt, len(c.Frames))
				}
				sm.stats[j] = float64(after[j].Runtime-before[j].Runtime) / float64(cnt)
				sm.run[j] = float64(sum[j]) / float64(len(c.Frames))
			}
			samples[ci] = append(samples[ci], sm)
			_, d, err := s.Reflector.Benchmark(c.Frames[0], o.Repeat, nil)
			if err != nil {
				return nil, err
			}
			reflRep[ci] = append(reflRep[ci], float64(d))
			if _, d, err = s.Empty.Benchmark(c.Frames[0], o.Repeat, nil); err != nil {
				return nil, err
			}
			emptyRep[ci] = append(emptyRep[ci], float64(d))
		}
	}
	var res []Result
	for ci, c := range s.Classes {
		col := func(f func(sample) float64) []float64 {
			var v []float64
			for _, sm := range samples[ci] {
				v = append(v, f(sm))
			}
			return v
		}
		xs := col(func(sm sample) float64 { return sm.stats[0] })
		rs := col(func(sm sample) float64 { return sm.stats[1] })
		res = append(res, Result{
			Class:          c,
			XDPStats:       median(xs),
			ReflStats:      median(rs),
			EmptyStats:     median(col(func(sm sample) float64 { return sm.stats[2] })),
			XDPRun:         median(col(func(sm sample) float64 { return sm.run[0] })),
			ReflRun:        median(col(func(sm sample) float64 { return sm.run[1] })),
			EmptyRun:       median(col(func(sm sample) float64 { return sm.run[2] })),
			ReflRepeat:     median(reflRep[ci]),
			EmptyRepeat:    median(emptyRep[ci]),
			XDPStatsRange:  [2]float64{slices.Min(xs), slices.Max(xs)},
			ReflStatsRange: [2]float64{slices.Min(rs), slices.Max(rs)},
			Rounds:         o.Rounds,
		})
	}
	return res, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
