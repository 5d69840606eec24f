//go:build linux

package e2e

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/internal/frame"
	"github.com/xdpdns/xdpdns/interop/interoptest"
)

// TestHostileFrames sends, from a packet socket on the client's veth, the
// frames a node must not answer, in native and generic XDP: each must be
// passed (or, for a reflection port, dropped) with its counter moving,
// and no reply may come back from either path. A well-formed frame sent
// the same way is answered, so the checks do not simply refuse the
// socket's frames.
func TestHostileFrames(t *testing.T) {
	r := NewRig(t)
	zs := interoptest.PrepareZones(t, interoptest.Unsigned)
	for _, mode := range []string{"native", "generic"} {
		t.Run(mode, func(t *testing.T) {
			d := StartServer(t, bins, r, zs.Zones(), mode)
			ps, srvMAC := r.clientPacketSocket(t)
			defer ps.Close()
			q := new(dns.Msg).SetQuestion("www.example.test.", dns.TypeA)
			wire, err := q.Pack()
			if err != nil {
				t.Fatal(err)
			}
			base := frame.Spec{DstMAC: srvMAC, SrcMAC: ps.MAC, Src: r.CliV4, Dst: r.SrvV4, DstPort: 53, TTL: 64}
			cases := []struct {
				desc    string
				edit    func(*frame.Spec)
				mangle  func(b []byte) // after the checksums are set
				counter string         // "" for the well-formed frame: answered in XDP
			}{
				{desc: "well-formed", counter: ""},
				{desc: "bad UDP checksum", mangle: func(b []byte) { b[frame.EthHeaderLen+26] ^= 0xff }, counter: "xdp.pass.bad_csum"},
				{desc: "another host's MAC", edit: func(s *frame.Spec) { s.DstMAC = net.HardwareAddr{0x02, 0x58, 0x44, 0, 0, 0x99} }, counter: "xdp.pass.not_our_mac"},
				{desc: "an address not ours", edit: func(s *frame.Spec) { s.Dst = netip.MustParseAddr("203.0.113.5") }, counter: "xdp.pass.not_our_address"},
				{desc: "loopback source", edit: func(s *frame.Spec) { s.Src = netip.MustParseAddr("127.0.0.1") }, counter: "xdp.pass.bad_source"},
				{desc: "IPv4 total length 19", mangle: func(b []byte) {
					ip := b[frame.EthHeaderLen:]
					binary.BigEndian.PutUint16(ip[2:], 19)
					ip[10], ip[11] = 0, 0
					frame.SetIPv4Checksum(ip[:frame.IPv4HeaderLen])
				}, counter: "xdp.pass.bad_header"},
				{desc: "unconfigured VLAN", edit: func(s *frame.Spec) {
					s.VLANs = []frame.VLAN{{TPID: frame.Ether8021Q, TCI: VLANID + 1}}
					s.Src, s.Dst = r.CliVLANV4, r.SrvVLANV4
				}, counter: "xdp.pass.vlan"},
				// The veth takes the outer tag off into the skb (as a NIC's
				// VLAN offload does): the tc companion must count it.
				{desc: "three VLAN tags", edit: func(s *frame.Spec) {
					s.VLANs = []frame.VLAN{{TPID: frame.Ether8021Q, TCI: VLANID}, {TPID: frame.Ether8021Q, TCI: VLANID}, {TPID: frame.Ether8021Q, TCI: VLANID}}
					s.Src, s.Dst = r.CliVLANV4, r.SrvVLANV4
				}, counter: "xdp.pass.vlan"},
				{desc: "chargen source port", edit: func(s *frame.Spec) { s.SrcPort = 19 }, counter: "xdp.drop.source_port"},
			}
			for i, c := range cases {
				spec := base
				spec.SrcPort = uint16(41000 + i)
				if c.edit != nil {
					c.edit(&spec)
				}
				b := spec.Build(wire)
				if c.mangle != nil {
					c.mangle(b)
				}
				before := d.Stats(t)
				if err := ps.Send(b); err != nil {
					t.Fatalf("%s: sending: %v", c.desc, err)
				}
				f, replyErr := awaitReply(ps, spec.SrcPort, 500*time.Millisecond)
				delta := Diff(before, d.Stats(t))
				if c.counter == "" {
					if replyErr != nil || delta["xdp.answer.answer"] != 1 {
						t.Errorf("%s %s: reply %v, counters %v; want an XDP answer", mode, c.desc, replyErr, delta)
					}
					continue
				}
				if replyErr == nil {
					t.Errorf("%s %s: answered (%v -> %v); counters %v", mode, c.desc, f.Src, f.Dst, delta)
				}
				if delta[c.counter] != 1 || delta.Sum("xdp.answer.") != 0 || delta.Sum("udp.") != 0 {
					t.Errorf("%s %s: counters %v, want %s+1 and no answer on either path", mode, c.desc, delta, c.counter)
				}
			}
		})
	}
}
