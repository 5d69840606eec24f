//go:build linux

package loader_test

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/bpf"
	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/loader"
	"github.com/xdpdns/xdpdns/rrl"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

const rrlZone = `$ORIGIN rrl.test.
$TTL 300
@ SOA ns1 hostmaster 1 7200 3600 1209600 300
@ NS ns1
ns1 A 198.18.0.53
www A 198.18.0.80
*.wild A 198.18.0.99
sub NS ns.sub
ns.sub A 198.18.0.54
`

func rrlEngine(t *testing.T) *engine.Engine {
	t.Helper()
	z, err := zone.Load(strings.NewReader(rrlZone), "rrl.test.", "rrl.test.zone", zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	set, err := zone.NewSet(z)
	if err != nil {
		t.Fatal(err)
	}
	return engine.New(engine.Config{Identity: "xdp-test", NSID: []byte("node-1"), UDPSize: 1232}, set)
}

func loadRRL(t *testing.T, e *engine.Engine, cfg rrl.Config) *loader.Loader {
	t.Helper()
	requireRoot(t)
	r := cfg.WithDefaults()
	l, err := loader.Load(loader.Options{Ports: []uint16{53}, AnyAddress: true, UDPSize: e.Config().UDPSize,
		NSID: e.Config().NSID, RRL: loader.RRL{Rate: r.Rate, Slip: r.Slip, Prefix4: r.Prefix4, Prefix6: r.Prefix6,
			Window: r.Window, Exempt: r.Exempt, TableSize: r.TableSize}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if _, err := l.Swap(compile(t, e)); err != nil {
		t.Fatal(err)
	}
	return l
}

// from is a query frame from client address src.
func from(src string, payload []byte) []byte {
	s := layout{}.spec()
	s.Src = netip.MustParseAddr(src)
	if s.Src.Is6() {
		s.Dst = ip6Server
	}
	return s.Build(payload)
}

// TestRRLBucketNames: for every kind of answer the program sends, the
// bucket it charges has the class and name the userspace path charges
// (engine.Info, rrl.ClassOf): the two paths count a reply alike.
func TestRRLBucketNames(t *testing.T) {
	e := rrlEngine(t)
	l := loadRRL(t, e, rrl.Config{Rate: 1000, Slip: 2})
	IN := uint16(dns.ClassINET)
	for _, c := range []struct {
		name  string
		qtype uint16
		class uint16
	}{
		{"www.rrl.test.", dns.TypeA, IN}, {"WWW.rrl.TEST.", dns.TypeA, IN}, {"www.rrl.test.", dns.TypeMX, IN},
		{"x.wild.rrl.test.", dns.TypeA, IN}, {"y.z.wild.rrl.test.", dns.TypeA, IN},
		{"a.b.sub.rrl.test.", dns.TypeA, IN}, {"sub.rrl.test.", dns.TypeNS, IN},
		{"nope.rrl.test.", dns.TypeA, IN}, {"deep.nope.rrl.test.", dns.TypeAAAA, IN},
		{"id.server.", dns.TypeTXT, dns.ClassCHAOS},
	} {
		// Empty the buckets: the one this query makes is then the only one.
		m := l.RRLBuckets()
		var k bpf.XdpRrlKey
		for m.NextKey(nil, &k) == nil {
			if err := m.Delete(&k); err != nil {
				t.Fatal(err)
			}
		}
		q := query(t, c.name, c.qtype, c.class)
		verdict, _ := run(t, l.Program(), layout{}.build(q))
		if verdict != xdpTX {
			t.Errorf("%s %s: verdict %d, want XDP_TX (answered in XDP)", c.name, dns.TypeToString[c.qtype], verdict)
			continue
		}
		_, info := e.RespondUDP(nil, nil, q)
		var keys []bpf.XdpRrlKey
		it := m.Iterate()
		var vals []bpf.XdpRrlBucket
		for it.Next(&k, &vals) {
			keys = append(keys, k)
		}
		if len(keys) != 1 {
			t.Errorf("%s: %d buckets, want 1", c.name, len(keys))
			continue
		}
		if keys[0].Name != info.Name || keys[0].Class != uint8(rrl.ClassOf(info.Kind)) {
			t.Errorf("%s %s: XDP bucket class %d name %x; userspace class %d name %x (%v)", c.name, dns.TypeToString[c.qtype],
				keys[0].Class, keys[0].Name, rrl.ClassOf(info.Kind), info.Name, info.Kind)
		}
		if want := netip.MustParseAddr("198.18.0.0").As4(); !bytes.Equal(keys[0].Prefix[:4], want[:]) || keys[0].V6 != 0 {
			t.Errorf("%s: bucket prefix % x, want 198.18.0.0/24", c.name, keys[0].Prefix)
		}
	}
}

// TestRRLLimits: a flood of one bucket gets the burst, then every other
// reply slipped (the engine's truncated reply, byte for byte) and the
// rest dropped, counted; names under one delegation share its bucket;
// another prefix and an exempt client are not limited.
func TestRRLLimits(t *testing.T) {
	e := rrlEngine(t)
	l := loadRRL(t, e, rrl.Config{Rate: 5, Slip: 2, Prefix4: 24,
		Exempt: []netip.Prefix{netip.MustParsePrefix("198.18.7.0/24")}})
	q := query(t, "www.rrl.test.", dns.TypeA, dns.ClassINET, edns(1232, true, true))
	full := e.Respond(nil, q, false)
	slip := engine.Truncated(nil, full)
	before, err := l.Counters()
	if err != nil {
		t.Fatal(err)
	}
	var sent, slipped, dropped int
	for i := 0; i < 45; i++ {
		v, out := run(t, l.Program(), layout{}.build(q))
		switch {
		case v == xdpDrop:
			dropped++
		case v != xdpTX:
			t.Fatalf("query %d: verdict %d", i, v)
		default:
			p := checkReply(t, layout{}, out)
			switch {
			case bytes.Equal(p, full):
				sent++
			case bytes.Equal(p, slip):
				slipped++
			default:
				t.Fatalf("query %d: reply\n% x\nis neither the engine's\n% x\nnor its truncated form\n% x", i, p, full, slip)
			}
		}
	}
	if sent != 5 || slipped != 20 || dropped != 20 {
		t.Errorf("45 queries at rate 5, slip 2: %d sent, %d slipped, %d dropped; want 5, 20, 20", sent, slipped, dropped)
	}
	after, err := l.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if d := after["rrl.slipped"] - before["rrl.slipped"]; int(d) != slipped {
		t.Errorf("rrl.slipped counted %d, want %d", d, slipped)
	}
	if d := after["rrl.dropped"] - before["rrl.dropped"]; int(d) != dropped {
		t.Errorf("rrl.dropped counted %d, want %d", d, dropped)
	}
	// Referrals: five names below sub share the delegation's bucket.
	for i, n := range []string{"a", "b", "c", "d", "e", "f"} {
		v, _ := run(t, l.Program(), layout{}.build(query(t, n+".sub.rrl.test.", dns.TypeA, dns.ClassINET)))
		if want := uint32(xdpTX); i == 5 {
			if v != xdpDrop {
				t.Errorf("sixth referral under sub: verdict %d, want XDP_DROP", v)
			}
		} else if v != want {
			t.Errorf("referral %d under sub: verdict %d", i, v)
		}
	}
	// Another /24 gets its own burst; an exempt client has no limit.
	for src, n := range map[string]int{"198.19.0.2": 5, "198.18.7.9": 50} {
		for i := 0; i < n; i++ {
			if v, _ := run(t, l.Program(), from(src, q)); v != xdpTX {
				t.Fatalf("client %s, query %d: verdict %d", src, i, v)
			}
		}
	}
}

// TestCookiePass: with cookies on, a query with a COOKIE option goes to
// userspace (pass.cookie), one without is answered; with cookies
// required, every query goes up.
func TestCookiePass(t *testing.T) {
	requireRoot(t)
	e := rrlEngine(t)
	withCookie := query(t, "www.rrl.test.", dns.TypeA, dns.ClassINET, func(m *dns.Msg) {
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
	})
	plain := query(t, "www.rrl.test.", dns.TypeA, dns.ClassINET, edns(1232, false, false))
	for _, c := range []struct {
		mode            uint32
		cookieV, plainV uint32
		passed          uint64
	}{
		{abi.CookiesOff, xdpTX, xdpTX, 0},
		{abi.CookiesOn, xdpPass, xdpTX, 1},
		{abi.CookiesRequired, xdpPass, xdpPass, 2},
	} {
		l, err := loader.Load(loader.Options{Ports: []uint16{53}, AnyAddress: true, UDPSize: e.Config().UDPSize, Cookies: c.mode})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Swap(compile(t, e)); err != nil {
			t.Fatal(err)
		}
		before, _ := l.Counters()
		if v, _ := run(t, l.Program(), layout{}.build(withCookie)); v != c.cookieV {
			t.Errorf("cookies %d: query with a cookie: verdict %d, want %d", c.mode, v, c.cookieV)
		}
		if v, _ := run(t, l.Program(), layout{}.build(plain)); v != c.plainV {
			t.Errorf("cookies %d: query without: verdict %d, want %d", c.mode, v, c.plainV)
		}
		after, _ := l.Counters()
		if d := after["pass.cookie"] - before["pass.cookie"]; d != c.passed {
			t.Errorf("cookies %d: pass.cookie counted %d, want %d", c.mode, d, c.passed)
		}
		l.Close()
	}
}
