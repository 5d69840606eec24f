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

// earlyXDP loads the program while the daemon reads its zones (the
// verifier's work on the other core), and fills its maps from the
// compiled zone image while the daemon is still reading the image's zones
// (daemon.Hooks.BootImage), so that the two take one core each at start.
type earlyXDP struct {
	loaded chan struct{}    // closed once the load ended: hp, or err
	hp     *hotpath.HotPath // the program, attached nowhere yet
	err    error            // why the program or the image's maps could not be loaded
	img    *render.Image    // the image hp's maps were filled from, if any
}

// newEarlyXDP starts loading the program, nil without XDP.
func newEarlyXDP(cfg *config.Config) *earlyXDP {
	if len(cfg.XDP) == 0 {
		return nil
	}
	e := &earlyXDP{loaded: make(chan struct{})}
	go func() {
		defer close(e.loaded)
		opts, err := loaderOptions(cfg)
		if err == nil {
			e.hp, err = hotpath.Load(opts, cfg.EngineConfig())
		}
		e.err = err
	}()
	return e
}

// hook is the daemon's BootImage hook (nil without XDP): the image's
// maps, into the program once it is loaded.
func (e *earlyXDP) hook() func(*render.Image) {
	if e == nil {
		return nil
	}
	return func(img *render.Image) {
		<-e.loaded
		if e.hp == nil {
			return
		}
		if err := e.hp.Install(img); err != nil {
			e.err = err
			return
		}
		e.img = img
	}
}

// take hands over the program loaded early (nil if its load failed), and
// whether its maps hold img (the daemon's boot image, nil if none).
func (e *earlyXDP) take(img *render.Image) (hp *hotpath.HotPath, filled bool, err error) {
	if e == nil {
		return nil, false, nil
	}
	<-e.loaded
	hp, filled, err = e.hp, img != nil && e.img == img, e.err
	e.hp, e.img = nil, nil // the compiler's image is garbage once live
	return hp, filled, err
}

// close frees a program loaded early and not taken.
func (e *earlyXDP) close() {
	if hp, _, _ := e.take(nil); hp != nil {
		hp.Close()
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
	zones := d.Engine().Zones()
	hp, filled, err := early.take(img)
	if err != nil && hp != nil {
		log.Warn("xdp: the compiled image's maps could not be loaded; compiling the zones", "err", err)
	}
	switch {
	case hp != nil:
		hp.SetCompiled(d.SaveImage)
		hp.SetChanged(d.SaveChange)
		// Loaded early without these zones' maps (none read from an
		// image, or not these zones): compiled now.
		if !filled {
			if _, err := hp.Swap(zones); err != nil {
				hp.Close()
				return fmt.Errorf("xdp: %w", err)
			}
		}
		if err := hp.Start(zones); err != nil {
			hp.Close()
			return fmt.Errorf("xdp: %w", err)
		}
	default:
		opts, err := loaderOptions(cfg)
		if err != nil {
			return err
		}
		hp, err = hotpath.NewWith(opts, d.Engine().Config(), zones, hotpath.Boot{Image: img, Compiled: d.SaveImage, Changed: d.SaveChange})
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
