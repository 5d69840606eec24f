package interoptest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/interop"
)

// StartUnbound runs a validating Unbound that reaches the given zones only
// through stub zones pointing at auth, with trustAnchor (a DS record in
// presentation format) as the only trust anchor.
func StartUnbound(t testing.TB, auth *interop.Server, trustAnchor string, zones []interop.Zone) *interop.Server {
	t.Helper()
	bin := requireBinary(t, "unbound")
	check := requireBinary(t, "unbound-checkconf")
	dir := t.TempDir()
	conf := filepath.Join(dir, "unbound.conf")
	anchor := filepath.Join(dir, "anchor.ds")
	writeFile(t, anchor, trustAnchor+"\n")
	authAddr := strings.Replace(auth.Addr, ":", "@", 1)
	return launch(t, "unbound", bin, anyReplyProbe, func(port int) []string {
		var b strings.Builder
		fmt.Fprintf(&b, "server:\n")
		fmt.Fprintf(&b, "  interface: 127.0.0.1\n  port: %d\n", port)
		fmt.Fprintf(&b, "  do-ip6: no\n  do-daemonize: no\n  chroot: \"\"\n  username: \"\"\n")
		fmt.Fprintf(&b, "  directory: %q\n  pidfile: %q\n", dir, filepath.Join(dir, "unbound.pid"))
		fmt.Fprintf(&b, "  use-syslog: no\n  logfile: \"\"\n  verbosity: 1\n  val-log-level: 2\n")
		fmt.Fprintf(&b, "  num-threads: 1\n  access-control: 127.0.0.0/8 allow\n")
		fmt.Fprintf(&b, "  do-not-query-localhost: no\n  qname-minimisation: no\n")
		fmt.Fprintf(&b, "  module-config: \"validator iterator\"\n  val-permissive-mode: no\n")
		fmt.Fprintf(&b, "  trust-anchor-file: %q\n", anchor)
		fmt.Fprintf(&b, "  target-fetch-policy: \"0 0 0 0 0\"\n")
		// test. is special-use (RFC 6761): Unbound answers it locally by default.
		fmt.Fprintf(&b, "  local-zone: \"test.\" nodefault\n")
		fmt.Fprintf(&b, "remote-control:\n  control-enable: no\n")
		for _, z := range zones {
			fmt.Fprintf(&b, "stub-zone:\n  name: %q\n  stub-addr: %s\n", z.Origin, authAddr)
		}
		if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
			t.Fatalf("write unbound.conf: %v", err)
		}
		if out, err := runCheck(check, conf); err != nil {
			t.Fatalf("unbound-checkconf: %v\n%s\n%s", err, out, b.String())
		}
		return []string{"-d", "-c", conf}
	})
}

// anyReplyProbe succeeds once the server answers anything over UDP.
func anyReplyProbe(ctx context.Context, addr string) error {
	c := &dns.Client{Net: "udp", Timeout: 300 * time.Millisecond}
	q := new(dns.Msg)
	q.SetQuestion("id.server.", dns.TypeTXT)
	q.Question[0].Qclass = dns.ClassCHAOS
	_, _, err := c.ExchangeContext(ctx, q, addr)
	return err
}
