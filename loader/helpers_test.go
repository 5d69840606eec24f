//go:build linux

package loader_test

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/daemon/hotpath"
	"github.com/xdpdns/xdpdns/internal/frame"
	"github.com/xdpdns/xdpdns/interop/interoptest"
	"github.com/xdpdns/xdpdns/loader"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_BPF) to load the XDP program")
	}
}

// swapZone is a small inline zone: a host, a delegation with glue, a TXT
// RRset too big for 512 bytes. www's address is a parameter so that two
// generations differ.
func swapZone(t testing.TB, wwwAddr string) *engine.Engine {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN swap.test.\n$TTL 300\n")
	fmt.Fprintf(&b, "@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 198.18.0.53\n")
	fmt.Fprintf(&b, "www A %s\nsub NS ns.sub\nns.sub A 198.18.0.54\n", wwwAddr)
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&b, "big TXT \"%d%s\"\n", i, strings.Repeat("x", 99))
	}
	return testEngine(t, "swap.test.", b.String(), engine.Config{Identity: "xdp-test", NSID: []byte("node-1"), UDPSize: 1232})
}

// testEngine is an engine with cfg serving the zone origin of text.
func testEngine(t testing.TB, origin, text string, cfg engine.Config) *engine.Engine {
	t.Helper()
	z, err := zone.Load(strings.NewReader(text), origin, origin+"zone", zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return interoptest.ZonesEngine(t, cfg, z)
}

func compile(t testing.TB, e *engine.Engine) *loader.Image {
	t.Helper()
	img, err := render.Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	return hotpath.FromRender(img)
}

// Frame construction: the client and server of every test frame.

var (
	macClient = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
	// macServer is the loopback interface's (all zeros): BPF_PROG_TEST_RUN
	// delivers frames on lo, where the kernel classifies a frame to any
	// other MAC as PACKET_OTHERHOST, which the tc program leaves alone.
	macServer = net.HardwareAddr{0, 0, 0, 0, 0, 0}
	ip4Client = netip.MustParseAddr("198.18.0.2")
	ip4Server = netip.MustParseAddr("198.18.0.1")
	ip6Client = netip.MustParseAddr("2001:2::2")
	ip6Server = netip.MustParseAddr("2001:2::1")
)

// layout describes a test packet from client port 40000 to the server
// around a DNS payload.
type layout struct {
	v6        bool
	vlans     []uint16 // TPIDs, outermost first (0x88a8, 0x8100); VLAN ids 100, 101, …
	proto     uint8    // 0: UDP
	dport     uint16   // 0: 53
	ipOptions bool     // IPv4 header with 4 bytes of options
	fragment  bool     // IPv4 MF set
	hopByHop  bool     // IPv6 hop-by-hop extension header before UDP
	pad       int      // Ethernet padding after the IP packet
}

// spec is the frame the layout describes: TTL or hop limit 63, IPv4 ID
// 0x1234, checksums filled in.
func (f layout) spec() frame.Spec {
	s := frame.Spec{
		DstMAC: macServer, SrcMAC: macClient,
		Src: ip4Client, Dst: ip4Server, SrcPort: 40000, DstPort: f.dport,
		TTL: 63, IPID: 0x1234, Proto: f.proto,
		MoreFragments: f.fragment, IPOptions: f.ipOptions, HopByHop: f.hopByHop, Pad: f.pad,
	}
	if f.v6 {
		s.Src, s.Dst = ip6Client, ip6Server
	}
	if s.DstPort == 0 {
		s.DstPort = 53
	}
	for i, tpid := range f.vlans {
		s.VLANs = append(s.VLANs, frame.VLAN{TPID: tpid, TCI: uint16(100 + i)})
	}
	return s
}

func (f layout) build(payload []byte) []byte { return f.spec().Build(payload) }

// checkReply verifies the frame around an XDP_TX reply to a query built
// from f and returns its DNS payload.
// xdpReply sends pkt through prog in frame layout f: the DNS reply when
// the program answers (XDP_TX; checkReply checks the frame), else nil.
func xdpReply(t *testing.T, prog *ebpf.Program, f layout, pkt []byte) []byte {
	t.Helper()
	verdict, out := run(t, prog, f.build(pkt))
	if verdict != xdpTX {
		return nil
	}
	return checkReply(t, f, out)
}

func checkReply(t *testing.T, f layout, out []byte) []byte {
	t.Helper()
	q := f.spec()
	r, err := frame.Parse(out)
	if err != nil {
		t.Fatalf("reply frame: %v", err)
	}
	if !bytes.Equal(r.DstMAC, q.SrcMAC) || !bytes.Equal(r.SrcMAC, q.DstMAC) {
		t.Fatalf("MAC addresses not swapped: % x", out[:min(len(out), 12)])
	}
	if !slices.Equal(r.VLANs, q.VLANs) {
		t.Fatalf("VLAN tags changed: %v, sent %v", r.VLANs, q.VLANs)
	}
	if r.Trailer != 0 {
		t.Fatalf("%d bytes after the IP packet", r.Trailer)
	}
	if r.TTL != 64 {
		t.Errorf("TTL or hop limit %d", r.TTL)
	}
	if !f.v6 {
		if r.IPHeaderLen != frame.IPv4HeaderLen || r.IPID != q.IPID {
			t.Errorf("IPv4 header length %d id %#x", r.IPHeaderLen, r.IPID)
		}
		if !r.IPChecksumOK {
			t.Errorf("IPv4 header checksum wrong")
		}
	}
	if r.Src != q.Dst || r.Dst != q.Src {
		t.Errorf("addresses not swapped: %v -> %v", r.Src, r.Dst)
	}
	if r.SrcPort != q.DstPort || r.DstPort != q.SrcPort {
		t.Errorf("ports not swapped: %d -> %d", r.SrcPort, r.DstPort)
	}
	if r.UDPChecksum == 0 {
		t.Errorf("UDP checksum 0")
	} else if !r.UDPChecksumOK {
		t.Errorf("UDP checksum wrong")
	}
	return r.Payload
}

// query packs a DNS query for name, type and class (ID 0xbeef, RD).
func query(t testing.TB, name string, qtype, class uint16, opts ...func(*dns.Msg)) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.Id = 0xbeef
	m.RecursionDesired = true
	m.Question = []dns.Question{{Name: name, Qtype: qtype, Qclass: class}}
	for _, o := range opts {
		o(m)
	}
	p, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func edns(size uint16, do, nsid bool) func(*dns.Msg) {
	return func(m *dns.Msg) {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		o.SetUDPSize(size)
		o.SetDo(do)
		if nsid {
			o.Option = append(o.Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
		}
		m.Extra = append(m.Extra, o)
	}
}

// run sends one frame through the program (repeat 1: it rewrites its
// packet) and returns the verdict and output frame.
func run(t testing.TB, prog *ebpf.Program, in []byte) (uint32, []byte) {
	t.Helper()
	opts := &ebpf.RunOptions{Data: in, DataOut: make([]byte, 4096)}
	ret, err := prog.Run(opts)
	if err != nil {
		t.Fatalf("prog.Run: %v", err)
	}
	return ret, opts.DataOut
}

// runTC sends one frame through the tc program and returns the verdict
// and the output frame, cut to its length.
func runTC(t testing.TB, prog *ebpf.Program, in []byte) (uint32, []byte) {
	t.Helper()
	opts := &ebpf.RunOptions{Data: append([]byte(nil), in...), DataOut: make([]byte, 4096)}
	ret, err := prog.Run(opts)
	if err != nil {
		t.Fatalf("tc prog.Run: %v", err)
	}
	return ret, opts.DataOut
}

// tc verdicts (linux/pkt_cls.h).
const (
	tcOK       = 0
	tcRedirect = 7
)

// XDP verdicts.
const (
	xdpPass = 2
	xdpTX   = 3
	xdpDrop = 1
)

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}
