package main

import (
	"io"
	"testing"

	"github.com/xdpdns/xdpdns/internal/manpage"
)

// TestManPage checks docs/man/xdpdnsd.8 against the flag set (UPDATE_MAN=1
// rewrites it: make man).
func TestManPage(t *testing.T) {
	fs := newFlagSet(&options{}, io.Discard)
	page := manpage.Page{
		Name: "xdpdnsd", Section: "8", Summary: "authoritative DNS server with an XDP fast path",
		Synopsis: "xdpdnsd [-c FILE] [OPTIONS]\nxdpdnsd --zone ORIGIN=FILE... [OPTIONS]\nxdpdnsd -c FILE --check-config",
		Sections: []manpage.Section{
			{Title: "Description", Paragraphs: []string{
				"xdpdnsd answers DNS queries for the zones it is given. The answers it can precompute are rendered by its own engine into BPF maps, and an XDP program attached to the configured interfaces (with a tc ingress companion) sends them from the driver; everything else is answered by the userspace server, with the same bytes. With BGP settings it announces an anycast prefix while its health checks pass.",
				"Settings come from the configuration file (xdpdnsd.conf(5)) and the options below; every key has an option of the same name (version is --version-string). Options given once override the file; repeatable ones add to it.",
			}},
			{Title: "Options", Entries: manpage.Flags(fs)},
			{Title: "Signals", Entries: []manpage.Entry{
				{Tag: "SIGHUP", Text: "reload every zone in the background; a zone that fails its checks changes nothing."},
				{Tag: "SIGTERM, SIGINT", Text: "withdraw the anycast routes (with BGP), keep answering for drain-time, then stop."},
			}},
			{Title: "Exit status", Paragraphs: []string{"0 after SIGTERM or SIGINT, or a good --check-config; 1 when the configuration or a zone cannot be loaded or an address bound; 2 for usage errors."}},
			{Title: "See also", Paragraphs: []string{"xdpdnsctl(8), xdpdnsd.conf(5), docs/CONFIG.md, docs/ARCHITECTURE.md, docs/THREAT-MODEL.md"}},
		},
	}
	manpage.Check(t, "../../docs/man/xdpdnsd.8", page.Render())
}
