package interop

import (
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Reply is one server's answer to a query.
type Reply struct {
	Server string
	Msg    *dns.Msg
	Size   int // octets on the wire
	Err    error
}

// Diff is one field in which two replies to the same query differ.
type Diff struct {
	// Field is the part of the message: "error", "rcode", "opcode", a
	// header flag ("qr", "aa", "tc", "rd", "ra", "ad", "cd"), "question",
	// a section ("answer", "authority", "additional") or an EDNS field
	// ("edns", "edns.do", "edns.udpsize", "edns.version", "edns.options").
	Field string
	// A and B are the two values; for sections, the records found only
	// in one reply (normalised, one per line).
	A, B string
	// OnlyA and OnlyB are the records of a section difference.
	OnlyA, OnlyB []dns.RR
}

func (d Diff) String() string {
	return fmt.Sprintf("%s: %s | %s", d.Field, d.A, d.B)
}

// isSection reports whether field names a record section.
func isSection(field string) bool {
	return field == "answer" || field == "authority" || field == "additional"
}

// CompareReplies lists every difference between a and b, before the
// allowed differences are taken out.
func CompareReplies(a, b Reply) []Diff {
	if a.Err != nil || b.Err != nil {
		if a.Err != nil && b.Err != nil {
			return nil
		}
		return []Diff{{Field: "error", A: errText(a.Err), B: errText(b.Err)}}
	}
	ma, mb := a.Msg, b.Msg
	var ds []Diff
	cmp := func(field string, x, y any) {
		if x != y {
			ds = append(ds, Diff{Field: field, A: fmt.Sprint(x), B: fmt.Sprint(y)})
		}
	}
	cmp("rcode", dns.RcodeToString[ma.Rcode], dns.RcodeToString[mb.Rcode])
	cmp("opcode", ma.Opcode, mb.Opcode)
	cmp("qr", ma.Response, mb.Response)
	cmp("aa", ma.Authoritative, mb.Authoritative)
	cmp("tc", ma.Truncated, mb.Truncated)
	cmp("rd", ma.RecursionDesired, mb.RecursionDesired)
	cmp("ra", ma.RecursionAvailable, mb.RecursionAvailable)
	cmp("ad", ma.AuthenticatedData, mb.AuthenticatedData)
	cmp("cd", ma.CheckingDisabled, mb.CheckingDisabled)
	cmp("z", ma.Zero, mb.Zero)
	cmp("question", questionText(ma), questionText(mb))

	ds = append(ds, compareSection("answer", ma.Answer, mb.Answer)...)
	ds = append(ds, compareSection("authority", ma.Ns, mb.Ns)...)
	ds = append(ds, compareSection("additional", withoutOPT(ma.Extra), withoutOPT(mb.Extra))...)

	ea, eb := ma.IsEdns0(), mb.IsEdns0()
	cmp("edns", ea != nil, eb != nil)
	if ea != nil && eb != nil {
		cmp("edns.do", ea.Do(), eb.Do())
		cmp("edns.udpsize", ea.UDPSize(), eb.UDPSize())
		cmp("edns.version", ea.Version(), eb.Version())
		cmp("edns.options", optionsText(ea), optionsText(eb))
	}
	return ds
}

// compareSection compares two sections as multisets of normalised records.
func compareSection(field string, a, b []dns.RR) []Diff {
	onlyA, onlyB := multisetDiff(a, b)
	if len(onlyA) == 0 && len(onlyB) == 0 {
		return nil
	}
	return []Diff{{Field: field, A: rrsText(onlyA), B: rrsText(onlyB), OnlyA: onlyA, OnlyB: onlyB}}
}

// multisetDiff returns the records of a not in b and of b not in a.
func multisetDiff(a, b []dns.RR) (onlyA, onlyB []dns.RR) {
	count := map[string]int{}
	for _, rr := range b {
		count[NormRR(rr)]++
	}
	for _, rr := range a {
		k := NormRR(rr)
		if count[k] > 0 {
			count[k]--
			continue
		}
		onlyA = append(onlyA, rr)
	}
	countA := map[string]int{}
	for _, rr := range a {
		countA[NormRR(rr)]++
	}
	for _, rr := range b {
		k := NormRR(rr)
		if countA[k] > 0 {
			countA[k]--
			continue
		}
		onlyB = append(onlyB, rr)
	}
	return onlyA, onlyB
}

// NormRR renders a record with every domain name lower-cased (owner and
// names in RDATA), so that replies to differently cased queries compare
// equal; TTL, class and the rest are kept exactly.
func NormRR(rr dns.RR) string {
	rr = dns.Copy(rr)
	h := rr.Header()
	h.Name = strings.ToLower(h.Name)
	switch v := rr.(type) {
	case *dns.CNAME:
		v.Target = strings.ToLower(v.Target)
	case *dns.DNAME:
		v.Target = strings.ToLower(v.Target)
	case *dns.NS:
		v.Ns = strings.ToLower(v.Ns)
	case *dns.MX:
		v.Mx = strings.ToLower(v.Mx)
	case *dns.SOA:
		v.Ns, v.Mbox = strings.ToLower(v.Ns), strings.ToLower(v.Mbox)
	case *dns.SRV:
		v.Target = strings.ToLower(v.Target)
	case *dns.PTR:
		v.Ptr = strings.ToLower(v.Ptr)
	case *dns.RRSIG:
		v.SignerName = strings.ToLower(v.SignerName)
	case *dns.NSEC:
		v.NextDomain = strings.ToLower(v.NextDomain)
	}
	return rr.String()
}

func withoutOPT(rrs []dns.RR) []dns.RR {
	return slices.DeleteFunc(slices.Clone(rrs), func(rr dns.RR) bool { return rr.Header().Rrtype == dns.TypeOPT })
}

func questionText(m *dns.Msg) string {
	var parts []string
	for _, q := range m.Question {
		parts = append(parts, fmt.Sprintf("%s %s %s", q.Name, dns.ClassToString[q.Qclass], dns.TypeToString[q.Qtype]))
	}
	return strings.Join(parts, ", ")
}

func optionsText(o *dns.OPT) string {
	var parts []string
	for _, e := range o.Option {
		parts = append(parts, fmt.Sprintf("%d=%s", e.Option(), e.String()))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

func rrsText(rrs []dns.RR) string {
	if len(rrs) == 0 {
		return "-"
	}
	var parts []string
	for _, rr := range rrs {
		parts = append(parts, shortRR(rr))
	}
	return strings.Join(parts, "; ")
}

func errText(err error) string {
	if err == nil {
		return "reply"
	}
	return "error: " + err.Error()
}

// CheckReply lists violations of rules every authoritative reply obeys,
// whatever other servers say: QR set, RA clear, opcode and question echoed
// with the client's exact case, EDNS answered with EDNS, no TC over TCP.
func CheckReply(q Query, r Reply) []string {
	if r.Err != nil {
		return []string{r.Err.Error()}
	}
	m := r.Msg
	var bad []string
	if !m.Response {
		bad = append(bad, "QR=0")
	}
	if m.RecursionAvailable {
		bad = append(bad, "RA=1 from an authoritative-only server")
	}
	if m.Opcode != dns.OpcodeQuery {
		bad = append(bad, fmt.Sprintf("opcode %d", m.Opcode))
	}
	if len(m.Question) != 1 {
		bad = append(bad, fmt.Sprintf("%d questions", len(m.Question)))
	} else if got := m.Question[0]; got.Name != q.Name || got.Qtype != q.Type || got.Qclass != q.Class {
		bad = append(bad, fmt.Sprintf("question not echoed exactly: sent %q, got %q %s %s",
			q.Name, got.Name, dns.ClassToString[got.Qclass], dns.TypeToString[got.Qtype]))
	}
	if m.RecursionDesired != q.RD {
		bad = append(bad, "RD not copied")
	}
	if q.EDNS && m.IsEdns0() == nil && m.Rcode != dns.RcodeFormatError {
		bad = append(bad, "EDNS query answered without OPT")
	}
	if !q.EDNS && m.IsEdns0() != nil {
		bad = append(bad, "OPT in reply to a query without EDNS")
	}
	if q.TCP && m.Truncated {
		bad = append(bad, "TC=1 over TCP")
	}
	if limit := udpLimit(q); !q.TCP && r.Size > limit {
		bad = append(bad, fmt.Sprintf("%d-octet UDP reply exceeds the client's %d", r.Size, limit))
	}
	return bad
}

// udpLimit is the largest UDP reply the client of q accepts (RFC 1035
// §4.2.1, RFC 6891 §6.2.3).
func udpLimit(q Query) int {
	if !q.EDNS || q.UDPSize < 512 {
		return 512
	}
	return int(q.UDPSize)
}

// Brief renders a reply compactly for failure reports, dig-like, with
// long RDATA shortened.
func Brief(r Reply) string {
	if r.Err != nil {
		return fmt.Sprintf(";; %s: %v", r.Server, r.Err)
	}
	m := r.Msg
	var b strings.Builder
	var flags []string
	for _, f := range []struct {
		on   bool
		name string
	}{{m.Response, "qr"}, {m.Authoritative, "aa"}, {m.Truncated, "tc"}, {m.RecursionDesired, "rd"},
		{m.RecursionAvailable, "ra"}, {m.AuthenticatedData, "ad"}, {m.CheckingDisabled, "cd"}} {
		if f.on {
			flags = append(flags, f.name)
		}
	}
	fmt.Fprintf(&b, ";; %s: %s flags: %s", r.Server, dns.RcodeToString[m.Rcode], strings.Join(flags, " "))
	if o := m.IsEdns0(); o != nil {
		fmt.Fprintf(&b, " edns: udp=%d do=%v %s", o.UDPSize(), o.Do(), optionsText(o))
	}
	b.WriteByte('\n')
	fmt.Fprintf(&b, ";; question: %s\n", questionText(m))
	for _, s := range []struct {
		name string
		rrs  []dns.RR
	}{{"AN", m.Answer}, {"NS", m.Ns}, {"AR", withoutOPT(m.Extra)}} {
		for _, rr := range s.rrs {
			fmt.Fprintf(&b, "%s %s\n", s.name, shortRR(rr))
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// shortRR is NormRR cut to a readable length (signatures and long TXT).
func shortRR(rr dns.RR) string {
	s := strings.Join(strings.Fields(NormRR(rr)), " ")
	const max = 110
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}
