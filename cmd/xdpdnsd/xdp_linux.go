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
)

// startXDP loads the XDP program with the daemon's zones and attaches it
// to the configured interfaces; it serves the UDP ports and addresses the
// daemon listens on (the host's addresses when one is a wildcard), never
// answers the ports the daemon drops (drop-source-ports).
func startXDP(cfg *config.Config, d *daemon.Daemon, log *slog.Logger) error {
	opts, err := xdpOptions(cfg)
	if err != nil {
		return err
	}
	if d.Tap() != nil {
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
	hp, err := hotpath.NewWith(opts, d.Engine().Config(), d.Engine().Zones(),
		hotpath.Boot{Image: d.BootImage(), Compiled: d.SaveImage})
	if err != nil {
		return fmt.Errorf("xdp: %w", err)
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
