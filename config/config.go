// Package config holds xdpdnsd's configuration: the values, their
// defaults, and the parser for the line-based configuration file
// (see docs/CONFIG.md and examples/xdpdnsd.conf).
package config

import (
	"cmp"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/xdpdns/xdpdns/anycast"
	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/cookie"
	"github.com/xdpdns/xdpdns/loader"
	"github.com/xdpdns/xdpdns/rrl"
	"github.com/xdpdns/xdpdns/secondary"
	"github.com/xdpdns/xdpdns/server"
	"github.com/xdpdns/xdpdns/srcport"
	"github.com/xdpdns/xdpdns/tsig"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// Defaults of the settings this package owns. The others come from the
// package that owns the setting: the UDP size from engine, the TCP limits
// from server, the control socket from control, the expiry warning from
// zone, the BGP timers from anycast and the health rounds from health.
const (
	// DefaultListen is served when no listen address is configured.
	DefaultListen = "127.0.0.1:5353"
	// DefaultVersion answers version.bind.
	DefaultVersion = "xdpdns"
	// DefaultDnstapXDPSample and DefaultDnstapXDPRate bound the XDP
	// program's dnstap samples: one query in 100, at most 1000 per second
	// per CPU (a flood is sampled, never copied whole).
	DefaultDnstapXDPSample = 100
	DefaultDnstapXDPRate   = 1000
)

// XDPAttach is one interface the XDP program is to be attached to.
type XDPAttach struct {
	Iface string      // interface name, e.g. "eth0"
	Mode  loader.Mode // loader.ModeAuto (the default), ModeNative or ModeGeneric
}

// String returns the IFACE:MODE form accepted by ParseXDP.
func (x XDPAttach) String() string { return x.Iface + ":" + x.Mode.String() }

// Config is the daemon's complete configuration.
type Config struct {
	// Listen lists the addresses served over UDP and TCP.
	Listen []netip.AddrPort
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
	// AXFRAllowKeyed lists client prefixes that may transfer zones only
	// with a valid TSIG signature of the named key (axfr-allow ... key NAME).
	AXFRAllowKeyed []server.KeyedPrefix
	// Keys are the TSIG keys (key NAME ALGORITHM SECRET), by name.
	Keys tsig.Ring
	// Secondaries are the zones transferred from primaries (secondary
	// ORIGIN FILE primary ADDR[:PORT]... [key NAME]); FILE keeps the last
	// good copy.
	Secondaries []secondary.Zone
	// ExpirePolicy is what an expired secondary zone does unless its line
	// says otherwise (expire-policy; secondary.PolicyServfail when empty).
	ExpirePolicy string
	// TransferSource4 and TransferSource6 are the unicast addresses SOA
	// queries and transfers leave from (transfer-source); invalid: the
	// kernel's choice.
	TransferSource4, TransferSource6 netip.Addr
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
	// AnswerCache is the bytes of recent UDP replies the userspace server
	// remembers, split over its UDP sockets (server.Config.AnswerCache);
	// negative: off.
	AnswerCache int64
	// RRL is response rate limiting (rrl-* keys): off unless rrl-rate.
	RRL rrl.Config
	// CookieSecret turns DNS Cookies on (cookie-secret HEX, or random:
	// one made at start); nil: off. CookieRequire is cookie-require.
	CookieSecret  *cookie.Secret
	CookieRequire bool
	// ExpiryWarning is how far ahead expiring signatures are reported.
	ExpiryWarning time.Duration
	// Control is the path of the control socket (xdpdnsctl); empty
	// disables the control server.
	Control string
	// XDP lists the interfaces to attach the XDP hot path to; empty
	// serves from userspace only.
	XDP []XDPAttach
	// XDPVLANs are VLAN ids whose tagged frames the XDP program answers
	// besides the VLANs configured on the attached interfaces (VLAN
	// sub-interfaces, found by the loader); frames of any other VLAN go
	// to the kernel.
	XDPVLANs []uint16
	// DnstapSocket and DnstapFile are where dnstap messages of sampled
	// queries go (a frame-streams unix socket, or a file); both empty:
	// no dnstap. DnstapSample takes one query in N on the userspace path
	// (1: all); DnstapXDPSample one in N in the XDP program, at most
	// DnstapXDPRate per second per CPU.
	DnstapSocket, DnstapFile string
	DnstapSample             uint32
	DnstapXDPSample          uint32
	DnstapXDPRate            uint32
	// MetricsListen is where the Prometheus metrics server listens
	// (/metrics, /healthz); the zero value turns it off.
	MetricsListen netip.AddrPort

	// BGP holds the BGP speaker's settings (bgp-* and anycast-* keys),
	// each checked by package anycast as it is parsed and the whole by
	// Finish; any of them turns on the speaker and the health monitor
	// (Anycast).
	BGP anycast.Config
	// HealthInterval, HealthRise and HealthFall configure the health
	// monitor (health.Config); zero takes its defaults.
	HealthInterval time.Duration
	HealthRise     int
	HealthFall     int
	// DrainTime is how long the daemon keeps answering after withdrawing
	// its routes at shutdown.
	DrainTime time.Duration
	// ZoneMaxSize bounds the bytes of one zone, its $INCLUDEs counted
	// (zone.Options.MaxFileSize; 0: zone.DefaultMaxFileSize).
	ZoneMaxSize int64
	// zoneSources records where each zone was configured (FILE:LINE or
	// the command line), by origin key, for the duplicate error.
	zoneSources map[string][]string

	// ZoneImage is where the compiled zone image is kept (package
	// compiled): ZoneImageAuto (beside the first zone's file, when the
	// XDP hot path is on), ZoneImageOff, or a path. ZoneImagePath
	// resolves it.
	ZoneImage string

	// ReloadTimeout bounds loading the zones of one reload (a zone file
	// on a hung mount, a pathological file): control.DefaultReloadTimeout
	// unless configured.
	ReloadTimeout time.Duration
}

// Default returns a configuration with every default filled in except
// Listen, which Finish fills when nothing else set it.
func Default() *Config {
	return &Config{
		Version:         DefaultVersion,
		UDPSize:         engine.DefaultUDPSize,
		TCPIdleTimeout:  server.DefaultTCPIdleTimeout,
		TCPReadTimeout:  server.DefaultTCPReadTimeout,
		TCPWriteTimeout: server.DefaultTCPWriteTimeout,
		TCPMaxConns:     server.DefaultTCPMaxConns,
		AnswerCache:     server.DefaultAnswerCache,
		RRL:             rrl.Default(),
		ExpiryWarning:   zone.DefaultExpiryWarning,
		Control:         control.DefaultPath,
		DrainTime:       DefaultDrainTime,
		ZoneMaxSize:     zone.DefaultMaxFileSize,
		DnstapSample:    1,
		DnstapXDPSample: DefaultDnstapXDPSample,
		DnstapXDPRate:   DefaultDnstapXDPRate,
		ReloadTimeout:   control.DefaultReloadTimeout,
		ZoneImage:       ZoneImageAuto,
	}
}

// The zone-image values besides a path.
const (
	ZoneImageAuto = "auto"
	ZoneImageOff  = "off"
	// ZoneImageSuffix names the automatic image: the first zone's file
	// with this appended.
	ZoneImageSuffix = ".xdpimage"
)

// ZoneImagePath is the file of the compiled zone image, "" for none: an
// image holds what the XDP hot path is compiled from, so there is none
// without it (or without zones, or when zone-image is off).
func (c *Config) ZoneImagePath() string {
	if len(c.XDP) == 0 || c.ZoneImage == ZoneImageOff {
		return ""
	}
	if c.ZoneImage != ZoneImageAuto && c.ZoneImage != "" {
		return c.ZoneImage
	}
	switch {
	case len(c.Zones) > 0:
		return c.Zones[0].File + ZoneImageSuffix
	case len(c.Secondaries) > 0:
		return c.Secondaries[0].File + ZoneImageSuffix
	}
	return ""
}

// Finish applies the defaults that depend on the whole configuration
// (the default listen address) and checks the values against each other.
func (c *Config) Finish() error {
	if len(c.Listen) == 0 {
		c.Listen = []netip.AddrPort{netip.MustParseAddrPort(DefaultListen)}
	}
	if err := c.RRL.Check(); err != nil {
		return err
	}
	if c.CookieRequire && c.CookieSecret == nil {
		return fmt.Errorf("cookie-require on: give a cookie-secret (HEX, or random)")
	}
	for _, kp := range c.AXFRAllowKeyed {
		if _, ok := c.Keys.Lookup(kp.Key); !ok {
			return fmt.Errorf("axfr-allow %s key %s: no such key (define it with key NAME ALGORITHM SECRET)", kp.Prefix, kp.Key)
		}
	}
	if c.DnstapSocket != "" && c.DnstapFile != "" {
		return fmt.Errorf("dnstap-socket and dnstap-file: give one of them")
	}
	if c.Anycast() && c.BGP.StateFile == "" {
		// The record of the service addresses this node added lives in
		// its runtime directory, beside the control socket.
		dir := filepath.Dir(control.DefaultPath)
		if c.Control != "" {
			dir = filepath.Dir(c.Control)
		}
		c.BGP.StateFile = filepath.Join(dir, "anycast.state")
	}
	seen := make(map[string]bool, len(c.Zones))
	for _, z := range c.Zones {
		key, err := originKey(z.Origin)
		if err != nil {
			return err
		}
		if seen[key] {
			return fmt.Errorf("zone %s configured twice (%s)", z.Origin, strings.Join(c.zoneSources[key], " and "))
		}
		seen[key] = true
	}
	for i, sz := range c.Secondaries {
		if sz.ExpirePolicy == "" {
			c.Secondaries[i].ExpirePolicy = cmp.Or(c.ExpirePolicy, secondary.PolicyServfail)
		}
		if sz.Key != "" {
			if _, ok := c.Keys.Lookup(sz.Key); !ok {
				return fmt.Errorf("secondary %s key %s: no such key (define it with key NAME ALGORITHM SECRET)", sz.Origin, sz.Key)
			}
		}
		key, err := originKey(sz.Origin)
		if err != nil {
			return err
		}
		if seen[key] {
			return fmt.Errorf("zone %s configured twice (as a zone or a secondary)", sz.Origin)
		}
		seen[key] = true
	}
	seenAddr := make(map[netip.AddrPort]bool, len(c.Listen))
	for _, ap := range c.Listen {
		if seenAddr[ap] {
			return fmt.Errorf("listen address %s given twice", ap)
		}
		seenAddr[ap] = true
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

// noteZoneSource records that the zone with origin key was configured at
// where.
func (c *Config) noteZoneSource(key, where string) {
	if c.zoneSources == nil {
		c.zoneSources = map[string][]string{}
	}
	c.zoneSources[key] = append(c.zoneSources[key], where)
}

// ZoneOptions are the zone loading options of the configuration: the same
// for the daemon's loads and the offline checks.
func (c *Config) ZoneOptions() zone.Options {
	return zone.Options{ExpiryWarning: c.ExpiryWarning, MaxFileSize: c.ZoneMaxSize}
}

// DroppedSourcePorts is the list of UDP source ports never answered, on
// either path: drop-source-ports, or srcport's defaults when not set.
func (c *Config) DroppedSourcePorts() []uint16 {
	if c.DropSourcePorts == nil {
		return srcport.Defaults()
	}
	return c.DropSourcePorts
}

// EngineConfig is the answer engine's configuration: the same for the
// daemon's engine, the XDP image it compiles and the offline checks.
func (c *Config) EngineConfig() engine.Config {
	return engine.Config{Identity: c.Identity, Version: c.EngineVersion(), NSID: c.NSID, UDPSize: c.UDPSize,
		Cookies: c.CookieSecret != nil}
}

// EngineVersion is the version string the engine should answer with:
// empty when hidden.
func (c *Config) EngineVersion() string {
	if c.HideVersion {
		return ""
	}
	return c.Version
}
