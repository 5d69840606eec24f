package main

import (
	"io"
	"testing"

	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/internal/manpage"
)

// TestManPage checks docs/man/xdpdnsctl.8 against the command table and
// the options (UPDATE_MAN=1 rewrites it: make man).
func TestManPage(t *testing.T) {
	var asJSON, help bool
	fs := globalFlags(&control.Client{}, &asJSON, &help, io.Discard)
	var cmds []manpage.Entry
	for _, c := range commands {
		cmds = append(cmds, manpage.Entry{Tag: c.name + " " + c.args, Text: c.help})
	}
	page := manpage.Page{
		Name: "xdpdnsctl", Section: "8", Summary: "control a running xdpdnsd",
		Synopsis: "xdpdnsctl [--control PATH] [--timeout DURATION] [--json] COMMAND [ARGS]",
		Sections: []manpage.Section{
			{Title: "Description", Paragraphs: []string{
				"xdpdnsctl talks to xdpdnsd over its control socket (one JSON request and reply); check-zone works offline. Options may come before or after the command; xdpdnsctl COMMAND --help shows a command's arguments.",
			}},
			{Title: "Commands", Entries: cmds},
			{Title: "Options", Entries: manpage.Flags(fs)},
			{Title: "Exit status", Paragraphs: []string{"0 done; 1 the daemon refused or failed the command (a broken zone: FILE:LINE: reason); 2 the daemon cannot be reached, or a usage error."}},
			{Title: "See also", Paragraphs: []string{"xdpdnsd(8), xdpdnsd.conf(5), docs/CONFIG.md"}},
		},
	}
	manpage.Check(t, "../../docs/man/xdpdnsctl.8", page.Render())
}
