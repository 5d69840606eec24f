//go:build linux

package loader_test

import (
	"encoding/binary"
	"github.com/xdpdns/xdpdns/internal/testsupport/netnstest"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"

	"github.com/xdpdns/xdpdns/internal/frame"
	"github.com/xdpdns/xdpdns/loader"
)

// Addresses of the hostile-frame tests: a veth end stands for the
// NIC (frames are run as if received on it, not on loopback, so every
// check applies).
var (
	macNIC   = net.HardwareAddr{0x02, 0x58, 0x44, 0, 0, 0x01}
	macOther = net.HardwareAddr{0x02, 0x58, 0x44, 0, 0, 0x99}
	nic4     = netip.MustParseAddr("198.18.7.1")
	nic6     = netip.MustParseAddr("2001:2:7::1")
	client4  = netip.MustParseAddr("198.18.7.2")
	client6  = netip.MustParseAddr("2001:2:7::2")
)

// tc verdict for a dropped frame.
const tcShot = 2

// hostile is one frame and what both programs must do with it.
type hostile struct {
	desc    string
	frame   []byte
	verdict uint32 // XDP verdict; the tc program answers (redirect), passes (OK) or drops (shot) alike
	counter string // the counter XDP moves besides rx
}

// xdpCtx is struct xdp_md with the ingress interface set.
type xdpCtx struct {
	Data, DataEnd, DataMeta, IngressIfindex, RxQueueIndex, EgressIfindex uint32
}

// skbCtx is the start of struct __sk_buff, up to ifindex (offset 40).
type skbCtx struct {
	Fields  [10]uint32
	Ifindex uint32
}

// TestHostileFrames sends every class of frame the kernel would not
// deliver to our socket through both programs, as received on a NIC: the
// XDP program must pass (or drop) each and count the reason, and the tc
// companion must not answer either. A well-formed query is answered, so
// the checks are not simply refusing everything.
func TestHostileFrames(t *testing.T) {
	requireRoot(t)
	e := swapZone(t, "192.0.2.1")
	img := compile(t, e)
	www := query(t, "www.swap.test.", dns.TypeA, dns.ClassINET)
	netnstest.Fresh(t, func() error {
		_, nic, err := makeNIC()
		if err != nil {
			return err
		}
		l, err := loader.Load(loader.Options{
			Ports: []uint16{53}, UDPSize: 1232, NSID: []byte("node-1"),
			Prefixes:        []netip.Prefix{netip.PrefixFrom(nic4, 32), netip.PrefixFrom(nic6, 128)},
			DropSourcePorts: []uint16{0, 7, 19},
			VLANs:           []uint16{100},
		})
		if err != nil {
			return err
		}
		defer l.Close()
		if _, err := l.Swap(img); err != nil {
			return err
		}
		if err := l.SetInterfaceMAC(nic.Index, nic.HardwareAddr); err != nil {
			return err
		}
		spec4 := frame.Spec{DstMAC: macNIC, SrcMAC: macClient, Src: client4, Dst: nic4, SrcPort: 40000, DstPort: 53, TTL: 64}
		spec6 := spec4
		spec6.Src, spec6.Dst = client6, nic6
		with := func(s frame.Spec, edit func(*frame.Spec)) []byte {
			edit(&s)
			return s.Build(www)
		}
		// mangle builds a frame and changes its bytes after the checksums
		// are set; off is from the start of the IP header (no VLANs).
		mangle := func(s frame.Spec, edit func(ip []byte)) []byte {
			b := s.Build(www)
			edit(b[frame.EthHeaderLen:])
			return b
		}
		ipv4Sum := func(ip []byte) { // recompute the IPv4 header checksum after an edit
			ip[10], ip[11] = 0, 0
			frame.SetIPv4Checksum(ip[:20])
		}
		fixtures := []hostile{
			{"good IPv4 query", spec4.Build(www), xdpTX, "answer.answer"},
			{"good IPv6 query", spec6.Build(www), xdpTX, "answer.answer"},
			{"IPv4 without UDP checksum", with(spec4, func(s *frame.Spec) { s.NoUDPChecksum = true }), xdpTX, "answer.answer"},
			{"VLAN 100 (configured)", with(spec4, func(s *frame.Spec) { s.VLANs = []frame.VLAN{{TPID: frame.Ether8021Q, TCI: 100}} }), xdpTX, "answer.answer"},

			{"bad IPv4 header checksum", mangle(spec4, func(ip []byte) { ip[10] ^= 0xff }), xdpPass, "pass.bad_csum"},
			{"bad UDP checksum over IPv4", mangle(spec4, func(ip []byte) { ip[26] ^= 0xff }), xdpPass, "pass.bad_csum"},
			{"bad UDP checksum over IPv6", mangle(spec6, func(ip []byte) { ip[46] ^= 0xff }), xdpPass, "pass.bad_csum"},
			{"UDP checksum 0 over IPv6", mangle(spec6, func(ip []byte) { ip[46], ip[47] = 0, 0 }), xdpPass, "pass.bad_csum"},
			{"payload changed under a good checksum", mangle(spec4, func(ip []byte) { ip[28] ^= 1 }), xdpPass, "pass.bad_csum"},

			{"version 6 under EtherType IPv4", mangle(spec4, func(ip []byte) { ip[0] = 0x65; ipv4Sum(ip) }), xdpPass, "pass.bad_header"},
			{"version 0 under EtherType IPv4", mangle(spec4, func(ip []byte) { ip[0] = 0x05; ipv4Sum(ip) }), xdpPass, "pass.bad_header"},
			{"version 4 under EtherType IPv6", mangle(spec6, func(ip []byte) { ip[0] = 0x40 }), xdpPass, "pass.bad_header"},
			{"IPv4 total length 0", mangle(spec4, func(ip []byte) { binary.BigEndian.PutUint16(ip[2:], 0); ipv4Sum(ip) }), xdpPass, "pass.bad_header"},
			{"IPv4 total length 19", mangle(spec4, func(ip []byte) { binary.BigEndian.PutUint16(ip[2:], 19); ipv4Sum(ip) }), xdpPass, "pass.bad_header"},
			{"IPv4 total length beyond the frame", mangle(spec4, func(ip []byte) { binary.BigEndian.PutUint16(ip[2:], 1400); ipv4Sum(ip) }), xdpPass, "pass.bad_header"},
			{"UDP length beyond the IPv4 payload", mangle(spec4, func(ip []byte) {
				binary.BigEndian.PutUint16(ip[2:], binary.BigEndian.Uint16(ip[2:])-2)
				ipv4Sum(ip)
			}), xdpPass, "pass.bad_header"},
			{"IPv6 payload length 0", mangle(spec6, func(ip []byte) { binary.BigEndian.PutUint16(ip[4:], 0) }), xdpPass, "pass.bad_header"},
			{"IPv6 payload length beyond the frame", mangle(spec6, func(ip []byte) { binary.BigEndian.PutUint16(ip[4:], 1400) }), xdpPass, "pass.bad_header"},
			{"IPv6 payload shorter than the UDP length", mangle(spec6, func(ip []byte) {
				binary.BigEndian.PutUint16(ip[4:], binary.BigEndian.Uint16(ip[4:])-2)
			}), xdpPass, "pass.bad_header"},

			{"source port 0", with(spec4, func(s *frame.Spec) { s.SrcPort = 0 }), xdpDrop, "drop.source_port"},
			{"source port 19 (chargen)", with(spec6, func(s *frame.Spec) { s.SrcPort = 19 }), xdpDrop, "drop.source_port"},

			{"source 255.255.255.255", with(spec4, func(s *frame.Spec) { s.Src = netip.MustParseAddr("255.255.255.255") }), xdpPass, "pass.bad_source"},
			{"source multicast", with(spec4, func(s *frame.Spec) { s.Src = netip.MustParseAddr("224.0.0.1") }), xdpPass, "pass.bad_source"},
			{"source 127.0.0.1 off loopback", with(spec4, func(s *frame.Spec) { s.Src = netip.MustParseAddr("127.0.0.1") }), xdpPass, "pass.bad_source"},
			{"source 0.0.0.0", with(spec4, func(s *frame.Spec) { s.Src = netip.MustParseAddr("0.0.0.0") }), xdpPass, "pass.bad_source"},
			{"source our own address", with(spec4, func(s *frame.Spec) { s.Src = nic4 }), xdpPass, "pass.bad_source"},
			{"source ff02::1", with(spec6, func(s *frame.Spec) { s.Src = netip.MustParseAddr("ff02::1") }), xdpPass, "pass.bad_source"},
			{"source ::1 off loopback", with(spec6, func(s *frame.Spec) { s.Src = netip.MustParseAddr("::1") }), xdpPass, "pass.bad_source"},
			{"source ::", with(spec6, func(s *frame.Spec) { s.Src = netip.MustParseAddr("::") }), xdpPass, "pass.bad_source"},
			{"source IPv4-mapped", with(spec6, func(s *frame.Spec) { s.Src = netip.MustParseAddr("::ffff:198.18.7.2") }), xdpPass, "pass.bad_source"},
			{"source our own IPv6 address", with(spec6, func(s *frame.Spec) { s.Src = nic6 }), xdpPass, "pass.bad_source"},

			{"another host's MAC", with(spec4, func(s *frame.Spec) { s.DstMAC = macOther }), xdpPass, "pass.not_our_mac"},
			{"broadcast MAC", with(spec4, func(s *frame.Spec) { s.DstMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} }), xdpPass, "pass.not_our_mac"},
			{"multicast MAC", with(spec6, func(s *frame.Spec) { s.DstMAC = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1} }), xdpPass, "pass.not_our_mac"},
			{"VLAN 200 (not configured)", with(spec4, func(s *frame.Spec) { s.VLANs = []frame.VLAN{{TPID: frame.Ether8021Q, TCI: 200}} }), xdpPass, "pass.vlan"},
			{"three VLAN tags", with(spec4, func(s *frame.Spec) {
				s.VLANs = []frame.VLAN{{TPID: frame.Ether8021AD, TCI: 100}, {TPID: frame.Ether8021Q, TCI: 100}, {TPID: frame.Ether8021Q, TCI: 100}}
			}), xdpPass, "pass.vlan"},
			{"destination not ours", with(spec4, func(s *frame.Spec) { s.Dst = netip.MustParseAddr("203.0.113.5") }), xdpPass, "pass.not_our_address"},
			{"destination fd00::99", with(spec6, func(s *frame.Spec) { s.Dst = netip.MustParseAddr("fd00::99") }), xdpPass, "pass.not_our_address"},
			{"destination 255.255.255.255", with(spec4, func(s *frame.Spec) { s.Dst = netip.MustParseAddr("255.255.255.255") }), xdpPass, "pass.not_our_address"},
			{"destination 224.0.0.251", with(spec4, func(s *frame.Spec) { s.Dst = netip.MustParseAddr("224.0.0.251") }), xdpPass, "pass.not_our_address"},
			{"destination ff02::1", with(spec6, func(s *frame.Spec) { s.Dst = netip.MustParseAddr("ff02::1") }), xdpPass, "pass.not_our_address"},
		}
		for _, fx := range fixtures {
			before, err := l.Counters()
			if err != nil {
				return err
			}
			xctx := &xdpCtx{DataEnd: uint32(len(fx.frame)), IngressIfindex: uint32(nic.Index)}
			xo := &ebpf.RunOptions{Data: fx.frame, DataOut: make([]byte, 4096), Context: xctx}
			verdict, err := l.Program().Run(xo)
			if err != nil {
				t.Errorf("%s: XDP run: %v", fx.desc, err)
				continue
			}
			after, err := l.Counters()
			if err != nil {
				return err
			}
			if verdict != fx.verdict || after[fx.counter]-before[fx.counter] != 1 {
				moved := map[string]uint64{}
				for k, v := range after {
					if v != before[k] {
						moved[k] = v - before[k]
					}
				}
				t.Errorf("%s: XDP verdict %d, counters moved %v; want verdict %d and %s +1", fx.desc, verdict, moved, fx.verdict, fx.counter)
			}
			sctx := &skbCtx{Ifindex: uint32(nic.Index)}
			to := &ebpf.RunOptions{Data: append([]byte(nil), fx.frame...), DataOut: make([]byte, 4096), Context: sctx}
			tcVerdict, err := l.TCProgram().Run(to)
			if err != nil {
				t.Errorf("%s: tc run: %v", fx.desc, err)
				continue
			}
			want := map[uint32]uint32{xdpTX: tcRedirect, xdpPass: tcOK, xdpDrop: tcShot}[fx.verdict]
			if tcVerdict != want {
				t.Errorf("%s: tc verdict %d, want %d", fx.desc, tcVerdict, want)
			}
		}
		return nil
	})
}

// makeNIC makes the veth end that stands for a NIC (the kernel may lack
// the dummy driver), with address macNIC, in the calling thread's
// namespace (the test's own: gone with it).
func makeNIC() (netlink.Link, *net.Interface, error) {
	link := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "xdpnic0", HardwareAddr: macNIC}, PeerName: "xdpnic1"}
	if err := netlink.LinkAdd(link); err != nil {
		return nil, nil, err
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return nil, nil, err
	}
	nic, err := net.InterfaceByName("xdpnic0")
	return link, nic, err
}

// TestHostAddressesFollowNetlink: with HostAddresses (a wildcard listen)
// the program serves the host's addresses as they come and go, and no
// other.
func TestHostAddressesFollowNetlink(t *testing.T) {
	requireRoot(t)
	e := swapZone(t, "192.0.2.1")
	img := compile(t, e)
	www := query(t, "www.swap.test.", dns.TypeA, dns.ClassINET)
	netnstest.Fresh(t, func() error {
		nicLink, nic, err := makeNIC()
		if err != nil {
			return err
		}
		l, err := loader.Load(loader.Options{Ports: []uint16{53}, UDPSize: 1232, HostAddresses: true})
		if err != nil {
			return err
		}
		defer l.Close()
		if _, err := l.Swap(img); err != nil {
			return err
		}
		send := func() uint32 {
			f := frame.Spec{DstMAC: macNIC, SrcMAC: macClient, Src: client4, Dst: nic4, SrcPort: 40000, DstPort: 53, TTL: 64}.Build(www)
			opts := &ebpf.RunOptions{Data: f, DataOut: make([]byte, 4096), Context: &xdpCtx{DataEnd: uint32(len(f)), IngressIfindex: uint32(nic.Index)}}
			v, err := l.Program().Run(opts)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		waitFor := func(what string, want uint32) {
			t.Helper()
			deadline := time.Now().Add(5 * time.Second)
			for send() != want {
				if time.Now().After(deadline) {
					t.Errorf("%s: verdict still not %d; host addresses %v", what, want, l.HostAddresses())
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		if v := send(); v != xdpPass {
			t.Errorf("before the address exists: verdict %d, want pass", v)
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: nic4.AsSlice(), Mask: net.CIDRMask(24, 32)}}
		if err := netlink.AddrAdd(nicLink, addr); err != nil {
			return err
		}
		waitFor("once the address is added", xdpTX)
		if err := netlink.AddrDel(nicLink, addr); err != nil {
			return err
		}
		waitFor("once the address is removed", xdpPass)
		return nil
	})
}
