package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/internal/buildinfo"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailed      = 1 // the daemon refused or failed the command
	exitUnreachable = 2 // the daemon cannot be reached
	exitUsage       = 2
)

// usageHead starts the usage text; the commands and options follow.
const usageHead = `usage: xdpdnsctl [--control PATH] [--timeout DURATION] [--json] COMMAND [ARGS]
(options may also follow the command)

commands:
`

// usageError is a command-line mistake.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// command is one xdpdnsctl command: it runs against the client with the
// command's arguments (after its flags) and writes its output.
type command func(c *control.Client, asJSON bool, args []string, stdout io.Writer) error

// commandSpec is one command as the user types it.
type commandSpec struct {
	name, args, help string
	run              command
}

// commands lists every command, in the order of the usage text.
var commands = []commandSpec{
	{"reload", "[ZONE]", "reload ZONE, or every zone (a broken zone changes nothing)", cmdReload},
	{"status", "", "version, uptime, listen addresses, zones, XDP state", cmdStatus},
	{"stats", "", "query counters by transport and answer kind, XDP counters", cmdStats},
	{"bgp", "", "BGP peers, announced routes, health and drain state, check errors", cmdBGP(control.CmdBGP)},
	{"drain", "", "withdraw the anycast routes and keep them withdrawn", cmdBGP(control.CmdDrain)},
	{"undrain", "", "announce again once (and while) healthy", cmdBGP(control.CmdUndrain)},
	{"zone-status", "[ZONE]", "each zone's role, serial and, for a secondary, its primaries, refreshes, transfers and last error", cmdZoneStatus},
	{"refresh", "ZONE", "a secondary zone checks its primaries now (SOA, then IXFR if newer)", cmdRefresh(false)},
	{"retransfer", "ZONE", "a secondary zone transfers the whole zone now (AXFR)", cmdRefresh(true)},
	{"cookie-secret", "rotate [HEX]", "make HEX (32 digits; none: a random one, printed) the DNS Cookie server secret; the previous one is accepted for an hour", cmdCookieSecret},
	{"explain", "NAME TYPE [CH] [+do] [+tcp] [+bufsize=N] [+noedns] [+nsid]", "which path answers the query (XDP with its map entries, or userspace and why) and the answer", cmdExplain},
	{"check-zone", "ORIGIN FILE", "check a zone file offline (no daemon): errors as FILE:LINE, warnings, what XDP would answer", cmdCheckZone},
	{"version", "", "this xdpdnsctl's version, and the daemon's when it runs", cmdVersion},
}

// lookupCommand finds a command by name.
func lookupCommand(name string) (commandSpec, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return commandSpec{}, false
}

// writeUsage prints the usage text: every command with its arguments,
// then the options.
func writeUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, usageHead)
	tw := newTable(w)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s %s\t%s\n", c.name, c.args, c.help)
	}
	tw.Flush()
	fmt.Fprintln(w, "\noptions:")
	tw = newTable(w)
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "h" {
			return
		}
		arg, usage := flag.UnquoteUsage(f)
		if arg != "" {
			arg = " " + arg
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" {
			def = " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(tw, "  --%s%s\t%s%s\n", f.Name, arg, usage, def)
	})
	tw.Flush()
}

// run is the whole of xdpdnsctl; it returns the exit code. Options may
// come before or after the command and its arguments.
func run(args []string, stdout, stderr io.Writer) int {
	c := &control.Client{}
	var asJSON, help bool
	fs := globalFlags(c, &asJSON, &help, stderr)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		writeUsage(stderr, fs)
		return exitUsage
	}
	if len(pos) == 0 {
		writeUsage(stderr, fs)
		if help {
			return exitOK
		}
		return exitUsage
	}
	name := pos[0]
	cmd, ok := lookupCommand(name)
	if !ok {
		fmt.Fprintf(stderr, "xdpdnsctl: unknown command %q\n", name)
		writeUsage(stderr, fs)
		return exitUsage
	}
	if help {
		fmt.Fprintf(stdout, "usage: xdpdnsctl [--control PATH] [--timeout DURATION] [--json] %s %s\n\n%s\n", name, cmd.args, cmd.help)
		return exitOK
	}
	err = cmd.run(c, asJSON, pos[1:], stdout)
	if err != nil && asJSON {
		reportJSON(name, err, stdout)
	}
	return report(name, err, stderr)
}

// globalFlags defines the options every command takes (the one list:
// the usage and the man page read it).
func globalFlags(c *control.Client, asJSON, help *bool, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("xdpdnsctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Path, "control", control.DefaultPath, "xdpdnsd's control socket `PATH`")
	fs.DurationVar(&c.Wait, "timeout", control.DefaultWait, "how long to wait for the daemon's answer")
	fs.BoolVar(asJSON, "json", false, "print the result, or the error, as JSON")
	fs.BoolVar(help, "help", false, "show the usage (after a command: that command's)")
	fs.BoolVar(help, "h", false, "same as --help")
	fs.Usage = func() {}
	return fs
}

// reportJSON prints a failure as {"error": ..., "exit": N} on stdout, for
// scripts that asked for --json; the human message still goes to stderr.
func reportJSON(name string, err error, stdout io.Writer) {
	out := struct {
		Command string `json:"command"`
		Error   string `json:"error"`
		Exit    int    `json:"exit"`
	}{name, err.Error(), report(name, err, io.Discard)}
	b, _ := json.MarshalIndent(out, "", "  ")
	fmt.Fprintf(stdout, "%s\n", b)
}

// cmdVersion: version. The daemon's version is shown when it answers.
func cmdVersion(c *control.Client, asJSON bool, args []string, w io.Writer) error {
	if len(args) > 0 {
		return usageError{"takes no arguments"}
	}
	v := struct {
		Client string `json:"xdpdnsctl"`
		Daemon string `json:"xdpdnsd,omitempty"`
	}{Client: buildinfo.Version()}
	if st, err := c.Status(); err == nil {
		v.Daemon = st.Version
	}
	if asJSON {
		b, _ := json.MarshalIndent(v, "", "  ")
		_, err := fmt.Fprintf(w, "%s\n", b)
		return err
	}
	fmt.Fprintf(w, "xdpdnsctl %s\n", v.Client)
	if v.Daemon != "" {
		fmt.Fprintf(w, "xdpdnsd   %s\n", v.Daemon)
	}
	return nil
}

// parseInterleaved parses flags that may come before or after the
// positional arguments, which it returns.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// report prints err, if any, and returns the exit code for it.
func report(name string, err error, stderr io.Writer) int {
	var ue usageError
	var ce *control.Error
	var oe *net.OpError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "xdpdnsctl: %s: %v\n", name, err)
		return exitUsage
	case errors.As(err, &ce) && name == "reload":
		// The reason first, alone on its line: FILE:LINE: reason.
		fmt.Fprintln(stderr, ce.Msg)
		fmt.Fprintln(stderr, "xdpdnsctl: reload failed; xdpdnsd keeps serving the previous zones")
		return exitFailed
	case errors.As(err, &ce):
		fmt.Fprintf(stderr, "xdpdnsctl: %s: %v\n", name, err)
		return exitFailed
	case errors.Is(err, control.ErrNotRunning):
		fmt.Fprintf(stderr, "xdpdnsctl: %v\n", err)
		return exitUnreachable
	case errors.As(err, &oe) && oe.Op == "dial":
		fmt.Fprintf(stderr, "xdpdnsctl: cannot reach xdpdnsd: %v\n", err)
		return exitUnreachable
	default:
		fmt.Fprintf(stderr, "xdpdnsctl: %s: %v\n", name, err)
		return exitFailed
	}
}

// printJSON writes a raw result indented.
func printJSON(w io.Writer, raw json.RawMessage) error {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return err
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// callJSON runs a command and prints its raw result.
func callJSON(c *control.Client, req control.Request, w io.Writer) error {
	raw, err := c.Call(req)
	if err != nil {
		return err
	}
	return printJSON(w, raw)
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

// cmdReload: reload [ZONE].
func cmdReload(c *control.Client, asJSON bool, args []string, w io.Writer) error {
	if len(args) > 1 {
		return usageError{"want at most one ZONE"}
	}
	req := control.Request{Cmd: control.CmdReload}
	if len(args) == 1 {
		req.Zone = args[0]
	}
	if asJSON {
		return callJSON(c, req, w)
	}
	res, err := c.Reload(req.Zone)
	if err != nil {
		return err
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "ZONE\tSERIAL\tRECORDS\tWARNINGS\tFILE")
	for _, z := range res.Zones {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", z.Origin, z.Serial, z.Records, len(z.Warnings), z.File)
	}
	tw.Flush()
	for _, z := range res.Zones {
		for _, warn := range z.Warnings {
			fmt.Fprintf(w, "warning: %s: %s\n", z.Origin, warn)
		}
	}
	if res.Generation != nil {
		fmt.Fprintf(w, "xdp generation %d live\n", *res.Generation)
	}
	fmt.Fprintf(w, "reloaded %d zone%s\n", len(res.Zones), plural(len(res.Zones)))
	return nil
}

// cmdStatus: status.
func cmdStatus(c *control.Client, asJSON bool, args []string, w io.Writer) error {
	if len(args) > 0 {
		return usageError{"takes no arguments"}
	}
	if asJSON {
		return callJSON(c, control.Request{Cmd: control.CmdStatus}, w)
	}
	st, err := c.Status()
	if err != nil {
		return err
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "version\t%s\n", st.Version)
	fmt.Fprintf(tw, "uptime\t%s (since %s)\n", time.Duration(st.UptimeSeconds)*time.Second, st.Started.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "listen\t%s\n", strings.Join(st.Listen, " "))
	if st.XDP == nil {
		fmt.Fprintf(tw, "xdp\toff\n")
	} else {
		att := make([]string, 0, len(st.XDP.Attachments))
		for _, a := range st.XDP.Attachments {
			mode := a.Mode
			if a.TCIngress {
				mode += " + tc ingress"
			}
			att = append(att, a.Iface+" ("+mode+")")
		}
		fmt.Fprintf(tw, "xdp\t%s; generation %d (changes: %d rendered alone, %d compiled whole, both written in place; %d new generations)\n",
			strings.Join(att, ", "), st.XDP.Generation, st.XDP.Partial, st.XDP.InPlace, st.XDP.Swaps)
	}
	if st.BGP == nil {
		fmt.Fprintf(tw, "anycast\toff\n")
	} else {
		fmt.Fprintf(tw, "health\t%s\n", healthLine(st.BGP))
		fmt.Fprintf(tw, "anycast\t%s\n", anycastLine(st.BGP))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = newTable(w)
	fmt.Fprintln(tw, "ZONE\tSERIAL\tRECORDS\tDNSSEC\tWARNINGS\tLOADED\tFILE")
	for _, z := range st.Zones {
		sec := "unsigned"
		switch {
		case z.Signed && z.NSEC3:
			sec = "nsec3"
		case z.Signed:
			sec = "nsec"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%s\t%s\n", z.Origin, z.Serial, z.Records, sec, z.Warnings,
			z.LoadedAt.UTC().Format(time.RFC3339), z.File)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, z := range st.Zones {
		if s := z.Secondary; s != nil {
			last := "never"
			if s.LastRefresh != nil {
				last = s.LastRefresh.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(w, "secondary %s: primaries %s, last refresh %s, expires %s", z.Origin, strings.Join(s.Primaries, ","), last, expiryText(*s))
			if s.LastError != "" {
				fmt.Fprintf(w, ", last error: %s", s.LastError)
			}
			fmt.Fprintln(w)
		}
	}
	return nil
}

// cmdStats: stats.
func cmdStats(c *control.Client, asJSON bool, args []string, w io.Writer) error {
	if len(args) > 0 {
		return usageError{"takes no arguments"}
	}
	if asJSON {
		return callJSON(c, control.Request{Cmd: control.CmdStats}, w)
	}
	s, err := c.Stats()
	if err != nil {
		return err
	}
	return printStats(w, &s)
}

// printStats prints the stats tables: queries by kind and transport, the
// server's counters, and the XDP counters in ABI order.
func printStats(w io.Writer, s *control.Stats) error {
	// Every kind any transport has, in control.QueryKinds order then by
	// name.
	kindOrder := control.QueryKinds()
	rank := make(map[string]int, len(kindOrder))
	for i, k := range kindOrder {
		rank[k] = i + 1
	}
	seen := map[string]bool{}
	var kinds []string
	for _, m := range s.Queries {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				kinds = append(kinds, k)
			}
		}
	}
	sort.Slice(kinds, func(i, j int) bool {
		ri, rj := rank[kinds[i]], rank[kinds[j]]
		if ri == 0 || rj == 0 {
			if ri != rj {
				return ri != 0
			}
			return kinds[i] < kinds[j]
		}
		return ri < rj
	})
	udp, tcp := s.Queries["udp"], s.Queries["tcp"]
	var tu, tt uint64
	tw := newTable(w)
	fmt.Fprintln(tw, "QUERIES\tUDP\tTCP")
	for _, k := range kinds {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", k, udp[k], tcp[k])
		tu += udp[k]
		tt += tcp[k]
	}
	fmt.Fprintf(tw, "total\t%d\t%d\n", tu, tt)
	tw.Flush()
	fmt.Fprintln(w)
	tw = newTable(w)
	fmt.Fprintln(tw, "ANSWER-CACHE\tHITS\tMISSES")
	fmt.Fprintf(tw, "udp\t%d\t%d\n", s.AnswerCache.Hits, s.AnswerCache.Misses)
	tw.Flush()
	if len(s.Server) > 0 {
		names := make([]string, 0, len(s.Server))
		for n := range s.Server {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintln(w)
		tw = newTable(w)
		fmt.Fprintln(tw, "SERVER\tCOUNT")
		for _, n := range names {
			fmt.Fprintf(tw, "%s\t%d\n", n, s.Server[n])
		}
		tw.Flush()
	}
	switch {
	case s.XDPError != "":
		fmt.Fprintf(w, "\nxdp counters unavailable: %s\n", s.XDPError)
	case s.XDP != nil:
		names := xdpCounterOrder(s.XDP)
		fmt.Fprintln(w)
		tw = newTable(w)
		fmt.Fprintln(tw, "XDP\tCOUNT")
		for _, n := range names {
			fmt.Fprintf(tw, "%s\t%d\n", n, s.XDP[n])
		}
		tw.Flush()
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// healthLine summarises the health state.
func healthLine(b *control.BGPStatus) string {
	h := b.Health
	state := "unhealthy"
	if h.Healthy {
		state = "healthy"
	}
	line := fmt.Sprintf("%s since %s (%d passing, %d failing rounds)", state, h.Since.UTC().Format(time.RFC3339), h.Passes, h.Fails)
	for _, c := range h.Checks {
		if c.Error != "" {
			line += "; " + c.Error
		}
	}
	return line
}

// anycastLine summarises the announcement.
func anycastLine(b *control.BGPStatus) string {
	var line string
	switch {
	case b.Announced:
		line = "announced"
	case b.Drained:
		line = "withdrawn (drained)"
	default:
		line = "withdrawn"
	}
	established := 0
	for _, p := range b.Peers {
		if strings.EqualFold(p.State, "established") {
			established++
		}
	}
	line += fmt.Sprintf("; %d/%d peers established", established, len(b.Peers))
	if b.Error != "" {
		line += "; last error: " + b.Error
	}
	return line
}

// cmdBGP: bgp, drain, undrain.
func cmdBGP(cmd string) command {
	return func(c *control.Client, asJSON bool, args []string, w io.Writer) error {
		if len(args) > 0 {
			return usageError{"takes no arguments"}
		}
		if asJSON {
			return callJSON(c, control.Request{Cmd: cmd}, w)
		}
		raw, err := c.Call(control.Request{Cmd: cmd})
		if err != nil {
			return err
		}
		var b control.BGPStatus
		if err := json.Unmarshal(raw, &b); err != nil {
			return fmt.Errorf("bad %s result: %w", cmd, err)
		}
		tw := newTable(w)
		fmt.Fprintf(tw, "health\t%s\n", healthLine(&b))
		fmt.Fprintf(tw, "anycast\t%s\n", anycastLine(&b))
		fmt.Fprintf(tw, "drained\t%v\n", b.Drained)
		fmt.Fprintf(tw, "advertised\t%s\n", strings.Join(b.Advertised, ", "))
		tw.Flush()
		fmt.Fprintln(w)
		tw = newTable(w)
		fmt.Fprintln(tw, "PEER\tASN\tSTATE\tUPTIME\tRECEIVED\tACCEPTED")
		for _, p := range b.Peers {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%d\n", p.Address, p.ASN, p.State, time.Duration(p.UptimeSeconds)*time.Second, p.Received, p.Accepted)
		}
		tw.Flush()
		fmt.Fprintln(w)
		tw = newTable(w)
		fmt.Fprintln(tw, "CHECK\tRESULT\tAT")
		for _, ch := range b.Health.Checks {
			res := "ok"
			if ch.Error != "" {
				res = ch.Error
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", ch.Name, res, ch.At.UTC().Format(time.RFC3339))
		}
		return tw.Flush()
	}
}

// xdpCounterOrder lists the XDP counters in the ABI's order (the order of
// enum counter in bpf/include/shared.h and of the table in docs/CONFIG.md),
// then any the ABI does not know (a daemon of another version), sorted.
func xdpCounterOrder(c map[string]uint64) []string {
	names := make([]string, 0, len(c))
	known := make(map[string]bool, len(abi.CounterNames))
	for _, n := range abi.CounterNames {
		known[n] = true
		if _, ok := c[n]; ok {
			names = append(names, n)
		}
	}
	var rest []string
	for n := range c {
		if !known[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(names, rest...)
}
