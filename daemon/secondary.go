package daemon

import (
	"context"
	"fmt"
	"os"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/control"
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
		Apply: func(ctx context.Context, origin string, applied *secondary.Applied) error {
			if applied == nil {
				_, err := d.ReloadZone(origin)
				return err
			}
			var changed [][]byte
			if applied.Known {
				changed = applied.Changed
				if changed == nil {
					changed = [][]byte{} // known: nothing changed
				}
			}
			_, err := d.InstallZone(origin, applied.Zone, changed)
			return err
		},
		Expire: d.setExpired,
		Serial: func(origin string) (uint32, bool) {
			z := d.servedZone(origin)
			if z == nil {
				return 0, false
			}
			return z.Serial, true
		},
		Served: d.servedZone,
		Log:    d.log,
	})
}

// servedZone returns the version of zone origin served now, or nil.
func (d *Daemon) servedZone(origin string) *zone.Zone {
	buf := make([]byte, wire.MaxNameLen+1)
	n, err := dns.PackDomainName(dns.CanonicalName(origin), buf, 0, nil, false)
	if err != nil {
		return nil
	}
	return d.eng.Zones().Zone(wire.ToLower(buf[:n]))
}

// Secondaries returns the secondary zones' manager, or nil.
func (d *Daemon) Secondaries() *secondary.Manager { return d.sec }

// ZoneStatus describes zone (or every zone when ""): its role, whether it
// is served and at which serial, and for a secondary its transfers.
func (d *Daemon) ZoneStatus(name string) ([]control.ZoneState, error) {
	want := dns.CanonicalName(name)
	served := map[string]uint32{}
	warnings := map[string][]string{}
	for _, z := range d.eng.Zones().Zones() {
		served[z.Name()] = z.Serial
		warnings[z.Name()] = z.Warnings
	}
	var out []control.ZoneState
	for _, sp := range d.cfg.Zones {
		o := dns.CanonicalName(sp.Origin)
		if name != "" && o != want {
			continue
		}
		serial, ok := served[o]
		out = append(out, control.ZoneState{Origin: o, Role: "file", File: sp.File, Served: ok, Serial: serial, Warnings: warnings[o]})
	}
	if d.sec != nil {
		for _, st := range d.sec.Status() {
			if name != "" && st.Origin != want {
				continue
			}
			serial, ok := served[st.Origin]
			zs := control.ZoneState{Origin: st.Origin, Role: "secondary", Served: ok, Serial: serial,
				LastPrimary: st.LastPrimary, LastError: st.LastError, Transfers: st.Transfers, IXFRs: st.IXFRs, Notifies: st.Notifies,
				ExpirePolicy: st.Policy, Expired: st.Expired, Stale: st.Expired && st.Policy == secondary.PolicyServeStale,
				Warnings: warnings[st.Origin]}
			if !st.Expires.IsZero() {
				t := st.Expires
				zs.Expires = &t
			}
			if sp, ok := d.secondarySpec(st.Origin); ok {
				zs.File = sp.File
			}
			for _, sz := range d.cfg.Secondaries {
				if dns.CanonicalName(sz.Origin) == st.Origin {
					for _, p := range sz.Primaries {
						zs.Primaries = append(zs.Primaries, p.String())
					}
				}
			}
			if !st.LastRefresh.IsZero() {
				t := st.LastRefresh
				zs.LastRefresh = &t
			}
			if !st.NextRefresh.IsZero() {
				t := st.NextRefresh
				zs.NextRefresh = &t
			}
			out = append(out, zs)
		}
	}
	if name != "" && len(out) == 0 {
		return nil, fmt.Errorf("zone %s is not configured", name)
	}
	return out, nil
}

// Refresh makes the secondary zone check its primaries now (full: transfer
// the whole zone).
func (d *Daemon) Refresh(name string, full bool) error {
	if d.sec == nil || !d.sec.Refresh(name, full) {
		return fmt.Errorf("zone %s is not a secondary zone", name)
	}
	return nil
}

// markExpired returns zones with the expired ones (expire-policy servfail)
// marked, so that a reload cannot bring an expired zone back.
func (d *Daemon) markExpired(zones []*zone.Zone) []*zone.Zone {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.expired) == 0 {
		return zones
	}
	out := make([]*zone.Zone, len(zones))
	for i, z := range zones {
		out[i] = z
		if d.expired[z.Name()] != z.Expired {
			out[i] = z.WithExpired(!z.Expired)
		}
	}
	return out
}

// setExpired switches a secondary zone to SERVFAIL (expired) or back, on
// both paths in one step, as a reload does. A zone not served yet is only
// recorded.
func (d *Daemon) setExpired(origin string, expired bool) {
	origin = dns.CanonicalName(origin)
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	d.mu.Lock()
	if expired {
		d.expired[origin] = true
	} else {
		delete(d.expired, origin)
	}
	d.mu.Unlock()
	prev := d.eng.Zones()
	var old *zone.Zone
	for _, z := range prev.Zones() {
		if z.Name() == origin {
			old = z
		}
	}
	if old == nil || old.Expired == expired {
		return
	}
	z := old.WithExpired(expired)
	set := prev.With(z)
	var gen *uint32
	if hot := d.hotPath(); hot != nil {
		g, err := hot.Swap(set)
		if err != nil {
			// The userspace path still switches: it answers what the XDP
			// maps pass up, and the health check sees the stale generation.
			d.log.Error("xdp: switching the expired zone failed", "zone", origin, "err", err)
		} else {
			gen = &g
		}
	}
	d.mu.Lock()
	d.eng.SetZones(set)
	if t, ok := d.loadedAt[old]; ok {
		d.loadedAt[z] = t
	}
	d.setLoaded(set)
	if gen != nil {
		d.gen = *gen
	}
	d.mu.Unlock()
	d.log.Info("zone switched", "zone", origin, "expired", expired)
	releaseMemory()
}
