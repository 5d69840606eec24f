// Package config holds xdpdnsd's configuration: the values, their
// defaults, and the parser for the line-based configuration file
// (see docs/CONFIG.md and examples/xdpdnsd.conf).
package config

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// Defaults applied by Default and Finish.
const (
	DefaultListen          = "127.0.0.1:5353"
	DefaultUDPSize         = 1232
	DefaultVersion         = "xdpdns"
	DefaultTCPIdleTimeout  = 10 * time.Second
	DefaultTCPReadTimeout  = 3 * time.Second
	DefaultTCPWriteTimeout = 10 * time.Second
	DefaultTCPMaxConns     = 256
	// DefaultControl is the control socket xdpdnsctl talks to.
	DefaultControl = "/run/xdpdns/control.sock"
)

// XDP attach modes (see XDPAttach).
const (
	XDPModeAuto    = "auto"    // native if the driver supports it, else generic
	XDPModeNative  = "native"  // in the driver; fails if unsupported
	XDPModeGeneric = "generic" // in the kernel's generic hook (slower, always available)
)

// XDPAttach is one interface the XDP program is to be attached to.
type XDPAttach struct {
	Iface string // interface name, e.g. "eth0"
	Mode  string // XDPModeAuto, XDPModeNative or XDPModeGeneric
}

// String returns the IFACE:MODE form accepted by ParseXDP.
func (x XDPAttach) String() string { return x.Iface + ":" + x.Mode }

// Config is the daemon's complete configuration.
type Config struct {
	// Listen lists the addresses (IP:port) served over UDP and TCP.
	Listen []string
	// Zones lists the zones to load, in configuration order.
	Zones []zone.Spec
	// Identity answers id.server and hostname.bind; empty refuses them.
	Identity string
	// NSID is sent to clients that ask for it (RFC 5001); nil sends none.
	NSID []byte
	// Version answers version.bind unless HideVersion is set.
	Version string
	// HideVersion refuses version.bind queries.
	HideVersion bool
	// UDPSize is the largest UDP payload sent and advertised.
	UDPSize uint16
	// AXFRAllow lists the client prefixes allowed to transfer zones over
	// TCP; empty refuses every transfer.
	AXFRAllow []netip.Prefix
	// TCPIdleTimeout closes a TCP connection with no query for this long.
	TCPIdleTimeout time.Duration
	// TCPReadTimeout bounds reading one message once its first byte
	// arrived, so slow clients cannot hold a connection.
	TCPReadTimeout time.Duration
	// TCPWriteTimeout bounds writing one response message.
	TCPWriteTimeout time.Duration
	// TCPMaxConns is the largest number of concurrent TCP connections;
	// beyond it new connections are closed at once.
	TCPMaxConns int
	// TCPMaxConnsPerClient is the largest number of concurrent TCP
	// connections from one client, a client being its address cut to
	// TCPClientPrefix4 or TCPClientPrefix6 bits; zero values take the
	// server's defaults (server.DefaultTCPMaxConnsPerClient, /32, /128).
	TCPMaxConnsPerClient int
	TCPClientPrefix4     int
	TCPClientPrefix6     int
	// DropSourcePorts lists the UDP source ports whose queries are
	// dropped unanswered; nil takes srcport.Defaults(), empty (non-nil)
	// drops none but port 0.
	DropSourcePorts []uint16
	// AnswerGroupQueries answers (once, from a unicast address) UDP
	// queries sent to a broadcast or multicast address; by default they
	// are dropped.
	AnswerGroupQueries bool
	// ExpiryWarning is how far ahead expiring signatures are reported.
	ExpiryWarning time.Duration
	// Control is the path of the control socket (xdpdnsctl); empty
	// disables the control server.
	Control string
	// XDP lists the interfaces to attach the XDP hot path to; empty
	// serves from userspace only.
	XDP []XDPAttach

	// BGPASN is the local AS number; non-zero (like any BGP or anycast
	// setting) turns on the BGP speaker and the health monitor.
	BGPASN uint32
	// BGPRouterID is the BGP router ID (an IPv4 address).
	BGPRouterID netip.Addr
	// BGPListenPort is the port BGP peers may connect to: 0 for the
	// speaker's default (179), -1 for none.
	BGPListenPort int32
	// BGPPeers lists the BGP neighbours.
	BGPPeers []BGPPeer
	// AnycastPrefixes lists the routes announced while healthy.
	AnycastPrefixes []AnycastPrefix
	// AnycastInterface is the interface AnycastAddresses are put on.
	AnycastInterface string
	// AnycastAddresses lists the service addresses configured on
	// AnycastInterface.
	AnycastAddresses []netip.Prefix
	// HealthInterval, HealthRise and HealthFall configure the health
	// monitor (health.Config); zero takes its defaults.
	HealthInterval time.Duration
	HealthRise     int
	HealthFall     int
	// DrainTime is how long the daemon keeps answering after withdrawing
	// its routes at shutdown.
	DrainTime time.Duration
}

// Default returns a configuration with every default filled in except
// Listen, which Finish fills when nothing else set it.
func Default() *Config {
	return &Config{
		Version:         DefaultVersion,
		UDPSize:         DefaultUDPSize,
		TCPIdleTimeout:  DefaultTCPIdleTimeout,
		TCPReadTimeout:  DefaultTCPReadTimeout,
		TCPWriteTimeout: DefaultTCPWriteTimeout,
		TCPMaxConns:     DefaultTCPMaxConns,
		ExpiryWarning:   zone.DefaultExpiryWarning,
		Control:         DefaultControl,
		DrainTime:       DefaultDrainTime,
	}
}

// Finish applies the defaults that depend on the whole configuration
// (the default listen address) and checks the values against each other.
func (c *Config) Finish() error {
	if len(c.Listen) == 0 {
		c.Listen = []string{DefaultListen}
	}
	seen := make(map[string]bool, len(c.Zones))
	for _, z := range c.Zones {
		key, err := originKey(z.Origin)
		if err != nil {
			return err
		}
		if seen[key] {
			return fmt.Errorf("zone %s configured twice", z.Origin)
		}
		seen[key] = true
	}
	seen = make(map[string]bool, len(c.Listen))
	for _, l := range c.Listen {
		ap, err := ParseListen(l)
		if err != nil {
			return err
		}
		if seen[ap.String()] {
			return fmt.Errorf("listen address %s given twice", l)
		}
		seen[ap.String()] = true
	}
	seen = make(map[string]bool, len(c.XDP))
	for _, x := range c.XDP {
		if seen[x.Iface] {
			return fmt.Errorf("xdp interface %s given twice", x.Iface)
		}
		seen[x.Iface] = true
	}
	if err := c.finishAnycast(); err != nil {
		return err
	}
	if c.Control != "" {
		if err := CheckControl(c.Control); err != nil {
			return err
		}
	}
	return nil
}

// EngineVersion is the version string the engine should answer with:
// empty when hidden.
func (c *Config) EngineVersion() string {
	if c.HideVersion {
		return ""
	}
	return c.Version
}
