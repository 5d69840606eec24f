//go:build linux

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/xdpdns/xdpdns/internal/testsupport/netnstest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// anycastRig is a router namespace running BIRD 2, two node namespaces
// announcing the same anycast address to it over BGP, and a client
// namespace behind the router:
//
//	n1 (AS 65001) 198.18.11.2 ── 198.18.11.1 ┐
//	                                          router (AS 65000, BIRD) 198.18.13.1 ── 198.18.13.2 client
//	n2 (AS 65002) 198.18.12.2 ── 198.18.12.1 ┘
//
// BIRD exports the BGP routes to the router's kernel table, so the
// client's packets to the anycast address follow the best BGP route.
type anycastRig struct {
	Router, N1, N2, Client string
	BirdSock               string
	Anycast                string // the anycast address
}

const anycastAddr = "198.18.53.1"

func newAnycastRig(t *testing.T) *anycastRig {
	t.Helper()
	netnstest.RequireRoot(t)
	suffix := make([]byte, 3)
	if _, err := rand.Read(suffix); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("xdpdns-any-%s", hex.EncodeToString(suffix))
	r := &anycastRig{Router: base + "-r", N1: base + "-n1", N2: base + "-n2", Client: base + "-c", Anycast: anycastAddr}
	for _, ns := range []string{r.Router, r.N1, r.N2, r.Client} {
		netnstest.MustRun(t, "", "ip", "netns", "add", ns)
		ns := ns
		t.Cleanup(func() { netnstest.Run("", "ip", "netns", "del", ns) })
		netnstest.MustRun(t, ns, "ip", "link", "set", "lo", "up")
	}
	link := func(ns1, if1, a1, ns2, if2, a2 string) {
		netnstest.MustRun(t, ns1, "ip", "link", "add", if1, "type", "veth", "peer", "name", if2, "netns", ns2)
		netnstest.MustRun(t, ns1, "ip", "addr", "add", a1, "dev", if1)
		netnstest.MustRun(t, ns2, "ip", "addr", "add", a2, "dev", if2)
		netnstest.MustRun(t, ns1, "ip", "link", "set", if1, "up")
		netnstest.MustRun(t, ns2, "ip", "link", "set", if2, "up")
	}
	link(r.Router, "r1", "198.18.11.1/30", r.N1, "n1", "198.18.11.2/30")
	link(r.Router, "r2", "198.18.12.1/30", r.N2, "n2", "198.18.12.2/30")
	link(r.Router, "rc", "198.18.13.1/30", r.Client, "c0", "198.18.13.2/30")
	// Complete UDP checksums from the client, as a real one sends (see
	// NewRig): the nodes' XDP program passes partial sums to the kernel.
	netnstest.MustRun(t, r.Client, "ethtool", "-K", "c0", "tx", "off")
	netnstest.MustRun(t, r.Router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	netnstest.MustRun(t, r.Client, "ip", "route", "add", "default", "via", "198.18.13.1")
	netnstest.MustRun(t, r.N1, "ip", "route", "add", "default", "via", "198.18.11.1")
	netnstest.MustRun(t, r.N2, "ip", "route", "add", "default", "via", "198.18.12.1")

	dir := t.TempDir()
	conf := filepath.Join(dir, "bird.conf")
	r.BirdSock = filepath.Join(dir, "bird.ctl")
	birdConf := `router id 198.18.13.1;
protocol device { scan time 1; }
protocol kernel { ipv4 { import none; export all; }; learn off; scan time 1; }
template bgp node { local as 65000; hold time 3; keepalive time 1; connect retry time 1;
  ipv4 { import all; export none; }; }
protocol bgp n1 from node { neighbor 198.18.11.2 as 65001; }
protocol bgp n2 from node { neighbor 198.18.12.2 as 65002; }
`
	if err := os.WriteFile(conf, []byte(birdConf), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := netnstest.Command(ctx, r.Router, "bird", "-f", "-c", conf, "-s", r.BirdSock, "-P", filepath.Join(dir, "bird.pid"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting bird: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("bird output:\n%s", out.String())
		}
	})
	return r
}

// route returns BIRD's view of the anycast address ("" when no route).
func (r *anycastRig) route(t *testing.T) string {
	out, err := netnstest.Run(r.Router, "birdc", "-s", r.BirdSock, "show", "route", "for", r.Anycast+"/32", "all")
	if err != nil {
		return ""
	}
	if !strings.Contains(out, r.Anycast) {
		return ""
	}
	return out
}

// waitRoute polls until BIRD's route to the anycast address satisfies ok.
func (r *anycastRig) waitRoute(t *testing.T, what string, timeout time.Duration, ok func(string) bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < timeout {
		if ok(r.route(t)) {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v; birdc says:\n%s", what, timeout, r.route(t))
	return 0
}

// nodeConfig is an xdpdnsd configuration announcing the anycast address.
func nodeConfig(t *testing.T, name, self, peer string, asn int, zone string) string {
	t.Helper()
	dir := t.TempDir()
	conf := fmt.Sprintf(`listen 0.0.0.0:53
zone example.test. %s
identity %s
bgp-asn %d
bgp-router-id %s
bgp-listen-port -1
bgp-peer %s asn 65000 hold 3s keepalive 1s
anycast-prefix %s/32 next-hop %s
anycast-interface any0
anycast-address %s/32
health-interval 200ms
health-rise 2
health-fall 2
drain-time 1s
`, zone, name, asn, self, peer, anycastAddr, self, anycastAddr)
	path := filepath.Join(dir, name+".conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
