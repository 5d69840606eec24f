package interop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// StartUnbound runs a validating Unbound that reaches the given zones only
// through stub zones pointing at auth, with trustAnchor (a DS record in
// presentation format) as the only trust anchor.
func StartUnbound(t testing.TB, auth *Server, trustAnchor string, zones []Zone) *Server {
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

// ResolverCase is one query to the validating resolver and what it must
// answer.
type ResolverCase struct {
	Name  string
	Type  uint16
	Rcode int
	// Secure is the expected AD bit (ignored when Rcode is SERVFAIL).
	Secure bool
	// OptOut marks answers whose proof rests on an NSEC3 that covers
	// (not matches) a name: in an opt-out zone, where every NSEC3 carries
	// the opt-out flag, they are insecure (RFC 5155 §8.4, §9.2).
	OptOut bool
	// Want is a record (presentation format, TTL ignored) the answer
	// section must contain; "" for none.
	Want string
}

// Resolve asks the resolver at addr with RD and DO set and checks the reply
// against c.
func (c ResolverCase) Resolve(ctx context.Context, addr string) error {
	m := new(dns.Msg)
	m.SetQuestion(c.Name, c.Type)
	m.RecursionDesired = true
	m.SetEdns0(1232, true)
	cl := &dns.Client{Net: "udp", Timeout: 10 * time.Second}
	r, _, err := cl.ExchangeContext(ctx, m, addr)
	if err != nil {
		return fmt.Errorf("%s %s: %w", c.Name, dns.TypeToString[c.Type], err)
	}
	var problems []string
	if r.Rcode != c.Rcode {
		problems = append(problems, fmt.Sprintf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[c.Rcode]))
	}
	if c.Rcode != dns.RcodeServerFailure && r.AuthenticatedData != c.Secure {
		problems = append(problems, fmt.Sprintf("AD=%v, want %v", r.AuthenticatedData, c.Secure))
	}
	if c.Want != "" && !containsRR(r.Answer, c.Want) {
		problems = append(problems, fmt.Sprintf("answer lacks %q", c.Want))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s %s: %s\n%s", c.Name, dns.TypeToString[c.Type], strings.Join(problems, "; "),
			Brief(Reply{Server: "unbound", Msg: r}))
	}
	return nil
}

// containsRR reports whether rrs holds want, compared without TTL.
func containsRR(rrs []dns.RR, want string) bool {
	w, err := dns.NewRR(want)
	if err != nil {
		return false
	}
	w.Header().Ttl = 0
	for _, rr := range rrs {
		c := dns.Copy(rr)
		c.Header().Ttl = 0
		if NormRR(c) == NormRR(w) {
			return true
		}
	}
	return false
}
