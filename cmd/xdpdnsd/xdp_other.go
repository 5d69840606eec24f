//go:build !linux

package main

import (
	"errors"
	"log/slog"

	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/daemon"
)

// startXDP refuses: the XDP hot path (package loader) needs Linux.
func startXDP(cfg *config.Config, d *daemon.Daemon, log *slog.Logger) error {
	return errors.New("xdp: XDP is not supported on this platform (it needs Linux)")
}
