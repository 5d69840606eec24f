//go:build linux

package e2e

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/interop"
)

// Delta is the change of every counter between two Stats, keyed
// "xdp.NAME" for the XDP program's counters, "TRANSPORT.KIND" for the
// userspace server's answers ("udp.referral", "tcp.answer") and
// "server.NAME" for what it refused or limited (Stats.Server). Counters
// that did not move are absent.
type Delta map[string]uint64

// Diff returns what changed from a to b.
func Diff(a, b control.Stats) Delta {
	d := Delta{}
	for k, v := range b.XDP {
		if v != a.XDP[k] {
			d["xdp."+k] = v - a.XDP[k]
		}
	}
	for k, v := range b.Server {
		if v != a.Server[k] {
			d["server."+k] = v - a.Server[k]
		}
	}
	for tr, m := range b.Queries {
		for k, v := range m {
			if v != a.Queries[tr][k] {
				d[tr+"."+k] = v - a.Queries[tr][k]
			}
		}
	}
	return d
}

// Sum adds the counters whose key starts with prefix.
func (d Delta) Sum(prefix string) uint64 {
	var s uint64
	for k, v := range d {
		if strings.HasPrefix(k, prefix) {
			s += v
		}
	}
	return s
}

func (d Delta) String() string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s+%d", k, d[k]))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// StartServer runs xdpdnsd in the rig's server namespace serving zones on
// port 53 of the server's IPv4, IPv6 and VLAN addresses, with the XDP
// program attached to the server's veth in mode.
func StartServer(t testing.TB, bins Binaries, r *Rig, zones []interop.Zone, mode string) *Daemon {
	t.Helper()
	// The kernel has no 802.1Q support (see Rig): the VLAN is the XDP
	// program's alone, configured explicitly.
	args := []string{"--xdp", r.SrvIface + ":" + mode, "--xdp-vlans", strconv.Itoa(VLANID)}
	for _, z := range zones {
		args = append(args, "--zone", z.Origin+"="+z.Path)
	}
	for _, a := range []netip.Addr{r.SrvV4, r.SrvV6, r.SrvVLANV4} {
		args = append(args, "--listen", netip.AddrPortFrom(a, 53).String())
	}
	d := StartDaemon(t, bins, r.Srv, args...)
	st := d.Status(t)
	if st.XDP == nil || len(st.XDP.Attachments) != 1 || st.XDP.Attachments[0].Mode != mode {
		t.Fatalf("xdpdnsctl status: XDP %+v, want %s attached in %s mode", st.XDP, r.SrvIface, mode)
	}
	return d
}
