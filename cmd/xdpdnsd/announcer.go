package main

import (
	"errors"
	"log/slog"

	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/daemon"
)

// newAnnouncer builds the BGP speaker for a configuration with BGP or
// anycast settings (config.Config.Anycast). On Linux announcer_anycast.go
// sets it to the anycast.Speaker; tests replace it.
var newAnnouncer = func(cfg *config.Config, log *slog.Logger) (daemon.Announcer, error) {
	return nil, errors.New("bgp/anycast settings given, but the BGP speaker is not supported on this platform (it needs Linux)")
}
