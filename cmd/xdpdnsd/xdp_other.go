//go:build !linux

package main

import (
	"errors"
	"log/slog"

	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/daemon"
)

func startXDP(cfg *config.Config, d *daemon.Daemon, log *slog.Logger) error {
	return errors.New("xdp: XDP needs Linux")
}
