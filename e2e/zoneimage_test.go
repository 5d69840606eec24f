//go:build linux

package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/interop/interoptest"
)

// waitLog waits until the daemon's log holds want.
func waitLog(t *testing.T, d *Daemon, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		b, _ := os.ReadFile(d.Log)
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the daemon's log after %v:\n%s", want, within, tail(d.Log, 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestZoneImage restarts the daemon on its compiled zone image (an NSEC3
// opt-out zone and its child): the first start compiles the zones and
// writes the image; a restart serves from it, every XDP case answered
// correctly in XDP, the opt-out referral in the kernel; a corrupt image, and one
// older than its zone file, are logged, ignored (the zones read from
// their files, again served correctly) and written anew.
func TestZoneImage(t *testing.T) {
	r := NewRig(t)
	zs := interoptest.PrepareZones(t, interoptest.NSEC3OptOut)
	image := zs.Zones()[0].Path + config.ZoneImageSuffix
	start := func(t *testing.T) *Daemon {
		d := StartServer(t, bins, r, zs.Zones(), "native")
		t.Cleanup(func() { d.Stop(syscall.SIGTERM) })
		return d
	}
	stop := func(t *testing.T, d *Daemon) {
		if err := d.Stop(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}

	d := start(t)
	waitLog(t, d, "no compiled zone image yet", 0)
	waitLog(t, d, "compiled zone image written", 30*time.Second)
	stop(t, d)
	if _, err := os.Stat(image); err != nil {
		t.Fatalf("no image at %s: %v", image, err)
	}

	t.Run("restart", func(t *testing.T) {
		d := start(t)
		waitLog(t, d, "zones loaded from the compiled image", 0)
		testUDPPaths(t, r, d, "native")
		testOptOutReferral(t, r, d)
		stop(t, d)
	})
	t.Run("changes followed", func(t *testing.T) {
		d := start(t)
		waitLog(t, d, "zones loaded from the compiled image", 0)
		serial := bumpSerial(t, zs.Zones()[0].Path)
		if out, err := d.Ctl("reload"); err != nil {
			t.Fatalf("reload: %v\n%s", err, out)
		}
		// Rendered alone, and appended to the image, not compiled whole.
		waitLog(t, d, "compiled zone image brought up to date", 30*time.Second)
		stop(t, d)
		d = start(t)
		waitLog(t, d, "zones loaded from the compiled image", 0)
		waitLog(t, d, "changes=1", 0)
		testUDPPaths(t, r, d, "native")
		before := d.Stats(t)
		rep, err := Dig.Query(r.Cli, r.SrvV4, Lookup{Name: "nope.example.test.", Type: dns.TypeA, Port: 53})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(rep.Text, fmt.Sprintf(" %d ", serial)) || Diff(before, d.Stats(t))["xdp.answer.nxdomain"] != 1 {
			t.Fatalf("the NXDOMAIN from XDP after the restart lacks the new serial %d:\n%s", serial, rep.Text)
		}
		stop(t, d)
	})
	t.Run("corrupt", func(t *testing.T) {
		b, err := os.ReadFile(image)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0x20
		if err := os.WriteFile(image, b, 0o644); err != nil {
			t.Fatal(err)
		}
		d := start(t)
		waitLog(t, d, "compiled zone image not used", 0)
		waitLog(t, d, "checksum mismatch", 0)
		testUDPPaths(t, r, d, "native")
		waitLog(t, d, "compiled zone image written", 30*time.Second)
		stop(t, d)
	})
	t.Run("older than its zone", func(t *testing.T) {
		zf := zs.Zones()[1].Path
		later := time.Now().Add(time.Minute)
		if err := os.Chtimes(zf, later, later); err != nil {
			t.Fatal(err)
		}
		d := start(t)
		waitLog(t, d, "compiled zone image not used", 0)
		waitLog(t, d, "was modified since", 0)
		testUDPPaths(t, r, d, "native")
		stop(t, d)
	})
}

// bumpSerial rewrites the zone file at path (atomically: a new inode)
// with its SOA serial one higher, and returns the new serial.
func bumpSerial(t *testing.T, path string) uint32 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	var serial uint32
	zp := dns.NewZoneParser(f, "", path)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if soa, isSOA := rr.(*dns.SOA); isSOA {
			soa.Serial++
			serial = soa.Serial
		}
		b.WriteString(rr.String() + "\n")
	}
	if err := zp.Err(); err != nil || serial == 0 {
		t.Fatalf("%s: %v (serial %d)", path, err, serial)
	}
	writeAtomic(t, path, b.String())
	return serial
}

// testOptOutReferral asks for a name below an insecure delegation of the
// NSEC3 opt-out zone with DO=1 (over IPv4 and IPv6, dig and kdig): the
// referral with its opt-out proof (RFC 5155 §7.2.7), the cover filled by
// the program from the delegation's entry as the image left it, must
// come from the kernel — the XDP program, or its tc companion when the
// reply does not fit the received frame (native XDP on veth: no
// tailroom) — and no userspace counter may move.
func testOptOutReferral(t *testing.T, r *Rig, d *Daemon) {
	l := Lookup{Name: "host.sub.example.test.", Type: dns.TypeA, DO: true, Port: 53}
	w := want{rcode: "NOERROR", authority: []string{"NS", "NSEC3", "RRSIG"}, glue: []string{"ns1.sub.example.test. A 192.0.2.100"}}
	for _, srv := range []netip.Addr{r.SrvV4, r.SrvV6} {
		for _, tool := range []Tool{Dig, Kdig} {
			before := d.Stats(t)
			rep, err := tool.Query(r.Cli, srv, l)
			if err != nil {
				t.Fatalf("%s opt-out referral over %v: %v", tool, srv, err)
			}
			delta := Diff(before, d.Stats(t))
			if err := w.check(rep); err != nil {
				t.Errorf("%s opt-out referral over %v: %v\n%s", tool, srv, err, rep.Text)
			}
			kernel := delta["xdp.answer.referral"]+delta["xdp.tc_ingress.answer"] == 1
			if !kernel || delta.Sum("udp.") != 0 || delta.Sum("tcp.") != 0 {
				t.Errorf("%s opt-out referral over %v: counters %v, want one answer from the kernel", tool, srv, delta)
			}
		}
	}
}
