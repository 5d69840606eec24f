package server

import (
	"encoding/hex"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/cookie"
	"github.com/xdpdns/xdpdns/rrl"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
)

// startCookieServer serves testZone with cookies under secret.
func startCookieServer(t *testing.T, secret cookie.Secret, mod func(*Config)) *testServer {
	t.Helper()
	set := loadZones(t, "example.com.", testZone)
	eng := engine.New(engine.Config{Identity: "test", Cookies: true}, set)
	cfg := Config{Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}, UDPSockets: 1, CookieSecret: &secret}
	if mod != nil {
		mod(&cfg)
	}
	s := New(cfg, eng)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &testServer{Server: s, eng: eng, addr: s.Addrs()[0].String()}
}

// askCookie sends a query with COOKIE data (hex) over network and returns
// the reply and the cookie it carries (hex, "" if none).
func askCookie(t *testing.T, ts *testServer, network, data string) (*dns.Msg, string) {
	t.Helper()
	m := new(dns.Msg).SetQuestion("www.example.com.", dns.TypeA)
	m.SetEdns0(1232, false)
	if data != "" {
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: data})
	}
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, ts.addr)
	if err != nil {
		t.Fatalf("%s query: %v", network, err)
	}
	if o := r.IsEdns0(); o != nil {
		for _, opt := range o.Option {
			if ck, ok := opt.(*dns.EDNS0_COOKIE); ok {
				return r, ck.Cookie
			}
		}
	}
	return r, ""
}

// TestCookiesServed: a client cookie gets a server cookie that verifies
// (RFC 9018, for the client's address and the secret) over UDP and TCP;
// returned, it is valid (counted) and exempts the client from rate
// limiting; after a rotation the old cookie still verifies.
func TestCookiesServed(t *testing.T) {
	secret, _ := cookie.ParseSecret("e5e973e5a6b2a43f48e7dc849e37bfcf")
	ts := startCookieServer(t, secret, func(c *Config) { c.RRL = rrl.Config{Rate: 1, Slip: 0} })
	const cc = "2464c4abcf10c957"
	var held string
	for _, network := range []string{"udp", "tcp"} {
		r, got := askCookie(t, ts, network, cc)
		if r.Rcode != dns.RcodeSuccess || len(got) != 48 || got[:16] != cc {
			t.Fatalf("%s: rcode %d, cookie %q", network, r.Rcode, got)
		}
		b, _ := hex.DecodeString(got)
		if !cookie.Valid(b[8:], [8]byte(b[:8]), netip.MustParseAddr("127.0.0.1"), uint32(time.Now().Unix()), secret) {
			t.Errorf("%s: server cookie %s does not verify", network, got)
		}
		held = got
	}
	// Holding a valid cookie: never rate-limited (rate 1, 20 queries).
	for i := 0; i < 20; i++ {
		if r, got := askCookie(t, ts, "udp", held); r.Rcode != dns.RcodeSuccess || len(got) != 48 {
			t.Fatalf("query %d with a valid cookie: rcode %d, cookie %q", i, r.Rcode, got)
		}
	}
	if n := ts.Counters(); n["cookie_valid"] < 20 || n["rrl_dropped"] != 0 {
		t.Errorf("counters %v: want 20 valid cookies and nothing dropped", n)
	}
	next, _ := cookie.ParseSecret("445536bcd2513298075a5d379663c962")
	if prev, err := ts.RotateCookieSecret(next); err != nil || prev != secret {
		t.Fatal(err)
	}
	before := ts.Counters()["cookie_valid"]
	r, got := askCookie(t, ts, "udp", held)
	if r.Rcode != dns.RcodeSuccess || ts.Counters()["cookie_valid"] != before+1 {
		t.Errorf("after a rotation the cookie of the previous secret is not valid")
	}
	b, _ := hex.DecodeString(got)
	if !cookie.Valid(b[8:], [8]byte(b[:8]), netip.MustParseAddr("127.0.0.1"), uint32(time.Now().Unix()), next) {
		t.Errorf("after a rotation the new cookie is not made with the new secret")
	}
}

// TestCookieRequire: a UDP query without a valid server cookie gets
// BADCOOKIE with a fresh cookie; with no cookie at all, a truncated reply;
// TCP and valid cookies are answered.
func TestCookieRequire(t *testing.T) {
	secret, _ := cookie.ParseSecret("000102030405060708090a0b0c0d0e0f")
	ts := startCookieServer(t, secret, func(c *Config) { c.CookieRequire = true })
	r, got := askCookie(t, ts, "udp", "2464c4abcf10c957")
	if r.Rcode != dns.RcodeBadCookie || len(r.Answer) != 0 || len(got) != 48 {
		t.Fatalf("client cookie only: rcode %d, %d answers, cookie %q; want BADCOOKIE with a cookie", r.Rcode, len(r.Answer), got)
	}
	if r2, _ := askCookie(t, ts, "udp", got); r2.Rcode != dns.RcodeSuccess || len(r2.Answer) != 1 {
		t.Errorf("with the cookie learnt: rcode %d, %d answers", r2.Rcode, len(r2.Answer))
	}
	bad := got[:len(got)-2] + "00"
	if bad == got {
		bad = got[:len(got)-2] + "01"
	}
	if r3, _ := askCookie(t, ts, "udp", bad); r3.Rcode != dns.RcodeBadCookie {
		t.Errorf("tampered cookie: rcode %d, want BADCOOKIE", r3.Rcode)
	}
	c, err := net.Dial("udp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(packQuery(t, 7, "www.example.com.", dns.TypeA))
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	r4 := new(dns.Msg)
	if err != nil || r4.Unpack(buf[:n]) != nil || !r4.Truncated || len(r4.Answer) != 0 {
		t.Errorf("no cookie: %v %v, want a truncated reply", err, r4)
	}
	if r5, _ := askCookie(t, ts, "tcp", ""); r5.Rcode != dns.RcodeSuccess || len(r5.Answer) != 1 {
		t.Errorf("TCP without a cookie: rcode %d", r5.Rcode)
	}
	if n := ts.Counters(); n["cookie_badcookie"] != 2 || n["cookie_none_truncated"] != 1 {
		t.Errorf("counters %v", n)
	}
}
