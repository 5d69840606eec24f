package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/xdpdns/xdpdns/bpf/abi"
	"io"
	"net"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xdpdns/xdpdns/control"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailed      = 1 // the daemon refused or failed the command
	exitUnreachable = 2 // the daemon cannot be reached
	exitUsage       = 2
)

const usage = `usage: xdpdnsctl [--control PATH] [--timeout DURATION] COMMAND [--json] [ARGS]

commands:
  reload [ZONE]   reload ZONE, or every zone (a broken zone changes nothing)
  status          version, uptime, listen addresses, zones, XDP state
  stats           query counters by transport and answer kind, XDP counters
  bgp             BGP peers, announced routes, health and drain state, check errors
  drain           withdraw the anycast routes and keep them withdrawn
  undrain         announce again once (and while) healthy
  check-zone ORIGIN FILE
                  check a zone file offline (no daemon): errors as FILE:LINE,
                  warnings, and what the XDP program would answer

options:
`

// usageError is a command-line mistake.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// command is one xdpdnsctl command: it runs against the client with the
// command's arguments (after its flags) and writes its output.
type command func(c *control.Client, asJSON bool, args []string, stdout io.Writer) error

var commands = map[string]command{
	"reload":  cmdReload,
	"status":  cmdStatus,
	"stats":   cmdStats,
	"bgp":     cmdBGP(control.CmdBGP),
	"drain":   cmdBGP(control.CmdDrain),
	"undrain": cmdBGP(control.CmdUndrain),
	// Offline: needs no daemon.
	"check-zone": cmdCheckZone,
}

// run is the whole of xdpdnsctl; it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("xdpdnsctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	c := &control.Client{}
	fs.StringVar(&c.Path, "control", control.DefaultPath, "xdpdnsd's control socket `PATH`")
	fs.DurationVar(&c.Wait, "timeout", control.DefaultWait, "how long to wait for the daemon's answer")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitUsage
	}
	name := fs.Arg(0)
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "xdpdnsctl: unknown command %q\n", name)
		fs.Usage()
		return exitUsage
	}
	sub := flag.NewFlagSet("xdpdnsctl "+name, flag.ContinueOnError)
	sub.SetOutput(stderr)
	asJSON := sub.Bool("json", false, "print the result as JSON")
	rest, err := parseInterleaved(sub, fs.Args()[1:])
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	err = cmd(c, *asJSON, rest, stdout)
	return report(name, err, stderr)
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
		fmt.Fprintf(tw, "xdp\t%s; generation %d\n", strings.Join(att, ", "), st.XDP.Generation)
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
	return tw.Flush()
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
