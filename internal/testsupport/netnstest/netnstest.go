//go:build linux

// Package netnstest is the one network-namespace toolkit of the tests:
// making a named namespace that goes away with the test, running commands
// and code inside one, and running code in a fresh anonymous one. It is
// test support (it imports testing); production code never uses it.
package netnstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// CommandTimeout bounds each command Run and MustRun start.
const CommandTimeout = 30 * time.Second

// RequireRoot skips the test unless it runs as root with ip(8) at hand:
// namespaces, veths and XDP need both.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, veth pairs, XDP)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip(8)")
	}
}

// New makes a named network namespace, prefix plus a random suffix (other
// tests run at the same time), with lo up, and deletes it when the test
// ends (its interfaces and any process still in it go with it).
func New(t testing.TB, prefix string) string {
	t.Helper()
	RequireRoot(t)
	suffix := make([]byte, 3)
	if _, err := rand.Read(suffix); err != nil {
		t.Fatal(err)
	}
	ns := prefix + "-" + hex.EncodeToString(suffix)
	MustRun(t, "", "ip", "netns", "add", ns)
	t.Cleanup(func() {
		if out, err := Run("", "ip", "netns", "delete", ns); err != nil {
			t.Errorf("deleting namespace %s: %v\n%s", ns, err, out)
		}
	})
	MustRun(t, ns, "ip", "link", "set", "lo", "up")
	return ns
}

// Command returns a command that runs name in namespace ns (the caller's
// namespace when ns is ""), killed when ctx ends. ip netns exec execs the
// command in place, so signals sent to it reach it.
func Command(ctx context.Context, ns, name string, args ...string) *exec.Cmd {
	if ns == "" {
		return exec.CommandContext(ctx, name, args...)
	}
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// Run runs a short command in ns (within CommandTimeout) and returns its
// combined output.
func Run(ns, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
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

// MustRun is Run failing the test on error.
func MustRun(t testing.TB, ns, name string, args ...string) string {
	t.Helper()
	out, err := Run(ns, name, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// Enter runs fn on an OS thread moved into the named namespace ns. The
// thread stays locked, so Go retires it when fn returns and no other
// goroutine ever runs in ns by accident. Sockets fn opens belong to ns and
// stay usable from any goroutine afterwards.
func Enter(ns string, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		f, err := os.Open(filepath.Join("/run/netns", ns))
		if err != nil {
			done <- err
			return
		}
		defer f.Close()
		if err := unix.Unshare(unix.CLONE_FS); err != nil { // setns needs an unshared fs
			done <- fmt.Errorf("unshare: %w", err)
			return
		}
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		done <- fn()
	}()
	return <-done
}

// Fresh runs fn on an OS thread in a new anonymous network namespace (only
// lo, down), which goes away with the thread when fn returns; the test
// fails on fn's error.
func Fresh(t testing.TB, fn func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the namespace ends with the thread
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("unshare: %w", err)
			return
		}
		done <- fn()
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// DialTimeout bounds Dial.
const DialTimeout = 10 * time.Second

// Dial opens a connection from namespace ns (network "udp4", "tcp", ...);
// the socket lives in ns.
func Dial(ns, network, addr string) (net.Conn, error) {
	return DialFrom(ns, network, nil, addr, DialTimeout)
}

// DialFrom is Dial from local address src (nil: any), within timeout.
func DialFrom(ns, network string, src net.Addr, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := Enter(ns, func() error {
		var err error
		c, err = (&net.Dialer{Timeout: timeout, LocalAddr: src}).Dial(network, addr)
		return err
	})
	return c, err
}
