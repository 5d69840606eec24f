//go:build linux

package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/xdpdns/xdpdns/internal/testsupport/netnstest"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
)

// cmdTimeout bounds every short command the rig runs (ip, dig, xdpdnsctl).
const cmdTimeout = 20 * time.Second

// Interface names: the server end and the client end of the veth, and
// the 802.1Q VLAN the tagged queries use.
const (
	srvIface = "xs0"
	cliIface = "xc0"
	VLANID   = 100
)

// Rig is two network namespaces, server and client, joined by a veth pair.
// The client's veth runs an XDP_PASS program so that frames the server's
// XDP program transmits (XDP_TX) reach the client (see BRIEF §4).
//
// VLAN: the test kernel is built without CONFIG_VLAN_8021Q ("ip link add
// ... type vlan" answers "Unknown device type"), so there are no VLAN
// sub-interfaces. The VLAN addresses sit on the veths instead, and the
// client sends 802.1Q-tagged frames itself over a packet socket
// (frames.go); the server's XDP program sees the tag before the kernel
// stack would, and its reply must carry the tag back.
type Rig struct {
	Srv, Cli string // namespace names

	SrvIface, CliIface string // veth ends

	// Addresses: on the veth, and the ones the tagged frames carry.
	SrvV4, CliV4         netip.Addr
	SrvV6, CliV6         netip.Addr
	SrvVLANV4, CliVLANV4 netip.Addr
}

// NewRig builds the namespaces, links and addresses and attaches the
// client's XDP_PASS program; t.Cleanup removes all of it.
func NewRig(t testing.TB) *Rig {
	t.Helper()
	netnstest.RequireRoot(t)
	suffix := make([]byte, 3)
	if _, err := rand.Read(suffix); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("xdpdns-e2e-%d-%s", os.Getpid(), hex.EncodeToString(suffix))
	r := &Rig{
		Srv: base + "-srv", Cli: base + "-cli",
		SrvIface: srvIface, CliIface: cliIface,
		SrvV4:     netip.MustParseAddr("198.18.0.1"),
		CliV4:     netip.MustParseAddr("198.18.0.2"),
		SrvV6:     netip.MustParseAddr("2001:db8::1"),
		CliV6:     netip.MustParseAddr("2001:db8::2"),
		SrvVLANV4: netip.MustParseAddr("198.18.100.1"),
		CliVLANV4: netip.MustParseAddr("198.18.100.2"),
	}
	for _, ns := range []string{r.Srv, r.Cli} {
		netnstest.MustRun(t, "", "ip", "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := netnstest.Run("", "ip", "netns", "delete", ns); err != nil {
				t.Errorf("deleting namespace %s: %v\n%s", ns, err, out)
			}
		})
	}
	// The pair is made inside the server namespace and its peer moved to
	// the client's at once: nothing appears in the caller's namespace.
	netnstest.MustRun(t, r.Srv, "ip", "link", "add", r.SrvIface, "type", "veth", "peer", "name", r.CliIface, "netns", r.Cli)
	for _, end := range []struct {
		ns, iface      string
		v4, v6, vlanV4 netip.Addr
	}{
		{r.Srv, r.SrvIface, r.SrvV4, r.SrvV6, r.SrvVLANV4},
		{r.Cli, r.CliIface, r.CliV4, r.CliV6, r.CliVLANV4},
	} {
		netnstest.MustRun(t, end.ns, "ip", "link", "set", "lo", "up")
		netnstest.MustRun(t, end.ns, "ip", "addr", "add", end.v4.String()+"/24", "dev", end.iface)
		netnstest.MustRun(t, end.ns, "ip", "-6", "addr", "add", end.v6.String()+"/64", "dev", end.iface, "nodad")
		netnstest.MustRun(t, end.ns, "ip", "addr", "add", end.vlanV4.String()+"/24", "dev", end.iface)
		netnstest.MustRun(t, end.ns, "ip", "link", "set", end.iface, "up")
	}
	// The client's datagrams must leave with complete UDP checksums, as a
	// real client's do: a local socket behind a veth hands them over with
	// only the partial sum of checksum offload, which the XDP program
	// cannot tell from a corrupted datagram and passes to the kernel.
	netnstest.MustRun(t, r.Cli, "ethtool", "-K", r.CliIface, "tx", "off")
	r.attachPass(t, r.Cli, r.CliIface)
	return r
}

// attachPass attaches a two-instruction XDP_PASS program in native mode to
// iface in namespace ns, detached in t.Cleanup (before the namespaces go,
// since cleanups run last-in first-out).
func (r *Rig) attachPass(t testing.TB, ns, iface string) {
	t.Helper()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:    "e2e_pass",
		Type:    ebpf.XDP,
		License: "GPL",
		Instructions: asm.Instructions{
			asm.Mov.Imm(asm.R0, 2), // XDP_PASS
			asm.Return(),
		},
	})
	if err != nil {
		t.Fatalf("loading the XDP_PASS program: %v", err)
	}
	var lk link.Link
	err = netnstest.Enter(ns, func() error {
		ifc, err := net.InterfaceByName(iface)
		if err != nil {
			return err
		}
		lk, err = link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifc.Index, Flags: link.XDPDriverMode})
		return err
	})
	if err != nil {
		prog.Close()
		t.Fatalf("attaching XDP_PASS to %s in %s: %v", iface, ns, err)
	}
	t.Cleanup(func() {
		lk.Close()
		prog.Close()
	})
}

// clientPacketSocket opens a packet socket on the client's veth and
// returns it with the server veth's MAC, the destination of frames built
// by hand.
func (r *Rig) clientPacketSocket(t testing.TB) (*PacketSocket, net.HardwareAddr) {
	t.Helper()
	ps, err := OpenPacketSocket(r.Cli, r.CliIface)
	if err != nil {
		t.Fatal(err)
	}
	var srvMAC net.HardwareAddr
	if err := netnstest.Enter(r.Srv, func() error {
		ifc, err := net.InterfaceByName(r.SrvIface)
		if err == nil {
			srvMAC = ifc.HardwareAddr
		}
		return err
	}); err != nil {
		ps.Close()
		t.Fatal(err)
	}
	return ps, srvMAC
}
