//go:build linux

package loader_test

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/daemon/hotpath"
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
	z, err := zone.Load(strings.NewReader(b.String()), "swap.test.", "swap.test.zone", zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	set, err := zone.NewSet(z)
	if err != nil {
		t.Fatal(err)
	}
	return engine.New(engine.Config{Identity: "xdp-test", NSID: []byte("node-1"), UDPSize: 1232}, set)
}

func compile(t testing.TB, e *engine.Engine) *loader.Image {
	t.Helper()
	img, err := render.Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	return hotpath.FromRender(img)
}

// Frame construction.

var (
	macClient = []byte{0x02, 0, 0, 0, 0, 0x02}
	macServer = []byte{0x02, 0, 0, 0, 0, 0x01}
	ip4Client = []byte{198, 18, 0, 2}
	ip4Server = []byte{198, 18, 0, 1}
	ip6Client = []byte{0x20, 0x01, 0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}
	ip6Server = []byte{0x20, 0x01, 0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
)

// frame describes a test packet around a DNS payload.
type frame struct {
	v6        bool
	vlans     []uint16 // TPIDs, outermost first (0x88a8, 0x8100)
	proto     uint8    // 0: UDP
	dport     uint16   // 0: 53
	ipOptions bool     // IPv4 header with 4 bytes of options
	fragment  bool     // IPv4 MF set
	hopByHop  bool     // IPv6 hop-by-hop extension header before UDP
	pad       int      // Ethernet padding after the IP packet
}

func (f frame) build(payload []byte) []byte {
	proto := f.proto
	if proto == 0 {
		proto = 17
	}
	dport := f.dport
	if dport == 0 {
		dport = 53
	}
	var l4 []byte
	if proto == 17 {
		l4 = make([]byte, 8, 8+len(payload))
		binary.BigEndian.PutUint16(l4[0:], 40000)
		binary.BigEndian.PutUint16(l4[2:], dport)
		binary.BigEndian.PutUint16(l4[4:], uint16(8+len(payload)))
		l4 = append(l4, payload...)
	} else { // TCP-ish: a 20-byte header then the payload
		l4 = make([]byte, 20, 20+len(payload))
		binary.BigEndian.PutUint16(l4[0:], 40000)
		binary.BigEndian.PutUint16(l4[2:], dport)
		l4[12] = 5 << 4
		l4 = append(l4, payload...)
	}
	var b []byte
	b = append(b, macServer...)
	b = append(b, macClient...)
	for i, tpid := range f.vlans {
		b = binary.BigEndian.AppendUint16(b, tpid)
		_ = i
		b = binary.BigEndian.AppendUint16(b, uint16(100+i)) // TCI
	}
	if f.v6 {
		b = binary.BigEndian.AppendUint16(b, 0x86dd)
		next := proto
		ext := []byte(nil)
		if f.hopByHop {
			next = 0
			ext = []byte{proto, 0, 1, 4, 0, 0, 0, 0} // PadN
		}
		h := make([]byte, 40)
		h[0] = 0x60
		binary.BigEndian.PutUint16(h[4:], uint16(len(ext)+len(l4)))
		h[6] = next
		h[7] = 63
		copy(h[8:], ip6Client)
		copy(h[24:], ip6Server)
		if proto == 17 {
			setUDPChecksum(l4, ip6Client, ip6Server)
		}
		b = append(b, h...)
		b = append(b, ext...)
	} else {
		b = binary.BigEndian.AppendUint16(b, 0x0800)
		hl := 20
		if f.ipOptions {
			hl = 24
		}
		h := make([]byte, hl)
		h[0] = 0x40 | byte(hl/4)
		binary.BigEndian.PutUint16(h[2:], uint16(hl+len(l4)))
		binary.BigEndian.PutUint16(h[4:], 0x1234)
		if f.fragment {
			binary.BigEndian.PutUint16(h[6:], 0x2000)
		}
		h[8] = 63
		h[9] = proto
		copy(h[12:], ip4Client)
		copy(h[16:], ip4Server)
		if hl == 24 {
			h[20] = 1 // NOP options
			h[21], h[22], h[23] = 1, 1, 0
		}
		binary.BigEndian.PutUint16(h[10:], ^fold(sum16(h, 0)))
		if proto == 17 {
			setUDPChecksum(l4, ip4Client, ip4Server)
		}
		b = append(b, h...)
	}
	b = append(b, l4...)
	return append(b, make([]byte, f.pad)...)
}

func sum16(b []byte, s uint32) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// udpSum is the ones' complement sum of the pseudo-header and segment.
func udpSum(seg, src, dst []byte) uint16 {
	s := sum16(src, 0)
	s = sum16(dst, s)
	s += 17 + uint32(len(seg))
	return fold(sum16(seg, s))
}

func setUDPChecksum(seg, src, dst []byte) {
	seg[6], seg[7] = 0, 0
	c := ^udpSum(seg, src, dst)
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(seg[6:], c)
}

// checkReply verifies the frame around an XDP_TX reply to a query built
// from f and returns its DNS payload.
func checkReply(t *testing.T, f frame, out []byte) []byte {
	t.Helper()
	if len(out) < 14 || string(out[0:6]) != string(macClient) || string(out[6:12]) != string(macServer) {
		t.Fatalf("MAC addresses not swapped: % x", out[:min(len(out), 12)])
	}
	off := 12
	for i, tpid := range f.vlans {
		if binary.BigEndian.Uint16(out[off:]) != tpid || binary.BigEndian.Uint16(out[off+2:]) != uint16(100+i) {
			t.Fatalf("VLAN tag %d changed: % x", i, out[off:off+4])
		}
		off += 4
	}
	var seg, src, dst []byte
	if f.v6 {
		if binary.BigEndian.Uint16(out[off:]) != 0x86dd {
			t.Fatalf("EtherType %#x", binary.BigEndian.Uint16(out[off:]))
		}
		h := out[off+2:]
		if h[7] != 64 || h[6] != 17 {
			t.Errorf("IPv6 hop limit %d next %d", h[7], h[6])
		}
		src, dst = h[8:24], h[24:40]
		seg = h[40:]
		if int(binary.BigEndian.Uint16(h[4:])) != len(seg) {
			t.Fatalf("IPv6 payload length %d, have %d", binary.BigEndian.Uint16(h[4:]), len(seg))
		}
	} else {
		h := out[off+2:]
		if len(h) < 20 || h[0] != 0x45 {
			t.Fatalf("IPv4 header % x", h[:min(20, len(h))])
		}
		if fold(sum16(h[:20], 0)) != 0xffff {
			t.Errorf("IPv4 header checksum wrong: % x", h[:20])
		}
		if h[8] != 64 || binary.BigEndian.Uint16(h[4:]) != 0x1234 {
			t.Errorf("IPv4 TTL %d id %#x", h[8], binary.BigEndian.Uint16(h[4:]))
		}
		if int(binary.BigEndian.Uint16(h[2:])) != len(h) {
			t.Fatalf("IPv4 total length %d, have %d", binary.BigEndian.Uint16(h[2:]), len(h))
		}
		src, dst = h[12:16], h[16:20]
		seg = h[20:]
	}
	wantSrc, wantDst := ip4Server, ip4Client
	if f.v6 {
		wantSrc, wantDst = ip6Server, ip6Client
	}
	if string(src) != string(wantSrc) || string(dst) != string(wantDst) {
		t.Errorf("addresses not swapped: %x -> %x", src, dst)
	}
	if binary.BigEndian.Uint16(seg[0:]) != 53 || binary.BigEndian.Uint16(seg[2:]) != 40000 {
		t.Errorf("ports not swapped: %d -> %d", binary.BigEndian.Uint16(seg[0:]), binary.BigEndian.Uint16(seg[2:]))
	}
	if int(binary.BigEndian.Uint16(seg[4:])) != len(seg) {
		t.Fatalf("UDP length %d, have %d", binary.BigEndian.Uint16(seg[4:]), len(seg))
	}
	if binary.BigEndian.Uint16(seg[6:]) == 0 {
		t.Errorf("UDP checksum 0")
	}
	if udpSum(seg, src, dst) != 0xffff {
		t.Errorf("UDP checksum wrong")
	}
	return seg[8:]
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
)

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}
