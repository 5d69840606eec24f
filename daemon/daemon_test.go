package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/internal/testsupport"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// newDaemon starts a daemon serving testsupport.ExampleCom from a
// temporary file on an ephemeral port and returns it with the zone
// file's path.
func newDaemon(t *testing.T) (*Daemon, string) {
	t.Helper()
	cfg := testsupport.ExampleConfig(t, nil)
	return start(t, cfg, nil), cfg.Zones[0].File
}

// start creates a daemon from cfg, lets setup (when not nil) prepare it,
// starts it and closes it when the test ends. (internal/testsupport/daemontest
// does the same for other packages; it imports this one.)
func start(t *testing.T, cfg *config.Config, setup func(*Daemon)) *Daemon {
	t.Helper()
	d, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(d)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// lookupA returns the address of www.example.com from the daemon.
func lookupA(t *testing.T, d *Daemon) string {
	t.Helper()
	m := new(dns.Msg).SetQuestion("www.example.com.", dns.TypeA)
	c := &dns.Client{Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, d.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Answer) != 1 {
		t.Fatalf("no answer: %v", r)
	}
	return r.Answer[0].(*dns.A).A.String()
}

func TestReloadKeepsOldZonesOnError(t *testing.T) {
	d, path := newDaemon(t)
	if got := lookupA(t, d); got != "192.0.2.10" {
		t.Fatalf("initial answer %s", got)
	}
	broken := strings.Replace(testsupport.ExampleCom, "www IN A   192.0.2.10", "www IN A   192.0.2.999", 1)
	if err := os.WriteFile(path, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	// A syntax error, reported at its file and line.
	err := d.Reload()
	var ze *zone.Error
	if !errors.As(err, &ze) || ze.File != path || ze.Line != 6 || !strings.Contains(err.Error(), path+":6:") {
		t.Fatalf("reload of a broken zone: got %v, want a zone error at %s line 6", err, path)
	}
	if got := lookupA(t, d); got != "192.0.2.10" {
		t.Errorf("after failed reload: %s, want the old 192.0.2.10", got)
	}
	// A zone that parses but fails the checks: CNAME and other data.
	if err := os.WriteFile(path, []byte(testsupport.ExampleCom+"www IN CNAME ns1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = d.Reload()
	if !errors.As(err, &ze) || ze.File != path || ze.Line == 0 || !strings.Contains(err.Error(), path+":") {
		t.Fatalf("reload of a zone failing checks: got %v, want a zone error at %s:LINE", err, path)
	}
	if got := lookupA(t, d); got != "192.0.2.10" {
		t.Errorf("after failed reload: %s, want the old 192.0.2.10", got)
	}
	// Removing the file fails the reload too, and keeps the old set.
	os.Remove(path)
	if err := d.Reload(); err == nil {
		t.Error("reload with a missing file succeeded")
	}
	fixed := strings.Replace(testsupport.ExampleCom, "192.0.2.10", "192.0.2.20", 1)
	if err := os.WriteFile(path, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(); err != nil {
		t.Fatalf("reload of a fixed zone: %v", err)
	}
	if got := lookupA(t, d); got != "192.0.2.20" {
		t.Errorf("after reload: %s, want 192.0.2.20", got)
	}
}

func TestNewFailsOnBrokenZone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.zone")
	if err := os.WriteFile(path, []byte("$ORIGIN example.com.\n@ 3600 IN SOA a b 1 2 3 4 5\nwww 3600 IN A nope\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Zones = []zone.Spec{{Origin: "example.com.", File: path}}
	cfg.Finish()
	_, err := New(cfg, nil)
	var ze *zone.Error
	if !errors.As(err, &ze) || ze.File != path || ze.Line != 3 || !strings.Contains(err.Error(), path+":3:") {
		t.Fatalf("got %v, want an error at %s line 3", err, path)
	}
}

func TestCloseIsQuick(t *testing.T) {
	d, _ := newDaemon(t)
	lookupA(t, d)
	start := time.Now()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Close took %v", took)
	}
}

// failingHotPath is a stand-in for the XDP loader whose Swap always
// fails. It is a fake on purpose, and only for this one check: that a
// failed Swap aborts the reload before the engine takes the new zones.
// Everything else in these tests runs the real code.
type failingHotPath struct{ swapped []*zone.Set }

func (f *failingHotPath) Swap(set *zone.Set) (uint32, error) {
	f.swapped = append(f.swapped, set)
	return 0, errors.New("map update: no space left")
}
func (f *failingHotPath) Counters() (map[string]uint64, error) { return nil, nil }
func (f *failingHotPath) Attachments() []control.Attachment    { return nil }
func (f *failingHotPath) Generation() uint32                   { return 1 }
func (f *failingHotPath) Close() error                         { return nil }

func TestHotPathSwapFailureAbortsReload(t *testing.T) {
	d, path := newDaemon(t)
	before := d.Engine().Zones()
	hot := &failingHotPath{}
	d.SetHotPath(hot)
	if err := os.WriteFile(path, []byte(strings.Replace(testsupport.ExampleCom, "192.0.2.10", "192.0.2.20", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "example.com"} {
		_, err := d.ReloadZone(name)
		if err == nil || !strings.Contains(err.Error(), "xdp: map update") {
			t.Fatalf("reload %q with a failing Swap: %v", name, err)
		}
		if d.Engine().Zones() != before {
			t.Fatalf("reload %q: the engine took the new zones although Swap failed", name)
		}
		if got := lookupA(t, d); got != "192.0.2.10" {
			t.Errorf("reload %q: answer %s, want the old 192.0.2.10", name, got)
		}
	}
	if len(hot.swapped) != 2 || hot.swapped[0] == before {
		t.Errorf("Swap calls: %d", len(hot.swapped))
	}
	d.SetHotPath(nil)
	if _, err := d.ReloadZone(""); err != nil {
		t.Fatal(err)
	}
	if got := lookupA(t, d); got != "192.0.2.20" {
		t.Errorf("after a reload without the hot path: %s", got)
	}
}

func TestReloadZoneUnknown(t *testing.T) {
	d, _ := newDaemon(t)
	for _, name := range []string{"example.net", "com."} {
		if _, err := d.ReloadZone(name); err == nil || err.Error() != fmt.Sprintf("zone %s is not configured", name) {
			t.Errorf("reload of %s: %v", name, err)
		}
	}
	// Any spelling of a configured origin is that zone.
	for _, name := range []string{"example.com", "EXAMPLE.com.", "example.com."} {
		res, err := d.ReloadZone(name)
		if err != nil || len(res.Zones) != 1 || res.Zones[0].Origin != "example.com." || res.Generation != nil {
			t.Errorf("reload of %s: %+v %v", name, res, err)
		}
	}
}

func TestControlDisabled(t *testing.T) {
	cfg := testsupport.ExampleConfig(t, func(c *config.Config) { c.Control = "" })
	d, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.ctl != nil {
		t.Error("control server started with control disabled")
	}
	lookupA(t, d)
}

func TestStartFailsOnLiveControlSocket(t *testing.T) {
	d, _ := newDaemon(t)
	cfg := *d.cfg
	d2, err := New(&cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = d2.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "in use") {
		d2.Close()
		t.Fatalf("second daemon on the same control socket: %v", err)
	}
	// The first one's socket is untouched.
	if _, err := (&control.Client{Path: cfg.Control}).Status(); err != nil {
		t.Errorf("first daemon's control socket: %v", err)
	}
}

// TestReloadSerialWarnings: a reload whose content changed under the same
// SOA serial, or whose serial went backwards, is served but reported (as
// Knot does), in the reload result and the log.
func TestReloadSerialWarnings(t *testing.T) {
	d, file := newDaemon(t)
	write := func(serial, addr string) {
		t.Helper()
		text := strings.NewReplacer(" 1 7200", " "+serial+" 7200", "192.0.2.10", addr).Replace(testsupport.ExampleCom)
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reload := func() []string {
		t.Helper()
		res, err := d.ReloadZone("example.com")
		if err != nil || len(res.Zones) != 1 {
			t.Fatalf("reload: %v %+v", err, res)
		}
		return res.Zones[0].Warnings
	}
	write("1", "192.0.2.10")
	if w := reload(); len(w) != 0 {
		t.Errorf("unchanged zone: warnings %q", w)
	}
	write("1", "192.0.2.99")
	if w := reload(); len(w) != 1 || !strings.Contains(w[0], "serial 1 did not") || lookupA(t, d) != "192.0.2.99" {
		t.Errorf("changed under the same serial: warnings %q, served %s", w, lookupA(t, d))
	}
	write("0", "192.0.2.99")
	if w := reload(); len(w) != 1 || !strings.Contains(w[0], "backwards from 1 to 0") {
		t.Errorf("serial backwards: warnings %q", w)
	}
	write("5", "192.0.2.98")
	if w := reload(); len(w) != 0 {
		t.Errorf("newer serial: warnings %q", w)
	}
}

// TestIndexesBuiltAfterLoad: once the start has settled, the daemon
// builds the indexes a change reads for every zone it loaded (not on its
// first change), and again for a version a reload loads whole; a version
// a change made carries its predecessor's.
func TestIndexesBuiltAfterLoad(t *testing.T) {
	cfg := testsupport.ExampleConfig(t, nil)
	logs := &testsupport.LogBuffer{}
	built := func() int { return strings.Count(logs.String(), "zone indexes built") }
	d, err := New(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	wait := func(n int, what string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); built() < n; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d index builds logged, want %d", what, built(), n)
			}
		}
	}
	time.Sleep(100 * time.Millisecond)
	if got := built(); got != 0 {
		t.Fatalf("indexes built before the start settled: %d", got)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	wait(1, "after the start")
	// A reload of a file changed this much is loaded whole (a new
	// version without indexes): they are built for it.
	reload := func(serial int, extra int) {
		t.Helper()
		text := strings.Replace(testsupport.ExampleCom, "hostmaster 1 ", fmt.Sprintf("hostmaster %d ", serial), 1)
		if !strings.Contains(text, fmt.Sprintf("hostmaster %d ", serial)) {
			t.Fatal("the example zone changed: no serial to edit")
		}
		var b strings.Builder
		b.WriteString(text)
		for i := range extra {
			fmt.Fprintf(&b, "h%d IN A 192.0.2.1\n", i)
		}
		if err := os.WriteFile(cfg.Zones[0].File, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := d.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	reload(2, 20000)
	wait(2, "after a reload loaded whole")
	// One applied as a difference: the version Apply made carries them.
	reload(3, 20001)
	time.Sleep(200 * time.Millisecond)
	if got := built(); got != 2 {
		t.Errorf("after a reload applied as a difference: %d index builds logged, want still 2", got)
	}
}
