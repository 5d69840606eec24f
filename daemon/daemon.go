// Package daemon ties xdpdnsd together: it loads the configured zones,
// builds the answer engine and the userspace server from a config.Config,
// and reloads the zones on request, keeping the old set when the new one
// fails to load.
package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/server"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// Daemon is one running xdpdnsd instance.
type Daemon struct {
	cfg *config.Config
	log *slog.Logger
	eng *engine.Engine
	srv *server.Server

	reloadMu sync.Mutex // one reload at a time
}

// New loads the zones of cfg (logging their warnings) and builds the
// engine and server; it does not listen yet. cfg must have been Finished.
// A zone that fails to load fails New with its file:line error.
func New(cfg *config.Config, log *slog.Logger) (*Daemon, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Daemon{cfg: cfg, log: log}
	set, err := d.load()
	if err != nil {
		return nil, err
	}
	listen := make([]netip.AddrPort, 0, len(cfg.Listen))
	for _, l := range cfg.Listen {
		ap, err := config.ParseListen(l)
		if err != nil {
			return nil, err
		}
		listen = append(listen, ap)
	}
	d.eng = engine.New(engine.Config{
		Identity: cfg.Identity,
		Version:  cfg.EngineVersion(),
		NSID:     cfg.NSID,
		UDPSize:  cfg.UDPSize,
	}, set)
	d.srv = server.New(server.Config{
		Listen:          listen,
		AXFRAllow:       cfg.AXFRAllow,
		TCPIdleTimeout:  cfg.TCPIdleTimeout,
		TCPReadTimeout:  cfg.TCPReadTimeout,
		TCPWriteTimeout: cfg.TCPWriteTimeout,
		TCPMaxConns:     cfg.TCPMaxConns,
		EDNSSize:        cfg.UDPSize,
		Logger:          log,
	}, d.eng)
	return d, nil
}

// load loads and checks every configured zone.
func (d *Daemon) load() (*zone.Set, error) {
	start := time.Now()
	set, err := zone.LoadSet(d.cfg.Zones, zone.Options{ExpiryWarning: d.cfg.ExpiryWarning})
	if err != nil {
		return nil, fmt.Errorf("loading zones: %w", err)
	}
	for _, z := range set.Zones() {
		for _, w := range z.Warnings {
			d.log.Warn("zone warning", "zone", z.Name(), "file", z.File, "warning", w)
		}
		d.log.Info("zone loaded", "zone", z.Name(), "serial", z.Serial, "records", len(z.Records), "signed", z.Signed)
	}
	d.log.Info("zones loaded", "zones", len(set.Zones()), "took", time.Since(start).Round(time.Millisecond))
	return set, nil
}

// Start makes the server listen; cancelling ctx stops it.
func (d *Daemon) Start(ctx context.Context) error {
	return d.srv.Start(ctx)
}

// Addrs returns the addresses served, ephemeral ports resolved.
func (d *Daemon) Addrs() []netip.AddrPort { return d.srv.Addrs() }

// Engine returns the answer engine.
func (d *Daemon) Engine() *engine.Engine { return d.eng }

// Reload loads every zone again from the same files. On success the new
// set replaces the old one in one step; on failure the old set keeps
// being served and the error (with file:line) is returned.
func (d *Daemon) Reload() error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	set, err := d.load()
	if err != nil {
		d.log.Error("reload failed; still serving the previous zones", "err", err)
		return err
	}
	d.eng.SetZones(set)
	d.log.Info("reloaded", "zones", len(set.Zones()))
	return nil
}

// Close stops serving, bounded by the server's shutdown timeout.
func (d *Daemon) Close() error { return d.srv.Close() }
