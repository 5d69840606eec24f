package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ABI is what shared.h defines for both sides, in file order.
type ABI struct {
	Consts     []Const     // #define XDPDNS_NAME expr
	NeverInXDP []TypeRange // XDPDNS_NEVER_IN_XDP(X)
	NeverDoc   string
	Kinds      []Entry // enum answer_kind, without KIND_MAX
	RRLClasses []Entry // enum rrl_class, without RRL_CLASS_MAX
	Counters   []Entry // enum counter, without CNT_MAX, answer.KIND expanded
	// CounterConsts are the enum counter identifiers with their values
	// (KIND ranges not expanded), for the Go constants.
	CounterConsts []Const
}

// Const is one integer constant: its C name, its value, the Go expression
// it was written as (names translated), and its comment.
type Const struct {
	C, Go string
	Value uint64
	Expr  string // Go expression; a literal or over earlier Go names
	Doc   string
}

// TypeRange is an inclusive range of query types.
type TypeRange struct{ Lo, Hi uint16 }

// Entry is one named enum entry: index, display name and meaning.
type Entry struct {
	Index uint64
	C     string // C identifier (kinds only)
	Go    string // Go constant name (kinds only)
	Name  string
	Doc   string
}

var (
	reDefine  = regexp.MustCompile(`^#define\s+(XDPDNS_[A-Z0-9_]+)(\(X\))?\s*(.*)$`)
	reGuard   = regexp.MustCompile(`^#(ifndef|define)\s+XDPDNS_SHARED_H\s*$`)
	reInclude = regexp.MustCompile(`^#include\s+<[a-z0-9/_.]+>\s*$`)
	reStruct  = regexp.MustCompile(`^struct\s+[a-z_]+\s*\{\s*$`)
	reEnum    = regexp.MustCompile(`^enum\s+([a-z_]+)\s*\{\s*$`)
	reRange   = regexp.MustCompile(`^X\((\d+),\s*(\d+)\)$`)
	reDocName = regexp.MustCompile(`^([a-z0-9_.]+|[a-z0-9_]+\.KIND):\s+(.+)$`)
)

// parseError names the header line a problem is on.
type parseError struct {
	line int
	msg  string
}

func (e *parseError) Error() string { return fmt.Sprintf("shared.h:%d: %s", e.line, e.msg) }

func errorf(line int, format string, args ...any) error {
	return &parseError{line: line, msg: fmt.Sprintf(format, args...)}
}

// Parse reads shared.h. It understands comments, the include guard,
// #include <...>, struct blocks (skipped: bpf2go generates those), integer
// #defines, XDPDNS_NEVER_IN_XDP, and the enums answer_kind and counter;
// anything else is an error, so that a new kind of definition cannot be
// silently left out of the Go side.
func Parse(src string) (*ABI, error) {
	lines := strings.Split(src, "\n")
	abi := &ABI{}
	env := map[string]Const{} // C name -> constant, for expressions
	doc := ""                 // the comment just before the current line
	sawEnd := false
	for i := 0; i < len(lines); i++ {
		ln := i + 1
		line := strings.TrimSpace(lines[i])
		switch {
		case line == "":
			doc = ""
		case strings.HasPrefix(line, "/*"):
			text, next, err := comment(lines, i)
			if err != nil {
				return nil, err
			}
			doc, i = text, next
		case reGuard.MatchString(line), reInclude.MatchString(line):
		case line == "#endif":
			sawEnd = true
		case reStruct.MatchString(line):
			for i < len(lines) && strings.TrimSpace(lines[i]) != "};" {
				i++
			}
			if i == len(lines) {
				return nil, errorf(ln, "struct without an end")
			}
			doc = ""
		case reEnum.MatchString(line):
			name := reEnum.FindStringSubmatch(line)[1]
			end := i + 1
			for end < len(lines) && strings.TrimSpace(lines[end]) != "};" {
				end++
			}
			if end == len(lines) {
				return nil, errorf(ln, "enum %s without an end", name)
			}
			entries, err := enumEntries(lines[i+1:end], ln+1, env)
			if err != nil {
				return nil, err
			}
			if err := abi.addEnum(name, entries, ln); err != nil {
				return nil, err
			}
			i, doc = end, ""
		case strings.HasPrefix(line, "#define"):
			full := line
			for strings.HasSuffix(full, "\\") && i+1 < len(lines) {
				i++
				full = strings.TrimSuffix(full, "\\") + " " + strings.TrimSpace(lines[i])
			}
			m := reDefine.FindStringSubmatch(full)
			if m == nil {
				return nil, errorf(ln, "unexpected #define (want XDPDNS_NAME): %s", full)
			}
			if doc == "" {
				return nil, errorf(ln, "%s has no comment before it", m[1])
			}
			if m[2] != "" {
				if m[1] != "XDPDNS_NEVER_IN_XDP" {
					return nil, errorf(ln, "unexpected function-like macro %s", m[1])
				}
				r, err := ranges(m[3], ln)
				if err != nil {
					return nil, err
				}
				abi.NeverInXDP, abi.NeverDoc = r, doc
				doc = ""
				continue
			}
			c, err := constant(m[1], m[3], doc, env, ln)
			if err != nil {
				return nil, err
			}
			env[c.C] = c
			abi.Consts = append(abi.Consts, c)
			// The comment goes on applying to the #defines right below
			// (a group), until a blank line.
		default:
			return nil, errorf(ln, "unexpected line (abigen understands comments, #define, struct and enum): %s", line)
		}
	}
	if !sawEnd {
		return nil, errorf(len(lines), "no #endif")
	}
	if abi.NeverInXDP == nil || abi.Kinds == nil || abi.Counters == nil {
		return nil, fmt.Errorf("shared.h: XDPDNS_NEVER_IN_XDP, enum answer_kind and enum counter are all required")
	}
	return abi, nil
}

// comment returns the text of the comment starting at lines[i] (joined,
// leading stars removed) and the index of its last line.
func comment(lines []string, i int) (string, int, error) {
	var parts []string
	for j := i; j < len(lines); j++ {
		t := strings.TrimSpace(lines[j])
		end := strings.HasSuffix(t, "*/")
		t = strings.TrimSuffix(t, "*/")
		t = strings.TrimPrefix(t, "/*")
		t = strings.TrimPrefix(t, "*")
		if t = strings.TrimSpace(t); t != "" {
			parts = append(parts, t)
		}
		if end {
			return strings.Join(parts, " "), j, nil
		}
	}
	return "", 0, errorf(i+1, "unterminated comment")
}

// enumEntry is one raw entry of an enum body.
type enumEntry struct {
	ident string
	value uint64
	doc   string
	line  int
}

// enumEntries reads "IDENT [= expr], /* doc */" entries; a comment after
// an entry's comma belongs to that entry and may span lines.
func enumEntries(body []string, firstLine int, env map[string]Const) ([]enumEntry, error) {
	var out []enumEntry
	next := uint64(0)
	local := map[string]Const{}
	for k, v := range env {
		local[k] = v
	}
	for i := 0; i < len(body); i++ {
		ln := firstLine + i
		t := strings.TrimSpace(body[i])
		if t == "" {
			continue
		}
		if strings.HasPrefix(t, "/*") {
			if len(out) == 0 {
				return nil, errorf(ln, "enum comment before the first entry")
			}
			text, j, err := comment(body, i)
			if err != nil {
				return nil, errorf(ln, "unterminated comment")
			}
			out[len(out)-1].doc = strings.TrimSpace(out[len(out)-1].doc + " " + text)
			i = j
			continue
		}
		head, rest, ok := strings.Cut(t, ",")
		if !ok {
			return nil, errorf(ln, "enum entry without a comma: %s", t)
		}
		ident, expr, hasValue := strings.Cut(head, "=")
		ident = strings.TrimSpace(ident)
		if !regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`).MatchString(ident) {
			return nil, errorf(ln, "bad enum identifier %q", ident)
		}
		if hasValue {
			v, _, err := eval(strings.TrimSpace(expr), local, ln)
			if err != nil {
				return nil, err
			}
			next = v
		}
		e := enumEntry{ident: ident, value: next, line: ln}
		local[ident] = Const{C: ident, Value: next}
		next++
		rest = strings.TrimSpace(rest)
		if rest != "" {
			if !strings.HasPrefix(rest, "/*") {
				return nil, errorf(ln, "unexpected text after %s: %s", ident, rest)
			}
			sub := append([]string{rest}, body[i+1:]...)
			text, j, err := comment(sub, 0)
			if err != nil {
				return nil, errorf(ln, "unterminated comment")
			}
			e.doc, i = text, i+j
		}
		out = append(out, e)
		// Later enums may refer to this one's values.
		env[ident] = Const{C: ident, Value: e.value}
	}
	return out, nil
}

// addEnum records enum answer_kind or enum counter.
func (a *ABI) addEnum(name string, entries []enumEntry, line int) error {
	if len(entries) < 2 {
		return errorf(line, "enum %s is empty", name)
	}
	last := entries[len(entries)-1]
	if !strings.HasSuffix(last.ident, "_MAX") {
		return errorf(last.line, "enum %s must end with its _MAX entry", name)
	}
	entries = entries[:len(entries)-1]
	switch name {
	case "answer_kind":
		for i, e := range entries {
			n, d, err := named(e)
			if err != nil {
				return err
			}
			if e.value != uint64(i) || !strings.HasPrefix(e.ident, "KIND_") {
				return errorf(e.line, "answer kinds are KIND_ names numbered from 0 without gaps")
			}
			a.Kinds = append(a.Kinds, Entry{Index: e.value, C: e.ident, Go: goName("Kind", strings.TrimPrefix(e.ident, "KIND_")), Name: n, Doc: d})
		}
		if last.value != uint64(len(a.Kinds)) {
			return errorf(last.line, "KIND_MAX is %d, want %d", last.value, len(a.Kinds))
		}
	case "counter":
		if a.Kinds == nil {
			return errorf(line, "enum counter before enum answer_kind")
		}
		slot := uint64(0)
		for k, e := range entries {
			n, d, err := named(e)
			if err != nil {
				return err
			}
			if !strings.HasPrefix(e.ident, "CNT_") {
				return errorf(e.line, "counters are CNT_ names")
			}
			if e.value != slot {
				return errorf(e.line, "%s is %d, want %d: counters are contiguous", e.ident, e.value, slot)
			}
			a.CounterConsts = append(a.CounterConsts, Const{C: e.ident, Go: goName("Counter", strings.TrimPrefix(e.ident, "CNT_")), Value: e.value})
			span := uint64(1)
			if strings.HasSuffix(n, ".KIND") {
				span = uint64(len(a.Kinds))
				for _, kd := range a.Kinds {
					a.Counters = append(a.Counters, Entry{Index: slot + kd.Index, Name: strings.TrimSuffix(n, "KIND") + kd.Name, Doc: d + ": " + kd.Doc})
				}
			} else {
				a.Counters = append(a.Counters, Entry{Index: slot, Name: n, Doc: d})
			}
			slot += span
			if k+1 < len(entries) && entries[k+1].value != slot {
				return errorf(entries[k+1].line, "%s is %d, want %d: counters are contiguous", entries[k+1].ident, entries[k+1].value, slot)
			}
		}
		if last.value != slot {
			return errorf(last.line, "CNT_MAX is %d, want %d", last.value, slot)
		}
		a.CounterConsts = append(a.CounterConsts, Const{C: last.ident, Go: "CounterMax", Value: last.value})
	case "rrl_class":
		for i, e := range entries {
			n, d, err := named(e)
			if err != nil {
				return err
			}
			if e.value != uint64(i) || !strings.HasPrefix(e.ident, "RRL_CLASS_") {
				return errorf(e.line, "rate-limiting classes are RRL_CLASS_ names numbered from 0 without gaps")
			}
			a.RRLClasses = append(a.RRLClasses, Entry{Index: e.value, C: e.ident, Go: goName("RRLClass", strings.TrimPrefix(e.ident, "RRL_CLASS_")), Name: n, Doc: d})
		}
	default:
		return errorf(line, "unexpected enum %s (abigen knows answer_kind, counter and rrl_class)", name)
	}
	return nil
}

// named splits an entry's "name: meaning" comment.
func named(e enumEntry) (string, string, error) {
	m := reDocName.FindStringSubmatch(e.doc)
	if m == nil {
		return "", "", errorf(e.line, "%s: the comment must read \"name: meaning\", got %q", e.ident, e.doc)
	}
	return m[1], m[2], nil
}

// ranges parses "X(lo, hi) X(lo, hi) ...".
func ranges(body string, line int) ([]TypeRange, error) {
	var out []TypeRange
	for _, f := range regexp.MustCompile(`X\([^)]*\)`).FindAllString(body, -1) {
		m := reRange.FindStringSubmatch(f)
		if m == nil {
			return nil, errorf(line, "bad range %s", f)
		}
		lo, err1 := strconv.ParseUint(m[1], 10, 16)
		hi, err2 := strconv.ParseUint(m[2], 10, 16)
		if err1 != nil || err2 != nil || lo > hi {
			return nil, errorf(line, "bad range %s", f)
		}
		out = append(out, TypeRange{uint16(lo), uint16(hi)})
	}
	if rest := strings.TrimSpace(regexp.MustCompile(`X\([^)]*\)`).ReplaceAllString(body, "")); rest != "" || out == nil {
		return nil, errorf(line, "XDPDNS_NEVER_IN_XDP must be a list of X(lo, hi), got %q", body)
	}
	return out, nil
}

// constant evaluates a #define's value.
func constant(cname, expr, doc string, env map[string]Const, line int) (Const, error) {
	if expr == "" {
		return Const{}, errorf(line, "%s has no value", cname)
	}
	v, goExpr, err := eval(expr, env, line)
	if err != nil {
		return Const{}, err
	}
	return Const{C: cname, Go: defineGoName(cname), Value: v, Expr: goExpr, Doc: doc}, nil
}

// eval evaluates an integer expression of literals, known names and
// + - * / << >> | & ( ), returning its value and the same expression in Go.
func eval(expr string, env map[string]Const, line int) (uint64, string, error) {
	toks, err := tokens(expr, line)
	if err != nil {
		return 0, "", err
	}
	p := &exprParser{toks: toks, env: env, line: line}
	v, g, err := p.binary(0)
	if err != nil {
		return 0, "", err
	}
	if p.pos != len(p.toks) {
		return 0, "", errorf(line, "unexpected %q in %q", p.toks[p.pos], expr)
	}
	return v, g, nil
}

var reToken = regexp.MustCompile(`^\s*(0[xX][0-9a-fA-F]+|[0-9]+|[A-Za-z_][A-Za-z0-9_]*|<<|>>|[-+*/|&()])`)

func tokens(s string, line int) ([]string, error) {
	var out []string
	for strings.TrimSpace(s) != "" {
		m := reToken.FindStringSubmatch(s)
		if m == nil {
			return nil, errorf(line, "cannot read %q", s)
		}
		out = append(out, m[1])
		s = s[len(m[0]):]
	}
	return out, nil
}

type exprParser struct {
	toks []string
	pos  int
	env  map[string]Const
	line int
}

var precedence = map[string]int{"|": 1, "&": 2, "<<": 3, ">>": 3, "+": 4, "-": 4, "*": 5, "/": 5}

func (p *exprParser) binary(min int) (uint64, string, error) {
	l, lg, err := p.primary()
	if err != nil {
		return 0, "", err
	}
	for p.pos < len(p.toks) {
		op := p.toks[p.pos]
		prec, ok := precedence[op]
		if !ok || prec <= min {
			break
		}
		p.pos++
		r, rg, err := p.binary(prec)
		if err != nil {
			return 0, "", err
		}
		switch op {
		case "|":
			l |= r
		case "&":
			l &= r
		case "<<":
			l <<= r
		case ">>":
			l >>= r
		case "+":
			l += r
		case "-":
			l -= r
		case "*":
			l *= r
		case "/":
			if r == 0 {
				return 0, "", errorf(p.line, "division by zero")
			}
			l /= r
		}
		lg = lg + " " + op + " " + rg
	}
	return l, lg, nil
}

func (p *exprParser) primary() (uint64, string, error) {
	if p.pos >= len(p.toks) {
		return 0, "", errorf(p.line, "expression ends early")
	}
	t := p.toks[p.pos]
	p.pos++
	switch {
	case t == "(":
		v, g, err := p.binary(0)
		if err != nil {
			return 0, "", err
		}
		if p.pos >= len(p.toks) || p.toks[p.pos] != ")" {
			return 0, "", errorf(p.line, "missing )")
		}
		p.pos++
		return v, "(" + g + ")", nil
	case t[0] >= '0' && t[0] <= '9':
		v, err := strconv.ParseUint(t, 0, 64)
		if err != nil {
			return 0, "", errorf(p.line, "bad number %s", t)
		}
		return v, t, nil
	default:
		c, ok := p.env[t]
		if !ok {
			return 0, "", errorf(p.line, "unknown name %s (only earlier XDPDNS_ constants and enum entries)", t)
		}
		if c.Go == "" {
			return c.Value, strconv.FormatUint(c.Value, 10), nil
		}
		return c.Value, c.Go, nil
	}
}

// defineGoName maps XDPDNS_TF_TOO_BIG to FlagTooBig and so on.
func defineGoName(c string) string {
	s := strings.TrimPrefix(c, "XDPDNS_")
	for _, p := range []struct{ c, g string }{{"TF_", "Flag"}, {"NF_", "NameFlag"}, {"MODE_", "Mode"}, {"HASH_", "Hash"}} {
		if strings.HasPrefix(s, p.c) {
			return goName(p.g, strings.TrimPrefix(s, p.c))
		}
	}
	return goName("", s)
}

// initialisms keep their Go spelling in generated names.
var initialisms = map[string]string{
	"AA": "AA", "CNAME": "CNAME", "DNS": "DNS", "EDNS": "EDNS", "H1": "H1", "H2": "H2", "IPV4": "IPv4",
	"IPV6": "IPv6", "NSID": "NSID", "NXDOMAIN": "NXDomain", "NODATA": "NoData", "RX": "RX", "SKB": "SKB",
	"TC": "TC", "UDP": "UDP", "VLAN": "VLAN", "IDS": "IDs", "ID": "ID", "MAC": "MAC", "RRL": "RRL", "QNAME": "QName",
	"NSEC": "NSEC", "NSEC3": "NSEC3", "SHA1": "SHA1",
}

// goName turns SOME_WORDS into prefix + SomeWords.
func goName(prefix, upper string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, w := range strings.Split(upper, "_") {
		if w == "" {
			continue
		}
		if g, ok := initialisms[w]; ok {
			b.WriteString(g)
			continue
		}
		b.WriteString(w[:1] + strings.ToLower(w[1:]))
	}
	return b.String()
}
