package daemon

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Notifier receives the daemon's service-manager state changes, in the
// sd_notify(3) protocol's words: "READY=1", "RELOADING=1", "STOPPING=1",
// with a STATUS= line. cmd/xdpdnsd sends them to systemd when it runs
// under a Type=notify unit.
type Notifier interface {
	Notify(state string) error
}

// SetNotifier hands the daemon a Notifier; call it before Start. Start
// notifies READY once it serves (zones loaded, XDP attached before Start,
// sockets bound); every reload notifies RELOADING, then READY with its
// result; Close notifies STOPPING first.
func (d *Daemon) SetNotifier(n Notifier) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.notifier = n
}

// notify sends state to the Notifier, if any; failures are logged only
// (the service manager's view must never stop the daemon).
func (d *Daemon) notify(state string) {
	d.mu.Lock()
	n := d.notifier
	d.mu.Unlock()
	if n == nil {
		return
	}
	if err := n.Notify(state); err != nil {
		d.log.Warn("service manager notification failed", "state", state, "err", err)
	}
}

// reloadingState is RELOADING=1 with the CLOCK_MONOTONIC timestamp
// systemd's Type=notify-reload requires.
func reloadingState() string {
	var ts unix.Timespec
	usec := int64(0)
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) == nil {
		usec = ts.Nano() / int64(time.Microsecond)
	}
	return fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d\nSTATUS=reloading zones", usec)
}

// readyState is READY=1 with a STATUS= line describing what is served.
func (d *Daemon) readyState(note string) string {
	n := len(d.eng.Zones().Zones())
	return fmt.Sprintf("READY=1\nSTATUS=serving %d zone%s%s", n, map[bool]string{true: "", false: "s"}[n == 1], note)
}
