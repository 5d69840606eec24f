package secondary_test

import (
	"net"
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
	"github.com/xdpdns/xdpdns/internal/testsupport"
	"github.com/xdpdns/xdpdns/internal/testsupport/daemontest"
	"github.com/xdpdns/xdpdns/interop"
	"github.com/xdpdns/xdpdns/interop/interoptest"
	"github.com/xdpdns/xdpdns/secondary"
	"github.com/xdpdns/xdpdns/server"
	"github.com/xdpdns/xdpdns/tsig"
)

const (
	keyName   = "xfr-key"
	keySecret = "8gmhS1cNcBcRTBWiH0/M0cY9Xf7D1cnEmCmfQ2yTXf0="
)

func lookupA(t *testing.T, addr string) string {
	t.Helper()
	m := new(dns.Msg).SetQuestion("www.example.com.", dns.TypeA)
	r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, addr)
	if err != nil || len(r.Answer) == 0 {
		return ""
	}
	if a, ok := r.Answer[len(r.Answer)-1].(*dns.A); ok {
		return a.A.String()
	}
	return ""
}

func eventually(t *testing.T, what string, limit time.Duration, ok func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !ok() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// statusWithin waits up to 2 s for the one secondary zone's status to
// satisfy ok (a transfer is counted once its zone is handed over, so
// just after the new data is served) and returns the last status read.
func statusWithin(d *daemon.Daemon, ok func(secondary.Status) bool) ([]secondary.Status, bool) {
	start := time.Now()
	for {
		st := d.Secondaries().Status()
		if len(st) == 1 && ok(st[0]) {
			return st, true
		}
		if time.Since(start) > 2*time.Second {
			return st, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// asSecondary is a configuration edit: example.com as a secondary of
// primary with its copy in copyFile, transfers signed with the test key.
func asSecondary(t *testing.T, key tsig.Key, copyFile, primary string) func(*config.Config) {
	return func(c *config.Config) {
		c.Zones = nil
		c.Keys = tsig.Ring{key.Name: key}
		sz, err := config.ParseSecondary([]string{"example.com", copyFile, "primary", primary, "key", keyName})
		if err != nil {
			t.Fatal(err)
		}
		c.Secondaries = append(c.Secondaries, sz)
	}
}

// TestSecondaryFromXdpdnsPrimary: a daemon that is a secondary of another
// (transfers signed with TSIG) gets the zone at start with no copy of its
// own, writes the copy to its file, takes a change announced by a signed
// NOTIFY, refuses an unsigned NOTIFY, and after a restart with the primary
// gone serves its copy at once.
func TestSecondaryFromXdpdnsPrimary(t *testing.T) {
	key, err := tsig.Parse(keyName, "hmac-sha256", keySecret)
	if err != nil {
		t.Fatal(err)
	}
	prim, pcfg := daemontest.StartExample(t, func(c *config.Config) {
		c.Keys = tsig.Ring{key.Name: key}
		c.AXFRAllowKeyed = []server.KeyedPrefix{{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Key: keyName}}
	}, nil)
	primAddr := prim.Addrs()[0]
	copyFile := filepath.Join(t.TempDir(), "sec", "example.com.zone")
	secCfg := asSecondary(t, key, copyFile, primAddr.String())
	sec, secConf := daemontest.StartExample(t, secCfg, nil)
	secCfgPath := secConf.Control
	secAddr := sec.Addrs()[0].String()
	took := eventually(t, "the first transfer answers", 10*time.Second, func() bool { return lookupA(t, secAddr) == "192.0.2.10" })
	t.Logf("first transfer served after %v", took)
	if b, err := os.ReadFile(copyFile); err != nil || !strings.Contains(string(b), "www.example.com.") {
		t.Fatalf("the copy was not written: %v", err)
	}

	// A change at the primary, then a signed NOTIFY from the primary's
	// address: the secondary serves it within 2 s.
	if err := os.WriteFile(pcfg.Zones[0].File, []byte(strings.NewReplacer(" 1 7200", " 2 7200", "192.0.2.10", "192.0.2.20").Replace(testsupport.ExampleCom)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := prim.ReloadZone("example.com"); err != nil {
		t.Fatal(err)
	}
	unsigned := new(dns.Msg).SetNotify("example.com.")
	if r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(unsigned, secAddr); err != nil || r.Rcode != dns.RcodeNotAuth {
		t.Errorf("an unsigned NOTIFY: %v %v, want NOTAUTH (the zone has a key)", r, err)
	}
	notify := new(dns.Msg).SetNotify("example.com.")
	notify.SetTsig(key.Name, key.Algorithm, 300, time.Now().Unix())
	start := time.Now()
	r, _, err := (&dns.Client{Timeout: 2 * time.Second, TsigSecret: map[string]string{key.Name: keySecret}}).Exchange(notify, secAddr)
	if err != nil || r.Rcode != dns.RcodeSuccess || !r.Authoritative || r.Opcode != dns.OpcodeNotify {
		t.Fatalf("a signed NOTIFY from the primary: %v %v", r, err)
	}
	for i := 0; i < 100 && lookupA(t, secAddr) != "192.0.2.20"; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if a := lookupA(t, secAddr); a != "192.0.2.20" {
		t.Fatalf("the change after NOTIFY is not served within 2 s (%q); status %+v", a, sec.Secondaries().Status())
	}
	t.Logf("NOTIFY to answer: %v", time.Since(start))
	// The zone is served before the transfer is counted: wait for it.
	if st, ok := statusWithin(sec, func(s secondary.Status) bool {
		return s.Serial == 2 && s.Transfers == 2 && s.LastError == ""
	}); !ok {
		t.Errorf("status %+v", st)
	}

	// The operator's view and commands, over the control socket.
	c := &control.Client{Path: secCfgPath}
	zs, err := c.ZoneStatus("example.com")
	if err != nil || len(zs) != 1 || zs[0].Role != "secondary" || !zs[0].Served || zs[0].Serial != 2 || zs[0].Transfers != 2 || len(zs[0].Primaries) != 1 {
		t.Errorf("zone-status: %+v %v", zs, err)
	}
	if err := c.Refresh("example.com", true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "retransfer", 5*time.Second, func() bool {
		zs, err := c.ZoneStatus("example.com")
		return err == nil && len(zs) == 1 && zs[0].Transfers == 3
	})
	if err := c.Refresh("example.org", false); err == nil {
		t.Error("refresh of a zone that is not a secondary succeeded")
	}

	// Restart with the primary gone: the copy is served at once.
	prim.Close()
	sec.Close()
	start = time.Now()
	sec2, _ := daemontest.StartExample(t, secCfg, nil)
	if a := lookupA(t, sec2.Addrs()[0].String()); a != "192.0.2.20" {
		t.Errorf("after a restart with the primary down: %q", a)
	}
	t.Logf("restart with the primary down: serving after %v", time.Since(start))
}

// freePort returns a TCP and UDP port free on loopback right now.
func freePort(t *testing.T) uint16 {
	t.Helper()
	for i := 0; i < 20; i++ {
		l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}); err == nil {
			u.Close()
			return uint16(port)
		}
	}
	t.Fatal("no free port")
	return 0
}

// knotPrimary is Knot DNS as the hidden primary of example.com. (TSIG,
// its journal serving IXFR, NOTIFY to the secondary's port) and what a
// secondary of it needs.
type knotPrimary struct {
	knotc string // knotc, to reload the zone at Knot
	knot  *interop.Server
	zone  string // Knot's zone file: written again to change the zone
	port  uint16 // the port Knot notifies, the secondary listens on
	// secondary configures a daemon as Knot's secondary, listening on
	// the port Knot notifies.
	secondary func(*config.Config)
}

// startKnotPrimary starts Knot serving text as the primary of
// example.com., with the signing options of opts; it skips the test
// without knotc.
func startKnotPrimary(t *testing.T, text string, opts interoptest.KnotOptions) knotPrimary {
	t.Helper()
	knotc, err := exec.LookPath("knotc")
	if err != nil {
		t.Skip("knotc not installed (make deps installs knot)")
	}
	key, err := tsig.Parse(keyName, "hmac-sha256", keySecret)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	zf := testsupport.WriteFile(t, dir, "example.com.zone", text)
	secPort := freePort(t)
	opts.Primary, opts.NotifyTo = true, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), secPort)
	opts.KeyName, opts.KeyAlgorithm, opts.KeySecret = keyName, "hmac-sha256", keySecret
	knot := interoptest.StartKnotWith(t, []interop.Zone{{Origin: "example.com.", Path: zf}}, opts)
	copyFile := filepath.Join(dir, "copy", "example.com.zone")
	return knotPrimary{knotc: knotc, knot: knot, zone: zf, port: secPort, secondary: func(c *config.Config) {
		asSecondary(t, key, copyFile, knot.Addr)(c)
		c.Listen = []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), secPort)}
	}}
}

// TestSecondaryFromKnot: Knot DNS as the hidden primary (TSIG, its journal
// serving IXFR, its own NOTIFY): the first version arrives by AXFR, a
// change at the primary arrives by Knot's NOTIFY and an IXFR, and is
// served within 2 s.
func TestSecondaryFromKnot(t *testing.T) {
	kp := startKnotPrimary(t, testsupport.ExampleCom, interoptest.KnotOptions{})
	knotc, knot, zf := kp.knotc, kp.knot, kp.zone
	sec, _ := daemontest.StartExample(t, kp.secondary, nil)
	secAddr := sec.Addrs()[0].String()
	eventually(t, "the first transfer from Knot answers", 10*time.Second, func() bool { return lookupA(t, secAddr) == "192.0.2.10" })

	// Change the zone at Knot (same serial: Knot computes the difference
	// and bumps the serial), reload it there: Knot sends NOTIFY.
	if err := os.WriteFile(zf, []byte(strings.Replace(testsupport.ExampleCom, "192.0.2.10", "192.0.2.30", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if out, err := exec.Command(knotc, "-s", knot.Control, "zone-reload", "example.com.").CombinedOutput(); err != nil {
		t.Fatalf("knotc zone-reload: %v\n%s", err, out)
	}
	for lookupA(t, secAddr) != "192.0.2.30" {
		if time.Since(start) > 2*time.Second {
			log, _ := os.ReadFile(knot.Log)
			t.Fatalf("the change is not served within 2 s of Knot's reload; status %+v\nknot log:\n%s", sec.Secondaries().Status(), log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("Knot reload to the change served: %v", time.Since(start))
	if st, ok := statusWithin(sec, func(s secondary.Status) bool { return s.IXFRs == 1 && s.Transfers == 2 }); !ok {
		t.Errorf("want one AXFR then one IXFR: status %+v", st)
	}
}

// TestSecondaryFromBIND: BIND 9 as a second kind of hidden primary (TSIG,
// ixfr-from-differences, its own NOTIFY signed with the key): the first
// version by AXFR, a change by BIND's NOTIFY and an IXFR, served within
// 2 s; then a retransfer by AXFR.
func TestSecondaryFromBIND(t *testing.T) {
	key, err := tsig.Parse(keyName, "hmac-sha256", keySecret)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	zf := testsupport.WriteFile(t, dir, "example.com.zone", testsupport.ExampleCom)
	secPort := freePort(t)
	bind := interoptest.StartBINDPrimary(t, []interop.Zone{{Origin: "example.com.", Path: zf}}, interoptest.BINDOptions{
		NotifyTo: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), secPort),
		KeyName:  keyName, KeyAlgorithm: "hmac-sha256", KeySecret: keySecret,
	})
	copyFile := filepath.Join(dir, "copy", "example.com.zone")
	sec, _ := daemontest.StartExample(t, func(c *config.Config) {
		asSecondary(t, key, copyFile, bind.Addr)(c)
		c.Listen = []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), secPort)}
	}, nil)
	secAddr := sec.Addrs()[0].String()
	eventually(t, "the first transfer from BIND answers", 10*time.Second, func() bool { return lookupA(t, secAddr) == "192.0.2.10" })
	time.Sleep(secondary.NotifyPace) // a NOTIFY right after a check waits for the pace

	if err := os.WriteFile(zf, []byte(strings.NewReplacer(" 1 7200", " 2 7200", "192.0.2.10", "192.0.2.30").Replace(testsupport.ExampleCom)), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	bind.Reload(t)
	for lookupA(t, secAddr) != "192.0.2.30" {
		if time.Since(start) > 2*time.Second {
			t.Fatalf("the change is not served within 2 s of BIND's reload; status %+v\nnamed log:\n%s", sec.Secondaries().Status(), interoptest.LogTail(bind.Log))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("BIND reload to the change served: %v", time.Since(start))
	// BIND may also repeat its start-up NOTIFY (serial 1) once the
	// secondary listens: that one finds the serial current and transfers
	// nothing, so count at least one NOTIFY, and exactly the transfers.
	st, ok := statusWithin(sec, func(s secondary.Status) bool { return s.IXFRs == 1 && s.Transfers == 2 && s.Notifies >= 1 })
	if !ok {
		t.Errorf("want one AXFR, then one IXFR after a NOTIFY: status %+v\nnamed log:\n%s", st, interoptest.LogTail(bind.Log))
	}
	if !sec.Secondaries().Refresh("example.com", true) {
		t.Fatal("retransfer refused")
	}
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		st := sec.Secondaries().Status()
		if st[0].Transfers == 3 && st[0].IXFRs == 1 && st[0].LastError == "" {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("no retransfer (AXFR) from BIND within 5 s: %+v", st)
		}
	}
}
