//go:build linux

package anycast

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"github.com/osrg/gobgp/v3/pkg/server"
)

const (
	// opTimeout bounds every call into the embedded gobgp server. None of
	// them waits for the network, so this only trips if gobgp is wedged.
	opTimeout = 5 * time.Second
	// stopTimeout bounds StopBgp in Close.
	stopTimeout = 5 * time.Second
	// connectRetry is how often an unconnected peer is retried (gobgp's own
	// default is 120 s, too slow for a node coming back into service).
	connectRetry = 5 * time.Second
	// idleHoldAfterReset is how long a peer stays idle after its session
	// dropped before reconnecting (gobgp default 30 s).
	idleHoldAfterReset = 5 * time.Second
)

// Speaker is an embedded BGP speaker that announces the node's service
// prefixes while the node is healthy and withdraws them when it is not, and
// keeps the service addresses on the dummy interface in step with the
// announcement. All methods are safe for concurrent use.
type Speaker struct {
	cfg   Config
	log   *slog.Logger
	bgp   *server.BgpServer
	paths []*api.Path // one per cfg.Prefixes entry, built once

	mu        sync.Mutex
	uuids     [][]byte       // per prefix; nil while not announced
	added     []netip.Prefix // service addresses this speaker added
	createdIf bool           // the speaker created cfg.Interface
	announced bool
	closed    bool
}

// NewSpeaker validates cfg, starts the embedded gobgp server and adds the
// peers. It does not announce anything: call Announce once the node is
// healthy. log may be nil.
func NewSpeaker(cfg Config, log *slog.Logger) (*Speaker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Interface == "" {
		cfg.Interface = DefaultInterface
	}
	cfg.Peers = append([]Peer(nil), cfg.Peers...)
	cfg.Prefixes = append([]Prefix(nil), cfg.Prefixes...)
	cfg.Addresses = append([]netip.Prefix(nil), cfg.Addresses...)

	s := &Speaker{cfg: cfg, log: log, uuids: make([][]byte, len(cfg.Prefixes))}
	if err := s.recoverState(); err != nil {
		log.Error("removing a previous run's leftovers", "err", err)
	}
	for i := range cfg.Prefixes {
		p, err := buildPath(cfg.ASN, &cfg.Prefixes[i])
		if err != nil {
			return nil, fmt.Errorf("anycast: prefix %s: %w", cfg.Prefixes[i].Prefix, err)
		}
		s.paths = append(s.paths, p)
	}

	s.bgp = server.NewBgpServer(server.LoggerOption(&gobgpLogger{log: log.With("component", "gobgp")}))
	go s.bgp.Serve()

	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	err := s.bgp.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn:        cfg.ASN,
		RouterId:   cfg.RouterID.String(),
		ListenPort: cfg.ListenPort,
	}})
	if err != nil {
		s.bgp.Stop()
		return nil, fmt.Errorf("anycast: start BGP (AS %d, router ID %s): %w", cfg.ASN, cfg.RouterID, err)
	}
	for _, p := range cfg.Peers {
		if err := s.bgp.AddPeer(ctx, &api.AddPeerRequest{Peer: apiPeer(&p)}); err != nil {
			s.stop()
			return nil, fmt.Errorf("anycast: add peer %s AS %d: %w", p.Address, p.ASN, err)
		}
	}
	log.Info("bgp speaker started", "asn", cfg.ASN, "router_id", cfg.RouterID,
		"peers", len(cfg.Peers), "prefixes", len(cfg.Prefixes))
	return s, nil
}

// apiPeer converts a Peer into gobgp's neighbour configuration.
func apiPeer(p *Peer) *api.Peer {
	port := uint32(p.Port)
	if port == 0 {
		port = DefaultPort
	}
	hold, ka := p.HoldTime, p.Keepalive
	if hold == 0 {
		hold = DefaultHoldTime
	}
	if ka == 0 {
		ka = DefaultKeepalive
	}
	ap := &api.Peer{
		Conf: &api.PeerConf{
			NeighborAddress: p.Address.Unmap().String(),
			PeerAsn:         p.ASN,
			AuthPassword:    p.Password,
		},
		Timers: &api.Timers{Config: &api.TimersConfig{
			HoldTime:               uint64(hold / time.Second),
			KeepaliveInterval:      uint64(ka / time.Second),
			ConnectRetry:           uint64(connectRetry / time.Second),
			IdleHoldTimeAfterReset: uint64(idleHoldAfterReset / time.Second),
		}},
		Transport: &api.Transport{
			PassiveMode: p.Passive,
			RemotePort:  port,
		},
		AfiSafis: []*api.AfiSafi{
			{Config: &api.AfiSafiConfig{Family: &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}, Enabled: true}},
			{Config: &api.AfiSafiConfig{Family: &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}, Enabled: true}},
		},
	}
	if p.MultihopTTL > 0 {
		ap.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: uint32(p.MultihopTTL)}
	}
	return ap
}

// buildPath renders one Prefix as a gobgp path: origin IGP, AS_PATH holding
// Prepend copies of the local ASN (gobgp adds the one real copy on eBGP
// sessions), next hop, MED and communities.
func buildPath(asn uint32, p *Prefix) (*api.Path, error) {
	attrs := []bgp.PathAttributeInterface{bgp.NewPathAttributeOrigin(bgp.BGP_ORIGIN_ATTR_TYPE_IGP)}
	var segs []bgp.AsPathParamInterface
	if p.Prepend > 0 {
		as := make([]uint32, p.Prepend)
		for i := range as {
			as[i] = asn
		}
		segs = append(segs, bgp.NewAs4PathParam(bgp.BGP_ASPATH_ATTR_TYPE_SEQ, as))
	}
	attrs = append(attrs, bgp.NewPathAttributeAsPath(segs))

	var nlri bgp.AddrPrefixInterface
	bits := uint8(p.Prefix.Bits())
	if p.Prefix.Addr().Is4() {
		nlri = bgp.NewIPAddrPrefix(bits, p.Prefix.Addr().String())
		nh := "0.0.0.0"
		if p.NextHop.IsValid() {
			nh = p.NextHop.String()
		}
		attrs = append(attrs, bgp.NewPathAttributeNextHop(nh))
	} else {
		nlri = bgp.NewIPv6AddrPrefix(bits, p.Prefix.Addr().String())
		nh := "::"
		if p.NextHop.IsValid() {
			nh = p.NextHop.String()
		}
		attrs = append(attrs, bgp.NewPathAttributeMpReachNLRI(nh, []bgp.AddrPrefixInterface{nlri}))
	}
	attrs = append(attrs, bgp.NewPathAttributeMultiExitDisc(p.MED))
	if len(p.Communities) > 0 {
		cs := make([]uint32, 0, len(p.Communities))
		for _, c := range p.Communities {
			v, err := parseCommunity(c)
			if err != nil {
				return nil, err
			}
			cs = append(cs, v)
		}
		attrs = append(attrs, bgp.NewPathAttributeCommunities(cs))
	}
	if len(p.LargeCommunities) > 0 {
		ls := make([]*bgp.LargeCommunity, 0, len(p.LargeCommunities))
		for _, c := range p.LargeCommunities {
			v, err := parseLargeCommunity(c)
			if err != nil {
				return nil, err
			}
			ls = append(ls, bgp.NewLargeCommunity(v[0], v[1], v[2]))
		}
		attrs = append(attrs, bgp.NewPathAttributeLargeCommunities(ls))
	}
	path, err := apiutil.NewPath(nlri, false, attrs, time.Now())
	if err != nil {
		return nil, fmt.Errorf("encode path: %w", err)
	}
	return path, nil
}

// Announce adds the service addresses to the interface (creating it if
// needed), then originates every prefix. It is idempotent, and after a
// partial failure calling it again completes the job. It never waits for a
// peer: routes reach peers whenever their sessions are up.
func (s *Speaker) Announce() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("anycast: announce: speaker closed")
	}
	if err := s.addAddresses(); err != nil {
		return fmt.Errorf("anycast: announce: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	for i, p := range s.paths {
		if s.uuids[i] != nil {
			continue
		}
		resp, err := s.bgp.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: p})
		if err != nil {
			return fmt.Errorf("anycast: announce %s: %w", s.cfg.Prefixes[i].Prefix, err)
		}
		s.uuids[i] = resp.Uuid
	}
	if !s.announced {
		s.log.Info("bgp announce", "prefixes", s.advertised())
	}
	s.announced = true
	return nil
}

// Withdraw withdraws every prefix this speaker originated, then removes the
// service addresses it added. It is idempotent.
func (s *Speaker) Withdraw() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.withdraw()
}

func (s *Speaker) withdraw() error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	var errs []error
	was := s.advertised()
	for i, id := range s.uuids {
		if id == nil {
			continue
		}
		err := s.bgp.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Uuid: id})
		if err != nil {
			errs = append(errs, fmt.Errorf("withdraw %s: %w", s.cfg.Prefixes[i].Prefix, err))
			continue
		}
		s.uuids[i] = nil
	}
	if err := s.removeAddresses(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("anycast: withdraw: %w", errors.Join(errs...))
	}
	if s.announced {
		s.log.Info("bgp withdraw", "prefixes", was)
	}
	s.announced = false
	return nil
}

// Announced reports whether the last Announce succeeded and no Withdraw
// or Close followed.
func (s *Speaker) Announced() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.announced
}

// Advertised returns the prefixes currently originated, in configuration
// order, as "prefix next-hop" strings (the next hop is "self" when the
// session's local address is used).
func (s *Speaker) Advertised() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.advertised()
}

func (s *Speaker) advertised() []string {
	var out []string
	for i, id := range s.uuids {
		if id == nil {
			continue
		}
		p := s.cfg.Prefixes[i]
		nh := "self"
		if p.NextHop.IsValid() {
			nh = p.NextHop.String()
		}
		out = append(out, p.Prefix.String()+" "+nh)
	}
	return out
}

// PeerStatus is a snapshot of one BGP session.
type PeerStatus struct {
	Address  string
	ASN      uint32
	State    string        // "established", "active", "connect", "idle", "opensent", "openconfirm"
	Uptime   time.Duration // time since the session was established; 0 if it is not
	Received int           // prefixes received from the peer, all families
	Accepted int           // prefixes accepted from the peer, all families
}

// Peers returns the state of every configured peer. It returns nil after
// Close.
func (s *Speaker) Peers() []PeerStatus {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	var out []PeerStatus
	err := s.bgp.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
		st := PeerStatus{}
		if p.Conf != nil {
			st.Address = p.Conf.NeighborAddress
			st.ASN = p.Conf.PeerAsn
		}
		if p.State != nil {
			st.State = strings.ToLower(p.State.SessionState.String())
			if st.Address == "" {
				st.Address = p.State.NeighborAddress
			}
		}
		if st.State == "established" && p.Timers != nil && p.Timers.State != nil && p.Timers.State.Uptime != nil {
			st.Uptime = time.Since(p.Timers.State.Uptime.AsTime()).Truncate(time.Second)
		}
		for _, af := range p.AfiSafis {
			if af.State != nil {
				st.Received += int(af.State.Received)
				st.Accepted += int(af.State.Accepted)
			}
		}
		out = append(out, st)
	})
	if err != nil {
		s.log.Warn("bgp list peers", "err", err)
	}
	return out
}

// Close withdraws everything, stops the BGP server (closing every session,
// so peers drop the routes at once) and deletes the interface if the
// speaker created it. It is idempotent.
func (s *Speaker) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if err := s.withdraw(); err != nil {
		errs = append(errs, err)
	}
	if err := s.stop(); err != nil {
		errs = append(errs, err)
	}
	if err := s.deleteInterface(); err != nil {
		errs = append(errs, err)
	}
	s.announced = false
	if len(errs) > 0 {
		return fmt.Errorf("anycast: close: %w", errors.Join(errs...))
	}
	s.log.Info("bgp speaker stopped")
	return nil
}

// stop stops the gobgp server with a timeout.
func (s *Speaker) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.bgp.StopBgp(ctx, &api.StopBgpRequest{}) }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("stop BGP: %w", err)
		}
	case <-ctx.Done():
		return fmt.Errorf("stop BGP: %w", ctx.Err())
	}
	return nil
}
