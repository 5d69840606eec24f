// Package daemontest starts a real daemon in-process for the tests of the
// control socket, xdpdnsctl and xdpdnsd. It imports testing: only
// _test.go files use it.
package daemontest

import (
	"context"
	"testing"

	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/daemon"
	"github.com/xdpdns/xdpdns/internal/testsupport"
)

// Start creates a daemon from cfg, lets setup (when not nil) prepare it
// before it starts (daemon.SetAnnouncer, say), starts it and closes it
// when the test ends.
func Start(t testing.TB, cfg *config.Config, setup func(*daemon.Daemon)) *daemon.Daemon {
	t.Helper()
	d, err := daemon.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(d)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// StartExample starts a daemon serving testsupport.ExampleCom from a
// temporary file (testsupport.ExampleConfig, changed by edit when not
// nil) and returns it with its configuration: cfg.Zones[0].File is the
// zone file, cfg.Control the control socket.
func StartExample(t testing.TB, edit func(*config.Config), setup func(*daemon.Daemon)) (*daemon.Daemon, *config.Config) {
	t.Helper()
	cfg := testsupport.ExampleConfig(t, edit)
	return Start(t, cfg, setup), cfg
}
