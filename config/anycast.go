package config

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Anycast and health defaults.
const (
	// DefaultDrainTime is how long the daemon keeps answering after
	// withdrawing its routes at shutdown.
	DefaultDrainTime = 5 * time.Second
	// MaxPrepend bounds anycast-prefix prepend.
	MaxPrepend = 16
)

// BGPPeer is one bgp-peer line.
type BGPPeer struct {
	Address     netip.Addr
	ASN         uint32
	Port        uint16        // 0: the BGP default (179)
	HoldTime    time.Duration // 0: the speaker's default
	Keepalive   time.Duration // 0: the speaker's default
	Passive     bool
	MultihopTTL uint8 // 0: directly connected
	Password    string
}

// AnycastPrefix is one anycast-prefix line.
type AnycastPrefix struct {
	Prefix           netip.Prefix
	NextHop          netip.Addr
	Communities      []string // "A:B"
	LargeCommunities []string // "A:B:C"
	MED              uint32
	Prepend          int
}

// Anycast reports whether any BGP or anycast setting is present, in
// which case the daemon runs a BGP speaker and the health monitor.
func (c *Config) Anycast() bool {
	return c.BGPASN != 0 || c.BGPRouterID.IsValid() || c.BGPListenPort != 0 || len(c.BGPPeers) > 0 ||
		len(c.AnycastPrefixes) > 0 || c.AnycastInterface != "" || len(c.AnycastAddresses) > 0
}

// finishAnycast checks the anycast settings against each other.
func (c *Config) finishAnycast() error {
	if !c.Anycast() {
		return nil
	}
	if c.BGPASN == 0 {
		return errors.New("bgp/anycast settings given without bgp-asn")
	}
	if !c.BGPRouterID.IsValid() {
		return errors.New("bgp/anycast settings given without bgp-router-id")
	}
	seen := map[netip.Addr]bool{}
	for _, p := range c.BGPPeers {
		if seen[p.Address] {
			return fmt.Errorf("bgp-peer %s given twice", p.Address)
		}
		seen[p.Address] = true
	}
	seenP := map[netip.Prefix]bool{}
	for _, p := range c.AnycastPrefixes {
		if seenP[p.Prefix] {
			return fmt.Errorf("anycast-prefix %s given twice", p.Prefix)
		}
		seenP[p.Prefix] = true
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

// ParseRouterID parses a BGP router ID: an IPv4 address.
func ParseRouterID(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() || a.IsUnspecified() {
		return netip.Addr{}, fmt.Errorf("bgp-router-id %q: want a non-zero IPv4 address", s)
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

// ParseBGPPeer parses the arguments of bgp-peer:
// ADDR asn N [port P] [hold D] [keepalive D] [passive] [multihop TTL] [password X].
func ParseBGPPeer(args []string) (BGPPeer, error) {
	var p BGPPeer
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
			if err == nil && p.HoldTime < 3*time.Second {
				err = fmt.Errorf("hold %q: want at least 3s", v)
			}
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
	if p.HoldTime != 0 && p.Keepalive != 0 && p.Keepalive >= p.HoldTime {
		return p, fmt.Errorf("keepalive %v must be less than hold %v", p.Keepalive, p.HoldTime)
	}
	return p, nil
}

// ParseAnycastPrefix parses the arguments of anycast-prefix:
// PREFIX next-hop ADDR [community A:B]... [large-community A:B:C]... [med N] [prepend N].
func ParseAnycastPrefix(args []string) (AnycastPrefix, error) {
	var p AnycastPrefix
	if len(args) == 0 {
		return p, errors.New("want PREFIX next-hop ADDR [options]")
	}
	pfx, err := netip.ParsePrefix(args[0])
	if err != nil {
		return p, fmt.Errorf("prefix %q: %w", args[0], err)
	}
	if pfx.Masked() != pfx {
		return p, fmt.Errorf("prefix %q has host bits set (want %s)", args[0], pfx.Masked())
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
			err = checkCommunity(v, 2, math.MaxUint16)
			p.Communities = append(p.Communities, v)
		case "large-community":
			err = checkCommunity(v, 3, math.MaxUint32)
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
			if err != nil || p.Prepend < 0 || p.Prepend > MaxPrepend {
				err = fmt.Errorf("prepend %q: want 0 to %d", v, MaxPrepend)
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
	if p.NextHop.Is4() != p.Prefix.Addr().Is4() {
		return p, fmt.Errorf("next-hop %s is not of the prefix's address family", p.NextHop)
	}
	return p, nil
}

// checkCommunity checks a community of n colon-separated numbers each at
// most max.
func checkCommunity(s string, n int, max uint64) error {
	parts := strings.Split(s, ":")
	bad := len(parts) != n
	for _, x := range parts {
		if v, err := strconv.ParseUint(x, 10, 64); err != nil || v > max {
			bad = true
		}
	}
	if bad {
		if n == 2 {
			return fmt.Errorf("community %q: want A:B, each 0 to 65535", s)
		}
		return fmt.Errorf("large-community %q: want A:B:C, each 0 to 4294967295", s)
	}
	return nil
}
