//go:build linux

package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"

	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/daemon"
	"github.com/xdpdns/xdpdns/daemon/hotpath"
	"github.com/xdpdns/xdpdns/loader"
)

// startXDP loads the XDP program with the daemon's zones and attaches it
// to the configured interfaces; it serves the UDP ports and addresses the
// daemon listens on (every address when one listen address is a wildcard).
func startXDP(cfg *config.Config, d *daemon.Daemon, log *slog.Logger) error {
	opts, err := xdpOptions(cfg)
	if err != nil {
		return err
	}
	hp, err := hotpath.New(opts, d.Engine().Config(), d.Engine().Zones())
	if err != nil {
		return fmt.Errorf("xdp: %w", err)
	}
	d.SetHotPath(hp)
	st := hp.ImageStats()
	log.Info("xdp: attached", "interfaces", fmt.Sprint(hp.Attachments()), "generation", hp.Generation(),
		"names", st.Names, "templates", st.Templates)
	return nil
}

func xdpOptions(cfg *config.Config) (loader.Options, error) {
	var opts loader.Options
	anyAddr := false
	for _, ap := range cfg.Listen {
		if !slices.Contains(opts.Ports, ap.Port()) {
			opts.Ports = append(opts.Ports, ap.Port())
		}
		a := ap.Addr().Unmap()
		if a.IsUnspecified() {
			anyAddr = true
			continue
		}
		opts.Prefixes = append(opts.Prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	if anyAddr {
		opts.Prefixes = nil
	}
	for _, x := range cfg.XDP {
		opts.Attach = append(opts.Attach, loader.Attach{Iface: x.Iface, Mode: x.Mode})
	}
	return opts, nil
}
