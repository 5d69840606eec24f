//go:build linux

package loader_test

import (
	"bytes"
	"errors"
	"github.com/xdpdns/xdpdns/internal/testsupport/netnstest"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/xdpdns/xdpdns/loader"
)

// linkUp brings an interface of the current thread's namespace up.
func linkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// TestAttachLoopback attaches the program in generic mode to lo in a fresh
// namespace and asks it a real query over a UDP socket: the reply comes
// from XDP (nothing listens on the port) and equals the engine's.
func TestAttachLoopback(t *testing.T) {
	requireRoot(t)
	e := swapZone(t, "192.0.2.1")
	img := compile(t, e)
	q := query(t, "wWw.swap.test.", dns.TypeA, dns.ClassINET, edns(1232, true, true))
	netnstest.Fresh(t, func() error {
		if err := linkUp("lo"); err != nil {
			return err
		}
		l, err := loader.Load(loader.Options{Ports: []uint16{5300}, AnyAddress: true, UDPSize: 1232, NSID: []byte("node-1"),
			Attach: []loader.Attach{{Iface: "lo", Mode: loader.ModeGeneric}}})
		if err != nil {
			return err
		}
		defer l.Close()
		if _, err := l.Swap(img); err != nil {
			return err
		}
		st := l.Status()
		if len(st.Attachments) != 1 || st.Attachments[0] != (loader.Attachment{Iface: "lo", Mode: loader.ModeGeneric, TCIngress: true}) {
			t.Errorf("attachments %+v", st.Attachments)
		}
		if err := l.Attach(loader.Attach{Iface: "lo", Mode: loader.ModeGeneric}); !errors.Is(err, loader.ErrAttached) {
			t.Errorf("second Attach(lo) = %v, want ErrAttached", err)
		}
		if err := l.Attach(loader.Attach{Iface: "nonexistent0", Mode: loader.ModeAuto}); !errors.Is(err, loader.ErrAttach) {
			t.Errorf("Attach(nonexistent0) = %v, want ErrAttach", err)
		}
		c, err := net.Dial("udp4", "127.0.0.1:5300")
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write(q); err != nil {
			return err
		}
		buf := make([]byte, 2048)
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		if want := e.Respond(nil, q, false); !bytes.Equal(buf[:n], want) {
			t.Errorf("reply over lo\n got  %x\n want %x", buf[:n], want)
		}
		cs, err := l.Counters()
		if err != nil {
			return err
		}
		if cs["answer.answer"] != 1 {
			t.Errorf("counters %v", cs)
		}
		if err := l.Detach("lo"); err != nil {
			return err
		}
		if len(l.Status().Attachments) != 0 {
			t.Errorf("still attached after Detach")
		}
		return nil
	})
}
