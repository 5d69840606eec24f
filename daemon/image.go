package daemon

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/xdpdns/xdpdns/zonecompiler/compiled"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// imageState is the daemon's side of the compiled zone image
// (zone-image): the map image read at start, for the hot path, and the
// writes of new ones and of the changes appended to them, one at a time
// in the order the hot path made them live.
type imageState struct {
	boot  *render.Image // read at start, until the hot path takes it
	mu    sync.Mutex    // guards the fields below
	queue []imageWrite  // waiting, in order
	busy  bool          // a writer goroutine is draining queue
	// lastChange is when the last change was queued; changes are
	// appended once appendAfter has passed since (or the daemon stops).
	lastChange  time.Time
	appendAfter time.Duration
	writes      sync.WaitGroup
	// file is what the image file holds as last written or read (nil:
	// not known, changes are not appended until the next whole write);
	// only the writer goroutine uses it.
	file *compiled.Written
}

// appendAfter is how long the changes wait to be appended to the image
// after the last one: a burst of transfers or reloads is appended once,
// and not while the next change is being compiled (the append rewrites
// the whole file: seconds at a TLD's size). A crash in between costs the
// next start the zone files' compile, nothing else.
const appendAfter = 3 * time.Second

// imageWrite is one write of the compiled zone image: set compiled whole
// into img, or a change rendered alone (delta, and the Incremental after
// it) that made set.
type imageWrite struct {
	set   *zone.Set
	img   *render.Image
	delta *render.Delta
	inc   *render.Incremental
}

// Hooks are what the caller of NewWith has the daemon call during start.
type Hooks struct {
	// BootImage is handed the map image of the compiled zone image as
	// soon as it is decoded, while the zones' records are still being
	// read (the XDP hot path fills its maps meanwhile:
	// hotpath.Prepare); it is the set's only if BootImage() then
	// returns it.
	BootImage func(*render.Image)
}

// loadStart loads the zones at start: from the compiled zone image when
// it is current (its map image kept for the hot path), else from their
// files.
func (d *Daemon) loadStart(ctx context.Context) (*zone.Set, error) {
	specs := d.zoneSpecs()
	if path := d.cfg.ZoneImagePath(); path != "" {
		start := time.Now()
		key, err := compiled.KeyFor(d.cfg.EngineConfig())
		if err == nil {
			var set *zone.Set
			restore := pauseGC(path)
			var file compiled.Written
			set, d.image.boot, file, err = compiled.ReadWith(path, key, specs, d.options(), d.hooks.BootImage)
			restore()
			if err == nil {
				d.image.file = &file
				for _, z := range set.Zones() {
					d.logZone(z)
				}
				d.log.Info("zones loaded from the compiled image", "path", path, "zones", len(set.Zones()),
					"changes", file.Changes, "took", time.Since(start).Round(time.Millisecond))
				return set, nil
			}
		}
		if errors.Is(err, fs.ErrNotExist) {
			d.log.Info("no compiled zone image yet: reading the zone files", "path", path)
		} else {
			d.log.Warn("compiled zone image not used: reading the zone files", "path", path, "reason", err)
		}
	}
	return d.loadAll(ctx, specs)
}

// BootImage hands over, once, the map image read from the compiled zone
// image at start (nil if none): the XDP hot path's first generation,
// for the daemon's zone set (Engine().Zones()).
func (d *Daemon) BootImage() *render.Image {
	img := d.image.boot
	d.image.boot = nil
	return img
}

// SaveImage writes the compiled zone image of set, compiled whole into
// img, in the background; the hot path calls it (hotpath.Boot.Compiled).
// A set with a zone not read from its file (changed by a transfer) has
// none.
func (d *Daemon) SaveImage(set *zone.Set, img *render.Image) {
	d.queueImage(imageWrite{set: set, img: img})
}

// SaveChange appends a change rendered alone, which made set, to the
// compiled zone image in the background (compiled.AppendChanges), so
// that a restart needs no whole compile either; the hot path calls it
// (hotpath.Boot.Changed).
func (d *Daemon) SaveChange(set *zone.Set, delta *render.Delta, inc *render.Incremental) {
	d.queueImage(imageWrite{set: set, delta: delta, inc: inc})
}

// queueImage adds w to the writes, and starts the writer unless it runs.
func (d *Daemon) queueImage(w imageWrite) {
	if d.cfg.ZoneImagePath() == "" || d.life.Err() != nil {
		return
	}
	d.image.mu.Lock()
	defer d.image.mu.Unlock()
	d.image.queue = append(d.image.queue, w)
	if w.img == nil {
		d.image.lastChange = time.Now()
	}
	d.image.writes.Add(1)
	if !d.image.busy {
		d.image.busy = true
		go d.writeImages()
	}
}

// writeImages does the queued writes in order until none is left: a
// whole image alone, the changes queued in a row together; what a later
// whole image replaces is not written (nor kept: a signed TLD's map image
// is gigabytes).
func (d *Daemon) writeImages() {
	for {
		d.image.mu.Lock()
		q := d.image.queue
		if last := lastWhole(q); last > 0 {
			for range q[:last] {
				d.image.writes.Done()
			}
			clear(q[:last])
			q = q[last:]
		}
		if len(q) > 0 && q[0].img == nil && d.life.Err() == nil {
			if wait := d.image.appendAfter - time.Since(d.image.lastChange); wait > 0 {
				d.image.mu.Unlock()
				select {
				case <-time.After(wait):
				case <-d.life.Done():
				}
				continue
			}
		}
		n := 0
		switch {
		case len(q) == 0:
			d.image.busy = false
			d.image.mu.Unlock()
			return
		case q[0].img != nil:
			n = 1
		default:
			for n < len(q) && q[n].img == nil {
				n++
			}
		}
		batch := q[:n:n]
		d.image.queue = q[n:]
		d.image.mu.Unlock()
		if batch[0].img != nil {
			d.writeWhole(batch[0])
		} else {
			d.writeChanges(batch)
		}
		// The batch shares the queue's array, which the queue keeps
		// alive: a written image must not stay reachable through it
		// (a TLD's map image is hundreds of MB), and its memory goes
		// back to the system once it is not.
		whole := batch[0].img != nil
		clear(batch)
		if whole {
			releaseMemory()
		}
		for range batch {
			d.image.writes.Done()
		}
	}
}

// lastWhole is the index in q of the last whole image (-1: none).
func lastWhole(q []imageWrite) int {
	for i := len(q) - 1; i >= 0; i-- {
		if q[i].img != nil {
			return i
		}
	}
	return -1
}

// writeWhole writes the image of a set compiled whole.
func (d *Daemon) writeWhole(w imageWrite) {
	path := d.cfg.ZoneImagePath()
	start := time.Now()
	d.image.file = nil
	key, err := compiled.KeyFor(d.cfg.EngineConfig())
	var file compiled.Written
	if err == nil {
		file, err = compiled.Write(path, key, w.set, w.img)
	}
	switch {
	case errors.Is(err, compiled.ErrNoSources):
		d.log.Info("compiled zone image not written", "path", path, "reason", err)
	case err != nil:
		d.log.Warn("compiled zone image not written", "path", path, "err", err)
	default:
		d.image.file = &file
		d.log.Info("compiled zone image written", "path", path, "took", time.Since(start).Round(time.Millisecond))
	}
}

// writeChanges appends changes rendered alone, in order, to the image
// file last written or read; once one cannot be, the image is stale
// until the next whole write (and a restart compiles the zones).
func (d *Daemon) writeChanges(ws []imageWrite) {
	path := d.cfg.ZoneImagePath()
	if d.image.file == nil {
		return // said when it stopped being followed
	}
	start := time.Now()
	key, err := compiled.KeyFor(d.cfg.EngineConfig())
	var file compiled.Written
	if err == nil {
		ds := make([]*render.Delta, len(ws))
		for i, w := range ws {
			ds[i] = w.delta
		}
		last := ws[len(ws)-1]
		file, err = compiled.AppendChanges(path, key, last.set, *d.image.file, ds, last.inc)
	}
	switch {
	case errors.Is(err, compiled.ErrNoSources) || errors.Is(err, compiled.ErrTooManyChanges):
		d.image.file = nil
		d.log.Info("compiled zone image stale until the next whole compile", "path", path, "reason", err)
	case err != nil:
		d.image.file = nil
		d.log.Warn("compiled zone image stale until the next whole compile", "path", path, "err", err)
	default:
		d.image.file = &file
		d.log.Info("compiled zone image brought up to date", "path", path, "changes", file.Changes,
			"took", time.Since(start).Round(time.Millisecond))
	}
}

// pauseGC stops the garbage collector while the image at path is read,
// unless the heap nears a limit of eight times the file's size (at least
// 4 GiB; measured peaks stay under five: a limit closer to the live heap
// makes the collector run again and again): almost everything read stays
// live, and collecting during the read cost a third of a signed TLD's
// start (8.2 s → 4.9 s without, for the same peak RSS: the mapped file
// counts in it either way). The returned func restores the collector.
func pauseGC(path string) (restore func()) {
	limit := int64(4 << 30)
	if st, err := os.Stat(path); err == nil {
		limit = max(limit, 8*st.Size())
	}
	gc := debug.SetGCPercent(-1)
	mem := debug.SetMemoryLimit(limit)
	return func() {
		debug.SetMemoryLimit(mem)
		debug.SetGCPercent(gc)
	}
}
