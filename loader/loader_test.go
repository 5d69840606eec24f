//go:build linux

package loader_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/loader"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
)

// load returns a loader serving port 53 with e's settings and img live.
func load(t testing.TB, e *engine.Engine, img *loader.Image) *loader.Loader {
	t.Helper()
	return loadWith(t, e, img, nil)
}

// loadWith is load with the options changed by mod.
func loadWith(t testing.TB, e *engine.Engine, img *loader.Image, mod func(*loader.Options)) *loader.Loader {
	t.Helper()
	requireRoot(t)
	o := loader.Options{Ports: []uint16{53}, AnyAddress: true, VLANs: []uint16{100, 101},
		UDPSize: e.Config().UDPSize, NSID: e.Config().NSID}
	if mod != nil {
		mod(&o)
	}
	l, err := loader.Load(o)
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			t.Fatalf("%+v", ve)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if img != nil {
		if _, err := l.Swap(img); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func TestLoadVerifier(t *testing.T) {
	requireRoot(t)
	l, err := loader.Load(loader.Options{Ports: []uint16{53}, AnyAddress: true, UDPSize: 1232})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	info, err := l.Program().Info()
	if err != nil {
		t.Fatal(err)
	}
	if insns, err := info.Instructions(); err == nil {
		t.Logf("program loaded: %d instructions (xlated)", len(insns))
	}
	st := l.Status()
	if st.Generation != 0 || st.Slot != 0 || st.Gens[0].Names != 0 {
		t.Errorf("fresh loader status %+v", st)
	}
}

func TestOptions(t *testing.T) {
	for _, o := range []loader.Options{{}, {Ports: []uint16{0}}, {Ports: []uint16{1, 2, 3, 4, 5}}, {Ports: []uint16{53}, NSID: make([]byte, 33)},
		{Ports: []uint16{53}}, {Ports: []uint16{53}, UDPSize: 511}} {
		if _, err := loader.Load(o); !errors.Is(err, loader.ErrOptions) {
			t.Errorf("Load(%+v) = %v, want ErrOptions", o, err)
		}
	}
}

// fixture is one packet through the program: the verdict expected and,
// for XDP_PASS, the counter that must count it.
type fixture struct {
	desc    string
	f       layout
	payload []byte
	verdict uint32
	counter string // pass reason, or answer kind for XDP_TX
	tc      bool
}

func TestFixtures(t *testing.T) {
	e := swapZone(t, "192.0.2.1")
	l := load(t, e, compile(t, e))
	A, IN := dns.TypeA, uint16(dns.ClassINET)
	www := query(t, "www.swap.test.", A, IN)
	mixed := query(t, "HoSt.SuB.sWaP.TeSt.", A, IN)
	withEDNS := query(t, "WWW.swap.test.", A, IN, edns(1232, true, true))

	qr := append([]byte(nil), www...)
	qr[2] |= 0x80
	opcode := append([]byte(nil), www...)
	opcode[2] |= 2 << 3 // STATUS
	qd2 := append([]byte(nil), www...)
	binary.BigEndian.PutUint16(qd2[4:], 2)
	// www.swap.test. A then a second question "x" + pointer to offset 16.
	pointer := []byte{0xbe, 0xef, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'x', 0xc0, 12, 0, 1, 0, 1}
	vers1 := query(t, "www.swap.test.", A, IN, edns(1232, false, false))
	vers1[len(vers1)-5] = 1 // OPT TTL byte 2: version
	twoOPT := query(t, "www.swap.test.", A, IN, edns(1232, false, false), edns(1232, false, false))
	trailing := append(append([]byte(nil), www...), 0, 0)
	truncOpt := query(t, "www.swap.test.", A, IN, edns(1232, false, false))
	truncOpt = append(truncOpt, 0, 3) // an option header cut short
	binary.BigEndian.PutUint16(truncOpt[len(truncOpt)-4:], 2)

	fixtures := []fixture{
		{desc: "IPv4 A", payload: www, verdict: xdpTX, counter: "answer.answer"},
		{desc: "IPv4 padded frame", f: layout{pad: 20}, payload: www, verdict: xdpTX, counter: "answer.answer"},
		{desc: "IPv6 A", f: layout{v6: true}, payload: www, verdict: xdpTX, counter: "answer.answer"},
		{desc: "802.1Q", f: layout{vlans: []uint16{0x8100}}, payload: www, verdict: xdpTX, counter: "answer.answer"},
		{desc: "QinQ IPv6", f: layout{v6: true, vlans: []uint16{0x88a8, 0x8100}}, payload: www, verdict: xdpTX, counter: "answer.answer"},
		{desc: "referral, mixed case (relocated pointers)", payload: mixed, verdict: xdpTX, counter: "answer.referral"},
		{desc: "NXDOMAIN below the apex", payload: query(t, "no.such.Name.swap.test.", dns.TypeAAAA, IN), verdict: xdpTX, counter: "answer.nxdomain"},
		{desc: "NODATA", payload: query(t, "www.swap.test.", dns.TypeMX, IN), verdict: xdpTX, counter: "answer.nodata"},
		{desc: "EDNS DO NSID", payload: withEDNS, verdict: xdpTX, counter: "answer.answer"},
		{desc: "big TXT without EDNS: TC", payload: query(t, "big.swap.test.", dns.TypeTXT, IN), verdict: xdpTX, counter: "answer.answer", tc: true},
		{desc: "big TXT with EDNS 1232 (tail growth)", f: layout{v6: true}, payload: query(t, "big.swap.test.", dns.TypeTXT, IN, edns(1232, false, true)), verdict: xdpTX, counter: "answer.answer"},
		{desc: "CHAOS id.server", payload: query(t, "id.server.", dns.TypeTXT, dns.ClassCHAOS), verdict: xdpTX, counter: "answer.chaos"},

		{desc: "TCP", f: layout{proto: 6}, payload: www, verdict: xdpPass, counter: "pass.not_dns"},
		{desc: "wrong port", f: layout{dport: 5353}, payload: www, verdict: xdpPass, counter: "pass.not_dns"},
		{desc: "QR=1", payload: qr, verdict: xdpPass, counter: "pass.opcode"},
		{desc: "opcode STATUS", payload: opcode, verdict: xdpPass, counter: "pass.opcode"},
		{desc: "QDCOUNT 2", payload: qd2, verdict: xdpPass, counter: "pass.opcode"},
		{desc: "pointer in qname", payload: pointer, verdict: xdpPass, counter: "pass.malformed"},
		{desc: "EDNS version 1", payload: vers1, verdict: xdpPass, counter: "pass.edns"},
		{desc: "two OPTs (ARCOUNT 2)", payload: twoOPT, verdict: xdpPass, counter: "pass.opcode"},
		{desc: "trailing bytes", payload: trailing, verdict: xdpPass, counter: "pass.malformed"},
		{desc: "truncated EDNS option", payload: truncOpt, verdict: xdpPass, counter: "pass.malformed"},
		{desc: "ANY", payload: query(t, "www.swap.test.", dns.TypeANY, IN), verdict: xdpPass, counter: "pass.qtype"},
		{desc: "RRSIG", payload: query(t, "www.swap.test.", dns.TypeRRSIG, IN), verdict: xdpPass, counter: "pass.qtype"},
		{desc: "class HESIOD", payload: query(t, "www.swap.test.", A, dns.ClassHESIOD), verdict: xdpPass, counter: "pass.qtype"},
		{desc: "IPv6 hop-by-hop header", f: layout{v6: true, hopByHop: true}, payload: www, verdict: xdpPass, counter: "pass.ipv6_ext"},
		{desc: "IPv4 options", f: layout{ipOptions: true}, payload: www, verdict: xdpPass, counter: "pass.ipv4_options"},
		{desc: "IPv4 fragment", f: layout{fragment: true}, payload: www, verdict: xdpPass, counter: "pass.ipv4_frag"},
		// The image holds the root (REFUSED for names in no zone is left to
		// userspace), so every IN name finds a suffix: no template.
		{desc: "name in no zone", payload: query(t, "example.org.", A, IN), verdict: xdpPass, counter: "pass.notmpl"},
		{desc: "33 labels", payload: query(t, "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d.e.f.swap.test.", A, IN), verdict: xdpPass, counter: "pass.qname"},
	}
	for _, fx := range fixtures {
		t.Run(fx.desc, func(t *testing.T) {
			before, err := l.Counters()
			if err != nil {
				t.Fatal(err)
			}
			in := fx.f.build(fx.payload)
			verdict, out := run(t, l.Program(), in)
			after, err := l.Counters()
			if err != nil {
				t.Fatal(err)
			}
			if verdict != fx.verdict {
				t.Fatalf("verdict %d, want %d", verdict, fx.verdict)
			}
			delta := map[string]uint64{}
			for k, v := range after {
				if d := v - before[k]; d != 0 {
					delta[k] = d
				}
			}
			want := map[string]uint64{"rx": 1, fx.counter: 1}
			if fx.tc {
				want["tc"] = 1
			}
			if len(delta) != len(want) {
				t.Errorf("counters moved %v, want %v", delta, want)
			}
			for k, v := range want {
				if delta[k] != v {
					t.Errorf("counters moved %v, want %v", delta, want)
					break
				}
			}
			if verdict == xdpPass {
				if !bytes.Equal(in, out) {
					t.Errorf("passed packet modified")
				}
				return
			}
			got := checkReply(t, fx.f, out)
			wantReply := e.Respond(nil, fx.payload, false)
			if !bytes.Equal(got, wantReply) {
				t.Errorf("XDP and engine differ\nxdp    %x\nengine %x", got, wantReply)
			}
			m := new(dns.Msg)
			if err := m.Unpack(got); err != nil {
				t.Fatalf("reply does not parse: %v", err)
			}
			if m.Truncated != fx.tc {
				t.Errorf("TC=%v, want %v", m.Truncated, fx.tc)
			}
			if o := m.IsEdns0(); o != nil {
				for _, opt := range o.Option {
					if n, ok := opt.(*dns.EDNS0_NSID); ok && n.Nsid != "6e6f64652d31" {
						t.Errorf("NSID %q", n.Nsid)
					}
				}
			}
		})
	}
}

// TestSwap checks that a generation switch changes answers in one step,
// frees the old generation, and that an empty image passes everything.
func TestSwap(t *testing.T) {
	e1 := swapZone(t, "192.0.2.1")
	e2 := swapZone(t, "192.0.2.99")
	l := load(t, e1, compile(t, e1))
	q := query(t, "www.swap.test.", dns.TypeA, dns.ClassINET)
	in := layout{}.build(q)
	answer := func() []byte {
		v, out := run(t, l.Program(), in)
		if v != xdpTX {
			t.Fatalf("verdict %d", v)
		}
		return checkReply(t, layout{}, out)
	}
	if got, want := answer(), e1.Respond(nil, q, false); !bytes.Equal(got, want) {
		t.Fatalf("generation 1: XDP %x, engine %x", got, want)
	}
	st1 := l.Status()
	gen, err := l.Swap(compile(t, e2))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := answer(), e2.Respond(nil, q, false); !bytes.Equal(got, want) {
		t.Fatalf("generation 2: XDP %x, engine %x", got, want)
	}
	st2 := l.Status()
	if gen != st1.Generation+1 || st2.Generation != gen || st2.Slot == st1.Slot {
		t.Errorf("status before %+v after %+v (Swap returned %d)", st1, st2, gen)
	}
	// The old slot's maps are freed: the slot names the live maps now
	// (the next Update writes their other version).
	old := st2.Gens[st1.Slot]
	if old.Live || old.Serial != gen {
		t.Errorf("old slot does not name the live generation: %+v", old)
	}
	if l.MapBytes() == 0 {
		t.Errorf("MapBytes 0 for a live generation")
	}
	// MapBytes (xdpdnsctl status) is what the kernel charges the maps:
	// their memlock, within page rounding and headers.
	var memlock int64
	fds := l.LiveMapFDs()
	for _, fd := range fds {
		info, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", fd))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(info), "\n") {
			if v, ok := strings.CutPrefix(line, "memlock:"); ok {
				n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				if err != nil {
					t.Fatalf("fdinfo %d: %q", fd, line)
				}
				memlock += n
			}
		}
	}
	if mb := l.MapBytes(); mb > memlock || memlock > mb+int64(len(fds))*3*int64(os.Getpagesize()) {
		t.Errorf("MapBytes %d, the maps' memlock %d (%d maps)", mb, memlock, len(fds))
	} else {
		t.Logf("MapBytes %d, the maps' memlock %d (%d maps)", mb, memlock, len(fds))
	}
	t.Logf("live generation: %+v, %d bytes of keys and values", st2.Gens[st2.Slot], l.MapBytes())

	// A bad image is refused and changes nothing.
	bad := compile(t, e1)
	bad.Templates[1].FirstChunk = uint32(len(bad.Chunks))
	bad.Templates[1].BodyLen = 2 * 64 // the head and one chunk
	if _, err := l.Swap(bad); !errors.Is(err, loader.ErrImage) {
		t.Errorf("Swap(bad image) = %v, want ErrImage", err)
	}
	if got, want := answer(), e2.Respond(nil, q, false); !bytes.Equal(got, want) {
		t.Fatalf("after a refused swap: XDP %x, engine %x", got, want)
	}

	if _, err := l.Swap(&loader.Image{}); err != nil {
		t.Fatal(err)
	}
	if v, _ := run(t, l.Program(), in); v != xdpPass {
		t.Errorf("empty generation: verdict %d, want XDP_PASS", v)
	}
}

// TestServedAddrs checks that only configured destination prefixes are
// answered when prefixes are given.
func TestServedAddrs(t *testing.T) {
	requireRoot(t)
	e := swapZone(t, "192.0.2.1")
	l, err := loader.Load(loader.Options{Ports: []uint16{53}, AnyAddress: true, UDPSize: 1232, NSID: []byte("node-1"),
		Prefixes: prefixes("198.18.0.1/32", "2001:2::/48")})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Swap(compile(t, e)); err != nil {
		t.Fatal(err)
	}
	q := query(t, "www.swap.test.", dns.TypeA, dns.ClassINET)
	for _, v6 := range []bool{false, true} {
		if v, _ := run(t, l.Program(), layout{v6: v6}.build(q)); v != xdpTX {
			t.Errorf("v6=%v served address: verdict %d", v6, v)
		}
	}
	l2, err := loader.Load(loader.Options{Ports: []uint16{53}, UDPSize: 1232, Prefixes: prefixes("198.18.1.0/24", "2001:3::/48")})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if _, err := l2.Swap(compile(t, e)); err != nil {
		t.Fatal(err)
	}
	for _, v6 := range []bool{false, true} {
		if v, _ := run(t, l2.Program(), layout{v6: v6}.build(q)); v != xdpPass {
			t.Errorf("v6=%v other address: verdict %d", v6, v)
		}
	}
	c, _ := l2.Counters()
	if c["pass.not_our_address"] != 2 {
		t.Errorf("pass.not_our_address = %d, want 2", c["pass.not_our_address"])
	}
}
