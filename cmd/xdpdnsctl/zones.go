package main

import (
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
	fmt.Fprintln(tw, "ZONE\tROLE\tSERIAL\tPRIMARIES\tLAST REFRESH\tNEXT REFRESH\tTRANSFERS\tERROR")
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", z.Origin, z.Role, serial, prim, ago(z.LastRefresh), ago(z.NextRefresh), xfr, errText)
	}
	return tw.Flush()
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
