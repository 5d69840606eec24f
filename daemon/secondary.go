package daemon

import (
	"context"
	"os"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/secondary"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// zoneSpecs lists the zones to load: the configured zone files, and the
// secondary zones whose last good copy exists (the others wait for their
// first transfer).
func (d *Daemon) zoneSpecs() []zone.Spec {
	specs := append([]zone.Spec(nil), d.cfg.Zones...)
	for _, sz := range d.cfg.Secondaries {
		if _, err := os.Stat(sz.File); err != nil {
			d.log.Warn("secondary: no copy yet; serving it after the first transfer", "zone", sz.Origin, "file", sz.File)
			continue
		}
		specs = append(specs, zone.Spec{Origin: sz.Origin, File: sz.File})
	}
	return specs
}

// secondarySpec returns the secondary zone origin as a zone spec.
func (d *Daemon) secondarySpec(want string) (zone.Spec, bool) {
	for _, sz := range d.cfg.Secondaries {
		if dns.CanonicalName(sz.Origin) == want {
			return zone.Spec{Origin: sz.Origin, File: sz.File}, true
		}
	}
	return zone.Spec{}, false
}

// newSecondaries makes the manager of the secondary zones, if any: a new
// version it accepts goes live through ReloadZone, like an operator's
// reload.
func (d *Daemon) newSecondaries() *secondary.Manager {
	if len(d.cfg.Secondaries) == 0 {
		return nil
	}
	return secondary.New(secondary.Config{
		Zones: d.cfg.Secondaries, Keys: d.cfg.Keys,
		Source4: d.cfg.TransferSource4, Source6: d.cfg.TransferSource6,
		ZoneOptions: d.options(),
		Apply: func(ctx context.Context, origin string) error {
			_, err := d.ReloadZone(origin)
			return err
		},
		Serial: func(origin string) (uint32, bool) {
			buf := make([]byte, wire.MaxNameLen+1)
			n, err := dns.PackDomainName(dns.CanonicalName(origin), buf, 0, nil, false)
			if err != nil {
				return 0, false
			}
			z := d.eng.Zones().Zone(wire.ToLower(buf[:n]))
			if z == nil {
				return 0, false
			}
			return z.Serial, true
		},
		Log: d.log,
	})
}

// Secondaries returns the secondary zones' manager, or nil.
func (d *Daemon) Secondaries() *secondary.Manager { return d.sec }
