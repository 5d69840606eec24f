package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

const zoneText = `$ORIGIN example.com.
$TTL 3600
@   IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@   IN NS  ns1
ns1 IN A   192.0.2.1
www IN A   192.0.2.10
`

// newDaemon starts a daemon serving zoneText from a temporary file on an
// ephemeral port and returns it with the zone file's path.
func newDaemon(t *testing.T) (*Daemon, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "example.com.zone")
	if err := os.WriteFile(path, []byte(zoneText), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Listen = []string{"127.0.0.1:0"}
	cfg.Zones = []zone.Spec{{Origin: "example.com.", File: path}}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, path
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
	broken := strings.Replace(zoneText, "www IN A   192.0.2.10", "www IN A   192.0.2.999", 1)
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
	if err := os.WriteFile(path, []byte(zoneText+"www IN CNAME ns1\n"), 0o644); err != nil {
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
	fixed := strings.Replace(zoneText, "192.0.2.10", "192.0.2.20", 1)
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
