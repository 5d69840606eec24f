//go:build linux

// Package loader loads the XDP program (package bpf) with cilium/ebpf,
// attaches it to interfaces, and swaps whole generations of zone data
// atomically.
//
// The four data maps (names, answers, templates, chunks) are inner maps of
// two-slot outer maps; config.gen says which slot is live. Swap builds a
// fresh set of inner maps sized to the new image, installs it in the idle
// slot, flips config.gen with one atomic 32-bit store into the mmapped
// config map, waits for an RCU grace period (so no program run still holds
// the old slot), then puts the live maps in the old slot too, which frees
// the old ones (and leaves both slots naming the maps Update changes in
// place). Every packet reads config.gen once, so it is answered
// entirely from one generation.
package loader

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/xdpdns/xdpdns/bpf"
	"github.com/xdpdns/xdpdns/bpf/abi"
)

const (
	// DefaultGrace is how long Swap waits before freeing the old
	// generation when the kernel cannot wait for an RCU grace period
	// itself (membarrier unavailable).
	DefaultGrace = 50 * time.Millisecond
)

// Sentinel errors; returned errors wrap them with context.
var (
	ErrOptions     = errors.New("loader: invalid options")
	ErrImage       = errors.New("loader: invalid image")
	ErrClosed      = errors.New("loader: closed")
	ErrAttach      = errors.New("loader: cannot attach XDP program")
	ErrAttached    = errors.New("loader: interface already attached")
	ErrNotAttached = errors.New("loader: interface not attached")
)

// Attach names an interface and how to attach to it.
type Attach struct {
	Iface string
	Mode  Mode
}

// RRL configures the program's response rate limiting: the fields of
// rrl.Config with its defaults applied (the loader imports only the BPF
// side; cmd/xdpdnsd copies them).
type RRL struct {
	Rate             int           // responses per second per bucket; 0: off
	Slip             int           // every Slip-th limited reply sent TC=1; 0: none
	Prefix4, Prefix6 int           // client prefix bits of a bucket
	Window           time.Duration // the debt a bucket may run up (at least 1 s)
	Exempt           []netip.Prefix
	TableSize        int // rrl_buckets entries (per CPU)
}

// Options configure Load.
type Options struct {
	Attach []Attach
	Ports  []uint16 // UDP ports served (1 to abi.MaxPorts)
	// Destinations served: the Prefixes, plus with HostAddresses every
	// address of the host (tracked through netlink as addresses come and
	// go: what a wildcard listen means). AnyAddress serves every unicast
	// destination instead; it is for tests and benchmarks only (the node
	// would answer queries meant for other hosts). One of the three is
	// required.
	Prefixes      []netip.Prefix
	HostAddresses bool
	AnyAddress    bool
	// DropSourcePorts are UDP source ports whose queries are dropped
	// (XDP_DROP, counted): no reply may go to them (srcport).
	DropSourcePorts []uint16
	// VLANs are VLAN ids served besides those configured on the attached
	// interfaces (found at Attach and tracked through netlink).
	VLANs []uint16
	// TapSample, when not 0, copies one answered query in TapSample (at
	// most TapRate a second per CPU) to the tap_events ring buffer of
	// TapRingSize bytes (0: the object's default); read them with
	// ReadTaps.
	TapSample, TapRate uint32
	TapRingSize        uint32
	// RRL is response rate limiting of the program's replies, with the
	// semantics of package rrl (Rate 0: off).
	RRL RRL
	// Cookies is abi.CookiesOff, CookiesOn (the program answers DNS
	// Cookies with server cookies made with CookieSecret, 16 bytes) or
	// CookiesRequired (a query without a valid one goes to userspace).
	Cookies      uint32
	CookieSecret []byte
	UDPSize      uint16 // the server's EDNS UDP size (required, at least 512: engine.Config().UDPSize)
	NSID         []byte // NSID sent to clients that ask (nil: none)
	// Grace is the fallback wait between flipping generations and freeing
	// the old one when membarrier(2) cannot provide an RCU grace period
	// (0: DefaultGrace).
	Grace time.Duration
}

// Image is the content of one generation of the data maps, produced by
// the zone compiler. NameKeys[i] maps to NameVals[i], AnswerKeys[i] to
// AnswerVals[i], in any order (a swap that builds its tables reorders
// them, pairs kept); Templates is indexed by template id ([0] unused)
// and Chunks by chunk index.
type Image struct {
	NameKeys   []bpf.XdpNameKey
	NameVals   []bpf.XdpNameVer
	AnswerKeys []bpf.XdpNameKey
	AnswerVals []bpf.XdpAnswerVer
	Templates  []bpf.XdpTmpl
	// SharedTemplates ([0] unused) are the templates ids with
	// abi.SharedTmpl name (id &^ abi.SharedTmpl indexes them): those
	// many entries refer to (render.Template.Shared), which Update
	// rewrites in place.
	SharedTemplates []bpf.XdpTmpl
	Chunks          []bpf.XdpChunk
	// Signed denial: DenialZones is indexed by a template's denial_zone
	// ([0] unused), DenialEntries and DenialIndex by the absolute indexes
	// the zones give.
	DenialZones   []bpf.XdpDenialZone
	DenialEntries []bpf.XdpDenialEntry
	DenialIndex   []uint32
	// DenialNames[i], when set, is what denial zone i is the chain of:
	// its zone's apex, or the NSEC closest encloser its entries are
	// below (lower-case wire form). An update whose zone of a live zone's
	// name has other content gives that live zone the new content in
	// place: every template reading it reads the new one after the flip
	// (a changed NSEC3 chain, without a template rewritten). A zone
	// without a name is known by its content.
	DenialNames [][]byte
	// DenialRefs[i]: zone i of a Delta is the live zone of its name as
	// it is (an unchanged chain): its header and entries are not in the
	// image, the update finds it live by its name (ErrNoUpdate when it
	// is not).
	DenialRefs []bool
	// DenialPatches[i], when set, makes zone i of a Delta a patch of the
	// live zone of its name (a changed chain): its header and index are
	// here; of its EntryCount entries, those in the patch's Runs are the
	// live zone's (copied with their pieces), the others are
	// DenialEntries[EntryBase+k], at slot Slots[k] of the zone.
	DenialPatches []*DenialPatch
	// NameFilter is the Bloom filter of the names keys (abi.NameFilter;
	// empty: none, every name is looked up).
	NameFilter []uint64
}

// GenStatus describes the maps of one generation slot.
type GenStatus struct {
	Slot                              uint32
	Serial                            uint32 // Swap's number for it; 0: empty
	Live                              bool
	Names, Answers, Templates, Chunks int
}

// Attachment is an interface the program is attached to and the mode used.
type Attachment struct {
	Iface string
	Mode  Mode // ModeNative or ModeGeneric, never ModeAuto
	// TCIngress reports that the tc ingress companion (xdpdns_tc, which
	// answers the replies too large for the XDP frame) is attached too;
	// TCErr says why not (tcx needs Linux 6.6).
	TCIngress bool
	TCErr     string
}

// Status is a snapshot of the loader's state.
type Status struct {
	Attachments []Attachment
	Generation  uint32 // serial of the live generation (0: none swapped in yet)
	Slot        uint32 // live slot (config.gen)
	Gens        [2]GenStatus
}

type attachment struct {
	Attachment
	link link.Link
	tc   link.Link // nil: the tc companion could not be attached
}

// close detaches the XDP program and its tc companion.
func (a attachment) close() error {
	var errs []error
	if a.tc != nil {
		errs = append(errs, a.tc.Close())
	}
	errs = append(errs, a.link.Close())
	return errors.Join(errs...)
}

// generation is one slot's inner maps and what was put in them.
type generation struct {
	names                      *nameTable
	namesSide                  *ebpf.Map // names_side: capNamesSide / 2 entries a turn
	answers                    *answerTable
	templates, chunks          *ebpf.Map
	sharedTemplates            *ebpf.Map
	denialZones, denialEntries *ebpf.Map
	denialIndex, nameFilter    *ebpf.Map
	serial                     uint32
	counts                     [4]int
	caps                       [capMaps]int // max entries of each map, by cap*
	// sideTurn is the half of namesSide the next update writes (updates
	// take turns); side[h] is when half h was last read from.
	sideTurn uint32
	side     [2]sideUse
	sideOpen uint32 // 1 + the half the update in progress wrote (0: none)
}

// sideUse says when a half of names_side was last read from: used, the
// update that pointed names entries to it ended when Loader.graces was
// grace (a packet may read it until a grace period after that).
type sideUse struct {
	used  bool
	grace uint64
}

// Indexes of generation.caps, in the order of generation.maps.
const (
	capNames = iota
	capAnswers
	capTemplates
	capChunks
	capDenialZones
	capDenialEntries
	capDenialIndex
	capNameFilter
	capSharedTemplates
	capNamesSide
	capMaps
)

// maps lists the generation's inner maps in the order of Loader.outer.
func (g *generation) maps() []*ebpf.Map {
	return []*ebpf.Map{g.names.bpfMap(), g.answers.bpfMap(), g.templates, g.chunks, g.denialZones, g.denialEntries, g.denialIndex, g.nameFilter, g.sharedTemplates, g.namesSide}
}

func (g *generation) close() {
	for _, m := range g.maps() {
		if m != nil {
			m.Close()
		}
	}
}

// Loader owns the loaded program, its maps and its attachments.
type Loader struct {
	mu     sync.Mutex
	opts   Options
	spec   *ebpf.CollectionSpec
	objs   bpf.XdpObjects
	cfgMem []byte  // mmap of config_map; gen at offset 0
	gen    *uint32 // &cfgMem[0]
	slot   uint32
	serial uint32
	graces uint64         // grace periods waited (synchronize)
	gens   [2]*generation // both slots name the same one after an Update
	// live records the live generation's content for Update (update.go);
	// nil when there is none to update. Swap has it made in the
	// background (pending), SwapLater when it is next needed (record):
	// settleLive waits for it, or makes it.
	live    *liveState
	pending chan *liveState
	record  func() *liveState
	hasher  *hasher
	// tableSeed draws each names and answers table's seed (nil: at random; tests set
	// it to build chosen layouts).
	tableSeed func() uint64
	links     []attachment
	closed    bool
	// stageHook, when set (tests), is called inside an update with its
	// maps' lock held: "written" once the new versions are written and
	// before the flip, "flipped" after the flip's grace period, before
	// the entries settle.
	stageHook func(stage string)
	// watch is the netlink side: host addresses and the attached
	// interfaces' VLANs and MACs (netwatch.go).
	watch watcher
	// taps reads the dnstap samples (ReadTaps); nil until then.
	taps *ringbuf.Reader
}

// Load loads the program and its maps into the kernel without attaching
// it, writes the configuration and installs empty generations, then
// attaches to opts.Attach.
func Load(opts Options) (*Loader, error) {
	if err := checkOptions(&opts); err != nil {
		return nil, err
	}
	spec, err := bpf.LoadXdp()
	if err != nil {
		return nil, fmt.Errorf("loader: reading the XDP object: %w", err)
	}
	l := &Loader{opts: opts, spec: spec, hasher: newHasher()}
	if opts.RRL.Rate > 0 {
		spec.Maps[bpf.XdpMapRrlBuckets].MaxEntries = uint32(opts.RRL.TableSize)
	}
	if opts.TapRingSize != 0 {
		spec.Maps[bpf.XdpMapTapEvents].MaxEntries = opts.TapRingSize
	}
	if err := spec.LoadAndAssign(&l.objs, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("loader: loading the XDP program: %+v", ve)
		}
		return nil, fmt.Errorf("loader: loading the XDP program: %w", err)
	}
	if err := l.init(); err != nil {
		l.Close()
		return nil, err
	}
	for _, a := range opts.Attach {
		if err := l.Attach(a); err != nil {
			l.Close()
			return nil, err
		}
	}
	return l, nil
}

func checkOptions(o *Options) error {
	if len(o.Ports) == 0 || len(o.Ports) > abi.MaxPorts {
		return fmt.Errorf("%w: %d ports (want 1 to %d)", ErrOptions, len(o.Ports), abi.MaxPorts)
	}
	for _, p := range o.Ports {
		if p == 0 {
			return fmt.Errorf("%w: port 0", ErrOptions)
		}
	}
	if len(o.NSID) > abi.MaxNSID {
		return fmt.Errorf("%w: NSID of %d bytes (at most %d in XDP)", ErrOptions, len(o.NSID), abi.MaxNSID)
	}
	for _, p := range o.Prefixes {
		if !p.IsValid() {
			return fmt.Errorf("%w: invalid prefix", ErrOptions)
		}
	}
	if o.Cookies != abi.CookiesOff && len(o.CookieSecret) != len(bpf.XdpConfig{}.CookieSecret) {
		return fmt.Errorf("%w: cookies need a secret of %d bytes", ErrOptions, len(bpf.XdpConfig{}.CookieSecret))
	}
	if r := o.RRL; r.Rate < 0 || (r.Rate > 0 && (r.Rate > 1e9 || r.Slip < 0 || r.Prefix4 < 0 || r.Prefix4 > 32 ||
		r.Prefix6 < 0 || r.Prefix6 > 128 || r.Window < time.Second || r.TableSize < 2)) {
		return fmt.Errorf("%w: rate limiting %+v", ErrOptions, r)
	}
	if len(o.Prefixes) == 0 && !o.HostAddresses && !o.AnyAddress {
		return fmt.Errorf("%w: no destination served (Prefixes, HostAddresses or AnyAddress)", ErrOptions)
	}
	for _, v := range o.VLANs {
		if v == 0 || v >= abi.VLANIDs-1 {
			return fmt.Errorf("%w: VLAN id %d", ErrOptions, v)
		}
	}
	if o.UDPSize < 512 {
		return fmt.Errorf("%w: UDP size %d (want the engine's, at least 512)", ErrOptions, o.UDPSize)
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	return nil
}

// init writes config and served_addrs, maps config and installs two empty
// generations.
func (l *Loader) init() error {
	cfg := bpf.XdpConfig{UdpSize: l.opts.UDPSize, NsidLen: uint16(len(l.opts.NSID)),
		TapSample: l.opts.TapSample, TapRate: l.opts.TapRate}
	copy(cfg.Nsid[:], l.opts.NSID)
	copy(cfg.Ports[:], l.opts.Ports)
	if l.opts.AnyAddress {
		cfg.AnyAddr = 1
	}
	cfg.Cookies = l.opts.Cookies
	copy(cfg.CookieSecret[:], l.opts.CookieSecret)
	cfg.CookieTaiOffset = taiOffset()
	if r := l.opts.RRL; r.Rate > 0 {
		cfg.RrlInterval = uint64(time.Second) / uint64(r.Rate)
		cfg.RrlWindow = uint64(r.Window)
		cfg.RrlSlip = uint32(r.Slip)
		cfg.RrlPrefix4, cfg.RrlPrefix6 = uint32(r.Prefix4), uint32(r.Prefix6)
		cfg.RrlExempt = uint32(len(r.Exempt))
		for _, p := range r.Exempt {
			if err := l.objs.RrlExempt.Put(addrKey(p), uint8(1)); err != nil {
				return fmt.Errorf("loader: rrl-exempt %s: %w", p, err)
			}
		}
	}
	if err := l.objs.ConfigMap.Put(uint32(0), &cfg); err != nil {
		return fmt.Errorf("loader: writing config: %w", err)
	}
	for _, p := range l.opts.Prefixes {
		if err := l.objs.ServedAddrs.Put(addrKey(p), uint8(1)); err != nil {
			return fmt.Errorf("loader: adding served prefix %s: %w", p, err)
		}
	}
	var bits [abi.PortWords]uint64
	for _, p := range l.opts.DropSourcePorts {
		bits[p/64] |= 1 << (p % 64)
	}
	for w, b := range bits {
		if b != 0 {
			if err := l.objs.DropPorts.Put(uint32(w), b); err != nil {
				return fmt.Errorf("loader: writing drop_ports: %w", err)
			}
		}
	}
	for _, v := range l.opts.VLANs {
		if err := l.allowVLAN(v); err != nil {
			return err
		}
	}
	if l.opts.HostAddresses {
		if err := l.watchHostAddresses(); err != nil {
			return err
		}
	}
	mem, err := unix.Mmap(l.objs.ConfigMap.FD(), 0, os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("loader: mapping config: %w", err)
	}
	l.cfgMem = mem
	l.gen = (*uint32)(unsafe.Pointer(&mem[0]))
	for slot := uint32(0); slot < 2; slot++ {
		g, err := l.newGeneration(&Image{}, false)
		if err != nil {
			return err
		}
		if err := l.install(slot, g); err != nil {
			g.close()
			return err
		}
	}
	atomic.StoreUint32(l.gen, 0)
	return nil
}

// addrKey is the LPM key of a prefix: IPv4 as IPv4-mapped IPv6.
func addrKey(p netip.Prefix) bpf.XdpAddrKey {
	p = p.Masked()
	k := bpf.XdpAddrKey{Prefixlen: uint32(p.Bits())}
	a := p.Addr()
	if a.Is4() {
		k.Prefixlen += 96
		a = netip.AddrFrom16(a.As16())
	}
	k.Addr = a.As16()
	return k
}

// newGeneration creates inner maps sized to img (with room for updates
// when slack) and fills them.
func (l *Loader) newGeneration(img *Image, slack bool) (*generation, error) {
	if err := checkImage(img); err != nil {
		return nil, err
	}
	g := &generation{}
	var err error
	mk := func(outer string, n int) (*ebpf.Map, error) {
		inner := l.innerSpec(outer)
		inner.MaxEntries = uint32(max(n, 1))
		m, err := ebpf.NewMap(inner)
		if err != nil {
			return nil, fmt.Errorf("loader: creating %s map (%d entries): %w", outer, n, err)
		}
		return m, nil
	}
	defer func() {
		if err != nil {
			g.close()
		}
	}()
	// Each inner map, created to the image's size and filled.
	var extra [capMaps]int
	if slack {
		extra = rewriteRoom(img)
	}
	type innerMap struct {
		outer string
		m     **ebpf.Map
		n     int
		fill  func(*ebpf.Map) error
	}
	maps := []innerMap{
		{bpf.XdpMapNames, nil, len(img.NameKeys), nil}, // the tables: see below
		{bpf.XdpMapAnswers, nil, len(img.AnswerKeys), nil},
		{bpf.XdpMapTemplates, &g.templates, len(img.Templates), fillMapped(img.Templates)},
		{bpf.XdpMapChunks, &g.chunks, len(img.Chunks), fillMapped(img.Chunks)},
		{bpf.XdpMapDenialZones, &g.denialZones, len(img.DenialZones), fillArray(bothVersions(img.DenialZones, zoneVersions))},
		{bpf.XdpMapDenialEntries, &g.denialEntries, len(img.DenialEntries), fillMapped(img.DenialEntries)},
		{bpf.XdpMapDenialIndex, &g.denialIndex, len(img.DenialIndex), fillArray(img.DenialIndex)},
		{bpf.XdpMapNameFilter, &g.nameFilter, len(img.NameFilter), fillArray(img.NameFilter)},
		{bpf.XdpMapSharedTemplates, &g.sharedTemplates, len(img.SharedTemplates), fillArray(bothVersions(img.SharedTemplates, tmplVersions))},
		{bpf.XdpMapNamesSide, &g.namesSide, 0, func(*ebpf.Map) error { return nil }}, // sized below
	}
	// Two at a time: the kernel's work of filling a TLD's maps (seconds)
	// on both cores of a small node.
	errs := make([]error, len(maps))
	var wg sync.WaitGroup
	next := make(chan int, len(maps))
	for i := range maps {
		next <- i
	}
	close(next)
	for range min(fillWorkers, len(maps)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				in := maps[i]
				n := in.n
				// A Bloom filter keeps its size (an update sets bits).
				if slack && i != capNameFilter && i != capNamesSide {
					n = withSlack(i, n) + extra[i]
				}
				if i == capNamesSide {
					n = 0
					if slack {
						n = 2 * sideHalf(len(img.NameKeys))
					}
				}
				switch i {
				case capNames:
					g.names, g.caps[i], errs[i] = newTableCap(nameSlots, l.innerSpec(in.outer), img.NameKeys, img.NameVals, n, l.tableSeed)
					continue
				case capAnswers:
					g.answers, g.caps[i], errs[i] = newTableCap(answerSlots, l.innerSpec(in.outer), img.AnswerKeys, img.AnswerVals, n, l.tableSeed)
					continue
				}
				m, err := mk(in.outer, n)
				if err != nil {
					errs[i] = err
					continue
				}
				*in.m = m
				g.caps[i] = int(m.MaxEntries())
				if err := in.fill(m); err != nil {
					errs[i] = fmt.Errorf("loader: filling %s: %w", in.outer, err)
				}
			}
		}()
	}
	wg.Wait()
	if err = errors.Join(errs...); err != nil {
		return nil, err
	}
	// A names entry holds template ids in 24 bits (packID).
	if g.caps[capTemplates] > abi.NameIDLimit || g.caps[capSharedTemplates] > abi.NameIDLimit {
		return nil, fmt.Errorf("%w: %d templates and %d shared ones (with room for updates): a names entry holds ids below %d",
			ErrImage, g.caps[capTemplates], g.caps[capSharedTemplates], abi.NameIDLimit)
	}
	g.counts = [4]int{len(img.NameKeys), len(img.AnswerKeys), len(img.Templates), len(img.Chunks)}
	return g, nil
}

// innerSpec is the spec of a new inner map of outer map outer, named
// after it (bpftool shows the generations' maps as xdpdns_<outer>).
func (l *Loader) innerSpec(outer string) *ebpf.MapSpec {
	inner := l.spec.Maps[outer].InnerMap.Copy()
	inner.Name = "xdpdns_" + outer
	return inner
}

// fillWorkers is how many of a new generation's maps are filled at once.
const fillWorkers = 2

// tmplVersions is a shared_templates value holding t in both versions.
func tmplVersions(t bpf.XdpTmpl) bpf.XdpTmplVersions {
	return bpf.XdpTmplVersions{V: [abi.Gens]bpf.XdpTmpl{t, t}}
}

// denialRef reports whether denial zone i refers to the live zone of its
// name (Image.DenialRefs).
func (img *Image) denialRef(i int) bool { return i < len(img.DenialRefs) && img.DenialRefs[i] }

// DenialPatch is how a denial zone of a Delta patches the live zone of
// its name (Image.DenialPatches).
type DenialPatch struct {
	Runs  []PatchRun
	Slots []uint32 // of the zone's entries in the image, in order
}

// entriesIn is how many entries of denial zone i the image holds: all
// of them, or a patch's changed ones.
func (img *Image) entriesIn(i int) uint32 {
	if pt := img.denialPatch(i); pt != nil {
		return uint32(len(pt.Slots))
	}
	return img.DenialZones[i].EntryCount
}

// PatchRun is a run of N entries of a patch, from To on (relative to its
// zone), that are the live zone's from From on.
type PatchRun struct{ To, From, N uint32 }

// denialPatch is how denial zone i patches the live zone of its name, nil
// when it does not.
func (img *Image) denialPatch(i int) *DenialPatch {
	if i < len(img.DenialPatches) {
		return img.DenialPatches[i]
	}
	return nil
}

// zoneVersions is a denial_zones value holding z in both versions.
func zoneVersions(z bpf.XdpDenialZone) bpf.XdpDenialZoneVersions {
	return bpf.XdpDenialZoneVersions{V: [abi.Gens]bpf.XdpDenialZone{z, z}}
}

// bothVersions turns single versions into map values that hold each in
// both versions (a fresh generation: either slot reads the same).
func bothVersions[V, W any](vs []V, val func(V) W) []W {
	out := make([]W, len(vs))
	for i, v := range vs {
		out[i] = val(v)
	}
	return out
}

// mapArray maps the mmapable array map m (BPF_F_MMAPABLE,
// bpf/include/maps.h) into memory as its entries; done unmaps it. Every
// page of a mapping counts in the process's RSS while mapped.
func mapArray[T any](m *ebpf.Map) (entries []T, done func() error, err error) {
	return mappedRange[T](m, 0, m.MaxEntries())
}

// fillMapped writes a new generation's mmapable array (the map is not
// live yet: chunks, templates, denial entries) through a mapping of the
// map, one copy of what for a signed TLD is hundreds of MB, then
// unmapped (the batch syscalls cost ~2 µs an entry: ~1 s for a TLD's
// templates); else with the batch syscalls.
func fillMapped[V any](vals []V) func(*ebpf.Map) error {
	return func(m *ebpf.Map) error {
		if len(vals) == 0 {
			return nil
		}
		dst, done, err := mapArray[V](m)
		if err != nil {
			return fill(m, indexes(len(vals)), vals)
		}
		copy(dst, vals)
		return done()
	}
}

// mappedRun is the shortest run of consecutive keys fillRuns writes
// through a mapping rather than with the batch syscalls.
const mappedRun = 64

// fillRuns is fill for an mmapable array map (chunks, templates, denial
// entries): a run of at least mappedRun consecutive keys — the room of a
// new template's chunks, of a changed chain view's ~300k entries and ~1M
// chunks — is copied through a mapping of the pages it spans (the batch
// syscalls cost ~2 µs an entry), the rest written with fill. The room
// written is free: no live entry reads it before the flip, which the
// munmap and the flip's atomic store order after the copy.
func fillRuns[V any](m *ebpf.Map, keys []uint32, vals []V) error {
	var restK []uint32
	var restV []V
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j] == keys[j-1]+1 {
			j++
		}
		if j-i < mappedRun {
			restK, restV = append(restK, keys[i:j]...), append(restV, vals[i:j]...)
			i = j
			continue
		}
		dst, done, err := mappedRange[V](m, keys[i], uint32(j-i))
		if err != nil {
			restK, restV = append(restK, keys[i:j]...), append(restV, vals[i:j]...)
			i = j
			continue
		}
		copy(dst, vals[i:j])
		if err := done(); err != nil {
			return fmt.Errorf("loader: unmapping %s: %w", m, err)
		}
		i = j
	}
	return fill(m, restK, restV)
}

// fillArray fills an array map with vals at indexes 0, 1, ...
func fillArray[V any](vals []V) func(*ebpf.Map) error {
	return func(m *ebpf.Map) error { return fill(m, indexes(len(vals)), vals) }
}

func indexes(n int) []uint32 {
	k := make([]uint32, n)
	for i := range k {
		k[i] = uint32(i)
	}
	return k
}

// batch bounds one BPF_MAP_UPDATE_BATCH call.
const batch = 4096

// fill writes keys[i] → vals[i] with batched updates, falling back to one
// update per entry where the kernel has no batch operations.
func fill[K, V any](m *ebpf.Map, keys []K, vals []V) error {
	for i := 0; i < len(keys); i += batch {
		j := min(i+batch, len(keys))
		_, err := m.BatchUpdate(keys[i:j], vals[i:j], nil)
		if errors.Is(err, ebpf.ErrNotSupported) {
			for n := i; n < j; n++ {
				if err := m.Put(&keys[n], &vals[n]); err != nil {
					return err
				}
			}
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkImage rejects images the program would read inconsistently.
func checkImage(img *Image) error {
	if len(img.NameKeys) != len(img.NameVals) || len(img.AnswerKeys) != len(img.AnswerVals) {
		return fmt.Errorf("%w: keys and values differ in number", ErrImage)
	}
	valid := func(id uint32) bool {
		if id&abi.SharedTmpl != 0 {
			id &^= abi.SharedTmpl
			return id != 0 && id < uint32(len(img.SharedTemplates))
		}
		return id < uint32(len(img.Templates))
	}
	for i := range img.NameVals {
		v := &img.NameVals[i]
		if err := checkName(i, v); err != nil {
			return err
		}
		for _, id := range [4]uint32{v.ExactDefault[0], v.ExactDefault[1], v.BelowDefault[0], v.BelowDefault[1]} {
			if !valid(id) {
				return fmt.Errorf("%w: name %d refers to template %#x (%d, %d shared)", ErrImage, i, id, len(img.Templates), len(img.SharedTemplates))
			}
		}
	}
	for i := range img.AnswerVals {
		for _, id := range img.AnswerVals[i].Tmpl {
			if !valid(id) {
				return fmt.Errorf("%w: answer %d refers to template %#x (%d, %d shared)", ErrImage, i, id, len(img.Templates), len(img.SharedTemplates))
			}
		}
	}
	for i := 1; i < len(img.Templates); i++ {
		if err := checkTemplate(img, uint32(i), &img.Templates[i]); err != nil {
			return err
		}
	}
	for i := 1; i < len(img.SharedTemplates); i++ {
		if err := checkTemplate(img, uint32(i)|abi.SharedTmpl, &img.SharedTemplates[i]); err != nil {
			return err
		}
	}
	if err := checkFilter(img); err != nil {
		return err
	}
	return checkDenial(img)
}

// checkTemplate checks template id's counts, body, relocations and slot.
func checkTemplate(img *Image, id uint32, t *bpf.XdpTmpl) error {
	if t.Flags&abi.FlagTooBig != 0 {
		return nil
	}
	if t.RrlClass >= abi.RRLClassMax || (t.RrlLabels > abi.MaxLabels && t.RrlLabels != abi.RRLQName) {
		return fmt.Errorf("%w: template %#x: rate-limiting class %d, labels %d", ErrImage, id, t.RrlClass, t.RrlLabels)
	}
	if t.BodyLen > abi.MaxBody || t.ReqLen > t.BodyLen || t.Nrelocs > abi.MaxRelocs {
		return fmt.Errorf("%w: template %#x: body %d, required %d, %d relocations", ErrImage, id, t.BodyLen, t.ReqLen, t.Nrelocs)
	}
	n, all := tmplChunks(t)
	if int(t.FirstChunk)+int(n) > len(img.Chunks) ||
		!relocChunkPlaced(t, all) || moreRelocs(t) && int(t.RelocChunk) >= len(img.Chunks) {
		return fmt.Errorf("%w: template %#x: chunks %d+%d of %d, relocations' chunk %d", ErrImage, id, t.FirstChunk, n, len(img.Chunks), t.RelocChunk)
	}
	relocs, ok := img.TemplateRelocs(t)
	if !ok {
		return fmt.Errorf("%w: template %#x: relocations' chunk %d of %d", ErrImage, id, t.RelocChunk, len(img.Chunks))
	}
	for _, r := range relocs {
		if int(r&^abi.RelocInternal)+2 > int(t.BodyLen) {
			return fmt.Errorf("%w: template %#x: relocation at %d past body %d", ErrImage, id, r, t.BodyLen)
		}
	}
	return checkSlot(img, id, t)
}

// checkFilter checks the name filter's size against its shift, and that
// it holds every name (a name it left out could never be answered).
func checkFilter(img *Image) error {
	f := img.NameFilter
	if len(f) == 0 {
		return nil
	}
	if f[0] == 0 || f[0] >= 64 || uint64(len(f)) != 1+(uint64(1)<<(64-f[0]))/64 || len(f) < 2 {
		return fmt.Errorf("%w: name filter of %d words with shift %d", ErrImage, len(f), f[0])
	}
	for i, k := range img.NameKeys {
		if !abi.FilterHas(f, abi.NameHash{H1: k.H1, H2: k.H2}) {
			return fmt.Errorf("%w: name %d is not in the name filter", ErrImage, i)
		}
	}
	return nil
}

// checkSlot checks a template's denial slot: its parts and its zone.
func checkSlot(img *Image, i uint32, t *bpf.XdpTmpl) error {
	if t.SlotOff == abi.NoSlot {
		return nil
	}
	tail := (int(t.BodyLen) - int(t.SlotOff) + abi.ChunkSize - 1) / abi.ChunkSize
	if t.SlotOff > t.BodyLen || int(t.DenialZone) == 0 || int(t.DenialZone) >= len(img.DenialZones) ||
		int(t.TailChunk)+tail > len(img.Chunks) {
		return fmt.Errorf("%w: template %#x: slot at %d of %d, zone %d of %d, tail chunks %d+%d of %d", ErrImage, i,
			t.SlotOff, t.BodyLen, t.DenialZone, len(img.DenialZones), t.TailChunk, tail, len(img.Chunks))
	}
	return nil
}

// checkDenial checks the denial zones against their entries, index and
// the chunks of the entries' pieces.
func checkDenial(img *Image) error {
	for i := 1; i < len(img.DenialZones); i++ {
		if img.denialRef(i) {
			if i >= len(img.DenialNames) || img.DenialNames[i] == nil {
				return fmt.Errorf("%w: denial zone %d refers to a live zone without naming it", ErrImage, i)
			}
			continue
		}
		z := &img.DenialZones[i]
		nb := 1 << z.IndexBits
		if pt := img.denialPatch(i); pt != nil {
			if err := checkPatch(img, i, pt); err != nil {
				return err
			}
		}
		inImage := img.entriesIn(i)
		if z.IndexBits > abi.DenialIndexBits || int(z.EntryBase)+int(inImage) > len(img.DenialEntries) ||
			int(z.IndexBase)+nb+1 > len(img.DenialIndex) || z.SaltLen > abi.MaxSalt {
			return fmt.Errorf("%w: denial zone %d: entries %d+%d of %d, index %d+%d of %d", ErrImage, i,
				z.EntryBase, inImage, len(img.DenialEntries), z.IndexBase, nb+1, len(img.DenialIndex))
		}
		for b := 0; b <= nb; b++ {
			v := img.DenialIndex[int(z.IndexBase)+b]
			if v < z.EntryBase || v > z.EntryBase+z.EntryCount {
				return fmt.Errorf("%w: denial zone %d: index %d points at %d", ErrImage, i, b, v)
			}
		}
	}
	for i := range img.DenialEntries {
		e := &img.DenialEntries[i]
		n := (int(e.Len) + abi.ChunkSize - 1) / abi.ChunkSize
		if e.Len > abi.MaxBody || e.Nrelocs > abi.MaxPieceRelocs || int(e.FirstChunk)+n > len(img.Chunks) {
			return fmt.Errorf("%w: denial entry %d: %d bytes in chunks %d+%d of %d, %d relocations", ErrImage, i,
				e.Len, e.FirstChunk, n, len(img.Chunks), e.Nrelocs)
		}
		for _, r := range e.Relocs[:e.Nrelocs] {
			if int(r&^abi.RelocInternal)+2 > int(e.Len) {
				return fmt.Errorf("%w: denial entry %d: relocation at %d past %d bytes", ErrImage, i, r, e.Len)
			}
		}
	}
	return nil
}

// checkPatch checks the patch pt of denial zone i: named, and each of
// its entries filled once, by a run or from the image.
func checkPatch(img *Image, i int, pt *DenialPatch) error {
	z := &img.DenialZones[i]
	if i >= len(img.DenialNames) || img.DenialNames[i] == nil {
		return fmt.Errorf("%w: denial zone %d patches a live zone without naming it", ErrImage, i)
	}
	filled := make([]bool, z.EntryCount)
	fill := func(slot uint32) bool {
		if slot >= z.EntryCount || filled[slot] {
			return false
		}
		filled[slot] = true
		return true
	}
	for _, r := range pt.Runs {
		if uint64(r.To)+uint64(r.N) > uint64(z.EntryCount) {
			return fmt.Errorf("%w: denial zone %d: a run to %d+%d of %d entries", ErrImage, i, r.To, r.N, z.EntryCount)
		}
		for k := range r.N {
			if !fill(r.To + k) {
				return fmt.Errorf("%w: denial zone %d: entry %d filled twice", ErrImage, i, r.To+k)
			}
		}
	}
	for _, slot := range pt.Slots {
		if !fill(slot) {
			return fmt.Errorf("%w: denial zone %d: entry %d filled twice, or past %d", ErrImage, i, slot, z.EntryCount)
		}
	}
	if k := slices.Index(filled, false); k >= 0 {
		return fmt.Errorf("%w: denial zone %d: entry %d of the patch left empty", ErrImage, i, k)
	}
	return nil
}

// install puts g's maps into the outer maps' slot and closes what was
// there before (the outer maps hold the kernel references).
func (l *Loader) install(slot uint32, g *generation) error {
	outer := []*ebpf.Map{l.objs.Names, l.objs.Answers, l.objs.Templates, l.objs.Chunks,
		l.objs.DenialZones, l.objs.DenialEntries, l.objs.DenialIndex, l.objs.NameFilter, l.objs.SharedTemplates, l.objs.NamesSide}
	inner := g.maps()
	for i := range outer {
		if err := outer[i].Put(slot, inner[i]); err != nil {
			return fmt.Errorf("loader: installing generation in slot %d: %w", slot, err)
		}
	}
	if old := l.gens[slot]; old != nil && old != g && old != l.gens[1-slot] {
		old.close()
	}
	l.gens[slot] = g
	return nil
}

// Swap makes img the live generation and returns its serial number
// (1 for the first Swap). A failed Swap leaves the live generation as it
// was.
func (l *Loader) Swap(img *Image) (uint32, error) { return l.swap(img, false) }

// SwapLater is Swap for a start, whose other work (reading the zones'
// records) wants the other CPU: the record of the generation for updates
// (seconds of content hashing for a TLD, which Swap makes in the
// background at once) is made by the next Settle or change instead.
func (l *Loader) SwapLater(img *Image) (uint32, error) { return l.swap(img, true) }

func (l *Loader) swap(img *Image, later bool) (uint32, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	l.settleLive()
	g, err := l.newGeneration(img, true)
	if err != nil {
		return 0, err
	}
	l.live = nil // until the new generation is live and recorded
	next := 1 - l.slot
	// The idle slot has been unused since the previous Swap's grace
	// period: nothing reads it.
	if err := l.install(next, g); err != nil {
		g.close()
		return 0, err
	}
	l.serial++
	g.serial = l.serial
	old := l.slot
	atomic.StoreUint32(l.gen, next)
	l.slot = next
	// Wait until no program run can still be using the old slot, then
	// free its maps by putting the live ones in their place: both slots
	// name the live maps, as Update wants them (each replacement of an
	// inner map waits for the kernel's grace period, so it is paid here,
	// once, not by the next update).
	l.synchronize()
	if err := l.install(old, g); err != nil {
		// The new generation is live: failing now would leave the
		// caller's userspace engine on the old zones while the program
		// serves the new ones. The old maps stay until Close; the next
		// change cannot be made in place.
		return g.serial, nil
	}
	// The record of the new generation for updates (content hashes of
	// everything written: seconds for a signed TLD) is made in the
	// background, or later; the next change waits for it (settleLive).
	record := func() *liveState {
		lv := newLiveState(l.hasher, img, g)
		if lv != nil {
			// (A spare room it cannot copy is not made: the zone's
			// first patch copies it then.)
			_ = lv.makeSpares(g)
		}
		return lv
	}
	if later {
		l.record = record
		return g.serial, nil
	}
	done := make(chan *liveState, 1)
	l.pending = done
	go func() { done <- record() }()
	return g.serial, nil
}

// Settle waits until the loader's record of the live generation, which
// Swap makes in the background, is made (then the image given to Swap is
// no longer held).
func (l *Loader) Settle() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.settleLive()
}

// settleLive waits for the record Swap is making of the live generation,
// if any, and makes it l.live. l.mu must be held.
func (l *Loader) settleLive() {
	if l.pending != nil {
		l.live = <-l.pending
		l.pending = nil
	}
	if l.record != nil {
		l.live = l.record()
		l.record = nil
	}
}

// synchronize waits for an RCU grace period: XDP programs run inside RCU
// read-side sections, and membarrier(MEMBARRIER_CMD_GLOBAL) returns only
// after synchronize_rcu(). Where it is unavailable, sleep opts.Grace.
func (l *Loader) synchronize() {
	l.graces++
	const membarrierCmdGlobal = 1
	if _, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, membarrierCmdGlobal, 0, 0); errno == 0 {
		return
	}
	time.Sleep(l.opts.Grace)
}

// Attach attaches the program to a.Iface in a.Mode (ModeAuto: native,
// else generic) and records the mode used. It also attaches the tc
// ingress companion with tcx; a kernel without tcx keeps XDP alone (the
// queries it passes for lack of room are then answered in userspace).
func (l *Loader) Attach(a Attach) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	for _, at := range l.links {
		if at.Iface == a.Iface {
			return fmt.Errorf("%w: %s (%s)", ErrAttached, a.Iface, at.Mode)
		}
	}
	ifc, err := net.InterfaceByName(a.Iface)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrAttach, a.Iface, err)
	}
	try := func(m Mode) (link.Link, error) {
		flags := link.XDPDriverMode
		if m == ModeGeneric {
			flags = link.XDPGenericMode
		}
		return link.AttachXDP(link.XDPOptions{Program: l.objs.Xdpdns, Interface: ifc.Index, Flags: flags})
	}
	var lk link.Link
	used := a.Mode
	switch a.Mode {
	case ModeNative, ModeGeneric:
		lk, err = try(a.Mode)
	case ModeAuto:
		used = ModeNative
		lk, err = try(ModeNative)
		if err != nil {
			used = ModeGeneric
			var err2 error
			lk, err2 = try(ModeGeneric)
			if err2 != nil {
				err = fmt.Errorf("native: %w; generic: %w", err, err2)
			} else {
				err = nil
			}
		}
	default:
		return fmt.Errorf("%w: %s: %s", ErrOptions, a.Iface, a.Mode)
	}
	if err != nil {
		return fmt.Errorf("%w: %s (%s): %w", ErrAttach, a.Iface, a.Mode, err)
	}
	at := attachment{Attachment: Attachment{Iface: a.Iface, Mode: used}, link: lk}
	at.tc, err = link.AttachTCX(link.TCXOptions{Interface: ifc.Index, Program: l.objs.XdpdnsTc, Attach: ebpf.AttachTCXIngress})
	if err != nil {
		at.TCErr = err.Error()
		at.tc = nil
	}
	at.TCIngress = at.tc != nil
	if err := l.learnInterface(ifc); err != nil {
		at.close()
		return err
	}
	l.links = append(l.links, at)
	return nil
}

// Detach removes the program from iface.
func (l *Loader) Detach(iface string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, at := range l.links {
		if at.Iface == iface {
			err := at.close()
			l.links = append(l.links[:i], l.links[i+1:]...)
			l.forgetInterface(iface)
			if err != nil {
				return fmt.Errorf("loader: detaching from %s: %w", iface, err)
			}
			return nil
		}
	}
	return fmt.Errorf("%w: %s", ErrNotAttached, iface)
}

// Counters returns every named counter summed over CPUs.
func (l *Loader) Counters() (map[string]uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	out := make(map[string]uint64, len(abi.CounterNames))
	for i, name := range abi.CounterNames {
		var per []uint64
		if err := l.objs.Counters.Lookup(uint32(i), &per); err != nil {
			return nil, fmt.Errorf("loader: reading counter %s: %w", name, err)
		}
		var sum uint64
		for _, v := range per {
			sum += v
		}
		out[name] = sum
	}
	return out, nil
}

// Status returns attachments, the live generation and the entry counts of
// both slots.
func (l *Loader) Status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := Status{Slot: l.slot}
	for _, at := range l.links {
		s.Attachments = append(s.Attachments, at.Attachment)
	}
	for slot, g := range l.gens {
		gs := GenStatus{Slot: uint32(slot), Live: uint32(slot) == l.slot}
		if g != nil {
			gs.Serial = g.serial
			gs.Names, gs.Answers, gs.Templates, gs.Chunks = g.counts[0], g.counts[1], g.counts[2], g.counts[3]
		}
		if gs.Live {
			s.Generation = gs.Serial
		}
		s.Gens[slot] = gs
	}
	return s
}

// MapBytes is the memory of the live generation's zone maps as the
// kernel allocates an array map: each map's entries times its value size
// rounded up to 8 bytes (the maps' own headers and the outer maps not
// counted).
func (l *Loader) MapBytes() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.gens[l.slot]
	if g == nil {
		return 0
	}
	var n int64
	for _, m := range g.maps() {
		if m != nil {
			n += int64(m.MaxEntries()) * int64((m.ValueSize()+7)&^7)
		}
	}
	return n
}

// Program returns the loaded XDP program (owned by the Loader).
func (l *Loader) Program() *ebpf.Program { return l.objs.Xdpdns }

// TCProgram returns the loaded tc ingress companion (owned by the Loader).
func (l *Loader) TCProgram() *ebpf.Program { return l.objs.XdpdnsTc }

// RRLBuckets is the rate-limiting map (struct rrl_key -> per-CPU struct
// rrl_bucket), for inspection.
func (l *Loader) RRLBuckets() *ebpf.Map { return l.objs.RrlBuckets }

// Close detaches the program everywhere and releases every map.
func (l *Loader) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.taps != nil {
		l.taps.Close() // ends ReadTaps's goroutine, which stopWatching waits for
	}
	l.stopWatching()
	var errs []error
	for _, at := range l.links {
		if err := at.close(); err != nil {
			errs = append(errs, fmt.Errorf("detaching from %s: %w", at.Iface, err))
		}
	}
	l.links = nil
	if g := l.gens[0]; g != nil {
		g.close()
	}
	if g := l.gens[1]; g != nil && g != l.gens[0] {
		g.close()
	}
	l.gens = [2]*generation{}
	l.record = nil // not made: nothing will be updated
	l.settleLive()
	l.live = nil
	if l.cfgMem != nil {
		if err := unix.Munmap(l.cfgMem); err != nil {
			errs = append(errs, err)
		}
		l.cfgMem, l.gen = nil, nil
	}
	if err := l.objs.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("loader: close: %w", err)
	}
	return nil
}
