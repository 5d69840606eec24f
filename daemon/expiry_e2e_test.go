//go:build linux

package daemon_test

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/daemon"
	"github.com/xdpdns/xdpdns/daemon/hotpath"
	"github.com/xdpdns/xdpdns/internal/testsupport"
	"github.com/xdpdns/xdpdns/internal/testsupport/daemontest"
	"github.com/xdpdns/xdpdns/loader"
	"github.com/xdpdns/xdpdns/secondary"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// expiryZone has the short SOA timers of the issue: refresh 2 s, retry 1 s,
// expire 6 s.
const expiryZone = `$ORIGIN example.com.
$TTL 300
@   IN SOA ns1 hostmaster 1 2 1 6 300
@   IN NS  ns1
ns1 IN A   198.18.53.77
www IN A   198.18.53.78
`

// startExpiryPrimary runs an xdpdns primary of text on listen
// (127.0.0.1:0 for any port) allowing transfers to loopback.
func startExpiryPrimary(t *testing.T, dir, listen, text string) *daemon.Daemon {
	t.Helper()
	zf := testsupport.WriteFile(t, dir, "primary.zone", text)
	cfg := testsupport.Config(t, "", []zone.Spec{{Origin: "example.com.", File: zf}}, func(c *config.Config) {
		c.Listen = []netip.AddrPort{netip.MustParseAddrPort(listen)}
		c.AXFRAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	return daemontest.Start(t, cfg, nil)
}

// TestSecondaryExpiry: a secondary node announcing its service prefix to
// a real gobgpd, with its primary gone for longer than the SOA's EXPIRE.
// servfail: the zone answers SERVFAIL on both paths (the XDP program
// passes it up) and the route is withdrawn; when the primary is back the
// zone and the route come back. serve-stale: the zone keeps answering
// from the copy, in XDP too, the route stays, and zone-status says stale.
func TestSecondaryExpiry(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, netlink, XDP)")
	}
	for _, bin := range []string{"gobgpd", "gobgp", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
	for _, policy := range []string{secondary.PolicyServfail, secondary.PolicyServeStale} {
		t.Run(policy, func(t *testing.T) { testExpiry(t, policy) })
	}
}

func testExpiry(t *testing.T, policy string) {
	log, vethA, svcIf, peer := bgpLab(t, "x", "y")

	dir := t.TempDir()
	prim := startExpiryPrimary(t, dir, "127.0.0.1:0", expiryZone)
	primAddr := prim.Addrs()[0]
	copyFile := filepath.Join(dir, "copy", "example.com.zone")
	d, sp := newBGPNodeWith(t, log, "127.0.0.1:0", 100*time.Millisecond, svcIf, func(c *config.Config) {
		sz, err := config.ParseSecondary([]string{"example.com", copyFile, "primary", primAddr.String(), "expire-policy", policy})
		if err != nil {
			t.Fatal(err)
		}
		c.Secondaries = []secondary.Zone{sz}
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	t.Cleanup(func() { d.Close() })
	if err := d.Start(ctx); err != nil {
		sp.Close()
		t.Fatal(err)
	}
	addr := d.Addrs()[0].String()
	ask := func() *dns.Msg {
		m := new(dns.Msg).SetQuestion("www.example.com.", dns.TypeA)
		for range 3 {
			if r, _, err := (&dns.Client{Timeout: time.Second}).Exchange(m, addr); err == nil {
				return r
			}
		}
		return nil
	}
	waitFor(t, "the first transfer", 10*time.Second, func() bool {
		r := ask()
		return r != nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) == 1
	})
	hp, err := hotpath.New(loader.Options{
		Attach:   []loader.Attach{{Iface: vethA, Mode: loader.ModeGeneric}},
		Ports:    []uint16{d.Addrs()[0].Port()},
		Prefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
	}, d.Engine().Config(), d.Engine().Zones())
	if err != nil {
		t.Fatalf("hotpath.New: %v", err)
	}
	d.SetHotPath(hp)
	xdp := func() (*dns.Msg, error) {
		q, _ := new(dns.Msg).SetQuestion("www.example.com.", dns.TypeA).Pack()
		out, err := hp.SelfTest(q)
		if err != nil {
			return nil, err
		}
		r := new(dns.Msg)
		return r, r.Unpack(out)
	}
	if r, err := xdp(); err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("XDP before expiry: %v %v", r, err)
	}
	peer.waitRoutes(true, "start")

	// A change at the primary, with no NOTIFY (xdpdns does not send
	// them): the refresh timer (2 s) brings it.
	changed := strings.NewReplacer(" 1 2 1 6 ", " 2 2 1 6 ", "198.18.53.78", "198.18.53.79").Replace(expiryZone)
	if err := os.WriteFile(filepath.Join(dir, "primary.zone"), []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := prim.ReloadZone("example.com"); err != nil {
		t.Fatal(err)
	}
	changeStart := time.Now()
	waitFor(t, "the change by the refresh timer", 5*time.Second, func() bool {
		r := ask()
		return r != nil && len(r.Answer) == 1 && strings.Contains(r.Answer[0].String(), "198.18.53.79")
	})
	t.Logf("change at the primary served by the refresh timer after %v", time.Since(changeStart).Round(time.Millisecond))
	waitFor(t, "the change in XDP", 2*time.Second, func() bool {
		r, err := xdp()
		return err == nil && len(r.Answer) == 1 && strings.Contains(r.Answer[0].String(), "198.18.53.79")
	})

	// The primary goes away; the copy expires 6 s after the last refresh.
	prim.Close()
	st := zoneState(t, d)
	if st.Expires == nil || st.Expired {
		t.Fatalf("zone-status before expiry: %+v", st)
	}
	expires := *st.Expires
	t.Logf("copy expires in %v", time.Until(expires).Round(time.Millisecond))
	if policy == secondary.PolicyServfail {
		peer.waitRoutes(false, "expiry under servfail")
		t.Logf("route withdrawn %v after the expiry", time.Since(expires).Round(time.Millisecond))
		if time.Now().Before(expires) {
			t.Fatalf("route withdrawn before the expiry (%v)", expires)
		}
		if r := ask(); r == nil || r.Rcode != dns.RcodeServerFailure || r.Authoritative {
			t.Fatalf("userspace after expiry: %v, want SERVFAIL without AA", r)
		}
		if r, err := xdp(); !errors.Is(err, loader.ErrSelfTest) {
			t.Fatalf("XDP after expiry: %v %v, want the query passed to userspace", r, err)
		}
		if st := zoneState(t, d); !st.Expired || st.Stale || st.LastError == "" {
			t.Errorf("zone-status after expiry: %+v", st)
		}
		if h, _ := d.Health(); h.Healthy {
			t.Errorf("health passes with an expired zone: %+v", h)
		}

		// The primary comes back on its address: the next retry refreshes
		// the zone and the route returns.
		startExpiryPrimary(t, t.TempDir(), primAddr.String(), changed)
		peer.waitRoutes(true, "primary back")
		if r := ask(); r == nil || r.Rcode != dns.RcodeSuccess || !r.Authoritative {
			t.Fatalf("userspace after the refresh: %v", r)
		}
		waitFor(t, "XDP answers again", 5*time.Second, func() bool {
			r, err := xdp()
			return err == nil && r.Rcode == dns.RcodeSuccess
		})
		if st := zoneState(t, d); st.Expired {
			t.Errorf("zone-status after the refresh: %+v", st)
		}
		return
	}
	// serve-stale: past the expiry, still answered on both paths, route kept.
	waitFor(t, "the zone goes stale", 12*time.Second, func() bool { return zoneState(t, d).Stale })
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
		if ok, rib := peer.has("ipv4", e2eSvc4.String()); !ok {
			t.Fatalf("route withdrawn under serve-stale: %s", rib)
		}
	}
	if r := ask(); r == nil || r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) != 1 {
		t.Fatalf("userspace while stale: %v", r)
	}
	if r, err := xdp(); err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("XDP while stale: %v %v", r, err)
	}
	if h, _ := d.Health(); !h.Healthy {
		t.Errorf("health fails under serve-stale: %+v", h)
	}
	st = zoneState(t, d)
	if !st.Expired || st.ExpirePolicy != secondary.PolicyServeStale {
		t.Errorf("zone-status while stale: %+v", st)
	}
	if s := d.Status(); len(s.Zones) != 1 || s.Zones[0].Secondary == nil || !s.Zones[0].Secondary.Stale {
		t.Errorf("status does not say stale: %+v", s.Zones)
	}
}

// zoneState is the one secondary zone's zone-status.
func zoneState(t *testing.T, d *daemon.Daemon) control.ZoneState {
	t.Helper()
	zs, err := d.ZoneStatus("example.com")
	if err != nil || len(zs) != 1 {
		t.Fatalf("zone-status: %v %v", zs, err)
	}
	return zs[0]
}

// waitFor polls ok (bounded by limit).
func waitFor(t *testing.T, what string, limit time.Duration, ok func() bool) {
	t.Helper()
	for start := time.Now(); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
	}
}
