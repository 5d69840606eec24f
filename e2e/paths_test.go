//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"github.com/xdpdns/xdpdns/internal/testsupport/netnstest"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/internal/frame"
	"github.com/xdpdns/xdpdns/interop/interoptest"
)

// xdpCase is a query the XDP program can answer, the answer kind its
// counter is named after, and what the reply must hold.
type xdpCase struct {
	name string
	l    Lookup
	kind string // answer.KIND in XDP, KIND in userspace
	want want
}

// want is what a reply must hold.
type want struct {
	rcode     string
	aa        bool
	answer    []string // the answer's records, as RR strings
	authority []string // record types the authority section must contain
	glue      []string // records the additional section must contain
	// answerTypes, when set, replaces answer: the answer's record types
	// (for records that change with every signing).
	answerTypes []string
}

// check compares a parsed reply with w.
func (w want) check(r Reply) error {
	if r.Rcode != w.rcode || r.HasFlag("aa") != w.aa {
		return fmt.Errorf("status %s flags %v, want %s aa=%v", r.Rcode, r.Flags, w.rcode, w.aa)
	}
	if w.answerTypes != nil {
		if got := types(r.Answer); !slices.Equal(got, w.answerTypes) {
			return fmt.Errorf("answer types %v, want %v", got, w.answerTypes)
		}
	} else if got := rrStrings(r.Answer); !slices.Equal(got, w.answer) {
		return fmt.Errorf("answer %v, want %v", got, w.answer)
	}
	for _, typ := range w.authority {
		if !slices.Contains(types(r.Authority), typ) {
			return fmt.Errorf("authority %v lacks %s", types(r.Authority), typ)
		}
	}
	for _, g := range w.glue {
		if !slices.Contains(rrStrings(r.Additional), g) {
			return fmt.Errorf("additional %v lacks %s", rrStrings(r.Additional), g)
		}
	}
	return nil
}

// rrStrings formats records without TTLs: "name TYPE rdata".
func rrStrings(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		h := rr.Header()
		rd := rr.String()[len(h.String()):]
		out = append(out, fmt.Sprintf("%s %s %s", h.Name, dns.TypeToString[h.Rrtype], rd))
	}
	return out
}

// xdpCases are a positive answer, a referral, an NXDOMAIN without DO and
// a signed referral with DO: all four are answered from templates.
var xdpCases = []xdpCase{
	{"positive", Lookup{Name: "www.example.test.", Type: dns.TypeA}, "answer",
		want{rcode: "NOERROR", aa: true, answer: []string{"www.example.test. A 192.0.2.10"}}},
	{"referral", Lookup{Name: "host.sub.example.test.", Type: dns.TypeA}, "referral",
		want{rcode: "NOERROR", authority: []string{"NS"}, glue: []string{"ns1.sub.example.test. A 192.0.2.100"}}},
	{"nxdomain", Lookup{Name: "nope.example.test.", Type: dns.TypeA}, "nxdomain",
		want{rcode: "NXDOMAIN", aa: true, authority: []string{"SOA"}}},
	{"referral-do", Lookup{Name: "host.secure.example.test.", Type: dns.TypeA, DO: true}, "referral",
		want{rcode: "NOERROR", authority: []string{"NS", "DS", "RRSIG"}, glue: []string{"ns.secure.example.test. A 192.0.2.110"}}},
}

// TestPaths asks the XDP-servable queries with dig and kdig over IPv4
// and IPv6, and in 802.1Q-tagged frames, then a TCP query and a DO=1
// NXDOMAIN, and uses the daemon's counters to prove which path answered
// each one. It runs with the program attached natively and in generic
// mode (see the native subtest for what veth does to growing replies).
func TestPaths(t *testing.T) {
	r := NewRig(t)
	zs := interoptest.PrepareZones(t, interoptest.NSEC3)
	for _, mode := range []string{"native", "generic"} {
		t.Run(mode, func(t *testing.T) {
			d := StartServer(t, bins, r, zs.Zones(), mode)
			testUDPPaths(t, r, d, mode)
			testVLANPath(t, r, d, mode)
			testTCIngressPath(t, r, d, mode)
			testUserspacePaths(t, r, d)
		})
	}
}

// testUDPPaths asks every xdpCase with dig and kdig over IPv4 and IPv6.
// In both modes every one must be answered in XDP: answer.KIND rises by
// one and no userspace counter moves. (Native XDP frames on veth often
// have no tailroom; the program then grows the reply at the front.)
func testUDPPaths(t *testing.T, r *Rig, d *Daemon, mode string) {
	fromXDP := map[string]int{}
	for _, srv := range []netip.Addr{r.SrvV4, r.SrvV6} {
		for _, tool := range []Tool{Dig, Kdig} {
			for _, c := range xdpCases {
				l := c.l
				l.Port = 53
				before := d.Stats(t)
				rep, err := tool.Query(r.Cli, srv, l)
				if err != nil {
					t.Fatalf("%s %s over %v: %v", tool, c.name, srv, err)
				}
				delta := Diff(before, d.Stats(t))
				where := fmt.Sprintf("%s %s %s over %v", mode, tool, c.name, srv)
				if err := c.want.check(rep); err != nil {
					t.Errorf("%s: %v\n%s", where, err, rep.Text)
				}
				xdp := delta["xdp.answer."+c.kind] == 1 && delta.Sum("xdp.answer.") == 1 &&
					delta.Sum("udp.") == 0 && delta.Sum("tcp.") == 0
				if xdp {
					fromXDP[srv.String()]++
				} else {
					t.Errorf("%s: counters %v, want xdp.answer.%s+1 and no userspace count", where, delta, c.kind)
				}
			}
		}
	}
	for _, srv := range []netip.Addr{r.SrvV4, r.SrvV6} {
		n := fromXDP[srv.String()]
		t.Logf("%s: %d of %d queries over %v answered in XDP", mode, n, 2*len(xdpCases), srv)
		if n != 2*len(xdpCases) {
			t.Errorf("%s: %d of %d queries over %v answered in XDP, want all", mode, n, 2*len(xdpCases), srv)
		}
	}
}

// testVLANPath sends each xdpCase in an 802.1Q-tagged frame (VLAN
// VLANID) from a packet socket on the client veth and requires a reply
// tagged with the same VLAN, with valid checksums, whose DNS payload is
// byte for byte the reply to the same query over a plain UDP socket.
// The kernel has no 802.1Q support, so only XDP can answer a tagged
// query, and every one must be answered.
func testVLANPath(t *testing.T, r *Rig, d *Daemon, mode string) {
	ps, srvMAC := r.clientPacketSocket(t)
	defer ps.Close()
	answered := 0
	for i, c := range xdpCases {
		q := new(dns.Msg).SetQuestion(c.l.Name, c.l.Type)
		q.Id = uint16(0x4000 + i)
		q.SetEdns0(1232, c.l.DO)
		wire, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		plain := exchangeUDP(t, r.Cli, netip.AddrPortFrom(r.SrvV4, 53), wire)

		sport := uint16(40000 + i)
		before := d.Stats(t)
		if err := ps.Send(frame.Spec{
			DstMAC: srvMAC, SrcMAC: ps.MAC, VLANs: []frame.VLAN{{TPID: frame.Ether8021Q, TCI: VLANID}},
			Src: r.CliVLANV4, Dst: r.SrvVLANV4, SrcPort: sport, DstPort: 53, TTL: 64, DontFragment: true,
		}.Build(wire)); err != nil {
			t.Fatalf("sending the tagged query: %v", err)
		}
		f, err := awaitReply(ps, sport, time.Second)
		delta := Diff(before, d.Stats(t))
		where := fmt.Sprintf("%s vlan %s", mode, c.name)
		if err != nil {
			t.Errorf("%s: %v; counters %v", where, err, delta)
			continue
		}
		answered++
		if !f.Tagged || f.VLAN != VLANID {
			t.Errorf("%s: reply tagged=%v vlan=%d, want VLAN %d", where, f.Tagged, f.VLAN, VLANID)
		}
		if f.Src != r.SrvVLANV4 || f.Dst != r.CliVLANV4 || !f.IPChecksumOK || !f.UDPChecksumOK {
			t.Errorf("%s: reply %v -> %v, IPv4 checksum ok %v, UDP checksum %#04x ok %v", where, f.Src, f.Dst, f.IPChecksumOK, f.UDPChecksum, f.UDPChecksumOK)
		}
		if !bytes.Equal(f.Payload, plain) {
			t.Errorf("%s: tagged reply differs from the untagged one\n tagged %x\n plain  %x", where, f.Payload, plain)
		}
		if delta["xdp.answer."+c.kind] != 1 || delta.Sum("udp.") != 0 {
			t.Errorf("%s: counters %v, want xdp.answer.%s+1 only", where, delta, c.kind)
		}
	}
	t.Logf("%s: %d of %d tagged queries answered in XDP", mode, answered, len(xdpCases))
	if answered != len(xdpCases) {
		t.Errorf("%s: %d of %d tagged queries answered, want all", mode, answered, len(xdpCases))
	}
}

// awaitReply reads frames until a UDP reply from port 53 to sport.
func awaitReply(ps *PacketSocket, sport uint16, wait time.Duration) (Frame, error) {
	deadline := time.Now().Add(wait)
	for {
		f, err := ps.Recv(deadline)
		if err != nil {
			return f, err
		}
		if !f.Outgoing && f.UDP && f.SrcPort == 53 && f.DstPort == sport {
			return f, nil
		}
	}
}

// exchangeUDP sends wire to server from namespace ns and returns the reply.
func exchangeUDP(t *testing.T, ns string, server netip.AddrPort, wire []byte) []byte {
	t.Helper()
	c, err := netnstest.Dial(ns, "udp", server.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write(wire); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("query to %v: %v", server, err)
	}
	return buf[:n]
}

// testTCIngressPath asks for replies far larger than their queries (the
// apex DNSKEY and NS sets with signatures and glue) over IPv4 and IPv6. A
// veth frame gives native and generic XDP little room (the kernel copies
// the query into a buffer just big enough, with 256 bytes of headroom), so
// the XDP program passes them (pass.tail) and its tc ingress companion
// answers from the same templates. Each must be answered in the kernel
// (by XDP or at tc ingress, never by the userspace server), in native mode
// at least one at tc ingress, and its bytes must equal the userspace
// engine's reply to the same query over TCP.
func testTCIngressPath(t *testing.T, r *Rig, d *Daemon, mode string) {
	viaTC := 0
	for _, srv := range []netip.Addr{r.SrvV4, r.SrvV6} {
		for _, q := range []struct {
			name  string
			qtype uint16
		}{{"example.test.", dns.TypeDNSKEY}, {"example.test.", dns.TypeNS}} {
			m := new(dns.Msg)
			m.SetQuestion(q.name, q.qtype)
			m.RecursionDesired = false
			m.SetEdns0(1232, true)
			wire, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			where := fmt.Sprintf("%s %s %s over %v", mode, q.name, dns.TypeToString[q.qtype], srv)
			before := d.Stats(t)
			got := exchangeUDP(t, r.Cli, netip.AddrPortFrom(srv, 53), wire)
			delta := Diff(before, d.Stats(t))
			inKernel := delta.Sum("udp.")+delta.Sum("tcp.") == 0
			tc := delta["xdp.pass.tail"] == 1 && delta["xdp.tc_ingress.answer"] == 1 && delta.Sum("xdp.answer.") == 0
			xdp := delta.Sum("xdp.answer.") == 1 && delta["xdp.tc_ingress.answer"] == 0
			switch {
			case !inKernel || tc == xdp:
				t.Errorf("%s: counters %v, want one answer in XDP or at tc ingress and none in userspace", where, delta)
			case tc:
				viaTC++
			}
			if len(got) < len(wire)+256 {
				t.Errorf("%s: reply of %d bytes to a query of %d: too small to test growth", where, len(got), len(wire))
			}
			c, err := netnstest.Dial(r.Cli, "tcp", netip.AddrPortFrom(srv, 53).String())
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(2 * time.Second))
			dc := &dns.Conn{Conn: c}
			if err := dc.WriteMsg(m); err != nil {
				t.Fatal(err)
			}
			want, err := dc.ReadMsgHeader(nil)
			c.Close()
			if err != nil {
				t.Fatalf("%s: over TCP: %v", where, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s: UDP reply answered in the kernel differs from the engine's TCP reply\nudp %x\ntcp %x", where, got, want)
			}
		}
	}
	t.Logf("%s: %d of 4 large replies answered at tc ingress, the rest in XDP", mode, viaTC)
	if mode == "native" && viaTC == 0 {
		t.Errorf("native: no large reply went through tc ingress: the test no longer exercises it")
	}
}

// testUserspacePaths: a TCP query and an RRSIG query are answered in
// userspace and by no XDP answer counter; a DO=1 NXDOMAIN, whose NSEC3
// proof depends on the name (the program hashes it), is answered by the
// program (in XDP, or at tc ingress when the frame cannot grow) and not
// in userspace.
func testUserspacePaths(t *testing.T, r *Rig, d *Daemon) {
	for _, srv := range []netip.Addr{r.SrvV4, r.SrvV6} {
		for _, c := range []struct {
			name    string
			l       Lookup
			counter string
			want    want
		}{
			{"tcp", Lookup{Name: "www.example.test.", Type: dns.TypeA, TCP: true}, "tcp.answer",
				want{rcode: "NOERROR", aa: true, answer: []string{"www.example.test. A 192.0.2.10"}}},
			{"rrsig", Lookup{Name: "www.example.test.", Type: dns.TypeRRSIG}, "udp.answer",
				want{rcode: "NOERROR", aa: true, answerTypes: []string{"RRSIG", "RRSIG"}}},
			{"nxdomain-do", Lookup{Name: "nope.example.test.", Type: dns.TypeA, DO: true}, "",
				want{rcode: "NXDOMAIN", aa: true, authority: []string{"SOA", "NSEC3", "RRSIG"}}},
		} {
			c.l.Port = 53
			before := d.Stats(t)
			rep, err := Dig.Query(r.Cli, srv, c.l)
			if err != nil {
				t.Fatal(err)
			}
			delta := Diff(before, d.Stats(t))
			where := fmt.Sprintf("dig %s over %v", c.name, srv)
			if err := c.want.check(rep); err != nil {
				t.Errorf("%s: %v\n%s", where, err, rep.Text)
			}
			if c.counter == "" {
				if n := delta["xdp.answer.nxdomain"] + delta["xdp.tc_ingress.answer"]; n != 1 || delta.Sum("udp.") != 0 {
					t.Errorf("%s: counters %v, want it answered by the program (answer.nxdomain or tc_ingress.answer) and not in userspace", where, delta)
				}
				continue
			}
			if delta[c.counter] != 1 || delta.Sum("udp.")+delta.Sum("tcp.") != 1 || delta.Sum("xdp.answer.") != 0 {
				t.Errorf("%s: counters %v, want %s+1 and no XDP answer", where, delta, c.counter)
			}
			// Non-DNS frames (ARP, neighbour discovery, MLD reports with a
			// hop-by-hop header) may arrive at any time and count as
			// pass.not_dns or pass.ipv6_ext: leave them out.
			if !c.l.TCP && delta.Sum("xdp.pass.")-delta["xdp.pass.not_dns"]-delta["xdp.pass.ipv6_ext"] != 1 {
				t.Errorf("%s: counters %v, want the query counted as passed up once", where, delta)
			}
		}
	}
}
