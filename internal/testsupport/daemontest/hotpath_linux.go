//go:build linux

package daemontest

import (
	"net/netip"
	"os"
	"testing"

	"github.com/xdpdns/xdpdns/daemon"
	"github.com/xdpdns/xdpdns/daemon/hotpath"
	"github.com/xdpdns/xdpdns/loader"
)

// SelfTestAddress is the destination HotPath serves: queries sent with
// the hot path's SelfTest go to it.
var SelfTestAddress = netip.MustParseAddr("198.18.0.1")

// HotPath gives d a real XDP hot path serving d's zones on d's first port
// and SelfTestAddress: the program loaded but attached nowhere, so queries
// go through it with BPF_PROG_TEST_RUN (hotpath.HotPath.SelfTest). The
// daemon closes it. It skips the test without root.
func HotPath(t testing.TB, d *daemon.Daemon) *hotpath.HotPath {
	t.Helper()
	return HotPathWith(t, d, nil)
}

// HotPathWith is HotPath with the loader options changed by edit first
// (before the daemon starts, d has no port yet: edit names it).
func HotPathWith(t testing.TB, d *daemon.Daemon, edit func(*loader.Options)) *hotpath.HotPath {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_BPF) to load the XDP program")
	}
	opts := loader.Options{Prefixes: []netip.Prefix{netip.PrefixFrom(SelfTestAddress, 32)}}
	if a := d.Addrs(); len(a) > 0 {
		opts.Ports = []uint16{a[0].Port()}
	}
	if edit != nil {
		edit(&opts)
	}
	hp, err := hotpath.New(opts, d.Engine().Config(), d.Engine().Zones())
	if err != nil {
		t.Fatalf("hotpath.New: %v", err)
	}
	d.SetHotPath(hp)
	return hp
}
