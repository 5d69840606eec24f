package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/xdpdns/xdpdns/anycast"
)

// DefaultDrainTime is how long the daemon keeps answering after
// withdrawing its routes at shutdown.
const DefaultDrainTime = 5 * time.Second

// Anycast reports whether any BGP or anycast setting is present, in
// which case the daemon runs a BGP speaker and the health monitor.
func (c *Config) Anycast() bool {
	b := &c.BGP
	return b.ASN != 0 || b.RouterID.IsValid() || b.ListenPort != 0 || len(b.Peers) > 0 ||
		len(b.Prefixes) > 0 || b.Interface != "" || len(b.Addresses) > 0
}

// finishAnycast checks the BGP and anycast settings as a whole with the
// speaker's own validation.
func (c *Config) finishAnycast() error {
	if !c.Anycast() {
		return nil
	}
	if err := c.BGP.Validate(); err != nil {
		return fmt.Errorf("bgp/anycast settings: %w", err)
	}
	return nil
}

// ParseASN parses an AS number, 1 to 4294967295.
func ParseASN(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("AS number %q: want 1 to 4294967295", s)
	}
	return uint32(n), nil
}

// ParseRouterID parses a BGP router ID, an address the speaker accepts
// (anycast.ValidateRouterID).
func ParseRouterID(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("bgp-router-id %q: want an IPv4 address", s)
	}
	if err := anycast.ValidateRouterID(a); err != nil {
		return netip.Addr{}, fmt.Errorf("bgp-router-id: %w", err)
	}
	return a, nil
}

// ParseBGPListenPort parses the BGP listen port: 1 to 65535, or -1 to
// accept no incoming BGP connections.
func ParseBGPListenPort(s string) (int32, error) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n == 0 || n < -1 || n > 65535 {
		return 0, fmt.Errorf("bgp-listen-port %q: want 1 to 65535, or -1 to not listen", s)
	}
	return int32(n), nil
}

// ParseHealthCount parses health-rise and health-fall, 1 to 100.
func ParseHealthCount(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 100 {
		return 0, fmt.Errorf("%q: want a number of rounds from 1 to 100", s)
	}
	return n, nil
}

// addr parses an IP address (no zone) for key.
func addr(key, s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%s %q: want an IP address", key, s)
	}
	return a.Unmap(), nil
}

// need returns the value following option i of args, or an error.
func need(args []string, i int) (string, error) {
	if i+1 >= len(args) {
		return "", fmt.Errorf("%s needs a value", args[i])
	}
	return args[i+1], nil
}

// ParseBGPPeer parses the arguments of bgp-peer,
// ADDR asn N [port P] [hold D] [keepalive D] [passive] [multihop TTL] [password X],
// into a peer the speaker accepts (anycast.Peer.Validate).
func ParseBGPPeer(args []string) (anycast.Peer, error) {
	var p anycast.Peer
	if len(args) == 0 {
		return p, errors.New("want ADDR asn N [options]")
	}
	var err error
	if p.Address, err = addr("bgp-peer", args[0]); err != nil {
		return p, err
	}
	seen := map[string]bool{}
	for i := 1; i < len(args); i++ {
		opt := args[i]
		if seen[opt] {
			return p, fmt.Errorf("%s given twice", opt)
		}
		seen[opt] = true
		if opt == "passive" {
			p.Passive = true
			continue
		}
		v, err := need(args, i)
		if err != nil {
			return p, err
		}
		i++
		switch opt {
		case "asn":
			p.ASN, err = ParseASN(v)
		case "port":
			var n uint64
			n, err = strconv.ParseUint(v, 10, 16)
			if err != nil || n == 0 {
				err = fmt.Errorf("port %q: want 1 to 65535", v)
			}
			p.Port = uint16(n)
		case "hold":
			p.HoldTime, err = ParseDuration(v)
		case "keepalive":
			p.Keepalive, err = ParseDuration(v)
		case "multihop":
			var n uint64
			n, err = strconv.ParseUint(v, 10, 8)
			if err != nil || n == 0 {
				err = fmt.Errorf("multihop %q: want a TTL from 1 to 255", v)
			}
			p.MultihopTTL = uint8(n)
		case "password":
			p.Password = v
		default:
			return p, fmt.Errorf("unknown option %q (want asn, port, hold, keepalive, passive, multihop or password)", opt)
		}
		if err != nil {
			return p, err
		}
	}
	if p.ASN == 0 {
		return p, errors.New("asn N is required")
	}
	return p, p.Validate()
}

// ParseAnycastPrefix parses the arguments of anycast-prefix,
// PREFIX next-hop ADDR [community A:B]... [large-community A:B:C]... [med N] [prepend N],
// into a prefix the speaker accepts (anycast.Prefix.Validate).
func ParseAnycastPrefix(args []string) (anycast.Prefix, error) {
	var p anycast.Prefix
	if len(args) == 0 {
		return p, errors.New("want PREFIX next-hop ADDR [options]")
	}
	pfx, err := netip.ParsePrefix(args[0])
	if err != nil {
		return p, fmt.Errorf("prefix %q: %w", args[0], err)
	}
	p.Prefix = pfx
	seen := map[string]bool{}
	for i := 1; i < len(args); i++ {
		opt := args[i]
		if seen[opt] && opt != "community" && opt != "large-community" {
			return p, fmt.Errorf("%s given twice", opt)
		}
		seen[opt] = true
		v, err := need(args, i)
		if err != nil {
			return p, err
		}
		i++
		switch opt {
		case "next-hop":
			p.NextHop, err = addr("next-hop", v)
		case "community":
			p.Communities = append(p.Communities, v)
		case "large-community":
			p.LargeCommunities = append(p.LargeCommunities, v)
		case "med":
			var n uint64
			n, err = strconv.ParseUint(v, 10, 32)
			if err != nil {
				err = fmt.Errorf("med %q: want 0 to 4294967295", v)
			}
			p.MED = uint32(n)
		case "prepend":
			p.Prepend, err = strconv.Atoi(v)
			if err != nil {
				err = fmt.Errorf("prepend %q: want a number from 0 to %d", v, anycast.MaxPrepend)
			}
		default:
			return p, fmt.Errorf("unknown option %q (want next-hop, community, large-community, med or prepend)", opt)
		}
		if err != nil {
			return p, err
		}
	}
	if !p.NextHop.IsValid() {
		return p, errors.New("next-hop ADDR is required")
	}
	return p, p.Validate()
}
