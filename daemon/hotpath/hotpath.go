//go:build linux

// Package hotpath is the XDP hot path as the daemon drives it: it compiles
// every zone set with an engine configured like the userspace one, so both
// paths answer with the same bytes, lays the compiled image out for the
// loader and swaps it in as a new generation, and reports the program's
// counters, attachments and self-test. The loader below it knows only the
// BPF side (load, attach, swap an image); this package is the glue between
// it and the zone compiler.
package hotpath

import (
	"errors"
	"fmt"
	"sync"

	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/loader"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// HotPath is the loaded XDP program with the zone set it serves.
type HotPath struct {
	l   *loader.Loader
	cfg engine.Config
	mu  sync.Mutex
	// last describes the image of the live generation.
	last    render.Stats
	gen     uint32
	updates Updates
	// eng is the engine of the zone set in the maps and inc what
	// render.Recompile needs to render a change from it (nil: compile
	// the next set whole).
	eng *engine.Engine
	inc *render.Incremental
	// compiled is Boot.Compiled; attach lists the interfaces Start
	// attaches the program to.
	compiled func(*zone.Set, *render.Image)
	// changed is Boot.Changed.
	changed func(*zone.Set, *render.Delta, *render.Incremental)
	attach  []loader.Attach
}

// Boot is what NewWith starts from besides the zone set.
type Boot struct {
	// Image is the set's map image, read from a compiled zone image
	// (package compiled) made with the same engine configuration; nil:
	// compile the set.
	Image *render.Image
	// Compiled, when set, is handed every zone set compiled whole with
	// its image, once the image is written to the maps (the daemon saves
	// it as the compiled zone image). It must not change them.
	Compiled func(*zone.Set, *render.Image)
	// Changed, when set, is handed every change rendered alone
	// (render.Recompile) once written to the maps, with the zone set it
	// made and the Incremental after it (the daemon appends it to the
	// compiled zone image). It must not change them.
	Changed func(*zone.Set, *render.Delta, *render.Incremental)
}

// Updates counts how zone set changes reached the maps.
type Updates struct {
	Partial uint64 // rendered and written alone (render.Recompile, loader.UpdatePartial)
	Updates uint64 // compiled whole, written in place (loader.Update)
	Swaps   uint64 // compiled whole, as a new generation (loader.Swap)
	Last    loader.UpdateStats
}

// UpdateCounts says how the zone sets so far reached the maps.
func (h *HotPath) UpdateCounts() Updates {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.updates
}

// MapUpdates counts the zone sets rendered and written alone, compiled
// whole and written in place, and swapped in as new generations
// (daemon.MapUpdates).
func (h *HotPath) MapUpdates() (partial, inPlace, swaps uint64) {
	u := h.UpdateCounts()
	return u.Partial, u.Updates, u.Swaps
}

// New loads the program with the engine's UDP size and NSID, compiles set
// into generation 1 and only then attaches to the interfaces opts names,
// so the program never answers from empty maps.
func New(opts loader.Options, cfg engine.Config, set *zone.Set) (*HotPath, error) {
	return NewWith(opts, cfg, set, Boot{})
}

// NewWith is New starting from boot: generation 1 is boot.Image when
// given (not compiled again).
func NewWith(opts loader.Options, cfg engine.Config, set *zone.Set, boot Boot) (*HotPath, error) {
	var h *HotPath
	var err error
	if boot.Image != nil {
		h, err = Prepare(opts, cfg, boot.Image, boot.Compiled)
	} else if h, err = load(opts, cfg, boot.Compiled); err == nil {
		if _, err = h.Swap(set); err != nil {
			h.Close()
		}
	}
	if err != nil {
		return nil, err
	}
	h.SetChanged(boot.Changed)
	if err := h.Start(set); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// load loads the program, attached nowhere (Start attaches it).
func load(opts loader.Options, cfg engine.Config, compiled func(*zone.Set, *render.Image)) (*HotPath, error) {
	cfg = cfg.WithDefaults()
	attach := opts.Attach
	opts.Attach = nil
	opts.UDPSize = cfg.UDPSize
	opts.NSID = cfg.NSID
	l, err := loader.Load(opts)
	if err != nil {
		return nil, err
	}
	return &HotPath{l: l, cfg: cfg, compiled: compiled, attach: attach}, nil
}

// Prepare loads the program with img as generation 1 (a map image read
// from a compiled zone image, rendered with an engine configured as cfg),
// attached nowhere yet: it can run while the zones of the image are
// still being read. Start attaches it, given those zones. compiled is
// Boot.Compiled.
func Prepare(opts loader.Options, cfg engine.Config, img *render.Image, compiled func(*zone.Set, *render.Image)) (*HotPath, error) {
	h, err := load(opts, cfg, compiled)
	if err != nil {
		return nil, err
	}
	if err := h.Install(img); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// Load loads the program with no zones, attached nowhere: a start can
// load it while it reads its zones (the verifier's seconds on the other
// core). Install or Swap then gives it generation 1, Start attaches it.
func Load(opts loader.Options, cfg engine.Config) (*HotPath, error) {
	return load(opts, cfg, nil)
}

// Install makes img (a map image read from a compiled zone image,
// rendered with the engine configuration the hot path was loaded with)
// the content of the maps, as Prepare does.
func (h *HotPath) Install(img *render.Image) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.install(nil, img, false, true)
}

// Settle waits for the loader's background work of the last swap
// (loader.Loader.Settle).
func (h *HotPath) Settle() { h.l.Settle() }

// SetCompiled sets Boot.Compiled of a hot path made by Prepare.
func (h *HotPath) SetCompiled(f func(*zone.Set, *render.Image)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.compiled = f
}

// SetChanged sets Boot.Changed of a hot path made by Prepare.
func (h *HotPath) SetChanged(f func(*zone.Set, *render.Delta, *render.Incremental)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.changed = f
}

// Start attaches the program to the interfaces its options named; set
// is the zone set the live generation holds (what a change is rendered
// against).
func (h *HotPath) Start(set *zone.Set) error {
	h.mu.Lock()
	if h.eng == nil {
		h.eng = engine.New(h.cfg, set)
	}
	h.mu.Unlock()
	for _, a := range h.attach {
		if err := h.l.Attach(a); err != nil {
			return err
		}
	}
	return nil
}

// Swap makes set the content of the live maps. A change render.Recompile
// can render on its own (an unsigned zone's changed names, a new serial)
// is rendered and written alone (loader.UpdatePartial); otherwise set is
// compiled whole and written in place, only what changed (loader.Update),
// when the maps have room, else swapped in as a new generation
// (loader.Swap, which needs memory for both until the old one is freed).
func (h *HotPath) Swap(set *zone.Set) (uint32, error) { return h.SwapChanged(set, nil) }

// SwapChanged is Swap when the names whose data changed are known for some
// zones (by lower-case wire origin, as zone.Apply reports them), which
// spares comparing those zones' versions name by name.
func (h *HotPath) SwapChanged(set *zone.Set, changed map[string][][]byte) (uint32, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := engine.New(h.cfg, set)
	if h.inc != nil && h.eng != nil {
		d, next, err := render.Recompile(h.inc, h.eng, e, changed)
		if err == nil {
			st, err := h.l.UpdatePartial(DeltaFromRender(d))
			if err == nil {
				h.updates.Partial++
				h.updates.Last = st
				h.inc, h.eng, h.gen = next, e, st.Serial
				if h.changed != nil {
					h.changed(set, d, next)
				}
				return st.Serial, nil
			}
			if !errors.Is(err, loader.ErrNoUpdate) {
				return 0, err
			}
		} else if !errors.Is(err, render.ErrRecompile) {
			return 0, fmt.Errorf("compiling the change for XDP: %w", err)
		}
	}
	img, err := render.Compile(e)
	if err != nil {
		return 0, fmt.Errorf("compiling zones for XDP: %w", err)
	}
	if err := h.install(e, img, h.compiled != nil, false); err != nil {
		return 0, err
	}
	return h.gen, nil
}

// install writes img, compiled from e's zone set, to the maps: in place
// when they have room, else as a new generation. With announce, the
// image is handed to h.compiled once live. boot: an image read at start,
// beside the zones' records, whose record for updates the loader makes
// when first needed (loader.SwapLater; daemon.Start settles it once
// serving).
func (h *HotPath) install(e *engine.Engine, img *render.Image, announce, boot bool) error {
	limg := FromRender(img)
	stats, inc := img.Stats, img.Incremental
	if !announce {
		// The compiler's image is garbage from here on: let the
		// collector take it while the maps are written (a signed
		// TLD's is gigabytes).
		img = nil
	}
	st, err := h.l.Update(limg)
	gen := st.Serial
	if errors.Is(err, loader.ErrNoUpdate) {
		h.updates.Swaps++
		if boot {
			gen, err = h.l.SwapLater(limg)
		} else {
			gen, err = h.l.Swap(limg)
		}
	} else if err == nil {
		h.updates.Updates++
		h.updates.Last = st
	}
	if err != nil {
		h.inc, h.eng = nil, nil
		return err
	}
	h.gen, h.last = gen, stats
	h.inc, h.eng = inc, e
	if announce {
		h.compiled(e.Zones(), img)
	}
	return nil
}

// MapBytes is the kernel memory of the live generation's maps
// (loader.MapBytes): after a change written alone too.
func (h *HotPath) MapBytes() int64 { return h.l.MapBytes() }

// Counters returns the program's counters by name.
func (h *HotPath) Counters() (map[string]uint64, error) { return h.l.Counters() }

// Attachments lists the interfaces and the mode in use on each.
func (h *HotPath) Attachments() []control.Attachment {
	st := h.l.Status()
	out := make([]control.Attachment, 0, len(st.Attachments))
	for _, a := range st.Attachments {
		out = append(out, control.Attachment{Iface: a.Iface, Mode: a.Mode.String(), TCIngress: a.TCIngress})
	}
	return out
}

// Generation returns the live generation's serial.
func (h *HotPath) Generation() uint32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gen
}

// ImageStats describes the image of the last whole compile.
func (h *HotPath) ImageStats() render.Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

// SelfTest is loader.Loader.SelfTest on the hot path's loader: one query
// through the live generation with BPF_PROG_TEST_RUN.
func (h *HotPath) SelfTest(query []byte) ([]byte, error) { return h.l.SelfTest(query) }

// SetCookieSecrets updates the program's DNS Cookie secrets.
func (h *HotPath) SetCookieSecrets(current, previous []byte) error {
	return h.l.SetCookieSecrets(current, previous)
}

// Loader gives tests access to the program and maps.
func (h *HotPath) Loader() *loader.Loader { return h.l }

// Close detaches the program and frees its maps.
func (h *HotPath) Close() error { return h.l.Close() }
