//go:build linux

package e2e

import (
	"fmt"
	"github.com/xdpdns/xdpdns/internal/testsupport/netnstest"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Tool is a command-line DNS client: "dig" or "kdig".
type Tool string

// The clients the path tests run.
const (
	Dig  Tool = "dig"
	Kdig Tool = "kdig"
)

// Lookup is one question asked with a command-line client.
type Lookup struct {
	Name  string
	Type  uint16
	DO    bool // +dnssec
	TCP   bool // +tcp
	Port  int
	Proto string // for messages only
}

// Reply is a client's answer as printed, parsed back.
type Reply struct {
	Rcode                         string
	Flags                         []string
	Answer, Authority, Additional []dns.RR
	Text                          string // the client's output
}

// HasFlag says whether the header flag (e.g. "aa") was set.
func (r Reply) HasFlag(f string) bool { return slices.Contains(r.Flags, f) }

// args returns the tool's command line for the lookup against server.
func (tool Tool) args(server netip.Addr, l Lookup) []string {
	a := []string{"@" + server.String(), "-p", fmt.Sprint(l.Port), l.Name, dns.TypeToString[l.Type]}
	switch tool {
	case Dig:
		a = append(a, "+time=2", "+tries=1")
	case Kdig:
		a = append(a, "+time=2", "+retry=0")
	}
	if l.DO {
		a = append(a, "+dnssec")
	}
	if l.TCP {
		a = append(a, "+tcp")
	}
	return a
}

// Query runs the tool in namespace ns and parses its output.
func (tool Tool) Query(ns string, server netip.Addr, l Lookup) (Reply, error) {
	args := tool.args(server, l)
	out, err := netnstest.Run(ns, string(tool), args...)
	if err != nil {
		return Reply{Text: out}, fmt.Errorf("%v\n%s", err, out)
	}
	r, err := parseReply(out)
	if err != nil {
		return r, fmt.Errorf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
	return r, nil
}

var (
	statusRE = regexp.MustCompile(`status: ([A-Z]+)`)
	flagsRE  = regexp.MustCompile(`(?i);; flags: ([a-z ]*);`)
)

// parseReply reads dig's or kdig's default output: the header's status
// and flags, then the records under each section heading.
func parseReply(out string) (Reply, error) {
	r := Reply{Text: out}
	m := statusRE.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no status in the output")
	}
	r.Rcode = m[1]
	if m := flagsRE.FindStringSubmatch(out); m != nil {
		r.Flags = strings.Fields(strings.ToLower(m[1]))
	}
	var sec *[]dns.RR
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, ";; ANSWER SECTION"):
			sec = &r.Answer
		case strings.HasPrefix(line, ";; AUTHORITY SECTION"):
			sec = &r.Authority
		case strings.HasPrefix(line, ";; ADDITIONAL SECTION"):
			sec = &r.Additional
		case strings.HasPrefix(line, ";"):
			if !strings.Contains(line, "SECTION") {
				continue
			}
			sec = nil // another section (OPT pseudosection, question)
		case line == "":
			sec = nil
		case sec != nil:
			rr, err := dns.NewRR(line)
			if err != nil {
				return r, fmt.Errorf("record %q: %v", line, err)
			}
			*sec = append(*sec, rr)
		}
	}
	return r, nil
}

// types lists the record types of a section, in order.
func types(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, dns.TypeToString[rr.Header().Rrtype])
	}
	return out
}
