//go:build linux

package loader_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/xdpdns/xdpdns/bpf"
	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/cookie"
	"github.com/xdpdns/xdpdns/loader"
	"github.com/xdpdns/xdpdns/rrl"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
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
	return testEngine(t, "rrl.test.", rrlZone, engine.Config{Identity: "xdp-test", NSID: []byte("node-1"), UDPSize: 1232})
}

// onOneCPU keeps the test's goroutine on one CPU until the test ends:
// the rate-limiting meters are each CPU's own (rrl_buckets), and a
// program run from another CPU meets a fresh one (a busy machine moves
// threads: 9 replies sent of a burst of 5 once, under make test).
func onOneCPU(t *testing.T) {
	t.Helper()
	runtime.LockOSThread()
	var all, one unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	for c := 0; c < 1024; c++ {
		if all.IsSet(c) {
			one.Set(c)
			break
		}
	}
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = unix.SchedSetaffinity(0, &all)
		runtime.UnlockOSThread()
	})
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
	onOneCPU(t)
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
	onOneCPU(t)
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
	start := time.Now()
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
	// A burst of 5, then one more for every 200 ms the queries took (a
	// busy machine runs them slowly); of the others every second slips.
	extra := int(time.Since(start) / (200 * time.Millisecond))
	if sent < 5 || sent > 5+extra || slipped != (45-sent)/2 || dropped != 45-sent-slipped {
		t.Errorf("45 queries at rate 5, slip 2 in %v: %d sent, %d slipped, %d dropped; want 5 (up to %d), then half slipped",
			time.Since(start), sent, slipped, dropped, 5+extra)
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
	start = time.Now()
	for i, n := range []string{"a", "b", "c", "d", "e", "f"} {
		v, _ := run(t, l.Program(), layout{}.build(query(t, n+".sub.rrl.test.", dns.TypeA, dns.ClassINET)))
		if want := uint32(xdpTX); i == 5 {
			if v != xdpDrop && time.Since(start) < 200*time.Millisecond {
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

// cookieQuery is www.rrl.test. A with EDNS and a COOKIE option (hex).
func cookieQuery(t *testing.T, data string) []byte {
	return query(t, "www.rrl.test.", dns.TypeA, dns.ClassINET, func(m *dns.Msg) {
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: data})
	})
}

// TestXDPCookies: the program answers DNS Cookies itself, byte for byte
// the engine's reply with the server cookie package cookie makes for the
// client, the secret and the reply's timestamp (within seconds of now);
// a returned cookie is valid (counted, exempt from rate limiting, and
// accepted under cookie-require, where a query without one goes to
// userspace); after a rotation the previous secret's cookies still pass;
// a malformed option goes to userspace (FORMERR there).
func TestXDPCookies(t *testing.T) {
	requireRoot(t)
	secret, _ := cookie.ParseSecret("e5e973e5a6b2a43f48e7dc849e37bfcf")
	e := testEngine(t, "rrl.test.", rrlZone, engine.Config{NSID: []byte("node-1"), UDPSize: 1232, Cookies: true})
	client := ip4Client
	for _, mode := range []uint32{abi.CookiesOn, abi.CookiesRequired} {
		l, err := loader.Load(loader.Options{Ports: []uint16{53}, AnyAddress: true, UDPSize: 1232, NSID: []byte("node-1"),
			Cookies: mode, CookieSecret: secret[:], RRL: loader.RRL{Rate: 1, Slip: 0, Prefix4: 24, Prefix6: 56, Window: time.Second, TableSize: 1024}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Swap(compile(t, e)); err != nil {
			t.Fatal(err)
		}
		// A client cookie only: answered in XDP only when cookies are on.
		q := cookieQuery(t, "2464c4abcf10c957")
		if mode == abi.CookiesRequired {
			v, _ := run(t, l.Program(), layout{}.build(q))
			if v != xdpPass {
				t.Errorf("cookie-require, client cookie only: verdict %d, want XDP_PASS (BADCOOKIE from userspace)", v)
			}
		} else {
			for _, f := range []layout{{}, {v6: true}} {
				v, out := run(t, l.Program(), f.build(q))
				if v != xdpTX {
					t.Fatalf("client cookie only (IPv6 %v): verdict %d", f.v6, v)
				}
				p := checkReply(t, f, out)
				ts := binary.BigEndian.Uint32(p[len(p)-12:])
				if d := int64(ts) - time.Now().Unix(); d < -5 || d > 5 {
					t.Errorf("the cookie's timestamp %d is %d s from now", ts, d)
				}
				want := e.Respond(nil, q, false)
				from := client
				if f.v6 {
					from = ip6Client
				}
				cookie.Fill(want, from, ts, secret)
				if !bytes.Equal(p, want) {
					t.Errorf("XDP reply with a cookie (IPv6 %v)\n% x\nthe engine's, filled by package cookie\n% x", f.v6, p, want)
				}
			}
		}
		// A valid server cookie: answered in XDP, counted, never limited.
		sc := cookie.Server(secret, [8]byte{0x24, 0x64, 0xc4, 0xab, 0xcf, 0x10, 0xc9, 0x57}, client, uint32(time.Now().Unix()))
		held := "2464c4abcf10c957" + hex.EncodeToString(sc[:])
		before, _ := l.Counters()
		for i := 0; i < 5; i++ {
			if v, _ := run(t, l.Program(), layout{}.build(cookieQuery(t, held))); v != xdpTX {
				t.Errorf("cookies %d, valid cookie, query %d: verdict %d, want XDP_TX (rate 1, but exempt)", mode, i, v)
			}
		}
		after, _ := l.Counters()
		if d := after["cookie.valid"] - before["cookie.valid"]; d != 5 {
			t.Errorf("cookies %d: cookie.valid counted %d, want 5", mode, d)
		}
		// Rotation: the previous secret's cookie still passes.
		next, _ := cookie.ParseSecret("445536bcd2513298075a5d379663c962")
		if err := l.SetCookieSecrets(next[:], secret[:]); err != nil {
			t.Fatal(err)
		}
		if v, _ := run(t, l.Program(), layout{}.build(cookieQuery(t, held))); v != xdpTX {
			t.Errorf("cookies %d: the previous secret's cookie after a rotation: verdict %d", mode, v)
		}
		if mode == abi.CookiesRequired {
			if v, _ := run(t, l.Program(), layout{}.build(query(t, "www.rrl.test.", dns.TypeA, dns.ClassINET))); v != xdpPass {
				t.Errorf("cookie-require, no cookie: verdict %d, want XDP_PASS", v)
			}
		}
		before, _ = l.Counters()
		if v, _ := run(t, l.Program(), layout{}.build(cookieQuery(t, "0102030405"))); v != xdpPass {
			t.Errorf("cookies %d, malformed cookie: verdict %d, want XDP_PASS", mode, v)
		}
		after, _ = l.Counters()
		if after["pass.cookie"]-before["pass.cookie"] != 1 {
			t.Errorf("cookies %d: the malformed cookie not counted pass.cookie", mode)
		}
		l.Close()
	}
}
