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
// writes of new ones, one at a time.
type imageState struct {
	boot    *render.Image // read at start, until the hot path takes it
	writeMu sync.Mutex    // one write at a time
	writes  sync.WaitGroup
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
			set, d.image.boot, err = compiled.ReadWith(path, key, specs, d.options(), d.hooks.BootImage)
			restore()
			if err == nil {
				for _, z := range set.Zones() {
					d.logZone(z)
				}
				d.log.Info("zones loaded from the compiled image", "path", path, "zones", len(set.Zones()),
					"took", time.Since(start).Round(time.Millisecond))
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
	path := d.cfg.ZoneImagePath()
	if path == "" || d.life.Err() != nil {
		return
	}
	d.image.writes.Add(1)
	go func() {
		defer d.image.writes.Done()
		d.image.writeMu.Lock()
		defer d.image.writeMu.Unlock()
		start := time.Now()
		key, err := compiled.KeyFor(d.cfg.EngineConfig())
		if err == nil {
			err = compiled.Write(path, key, set, img)
		}
		switch {
		case errors.Is(err, compiled.ErrNoSources):
			d.log.Info("compiled zone image not written", "path", path, "reason", err)
		case err != nil:
			d.log.Warn("compiled zone image not written", "path", path, "err", err)
		default:
			d.log.Info("compiled zone image written", "path", path, "took", time.Since(start).Round(time.Millisecond))
		}
		releaseMemory()
	}()
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
