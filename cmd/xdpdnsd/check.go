package main

import (
	"os"

	"fmt"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
	"io"
	"net"

	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/zonecompiler/check"
)

// checkConfig is --check-config: the configuration (already parsed and
// finished by the caller, its errors reported as FILE:LINE) and every
// zone are loaded and checked and the XDP image compiled, with no socket,
// no control server and no kernel program. It prints the report and
// returns the exit code: 0 when xdpdnsd would start, 1 otherwise.
func checkConfig(cfg *config.Config, stdout, stderr io.Writer) int {
	if len(cfg.Zones) == 0 && len(cfg.Secondaries) == 0 {
		fmt.Fprintln(stderr, "xdpdnsd: no zones configured: every query would be refused")
		return exitError
	}
	specs := append([]zone.Spec(nil), cfg.Zones...)
	for _, sz := range cfg.Secondaries {
		if _, err := os.Stat(sz.File); err != nil {
			fmt.Fprintf(stdout, "secondary %s: no copy in %s yet: served after the first transfer from %v\n", sz.Origin, sz.File, sz.Primaries)
			continue
		}
		specs = append(specs, zone.Spec{Origin: sz.Origin, File: sz.File})
	}
	r, err := check.Run(specs, cfg.ZoneOptions(), cfg.EngineConfig())
	if err != nil {
		fmt.Fprintf(stderr, "xdpdnsd: %v\n", err)
		return exitError
	}
	if err := r.Write(stdout); err != nil {
		fmt.Fprintf(stderr, "xdpdnsd: %v\n", err)
		return exitError
	}
	for _, x := range cfg.XDP {
		if _, err := net.InterfaceByName(x.Iface); err != nil {
			fmt.Fprintf(stdout, "warning: xdp %s: no such interface on this host (%v)\n", x.Iface, err)
			continue
		}
		fmt.Fprintf(stdout, "xdp: would attach to %s (%s)\n", x.Iface, x.Mode)
	}
	fmt.Fprintln(stdout, "configuration OK")
	return exitOK
}
