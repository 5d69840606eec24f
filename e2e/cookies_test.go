//go:build linux

package e2e

import (
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xdpdns/xdpdns/cookie"
	"github.com/xdpdns/xdpdns/internal/testsupport/netnstest"
)

// TestCookies asks with dig +cookie and kdig +cookie, over a real veth,
// a node with XDP attached natively and one without: the server cookie
// that comes back verifies (RFC 9018, the client's address, the secret),
// returned it is valid (counted), and a tampered one gets a fresh cookie
// and is not counted valid.
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
			verify := func(full string) bool {
				b, _ := hex.DecodeString(full)
				return cookie.Valid(b[8:], [8]byte(b[:8]), r.CliV4, uint32(time.Now().Unix()), secret)
			}
			for _, tool := range []string{"dig", "kdig"} {
				got := ask(tool, "+cookie")
				if !verify(got) {
					t.Errorf("%s: server cookie %s does not verify for %v", tool, got, r.CliV4)
				}
				before := d.UserStats(t).Server["cookie_valid"]
				again := ask(tool, "+cookie="+got)
				if !verify(again) || d.UserStats(t).Server["cookie_valid"] != before+1 {
					t.Errorf("%s: the cookie returned was not counted valid (%d before), or the new one %s does not verify", tool, before, again)
				}
				tampered := got[:len(got)-2] + map[bool]string{true: "01", false: "00"}[strings.HasSuffix(got, "00")]
				before = d.UserStats(t).Server["cookie_valid"]
				fresh := ask(tool, "+cookie="+tampered)
				if fresh == tampered || !verify(fresh) || d.UserStats(t).Server["cookie_valid"] != before {
					t.Errorf("%s: a tampered cookie was taken, or not replaced by a good one (%s)", tool, fresh)
				}
			}
		})
	}
}
