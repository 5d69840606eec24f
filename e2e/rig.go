//go:build linux

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
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
	requireRoot(t)
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
		mustRun(t, "", "ip", "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := run("", "ip", "netns", "delete", ns); err != nil {
				t.Errorf("deleting namespace %s: %v\n%s", ns, err, out)
			}
		})
	}
	// The pair is made inside the server namespace and its peer moved to
	// the client's at once: nothing appears in the caller's namespace.
	mustRun(t, r.Srv, "ip", "link", "add", r.SrvIface, "type", "veth", "peer", "name", r.CliIface, "netns", r.Cli)
	for _, end := range []struct {
		ns, iface      string
		v4, v6, vlanV4 netip.Addr
	}{
		{r.Srv, r.SrvIface, r.SrvV4, r.SrvV6, r.SrvVLANV4},
		{r.Cli, r.CliIface, r.CliV4, r.CliV6, r.CliVLANV4},
	} {
		mustRun(t, end.ns, "ip", "link", "set", "lo", "up")
		mustRun(t, end.ns, "ip", "addr", "add", end.v4.String()+"/24", "dev", end.iface)
		mustRun(t, end.ns, "ip", "-6", "addr", "add", end.v6.String()+"/64", "dev", end.iface, "nodad")
		mustRun(t, end.ns, "ip", "addr", "add", end.vlanV4.String()+"/24", "dev", end.iface)
		mustRun(t, end.ns, "ip", "link", "set", end.iface, "up")
	}
	// The client's datagrams must leave with complete UDP checksums, as a
	// real client's do: a local socket behind a veth hands them over with
	// only the partial sum of checksum offload, which the XDP program
	// cannot tell from a corrupted datagram and passes to the kernel.
	mustRun(t, r.Cli, "ethtool", "-K", r.CliIface, "tx", "off")
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
	err = InNetns(ns, func() error {
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

// InNetns runs fn on an OS thread moved into namespace ns. The thread
// stays locked, so Go retires it when fn returns and no other goroutine
// ever runs in ns by accident. Sockets fn opens belong to ns and stay
// usable from any goroutine afterwards.
func InNetns(ns string, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(filepath.Join("/run/netns", ns))
		if err != nil {
			done <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		done <- fn()
	}()
	return <-done
}

// Dial opens a connection from namespace ns (network "udp4", "udp6",
// "tcp", ...); the socket lives in ns.
func Dial(ns, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := InNetns(ns, func() error {
		var err error
		c, err = net.DialTimeout(network, addr, cmdTimeout)
		return err
	})
	return c, err
}

// Command returns a command that runs name in namespace ns (the caller's
// namespace when ns is ""), killed when ctx ends.
func Command(ctx context.Context, ns, name string, args ...string) *exec.Cmd {
	if ns == "" {
		return exec.CommandContext(ctx, name, args...)
	}
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// run runs a short command in ns and returns its combined output.
func run(ns, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	var out bytes.Buffer
	cmd := Command(ctx, ns, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s %s (netns %q): %w", name, strings.Join(args, " "), ns, err)
	}
	return out.String(), err
}

// mustRun is run failing the test on error.
func mustRun(t testing.TB, ns, name string, args ...string) string {
	t.Helper()
	out, err := run(ns, name, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// requireRoot skips the test unless it runs as root with ip(8) at hand.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("e2e tests need root (network namespaces, XDP)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("e2e tests need ip(8)")
	}
}
