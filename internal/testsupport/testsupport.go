// Package testsupport holds what the tests of several packages share: the
// example zone they serve, writing files into a test's temporary
// directory, and a daemon configuration around them. It imports testing:
// only _test.go files and test-only packages use it. Starting a daemon is
// in testsupport/daemontest, so that the daemon's own tests can use this
// package without an import cycle.
package testsupport

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// ExampleCom is the small zone the daemon, control, xdpdnsctl and xdpdnsd
// tests serve: example.com. with serial 1, ns1 (192.0.2.1) and www
// (192.0.2.10). Tests edit it with strings.Replace ("192.0.2.10", " 1 7200"
// for the serial), so keep its text as it is.
const ExampleCom = `$ORIGIN example.com.
$TTL 3600
@   IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@   IN NS  ns1
ns1 IN A   192.0.2.1
www IN A   192.0.2.10
`

// WriteFile writes text to dir/name and returns the path.
func WriteFile(t testing.TB, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// ExampleZone writes ExampleCom to dir/example.com.zone and returns the
// zone's configuration.
func ExampleZone(t testing.TB, dir string) zone.Spec {
	t.Helper()
	return zone.Spec{Origin: "example.com.", File: WriteFile(t, dir, "example.com.zone", ExampleCom)}
}

// Config returns a finished daemon configuration: the defaults, one
// listener on an ephemeral loopback port (127.0.0.1:0), the given zones
// and control socket ("" for none); edit, when not nil, changes it before
// Finish.
func Config(t testing.TB, control string, zones []zone.Spec, edit func(*config.Config)) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}
	cfg.Zones = zones
	cfg.Control = control
	if edit != nil {
		edit(cfg)
	}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// ExampleConfig writes ExampleCom into a new temporary directory and
// returns a finished configuration serving it, with the control socket
// ctl.sock beside it; edit is as for Config.
func ExampleConfig(t testing.TB, edit func(*config.Config)) *config.Config {
	t.Helper()
	dir := t.TempDir()
	return Config(t, filepath.Join(dir, "ctl.sock"), []zone.Spec{ExampleZone(t, dir)}, edit)
}
