//go:build linux

package xdp

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/daemon/hotpath"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// Scale is the compile, load and memory figures of one zone.
type Scale struct {
	Variant     string
	Delegations int
	Signed      bool
	ZoneLoad    time.Duration // zone.LoadFile
	Compile     time.Duration // render.Compile
	ProgLoad    time.Duration // loader.Load: program, verifier, empty generations
	Convert     time.Duration // hotpath.FromRender
	Swap        time.Duration // loader.Swap of the whole image
	Stats       render.Stats
	Chunks      int
	Entries     [4]int // names, answers, templates, chunks
	// Memlock is the kernel's figure (bpftool map show, bytes_memlock)
	// summed over the live generation's data maps; MemlockAll over
	// every map of the loaded program (both slots, config, scratch,
	// counters, outer maps). Floor is entries × (key + value size).
	Memlock, MemlockAll uint64
	MemlockSource       string // "bpftool" or "fdinfo"
	Floor               int64
	PerMap              map[string]uint64
	HeapAfterCompile    uint64
	Coverage            *Coverage
}

// CompileLoad is compile + load + swap: the time from a loaded zone to
// answers in the kernel (the program load counted once).
func (s *Scale) CompileLoad() time.Duration { return s.Compile + s.ProgLoad + s.Convert + s.Swap }

// BytesPerDelegation is the live generation's kernel memory per delegation.
func (s *Scale) BytesPerDelegation() float64 {
	if s.Delegations == 0 {
		return 0
	}
	return float64(s.Memlock) / float64(s.Delegations)
}

// MeasureScale loads the zone file, compiles it, loads the XDP program,
// swaps the image in, reads the kernel's map memory and, when mix.N > 0,
// runs the TLD query mix through the kernel program. The program is
// closed before returning.
func MeasureScale(variant, path string, delegations int, mix MixOptions) (*Scale, error) {
	s := &Scale{Variant: variant, Delegations: delegations}
	t0 := time.Now()
	z, err := zone.LoadFile(Origin, path, zone.Options{})
	if err != nil {
		return nil, err
	}
	s.ZoneLoad = time.Since(t0)
	s.Signed = z.Signed
	set, err := zone.NewSet(z)
	if err != nil {
		return nil, err
	}
	e := engine.New(engine.Config{}, set)
	t0 = time.Now()
	img, err := render.Compile(e)
	if err != nil {
		return nil, err
	}
	s.Compile = time.Since(t0)
	s.Stats = img.Stats
	s.Chunks = img.Chunks()
	if s.Delegations == 0 {
		s.Delegations = img.Stats.Delegations
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.HeapAfterCompile = ms.HeapAlloc

	t0 = time.Now()
	l, err := LoadProgram(e)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	s.ProgLoad = time.Since(t0)
	t0 = time.Now()
	li := hotpath.FromRender(img)
	s.Convert = time.Since(t0)
	s.Entries = [4]int{len(li.NameKeys), len(li.AnswerKeys), len(li.Templates), len(li.Chunks)}
	t0 = time.Now()
	if _, err := l.Swap(li); err != nil {
		return nil, err
	}
	s.Swap = time.Since(t0)
	li = nil
	s.Floor = l.MapBytes()
	if err := s.readMemlock(); err != nil {
		return nil, err
	}
	if mix.N > 0 {
		if s.Coverage, err = RunMix(e, img, l.Program(), delegations, mix); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// bpftoolMap is the part of `bpftool -j map show` read here.
type bpftoolMap struct {
	ID         uint32 `json:"id"`
	Name       string `json:"name"`
	MaxEntries uint32 `json:"max_entries"`
	Memlock    uint64 `json:"bytes_memlock"`
}

// Inner map names (loader: "xdpdns_" + outer name, cut to 15 bytes).
var dataMaps = []string{"xdpdns_names", "xdpdns_answers", "xdpdns_template", "xdpdns_chunks",
	"xdpdns_denial_z", "xdpdns_denial_e", "xdpdns_denial_i"}

// readMemlock sums the kernel's memlock figure over the maps this process
// holds. The maps are found in /proc/self/fdinfo (map IDs); their
// bytes_memlock is read from `bpftool -j map show` (the same kernel
// figure as fdinfo's memlock, which is used where bpftool is missing).
// The live generation's data maps are the xdpdns_* inner maps with more
// than one entry (the idle slot holds one-entry maps).
func (s *Scale) readMemlock() error {
	maps, err := fdinfoMaps()
	if err != nil {
		return err
	}
	s.MemlockSource = "fdinfo"
	if bt, err := bpftoolMaps(); err == nil {
		byID := map[uint32]bpftoolMap{}
		for _, m := range bt {
			byID[m.ID] = m
		}
		found := 0
		for i := range maps {
			if b, ok := byID[maps[i].ID]; ok {
				maps[i].Memlock = b.Memlock
				found++
			}
		}
		if found == len(maps) {
			s.MemlockSource = "bpftool"
		}
	}
	s.PerMap = map[string]uint64{}
	for _, m := range maps {
		s.MemlockAll += m.Memlock
		for _, n := range dataMaps {
			if m.Name == n && m.MaxEntries > 1 {
				s.Memlock += m.Memlock
				s.PerMap[n] += m.Memlock
			}
		}
	}
	return nil
}

func bpftoolMaps() ([]bpftoolMap, error) {
	out, err := exec.Command("bpftool", "-j", "map", "show").Output()
	if err != nil {
		return nil, err
	}
	var all []bpftoolMap
	if err := json.Unmarshal(out, &all); err != nil {
		return nil, err
	}
	return all, nil
}

// fdinfoMaps reads the BPF maps among this process's open files.
func fdinfoMaps() ([]bpftoolMap, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	seen := map[uint32]bool{}
	var out []bpftoolMap
	for _, ent := range ents {
		target, err := os.Readlink("/proc/self/fd/" + ent.Name())
		if err != nil || target != "anon_inode:bpf-map" {
			continue
		}
		b, err := os.ReadFile("/proc/self/fdinfo/" + ent.Name())
		if err != nil {
			continue
		}
		var m bpftoolMap
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			v = strings.TrimSpace(v)
			switch k {
			case "map_id":
				fmt.Sscan(v, &m.ID)
			case "memlock":
				fmt.Sscan(v, &m.Memlock)
			case "max_entries":
				fmt.Sscan(v, &m.MaxEntries)
			}
		}
		if seen[m.ID] {
			continue
		}
		seen[m.ID] = true
		if mp, err := ebpf.NewMapFromID(ebpf.MapID(m.ID)); err == nil {
			if info, err := mp.Info(); err == nil {
				m.Name = info.Name
			}
			mp.Close()
		}
		out = append(out, m)
	}
	return out, nil
}

// MixOptions describe a TLD query mix: referral queries www.dK.tld. A for
// random K, a share NX of NXDOMAIN queries, DO=1 on a share DO, all with
// EDNS (1232).
type MixOptions struct {
	N      int
	NX, DO float64
	Seed   uint64
}

// Coverage is the share of a query mix the XDP program answers, measured
// twice: in the kernel (BPF_PROG_TEST_RUN, each reply compared with the
// engine's) and by render.Model (as bench/cmd/xdpcompile does).
type Coverage struct {
	Mix                   MixOptions
	Kernel, Model         int            // answered with XDP_TX / by the model
	Mismatched            int            // kernel replies that differ from the engine
	Disagree              int            // queries the kernel and the model decide differently
	KernelPass, ModelPass map[string]int // pass reasons
}

// Share is the kernel's answered share in percent.
func (c *Coverage) Share() float64 { return 100 * float64(c.Kernel) / float64(c.Mix.N) }

// ModelShare is the model's answered share in percent.
func (c *Coverage) ModelShare() float64 { return 100 * float64(c.Model) / float64(c.Mix.N) }

// RunMix runs the mix through prog (loaded with img live) and the model.
func RunMix(e *engine.Engine, img *render.Image, prog *ebpf.Program, delegations int, o MixOptions) (*Coverage, error) {
	rng := rand.New(rand.NewPCG(o.Seed, 0x6d6978))
	m := &render.Model{Image: img, UDPSize: e.Config().UDPSize, NSID: e.Config().NSID}
	c := &Coverage{Mix: o, KernelPass: map[string]int{}, ModelPass: map[string]int{}}
	out := make([]byte, 4096)
	for i := range o.N {
		q := Query{Name: fmt.Sprintf("www.d%d.%s", rng.IntN(max(delegations, 1)), Origin), Type: dns.TypeA, EDNS: true, ID: uint16(i)}
		if rng.Float64() < o.NX {
			q.Name = fmt.Sprintf("nx%012x.%s", rng.Uint64()&0xffffffffffff, Origin)
		}
		q.DO = rng.Float64() < o.DO
		pkt := q.Pack()
		reply, reason := m.Reply(pkt)
		if reply != nil {
			c.Model++
		} else {
			c.ModelPass[reason]++
		}
		f := Frame(pkt)
		opts := &ebpf.RunOptions{Data: f, DataOut: out}
		v, err := prog.Run(opts)
		if err != nil {
			return nil, err
		}
		switch v {
		case XDPTX:
			c.Kernel++
			if err := checkReply(e, f, opts.DataOut); err != nil {
				c.Mismatched++
			}
		case XDPPass:
			c.KernelPass[passKind(q)]++
		default:
			return nil, fmt.Errorf("mix query %d (%s DO=%v): verdict %d", i, q.Name, q.DO, v)
		}
		if (v == XDPTX) != (reply != nil) {
			c.Disagree++
		}
	}
	return c, nil
}

func passKind(q Query) string {
	k := "referral"
	if strings.HasPrefix(q.Name, "nx") {
		k = "nxdomain"
	}
	if q.DO {
		return k + " DO=1"
	}
	return k + " DO=0"
}

// SortedKeys returns m's keys in order (for printing).
func SortedKeys(m map[string]int) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}
