package interop_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/interop"
	"github.com/xdpdns/xdpdns/interop/interoptest"
)

// tamperedOwner is the name whose A signature is broken in the zones the
// resolver test serves; every other name must still validate.
const tamperedOwner = "host1.example.test."

// resolverCases are the answers a validating resolver must get, secure,
// from a correct authoritative server for the signed test zones.
var resolverCases = []interop.ResolverCase{
	{Name: "www.example.test.", Type: dns.TypeA, Rcode: dns.RcodeSuccess, Secure: true, Want: "www.example.test. A 192.0.2.10"},
	{Name: "nx.example.test.", Type: dns.TypeA, Rcode: dns.RcodeNameError, Secure: true, OptOut: true},
	{Name: "a.b.c.nx.example.test.", Type: dns.TypeAAAA, Rcode: dns.RcodeNameError, Secure: true, OptOut: true},
	{Name: "www.example.test.", Type: dns.TypeMX, Rcode: dns.RcodeSuccess, Secure: true},
	{Name: "b.ent.example.test.", Type: dns.TypeA, Rcode: dns.RcodeSuccess, Secure: true},
	{Name: "foo.wild.example.test.", Type: dns.TypeA, Rcode: dns.RcodeSuccess, Secure: true, OptOut: true, Want: "foo.wild.example.test. A 192.0.2.50"},
	{Name: "foo.wild.example.test.", Type: dns.TypeMX, Rcode: dns.RcodeSuccess, Secure: true, OptOut: true},
	{Name: "x.went.example.test.", Type: dns.TypeA, Rcode: dns.RcodeSuccess, Secure: true, OptOut: true, Want: "x.went.example.test. A 192.0.2.70"},
	{Name: "chain-a.example.test.", Type: dns.TypeA, Rcode: dns.RcodeSuccess, Secure: true, Want: "chain-c.example.test. A 192.0.2.30"},
	{Name: "foo.wcname.example.test.", Type: dns.TypeA, Rcode: dns.RcodeSuccess, Secure: true, OptOut: true, Want: "www.example.test. A 192.0.2.10"},
	{Name: "www.dname.example.test.", Type: dns.TypeA, Rcode: dns.RcodeSuccess, Secure: true, Want: "www.target.example.test. A 192.0.2.41"},
	{Name: "www.sub2.example.test.", Type: dns.TypeA, Rcode: dns.RcodeSuccess, Secure: true, Want: "www.sub2.example.test. A 192.0.2.121"},
	{Name: "nx.sub2.example.test.", Type: dns.TypeA, Rcode: dns.RcodeNameError, Secure: true, OptOut: true},
	{Name: tamperedOwner, Type: dns.TypeA, Rcode: dns.RcodeServerFailure},
}

// TestValidatingResolver puts Unbound, validating from the test zone's
// trust anchor, in front of each server and checks that answers validate
// (AD=1) and that a broken signature is caught (SERVFAIL).
func TestValidatingResolver(t *testing.T) {
	bin := buildDaemon(t)
	for _, v := range []interoptest.Variant{interoptest.NSEC, interoptest.NSEC3, interoptest.NSEC3OptOut} {
		t.Run(string(v), func(t *testing.T) {
			zs := interoptest.PrepareZones(t, v)
			tampered := filepath.Join(t.TempDir(), "example.test.tampered")
			if err := interop.TamperRRSIG(zs.Parent, tampered, tamperedOwner, dns.TypeA); err != nil {
				t.Fatal(err)
			}
			zones := []interop.Zone{{Origin: zs.Parent.Origin, Path: tampered}, zs.Child}

			servers := map[string]func(t *testing.T) *interop.Server{
				"nsd":  func(t *testing.T) *interop.Server { return interoptest.StartNSD(t, zones) },
				"knot": func(t *testing.T) *interop.Server { return interoptest.StartKnot(t, zones) },
			}
			if bin != "" {
				servers["xdpdns"] = func(t *testing.T) *interop.Server { return interoptest.StartXdpdns(t, bin, zones) }
			}
			for _, name := range []string{"xdpdns", "nsd", "knot"} {
				start, ok := servers[name]
				if !ok {
					continue
				}
				t.Run(name, func(t *testing.T) {
					auth := start(t)
					resolver := interoptest.StartUnbound(t, auth, zs.TrustAnchor, zones)
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					for _, c := range resolverCases {
						if v == interoptest.NSEC3OptOut && c.OptOut {
							c.Secure = false
						}
						if err := c.Resolve(ctx, resolver.Addr); err != nil {
							t.Errorf("via unbound → %s: %v", name, err)
						}
					}
					if t.Failed() {
						t.Logf("unbound log:\n%s", interoptest.LogTail(resolver.Log))
					}
				})
			}
		})
	}
}
