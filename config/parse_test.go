package config

import (
	"errors"
	"github.com/xdpdns/xdpdns/rrl"
	"github.com/xdpdns/xdpdns/server"
	"github.com/xdpdns/xdpdns/tsig"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/loader"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want func(c *Config)
	}{
		{"empty", "", func(c *Config) {}},
		{"comments and blanks", "# a comment\n\n   \t\n  # indented\n", func(c *Config) {}},
		{"listen", "listen 127.0.0.1:53 [::1]:53\nlisten 192.0.2.1:5353 # trailing", func(c *Config) {
			c.Listen = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:53"), netip.MustParseAddrPort("[::1]:53"), netip.MustParseAddrPort("192.0.2.1:5353")}
		}},
		{"zones relative to dir", "zone example.com example.com.zone\nzone example.net. /abs/net.zone", func(c *Config) {
			c.Zones = []zone.Spec{{Origin: "example.com", File: "/etc/xdpdns/example.com.zone"}, {Origin: "example.net.", File: "/abs/net.zone"}}
		}},
		{"identity with spaces", "identity  ns1 anycast node 7  ", func(c *Config) { c.Identity = "ns1 anycast node 7" }},
		{"quoted identity with hash", `identity "ns1 #7" # comment`, func(c *Config) { c.Identity = "ns1 #7" }},
		{"hash inside word", "identity ns#1", func(c *Config) { c.Identity = "ns#1" }},
		{"nsid text", "nsid ns1.example", func(c *Config) { c.NSID = []byte("ns1.example") }},
		{"nsid hex", "nsid hex:00ff10", func(c *Config) { c.NSID = []byte{0, 0xff, 0x10} }},
		{"version", "version my server 1.0", func(c *Config) { c.Version = "my server 1.0" }},
		{"hide-version", "hide-version", func(c *Config) { c.HideVersion = true }},
		{"udp-size", "udp-size 1400", func(c *Config) { c.UDPSize = 1400 }},
		{"axfr-allow", "axfr-allow 127.0.0.0/8 ::1\naxfr-allow 192.0.2.7 ::ffff:10.0.0.0/104", func(c *Config) {
			c.AXFRAllow = []netip.Prefix{
				netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"),
				netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("10.0.0.0/8"),
			}
		}},
		{"timeouts", "tcp-idle-timeout 30s\ntcp-read-timeout 1500ms\ntcp-write-timeout 1m\nexpiry-warning 168h", func(c *Config) {
			c.TCPIdleTimeout = 30 * time.Second
			c.TCPReadTimeout = 1500 * time.Millisecond
			c.TCPWriteTimeout = time.Minute
			c.ExpiryWarning = 168 * time.Hour
		}},
		{"tcp-max-conns", "tcp-max-conns 1000", func(c *Config) { c.TCPMaxConns = 1000 }},
		{"drop-source-ports", "drop-source-ports 0 19 5000", func(c *Config) { c.DropSourcePorts = []uint16{0, 19, 5000} }},
		{"drop-source-ports none", "drop-source-ports none", func(c *Config) { c.DropSourcePorts = []uint16{} }},
		{"broadcast-queries answer", "broadcast-queries answer", func(c *Config) { c.AnswerGroupQueries = true }},
		{"broadcast-queries drop", "broadcast-queries drop", func(c *Config) {}},
		{"key and a keyed axfr-allow", "key xfr-key hmac-sha256 8gmhS1cNcBcRTBWiH0/M0cY9Xf7D1cnEmCmfQ2yTXf0=\naxfr-allow 192.0.2.0/24 2001:db8::/32 key xfr-key", func(c *Config) {
			c.Keys = tsig.Ring{"xfr-key.": {Name: "xfr-key.", Algorithm: "hmac-sha256.", Secret: "8gmhS1cNcBcRTBWiH0/M0cY9Xf7D1cnEmCmfQ2yTXf0="}}
			c.AXFRAllowKeyed = []server.KeyedPrefix{{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Key: "xfr-key"}, {Prefix: netip.MustParsePrefix("2001:db8::/32"), Key: "xfr-key"}}
		}},
		{"zone-max-size", "zone-max-size 512M", func(c *Config) { c.ZoneMaxSize = 512 << 20 }},
		{"zone-image", "zone-image /var/lib/xdpdns/zones.img", func(c *Config) { c.ZoneImage = "/var/lib/xdpdns/zones.img" }},
		{"answer-cache", "answer-cache 8M", func(c *Config) { c.AnswerCache = 8 << 20 }},
		{"answer-cache off", "answer-cache off", func(c *Config) { c.AnswerCache = -1 }},
		{"rrl", "rrl-rate 20\nrrl-slip 0\nrrl-ipv4-prefix 22\nrrl-ipv6-prefix /48\nrrl-window 5s\nrrl-exempt 192.0.2.0/24 2001:db8::1\nrrl-table-size 1024", func(c *Config) {
			c.RRL = rrl.Config{Rate: 20, Slip: 0, Prefix4: 22, Prefix6: 48, Window: 5 * time.Second, TableSize: 1024,
				Exempt: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::1/128")}}
		}},
		{"reload-timeout", "reload-timeout 30s", func(c *Config) { c.ReloadTimeout = 30 * time.Second }},
		{"xdp-vlans", "xdp-vlans 100 4094", func(c *Config) { c.XDPVLANs = []uint16{100, 4094} }},
		{"metrics-listen", "metrics-listen [::1]:9153", func(c *Config) { c.MetricsListen = netip.MustParseAddrPort("[::1]:9153") }},
		{"tcp per-client limits", "tcp-max-conns-per-client 8\ntcp-client-prefix4 24\ntcp-client-prefix6 /56", func(c *Config) {
			c.TCPMaxConnsPerClient, c.TCPClientPrefix4, c.TCPClientPrefix6 = 8, 24, 56
		}},
		{"tabs", "listen\t127.0.0.1:53\t# c", func(c *Config) { c.Listen = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:53")} }},
		{"control absolute", "control /run/x/ctl.sock", func(c *Config) { c.Control = "/run/x/ctl.sock" }},
		{"control relative to dir", "control run/ctl.sock", func(c *Config) { c.Control = "/etc/xdpdns/run/ctl.sock" }},
		{"control disabled", `control ""`, func(c *Config) { c.Control = "" }},
		{"xdp", "xdp eth0 eth1:native\nxdp ens3f0np0:generic enp1s0:auto", func(c *Config) {
			c.XDP = []XDPAttach{{"eth0", loader.ModeAuto}, {"eth1", loader.ModeNative}, {"ens3f0np0", loader.ModeGeneric}, {"enp1s0", loader.ModeAuto}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Default()
			if err := Parse(strings.NewReader(tt.in), "test.conf", "/etc/xdpdns", got); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := Default()
			tt.want(want)
			got.zoneSources = nil // where each zone came from: TestDuplicateZoneNamesWhere (cmd/xdpdnsd)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in   string
		line int
		msg  string
	}{
		{"listen 127.0.0.1:53\nbogus 1", 2, `unknown key "bogus"`},
		{"listen", 1, "listen: want one or more IP:PORT"},
		{"listen localhost:53", 1, "want IP:PORT"},
		{"listen 127.0.0.1", 1, "want IP:PORT"},
		{"\n\nzone example.com", 3, "zone: want ORIGIN FILE"},
		{"zone example.com a b", 1, "zone: want ORIGIN FILE"},
		{"zone exa..mple.com f", 1, "not a domain name"},
		{"identity", 1, "identity: want a string"},
		{"identity a\nidentity b", 2, "identity given twice (first on line 1)"},
		{`identity "unterminated`, 1, "unterminated quoted string"},
		{`identity "a" b`, 1, "bad quoted string"},
		{"nsid hex:zz", 1, "nsid"},
		{"nsid hex:", 1, "nsid is empty"},
		{"nsid " + strings.Repeat("x", MaxNSID+1), 1, "more than"},
		{"hide-version yes", 1, "hide-version: takes no value"},
		{"udp-size 100", 1, "udp-size"},
		{"udp-size 70000", 1, "udp-size"},
		{"udp-size 1232 1400", 1, "udp-size: want a number"},
		{"axfr-allow 10.0.0.0/33", 1, "prefix"},
		{"axfr-allow nothost", 1, "prefix"},
		{"tcp-idle-timeout 10", 1, "duration"},
		{"tcp-idle-timeout -1s", 1, "must be positive"},
		{"tcp-idle-timeout 0s", 1, "must be positive"},
		{"expiry-warning 1d", 1, "duration"},
		{"tcp-max-conns 0", 1, "tcp-max-conns"},
		{"tcp-max-conns many", 1, "tcp-max-conns"},
		{"tcp-max-conns-per-client 0", 1, "tcp-max-conns-per-client"},
		{"drop-source-ports 65536", 1, "want a port from 0 to 65535"},
		{"broadcast-queries yes", 1, "want drop or answer"},
		{"metrics-listen 9153", 1, "want IP:PORT"},
		{"zone-max-size 2X", 1, "size \"2X\""},
		{"answer-cache none", 1, "answer-cache"},
		{"rrl-rate -1", 1, "rrl-rate"},
		{"rrl-slip 101", 1, "rrl-slip"},
		{"rrl-ipv4-prefix 33", 1, "rrl-ipv4-prefix"},
		{"rrl-window 10ms", 1, "rrl-window"},
		{"key k hmac-md5 8gmhS1cNcBcRTBWiH0/M0cY9Xf7D1cnEmCmfQ2yTXf0=", 1, "algorithm"},
		{"key k hmac-sha256 not-base64!", 1, "not base64"},
		{"key k hmac-sha256 c2hvcnQ=", 1, "too short"},
		{"axfr-allow key k", 1, "prefixes before key"},
		{"zone-max-size 12", 1, "at least 1K"},
		{"reload-timeout 0s", 1, "positive"},
		{"xdp-vlans 4095", 1, "1 to 4094"},
		{"metrics-listen 127.0.0.1:9153\nmetrics-listen 127.0.0.1:9154", 2, "metrics-listen"},
		{"drop-source-ports 19 none", 1, "drop-source-ports \"none\""},
		{"drop-source-ports", 1, "drop-source-ports: want one or more ports"},
		{"tcp-client-prefix4 33", 1, "from 1 to 32"},
		{"tcp-client-prefix6 0", 1, "from 1 to 128"},
		{"tcp-client-prefix6 64\ntcp-client-prefix6 48", 2, "given twice"},
		{"# ok\nversion \"\"", 2, "empty string"},
		{"control", 1, "control: want a socket path"},
		{"control /a\ncontrol /b", 2, "control given twice"},
		{"control /" + strings.Repeat("s", 120), 1, "longer than 107"},
		{"xdp", 1, "xdp: want one or more IFACE"},
		{"xdp eth0:fast", 1, "want native, generic or auto"},
		{"xdp :native", 1, "empty interface name"},
		{"xdp averyveryverylongname", 1, "longer than 15"},
		{"xdp eth0:native:x", 1, "mode"},
		{"xdp ../x", 1, "bad interface name"},
		{"listen 127.0.0.1:53\nlisten [::1]:53 127.0.0.1:53", 2, "listen address 127.0.0.1:53 given twice (first on line 1)"},
		{"zone example.com a\n# b\nzone EXAMPLE.com. b", 3, "zone example.com. given twice (first on line 1)"},
		{"xdp eth0\nxdp eth1 eth0:native", 2, "xdp interface eth0 given twice (first on line 1)"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			err := Parse(strings.NewReader(tt.in), "x.conf", "", Default())
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *config.Error", err)
			}
			if ce.File != "x.conf" || ce.Line != tt.line {
				t.Errorf("located at %s:%d, want x.conf:%d (%v)", ce.File, ce.Line, tt.line, err)
			}
			if !strings.Contains(err.Error(), tt.msg) || !strings.HasPrefix(err.Error(), "x.conf:") {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
		})
	}
}

func TestParseLongLine(t *testing.T) {
	in := "identity " + strings.Repeat("a", maxLine+10)
	err := Parse(strings.NewReader(in), "x.conf", "", Default())
	if err == nil {
		t.Fatal("accepted a line longer than the limit")
	}
}

func TestParseFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "xdpdnsd.conf")
	if err := os.WriteFile(path, []byte("zone example.com zones/example.com.zone\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := Default()
	if err := ParseFile(path, c); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "zones/example.com.zone"); c.Zones[0].File != want {
		t.Errorf("zone file %q, want %q", c.Zones[0].File, want)
	}
	if err := ParseFile(filepath.Join(dir, "missing.conf"), c); err == nil || !os.IsNotExist(errors.Unwrap(err)) {
		t.Errorf("missing file: got %v", err)
	}
}

func TestExampleConfigParses(t *testing.T) {
	c := Default()
	if err := ParseFile("../examples/xdpdnsd.conf", c); err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(); err != nil {
		t.Fatal(err)
	}
	if len(c.Listen) == 0 || len(c.Zones) == 0 {
		t.Errorf("example sets no listen address or zone: %+v", c)
	}
}

func TestFinish(t *testing.T) {
	c := Default()
	if err := c.Finish(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Listen, []netip.AddrPort{netip.MustParseAddrPort(DefaultListen)}) {
		t.Errorf("default listen %v", c.Listen)
	}
	c = Default()
	c.Zones = []zone.Spec{{Origin: "Example.COM", File: "a"}, {Origin: "example.com.", File: "b"}}
	if err := c.Finish(); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate zone: %v", err)
	}
	c = Default()
	c.Listen = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:53"), netip.MustParseAddrPort("127.0.0.1:53")}
	if err := c.Finish(); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate listen: %v", err)
	}
	c = Default()
	c.XDP = []XDPAttach{{"eth0", loader.ModeNative}, {"eth0", loader.ModeGeneric}}
	if err := c.Finish(); err == nil || !strings.Contains(err.Error(), "xdp interface eth0 given twice") {
		t.Errorf("duplicate xdp interface: %v", err)
	}
	if Default().Control != control.DefaultPath {
		t.Errorf("default control %q", Default().Control)
	}
	c = Default()
	c.HideVersion = true
	if c.EngineVersion() != "" {
		t.Error("hidden version still answered")
	}
}

func TestValueParsers(t *testing.T) {
	if o, f, err := ParseZoneArg("example.com=/z/ex.zone"); err != nil || o != "example.com" || f != "/z/ex.zone" {
		t.Errorf("ParseZoneArg: %q %q %v", o, f, err)
	}
	for _, bad := range []string{"example.com", "=f", "example.com=", "a..b=f"} {
		if _, _, err := ParseZoneArg(bad); err == nil {
			t.Errorf("ParseZoneArg(%q) accepted", bad)
		}
	}
	if b, err := ParseNSID("hex:4142"); err != nil || string(b) != "AB" {
		t.Errorf("ParseNSID hex: %q %v", b, err)
	}
	if p, err := ParsePrefix("10.1.2.3/8"); err != nil || p.String() != "10.0.0.0/8" {
		t.Errorf("ParsePrefix masks: %v %v", p, err)
	}
	if x, err := ParseXDP("eth0"); err != nil || x != (XDPAttach{"eth0", loader.ModeAuto}) || x.String() != "eth0:auto" {
		t.Errorf("ParseXDP default mode: %v %v", x, err)
	}
	for _, bad := range []string{"", "eth0:", "eth0:NATIVE", "a b", "x/y:native", "..", "eth0:native:auto"} {
		if _, err := ParseXDP(bad); err == nil {
			t.Errorf("ParseXDP(%q) accepted", bad)
		}
	}
	if p, err := ParsePrefix("::ffff:192.0.2.1"); err != nil || p.String() != "192.0.2.1/32" {
		t.Errorf("ParsePrefix unmaps: %v %v", p, err)
	}
}

func TestSet(t *testing.T) {
	c := Default()
	if err := Parse(strings.NewReader("identity a\nlisten 127.0.0.1:53\nzone a.example /z/a"), "f", "", c); err != nil {
		t.Fatal(err)
	}
	for _, s := range [][]string{
		{"identity", "b"}, {"listen", "[::1]:53"}, {"zone", "b.example", "rel/b"}, {"hide-version"}, {"nsid", "hex:01"},
		{"control", "rel/ctl.sock"}, {"xdp", "eth1:generic"},
	} {
		if err := Set(c, s[0], s[1:]...); err != nil {
			t.Fatalf("Set %v: %v", s, err)
		}
	}
	if c.Identity != "b" || len(c.Listen) != 2 || len(c.Zones) != 2 || c.Zones[1].File != "rel/b" || !c.HideVersion || string(c.NSID) != "\x01" ||
		c.Control != "rel/ctl.sock" || len(c.XDP) != 1 || c.XDP[0] != (XDPAttach{"eth1", loader.ModeGeneric}) {
		t.Errorf("after Set: %+v", c)
	}
	for _, bad := range [][]string{{"nope", "x"}, {"zone", "a"}, {"udp-size", "1"}, {"hide-version", "x"}} {
		if err := Set(c, bad[0], bad[1:]...); err == nil {
			t.Errorf("Set %v accepted", bad)
		}
	}
}

// TestParseSecondaryOptions: key and expire-policy after the primaries, in
// either order; the global expire-policy fills in zones without one.
func TestParseSecondaryOptions(t *testing.T) {
	c := Default()
	in := "key k hmac-sha256 8gmhS1cNcBcRTBWiH0/M0cY9Xf7D1cnEmCmfQ2yTXf0=\n" +
		"expire-policy serve-stale\n" +
		"secondary a.example /z/a primary 192.0.2.1 192.0.2.2:5300 expire-policy servfail key k\n" +
		"secondary b.example /z/b primary 192.0.2.1 key k\n"
	if err := Parse(strings.NewReader(in), "x.conf", "", c); err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(); err != nil {
		t.Fatal(err)
	}
	a, b := c.Secondaries[0], c.Secondaries[1]
	if a.Key != "k" || a.ExpirePolicy != "servfail" || len(a.Primaries) != 2 || a.Primaries[1].Port() != 5300 {
		t.Errorf("a: %+v", a)
	}
	if b.Key != "k" || b.ExpirePolicy != "serve-stale" || len(b.Primaries) != 1 || b.Primaries[0].Port() != 53 {
		t.Errorf("b: %+v", b)
	}
	for _, bad := range []string{
		"secondary a.example /z/a primary 192.0.2.1 expire-policy never",
		"secondary a.example /z/a primary 192.0.2.1 key k key k",
		"secondary a.example /z/a primary 192.0.2.1 expire-policy servfail expire-policy servfail",
		"expire-policy sometimes",
		"secondary a.example /z/a primary expire-policy servfail",
	} {
		if err := Parse(strings.NewReader(bad), "x.conf", "", Default()); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
