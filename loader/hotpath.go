//go:build linux

package loader

import (
	"fmt"
	"sync"

	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// HotPath is the XDP hot path as the daemon drives it: every zone set is
// compiled with an engine configured like the userspace one, so both
// answer with the same bytes, and swapped in as a new generation.
type HotPath struct {
	l   *Loader
	cfg engine.Config
	mu  sync.Mutex
	// Last describes the image of the live generation.
	last render.Stats
	gen  uint32
}

// NewHotPath loads the program, compiles set into generation 1 and only
// then attaches to the interfaces, so the program never answers from
// empty maps.
func NewHotPath(opts Options, cfg engine.Config, set *zone.Set) (*HotPath, error) {
	attach := opts.Attach
	opts.Attach = nil
	opts.UDPSize = cfg.UDPSize
	opts.NSID = cfg.NSID
	l, err := Load(opts)
	if err != nil {
		return nil, err
	}
	h := &HotPath{l: l, cfg: cfg}
	if _, err := h.Swap(set); err != nil {
		l.Close()
		return nil, err
	}
	for _, a := range attach {
		if err := l.Attach(a); err != nil {
			l.Close()
			return nil, err
		}
	}
	return h, nil
}

// Swap compiles set and makes it the live generation.
func (h *HotPath) Swap(set *zone.Set) (uint32, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	img, err := render.Compile(engine.New(h.cfg, set))
	if err != nil {
		return 0, fmt.Errorf("compiling zones for XDP: %w", err)
	}
	gen, err := h.l.Swap(FromRender(img))
	if err != nil {
		return 0, err
	}
	h.gen, h.last = gen, img.Stats
	return gen, nil
}

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

// ImageStats describes the live generation's image.
func (h *HotPath) ImageStats() render.Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

// Loader gives tests access to the program and maps.
func (h *HotPath) Loader() *Loader { return h.l }

// Close detaches the program and frees its maps.
func (h *HotPath) Close() error { return h.l.Close() }
