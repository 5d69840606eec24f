package main

import (
	"context"
	"log/slog"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"

	"github.com/xdpdns/xdpdns/daemon"
)

// systemdNotifier sends the daemon's state to systemd over $NOTIFY_SOCKET
// (sd_notify(3)); examples/xdpdnsd.service is a Type=notify unit.
type systemdNotifier struct{}

func (systemdNotifier) Notify(state string) error {
	_, err := sd.SdNotify(false, state)
	return err
}

// setupSystemd wires d to systemd when xdpdnsd runs under it: state
// notifications, and, when the unit sets WatchdogSec=, a watchdog that
// pings at half the interval for as long as the daemon answers a Status
// call (a daemon stuck on its own locks stops pinging and is restarted).
// The watchdog stops with ctx.
func setupSystemd(ctx context.Context, d *daemon.Daemon, log *slog.Logger) {
	if sent, err := sd.SdNotify(false, "STATUS=starting"); err != nil || !sent {
		if err != nil {
			log.Warn("NOTIFY_SOCKET is set but unusable", "err", err)
		}
		return
	}
	d.SetNotifier(systemdNotifier{})
	interval, err := sd.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("systemd watchdog settings", "err", err)
		return
	}
	if interval <= 0 {
		return
	}
	log.Info("systemd watchdog", "interval", interval)
	go func() {
		t := time.NewTicker(interval / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				d.Status() // blocks if the daemon is wedged: no ping then
				if _, err := sd.SdNotify(false, sd.SdNotifyWatchdog); err != nil {
					log.Warn("systemd watchdog ping", "err", err)
				}
			}
		}
	}()
}
