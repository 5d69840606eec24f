//go:build linux

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/internal/testsupport/netnstest"
)

// The hidden primary of the secondary lab: its own namespace behind the
// anycast rig's router, 198.18.14.2.
const (
	labPrimary = "198.18.14.2"
	labKey     = "xfr-key"
	labSecret  = "8gmhS1cNcBcRTBWiH0/M0cY9Xf7D1cnEmCmfQ2yTXf0="
)

const labZone = `$ORIGIN example.test.
$TTL 300
@   IN SOA ns1 hostmaster 1 3600 600 86400 300
@   IN NS  ns1
ns1 IN A   198.18.53.1
www IN A   198.18.53.10
`

// TestSecondaryLab: a hidden primary (Knot DNS, TSIG, journal IXFR, its
// NOTIFY to both nodes' unicast addresses) and two xdpdns nodes behind the
// BIRD router of the anycast rig, each a secondary of the primary with its
// own unicast transfer-source. Both nodes get the zone and announce the
// anycast address; a change at the primary is answered by both nodes,
// through XDP, within 2 s; Knot's log shows every transfer coming from a
// node's unicast address, never from the anycast one.
func TestSecondaryLab(t *testing.T) {
	knotd, err := exec.LookPath("knotd")
	if err != nil {
		t.Fatalf("knotd not installed: run make deps")
	}
	r := newAnycastRig(t)
	prim := r.Router[:len(r.Router)-2] + "-p"
	netnstest.MustRun(t, "", "ip", "netns", "add", prim)
	t.Cleanup(func() { netnstest.Run("", "ip", "netns", "del", prim) })
	netnstest.MustRun(t, prim, "ip", "link", "set", "lo", "up")
	netnstest.MustRun(t, r.Router, "ip", "link", "add", "rp", "type", "veth", "peer", "name", "p0", "netns", prim)
	netnstest.MustRun(t, r.Router, "ip", "addr", "add", "198.18.14.1/30", "dev", "rp")
	netnstest.MustRun(t, prim, "ip", "addr", "add", labPrimary+"/30", "dev", "p0")
	netnstest.MustRun(t, r.Router, "ip", "link", "set", "rp", "up")
	netnstest.MustRun(t, prim, "ip", "link", "set", "p0", "up")
	netnstest.MustRun(t, prim, "ip", "route", "add", "default", "via", "198.18.14.1")
	// Complete checksums from the primary's NOTIFYs, as from a real host.
	netnstest.MustRun(t, prim, "ethtool", "-K", "p0", "tx", "off")

	// Knot as the hidden primary.
	dir := t.TempDir()
	zf := filepath.Join(dir, "example.test.zone")
	if err := os.WriteFile(zf, []byte(labZone), 0o644); err != nil {
		t.Fatal(err)
	}
	knotLog := filepath.Join(dir, "knot.log")
	knotSock := filepath.Join(dir, "knot.sock")
	conf := fmt.Sprintf(`server:
  listen: %s@53
  rundir: %q
control:
  listen: %q
database:
  storage: %q
log:
  - target: %q
    any: info
key:
  - id: %s
    algorithm: hmac-sha256
    secret: %s
remote:
  - id: node1
    address: 198.18.11.2@53
    key: %s
  - id: node2
    address: 198.18.12.2@53
    key: %s
acl:
  - id: xfr
    address: 198.18.0.0/15
    action: transfer
    key: %s
template:
  - id: default
    storage: %q
    zonefile-load: difference-no-serial
    zonefile-sync: -1
    journal-content: all
    acl: xfr
    notify: [node1, node2]
    semantic-checks: off
zone:
  - domain: example.test.
    file: %q
`, labPrimary, dir, knotSock, dir, knotLog, labKey, labSecret, labKey, labKey, labKey, dir, zf)
	confPath := filepath.Join(dir, "knot.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	knot := netnstest.Command(ctx, prim, knotd, "-c", confPath)
	if err := knot.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		knot.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(knotLog)
			t.Logf("knot log:\n%s", b)
		}
	})

	// Two nodes, each a secondary over its own unicast address.
	node := func(name, self, peer string, asn int) *Daemon {
		conf := nodeConfig(t, name, self, peer, asn, "")
		b, err := os.ReadFile(conf)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Replace(string(b), "zone example.test. \n", "", 1)
		text += fmt.Sprintf("key %s hmac-sha256 %s\nsecondary example.test. %s primary %s key %s\ntransfer-source %s\nxdp %s:generic\n",
			labKey, labSecret, filepath.Join(t.TempDir(), "example.test.zone"), labPrimary, labKey, self, map[string]string{"node1": "n1", "node2": "n2"}[name])
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return StartDaemon(t, bins, map[string]string{"node1": r.N1, "node2": r.N2}[name], "-c", conf)
	}
	n1 := node("node1", "198.18.11.2", "198.18.11.1", 65001)
	n2 := node("node2", "198.18.12.2", "198.18.12.1", 65002)
	r.waitRoute(t, "both nodes announce after their first transfer", 30*time.Second, func(s string) bool {
		return strings.Contains(s, "198.18.11.2") && strings.Contains(s, "198.18.12.2")
	})

	// askWWW asks a node's address from the client namespace.
	askWWW := func(server string) string {
		c, err := netnstest.Dial(r.Client, "udp4", server+":53")
		if err != nil {
			return ""
		}
		defer c.Close()
		m := new(dns.Msg).SetQuestion("www.example.test.", dns.TypeA)
		co := &dns.Conn{Conn: c}
		c.SetDeadline(time.Now().Add(300 * time.Millisecond))
		if co.WriteMsg(m) != nil {
			return ""
		}
		reply, err := co.ReadMsg()
		if err != nil || len(reply.Answer) != 1 {
			return ""
		}
		if a, ok := reply.Answer[0].(*dns.A); ok {
			return a.A.String()
		}
		return ""
	}
	for _, s := range []string{"198.18.11.2", "198.18.12.2", r.Anycast} {
		if a := askWWW(s); a != "198.18.53.10" {
			t.Fatalf("%s answers www with %q before the change", s, a)
		}
	}

	// The change at the primary: Knot computes the difference, bumps the
	// serial and sends NOTIFY to both nodes.
	if err := os.WriteFile(zf, []byte(strings.Replace(labZone, "198.18.53.10", "198.18.53.20", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if out, err := exec.Command("knotc", "-s", knotSock, "zone-reload", "example.test.").CombinedOutput(); err != nil {
		t.Fatalf("knotc zone-reload: %v\n%s", err, out)
	}
	took := map[string]time.Duration{}
	for len(took) < 2 {
		for name, s := range map[string]string{"node1": "198.18.11.2", "node2": "198.18.12.2"} {
			if _, ok := took[name]; !ok && askWWW(s) == "198.18.53.20" {
				took[name] = time.Since(start)
			}
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("the change is not answered by both nodes within 2 s of Knot's reload: %v", took)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("Knot reload to the change answered: node1 %v, node2 %v", took["node1"].Round(time.Millisecond), took["node2"].Round(time.Millisecond))
	if a := askWWW(r.Anycast); a != "198.18.53.20" {
		t.Errorf("the anycast address answers %q after the change", a)
	}
	// Through XDP: both nodes' programs answered queries since the change.
	// The new version is answered in XDP: one more query to each node's
	// address is counted by its program and not by its userspace server.
	for _, n := range []struct {
		name, addr string
		d          *Daemon
	}{{"node1", "198.18.11.2", n1}, {"node2", "198.18.12.2", n2}} {
		// The node's health monitor queries its own userspace server every
		// 200 ms (UDP and TCP); a probe that falls inside the window shows up
		// in the userspace counters, so a few windows are tried. A query that
		// is passed up is counted in udp.* in every one of them.
		var d Delta
		inXDP := false
		for try := 0; try < 5 && !inXDP; try++ {
			before := n.d.Stats(t)
			if a := askWWW(n.addr); a != "198.18.53.20" {
				t.Errorf("%s answers %q", n.name, a)
			}
			d = Diff(before, n.d.Stats(t))
			inXDP = d.Sum("xdp.answer.") == 1 && d.Sum("udp.") == 0
		}
		if !inXDP {
			t.Errorf("%s: the new version was not answered in XDP: %v", n.name, d)
		}
		out, err := n.d.Ctl("zone-status", "example.test")
		if err != nil || !strings.Contains(out, "(1 IXFR)") {
			t.Errorf("%s: zone-status does not show the IXFR: %v\n%s", n.name, err, out)
		}
		// The IXFR's version (zone.Apply on the served one) reached the
		// maps rendered alone, not as a whole compile.
		if x := n.d.Status(t).XDP; x == nil || x.Partial < 1 {
			t.Errorf("%s: the IXFR was not rendered alone into the XDP maps: %+v", n.name, x)
		}
		// And it was appended to the compiled zone image (the version is
		// the file the node wrote: a restart needs no whole compile).
		waitLog(t, n.d, "compiled zone image brought up to date", 10*time.Second)
	}

	// Knot saw every transfer come from a node's unicast address.
	b, err := os.ReadFile(knotLog)
	if err != nil {
		t.Fatal(err)
	}
	remotes := regexp.MustCompile(`(?:AXFR|IXFR), outgoing, remote ([0-9.]+)@`).FindAllStringSubmatch(string(b), -1)
	seen := map[string]int{}
	for _, m := range remotes {
		seen[m[1]]++
	}
	t.Logf("transfers at the primary by remote address: %v", seen)
	if seen[r.Anycast] > 0 || len(seen) != 2 || seen["198.18.11.2"] == 0 || seen["198.18.12.2"] == 0 {
		t.Errorf("transfers came from %v, want only the nodes' unicast addresses 198.18.11.2 and 198.18.12.2", seen)
	}
}
