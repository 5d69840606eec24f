package interop

import (
	"strings"

	"github.com/miekg/dns"
)

// Allowance is a difference between two servers' replies that the DNS
// specifications leave to the implementation. Every allowed difference is
// listed in Allowances, with its reason; any other difference fails.
type Allowance struct {
	Name   string
	Reason string
	// Match reports whether difference d between replies a and b to q is
	// of this kind.
	Match func(q Query, a, b *dns.Msg, d Diff) bool
}

// Allowances is the one list of allowed differences.
func Allowances() []Allowance {
	return []Allowance{
		{
			Name: "truncated-contents",
			Reason: "RFC 2181 §9: a TC=1 reply is incomplete and the client retries over TCP; " +
				"which records (if any) a truncated reply keeps is the server's choice",
			Match: func(q Query, a, b *dns.Msg, d Diff) bool {
				return isSection(d.Field) && a.Truncated && b.Truncated
			},
		},
		{
			Name: "additional-optional",
			Reason: "RFC 1034 §4.3.2 step 6, RFC 2181 §9: additional-section addresses are optional " +
				"(\"minimal responses\"); only in-bailiwick glue of a referral is required (RFC 9471)",
			Match: func(q Query, a, b *dns.Msg, d Diff) bool {
				if d.Field != "additional" {
					return false
				}
				targets := targetNames(a, b)
				for _, rr := range append(append([]dns.RR{}, d.OnlyA...), d.OnlyB...) {
					owner := strings.ToLower(rr.Header().Name)
					if !isAddress(rr) || !targets[owner] || isRequiredGlue(owner, a) || isRequiredGlue(owner, b) {
						return false
					}
				}
				return true
			},
		},
		{
			Name: "authority-ns-optional",
			Reason: "RFC 1034 §6.2.1, RFC 2181 §6.1: a positive answer may carry the zone's NS RRset " +
				"in the authority section; omitting it is the common minimal-responses policy",
			Match: func(q Query, a, b *dns.Msg, d Diff) bool {
				if d.Field != "authority" || len(a.Answer) == 0 || len(b.Answer) == 0 ||
					a.Rcode != dns.RcodeSuccess || b.Rcode != dns.RcodeSuccess {
					return false
				}
				for _, rr := range append(append([]dns.RR{}, d.OnlyA...), d.OnlyB...) {
					if coveredType(rr) != dns.TypeNS {
						return false
					}
				}
				return true
			},
		},
		{
			Name: "any-minimised",
			Reason: "RFC 8482 §4: a server may answer QTYPE=ANY with a subset of the RRsets at the name " +
				"(or a synthesised HINFO), so the record sections of ANY replies are implementation-defined",
			Match: func(q Query, a, b *dns.Msg, d Diff) bool {
				return q.Type == dns.TypeANY && q.Class == dns.ClassINET &&
					(isSection(d.Field) || d.Field == "tc") && answersANY(q, a) && answersANY(q, b)
			},
		},
		{
			Name: "extended-error-optional",
			Reason: "RFC 8914 §3: Extended DNS Error options MAY be added; NSD and Knot add " +
				"EDE 20 (Not Authoritative) and 18 (Prohibited) to REFUSED, others add none",
			Match: func(q Query, a, b *dns.Msg, d Diff) bool {
				return d.Field == "edns.options" && withoutEDE(a) == withoutEDE(b)
			},
		},
		{
			Name: "chaos-identity",
			Reason: "RFC 4892 §2: CHAOS id.server/hostname.bind/version.bind are outside every zone; " +
				"AA on them (BIND sets it, NSD/Knot do not) and whether a version is disclosed are server policy",
			Match: func(q Query, a, b *dns.Msg, d Diff) bool {
				if q.Class != dns.ClassCHAOS {
					return false
				}
				if d.Field == "aa" {
					return true
				}
				version := strings.HasPrefix(strings.ToLower(q.Name), "version.")
				return version && (d.Field == "rcode" || d.Field == "answer" || d.Field == "edns.options")
			},
		},
	}
}

// FilterAllowed removes the allowed differences from ds and returns the
// rest, with the names of the allowances used.
func FilterAllowed(allowed []Allowance, q Query, a, b *dns.Msg, ds []Diff) (rest []Diff, used []string) {
next:
	for _, d := range ds {
		if a != nil && b != nil {
			for _, al := range allowed {
				if al.Match(q, a, b, d) {
					used = append(used, al.Name)
					continue next
				}
			}
		}
		rest = append(rest, d)
	}
	return rest, used
}

// coveredType is the type of rr, or for an RRSIG the type it covers.
func coveredType(rr dns.RR) uint16 {
	if sig, ok := rr.(*dns.RRSIG); ok {
		return sig.TypeCovered
	}
	return rr.Header().Rrtype
}

// isAddress reports whether rr is an A or AAAA record or its signature.
func isAddress(rr dns.RR) bool {
	t := coveredType(rr)
	return t == dns.TypeA || t == dns.TypeAAAA
}

// targetNames are the names that answer or authority records of the
// replies point at and whose addresses may be additional data.
func targetNames(msgs ...*dns.Msg) map[string]bool {
	names := map[string]bool{}
	for _, m := range msgs {
		for _, rr := range append(append([]dns.RR{}, m.Answer...), m.Ns...) {
			switch v := rr.(type) {
			case *dns.NS:
				names[strings.ToLower(v.Ns)] = true
			case *dns.MX:
				names[strings.ToLower(v.Mx)] = true
			case *dns.SRV:
				names[strings.ToLower(v.Target)] = true
			}
		}
	}
	return names
}

// isRequiredGlue reports whether name is an in-bailiwick name server of a
// referral in m, whose address RFC 9471 requires in the additional section.
func isRequiredGlue(name string, m *dns.Msg) bool {
	if m.Authoritative || len(m.Answer) != 0 {
		return false
	}
	for _, rr := range m.Ns {
		if ns, ok := rr.(*dns.NS); ok && strings.EqualFold(ns.Ns, name) && dns.IsSubDomain(strings.ToLower(ns.Hdr.Name), name) {
			return true
		}
	}
	return false
}

// answersANY reports whether m is a plausible reply to an ANY query: a
// NOERROR whose answer records are all owned by the query name, by a DNAME
// above it, or by a CNAME target met on the way (RFC 8482 allows any subset
// of the RRsets at the final name, or TC=1).
func answersANY(q Query, m *dns.Msg) bool {
	if m.Rcode != dns.RcodeSuccess {
		return false
	}
	owners := map[string]bool{strings.ToLower(q.Name): true}
	for _, rr := range m.Answer {
		switch v := rr.(type) {
		case *dns.CNAME:
			owners[strings.ToLower(v.Target)] = true
		case *dns.DNAME:
			if dns.IsSubDomain(strings.ToLower(v.Hdr.Name), strings.ToLower(q.Name)) {
				owners[strings.ToLower(v.Hdr.Name)] = true
			}
		}
	}
	for _, rr := range m.Answer {
		if !owners[strings.ToLower(rr.Header().Name)] {
			return false
		}
	}
	return true
}

// withoutEDE lists m's EDNS options other than Extended DNS Errors.
func withoutEDE(m *dns.Msg) string {
	o := m.IsEdns0()
	if o == nil {
		return ""
	}
	kept := *o
	kept.Option = nil
	for _, e := range o.Option {
		if e.Option() != dns.EDNS0EDE {
			kept.Option = append(kept.Option, e)
		}
	}
	return optionsText(&kept)
}
