//go:build linux

package e2e

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/cookie"
	"github.com/xdpdns/xdpdns/internal/testsupport/netnstest"
)

// TestCookies asks with dig +cookie and kdig +cookie, over a real veth,
// a node with XDP attached natively (which answers the cookies in the
// driver) and one without: the server cookie that comes back verifies
// (RFC 9018, the client's address, the secret), returned it is valid
// (counted), and a tampered one gets a fresh cookie and is not counted
// valid. In native mode the answers must come from XDP.
func TestCookies(t *testing.T) {
	r := NewRig(t)
	const secretHex = "e5e973e5a6b2a43f48e7dc849e37bfcf"
	secret, _ := cookie.ParseSecret(secretHex)
	zf := filepath.Join(t.TempDir(), "ck.test.zone")
	if err := os.WriteFile(zf, []byte("$ORIGIN ck.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 198.18.0.53\nwww A 192.0.2.80\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?i)COOKIE: ([0-9a-f]{48})`)
	for _, mode := range []string{"native", "userspace"} {
		t.Run(mode, func(t *testing.T) {
			args := []string{"--zone", "ck.test=" + zf, "--listen", netip.AddrPortFrom(r.SrvV4, 53).String(), "--cookie-secret", secretHex}
			if mode == "native" {
				args = append(args, "--xdp", r.SrvIface+":native")
			}
			d := StartDaemon(t, bins, r.Srv, args...)
			ask := func(tool string, opt string) string {
				t.Helper()
				tries := "+tries=2"
				if tool == "kdig" {
					tries = "+retry=1"
				}
				out := netnstest.MustRun(t, r.Cli, tool, opt, tries, "+time=2", "@"+r.SrvV4.String(), "www.ck.test", "A")
				if !strings.Contains(out, "192.0.2.80") {
					t.Fatalf("%s %s: no answer\n%s", tool, opt, out)
				}
				m := re.FindStringSubmatch(out)
				if m == nil {
					t.Fatalf("%s %s: no cookie in the reply\n%s", tool, opt, out)
				}
				if tool == "dig" && !strings.Contains(out, "(good)") {
					t.Errorf("dig does not find the cookie good\n%s", out)
				}
				return strings.ToLower(m[1])
			}
			valid := func() uint64 { // counted by whichever path answered
				st := d.UserStats(t)
				return st.Server["cookie_valid"] + st.XDP["cookie.valid"]
			}
			verify := func(full string) bool {
				b, _ := hex.DecodeString(full)
				return cookie.Valid(b[8:], [8]byte(b[:8]), r.CliV4, uint32(time.Now().Unix()), secret)
			}
			start := d.UserStats(t)
			defer func() {
				end := d.UserStats(t)
				if mode == "native" && end.XDP["answer.answer"]-start.XDP["answer.answer"] < 6 {
					t.Errorf("native: %d of the cookie queries answered in XDP, want all 6", end.XDP["answer.answer"]-start.XDP["answer.answer"])
				}
			}()
			for _, tool := range []string{"dig", "kdig"} {
				got := ask(tool, "+cookie")
				if !verify(got) {
					t.Errorf("%s: server cookie %s does not verify for %v", tool, got, r.CliV4)
				}
				before := valid()
				again := ask(tool, "+cookie="+got)
				if !verify(again) || valid() != before+1 {
					t.Errorf("%s: the cookie returned was not counted valid (%d before), or the new one %s does not verify", tool, before, again)
				}
				tampered := got[:len(got)-2] + map[bool]string{true: "01", false: "00"}[strings.HasSuffix(got, "00")]
				before = valid()
				fresh := ask(tool, "+cookie="+tampered)
				if fresh == tampered || !verify(fresh) || valid() != before {
					t.Errorf("%s: a tampered cookie was taken, or not replaced by a good one (%s)", tool, fresh)
				}
			}
		})
	}
}

// TestCookieRotation: with cookie-require, clients that keep returning the
// cookie they last got lose no answer while the secret is rotated with
// xdpdnsctl (the previous secret stays valid), and a new cookie verifies
// with the new secret.
func TestCookieRotation(t *testing.T) {
	r := NewRig(t)
	zf := filepath.Join(t.TempDir(), "ck.test.zone")
	if err := os.WriteFile(zf, []byte("$ORIGIN ck.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 198.18.0.53\nwww A 192.0.2.80\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := StartDaemon(t, bins, r.Srv, "--zone", "ck.test="+zf, "--listen", netip.AddrPortFrom(r.SrvV4, 53).String(),
		"--xdp", r.SrvIface+":native", "--cookie-secret", "random", "--cookie-require", "on")
	server := netip.AddrPortFrom(r.SrvV4, 53).String()
	type result struct{ asked, answered, badcookie int }
	results := make(chan result, 4)
	stop := make(chan struct{})
	for w := 0; w < 4; w++ {
		go func(w int) {
			res := result{}
			defer func() { results <- res }()
			c, err := netnstest.DialFrom(r.Cli, "udp", nil, server, 5*time.Second)
			if err != nil {
				return
			}
			defer c.Close()
			cc := fmt.Sprintf("%016x", 0x1000+w)
			held := cc // the first query learns the cookie: BADCOOKIE
			buf := make([]byte, 4096)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				m := new(dns.Msg).SetQuestion("www.ck.test.", dns.TypeA)
				m.SetEdns0(1232, false)
				m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: held})
				q, _ := m.Pack()
				c.Write(q)
				c.SetReadDeadline(time.Now().Add(time.Second))
				n, err := c.Read(buf)
				if i > 0 {
					res.asked++
				}
				if err != nil {
					continue
				}
				rep := new(dns.Msg)
				if rep.Unpack(buf[:n]) != nil {
					continue
				}
				if o := rep.IsEdns0(); o != nil {
					for _, opt := range o.Option {
						if ck, ok := opt.(*dns.EDNS0_COOKIE); ok && len(ck.Cookie) == 48 {
							held = ck.Cookie
						}
					}
				}
				if i == 0 {
					continue
				}
				switch {
				case rep.Rcode == dns.RcodeSuccess && len(rep.Answer) == 1:
					res.answered++
				case rep.Rcode == dns.RcodeBadCookie:
					res.badcookie++
				}
				time.Sleep(5 * time.Millisecond)
			}
		}(w)
	}
	time.Sleep(300 * time.Millisecond)
	for i := 0; i < 3; i++ {
		out, err := d.Ctl("cookie-secret", "rotate")
		if err != nil || !strings.Contains(out, "new cookie secret") {
			t.Errorf("xdpdnsctl cookie-secret rotate: %v\n%s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	close(stop)
	total := result{}
	for w := 0; w < 4; w++ {
		r := <-results
		total.asked += r.asked
		total.answered += r.answered
		total.badcookie += r.badcookie
	}
	t.Logf("across 3 rotations: %d queries with a cookie, %d answered, %d BADCOOKIE", total.asked, total.answered, total.badcookie)
	if total.asked < 20 || total.answered != total.asked || total.badcookie != 0 {
		t.Errorf("across 3 rotations: %d asked, %d answered, %d BADCOOKIE: want every one answered", total.asked, total.answered, total.badcookie)
	}
}
