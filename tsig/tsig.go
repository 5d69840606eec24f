// Package tsig holds TSIG keys (RFC 8945): parsed and checked once from the
// configuration (`key NAME ALGORITHM SECRET`, as tsig-keygen and keymgr -t
// print them), and looked up by name when a transfer is signed.
package tsig

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// Algorithms accepted, by their configuration names; the value is the
// algorithm's name in the TSIG record.
var Algorithms = map[string]string{
	"hmac-sha256": dns.HmacSHA256,
	"hmac-sha384": dns.HmacSHA384,
	"hmac-sha512": dns.HmacSHA512,
	"hmac-sha224": dns.HmacSHA224,
	"hmac-sha1":   dns.HmacSHA1,
}

// Key is one TSIG key.
type Key struct {
	Name      string // canonical, fully qualified
	Algorithm string // the TSIG record's algorithm name (dns.HmacSHA256, ...)
	Secret    string // base64, as miekg/dns takes it
}

// Parse checks a key: a domain name, a known algorithm, a base64 secret of
// at least 16 bytes (half of SHA-256's output; RFC 8945 §6 advises no
// shorter than half the MAC).
func Parse(name, algorithm, secret string) (Key, error) {
	if _, ok := dns.IsDomainName(name); !ok || name == "" {
		return Key{}, fmt.Errorf("key name %q: not a domain name", name)
	}
	alg, ok := Algorithms[strings.ToLower(algorithm)]
	if !ok {
		return Key{}, fmt.Errorf("key %s: algorithm %q: want hmac-sha256, hmac-sha384 or hmac-sha512 (or hmac-sha224, hmac-sha1)", name, algorithm)
	}
	raw, err := base64.StdEncoding.DecodeString(secret)
	if err != nil {
		return Key{}, fmt.Errorf("key %s: secret is not base64: %w", name, err)
	}
	if len(raw) < 16 {
		return Key{}, fmt.Errorf("key %s: secret of %d bytes is too short (at least 16)", name, len(raw))
	}
	return Key{Name: dns.CanonicalName(name), Algorithm: alg, Secret: secret}, nil
}

// Ring is a set of keys by canonical name.
type Ring map[string]Key

// Lookup returns the key named name (any case, final dot or not).
func (r Ring) Lookup(name string) (Key, bool) {
	k, ok := r[dns.CanonicalName(name)]
	return k, ok
}

// Secrets is the ring in the form miekg/dns's TSIG functions take.
func (r Ring) Secrets() map[string]string {
	out := make(map[string]string, len(r))
	for n, k := range r {
		out[n] = k.Secret
	}
	return out
}
