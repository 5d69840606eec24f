//go:build linux

// This file is the whole of the daemon's dependency on the BGP speaker
// (anycast.Speaker, Linux only: it puts the service addresses on an
// interface with netlink).

package main

import (
	"log/slog"

	"github.com/xdpdns/xdpdns/anycast"
	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/daemon"
)

func init() { newAnnouncer = newSpeaker }

func newSpeaker(cfg *config.Config, log *slog.Logger) (daemon.Announcer, error) {
	s, err := anycast.NewSpeaker(cfg.BGP, log)
	if err != nil {
		return nil, err
	}
	return speaker{s}, nil
}

// speaker adapts *anycast.Speaker to daemon.Announcer.
type speaker struct{ *anycast.Speaker }

func (s speaker) Peers() []control.BGPPeer {
	ps := s.Speaker.Peers()
	out := make([]control.BGPPeer, 0, len(ps))
	for _, p := range ps {
		out = append(out, control.BGPPeer{
			Address: p.Address, ASN: p.ASN, State: p.State, UptimeSeconds: int64(p.Uptime.Seconds()),
			Received: p.Received, Accepted: p.Accepted,
		})
	}
	return out
}
