package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

const anycastConf = `bgp-asn 64512
bgp-router-id 192.0.2.1
bgp-listen-port -1
bgp-peer 192.0.2.254 asn 64500 port 1179 hold 90s keepalive 30s multihop 2 password s3cret
bgp-peer 2001:db8::1 asn 64500 passive
anycast-prefix 198.51.100.0/24 next-hop 192.0.2.1 community 64512:100 community 65535:666 large-community 64512:1:2 med 10 prepend 2
anycast-prefix 2001:db8:53::/48 next-hop 2001:db8::2
anycast-interface lo
anycast-address 198.51.100.53/32 2001:db8:53::53/128
health-interval 500ms
health-rise 4
health-fall 1
drain-time 0
`

func TestParseAnycast(t *testing.T) {
	c := Default()
	if c.Anycast() || c.DrainTime != DefaultDrainTime {
		t.Fatalf("default: anycast %v drain %v", c.Anycast(), c.DrainTime)
	}
	if err := Parse(strings.NewReader(anycastConf), "x.conf", "", c); err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(); err != nil {
		t.Fatal(err)
	}
	want := []BGPPeer{
		{Address: netip.MustParseAddr("192.0.2.254"), ASN: 64500, Port: 1179, HoldTime: 90 * time.Second, Keepalive: 30 * time.Second, MultihopTTL: 2, Password: "s3cret"},
		{Address: netip.MustParseAddr("2001:db8::1"), ASN: 64500, Passive: true},
	}
	wantP := []AnycastPrefix{
		{Prefix: netip.MustParsePrefix("198.51.100.0/24"), NextHop: netip.MustParseAddr("192.0.2.1"),
			Communities: []string{"64512:100", "65535:666"}, LargeCommunities: []string{"64512:1:2"}, MED: 10, Prepend: 2},
		{Prefix: netip.MustParsePrefix("2001:db8:53::/48"), NextHop: netip.MustParseAddr("2001:db8::2")},
	}
	if !c.Anycast() || c.BGPASN != 64512 || c.BGPRouterID != netip.MustParseAddr("192.0.2.1") || c.BGPListenPort != -1 ||
		!reflect.DeepEqual(c.BGPPeers, want) || !reflect.DeepEqual(c.AnycastPrefixes, wantP) || c.AnycastInterface != "lo" ||
		len(c.AnycastAddresses) != 2 || c.HealthInterval != 500*time.Millisecond || c.HealthRise != 4 || c.HealthFall != 1 || c.DrainTime != 0 {
		t.Errorf("parsed %+v", c)
	}
}

func TestParseAnycastErrors(t *testing.T) {
	for _, tc := range []struct{ in, msg string }{
		{"bgp-asn 0", "want 1 to 4294967295"},
		{"bgp-asn 4294967296", "want 1 to 4294967295"},
		{"bgp-asn 1\nbgp-asn 2", "x.conf:2: bgp-asn given twice"},
		{"bgp-router-id ::1", "non-zero IPv4"},
		{"bgp-listen-port 0", "bgp-listen-port"},
		{"bgp-listen-port 70000", "bgp-listen-port"},
		{"bgp-peer 192.0.2.1", "x.conf:1: bgp-peer: want ADDR asn N"},
		{"bgp-peer 192.0.2.1 port 179 hold 90s", "asn N is required"},
		{"bgp-peer 192.0.2.1 asn 1 hold 1s", "at least 3s"},
		{"bgp-peer 192.0.2.1 asn 1 hold 30s keepalive 30s", "keepalive 30s must be less than hold 30s"},
		{"bgp-peer 192.0.2.1 asn 1 multihop 256", "multihop"},
		{"bgp-peer 192.0.2.1 asn 1 port 0", "port"},
		{"bgp-peer 192.0.2.1 asn 1 password", "password needs a value"},
		{"bgp-peer 192.0.2.1 asn 1 asn 2", "asn given twice"},
		{"bgp-peer 192.0.2.1 asn 1 frob 2", `unknown option "frob"`},
		{"bgp-peer host asn 1", "want an IP address"},
		{"anycast-prefix 198.51.100.1/24 next-hop 192.0.2.1", "host bits"},
		{"anycast-prefix 198.51.100.0/24 med 1 prepend 1", "next-hop ADDR is required"},
		{"anycast-prefix 198.51.100.0/24 next-hop 2001:db8::1", "address family"},
		{"anycast-prefix 198.51.100.0/24 next-hop 192.0.2.1 community 65536:1", "community"},
		{"anycast-prefix 198.51.100.0/24 next-hop 192.0.2.1 community 1:2:3", "want A:B"},
		{"anycast-prefix 198.51.100.0/24 next-hop 192.0.2.1 large-community 1:2", "want A:B:C"},
		{"anycast-prefix 198.51.100.0/24 next-hop 192.0.2.1 prepend 17", "prepend"},
		{"anycast-prefix 198.51.100.0/24 next-hop 192.0.2.1 med -1", "med"},
		{"anycast-interface a/b", "bad interface name"},
		{"anycast-address 198.51.100.53", "ADDR/LEN"},
		{"health-interval 0s", "positive"},
		{"health-rise 0", "from 1 to 100"},
		{"health-fall x", "from 1 to 100"},
		{"drain-time -1s", "drain-time"},
	} {
		err := Parse(strings.NewReader(tc.in), "x.conf", "", Default())
		if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "x.conf:") {
			t.Errorf("%q: error %v, want file:line and %q", tc.in, err, tc.msg)
		}
	}
}

func TestFinishAnycast(t *testing.T) {
	for _, tc := range []struct{ in, msg string }{
		{"anycast-interface lo", "without bgp-asn"},
		{"bgp-asn 64512", "without bgp-router-id"},
		{"bgp-asn 64512\nbgp-router-id 192.0.2.1\nbgp-peer 192.0.2.2 asn 1\nbgp-peer 192.0.2.2 asn 2", "bgp-peer 192.0.2.2 given twice"},
		{"bgp-asn 64512\nbgp-router-id 192.0.2.1\nanycast-prefix 192.0.2.0/24 next-hop 192.0.2.1\nanycast-prefix 192.0.2.0/24 next-hop 192.0.2.3", "given twice"},
	} {
		c := Default()
		if err := Parse(strings.NewReader(tc.in), "x.conf", "", c); err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if err := c.Finish(); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q: Finish %v, want %q", tc.in, err, tc.msg)
		}
	}
}

func TestExampleAnycastConfigParses(t *testing.T) {
	c := Default()
	if err := ParseFile("../examples/xdpdnsd-anycast.conf", c); err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(); err != nil {
		t.Fatal(err)
	}
	if !c.Anycast() || len(c.BGPPeers) != 2 || len(c.AnycastPrefixes) != 2 || len(c.AnycastAddresses) != 2 {
		t.Errorf("example: %+v", c)
	}
}
