package anycast

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func validConfig() Config {
	return Config{
		ASN:        65001,
		RouterID:   netip.MustParseAddr("198.18.1.1"),
		ListenPort: -1,
		Peers: []Peer{
			{Address: netip.MustParseAddr("198.18.1.2"), ASN: 65002},
			{Address: netip.MustParseAddr("2001:db8:1::2"), ASN: 65002, Port: 1179, HoldTime: 9 * time.Second, Keepalive: 3 * time.Second},
		},
		Prefixes: []Prefix{
			{Prefix: netip.MustParsePrefix("198.18.53.0/24"), NextHop: netip.MustParseAddr("198.18.1.1"),
				Communities: []string{"65000:100", "no-export"}, LargeCommunities: []string{"65000:1:2"}, MED: 10, Prepend: 2},
			{Prefix: netip.MustParsePrefix("2001:db8:53::/48"), NextHop: netip.MustParseAddr("2001:db8:1::1")},
			{Prefix: netip.MustParsePrefix("198.18.54.0/24")}, // next hop = session address
		},
		Interface: "xdpdns0",
		Addresses: []netip.Prefix{netip.MustParsePrefix("198.18.53.1/32"), netip.MustParsePrefix("2001:db8:53::1/128")},
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *Config)
		want   string // substring of the error; "" = valid
	}{
		{"valid", func(c *Config) {}, ""},
		{"lo allowed", func(c *Config) { c.Interface = "lo" }, ""},
		{"default interface", func(c *Config) { c.Interface = "" }, ""},
		{"listen 179", func(c *Config) { c.ListenPort = 0 }, ""},
		{"no peers no prefixes", func(c *Config) { c.Peers, c.Prefixes, c.Addresses = nil, nil, nil }, ""},
		{"prepend max", func(c *Config) { c.Prefixes[0].Prepend = MaxPrepend }, ""},
		{"missing ASN", func(c *Config) { c.ASN = 0 }, "missing local ASN"},
		{"missing router ID", func(c *Config) { c.RouterID = netip.Addr{} }, "missing router ID"},
		{"IPv6 router ID", func(c *Config) { c.RouterID = netip.MustParseAddr("2001:db8::1") }, "not an IPv4"},
		{"zero router ID", func(c *Config) { c.RouterID = netip.MustParseAddr("0.0.0.0") }, "unspecified"},
		{"listen port", func(c *Config) { c.ListenPort = -2 }, "listen port"},
		{"listen port high", func(c *Config) { c.ListenPort = 70000 }, "listen port"},
		{"interface too long", func(c *Config) { c.Interface = "abcdefghijklmnop" }, "longer than 15"},
		{"interface slash", func(c *Config) { c.Interface = "a/b" }, "invalid character"},
		{"interface space", func(c *Config) { c.Interface = "a b" }, "invalid character"},
		{"interface dot", func(c *Config) { c.Interface = ".." }, "reserved"},
		{"peer no address", func(c *Config) { c.Peers[0].Address = netip.Addr{} }, "missing peer address"},
		{"peer no ASN", func(c *Config) { c.Peers[0].ASN = 0 }, "missing peer ASN"},
		{"peer duplicate", func(c *Config) { c.Peers[1] = c.Peers[0] }, "duplicate peer"},
		{"peer duplicate mapped", func(c *Config) {
			c.Peers[1] = c.Peers[0]
			c.Peers[1].Address = netip.AddrFrom16(c.Peers[0].Address.As16())
		}, "duplicate peer"},
		{"peer multicast", func(c *Config) { c.Peers[0].Address = netip.MustParseAddr("224.0.0.5") }, "not a unicast"},
		{"hold too short", func(c *Config) { c.Peers[0].HoldTime = time.Second }, "below 3s"},
		{"keepalive >= hold", func(c *Config) { c.Peers[0].HoldTime = 9 * time.Second; c.Peers[0].Keepalive = 9 * time.Second }, "shorter than hold"},
		{"fractional timer", func(c *Config) { c.Peers[0].HoldTime = 9500 * time.Millisecond }, "whole seconds"},
		{"passive without listening", func(c *Config) { c.Peers[0].Passive = true }, "does not listen"},
		{"password too long", func(c *Config) { c.Peers[0].Password = strings.Repeat("x", 81) }, "longer than 80"},
		{"prefix invalid", func(c *Config) { c.Prefixes[0].Prefix = netip.Prefix{} }, "invalid prefix"},
		{"prefix host bits", func(c *Config) { c.Prefixes[0].Prefix = netip.MustParsePrefix("198.18.53.1/24") }, "host bits"},
		{"prefix duplicate", func(c *Config) { c.Prefixes[2].Prefix = c.Prefixes[0].Prefix }, "duplicate prefix"},
		{"v4 prefix v6 next hop", func(c *Config) { c.Prefixes[0].NextHop = netip.MustParseAddr("2001:db8:1::1") }, "address family"},
		{"v6 prefix v4 next hop", func(c *Config) { c.Prefixes[1].NextHop = netip.MustParseAddr("198.18.1.1") }, "address family"},
		{"loopback next hop", func(c *Config) { c.Prefixes[0].NextHop = netip.MustParseAddr("127.0.0.1") }, "not usable"},
		{"community one part", func(c *Config) { c.Prefixes[0].Communities = []string{"65000"} }, "community"},
		{"community too big", func(c *Config) { c.Prefixes[0].Communities = []string{"65536:1"} }, "want A:B"},
		{"community three parts", func(c *Config) { c.Prefixes[0].Communities = []string{"1:2:3"} }, "community"},
		{"community letters", func(c *Config) { c.Prefixes[0].Communities = []string{"a:b"} }, "community"},
		{"large community two parts", func(c *Config) { c.Prefixes[0].LargeCommunities = []string{"1:2"} }, "large community"},
		{"large community too big", func(c *Config) { c.Prefixes[0].LargeCommunities = []string{"1:2:4294967296"} }, "want A:B:C"},
		{"prepend negative", func(c *Config) { c.Prefixes[0].Prepend = -1 }, "prepend -1 out of range"},
		{"prepend too big", func(c *Config) { c.Prefixes[0].Prepend = MaxPrepend + 1 }, "prepend 17 out of range"},
		{"address invalid", func(c *Config) { c.Addresses = append(c.Addresses, netip.Prefix{}) }, "invalid prefix"},
		{"address duplicate", func(c *Config) { c.Addresses = append(c.Addresses, c.Addresses[0]) }, "duplicate address"},
		{"address unspecified", func(c *Config) { c.Addresses = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/32")} }, "not a unicast"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.modify(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want error containing %q", tt.want)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v does not wrap ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseCommunity(t *testing.T) {
	for s, want := range map[string]uint32{"65000:100": 65000<<16 | 100, "0:0": 0, "65535:65535": 0xffffffff, "NO-EXPORT": 0xffffff01} {
		got, err := parseCommunity(s)
		if err != nil || got != want {
			t.Errorf("parseCommunity(%q) = %#x, %v; want %#x", s, got, err, want)
		}
	}
	got, err := parseLargeCommunity("4294967295:1:2")
	if err != nil || got != [3]uint32{4294967295, 1, 2} {
		t.Errorf("parseLargeCommunity = %v, %v", got, err)
	}
}

// The checks of single settings give the reason alone (a caller adds its
// own context), matching ErrInvalidConfig.
func TestValidateParts(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{(&Peer{Address: netip.MustParseAddr("198.18.1.2"), ASN: 1, HoldTime: time.Second}).Validate(), "hold time 1s below 3s"},
		{(&Prefix{Prefix: netip.MustParsePrefix("198.18.53.0/24"), Prepend: MaxPrepend + 1}).Validate(), "prepend 17 out of range 0..16"},
		{(&Prefix{Prefix: netip.MustParsePrefix("198.18.53.0/24"), Communities: []string{"1:2:3"}}).Validate(), `community "1:2:3": want A:B`},
		{ValidateRouterID(netip.MustParseAddr("::1")), "router ID ::1 is not an IPv4 address"},
		{ValidateInterface("a/b"), `interface "a/b": invalid character`},
		{ValidateAddress(netip.MustParsePrefix("224.0.0.1/32")), "224.0.0.1/32: not a unicast address"},
	} {
		if tc.err == nil || !strings.HasPrefix(tc.err.Error(), tc.want) || !errors.Is(tc.err, ErrInvalidConfig) {
			t.Errorf("error %v, want one starting %q that matches ErrInvalidConfig", tc.err, tc.want)
		}
	}
	for _, ok := range []error{
		(&Prefix{Prefix: netip.MustParsePrefix("198.18.53.0/24"), Communities: []string{"no-export", "No-Advertise", "65535:0"}, Prepend: MaxPrepend}).Validate(),
		ValidateRouterID(netip.MustParseAddr("198.18.1.1")),
		ValidateInterface("lo"),
		ValidateAddress(netip.MustParsePrefix("2001:db8::1/128")),
	} {
		if ok != nil {
			t.Errorf("valid setting refused: %v", ok)
		}
	}
}
