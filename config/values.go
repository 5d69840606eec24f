package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/xdpdns/xdpdns/secondary"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/loader"
)

// MaxNSID is the longest NSID accepted, in bytes. RFC 5001 sets no limit;
// this one keeps answers that carry it small.
const MaxNSID = 128

// ParseListen parses a listen address: an IP address and a port, IPv6
// addresses in brackets ("[::1]:53"). Port 0 asks for an ephemeral port.
func ParseListen(s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("listen address %q: want IP:PORT: %w", s, err)
	}
	if ap.Addr().Zone() != "" && !ap.Addr().Is6() {
		return netip.AddrPort{}, fmt.Errorf("listen address %q: zone on a non-IPv6 address", s)
	}
	return ap, nil
}

// ParseNSID parses an NSID value: "hex:" followed by hex digits gives
// those bytes, anything else is taken as the bytes of the string.
func ParseNSID(s string) ([]byte, error) {
	var b []byte
	if h, ok := strings.CutPrefix(s, "hex:"); ok {
		var err error
		b, err = hex.DecodeString(h)
		if err != nil {
			return nil, fmt.Errorf("nsid %q: %w", s, err)
		}
	} else {
		b = []byte(s)
	}
	if len(b) == 0 {
		return nil, errors.New("nsid is empty")
	}
	if len(b) > MaxNSID {
		return nil, fmt.Errorf("nsid is %d bytes, more than %d", len(b), MaxNSID)
	}
	return b, nil
}

// ParsePrefix parses an allow-list entry: a prefix ("192.0.2.0/24",
// "2001:db8::/32") or a single address, taken as a host prefix. IPv4-mapped
// IPv6 forms are unmapped so that they match IPv4 clients.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("prefix %q: %w", s, err)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("prefix %q: %w", s, err)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ParseZoneArg parses the command-line form of a zone, ORIGIN=FILE.
func ParseZoneArg(s string) (origin, file string, err error) {
	origin, file, ok := strings.Cut(s, "=")
	if !ok || origin == "" || file == "" {
		return "", "", fmt.Errorf("zone %q: want ORIGIN=FILE", s)
	}
	if _, err := originKey(origin); err != nil {
		return "", "", err
	}
	return origin, file, nil
}

// originKey checks a zone origin and returns its canonical form (lower
// case, fully qualified) for duplicate detection.
func originKey(origin string) (string, error) {
	if _, ok := dns.IsDomainName(origin); !ok || origin == "" {
		return "", fmt.Errorf("zone origin %q is not a domain name", origin)
	}
	return strings.ToLower(dns.Fqdn(origin)), nil
}

// ParseDuration parses a positive Go duration ("10s", "1m30s", "168h").
func ParseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: %w", s, err)
	}
	if d <= 0 {
		return 0, fmt.Errorf("duration %q: must be positive", s)
	}
	return d, nil
}

// ParseUDPSize parses a UDP payload size, 512 to 65535 bytes.
func ParseUDPSize(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n < 512 {
		return 0, fmt.Errorf("udp-size %q: want a number of bytes from 512 to 65535", s)
	}
	return uint16(n), nil
}

// ParseMaxConns parses a connection limit, at least 1.
func ParseMaxConns(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1<<20 {
		return 0, fmt.Errorf("tcp-max-conns %q: want a number from 1 to %d", s, 1<<20)
	}
	return n, nil
}

// ParseMaxConnsPerClient parses tcp-max-conns-per-client.
func ParseMaxConnsPerClient(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1<<20 {
		return 0, fmt.Errorf("tcp-max-conns-per-client %q: want a number from 1 to %d", s, 1<<20)
	}
	return n, nil
}

// ParsePrefixLen parses the prefix length of key, from 1 to max bits
// (a prefix such as /24 may be written with its slash).
func ParsePrefixLen(key, s string, max int) (int, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(s, "/"))
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("%s %q: want a prefix length from 1 to %d", key, s, max)
	}
	return n, nil
}

// ParseDropSourcePorts parses the ports of drop-source-ports: port
// numbers, or the single word none (an empty, non-nil list).
func ParseDropSourcePorts(a []string) ([]uint16, error) {
	if len(a) == 1 && a[0] == "none" {
		return []uint16{}, nil
	}
	out := make([]uint16, 0, len(a))
	for _, s := range a {
		n, err := strconv.ParseUint(s, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("drop-source-ports %q: want a port from 0 to 65535, or none", s)
		}
		out = append(out, uint16(n))
	}
	return out, nil
}

// maxSocketPath is the longest unix socket path the kernel accepts
// (sun_path is 108 bytes with its terminating NUL).
const maxSocketPath = 107

// CheckControl checks a control socket path.
func CheckControl(path string) error {
	if len(path) > maxSocketPath {
		return fmt.Errorf("control socket path %q is longer than %d bytes", path, maxSocketPath)
	}
	if strings.ContainsRune(path, 0) {
		return fmt.Errorf("control socket path %q contains a NUL byte", path)
	}
	return nil
}

// ParseXDP parses an XDP attachment, IFACE or IFACE:MODE, MODE being
// native, generic or auto (the default).
func ParseXDP(s string) (XDPAttach, error) {
	iface, name, hasMode := strings.Cut(s, ":")
	mode := loader.ModeAuto
	if hasMode {
		var err error
		if mode, err = loader.ParseMode(name); err != nil || name == "" {
			return XDPAttach{}, fmt.Errorf("xdp %q: mode %q: want native, generic or auto", s, name)
		}
	}
	if err := checkIfaceName(iface); err != nil {
		return XDPAttach{}, fmt.Errorf("xdp %q: %w", s, err)
	}
	return XDPAttach{Iface: iface, Mode: mode}, nil
}

// checkIfaceName checks a Linux interface name: 1 to 15 bytes, no '/',
// ':', white space or NUL, not "." or ".." (the kernel's dev_valid_name;
// ':' is refused too since it separates the mode).
func checkIfaceName(name string) error {
	if name == "" {
		return errors.New("empty interface name")
	}
	if len(name) > 15 {
		return fmt.Errorf("interface name %q is longer than 15 bytes", name)
	}
	if name == "." || name == ".." {
		return fmt.Errorf("bad interface name %q", name)
	}
	for _, r := range name {
		if r == '/' || r == ':' || r <= ' ' || r == 0x7f {
			return fmt.Errorf("bad interface name %q", name)
		}
	}
	return nil
}

// ParseVLANID parses an 802.1Q VLAN id: 1 to 4094 (0 means "no VLAN" and
// 4095 is reserved).
func ParseVLANID(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n < 1 || n > 4094 {
		return 0, fmt.Errorf("VLAN id %q: want 1 to 4094", s)
	}
	return uint16(n), nil
}

// ParseSize parses a byte count: digits with an optional K, M or G suffix
// (powers of 1024), at least 1 KiB.
func ParseSize(s string) (int64, error) {
	mult := int64(1)
	num := s
	switch {
	case strings.HasSuffix(s, "K"):
		mult, num = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mult, num = 1<<20, s[:len(s)-1]
	case strings.HasSuffix(s, "G"):
		mult, num = 1<<30, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult || n*mult < 1<<10 {
		return 0, fmt.Errorf("size %q: want a number of bytes of at least 1K, with an optional K, M or G suffix", s)
	}
	return n * mult, nil
}

// SecondaryUsage is the form of a secondary line (and --secondary).
const SecondaryUsage = "ORIGIN FILE primary ADDR[:PORT]... [key NAME] [expire-policy servfail|serve-stale]"

// ParseSecondary parses the words of a secondary line (SecondaryUsage); a
// primary without a port uses 53; the trailing options come in any order.
func ParseSecondary(a []string) (secondary.Zone, error) {
	if len(a) < 4 || a[2] != "primary" {
		return secondary.Zone{}, errors.New("secondary: want " + SecondaryUsage)
	}
	if _, ok := dns.IsDomainName(a[0]); !ok {
		return secondary.Zone{}, fmt.Errorf("secondary %q: not a domain name", a[0])
	}
	sz := secondary.Zone{Origin: dns.CanonicalName(a[0]), File: a[1]}
	rest := a[3:]
opts:
	for n := len(rest); n >= 2; n = len(rest) {
		switch rest[n-2] {
		case "key":
			if sz.Key != "" {
				return secondary.Zone{}, fmt.Errorf("secondary %s: key given twice", sz.Origin)
			}
			sz.Key = rest[n-1]
		case "expire-policy":
			if sz.ExpirePolicy != "" {
				return secondary.Zone{}, fmt.Errorf("secondary %s: expire-policy given twice", sz.Origin)
			}
			pol, err := secondary.ParsePolicy(rest[n-1])
			if err != nil {
				return secondary.Zone{}, fmt.Errorf("secondary %s: %w", sz.Origin, err)
			}
			sz.ExpirePolicy = pol
		default:
			break opts
		}
		rest = rest[:n-2]
	}
	if len(rest) == 0 {
		return secondary.Zone{}, fmt.Errorf("secondary %s: no primary", sz.Origin)
	}
	for _, s := range rest {
		ap, err := ParsePrimary(s)
		if err != nil {
			return secondary.Zone{}, fmt.Errorf("secondary %s: %w", sz.Origin, err)
		}
		sz.Primaries = append(sz.Primaries, ap)
	}
	return sz, nil
}

// ParsePrimary parses a primary's address: IP, IP:PORT or [IPv6]:PORT
// (port 53 when none).
func ParsePrimary(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("primary %q: want ADDR or ADDR:PORT", s)
	}
	return netip.AddrPortFrom(a, 53), nil
}
