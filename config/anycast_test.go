package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xdpdns/xdpdns/anycast"
)

const anycastConf = `bgp-asn 64512
bgp-router-id 192.0.2.1
bgp-listen-port 1179
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
	want := []anycast.Peer{
		{Address: netip.MustParseAddr("192.0.2.254"), ASN: 64500, Port: 1179, HoldTime: 90 * time.Second, Keepalive: 30 * time.Second, MultihopTTL: 2, Password: "s3cret"},
		{Address: netip.MustParseAddr("2001:db8::1"), ASN: 64500, Passive: true},
	}
	wantP := []anycast.Prefix{
		{Prefix: netip.MustParsePrefix("198.51.100.0/24"), NextHop: netip.MustParseAddr("192.0.2.1"),
			Communities: []string{"64512:100", "65535:666"}, LargeCommunities: []string{"64512:1:2"}, MED: 10, Prepend: 2},
		{Prefix: netip.MustParsePrefix("2001:db8:53::/48"), NextHop: netip.MustParseAddr("2001:db8::2")},
	}
	if !c.Anycast() || c.BGP.ASN != 64512 || c.BGP.RouterID != netip.MustParseAddr("192.0.2.1") || c.BGP.ListenPort != 1179 ||
		!reflect.DeepEqual(c.BGP.Peers, want) || !reflect.DeepEqual(c.BGP.Prefixes, wantP) || c.BGP.Interface != "lo" ||
		len(c.BGP.Addresses) != 2 || c.HealthInterval != 500*time.Millisecond || c.HealthRise != 4 || c.HealthFall != 1 || c.DrainTime != 0 {
		t.Errorf("parsed %+v", c)
	}
}

func TestParseAnycastErrors(t *testing.T) {
	for _, tc := range []struct{ in, msg string }{
		{"bgp-asn 0", "want 1 to 4294967295"},
		{"bgp-asn 4294967296", "want 1 to 4294967295"},
		{"bgp-asn 1\nbgp-asn 2", "x.conf:2: bgp-asn given twice"},
		{"bgp-router-id ::1", "x.conf:1: bgp-router-id: router ID ::1 is not an IPv4 address"},
		{"bgp-router-id 0.0.0.0", "unspecified"},
		{"bgp-listen-port 0", "bgp-listen-port"},
		{"bgp-listen-port 70000", "bgp-listen-port"},
		{"bgp-peer 192.0.2.1", "x.conf:1: bgp-peer: want ADDR asn N"},
		{"bgp-peer 192.0.2.1 port 179 hold 90s", "asn N is required"},
		{"bgp-peer 192.0.2.1 asn 1 hold 1s", "x.conf:1: bgp-peer: hold time 1s below 3s"},
		{"bgp-peer 192.0.2.1 asn 1 hold 30s keepalive 30s", "keepalive 30s must be shorter than hold time 30s"},
		{"bgp-peer 192.0.2.1 asn 1 keepalive 90s", "keepalive 1m30s must be shorter than hold time 1m30s"},
		{"bgp-peer 192.0.2.1 asn 1 hold 4500ms", "whole seconds"},
		{"bgp-peer 192.0.2.1 asn 1 password " + strings.Repeat("x", 81), "longer than 80"},
		{"bgp-peer 224.0.0.5 asn 1", "not a unicast address"},
		{"bgp-peer 192.0.2.1 asn 1\nbgp-peer ::ffff:192.0.2.1 asn 2", "x.conf:2: bgp-peer 192.0.2.1 given twice (first on line 1)"},
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
		{"anycast-prefix 198.51.100.0/24 next-hop 192.0.2.1 prepend 17", "prepend 17 out of range 0..16"},
		{"anycast-prefix 198.51.100.0/24 next-hop 192.0.2.1 prepend x", "prepend"},
		{"anycast-prefix 198.51.100.0/24 next-hop 127.0.0.1", "not usable"},
		{"anycast-prefix 198.51.100.0/24 next-hop 192.0.2.1\n\nanycast-prefix 198.51.100.0/24 next-hop 192.0.2.3", "x.conf:3: anycast-prefix 198.51.100.0/24 given twice (first on line 1)"},
		{"anycast-prefix 198.51.100.0/24 next-hop 192.0.2.1 med -1", "med"},
		{"anycast-interface a/b", "invalid character"},
		{"anycast-address 198.51.100.53", "ADDR/LEN"},
		{"anycast-address 224.0.0.1/32", "not a unicast address"},
		{"anycast-address 198.51.100.53/32 198.51.100.53/24", "anycast-address 198.51.100.53 given twice"},
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
		{"anycast-interface lo", "missing local ASN"},
		{"bgp-asn 64512", "missing router ID"},
		{"bgp-asn 64512\nbgp-router-id 192.0.2.1\nbgp-listen-port -1\nbgp-peer 192.0.2.2 asn 1 passive", "does not listen"},
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
	// Finish ran the speaker's validation; the settings are the speaker's.
	b := c.BGP
	if !c.Anycast() || b.ASN != 64512 || len(b.Peers) != 2 || b.Peers[0].HoldTime.String() != "1m30s" || b.Peers[1].Password != "s3cret" ||
		len(b.Prefixes) != 2 || b.Prefixes[0].LargeCommunities[0] != "64512:53:1" || b.Prefixes[1].MED != 10 ||
		b.Interface != "lo" || len(b.Addresses) != 2 {
		t.Errorf("example: %+v", b)
	}
	if r := c.RRL; r.Rate != 20 || r.Slip != 2 || len(r.Exempt) != 2 {
		t.Errorf("example's rate limiting: %+v", r)
	}
}

// Duplicates the command line adds to the file are found by Finish (the
// speaker's own check).
func TestFinishAnycastDuplicates(t *testing.T) {
	c := Default()
	if err := Parse(strings.NewReader("bgp-asn 64512\nbgp-router-id 192.0.2.1\nbgp-peer 192.0.2.2 asn 1\n"+
		"anycast-prefix 192.0.2.0/24 next-hop 192.0.2.1\n"), "x.conf", "", c); err != nil {
		t.Fatal(err)
	}
	if err := Set(c, "bgp-peer", "192.0.2.2", "asn", "2"); err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(); err == nil || !strings.Contains(err.Error(), "duplicate peer address 192.0.2.2") {
		t.Errorf("Finish %v, want the duplicate peer", err)
	}
	c.BGP.Peers = c.BGP.Peers[:1]
	if err := Set(c, "anycast-prefix", "192.0.2.0/24", "next-hop", "192.0.2.3"); err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(); err == nil || !strings.Contains(err.Error(), "duplicate prefix 192.0.2.0/24") {
		t.Errorf("Finish %v, want the duplicate prefix", err)
	}
}

// What parses starts: every bgp-peer and anycast-prefix line the parser
// accepts gives settings the speaker accepts, so nothing that parses fails
// when the speaker starts (anycast.NewSpeaker runs the same Validate).
func TestParsedBGPSettingsValidate(t *testing.T) {
	var lines []string
	for _, opt := range []string{"", "hold 3s", "hold 2s", "hold 4500ms", "hold 9s keepalive 3s", "hold 9s keepalive 9s",
		"keepalive 89s", "keepalive 90s", "keepalive 100s", "multihop 255", "port 65535", "passive",
		"password " + strings.Repeat("p", 80), "password " + strings.Repeat("p", 81)} {
		for _, addr := range []string{"192.0.2.2", "2001:db8::2", "::ffff:192.0.2.2", "224.0.0.5", "0.0.0.0", "fe80::1%eth0"} {
			lines = append(lines, "bgp-peer "+addr+" asn 64500 "+opt)
		}
	}
	for _, opt := range []string{"", "prepend 0", "prepend 8", "prepend 9", "prepend 16", "prepend 17", "prepend -1",
		"community no-export", "community NO-ADVERTISE", "community no-export-subconfed", "community no-peer",
		"community 65535:65535", "community 65536:0", "community 1:2:3", "large-community 4294967295:0:1",
		"large-community 1:2", "med 4294967295"} {
		for _, pfx := range []string{"198.51.100.0/24 next-hop 192.0.2.1", "198.51.100.0/24 next-hop 127.0.0.1",
			"198.51.100.0/24 next-hop 224.0.0.1", "2001:db8:53::/48 next-hop 2001:db8::2", "2001:db8:53::/48 next-hop 192.0.2.1",
			"::ffff:198.51.100.0/120 next-hop 192.0.2.1"} {
			lines = append(lines, "anycast-prefix "+pfx+" "+opt)
		}
	}
	for _, a := range []string{"198.51.100.53/32", "2001:db8:53::53/128", "::ffff:198.51.100.53/128", "0.0.0.0/0", "ff02::1/128"} {
		lines = append(lines, "anycast-address "+a)
	}
	for _, name := range []string{"lo", "xdpdns0", "a/b", "..", "abcdefghijklmnop", "tab\x7fx"} {
		lines = append(lines, "anycast-interface "+name)
	}
	for _, id := range []string{"192.0.2.1", "0.0.0.0", "::1", "::ffff:192.0.2.1"} {
		lines = append(lines, "bgp-router-id "+id)
	}
	accepted := map[string]bool{}
	for _, line := range lines {
		c := Default()
		text := "bgp-asn 64512\n" + line + "\n"
		if !strings.HasPrefix(line, "bgp-router-id") {
			text += "bgp-router-id 192.0.2.1\n"
		}
		if err := Parse(strings.NewReader(text), "x.conf", "", c); err != nil {
			continue
		}
		accepted[strings.Fields(line)[0]+" "+strings.Join(strings.Fields(line)[2:], " ")] = true
		if err := c.Finish(); err != nil {
			t.Errorf("%q parses but Finish refuses it: %v", line, err)
			continue
		}
		if err := c.BGP.Validate(); err != nil {
			t.Errorf("%q parses but the speaker refuses it: %v", line, err)
		}
	}
	// The settings that parse include the whole documented range.
	for _, want := range []string{"anycast-prefix next-hop 192.0.2.1 prepend 16", "anycast-prefix next-hop 192.0.2.1 prepend 9",
		"anycast-prefix next-hop 192.0.2.1 community no-export", "bgp-peer asn 64500 hold 9s keepalive 3s"} {
		if !accepted[want] {
			t.Errorf("%q does not parse", want)
		}
	}
}
