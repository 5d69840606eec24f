package anycast

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Defaults applied by NewSpeaker where a field is zero.
const (
	// DefaultInterface is the dummy interface that holds the service addresses.
	DefaultInterface = "xdpdns0"
	// DefaultPort is the BGP port used when Peer.Port is 0.
	DefaultPort = 179
	// DefaultHoldTime is the hold time used when Peer.HoldTime is 0.
	DefaultHoldTime = 90 * time.Second
	// DefaultKeepalive is the keepalive interval used when Peer.Keepalive is 0.
	DefaultKeepalive = 30 * time.Second
	// MaxPrepend is the largest accepted Prefix.Prepend. The speaker puts
	// the copies in one AS_SEQUENCE segment (which holds 255 ASNs, the
	// session's own copy included), so the bound is operational: a longer
	// path is almost always a mistake, and many networks drop such routes.
	MaxPrepend = 16
)

// Prefix is one service prefix announced while the node is healthy.
type Prefix struct {
	Prefix netip.Prefix // the service prefix announced (IPv4 or IPv6)
	// NextHop is the next hop attribute: IPv4 for IPv4 prefixes, IPv6 for
	// IPv6 prefixes. The zero Addr means "the local address of the BGP
	// session", which only works when the session runs over the prefix's
	// own address family.
	NextHop          netip.Addr
	Communities      []string // standard communities, "65000:100" (or no-export, no-advertise, no-export-subconfed)
	LargeCommunities []string // large communities, "65000:1:2"
	MED              uint32   // MULTI_EXIT_DISC
	Prepend          int      // extra copies of the local ASN in AS_PATH (0..MaxPrepend)
}

// Peer is one BGP neighbour. Both IPv4 unicast and IPv6 unicast are
// negotiated on every session (MP-BGP), whatever the transport family.
type Peer struct {
	Address     netip.Addr
	ASN         uint32
	Port        uint16        // 0 = 179
	HoldTime    time.Duration // 0 = 90s
	Keepalive   time.Duration // 0 = 30s
	Passive     bool          // wait for the peer to connect (needs Config.ListenPort >= 0)
	MultihopTTL uint8         // 0 = directly connected (ebgp TTL 1)
	Password    string        // TCP MD5, "" = none
}

// Config configures a Speaker.
type Config struct {
	ASN      uint32     // local AS number
	RouterID netip.Addr // BGP identifier, IPv4
	// ListenPort is the TCP port the speaker listens on for incoming
	// sessions. -1 means do not listen at all (connect out only; the usual
	// setting when the node runs beside another BGP daemon). 0 is NOT "off":
	// gobgp reads it as the default port 179.
	ListenPort int32
	Peers      []Peer
	Prefixes   []Prefix
	// Interface is the dummy interface that holds the service addresses
	// (default "xdpdns0"). It is created (type dummy, set up) if missing and
	// deleted on Close if the speaker created it. "lo" is allowed.
	Interface string
	// Addresses are the service (anycast) addresses added to Interface while
	// announced, e.g. 198.18.53.1/32. No other address is ever touched.
	Addresses []netip.Prefix
	// StateFile records which addresses (and interface) the speaker added,
	// so that the next run removes what a crashed one left behind and
	// never an address another owner added; "" keeps no record. xdpdnsd
	// puts it beside its control socket (anycast-state).
	StateFile string
}

// ErrInvalidConfig is matched (errors.Is) by every error the validation
// functions return.
var ErrInvalidConfig = errors.New("anycast: invalid config")

// invalidError is a validation failure. Its text is the reason alone, so
// that a caller can put it after its own context (a configuration file's
// FILE:LINE: key); Config.Validate prefixes it with ErrInvalidConfig's text.
type invalidError struct{ reason string }

func (e *invalidError) Error() string { return e.reason }

// Is makes every invalidError match ErrInvalidConfig.
func (e *invalidError) Is(target error) bool { return target == ErrInvalidConfig }

func invalid(format string, args ...any) error {
	return &invalidError{reason: fmt.Sprintf(format, args...)}
}

// Validate checks the configuration and returns the first problem found,
// matching ErrInvalidConfig. It does not apply defaults. It checks every
// peer, prefix, address and the interface as Peer.Validate,
// Prefix.Validate, ValidateAddress and ValidateInterface do, and the
// settings against each other: required fields, duplicates, a passive peer
// of a speaker that does not listen.
func (c *Config) Validate() error {
	if err := c.validate(); err != nil {
		return fmt.Errorf("%s: %w", ErrInvalidConfig, err)
	}
	return nil
}

func (c *Config) validate() error {
	if c.ASN == 0 {
		return invalid("missing local ASN")
	}
	if !c.RouterID.IsValid() {
		return invalid("missing router ID")
	}
	if err := ValidateRouterID(c.RouterID); err != nil {
		return err
	}
	if c.ListenPort < -1 || c.ListenPort > 65535 {
		return invalid("listen port %d out of range (-1 = do not listen, 0 = 179, 1..65535)", c.ListenPort)
	}
	if c.Interface != "" {
		if err := ValidateInterface(c.Interface); err != nil {
			return err
		}
	}
	seenPeer := map[netip.Addr]bool{}
	for i, p := range c.Peers {
		if err := p.Validate(); err != nil {
			return fmt.Errorf("peer %d (%s): %w", i, p.Address, err)
		}
		if p.Passive && c.ListenPort == -1 {
			return fmt.Errorf("peer %d (%s): %w", i, p.Address, invalid("passive peer but the speaker does not listen (ListenPort -1)"))
		}
		a := p.Address.Unmap()
		if seenPeer[a] {
			return invalid("peer %d: duplicate peer address %s", i, a)
		}
		seenPeer[a] = true
	}
	seenPfx := map[netip.Prefix]bool{}
	for i, p := range c.Prefixes {
		if err := p.Validate(); err != nil {
			return fmt.Errorf("prefix %d (%s): %w", i, p.Prefix, err)
		}
		if seenPfx[p.Prefix] {
			return invalid("prefix %d: duplicate prefix %s", i, p.Prefix)
		}
		seenPfx[p.Prefix] = true
	}
	seenAddr := map[netip.Addr]bool{}
	for i, a := range c.Addresses {
		if err := ValidateAddress(a); err != nil {
			return fmt.Errorf("address %d: %w", i, err)
		}
		if seenAddr[a.Addr()] {
			return invalid("address %d: duplicate address %s", i, a.Addr())
		}
		seenAddr[a.Addr()] = true
	}
	return nil
}

// ValidateRouterID checks a BGP identifier: a non-zero IPv4 address.
func ValidateRouterID(id netip.Addr) error {
	if !id.Is4() {
		return invalid("router ID %s is not an IPv4 address", id)
	}
	if id.IsUnspecified() {
		return invalid("router ID %s is unspecified", id)
	}
	return nil
}

// ValidateInterface checks the name of the interface that holds the
// service addresses: a usable Linux interface name.
func ValidateInterface(name string) error {
	if err := validIfName(name); err != nil {
		return invalid("interface %q: %v", name, err)
	}
	return nil
}

// ValidateAddress checks one service address: a valid unicast prefix,
// not IPv4-mapped.
func ValidateAddress(a netip.Prefix) error {
	if !a.IsValid() {
		return invalid("invalid prefix")
	}
	if a.Addr().Is4In6() {
		return invalid("%s: IPv4-mapped IPv6 address", a)
	}
	if a.Addr().IsUnspecified() || a.Addr().IsMulticast() {
		return invalid("%s: not a unicast address", a)
	}
	return nil
}

// Validate checks one peer on its own (Config.Validate also checks it
// against the other settings).
func (p *Peer) Validate() error {
	if !p.Address.IsValid() {
		return invalid("missing peer address")
	}
	if p.Address.IsUnspecified() || p.Address.IsMulticast() {
		return invalid("peer address %s is not a unicast address", p.Address)
	}
	if p.Address.Zone() != "" {
		return invalid("peer address %s: zones are not supported", p.Address)
	}
	if p.ASN == 0 {
		return invalid("missing peer ASN")
	}
	if p.HoldTime < 0 || p.Keepalive < 0 {
		return invalid("negative timer")
	}
	if p.HoldTime != 0 && p.HoldTime < 3*time.Second {
		return invalid("hold time %s below 3s", p.HoldTime)
	}
	if p.HoldTime%time.Second != 0 || p.Keepalive%time.Second != 0 {
		return invalid("timers must be whole seconds")
	}
	hold, ka := p.HoldTime, p.Keepalive
	if hold == 0 {
		hold = DefaultHoldTime
	}
	if ka == 0 {
		ka = DefaultKeepalive
	}
	if ka >= hold {
		return invalid("keepalive %s must be shorter than hold time %s", ka, hold)
	}
	if len(p.Password) > 80 {
		return invalid("TCP MD5 password longer than 80 bytes")
	}
	return nil
}

// Validate checks one prefix on its own (Config.Validate also checks it
// against the other prefixes).
func (p *Prefix) Validate() error {
	if !p.Prefix.IsValid() {
		return invalid("invalid prefix")
	}
	if p.Prefix != p.Prefix.Masked() {
		return invalid("prefix %s has host bits set (want %s)", p.Prefix, p.Prefix.Masked())
	}
	if p.Prefix.Addr().Is4In6() {
		return invalid("IPv4-mapped IPv6 prefix %s", p.Prefix)
	}
	if p.Prefix.Addr().Zone() != "" {
		return invalid("prefix %s has a zone", p.Prefix)
	}
	if p.NextHop.IsValid() {
		if p.NextHop.Is4() != p.Prefix.Addr().Is4() || p.NextHop.Is4In6() {
			return invalid("next hop %s is not of the prefix's address family", p.NextHop)
		}
		if p.NextHop.IsUnspecified() || p.NextHop.IsLoopback() || p.NextHop.IsMulticast() {
			return invalid("next hop %s is not usable (unspecified, loopback or multicast)", p.NextHop)
		}
	}
	for _, s := range p.Communities {
		if _, err := parseCommunity(s); err != nil {
			return invalid("%v", err)
		}
	}
	for _, s := range p.LargeCommunities {
		if _, err := parseLargeCommunity(s); err != nil {
			return invalid("%v", err)
		}
	}
	if p.Prepend < 0 || p.Prepend > MaxPrepend {
		return invalid("prepend %d out of range 0..%d", p.Prepend, MaxPrepend)
	}
	return nil
}

var wellKnownCommunities = map[string]uint32{
	"no-export":           0xffffff01,
	"no-advertise":        0xffffff02,
	"no-export-subconfed": 0xffffff03,
}

// parseCommunity parses a standard community: "A:B", two numbers from 0 to
// 65535, or a well-known name (any case).
func parseCommunity(s string) (uint32, error) {
	if v, ok := wellKnownCommunities[strings.ToLower(s)]; ok {
		return v, nil
	}
	hi, lo, ok := strings.Cut(s, ":")
	h, err1 := strconv.ParseUint(hi, 10, 16)
	l, err2 := strconv.ParseUint(lo, 10, 16)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("community %q: want A:B, each from 0 to 65535, or no-export, no-advertise or no-export-subconfed", s)
	}
	return uint32(h)<<16 | uint32(l), nil
}

// parseLargeCommunity parses a large community: "A:B:C", three numbers
// from 0 to 4294967295.
func parseLargeCommunity(s string) ([3]uint32, error) {
	var out [3]uint32
	parts := strings.Split(s, ":")
	bad := len(parts) != 3
	for i := 0; i < len(parts) && !bad; i++ {
		v, err := strconv.ParseUint(parts[i], 10, 32)
		bad = err != nil
		out[i] = uint32(v)
	}
	if bad {
		return out, fmt.Errorf("large community %q: want A:B:C, each from 0 to 4294967295", s)
	}
	return out, nil
}

// validIfName reports whether s is a usable Linux interface name.
func validIfName(s string) error {
	if len(s) > 15 {
		return errors.New("longer than 15 bytes")
	}
	if s == "." || s == ".." {
		return errors.New("reserved name")
	}
	for _, r := range s {
		if r <= ' ' || r == '/' || r == ':' || r >= 0x7f {
			return fmt.Errorf("invalid character %q", r)
		}
	}
	return nil
}
