package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/xdpdns/xdpdns/control"
)

// cmdZoneStatus: zone-status [ZONE].
func cmdZoneStatus(c *control.Client, asJSON bool, args []string, w io.Writer) error {
	if len(args) > 1 {
		return usageError{"want at most one ZONE"}
	}
	zone := ""
	if len(args) == 1 {
		zone = args[0]
	}
	if asJSON {
		return callJSON(c, control.Request{Cmd: control.CmdZoneStatus, Zone: zone}, w)
	}
	zs, err := c.ZoneStatus(zone)
	if err != nil {
		return err
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "ZONE\tROLE\tSERIAL\tPRIMARIES\tLAST REFRESH\tNEXT REFRESH\tEXPIRES\tTRANSFERS\tERROR")
	ago := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		d := time.Since(*t)
		if d < 0 {
			return "in " + (-d).Round(time.Second).String()
		}
		return d.Round(time.Second).String() + " ago"
	}
	for _, z := range zs {
		serial := fmt.Sprint(z.Serial)
		if !z.Served {
			serial = "not served"
		}
		prim := strings.Join(z.Primaries, ",")
		if prim == "" {
			prim = "-"
		}
		xfr := "-"
		if z.Role == "secondary" {
			xfr = fmt.Sprintf("%d (%d IXFR)", z.Transfers, z.IXFRs)
		}
		errText := z.LastError
		if errText == "" {
			errText = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", z.Origin, z.Role, serial, prim, ago(z.LastRefresh), ago(z.NextRefresh),
			expiryText(z), xfr, errText)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, z := range zs {
		for _, wn := range z.Warnings {
			fmt.Fprintf(w, "warning: %s: %s\n", z.Origin, wn)
		}
	}
	return nil
}

// cmdRefresh returns refresh ZONE (full: retransfer ZONE).
func cmdRefresh(full bool) command {
	return func(c *control.Client, asJSON bool, args []string, w io.Writer) error {
		if len(args) != 1 {
			return usageError{"want ZONE"}
		}
		if err := c.Refresh(args[0], full); err != nil {
			return err
		}
		if asJSON {
			_, err := fmt.Fprintln(w, "{}")
			return err
		}
		what := "checks its primaries"
		if full {
			what = "transfers the whole zone"
		}
		_, err := fmt.Fprintf(w, "%s %s now (xdpdnsctl zone-status shows the result)\n", args[0], what)
		return err
	}
}

// expiryText says when a secondary zone expires, or loudly that it has:
// "in 6d23h", "STALE since 2026-12-04T01:02:03Z (serve-stale)",
// "EXPIRED since ... (servfail: answering SERVFAIL)".
func expiryText(z control.ZoneState) string {
	if z.Expires == nil {
		return "-"
	}
	since := z.Expires.UTC().Format(time.RFC3339)
	switch {
	case z.Stale:
		return "STALE since " + since + " (serve-stale)"
	case z.Expired:
		return "EXPIRED since " + since + " (servfail: answering SERVFAIL)"
	}
	return "in " + time.Until(*z.Expires).Round(time.Second).String()
}

// cmdCookieSecret is cookie-secret rotate [HEX].
func cmdCookieSecret(c *control.Client, asJSON bool, args []string, w io.Writer) error {
	if len(args) < 1 || len(args) > 2 || args[0] != "rotate" {
		return usageError{"want rotate [HEX]"}
	}
	secret := ""
	if len(args) == 2 {
		secret = args[1]
	}
	r, err := c.RotateCookieSecret(secret)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(w).Encode(r)
	}
	if r.Secret != "" {
		fmt.Fprintf(w, "new cookie secret %s (give it to the other nodes of the anycast group)\n", r.Secret)
	} else {
		fmt.Fprintln(w, "new cookie secret in use")
	}
	_, err = fmt.Fprintf(w, "the previous secret is accepted until %s\n", r.PreviousUntil.Format(time.RFC3339))
	return err
}
