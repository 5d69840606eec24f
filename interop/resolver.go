package interop

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

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
