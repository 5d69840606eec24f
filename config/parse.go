package config

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/xdpdns/xdpdns/anycast"
	"github.com/xdpdns/xdpdns/cookie"
	"github.com/xdpdns/xdpdns/secondary"
	"github.com/xdpdns/xdpdns/server"
	"github.com/xdpdns/xdpdns/tsig"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// Error is a configuration file error located at its file and line.
type Error struct {
	File string
	Line int
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// maxLine bounds one configuration line, so a binary file given by
// mistake fails quickly.
const maxLine = 64 << 10

// ParseFile reads the configuration file path into c. Zone file names that
// are not absolute are taken relative to the configuration file's
// directory.
func ParseFile(path string, c *Config) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return Parse(f, path, filepath.Dir(path), c)
}

// Parse reads configuration lines from r into c; name is the file name
// used in errors and dir the directory relative zone file names are
// resolved against ("" leaves them as written).
func Parse(r io.Reader, name, dir string, c *Config) error {
	p := parser{c: c, name: name, dir: dir, seen: make(map[string]int), values: make(map[string]int)}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	line := 0
	for sc.Scan() {
		line++
		if err := p.line(sc.Text(), line); err != nil {
			return &Error{File: name, Line: line, Err: err}
		}
	}
	if err := sc.Err(); err != nil {
		return &Error{File: name, Line: line + 1, Err: err}
	}
	return nil
}

// parser is the state of one Parse call.
type parser struct {
	c      *Config
	name   string // the file's name; "" for Set (the command line)
	dir    string
	n      int            // the line being applied
	seen   map[string]int // single-valued key -> line it was first set on
	values map[string]int // a value that must be unique (see unique) -> its line
}

// where says where the line being applied comes from, for errors found
// later (Finish): FILE:LINE, or the command line.
func (p *parser) where() string {
	if p.name == "" {
		return "the command line"
	}
	return fmt.Sprintf("%s:%d", p.name, p.n)
}

// unique records that the value what (such as "zone example.com.") was
// given on the current line, and fails if an earlier one gave it too. A
// parser made by Set has no file, hence no lines: Finish finds the
// duplicates the command line adds.
func (p *parser) unique(what string) error {
	if p.values == nil {
		return nil
	}
	if first, dup := p.values[what]; dup {
		return fmt.Errorf("%s given twice (first on line %d)", what, first)
	}
	p.values[what] = p.n
	return nil
}

// line applies one configuration line.
func (p *parser) line(text string, n int) error {
	p.n = n
	text, err := stripComment(text)
	if err != nil {
		return err
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	key, rest := text, ""
	if i := strings.IndexFunc(text, unicode.IsSpace); i >= 0 {
		key, rest = text[:i], strings.TrimSpace(text[i:])
	}
	k, ok := keys[key]
	if !ok {
		return fmt.Errorf("unknown key %q", key)
	}
	if k.single {
		if first, dup := p.seen[key]; dup {
			return fmt.Errorf("%s given twice (first on line %d)", key, first)
		}
		p.seen[key] = n
	}
	var args []string
	if k.text && rest != "" {
		s, err := textValue(rest)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		args = []string{s}
	} else if !k.text {
		args = strings.Fields(rest)
	}
	if len(args) < k.min || (k.max >= 0 && len(args) > k.max) {
		return fmt.Errorf("%s: %s", key, k.usage)
	}
	return k.apply(p, args)
}

// stripComment removes a comment: a '#' at the start of the line or after
// white space, outside double quotes.
func stripComment(s string) (string, error) {
	inQuote, esc := false, false
	for i, r := range s {
		switch {
		case esc:
			esc = false
		case inQuote && r == '\\':
			esc = true
		case r == '"':
			inQuote = !inQuote
		case r == '#' && !inQuote && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t'):
			return s[:i], nil
		}
	}
	if inQuote {
		return "", errors.New("unterminated quoted string")
	}
	return s, nil
}

// textValue returns the value of a free-text key: the rest of the line,
// or a double-quoted Go string literal when it starts with a quote.
func textValue(rest string) (string, error) {
	if !strings.HasPrefix(rest, `"`) {
		return rest, nil
	}
	s, err := strconv.Unquote(rest)
	if err != nil {
		return "", fmt.Errorf("bad quoted string %s", rest)
	}
	return s, nil
}

// key describes one configuration key.
type key struct {
	single bool // may appear once
	text   bool // takes the rest of the line as one value
	min    int  // fewest arguments
	max    int  // most arguments, -1 for no limit
	usage  string
	apply  func(p *parser, args []string) error
}

// keys is the configuration vocabulary.
var keys = map[string]key{
	"listen": {min: 1, max: -1, usage: "want one or more IP:PORT", apply: func(p *parser, a []string) error {
		for _, s := range a {
			ap, err := ParseListen(s)
			if err != nil {
				return err
			}
			if err := p.unique("listen address " + ap.String()); err != nil {
				return err
			}
			p.c.Listen = append(p.c.Listen, ap)
		}
		return nil
	}},
	"zone": {min: 2, max: 2, usage: "want ORIGIN FILE", apply: func(p *parser, a []string) error {
		key, err := originKey(a[0])
		if err != nil {
			return err
		}
		if err := p.unique("zone " + key); err != nil {
			return err
		}
		file := a[1]
		if p.dir != "" && !filepath.IsAbs(file) {
			file = filepath.Join(p.dir, file)
		}
		p.c.Zones = append(p.c.Zones, zone.Spec{Origin: a[0], File: file})
		p.c.noteZoneSource(key, p.where())
		return nil
	}},
	"identity": {single: true, text: true, min: 1, max: 1, usage: "want a string", apply: func(p *parser, a []string) error {
		p.c.Identity = a[0]
		return nil
	}},
	"nsid": {single: true, text: true, min: 1, max: 1, usage: "want a string or hex:DIGITS", apply: func(p *parser, a []string) error {
		b, err := ParseNSID(a[0])
		p.c.NSID = b
		return err
	}},
	"version": {single: true, text: true, min: 1, max: 1, usage: "want a string", apply: func(p *parser, a []string) error {
		if a[0] == "" {
			return errors.New("version: empty string (use hide-version to refuse version.bind)")
		}
		p.c.Version = a[0]
		return nil
	}},
	"hide-version": {single: true, min: 0, max: 0, usage: "takes no value", apply: func(p *parser, _ []string) error {
		p.c.HideVersion = true
		return nil
	}},
	"udp-size": {single: true, min: 1, max: 1, usage: "want a number of bytes", apply: func(p *parser, a []string) (err error) {
		p.c.UDPSize, err = ParseUDPSize(a[0])
		return err
	}},
	"axfr-allow": {min: 1, max: -1, usage: "want one or more prefixes or addresses, then optionally key NAME", apply: func(p *parser, a []string) error {
		keyName := ""
		if n := len(a); n >= 2 && a[n-2] == "key" {
			keyName, a = a[n-1], a[:n-2]
			if len(a) == 0 {
				return errors.New("axfr-allow: want prefixes before key NAME")
			}
		}
		for _, s := range a {
			pfx, err := ParsePrefix(s)
			if err != nil {
				return err
			}
			if keyName != "" {
				p.c.AXFRAllowKeyed = append(p.c.AXFRAllowKeyed, server.KeyedPrefix{Prefix: pfx, Key: keyName})
			} else {
				p.c.AXFRAllow = append(p.c.AXFRAllow, pfx)
			}
		}
		return nil
	}},
	"secondary": {min: 4, max: -1, usage: "want " + SecondaryUsage, apply: func(p *parser, a []string) error {
		sz, err := ParseSecondary(a)
		if err != nil {
			return err
		}
		key, err := originKey(sz.Origin)
		if err != nil {
			return err
		}
		if err := p.unique("zone " + key); err != nil {
			return err
		}
		if p.dir != "" && !filepath.IsAbs(sz.File) {
			sz.File = filepath.Join(p.dir, sz.File)
		}
		p.c.Secondaries = append(p.c.Secondaries, sz)
		return nil
	}},
	"expire-policy": {min: 1, max: 1, usage: "want servfail or serve-stale", apply: func(p *parser, a []string) error {
		pol, err := secondary.ParsePolicy(a[0])
		if err != nil {
			return err
		}
		p.c.ExpirePolicy = pol
		return nil
	}},
	"transfer-source": {min: 1, max: 2, usage: "want one address per family", apply: func(p *parser, a []string) error {
		for _, s := range a {
			ad, err := netip.ParseAddr(s)
			if err != nil {
				return fmt.Errorf("transfer-source %q: want an address: %w", s, err)
			}
			ad = ad.Unmap()
			if ad.Is4() {
				p.c.TransferSource4 = ad
			} else {
				p.c.TransferSource6 = ad
			}
		}
		return nil
	}},
	"key": {min: 3, max: 3, usage: "want NAME ALGORITHM SECRET", apply: func(p *parser, a []string) error {
		k, err := tsig.Parse(a[0], a[1], a[2])
		if err != nil {
			return err
		}
		if err := p.unique("key " + k.Name); err != nil {
			return err
		}
		if p.c.Keys == nil {
			p.c.Keys = tsig.Ring{}
		}
		p.c.Keys[k.Name] = k
		return nil
	}},
	"tcp-idle-timeout":  durationKey(func(c *Config) *time.Duration { return &c.TCPIdleTimeout }),
	"tcp-read-timeout":  durationKey(func(c *Config) *time.Duration { return &c.TCPReadTimeout }),
	"tcp-write-timeout": durationKey(func(c *Config) *time.Duration { return &c.TCPWriteTimeout }),
	"expiry-warning":    durationKey(func(c *Config) *time.Duration { return &c.ExpiryWarning }),
	"reload-timeout":    durationKey(func(c *Config) *time.Duration { return &c.ReloadTimeout }),
	"zone-max-size": {single: true, min: 1, max: 1, usage: "want a size such as 512M or 2G", apply: func(p *parser, a []string) (err error) {
		p.c.ZoneMaxSize, err = ParseSize(a[0])
		return err
	}},
	"zone-image": {single: true, min: 1, max: 1, usage: "want auto, off or a file path", apply: func(p *parser, a []string) error {
		p.c.ZoneImage = a[0]
		return nil
	}},
	"rrl-rate":       intKey("rrl-rate", "responses per second per bucket, 0 for off", 0, 1e9, func(c *Config) *int { return &c.RRL.Rate }),
	"rrl-slip":       intKey("rrl-slip", "every Nth limited reply is sent truncated", 0, 100, func(c *Config) *int { return &c.RRL.Slip }),
	"rrl-table-size": intKey("rrl-table-size", "buckets per UDP socket", 2, 1<<24, func(c *Config) *int { return &c.RRL.TableSize }),
	"rrl-window": {single: true, min: 1, max: 1, usage: "want a duration from 1s to 1h", apply: func(p *parser, a []string) error {
		d, err := ParseDuration(a[0])
		if err != nil {
			return err
		}
		if d < time.Second || d > time.Hour {
			return fmt.Errorf("rrl-window %s: want 1s to 1h", a[0])
		}
		p.c.RRL.Window = d
		return nil
	}},
	"rrl-ipv4-prefix": {single: true, min: 1, max: 1, usage: "want a prefix length from 1 to 32", apply: func(p *parser, a []string) (err error) {
		p.c.RRL.Prefix4, err = ParsePrefixLen("rrl-ipv4-prefix", a[0], 32)
		return err
	}},
	"rrl-ipv6-prefix": {single: true, min: 1, max: 1, usage: "want a prefix length from 1 to 128", apply: func(p *parser, a []string) (err error) {
		p.c.RRL.Prefix6, err = ParsePrefixLen("rrl-ipv6-prefix", a[0], 128)
		return err
	}},
	"rrl-exempt": {min: 1, max: -1, usage: "want one or more prefixes or addresses", apply: func(p *parser, a []string) error {
		for _, s := range a {
			pfx, err := ParsePrefix(s)
			if err != nil {
				return err
			}
			p.c.RRL.Exempt = append(p.c.RRL.Exempt, pfx)
		}
		return nil
	}},
	"cookie-secret": {single: true, min: 1, max: 1, usage: "want 32 hex digits (128 bits), or random", apply: func(p *parser, a []string) error {
		var k cookie.Secret
		if a[0] == "random" {
			if _, err := rand.Read(k[:]); err != nil {
				return fmt.Errorf("cookie-secret random: %w", err)
			}
		} else {
			var err error
			if k, err = cookie.ParseSecret(a[0]); err != nil {
				return err
			}
		}
		p.c.CookieSecret = &k
		return nil
	}},
	"cookie-require": {single: true, min: 1, max: 1, usage: "want on or off", apply: func(p *parser, a []string) error {
		switch a[0] {
		case "on":
			p.c.CookieRequire = true
		case "off":
			p.c.CookieRequire = false
		default:
			return fmt.Errorf("cookie-require %q: want on or off", a[0])
		}
		return nil
	}},
	"answer-cache": {single: true, min: 1, max: 1, usage: "want a size such as 32M, or off", apply: func(p *parser, a []string) (err error) {
		if a[0] == "off" {
			p.c.AnswerCache = -1
			return nil
		}
		if p.c.AnswerCache, err = ParseSize(a[0]); err != nil {
			return fmt.Errorf("answer-cache: %w, or off", err)
		}
		return nil
	}},
	"control": {single: true, text: true, min: 1, max: 1, usage: `want a socket path, or "" to disable`, apply: func(p *parser, a []string) error {
		path := a[0]
		if path != "" && p.dir != "" && !filepath.IsAbs(path) {
			path = filepath.Join(p.dir, path)
		}
		if err := CheckControl(path); err != nil {
			return err
		}
		p.c.Control = path
		return nil
	}},
	"xdp": {min: 1, max: -1, usage: "want one or more IFACE[:native|generic|auto]", apply: func(p *parser, a []string) error {
		for _, s := range a {
			x, err := ParseXDP(s)
			if err != nil {
				return err
			}
			if err := p.unique("xdp interface " + x.Iface); err != nil {
				return err
			}
			p.c.XDP = append(p.c.XDP, x)
		}
		return nil
	}},
	"tcp-max-conns": {single: true, min: 1, max: 1, usage: "want a number", apply: func(p *parser, a []string) (err error) {
		p.c.TCPMaxConns, err = ParseMaxConns(a[0])
		return err
	}},
	"tcp-max-conns-per-client": {single: true, min: 1, max: 1, usage: "want a number", apply: func(p *parser, a []string) (err error) {
		p.c.TCPMaxConnsPerClient, err = ParseMaxConnsPerClient(a[0])
		return err
	}},
	"tcp-client-prefix4": {single: true, min: 1, max: 1, usage: "want a prefix length from 1 to 32", apply: func(p *parser, a []string) (err error) {
		p.c.TCPClientPrefix4, err = ParsePrefixLen("tcp-client-prefix4", a[0], 32)
		return err
	}},
	"tcp-client-prefix6": {single: true, min: 1, max: 1, usage: "want a prefix length from 1 to 128", apply: func(p *parser, a []string) (err error) {
		p.c.TCPClientPrefix6, err = ParsePrefixLen("tcp-client-prefix6", a[0], 128)
		return err
	}},
	"drop-source-ports": {single: true, min: 1, max: -1, usage: "want one or more ports, or none", apply: func(p *parser, a []string) (err error) {
		p.c.DropSourcePorts, err = ParseDropSourcePorts(a)
		return err
	}},
	"xdp-vlans": {min: 1, max: -1, usage: "want one or more VLAN ids (1 to 4094)", apply: func(p *parser, a []string) error {
		for _, v := range a {
			id, err := ParseVLANID(v)
			if err != nil {
				return err
			}
			p.c.XDPVLANs = append(p.c.XDPVLANs, id)
		}
		return nil
	}},
	"dnstap-socket":     pathKey(func(c *Config) *string { return &c.DnstapSocket }),
	"dnstap-file":       pathKey(func(c *Config) *string { return &c.DnstapFile }),
	"dnstap-sample":     countKey("dnstap-sample", func(c *Config) *uint32 { return &c.DnstapSample }),
	"dnstap-xdp-sample": countKey("dnstap-xdp-sample", func(c *Config) *uint32 { return &c.DnstapXDPSample }),
	"dnstap-xdp-rate":   countKey("dnstap-xdp-rate", func(c *Config) *uint32 { return &c.DnstapXDPRate }),
	"metrics-listen": {single: true, min: 1, max: 1, usage: "want IP:PORT", apply: func(p *parser, a []string) (err error) {
		p.c.MetricsListen, err = ParseListen(a[0])
		return err
	}},
	"broadcast-queries": {single: true, min: 1, max: 1, usage: "want drop or answer", apply: func(p *parser, a []string) error {
		switch a[0] {
		case "drop":
			p.c.AnswerGroupQueries = false
		case "answer":
			p.c.AnswerGroupQueries = true
		default:
			return fmt.Errorf("broadcast-queries %q: want drop or answer", a[0])
		}
		return nil
	}},
	"bgp-asn": {single: true, min: 1, max: 1, usage: "want an AS number", apply: func(p *parser, a []string) (err error) {
		p.c.BGP.ASN, err = ParseASN(a[0])
		return err
	}},
	"bgp-router-id": {single: true, min: 1, max: 1, usage: "want an IPv4 address", apply: func(p *parser, a []string) (err error) {
		p.c.BGP.RouterID, err = ParseRouterID(a[0])
		return err
	}},
	"bgp-listen-port": {single: true, min: 1, max: 1, usage: "want a port, or -1", apply: func(p *parser, a []string) (err error) {
		p.c.BGP.ListenPort, err = ParseBGPListenPort(a[0])
		return err
	}},
	"bgp-peer": {min: 3, max: -1, usage: "want ADDR asn N [port P] [hold D] [keepalive D] [passive] [multihop TTL] [password X]", apply: func(p *parser, a []string) error {
		peer, err := ParseBGPPeer(a)
		if err != nil {
			return fmt.Errorf("bgp-peer: %w", err)
		}
		if err := p.unique("bgp-peer " + peer.Address.Unmap().String()); err != nil {
			return err
		}
		p.c.BGP.Peers = append(p.c.BGP.Peers, peer)
		return nil
	}},
	"anycast-prefix": {min: 3, max: -1, usage: "want PREFIX next-hop ADDR [community A:B]... [large-community A:B:C]... [med N] [prepend N]", apply: func(p *parser, a []string) error {
		pfx, err := ParseAnycastPrefix(a)
		if err != nil {
			return fmt.Errorf("anycast-prefix: %w", err)
		}
		if err := p.unique("anycast-prefix " + pfx.Prefix.String()); err != nil {
			return err
		}
		p.c.BGP.Prefixes = append(p.c.BGP.Prefixes, pfx)
		return nil
	}},
	"anycast-state": {single: true, min: 1, max: 1, usage: "want a file path", apply: func(p *parser, a []string) error {
		path := a[0]
		if p.dir != "" && !filepath.IsAbs(path) {
			path = filepath.Join(p.dir, path)
		}
		p.c.BGP.StateFile = path
		return nil
	}},
	"anycast-interface": {single: true, min: 1, max: 1, usage: "want an interface name", apply: func(p *parser, a []string) error {
		if err := anycast.ValidateInterface(a[0]); err != nil {
			return fmt.Errorf("anycast-interface: %w", err)
		}
		p.c.BGP.Interface = a[0]
		return nil
	}},
	"anycast-address": {min: 1, max: -1, usage: "want one or more ADDR/LEN", apply: func(p *parser, a []string) error {
		for _, s := range a {
			pfx, err := netip.ParsePrefix(s)
			if err != nil {
				return fmt.Errorf("anycast-address %q: want ADDR/LEN: %w", s, err)
			}
			if err := anycast.ValidateAddress(pfx); err != nil {
				return fmt.Errorf("anycast-address: %w", err)
			}
			if err := p.unique("anycast-address " + pfx.Addr().String()); err != nil {
				return err
			}
			p.c.BGP.Addresses = append(p.c.BGP.Addresses, pfx)
		}
		return nil
	}},
	"health-interval": durationKey(func(c *Config) *time.Duration { return &c.HealthInterval }),
	"health-rise": {single: true, min: 1, max: 1, usage: "want a number of rounds", apply: func(p *parser, a []string) (err error) {
		p.c.HealthRise, err = ParseHealthCount(a[0])
		return err
	}},
	"health-fall": {single: true, min: 1, max: 1, usage: "want a number of rounds", apply: func(p *parser, a []string) (err error) {
		p.c.HealthFall, err = ParseHealthCount(a[0])
		return err
	}},
	"drain-time": {single: true, min: 1, max: 1, usage: "want a duration such as 5s, or 0", apply: func(p *parser, a []string) error {
		d, err := time.ParseDuration(a[0])
		if err != nil || d < 0 {
			return fmt.Errorf("drain-time %q: want a duration such as 5s, or 0", a[0])
		}
		p.c.DrainTime = d
		return nil
	}},
}

// durationKey is a single-valued key holding a positive duration.
// intKey is a single integer from lo to hi (name and what for the error).
func intKey(name, what string, lo, hi int, field func(*Config) *int) key {
	return key{single: true, min: 1, max: 1, usage: "want a number: " + what, apply: func(p *parser, a []string) error {
		n, err := strconv.Atoi(a[0])
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("%s %q: want a number from %d to %d (%s)", name, a[0], lo, hi, what)
		}
		*field(p.c) = n
		return nil
	}}
}

func durationKey(field func(*Config) *time.Duration) key {
	return key{single: true, min: 1, max: 1, usage: "want a duration such as 10s or 168h", apply: func(p *parser, a []string) error {
		d, err := ParseDuration(a[0])
		if err != nil {
			return err
		}
		*field(p.c) = d
		return nil
	}}
}

// pathKey is a single file path, relative paths taken from the
// configuration file's directory.
func pathKey(field func(*Config) *string) key {
	return key{single: true, text: true, min: 1, max: 1, usage: "want a path", apply: func(p *parser, a []string) error {
		path := a[0]
		if path == "" {
			return errors.New("empty path")
		}
		if p.dir != "" && !filepath.IsAbs(path) {
			path = filepath.Join(p.dir, path)
		}
		*field(p.c) = path
		return nil
	}}
}

// countKey is a positive 32-bit count.
func countKey(name string, field func(*Config) *uint32) key {
	return key{single: true, min: 1, max: 1, usage: "want a positive number", apply: func(p *parser, a []string) error {
		n, err := strconv.ParseUint(a[0], 10, 32)
		if err != nil || n == 0 {
			return fmt.Errorf("%s %q: want a positive number", name, a[0])
		}
		*field(p.c) = uint32(n)
		return nil
	}}
}

// Set applies one setting as the configuration file would, without the
// file's duplicate checks: single-valued keys are overwritten and list
// keys appended to. It is how command-line flags override the file.
func Set(c *Config, name string, args ...string) error {
	k, ok := keys[name]
	if !ok {
		return fmt.Errorf("unknown key %q", name)
	}
	if len(args) < k.min || (k.max >= 0 && len(args) > k.max) {
		return fmt.Errorf("%s: %s", name, k.usage)
	}
	return k.apply(&parser{c: c}, args)
}
