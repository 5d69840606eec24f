package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
)

func TestSumRFC1071(t *testing.T) {
	// RFC 1071 section 3, the worked example.
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	if s := Sum(0, b); s != 0x2ddf0 {
		t.Errorf("Sum = %#x, want 0x2ddf0", s)
	}
	if f := Fold(Sum(0, b)); f != 0xddf2 {
		t.Errorf("Fold = %#x, want 0xddf2", f)
	}
	// An odd byte counts as the high byte of a word.
	if s := Sum(0, []byte{0x12, 0x34, 0x56}); s != 0x1234+0x5600 {
		t.Errorf("odd Sum = %#x", s)
	}
}

func TestIPv4Checksum(t *testing.T) {
	// A header from a capture: 192.168.0.1 -> 192.168.0.199, checksum 0xb861.
	h := []byte{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61,
		0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7}
	if !IPv4ChecksumOK(h) {
		t.Fatal("a correct header does not verify")
	}
	g := bytes.Clone(h)
	g[10], g[11] = 0, 0
	SetIPv4Checksum(g)
	if !bytes.Equal(g, h) {
		t.Errorf("SetIPv4Checksum wrote %#04x, want 0xb861", binary.BigEndian.Uint16(g[10:]))
	}
	g[8]--
	if IPv4ChecksumOK(g) {
		t.Error("a changed TTL still verifies")
	}
}

var (
	mac1 = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	mac2 = net.HardwareAddr{2, 0, 0, 0, 0, 2}
)

func TestBuildParse(t *testing.T) {
	payload := []byte("a DNS message, odd length")
	cases := []struct {
		name string
		spec Spec
	}{
		{"IPv4", Spec{Src: netip.MustParseAddr("198.18.0.2"), Dst: netip.MustParseAddr("198.18.0.1"), TTL: 63, IPID: 0x1234}},
		{"IPv4 DF, options, padded", Spec{Src: netip.MustParseAddr("198.18.0.2"), Dst: netip.MustParseAddr("198.18.0.1"), TTL: 64, DontFragment: true, IPOptions: true, Pad: 7}},
		{"IPv6", Spec{Src: netip.MustParseAddr("2001:2::2"), Dst: netip.MustParseAddr("2001:2::1"), TTL: 63}},
		{"QinQ IPv6", Spec{Src: netip.MustParseAddr("2001:2::2"), Dst: netip.MustParseAddr("2001:2::1"), TTL: 1,
			VLANs: []VLAN{{Ether8021AD, 100}, {Ether8021Q, 101}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.spec
			s.DstMAC, s.SrcMAC, s.SrcPort, s.DstPort = mac1, mac2, 40000, 53
			b := s.Build(payload)
			p, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p.DstMAC, mac1) || !bytes.Equal(p.SrcMAC, mac2) || p.Src != s.Src || p.Dst != s.Dst ||
				p.SrcPort != 40000 || p.DstPort != 53 || p.TTL != s.TTL || p.IPID != s.IPID || p.Trailer != s.Pad {
				t.Errorf("parsed %+v from %+v", p, s)
			}
			if len(p.VLANs) != len(s.VLANs) || (len(s.VLANs) > 0 && p.VLANs[1] != s.VLANs[1]) {
				t.Errorf("VLANs %v, want %v", p.VLANs, s.VLANs)
			}
			if !p.IPChecksumOK || !p.UDPChecksumOK || !bytes.Equal(p.Payload, payload) {
				t.Errorf("checksums %v %v, payload %q", p.IPChecksumOK, p.UDPChecksumOK, p.Payload)
			}
			// Any changed payload byte breaks the UDP checksum.
			b[len(b)-s.Pad-1] ^= 0x40
			if p, _ := Parse(b); p.UDPChecksumOK {
				t.Error("a changed payload still verifies")
			}
		})
	}
}

func TestBuildWithoutUDPChecksum(t *testing.T) {
	s := Spec{Src: netip.MustParseAddr("198.18.0.254"), Dst: netip.MustParseAddr("198.18.0.1"), SrcMAC: mac2, DstMAC: mac1, TTL: 64, NoUDPChecksum: true}
	p, err := Parse(s.Build([]byte{1, 2, 3}))
	if err != nil {
		t.Fatal(err)
	}
	if p.UDPChecksum != 0 || p.UDPChecksumOK || !p.IPChecksumOK {
		t.Errorf("UDP checksum %#x ok %v, IP ok %v", p.UDPChecksum, p.UDPChecksumOK, p.IPChecksumOK)
	}
}

func TestParseRefuses(t *testing.T) {
	base := Spec{Src: netip.MustParseAddr("198.18.0.2"), Dst: netip.MustParseAddr("198.18.0.1"), SrcMAC: mac2, DstMAC: mac1, TTL: 64}
	tcp := base
	tcp.Proto = 6
	hbh := base
	hbh.Src, hbh.Dst, hbh.HopByHop = netip.MustParseAddr("2001:2::2"), netip.MustParseAddr("2001:2::1"), true
	short := base.Build([]byte("xyz"))
	binary.BigEndian.PutUint16(short[EthHeaderLen+2:], 200) // IPv4 total length beyond the frame
	for name, b := range map[string][]byte{
		"TCP":          tcp.Build([]byte("x")),
		"hop-by-hop":   hbh.Build([]byte("x")),
		"truncated":    short,
		"runt":         make([]byte, 10),
		"ARP":          append(append(bytes.Clone(mac1), mac2...), 0x08, 0x06, 0, 1),
		"UDP too long": udpLength(base.Build([]byte("xyz")), 100),
	} {
		if _, err := Parse(b); !errors.Is(err, ErrNotUDP) {
			t.Errorf("%s: err %v, want ErrNotUDP", name, err)
		}
	}
}

func udpLength(b []byte, n uint16) []byte {
	binary.BigEndian.PutUint16(b[EthHeaderLen+IPv4HeaderLen+4:], n)
	return b
}
