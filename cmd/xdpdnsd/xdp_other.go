//go:build !linux

package main

import (
	"errors"
	"log/slog"

	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/daemon"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
)

// earlyXDP is the early start of the hot path: none without Linux.
type earlyXDP struct{}

func newEarlyXDP(*config.Config) *earlyXDP    { return nil }
func (e *earlyXDP) hook() func(*render.Image) { return nil }
func (e *earlyXDP) close()                    {}

// startXDP refuses: the XDP hot path (package loader) needs Linux.
func startXDP(cfg *config.Config, d *daemon.Daemon, log *slog.Logger, early *earlyXDP) error {
	return errors.New("xdp: XDP is not supported on this platform (it needs Linux)")
}
