package server

import (
	"time"

	"fmt"
	"github.com/miekg/dns"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/xdpdns/xdpdns/tsig"
)

// tsigKey is the test's key, as tsig-keygen prints one.
const (
	tsigName   = "xfr-key"
	tsigSecret = "8gmhS1cNcBcRTBWiH0/M0cY9Xf7D1cnEmCmfQ2yTXf0="
)

// TestTSIGTransfersWithRealClients transfers a zone large enough to take
// several messages with dig and kdig signing with the key a keyed
// axfr-allow asks for (both clients verify every signed message), and
// checks the refusals: no key (REFUSED), a wrong secret (BADSIG), an
// unknown key (BADKEY), each counted.
func TestTSIGTransfersWithRealClients(t *testing.T) {
	key, err := tsig.Parse(tsigName, "hmac-sha256", tsigSecret)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(testZone)
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&b, "big%d 300 IN TXT \"%s\"\n", i, strings.Repeat("x", 200))
	}
	ts := startServerZones(t, loadZones(t, "example.com.", b.String()), func(c *Config) {
		c.AXFRAllowKeyed = []KeyedPrefix{{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Key: tsigName}}
		c.Keys = tsig.Ring{key.Name: key}
		c.XFRMessageSize = 4096
	})
	host, port, _ := strings.Cut(ts.addr, ":")
	run := func(name string, args ...string) string {
		t.Helper()
		bin, err := exec.LookPath(name)
		if err != nil {
			t.Skipf("%s not installed (make deps installs it)", name)
		}
		out, _ := exec.Command(bin, args...).CombinedOutput()
		return string(out)
	}
	dig := func(extra ...string) string {
		return run("dig", append([]string{"@" + host, "-p", port, "example.com.", "AXFR", "+time=5", "+tries=1"}, extra...)...)
	}
	out := dig("-y", "hmac-sha256:"+tsigName+":"+tsigSecret)
	if !strings.Contains(out, "big299.example.com.") || strings.Contains(out, "Transfer failed") || strings.Contains(out, "verify") {
		t.Errorf("dig with the key:\n%s", tail(out))
	}
	out = run("kdig", "@"+host, "-p", port, "example.com.", "AXFR", "-y", "hmac-sha256:"+tsigName+":"+tsigSecret)
	if !strings.Contains(out, "big299.example.com.") || strings.Contains(strings.ToLower(out), "failed") {
		t.Errorf("kdig with the key:\n%s", tail(out))
	}
	if out := dig(); !strings.Contains(out, "Transfer failed") {
		t.Errorf("dig without the key was not refused:\n%s", tail(out))
	}
	before := ts.Counters()
	dig("-y", "hmac-sha256:"+tsigName+":"+strings.Replace(tsigSecret, "8g", "9h", 1))
	dig("-y", "hmac-sha256:other-key:"+tsigSecret)
	after := ts.Counters()
	if after["xfr_tsig_badsig"]-before["xfr_tsig_badsig"] != 1 || after["xfr_tsig_badkey"]-before["xfr_tsig_badkey"] != 1 {
		t.Errorf("TSIG refusals counted %v -> %v, want one BADSIG and one BADKEY", before, after)
	}

	// Signed an hour ago: BADTIME, in a NOTAUTH reply signed with the key.
	m := new(dns.Msg).SetAxfr("example.com.")
	m.SetTsig(key.Name, key.Algorithm, 300, time.Now().Add(-time.Hour).Unix())
	c := &dns.Client{Net: "tcp", Timeout: testTimeout, TsigSecret: map[string]string{key.Name: tsigSecret}}
	r, _, err := c.Exchange(m, ts.addr)
	if r == nil || r.Rcode != dns.RcodeNotAuth || r.IsTsig() == nil || r.IsTsig().Error != dns.RcodeBadTime {
		t.Errorf("a request signed an hour ago: %v (err %v), want NOTAUTH with TSIG error BADTIME", r, err)
	}
	if n := ts.Counters()["xfr_tsig_badtime"]; n != 1 {
		t.Errorf("xfr_tsig_badtime = %d, want 1", n)
	}
}

// tail is the end of a long output.
func tail(s string) string {
	if len(s) > 1500 {
		return "…" + s[len(s)-1500:]
	}
	return s
}
