package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/control"
)

// setting is one configuration value given on the command line.
type setting struct {
	key  string
	args []string
}

// settings collects the configuration flags in command-line order, to be
// applied over the configuration file.
type settings struct{ list []setting }

// flagValue is a flag that records itself as a configuration setting.
type flagValue struct {
	key    string
	s      *settings
	isBool bool
	split  func(string) ([]string, error) // turns the flag value into args
}

func (v *flagValue) String() string   { return "" }
func (v *flagValue) IsBoolFlag() bool { return v.isBool }

func (v *flagValue) Set(val string) error {
	args := []string{val}
	if v.isBool {
		switch val {
		case "true":
			args = nil
		case "false":
			return errors.New("cannot be turned off on the command line")
		default:
			return fmt.Errorf("bad boolean %q", val)
		}
	} else if v.split != nil {
		var err error
		if args, err = v.split(val); err != nil {
			return err
		}
	}
	// Check the value now, so that usage errors come before any loading.
	if err := config.Set(config.Default(), v.key, args...); err != nil {
		return err
	}
	v.s.list = append(v.s.list, setting{key: v.key, args: args})
	return nil
}

// options is the parsed command line.
type options struct {
	configFile  string
	logLevel    string
	logFormat   string
	checkConfig bool
	version     bool
	settings    settings
}

// parseFlags parses the command line; usage and errors go to stderr.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := newFlagSet(o, stderr)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return o, nil
}

// newFlagSet defines every flag into o (the one list: --help and the man
// page read it).
func newFlagSet(o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("xdpdnsd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.configFile, "c", "", "configuration `file` (see docs/CONFIG.md)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "log `format`: text (key=value) or json (one object per line)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.BoolVar(&o.checkConfig, "check-config", false, "check the configuration and every zone, compile the XDP image, print what would be served, and exit (0 good, 1 errors)")
	add := func(name, key, usage string) *flagValue {
		v := &flagValue{key: key, s: &o.settings}
		fs.Var(v, name, usage)
		return v
	}
	add("zone", "zone", "serve zone `ORIGIN=FILE` (repeatable)").split = func(s string) ([]string, error) {
		origin, file, err := config.ParseZoneArg(s)
		return []string{origin, file}, err
	}
	add("listen", "listen", "serve UDP and TCP on `ADDR:PORT` (repeatable; default "+config.DefaultListen+")")
	add("identity", "identity", "answer id.server and hostname.bind with `STRING`")
	add("nsid", "nsid", "send NSID `STRING` (or hex:DIGITS)")
	add("version-string", "version", "answer version.bind with `STRING`")
	add("hide-version", "hide-version", "refuse version.bind queries").isBool = true
	add("axfr-allow", "axfr-allow", "allow zone transfers to `PREFIX` (repeatable)")
	add("udp-size", "udp-size", "largest UDP payload in `BYTES`")
	add("tcp-idle-timeout", "tcp-idle-timeout", "close idle TCP connections after `DURATION`")
	add("tcp-read-timeout", "tcp-read-timeout", "time to read one TCP message, `DURATION`")
	add("tcp-write-timeout", "tcp-write-timeout", "time to write one TCP message, `DURATION`")
	add("tcp-max-conns", "tcp-max-conns", "most concurrent TCP connections, `N`")
	add("answer-cache", "answer-cache", "remember `SIZE` of recent UDP replies (32M, off)")
	add("cookie-secret", "cookie-secret", "answer DNS Cookies with server secret `HEX` (32 digits), or random")
	add("cookie-require", "cookie-require", "`on`: UDP queries need a valid server cookie (BADCOOKIE, or TC=1 without a cookie)")
	add("rrl-rate", "rrl-rate", "rate-limit UDP replies to `N` per second per bucket (0: off)")
	add("rrl-slip", "rrl-slip", "send every `N`th limited reply truncated (0: none)")
	add("rrl-ipv4-prefix", "rrl-ipv4-prefix", "IPv4 client prefix `LENGTH` of a bucket")
	add("rrl-ipv6-prefix", "rrl-ipv6-prefix", "IPv6 client prefix `LENGTH` of a bucket")
	add("rrl-window", "rrl-window", "rate-limiting window, `DURATION`")
	add("rrl-exempt", "rrl-exempt", "never rate-limit clients in `PREFIX` (repeatable)")
	add("rrl-table-size", "rrl-table-size", "rate-limiting buckets per UDP socket, `N`")
	add("zone-image", "zone-image", "keep the compiled zone image in `FILE` (auto: beside the first zone file, with --xdp; off)")
	add("expiry-warning", "expiry-warning", "warn of signatures expiring within `DURATION`")
	add("control", "control", "control socket `PATH` for xdpdnsctl (default "+control.DefaultPath+`; "" disables)`)
	add("xdp", "xdp", "attach the XDP hot path to `IFACE[:native|generic|auto]` (repeatable)")
	add("xdp-vlans", "xdp-vlans", "answer in XDP frames tagged with VLAN `ID` too (repeatable; VLAN sub-interfaces of the XDP interfaces are found by themselves)")
	fields := func(s string) ([]string, error) { return strings.Fields(s), nil }
	add("secondary", "secondary", "a secondary zone `\""+config.SecondaryUsage+"\"` (repeatable)").split = fields
	add("expire-policy", "expire-policy", "what an expired secondary zone does: `servfail|serve-stale` (default servfail)")
	add("key", "key", "a TSIG key `\"NAME ALGORITHM SECRET\"` (repeatable)").split = fields
	add("transfer-source", "transfer-source", "leave from `ADDR` for SOA queries and transfers (one per family)")
	add("dnstap-socket", "dnstap-socket", "send dnstap messages of sampled queries to the frame-streams unix socket `PATH`")
	add("dnstap-file", "dnstap-file", "write dnstap messages of sampled queries to `FILE`")
	add("dnstap-sample", "dnstap-sample", "dnstap: one userspace query in `N` (default 1: all)")
	add("dnstap-xdp-sample", "dnstap-xdp-sample", "dnstap: one XDP-answered query in `N` (default 100)")
	add("dnstap-xdp-rate", "dnstap-xdp-rate", "dnstap: at most `N` XDP samples a second per CPU (default 1000)")
	add("metrics-listen", "metrics-listen", "serve Prometheus /metrics and /healthz on `ADDR:PORT`")
	add("bgp-asn", "bgp-asn", "local BGP `ASN` (turns on BGP and health checks)")
	add("bgp-router-id", "bgp-router-id", "BGP router ID, an `IPv4` address")
	add("bgp-listen-port", "bgp-listen-port", "BGP listen `PORT` (-1: do not listen)")
	add("bgp-peer", "bgp-peer", "BGP peer `\"ADDR asn N [port P] [hold D] [keepalive D] [passive] [multihop TTL] [password X]\"` (repeatable)").split = fields
	add("anycast-prefix", "anycast-prefix", "announce `\"PREFIX next-hop ADDR [community A:B]... [large-community A:B:C]... [med N] [prepend N]\"` while healthy (repeatable)").split = fields
	add("anycast-interface", "anycast-interface", "interface `NAME` carrying the anycast service addresses")
	add("anycast-state", "anycast-state", "`FILE` recording the service addresses this node added (default: anycast.state beside the control socket)")
	add("anycast-address", "anycast-address", "anycast service address `ADDR/LEN` (repeatable)")
	add("health-interval", "health-interval", "time between health check rounds, `DURATION`")
	add("health-rise", "health-rise", "passing rounds before announcing, `N`")
	add("health-fall", "health-fall", "failing rounds before withdrawing, `N`")
	add("drain-time", "drain-time", "keep answering for `DURATION` after withdrawing at shutdown")
	return fs
}

// buildConfig reads the configuration file, if any, applies the flags
// over it and finishes it.
func buildConfig(o *options) (*config.Config, error) {
	c := config.Default()
	if o.configFile != "" {
		if err := config.ParseFile(o.configFile, c); err != nil {
			return nil, err
		}
	}
	for _, s := range o.settings.list {
		if err := config.Set(c, s.key, s.args...); err != nil {
			return nil, fmt.Errorf("--%s: %w", s.key, err)
		}
	}
	if err := c.Finish(); err != nil {
		return nil, err
	}
	return c, nil
}
