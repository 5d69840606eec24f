// Package daemon ties xdpdnsd together: it loads the configured zones,
// builds the answer engine and the userspace server from a config.Config,
// serves the control socket, and reloads the zones on request, keeping the
// old set when the new one fails to load.
package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/health"
	"github.com/xdpdns/xdpdns/internal/buildinfo"
	"github.com/xdpdns/xdpdns/metrics"
	"github.com/xdpdns/xdpdns/secondary"
	"github.com/xdpdns/xdpdns/server"
	"github.com/xdpdns/xdpdns/srcport"
	"github.com/xdpdns/xdpdns/tap"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// HotPath is the XDP hot path as the daemon drives it; package
// daemon/hotpath implements it over the loader. The daemon calls Swap on
// every reload before the userspace engine takes the new zones, and Close
// when it stops.
type HotPath interface {
	// Swap renders set into the standby map generation and makes it
	// live, returning the live generation. On error the generation that
	// was live stays live, and the reload fails as a whole.
	Swap(set *zone.Set) (gen uint32, err error)
	// Counters returns the XDP program's counters by name.
	Counters() (map[string]uint64, error)
	// Attachments lists the interfaces the program is attached to.
	Attachments() []control.Attachment
	// Generation returns the live map generation.
	Generation() uint32
	// Close detaches the program and releases its maps.
	Close() error
}

// MapMemory is implemented by hot paths that know the kernel memory of the
// live generation's maps.
type MapMemory interface {
	MapBytes() int64
}

// ChangeSwapper is implemented by a hot path that can take, besides the
// new set, the names whose data changed in some of its zones (by
// lower-case wire origin), as a secondary's zone.Apply reports them.
type ChangeSwapper interface {
	SwapChanged(set *zone.Set, changed map[string][][]byte) (gen uint32, err error)
}

// MapUpdates is implemented by a hot path that can write a zone set
// change into its live maps: how many were rendered and written alone,
// how many compiled whole and written in place, how many swapped in as
// new generations.
type MapUpdates interface {
	MapUpdates() (partial, inPlace, swaps uint64)
}

// Daemon is one running xdpdnsd instance.
type Daemon struct {
	cfg *config.Config
	log *slog.Logger
	eng *engine.Engine
	srv *server.Server
	ctl *control.Server
	n   *counters
	// metrics is the Prometheus server (metrics-listen); nil without.
	metrics *metrics.Server
	// tap writes dnstap messages (dnstap-socket, dnstap-file); nil without.
	tap *tap.Writer
	// sec keeps the secondary zones up to date; nil without any.
	sec *secondary.Manager

	started time.Time
	// settled: the start has settled (Start: the hot path's first maps
	// recorded, the zones' indexes built); until then unindexed lists
	// the zones loaded whose indexes the start builds.
	settled   bool
	unindexed []*zone.Zone

	// life ends when Close begins: loads in progress stop with it.
	life context.Context
	stop context.CancelFunc
	// reloadSlot admits one reload (load and commit) at a time.
	reloadSlot chan struct{}
	reloadMu   sync.Mutex // held while the hot path and the engine change

	mu       sync.Mutex // guards the fields below and orders SetZones with them
	loadedAt map[*zone.Zone]time.Time
	// expired holds the secondary zones (canonical origins) expired under
	// expire-policy servfail; every commit marks them (zone.WithExpired).
	expired  map[string]bool
	hot      HotPath
	gen      uint32   // the XDP generation last swapped in
	notifier Notifier // service manager (sd_notify); nil without
	image    imageState
	hooks    Hooks

	annMu    sync.Mutex // guards the fields below; held while announcing
	ann      Announcer
	mon      *health.Monitor
	drained  bool
	stopping bool   // Close has begun: withdrawn for good
	annErr   string // last announce/withdraw error
}

// New loads the zones of cfg (logging their warnings) and builds the
// engine and server; it does not listen yet. cfg must have been Finished.
// A zone that fails to load fails New with its file:line error.
func New(cfg *config.Config, log *slog.Logger) (*Daemon, error) {
	return NewWith(cfg, log, Hooks{})
}

// NewWith is New calling hooks during start.
func NewWith(cfg *config.Config, log *slog.Logger, hooks Hooks) (*Daemon, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Daemon{cfg: cfg, log: log, n: new(counters), reloadSlot: make(chan struct{}, 1), expired: map[string]bool{},
		hooks: hooks, image: imageState{appendAfter: appendAfter}}
	d.life, d.stop = context.WithCancel(context.Background())
	set, err := d.loadStart(d.life)
	if err != nil {
		d.stop()
		return nil, fmt.Errorf("loading zones: %w", err)
	}
	d.eng = engine.New(cfg.EngineConfig(), set)
	d.setLoaded(set)
	d.sec = d.newSecondaries()
	var notify func([]byte, netip.Addr) []byte
	if d.sec != nil {
		notify = d.sec.HandleNotify
	}
	var srvTap server.Tap
	if cfg.DnstapSocket != "" || cfg.DnstapFile != "" {
		w, err := tap.New(tap.Config{Socket: cfg.DnstapSocket, File: cfg.DnstapFile, Sample: uint64(cfg.DnstapSample),
			Identity: cfg.Identity, Version: buildinfo.Version()})
		if err != nil {
			d.stop()
			return nil, err
		}
		d.tap, srvTap = w, w
	}
	d.srv = server.New(server.Config{
		Listen:          cfg.Listen,
		AXFRAllow:       cfg.AXFRAllow,
		AXFRAllowKeyed:  cfg.AXFRAllowKeyed,
		Keys:            cfg.Keys,
		TCPIdleTimeout:  cfg.TCPIdleTimeout,
		TCPReadTimeout:  cfg.TCPReadTimeout,
		TCPWriteTimeout: cfg.TCPWriteTimeout,
		TCPMaxConns:     cfg.TCPMaxConns,
		// Zero values take the server's defaults.
		TCPMaxConnsPerClient: cfg.TCPMaxConnsPerClient,
		TCPClientPrefix4:     cfg.TCPClientPrefix4,
		TCPClientPrefix6:     cfg.TCPClientPrefix6,
		EDNSSize:             cfg.UDPSize,
		DropSourcePorts:      srcport.NewSet(cfg.DroppedSourcePorts()),
		AnswerGroupQueries:   cfg.AnswerGroupQueries,
		AnswerCache:          int(cfg.AnswerCache),
		RRL:                  cfg.RRL,
		CookieSecret:         cfg.CookieSecret,
		CookieRequire:        cfg.CookieRequire,
		Tap:                  srvTap,
		Notify:               notify,
		Logger:               log,
	}, countingEngine{d.eng, d.n})
	return d, nil
}

// options are the zone loading options of the configuration.
func (d *Daemon) options() zone.Options { return d.cfg.ZoneOptions() }

// loadAll loads and checks every configured zone. Its error is the
// zone's own (file:line: reason), not wrapped.
func (d *Daemon) loadAll(ctx context.Context, specs []zone.Spec) (*zone.Set, error) {
	start := time.Now()
	set, err := zone.LoadSetContext(ctx, specs, d.options())
	if err != nil {
		return nil, err
	}
	for _, z := range set.Zones() {
		d.logZone(z)
	}
	d.log.Info("zones loaded", "zones", len(set.Zones()), "took", time.Since(start).Round(time.Millisecond))
	return set, nil
}

// logZone logs a freshly loaded zone and its warnings.
func (d *Daemon) logZone(z *zone.Zone) {
	for _, w := range z.Warnings {
		d.log.Warn("zone warning", "zone", z.Name(), "file", z.File, "warning", w)
	}
	d.log.Info("zone loaded", "zone", z.Name(), "serial", z.Serial, "records", z.RecordCount(), "signed", z.Signed)
}

// setLoaded records the load time of the zones of set that are new. d.mu
// must be held, or d not yet shared.
func (d *Daemon) setLoaded(set *zone.Set) {
	now := time.Now()
	m := make(map[*zone.Zone]time.Time, len(set.Zones()))
	for _, z := range set.Zones() {
		if t, ok := d.loadedAt[z]; ok {
			m[z] = t
			continue
		}
		m[z] = now
		// A zone changes by IXFR or by a reload of its file applied as a
		// difference (zone.Apply, render.Recompile), which reads the
		// zone's indexes: build them in the background, rather than on
		// the first change (at a million delegations 0.3 s and 2 MB
		// unsigned, 2 s and 11 MB NSEC3-signed); at the start, once it
		// has settled (not beside the hot path's first filling of the
		// maps, and before the start's garbage is handed back).
		if d.settled {
			go d.buildIndex(z)
		} else {
			d.unindexed = append(d.unindexed, z)
		}
	}
	d.loadedAt = m
}

// buildIndex builds z's indexes (zone.BuildIndex) and logs it (not for
// a version a change made, which carries them).
func (d *Daemon) buildIndex(z *zone.Zone) {
	t0 := time.Now()
	if z.BuildIndex() {
		d.log.Info("zone indexes built", "zone", z.Name(), "serial", z.Serial, "took", time.Since(t0).Round(time.Millisecond))
	}
}

// Start makes the server listen and opens the control socket (unless
// the configuration disables it); cancelling ctx stops both.
func (d *Daemon) Start(ctx context.Context) error {
	if err := d.srv.Start(ctx); err != nil {
		return err
	}
	d.mu.Lock()
	d.started = time.Now()
	d.mu.Unlock()
	// What loading the zones (and the hot path's first compile) left,
	// off the start: once the hot path has finished its record of the
	// maps (made in the background), which holds the map image until then.
	go func() {
		if s, ok := d.hotPath().(interface{ Settle() }); ok {
			s.Settle()
		}
		d.mu.Lock()
		zones := d.unindexed
		d.settled, d.unindexed = true, nil
		d.mu.Unlock()
		for _, z := range zones {
			d.buildIndex(z)
		}
		releaseMemory()
	}()
	d.startHealth(ctx)
	if d.sec != nil {
		d.sec.Start()
	}
	if err := d.startMetrics(); err != nil {
		d.srv.Close()
		return err
	}
	if d.cfg.Control == "" {
		d.notify(d.readyState(""))
		return nil
	}
	ctl, err := control.Listen(control.Config{Path: d.cfg.Control, Logger: d.log}, d.Handler())
	if err != nil {
		if d.metrics != nil {
			d.metrics.Close()
		}
		d.srv.Close()
		return err
	}
	d.ctl = ctl
	context.AfterFunc(ctx, func() { ctl.Close() })
	d.log.Info("control socket", "path", d.cfg.Control)
	d.notify(d.readyState(""))
	return nil
}

// Addrs returns the addresses served, ephemeral ports resolved.
func (d *Daemon) Addrs() []netip.AddrPort { return d.srv.Addrs() }

// Engine returns the answer engine.
func (d *Daemon) Engine() *engine.Engine { return d.eng }

// SetHotPath hands the XDP hot path to the daemon, which from then on
// swaps it on every reload, reports it in Status and Stats, and closes it
// in Close. Call it after New, with the hot path already serving the
// engine's current zones (Engine().Zones()); nil removes it (without
// closing it).
func (d *Daemon) SetHotPath(h HotPath) {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hot = h
	if h != nil {
		d.gen = h.Generation()
	}
}

// reloadGCPercent is the GOGC the daemon runs a reload with (the
// environment's, GOGC or 100, the rest of the time): the heap may grow a
// quarter past what is live, not double.
const reloadGCPercent = 25

// releaseMemory hands the heap a zone load or a compile left behind back
// to the operating system: the text parser's records, the rendered image
// and the old zone set are garbage once a set is swapped in, and without
// it the process keeps the peak of the last load as its resident size.
// The daemon sets no GOMEMLIMIT, and GOGC only during a reload
// (reloadGCPercent); a secondary's IXFR that the hot path renders alone
// does neither (reloadZone).
func releaseMemory() { debug.FreeOSMemory() }

// partialUpdates is how many changes the hot path has rendered and
// written alone (MapUpdates), 0 without one.
func (d *Daemon) partialUpdates() uint64 {
	if mu, ok := d.hotPath().(MapUpdates); ok {
		p, _, _ := mu.MapUpdates()
		return p
	}
	return 0
}

// hotPath returns the hot path, or nil.
func (d *Daemon) hotPath() HotPath {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.hot
}

// Reload loads every zone again from the same files. On success the new
// set replaces the old one in one step; on failure the old set keeps
// being served and the error (with file:line) is returned.
func (d *Daemon) Reload() error {
	_, err := d.ReloadZone("")
	return err
}

// ReloadZone reloads the configured zone with origin name (any case,
// with or without the final dot), or every zone when name is "". The
// XDP hot path, if any, takes the new set first; only if it and every
// zone load does the engine take it. On failure nothing changes and the
// error is returned: for a zone that does not load, a *zone.Error
// (file:line: reason).
func (d *Daemon) ReloadZone(name string) (control.ReloadResult, error) {
	return d.reloadVersion(name, nil, nil)
}

// InstallZone makes v (a version of configured zone name made from the
// served one, as a secondary's IXFR makes it with zone.Apply) live as a
// reload of name would, without loading its file; changed, when not nil,
// lists the names whose data changed (zone.Changed), which spares the hot
// path comparing the versions.
func (d *Daemon) InstallZone(name string, v *zone.Zone, changed [][]byte) (control.ReloadResult, error) {
	return d.reloadVersion(name, v, changed)
}

// reloadVersion is ReloadZone with a version given (v not nil) or loaded.
func (d *Daemon) reloadVersion(name string, v *zone.Zone, changed [][]byte) (control.ReloadResult, error) {
	start := time.Now()
	d.notify(reloadingState())
	res, err := d.reloadZone(name, v, changed)
	took := time.Since(start)
	d.n.reloaded(took, err)
	d.logReload(name, res, took, err)
	if err != nil {
		d.notify(d.readyState("; the last reload failed, the previous zones are served"))
	} else {
		d.notify(d.readyState(""))
	}
	return res, err
}

// logReload writes the one line of a reload: which zones (and serials),
// how long it took, and its result.
func (d *Daemon) logReload(name string, res control.ReloadResult, took time.Duration, err error) {
	zone := name
	if zone == "" {
		zone = "all"
	}
	serials := make([]string, 0, len(res.Zones))
	for _, z := range res.Zones {
		serials = append(serials, fmt.Sprintf("%s=%d", z.Origin, z.Serial))
	}
	if err != nil {
		d.log.Error("reload", "zone", zone, "duration", took.Round(time.Millisecond), "result", "failed",
			"err", control.TruncateError(err.Error()))
		return
	}
	d.log.Info("reload", "zone", zone, "serials", strings.Join(serials, " "), "duration", took.Round(time.Millisecond), "result", "ok")
}

// reloadZone is reloadVersion without the counting.
func (d *Daemon) reloadZone(name string, given *zone.Zone, hint [][]byte) (control.ReloadResult, error) {
	// A change given with its names (a secondary's IXFR) leaves little
	// garbage when the hot path renders it alone: neither a collection
	// sooner nor one to hand the heap back (FreeOSMemory collects a
	// TLD's gigabytes, a second or two of CPU, and the next change's
	// memory would then be new to the process: page faults), unless the
	// maps were compiled whole.
	change := given != nil && hint != nil
	partialBefore := d.partialUpdates()
	defer func() {
		if !change || d.partialUpdates() == partialBefore && d.hotPath() != nil {
			releaseMemory()
		}
	}()
	if !change {
		// While a new version is loaded beside the one served, collect
		// garbage sooner (reloadGCPercent): the parser's garbage would
		// otherwise grow the heap to twice what both versions hold.
		defer debug.SetGCPercent(debug.SetGCPercent(reloadGCPercent))
	}
	var spec zone.Spec
	if name != "" {
		var ok bool
		if spec, ok = d.spec(name); !ok {
			return control.ReloadResult{}, fmt.Errorf("zone %s is not configured", name)
		}
	}
	// Loading is bounded by reload-timeout and stops when the daemon
	// does; it holds no lock another command needs. One reload loads
	// and commits at a time: a second waits its turn within its own
	// timeout.
	ctx, cancel := context.WithTimeout(d.life, d.cfg.ReloadTimeout)
	defer cancel()
	select {
	case d.reloadSlot <- struct{}{}:
		defer func() { <-d.reloadSlot }()
	case <-ctx.Done():
		err := fmt.Errorf("another reload is still running after reload-timeout (%s): try again later", d.cfg.ReloadTimeout)
		d.log.Error("reload refused", "err", err)
		return control.ReloadResult{}, err
	}
	var loaded []*zone.Zone
	// hints: the names that changed in the zones (by lower-case wire
	// origin) read as a difference to their served version.
	hints := map[string][][]byte{}
	// diffs: what made the new version from the served one, for the
	// zones read as a difference (SerialWarning need not compare them).
	diffs := map[string]*zone.Changed{}
	if given != nil {
		loaded = []*zone.Zone{given}
		if hint != nil {
			hints[string(given.Origin.Lower)] = hint
		}
	} else {
		specs := d.zoneSpecs()
		if name != "" {
			specs = []zone.Spec{spec}
		}
		var err error
		if loaded, err = d.reloadFiles(ctx, specs, hints, diffs); err != nil {
			d.log.Error("reload failed; still serving the previous zones", "err", control.TruncateError(err.Error()))
			return control.ReloadResult{}, err
		}
	}
	// Commit: the hot path, then the engine.
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	prev := d.eng.Zones()
	set, changed := prev, loaded
	loaded = d.markExpired(loaded)
	if name == "" {
		var err error
		if set, err = zone.NewSet(loaded...); err != nil {
			return control.ReloadResult{}, err
		}
	} else {
		set = prev.With(loaded[0])
	}
	var res control.ReloadResult
	if hot := d.hotPath(); hot != nil {
		var gen uint32
		var err error
		for _, z := range loaded {
			if z.Expired {
				delete(hints, string(z.Origin.Lower))
			}
		}
		if cs, ok := hot.(ChangeSwapper); ok && len(hints) > 0 {
			gen, err = cs.SwapChanged(set, hints)
		} else {
			gen, err = hot.Swap(set)
		}
		if err != nil {
			err = fmt.Errorf("xdp: %w", err)
			d.log.Error("reload failed; still serving the previous zones", "err", err)
			return control.ReloadResult{}, err
		}
		res.Generation = &gen
	}
	d.mu.Lock()
	d.eng.SetZones(set)
	d.setLoaded(set)
	if res.Generation != nil {
		d.gen = *res.Generation
	}
	d.mu.Unlock()
	for _, z := range changed {
		warnings := z.Warnings
		if w := zone.SerialWarning(prev.Zone(z.Origin.Lower), z, diffs[string(z.Origin.Lower)]); w != "" {
			d.log.Warn("zone reloaded with a serial secondaries will not follow", "zone", z.Name(), "warning", w)
			warnings = append(warnings[:len(warnings):len(warnings)], w)
		}
		res.Zones = append(res.Zones, control.ZoneReload{
			Origin: z.Name(), Serial: z.Serial, File: z.File, Records: z.RecordCount(), Warnings: warnings,
		})
	}
	if res.Generation != nil {
		d.log.Info("reloaded", "zones", len(changed), "xdp_generation", *res.Generation)
	} else {
		d.log.Info("reloaded", "zones", len(changed))
	}
	return res, nil
}

// reloadFiles reads the zones of specs again: a zone served from the
// same file as the difference to its served version (zone.ReloadFile,
// which skips a file unchanged since it was read, and records the names
// changed in hints and the change in diffs), any other whole. Its error is
// the zone's own.
func (d *Daemon) reloadFiles(ctx context.Context, specs []zone.Spec, hints map[string][][]byte, diffs map[string]*zone.Changed) ([]*zone.Zone, error) {
	start := time.Now()
	out := make([]*zone.Zone, 0, len(specs))
	for _, sp := range specs {
		served := d.servedZone(sp.Origin)
		var z *zone.Zone
		var err error
		if served != nil && served.File == sp.File && !served.Expired {
			var changed *zone.Changed
			if z, changed, err = zone.ReloadFile(ctx, served, sp.File, d.options()); err != nil {
				return nil, err
			}
			if o := changed.Owners(served.Origin.Lower); o != nil {
				hints[string(served.Origin.Lower)] = o
			}
			if changed != nil {
				diffs[string(served.Origin.Lower)] = changed
			}
			if z == served {
				d.log.Info("zone file unchanged since read", "zone", z.Name(), "file", sp.File)
				out = append(out, z)
				continue
			}
		} else if z, err = zone.LoadFileContext(ctx, sp.Origin, sp.File, d.options()); err != nil {
			return nil, err
		}
		d.logZone(z)
		out = append(out, z)
	}
	d.log.Info("zones loaded", "zones", len(out), "took", time.Since(start).Round(time.Millisecond))
	return out, nil
}

// spec returns the configured zone with origin name.
func (d *Daemon) spec(name string) (zone.Spec, bool) {
	want := dns.CanonicalName(name)
	for _, sp := range d.cfg.Zones {
		if dns.CanonicalName(sp.Origin) == want {
			return sp, true
		}
	}
	return d.secondarySpec(want)
}

// Status describes the daemon for the control socket.
func (d *Daemon) Status() control.Status {
	d.mu.Lock()
	set, started, hot := d.eng.Zones(), d.started, d.hot
	st := control.Status{
		Version: buildinfo.Version(),
		Started: started,
		Listen:  []string{},
		Zones:   make([]control.ZoneStatus, 0, len(set.Zones())),
	}
	for _, z := range set.Zones() {
		st.Zones = append(st.Zones, control.ZoneStatus{
			Origin:   z.Name(),
			Serial:   z.Serial,
			File:     z.File,
			LoadedAt: d.loadedAt[z],
			Records:  z.RecordCount(),
			Warnings: len(z.Warnings),
			Signed:   z.Signed,
			NSEC3:    z.NSEC3 != nil,
		})
		if z.HasRRSIGs() {
			exp := z.SigExpiration
			st.Zones[len(st.Zones)-1].SigExpiration = &exp
		}
	}
	d.mu.Unlock()
	if d.sec != nil {
		if states, err := d.ZoneStatus(""); err == nil {
			for i := range st.Zones {
				for _, zs := range states {
					if zs.Role == "secondary" && zs.Origin == st.Zones[i].Origin {
						st.Zones[i].Secondary = &zs
					}
				}
			}
		}
	}
	if !started.IsZero() {
		st.UptimeSeconds = int64(time.Since(started) / time.Second)
	}
	for _, a := range d.srv.Addrs() {
		st.Listen = append(st.Listen, a.String())
	}
	if hot != nil {
		st.XDP = &control.XDPStatus{Attachments: hot.Attachments(), Generation: hot.Generation()}
		if m, ok := hot.(MapMemory); ok {
			st.XDP.MapBytes = m.MapBytes()
		}
		if m, ok := hot.(MapUpdates); ok {
			st.XDP.Partial, st.XDP.InPlace, st.XDP.Swaps = m.MapUpdates()
		}
	}
	if b, err := d.BGP(); err == nil {
		st.BGP = &b
	}
	return st
}

// Stats returns the query counters for the control socket.
func (d *Daemon) Stats() control.Stats {
	s := control.Stats{Queries: d.n.snapshot(), Server: d.srv.Counters(), Reloads: d.n.reloads()}
	s.AnswerCache.Hits, s.AnswerCache.Misses = d.srv.CacheCounts()
	if hot := d.hotPath(); hot != nil {
		c, err := hot.Counters()
		if err != nil {
			s.XDPError = err.Error()
		} else {
			s.XDP = c
		}
	}
	return s
}

// Handler returns the daemon as a control.Handler.
func (d *Daemon) Handler() control.Handler { return handler{d} }

// handler adapts Daemon to control.Handler (Daemon's own Reload keeps
// its historical signature for SIGHUP).
type handler struct{ d *Daemon }

func (h handler) Reload(zone string) (control.ReloadResult, error)    { return h.d.ReloadZone(zone) }
func (h handler) Status() control.Status                              { return h.d.Status() }
func (h handler) Stats() control.Stats                                { return h.d.Stats() }
func (h handler) Drain() (control.BGPStatus, error)                   { return h.d.Drain() }
func (h handler) Undrain() (control.BGPStatus, error)                 { return h.d.Undrain() }
func (h handler) BGP() (control.BGPStatus, error)                     { return h.d.BGP() }
func (h handler) ZoneStatus(zone string) ([]control.ZoneState, error) { return h.d.ZoneStatus(zone) }
func (h handler) RotateCookieSecret(secret string) (control.CookieRotation, error) {
	return h.d.RotateCookieSecret(secret)
}
func (h handler) Refresh(zone string, full bool) error { return h.d.Refresh(zone, full) }
func (h handler) Explain(q control.ExplainQuery) (control.ExplainResult, error) {
	return h.d.Explain(q)
}

// Close stops the daemon. With a BGP speaker it first withdraws the
// routes and, if they were announced, keeps answering for the configured
// drain time, so that
// traffic moves to other nodes before this one stops answering; then it
// stops the health monitor. It then stops the control socket, the XDP hot
// path and the server (the last bounded by the server's shutdown
// timeout), and finally closes the speaker.
func (d *Daemon) Close() error {
	d.stop() // a reload still loading gives up at once
	if d.sec != nil {
		d.sec.Close() // no transfer starts a reload any more
	}
	d.notify("STOPPING=1\nSTATUS=stopping")
	d.annMu.Lock()
	ann, mon, first := d.ann, d.mon, !d.stopping
	announced := false
	if ann != nil && first {
		announced = ann.Announced()
		d.stopping = true
		d.reconcileLocked()
	}
	d.annMu.Unlock()
	if announced && d.cfg.DrainTime > 0 {
		d.log.Info("draining before stopping", "drain_time", d.cfg.DrainTime)
		time.Sleep(d.cfg.DrainTime)
	}
	if mon != nil {
		mon.Stop()
	}
	err := d.closeServing()
	d.image.writes.Wait() // a compiled image being written is finished
	if ann != nil && first {
		if cerr := ann.Close(); cerr != nil {
			d.log.Error("closing the BGP speaker", "err", cerr)
			if err == nil {
				err = cerr
			}
		}
	}
	return err
}

// closeServing stops the control socket, the XDP hot path and the server.
func (d *Daemon) closeServing() error {
	if d.ctl != nil {
		d.ctl.Close()
	}
	if d.metrics != nil {
		if err := d.metrics.Close(); err != nil {
			d.log.Error("closing the metrics server", "err", err)
		}
	}
	var hotErr error
	if hot := d.hotPath(); hot != nil {
		hotErr = hot.Close()
		if hotErr != nil {
			d.log.Error("closing the XDP hot path", "err", hotErr)
		}
	}
	err := d.srv.Close()
	if d.tap != nil {
		d.tap.Close() // after the server and the hot path: nothing writes any more
	}
	if err != nil {
		return err
	}
	return hotErr
}

// Tap returns the dnstap writer, or nil when dnstap is off.
func (d *Daemon) Tap() *tap.Writer { return d.tap }
