// Package manpage renders troff man pages from the sources the programs
// already have: their flag sets, xdpdnsctl's command table and the keys
// table of docs/CONFIG.md, so that the pages cannot drift from them. Each
// page is checked by a test of the package that owns its source (run
// `make man` to rewrite them).
package manpage

import (
	"flag"
	"fmt"
	"strings"
)

// Entry is one tagged paragraph: a flag, a command or a key.
type Entry struct {
	Tag, Text string
}

// Section is a titled list of entries, or of paragraphs when Entries is
// empty.
type Section struct {
	Title      string
	Paragraphs []string
	Entries    []Entry
}

// Page is one man page.
type Page struct {
	Name, Section, Summary string
	Synopsis               string
	Sections               []Section
}

// Render returns the page in troff (man macros).
func (p Page) Render() string {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH %s %s \"\" \"xdpdns\" \"xdpdns manual\"\n", strings.ToUpper(p.Name), p.Section)
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", p.Name, escape(p.Summary))
	if p.Synopsis != "" {
		fmt.Fprintf(&b, ".SH SYNOPSIS\n.nf\n%s\n.fi\n", escape(p.Synopsis))
	}
	for _, s := range p.Sections {
		fmt.Fprintf(&b, ".SH %s\n", strings.ToUpper(s.Title))
		for _, para := range s.Paragraphs {
			fmt.Fprintf(&b, ".PP\n%s\n", escape(para))
		}
		for _, e := range s.Entries {
			fmt.Fprintf(&b, ".TP\n.B %s\n%s\n", escape(e.Tag), escape(e.Text))
		}
	}
	return b.String()
}

// Flags lists a flag set's flags as entries, spelled as typed (--name ARG).
func Flags(fs *flag.FlagSet) []Entry {
	var out []Entry
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		tag := dash + f.Name
		if arg != "" {
			tag += " " + arg
		}
		if f.DefValue != "" && f.DefValue != "false" {
			usage += " (default " + f.DefValue + ")"
		}
		out = append(out, Entry{Tag: tag, Text: usage})
	})
	return out
}

// MarkdownTable reads the table that follows heading in a Markdown text:
// its rows, cells trimmed, the header row and the separator left out.
func MarkdownTable(md, heading string) ([][]string, error) {
	i := strings.Index(md, "\n"+heading+"\n")
	if i < 0 {
		return nil, fmt.Errorf("no heading %q", heading)
	}
	var rows [][]string
	inTable := false
	for _, line := range strings.Split(md[i+len(heading)+2:], "\n") {
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		inTable = true
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		for k := range cells {
			cells[k] = strings.TrimSpace(cells[k])
		}
		if strings.HasPrefix(cells[0], "---") {
			continue
		}
		rows = append(rows, cells)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("no table after %q", heading)
	}
	return rows[1:], nil
}

// Plain strips Markdown markup from a table cell for troff.
func Plain(s string) string {
	s = strings.ReplaceAll(s, "`", "")
	s = strings.ReplaceAll(s, "**", "")
	// [text](url) -> text (url)
	for {
		i := strings.Index(s, "](")
		j := strings.LastIndex(s[:max(i, 0)], "[")
		if i < 0 || j < 0 {
			break
		}
		k := strings.Index(s[i:], ")")
		if k < 0 {
			break
		}
		s = s[:j] + s[j+1:i] + " (" + s[i+2:i+k] + ")" + s[i+k+1:]
	}
	return s
}

// escape protects troff's special characters.
func escape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}
