package daemon

import (
	"context"
	"errors"
	"fmt"

	"github.com/xdpdns/xdpdns/metrics"
)

// startMetrics starts the Prometheus metrics server when the
// configuration asks for one (metrics-listen).
func (d *Daemon) startMetrics() error {
	if !d.cfg.MetricsListen.IsValid() {
		return nil
	}
	h, err := metrics.Handler(d, d.healthz)
	if err != nil {
		return err
	}
	srv, err := metrics.Listen(d.cfg.MetricsListen, h)
	if err != nil {
		return err
	}
	d.metrics = srv
	d.log.Info("metrics", "listen", srv.Addr().String())
	return nil
}

// MetricsAddr returns the address the metrics server listens on (its
// ephemeral port resolved), or the zero value without one.
func (d *Daemon) MetricsAddr() (addr string, ok bool) {
	if d.metrics == nil {
		return "", false
	}
	return d.metrics.Addr().String(), true
}

// healthz is /healthz: with a health monitor (BGP nodes) its verdict,
// which is what the route follows; without one, the same checks run once.
func (d *Daemon) healthz(ctx context.Context) error {
	if st, ok := d.Health(); ok {
		if st.Healthy {
			return nil
		}
		var errs []error
		for _, c := range st.Checks {
			if c.Error != "" {
				errs = append(errs, fmt.Errorf("%s: %s", c.Name, c.Error))
			}
		}
		if len(errs) == 0 {
			errs = append(errs, fmt.Errorf("health monitor: not healthy yet (%d passing rounds)", st.Passes))
		}
		return errors.Join(errs...)
	}
	for _, c := range d.Checks() {
		if err := c.Run(ctx); err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
	}
	return nil
}
