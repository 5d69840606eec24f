package config

import (
	"os"
	"testing"

	"github.com/xdpdns/xdpdns/internal/manpage"
)

// TestManPage checks docs/man/xdpdnsd.conf.5 against the key tables of
// docs/CONFIG.md, and that every key of the parser is in them
// (UPDATE_MAN=1 rewrites the page: make man).
func TestManPage(t *testing.T) {
	md, err := os.ReadFile("../docs/CONFIG.md")
	if err != nil {
		t.Fatal(err)
	}
	var sections []manpage.Section
	documented := map[string]bool{}
	for _, h := range []string{"## Keys", "### Anycast and health checks"} {
		rows, err := manpage.MarkdownTable(string(md), h)
		if err != nil {
			t.Fatal(err)
		}
		var entries []manpage.Entry
		for _, r := range rows {
			if len(r) < 4 {
				t.Fatalf("%s: row %q has %d cells", h, r, len(r))
			}
			key := manpage.Plain(r[0])
			documented[key] = true
			entries = append(entries, manpage.Entry{Tag: key + " " + manpage.Plain(r[1]),
				Text: manpage.Plain(r[3]) + " Default: " + manpage.Plain(r[2]) + "."})
		}
		title := "Keys"
		if h != "## Keys" {
			title = "Anycast and health keys"
		}
		sections = append(sections, manpage.Section{Title: title, Entries: entries})
	}
	for k := range keys {
		if !documented[k] {
			t.Errorf("key %s is not in docs/CONFIG.md's tables", k)
		}
	}
	page := manpage.Page{
		Name: "xdpdnsd.conf", Section: "5", Summary: "xdpdnsd configuration file",
		Sections: append([]manpage.Section{{Title: "Description", Paragraphs: []string{
			"One setting per line: a key and its values separated by white space; # starts a comment at the start of a line or after white space; double quotes keep white space and #. Unknown keys and single-valued keys given twice are errors, reported as FILE:LINE. Relative paths are taken from the file's directory. Durations are Go durations (500ms, 10s, 168h).",
		}}}, append(sections, manpage.Section{Title: "See also", Paragraphs: []string{"xdpdnsd(8), xdpdnsctl(8), docs/CONFIG.md"}})...),
	}
	manpage.Check(t, "../docs/man/xdpdnsd.conf.5", page.Render())
}
