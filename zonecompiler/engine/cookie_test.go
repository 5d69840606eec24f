package engine

import (
	"bytes"
	"testing"

	"github.com/miekg/dns"
)

// cookieQuery is query with a COOKIE option of data (hex).
func cookieQuery(t *testing.T, name string, data string) []byte {
	m := query(name, dns.TypeA, false, true)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: data})
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCookies: with Config.Cookies a query's client cookie comes back
// followed by CookieLen zeros at the very end of the reply (for the
// server to fill), through the cache too; a malformed option gets
// FORMERR; BadCookie answers BADCOOKIE with the same option; without
// Config.Cookies the option is ignored.
func TestCookies(t *testing.T) {
	on := newTestEngine(t, Config{Cookies: true, NSID: []byte("n1")}, [2]string{"example.", testZone})
	off := newTestEngine(t, Config{}, [2]string{"example.", testZone})
	q := cookieQuery(t, "host.example.", "0102030405060708")
	c := NewCache(1 << 20)
	for i, out := range [][]byte{on.Respond(nil, q, false), on.Respond(nil, q, true), func() []byte { b, _ := on.RespondUDP(c, nil, q); return b }(),
		func() []byte { on.RespondUDP(c, nil, q); b, _ := on.RespondUDP(c, nil, q); return b }()} {
		want := append([]byte{0, 10, 0, 24, 1, 2, 3, 4, 5, 6, 7, 8}, make([]byte, CookieLen)...)
		if !bytes.HasSuffix(out, want) {
			t.Errorf("reply %d does not end with the cookie option to fill: % x", i, out[max(0, len(out)-40):])
		}
		r := new(dns.Msg)
		if err := r.Unpack(out); err != nil || len(r.Answer) != 1 {
			t.Errorf("reply %d: %v %v", i, err, r)
		}
	}
	// With a server cookie the client held: the same, a fresh one to fill.
	q2 := cookieQuery(t, "host.example.", "0102030405060708"+"01000000aabbccdd0011223344556677")
	if out := on.Respond(nil, q2, false); !bytes.HasSuffix(out, append([]byte{0, 10, 0, 24, 1, 2, 3, 4, 5, 6, 7, 8}, make([]byte, CookieLen)...)) {
		t.Errorf("reply to a client holding a server cookie: % x", out)
	}
	for _, bad := range []string{"01020304", "010203040506070809", "0102030405060708" + "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021"} {
		r := new(dns.Msg)
		if err := r.Unpack(on.Respond(nil, cookieQuery(t, "host.example.", bad), false)); err != nil || r.Rcode != dns.RcodeFormatError {
			t.Errorf("cookie of %d bytes: rcode %v (%v), want FORMERR", len(bad)/2, r.Rcode, err)
		}
		r = new(dns.Msg)
		if err := r.Unpack(off.Respond(nil, cookieQuery(t, "host.example.", bad), false)); err != nil || r.Rcode != dns.RcodeSuccess {
			t.Errorf("cookies off, cookie of %d bytes: rcode %v (%v), want the answer", len(bad)/2, r.Rcode, err)
		}
	}
	if out := off.Respond(nil, q, false); bytes.Contains(out, []byte{0, 10, 0, 24}) {
		t.Errorf("cookies off: the reply has a cookie option: % x", out)
	}
	bc := on.BadCookie(nil, q2)
	r := new(dns.Msg)
	if err := r.Unpack(bc); err != nil || r.Rcode != dns.RcodeBadCookie || len(r.Answer) != 0 || len(r.Question) != 1 {
		t.Fatalf("BadCookie: %v\n%v", err, r)
	}
	if !bytes.HasSuffix(bc, append([]byte{0, 10, 0, 24, 1, 2, 3, 4, 5, 6, 7, 8}, make([]byte, CookieLen)...)) {
		t.Errorf("BADCOOKIE does not end with the cookie to fill: % x", bc)
	}
	if on.BadCookie(nil, cookieQuery(t, "host.example.", "01020304")) != nil {
		t.Error("BADCOOKIE to a malformed cookie")
	}
}
