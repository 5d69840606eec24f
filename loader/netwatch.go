//go:build linux

package loader

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/xdpdns/xdpdns/bpf"
)

// watcher keeps the maps that describe the host in step with it: the
// host's addresses in served_addrs (Options.HostAddresses), and the MAC and
// VLANs of every attached interface in iface_macs and vlan_ids. Its
// goroutines take only mu, never the Loader's lock, so Close can stop them
// while holding it.
type watcher struct {
	mu        sync.Mutex
	done      chan struct{}
	wg        sync.WaitGroup
	hostAddrs map[netip.Addr]bool // the host's addresses now served
	ifaces    map[int]string      // attached interfaces by index
	linksOn   bool                // the link subscription runs
}

// start makes done on first use.
func (w *watcher) start() chan struct{} {
	if w.done == nil {
		w.done = make(chan struct{})
	}
	return w.done
}

// stopWatching ends the subscriptions and waits for their goroutines (and
// ReadTaps's, whose reader the caller has closed).
func (l *Loader) stopWatching() {
	if l.watch.done != nil {
		close(l.watch.done)
	}
	l.watch.wg.Wait()
}

// allowVLAN marks VLAN id v as served.
func (l *Loader) allowVLAN(v uint16) error {
	if err := l.objs.VlanIds.Put(uint32(v&0x0fff), uint8(1)); err != nil {
		return fmt.Errorf("loader: allowing VLAN %d: %w", v, err)
	}
	return nil
}

// SetInterfaceMAC records mac as the address frames arriving on ifindex
// must be sent to (Attach does it for each interface; tests call it to
// judge frames run with BPF_PROG_TEST_RUN, which arrive on lo). An empty
// mac (loopback) is stored as 00:00:00:00:00:00.
func (l *Loader) SetInterfaceMAC(ifindex int, mac net.HardwareAddr) error {
	var v bpf.XdpMacVal
	if len(mac) != 0 && len(mac) != len(v.Mac) {
		return fmt.Errorf("%w: MAC %s is not 6 bytes", ErrOptions, mac)
	}
	copy(v.Mac[:], mac)
	if err := l.objs.IfaceMacs.Put(uint32(ifindex), &v); err != nil {
		return fmt.Errorf("loader: recording the MAC of interface %d: %w", ifindex, err)
	}
	return nil
}

// learnInterface records an attached interface: its MAC, and the VLANs
// configured on it (VLAN links whose parent it is), and starts following
// link changes. l.mu is held.
func (l *Loader) learnInterface(ifc *net.Interface) error {
	if err := l.SetInterfaceMAC(ifc.Index, ifc.HardwareAddr); err != nil {
		return err
	}
	l.watch.mu.Lock()
	if l.watch.ifaces == nil {
		l.watch.ifaces = map[int]string{}
	}
	l.watch.ifaces[ifc.Index] = ifc.Name
	startLinks := !l.watch.linksOn
	l.watch.linksOn = true
	l.watch.mu.Unlock()
	if startLinks {
		if err := l.watchLinks(); err != nil {
			return err
		}
	}
	links, err := netlink.LinkList()
	if err != nil {
		return fmt.Errorf("loader: listing links for the VLANs of %s: %w", ifc.Name, err)
	}
	for _, lk := range links {
		if err := l.linkChanged(lk); err != nil {
			return err
		}
	}
	return nil
}

// forgetInterface drops what learnInterface recorded for iface (its
// VLANs stay allowed: a frame tagged with them arrives on no attached
// interface any more).
func (l *Loader) forgetInterface(iface string) {
	l.watch.mu.Lock()
	defer l.watch.mu.Unlock()
	for idx, name := range l.watch.ifaces {
		if name == iface {
			delete(l.watch.ifaces, idx)
			l.objs.IfaceMacs.Delete(uint32(idx))
		}
	}
}

// linkChanged takes note of a link: a VLAN on an attached interface is
// served; an attached interface's new MAC is recorded.
func (l *Loader) linkChanged(lk netlink.Link) error {
	attrs := lk.Attrs()
	l.watch.mu.Lock()
	_, parentAttached := l.watch.ifaces[attrs.ParentIndex]
	_, attached := l.watch.ifaces[attrs.Index]
	l.watch.mu.Unlock()
	if v, ok := lk.(*netlink.Vlan); ok && parentAttached {
		if err := l.allowVLAN(uint16(v.VlanId)); err != nil {
			return err
		}
	}
	if attached {
		return l.SetInterfaceMAC(attrs.Index, attrs.HardwareAddr)
	}
	return nil
}

// watchLinks follows link changes (VLANs added on attached interfaces,
// MAC changes) until Close.
func (l *Loader) watchLinks() error {
	done := l.watch.start()
	ch := make(chan netlink.LinkUpdate, 64)
	if err := netlink.LinkSubscribeWithOptions(ch, done, netlink.LinkSubscribeOptions{}); err != nil {
		return fmt.Errorf("loader: following links: %w", err)
	}
	follow(l, done, ch, func(u netlink.LinkUpdate) {
		if u.Header.Type == unix.RTM_NEWLINK {
			l.linkChanged(u.Link) // a failed map write leaves the frames to the kernel
		}
	})
	return nil
}

// follow hands each update from ch to fn in a goroutine of l's watch
// until done is closed or ch is.
func follow[T any](l *Loader, done <-chan struct{}, ch <-chan T, fn func(T)) {
	l.watch.wg.Add(1)
	go func() {
		defer l.watch.wg.Done()
		for {
			select {
			case <-done:
				return
			case u, ok := <-ch:
				if !ok {
					return
				}
				fn(u)
			}
		}
	}()
}

// watchHostAddresses serves every address of the host, as a wildcard
// listen does: the current ones now, then each one added or removed.
func (l *Loader) watchHostAddresses() error {
	done := l.watch.start()
	ch := make(chan netlink.AddrUpdate, 64)
	if err := netlink.AddrSubscribeWithOptions(ch, done, netlink.AddrSubscribeOptions{}); err != nil {
		return fmt.Errorf("loader: following host addresses: %w", err)
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("loader: listing host addresses: %w", err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			if err := l.hostAddress(ip.Unmap(), true); err != nil {
				return err
			}
		}
	}
	follow(l, done, ch, func(u netlink.AddrUpdate) {
		if ip, ok := netip.AddrFromSlice(u.LinkAddress.IP); ok {
			l.hostAddress(ip.Unmap(), u.NewAddr) // a failed map write leaves the query to userspace
		}
	})
	return nil
}

// hostAddress serves (add) or stops serving a host address, unless a
// configured prefix is the same entry.
func (l *Loader) hostAddress(a netip.Addr, add bool) error {
	p := netip.PrefixFrom(a, a.BitLen())
	l.watch.mu.Lock()
	defer l.watch.mu.Unlock()
	if l.watch.hostAddrs == nil {
		l.watch.hostAddrs = map[netip.Addr]bool{}
	}
	if add {
		l.watch.hostAddrs[a] = true
		if err := l.objs.ServedAddrs.Put(addrKey(p), uint8(1)); err != nil {
			return fmt.Errorf("loader: serving host address %s: %w", a, err)
		}
		return nil
	}
	delete(l.watch.hostAddrs, a)
	if slices.Contains(l.opts.Prefixes, p) {
		return nil
	}
	if err := l.objs.ServedAddrs.Delete(addrKey(p)); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("loader: no longer serving %s: %w", a, err)
	}
	return nil
}

// HostAddresses returns the host addresses served now (HostAddresses).
func (l *Loader) HostAddresses() []netip.Addr {
	l.watch.mu.Lock()
	defer l.watch.mu.Unlock()
	out := make([]netip.Addr, 0, len(l.watch.hostAddrs))
	for a := range l.watch.hostAddrs {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out
}
