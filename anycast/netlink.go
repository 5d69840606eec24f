//go:build linux

package anycast

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ensureInterface returns the service interface, creating it (type dummy)
// if it does not exist, and sets it up. On a kernel built without dummy
// interfaces (CONFIG_DUMMY unset) it creates an ifb interface instead,
// which also just holds local addresses and transmits nothing.
func (s *Speaker) ensureInterface() (netlink.Link, error) {
	name := s.cfg.Interface
	link, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return nil, fmt.Errorf("look up interface %s: %w", name, err)
		}
		kind := "dummy"
		err := netlink.LinkAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: name}})
		if errors.Is(err, unix.EOPNOTSUPP) {
			s.log.Warn("kernel has no dummy interfaces (CONFIG_DUMMY); using an ifb interface", "interface", name)
			kind = "ifb"
			err = netlink.LinkAdd(&netlink.Ifb{LinkAttrs: netlink.LinkAttrs{Name: name}})
		}
		if err != nil {
			return nil, fmt.Errorf("create %s interface %s: %w", kind, name, err)
		}
		s.createdIf = true
		if err := s.saveState(); err != nil {
			return nil, err
		}
		s.log.Info("created service interface", "interface", name, "type", kind)
		if link, err = netlink.LinkByName(name); err != nil {
			return nil, fmt.Errorf("look up interface %s: %w", name, err)
		}
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(link); err != nil {
			return nil, fmt.Errorf("set interface %s up: %w", name, err)
		}
	}
	return link, nil
}

// addAddresses puts every service address on the interface. Addresses that
// were already there (put by someone else) are left alone and are not
// removed later.
func (s *Speaker) addAddresses() error {
	if len(s.cfg.Addresses) == 0 {
		return nil
	}
	link, err := s.ensureInterface()
	if err != nil {
		return err
	}
	for _, a := range s.cfg.Addresses {
		if s.hasAdded(a) {
			// Ours already; replace it in case it was removed behind our back.
			if err := netlink.AddrReplace(link, nlAddr(a)); err != nil {
				return fmt.Errorf("add %s to %s: %w", a, s.cfg.Interface, err)
			}
			continue
		}
		present, err := hasAddr(link, a)
		if err != nil {
			return err
		}
		if present {
			s.log.Warn("service address already present, leaving it to its owner", "address", a, "interface", s.cfg.Interface)
			continue
		}
		// Recorded before it is added: a crash in between leaves a record
		// of an address that is not there, which the next run skips.
		s.added = append(s.added, a)
		if err := s.saveState(); err != nil {
			s.added = s.added[:len(s.added)-1]
			return err
		}
		if err := netlink.AddrReplace(link, nlAddr(a)); err != nil {
			return fmt.Errorf("add %s to %s: %w", a, s.cfg.Interface, err)
		}
	}
	return nil
}

// removeAddresses deletes the service addresses this speaker added.
func (s *Speaker) removeAddresses() error {
	if len(s.added) == 0 {
		return nil
	}
	link, err := netlink.LinkByName(s.cfg.Interface)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			s.added = nil // the interface and its addresses are gone
			return s.saveState()
		}
		return fmt.Errorf("look up interface %s: %w", s.cfg.Interface, err)
	}
	var errs []error
	kept := s.added[:0]
	for _, a := range s.added {
		err := netlink.AddrDel(link, nlAddr(a))
		if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			errs = append(errs, fmt.Errorf("remove %s from %s: %w", a, s.cfg.Interface, err))
			kept = append(kept, a)
		}
	}
	s.added = kept
	if err := s.saveState(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// deleteInterface deletes the interface if this speaker created it.
func (s *Speaker) deleteInterface() error {
	if !s.createdIf {
		return nil
	}
	link, err := netlink.LinkByName(s.cfg.Interface)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			s.createdIf = false
			return s.saveState()
		}
		return fmt.Errorf("look up interface %s: %w", s.cfg.Interface, err)
	}
	if t := link.Type(); t != "dummy" && t != "ifb" {
		return fmt.Errorf("interface %s is now of type %s, not the one the speaker created; not deleting it", s.cfg.Interface, t)
	}
	// Someone else's address on it keeps it: deleting the interface would
	// take their address with it.
	if foreign, err := foreignAddrs(link, s.added); err != nil {
		return err
	} else if len(foreign) > 0 {
		s.log.Warn("service interface holds addresses this speaker did not add; not deleting it", "interface", s.cfg.Interface, "addresses", fmt.Sprint(foreign))
		s.createdIf = false
		return s.saveState()
	}
	if err := netlink.LinkDel(link); err != nil {
		return fmt.Errorf("delete interface %s: %w", s.cfg.Interface, err)
	}
	s.createdIf = false
	return s.saveState()
}

func (s *Speaker) hasAdded(a netip.Prefix) bool {
	for _, x := range s.added {
		if x == a {
			return true
		}
	}
	return false
}

// hasAddr reports whether link carries a (same address, same length).
func hasAddr(link netlink.Link, a netip.Prefix) (bool, error) {
	fam := netlink.FAMILY_V6
	if a.Addr().Is4() {
		fam = netlink.FAMILY_V4
	}
	addrs, err := netlink.AddrList(link, fam)
	if err != nil {
		return false, fmt.Errorf("list addresses of %s: %w", link.Attrs().Name, err)
	}
	for _, x := range addrs {
		ip, ok := netip.AddrFromSlice(x.IP)
		if !ok {
			continue
		}
		ones, _ := x.Mask.Size()
		if ip.Unmap() == a.Addr() && ones == a.Bits() {
			return true, nil
		}
	}
	return false, nil
}

// nlAddr converts a service address for netlink; IPv6 addresses skip
// duplicate address detection so they are usable at once.
func nlAddr(a netip.Prefix) *netlink.Addr {
	ip := net.IP(a.Addr().AsSlice())
	bits := 128
	if a.Addr().Is4() {
		bits = 32
	}
	na := &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: net.CIDRMask(a.Bits(), bits)}}
	if !a.Addr().Is4() {
		na.Flags = unix.IFA_F_NODAD
	}
	return na
}

// foreignAddrs lists the addresses on link that are not in ours, IPv6
// link-local ones (the kernel's) aside.
func foreignAddrs(link netlink.Link, ours []netip.Prefix) ([]netip.Prefix, error) {
	addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s: %w", link.Attrs().Name, err)
	}
	var out []netip.Prefix
	for _, x := range addrs {
		ip, ok := netip.AddrFromSlice(x.IP)
		if !ok || ip.IsLinkLocalUnicast() {
			continue
		}
		ones, _ := x.Mask.Size()
		p := netip.PrefixFrom(ip.Unmap(), ones)
		mine := false
		for _, o := range ours {
			mine = mine || o == p
		}
		if !mine {
			out = append(out, p)
		}
	}
	return out, nil
}
