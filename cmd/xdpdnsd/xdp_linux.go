//go:build linux

package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"

	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/daemon"
	"github.com/xdpdns/xdpdns/daemon/hotpath"
	"github.com/xdpdns/xdpdns/loader"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
)

// earlyXDP fills the hot path's maps from the compiled zone image while
// the daemon is still reading the image's zones (daemon.Hooks.BootImage),
// so that the two take one core each at start.
type earlyXDP struct {
	cfg *config.Config
	img *render.Image // the image the maps were filled from
	hp  *hotpath.HotPath
	err error
}

// newEarlyXDP returns the early start of the hot path, nil without XDP.
func newEarlyXDP(cfg *config.Config) *earlyXDP {
	if len(cfg.XDP) == 0 {
		return nil
	}
	return &earlyXDP{cfg: cfg}
}

// hook is the daemon's BootImage hook (nil without XDP).
func (e *earlyXDP) hook() func(*render.Image) {
	if e == nil {
		return nil
	}
	return func(img *render.Image) {
		opts, err := loaderOptions(e.cfg)
		if err == nil {
			e.hp, err = hotpath.Prepare(opts, e.cfg.EngineConfig(), img, nil)
		}
		e.img, e.err = img, err
	}
}

// close frees a hot path prepared and not started.
func (e *earlyXDP) close() {
	if e != nil && e.hp != nil {
		e.hp.Close()
		e.hp = nil
	}
}

// startXDP attaches the XDP program to the configured interfaces, loaded
// with the daemon's zones: the maps early filled from the compiled zone
// image when the daemon's zones are that image's, else compiled now. It
// serves the UDP ports and addresses the daemon listens on (the host's
// addresses when one is a wildcard), never answers the ports the daemon
// drops (drop-source-ports).
func startXDP(cfg *config.Config, d *daemon.Daemon, log *slog.Logger, early *earlyXDP) error {
	img := d.BootImage()
	var hp *hotpath.HotPath
	if early != nil {
		defer func() { early.img = nil }() // the compiler's image is garbage once live
	}
	switch {
	case early == nil:
	case early.err != nil:
		log.Warn("xdp: the compiled image's maps could not be loaded; compiling the zones", "err", early.err)
		img = nil
	case early.hp != nil && img != nil && img == early.img:
		if err := early.hp.Start(d.Engine().Zones()); err != nil {
			early.close()
			return fmt.Errorf("xdp: %w", err)
		}
		hp, early.hp = early.hp, nil
		hp.SetCompiled(d.SaveImage)
	default:
		early.close() // the zones were not the image's after all
	}
	if hp == nil {
		opts, err := loaderOptions(cfg)
		if err != nil {
			return err
		}
		hp, err = hotpath.NewWith(opts, d.Engine().Config(), d.Engine().Zones(),
			hotpath.Boot{Image: img, Compiled: d.SaveImage})
		if err != nil {
			return fmt.Errorf("xdp: %w", err)
		}
	}
	d.SetHotPath(hp)
	if w := d.Tap(); w != nil {
		if err := hp.Tap(w); err != nil {
			return fmt.Errorf("xdp: dnstap samples: %w", err)
		}
	}
	st := hp.ImageStats()
	log.Info("xdp: attached", "interfaces", fmt.Sprint(hp.Attachments()), "generation", hp.Generation(),
		"names", st.Names, "templates", st.Templates)
	return nil
}

// loaderOptions are the loader's options of cfg.
func loaderOptions(cfg *config.Config) (loader.Options, error) {
	opts, err := xdpOptions(cfg)
	if err != nil {
		return opts, err
	}
	if cfg.DnstapSocket != "" || cfg.DnstapFile != "" { // the daemon's tap (daemon.Tap)
		opts.TapSample, opts.TapRate = cfg.DnstapXDPSample, cfg.DnstapXDPRate
	}
	switch {
	case cfg.CookieRequire:
		opts.Cookies = abi.CookiesRequired
	case cfg.CookieSecret != nil:
		opts.Cookies = abi.CookiesOn
	}
	if cfg.CookieSecret != nil {
		opts.CookieSecret = cfg.CookieSecret[:]
	}
	r := cfg.RRL.WithDefaults()
	opts.RRL = loader.RRL{Rate: r.Rate, Slip: r.Slip, Prefix4: r.Prefix4, Prefix6: r.Prefix6, Window: r.Window,
		Exempt: r.Exempt, TableSize: r.TableSize}
	return opts, nil
}

func xdpOptions(cfg *config.Config) (loader.Options, error) {
	opts := loader.Options{DropSourcePorts: cfg.DroppedSourcePorts(), VLANs: cfg.XDPVLANs}
	for _, ap := range cfg.Listen {
		if !slices.Contains(opts.Ports, ap.Port()) {
			opts.Ports = append(opts.Ports, ap.Port())
		}
		a := ap.Addr().Unmap()
		if a.IsUnspecified() {
			// A wildcard listen serves the host's addresses, as the
			// kernel would deliver them to the socket: tracked by
			// the loader as they come and go, never "any address".
			opts.HostAddresses = true
			continue
		}
		opts.Prefixes = append(opts.Prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	for _, x := range cfg.XDP {
		opts.Attach = append(opts.Attach, loader.Attach{Iface: x.Iface, Mode: x.Mode})
	}
	return opts, nil
}
