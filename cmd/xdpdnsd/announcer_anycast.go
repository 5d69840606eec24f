// This file is the whole of the daemon's dependency on package anycast.

package main

import (
	"log/slog"

	"github.com/xdpdns/xdpdns/anycast"
	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/daemon"
)

func init() { newAnnouncer = newSpeaker }

// anycastConfig maps the daemon's configuration to the speaker's.
func anycastConfig(cfg *config.Config) anycast.Config {
	ac := anycast.Config{
		ASN:        cfg.BGPASN,
		RouterID:   cfg.BGPRouterID,
		ListenPort: cfg.BGPListenPort,
		Interface:  cfg.AnycastInterface,
		Addresses:  cfg.AnycastAddresses,
	}
	for _, p := range cfg.BGPPeers {
		ac.Peers = append(ac.Peers, anycast.Peer{
			Address: p.Address, ASN: p.ASN, Port: p.Port, HoldTime: p.HoldTime, Keepalive: p.Keepalive,
			Passive: p.Passive, MultihopTTL: p.MultihopTTL, Password: p.Password,
		})
	}
	for _, p := range cfg.AnycastPrefixes {
		ac.Prefixes = append(ac.Prefixes, anycast.Prefix{
			Prefix: p.Prefix, NextHop: p.NextHop, Communities: p.Communities, LargeCommunities: p.LargeCommunities,
			MED: p.MED, Prepend: p.Prepend,
		})
	}
	return ac
}

func newSpeaker(cfg *config.Config, log *slog.Logger) (daemon.Announcer, error) {
	ac := anycastConfig(cfg)
	if err := ac.Validate(); err != nil {
		return nil, err
	}
	s, err := anycast.NewSpeaker(ac, log)
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
