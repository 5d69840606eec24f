package interop

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Outcome is the verdict on one query sent to every server.
type Outcome struct {
	Query   Query
	Replies []Reply // xdpdns (when running), nsd, knot
	// RefDiffs are the differences between NSD and Knot not on the
	// allowed list: the references disagree.
	RefDiffs []Diff
	// Matched names the references xdpdns agrees with ("nsd", "knot");
	// empty with XDiffs set when it agrees with neither.
	Matched []string
	// XDiffs are xdpdns's differences from each reference, when it
	// matched neither.
	XDiffs map[string][]Diff
	// Violations are broken protocol rules per server (CheckReply).
	Violations map[string][]string
	// Allowed counts the allowed differences seen, by name.
	Allowed []string
}

// Failed reports whether the outcome fails the test: xdpdns matches no
// reference or breaks a protocol rule.
func (o *Outcome) Failed() bool {
	return o.XDiffs != nil || len(o.Violations["xdpdns"]) > 0
}

// Evaluate compares the replies to q. x is xdpdns's reply, or nil when
// only the references run.
func Evaluate(allowed []Allowance, q Query, x *Reply, nsd, knot Reply) Outcome {
	o := Outcome{Query: q, Violations: map[string][]string{}}
	refs := []Reply{nsd, knot}
	if x != nil {
		o.Replies = append(o.Replies, *x)
	}
	o.Replies = append(o.Replies, refs...)
	for _, r := range o.Replies {
		if v := CheckReply(q, r); len(v) > 0 {
			o.Violations[r.Server] = v
		}
	}
	var used []string
	o.RefDiffs, used = FilterAllowed(allowed, q, nsd.Msg, knot.Msg, CompareReplies(nsd, knot))
	o.Allowed = append(o.Allowed, used...)
	if x == nil {
		return o
	}
	diffs := map[string][]Diff{}
	for _, ref := range refs {
		rest, used := FilterAllowed(allowed, q, x.Msg, ref.Msg, CompareReplies(*x, ref))
		if len(rest) == 0 {
			o.Matched = append(o.Matched, ref.Server)
			o.Allowed = append(o.Allowed, used...)
		}
		diffs[ref.Server] = rest
	}
	if len(o.Matched) == 0 {
		o.XDiffs = diffs
	}
	return o
}

// Servers are the instances a differential run queries.
type Servers struct {
	Xdpdns    *Server // nil while cmd/xdpdnsd does not exist
	NSD, Knot *Server
}

// RunCorpus sends every query to every server and evaluates the replies.
func RunCorpus(ctx context.Context, s Servers, qs []Query) []Outcome {
	allowed := Allowances()
	out := make([]Outcome, 0, len(qs))
	ask := func(srv *Server, q Query) Reply {
		m, size, err := Exchange(ctx, srv.Addr, q)
		return Reply{Server: srv.Name, Msg: m, Size: size, Err: err}
	}
	for _, q := range qs {
		var x *Reply
		if s.Xdpdns != nil {
			r := ask(s.Xdpdns, q)
			x = &r
		}
		out = append(out, Evaluate(allowed, q, x, ask(s.NSD, q), ask(s.Knot, q)))
	}
	return out
}

// Summary is the readable account of a run.
type Summary struct {
	Queries       int
	Failures      []Outcome // xdpdns matched no reference or broke a rule
	RefDisagree   []Outcome // NSD and Knot disagree (not a failure)
	RefViolations []Outcome // a reference broke a rule (not a failure)
	MatchedOnly   map[string]int
	AllowedUsed   map[string]int
}

// Summarise groups outcomes.
func Summarise(os []Outcome) Summary {
	s := Summary{Queries: len(os), MatchedOnly: map[string]int{}, AllowedUsed: map[string]int{}}
	for _, o := range os {
		if o.Failed() {
			s.Failures = append(s.Failures, o)
		}
		if len(o.RefDiffs) > 0 {
			s.RefDisagree = append(s.RefDisagree, o)
			if len(o.Matched) == 1 {
				s.MatchedOnly[o.Matched[0]]++
			}
		}
		if len(o.Violations["nsd"])+len(o.Violations["knot"]) > 0 {
			s.RefViolations = append(s.RefViolations, o)
		}
		for _, a := range o.Allowed {
			s.AllowedUsed[a]++
		}
	}
	return s
}

// Report renders the summary, with at most maxDetail outcomes in full.
func (s Summary) Report(maxDetail int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d queries: %d xdpdns failures, %d NSD/Knot disagreements, %d reference rule violations\n",
		s.Queries, len(s.Failures), len(s.RefDisagree), len(s.RefViolations))
	for _, k := range slices.Sorted(maps.Keys(s.AllowedUsed)) {
		fmt.Fprintf(&b, "  allowed %-24s %d\n", k, s.AllowedUsed[k])
	}
	for _, k := range slices.Sorted(maps.Keys(s.MatchedOnly)) {
		fmt.Fprintf(&b, "  where NSD and Knot disagree, xdpdns sided with %s: %d\n", k, s.MatchedOnly[k])
	}
	section := func(title string, os []Outcome, detail func(Outcome) string) {
		if len(os) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n== %s (%d) by field:\n", title, len(os))
		byField := map[string][]Outcome{}
		for _, o := range os {
			byField[fieldKey(o)] = append(byField[fieldKey(o)], o)
		}
		for _, k := range slices.Sorted(maps.Keys(byField)) {
			group := byField[k]
			fmt.Fprintf(&b, "  %-40s %4d  e.g. %s\n", k, len(group), group[0].Query)
		}
		shown := 0
		for _, k := range slices.Sorted(maps.Keys(byField)) {
			if shown == maxDetail {
				fmt.Fprintf(&b, "\n(further details cut: raise -interop.detail)\n")
				return
			}
			shown++
			b.WriteString("\n" + detail(byField[k][0]) + "\n")
		}
	}
	section("xdpdns FAILURES", s.Failures, Outcome.Detail)
	section("NSD vs Knot disagreements", s.RefDisagree, Outcome.Detail)
	section("reference rule violations", s.RefViolations, Outcome.Detail)
	return b.String()
}

// fieldKey names what went wrong in o, for grouping.
func fieldKey(o Outcome) string {
	var fields []string
	add := func(ds []Diff) {
		for _, d := range ds {
			if !slices.Contains(fields, d.Field) {
				fields = append(fields, d.Field)
			}
		}
	}
	switch {
	case o.XDiffs != nil:
		for _, ds := range o.XDiffs {
			add(ds)
		}
	case len(o.Violations["xdpdns"]) > 0:
		fields = append(fields, "violation")
	case len(o.RefDiffs) > 0:
		add(o.RefDiffs)
	default:
		fields = append(fields, "violation")
	}
	slices.Sort(fields)
	return dnsTypeOf(o.Query) + " " + strings.Join(fields, ",")
}

func dnsTypeOf(q Query) string {
	return strings.Fields(q.String())[2]
}

// Detail renders the query, the differences and every reply.
func (o Outcome) Detail() string {
	var b strings.Builder
	fmt.Fprintf(&b, "QUERY %s\n", o.Query)
	for _, srv := range slices.Sorted(maps.Keys(o.Violations)) {
		fmt.Fprintf(&b, "  %s breaks: %s\n", srv, strings.Join(o.Violations[srv], "; "))
	}
	for _, d := range o.RefDiffs {
		fmt.Fprintf(&b, "  nsd≠knot %s\n", d)
	}
	for _, srv := range slices.Sorted(maps.Keys(o.XDiffs)) {
		for _, d := range o.XDiffs[srv] {
			fmt.Fprintf(&b, "  xdpdns≠%s %s\n", srv, d)
		}
	}
	for _, r := range o.Replies {
		b.WriteString(Brief(r) + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}
