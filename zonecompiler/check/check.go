// Package check runs the zone compiler offline, with no daemon and no
// kernel: it loads zones with every check the daemon applies, compiles
// the XDP image the daemon would load, and reports what would be served
// and how much of it the XDP program would answer. xdpdnsd --check-config
// and xdpdnsctl check-zone print its report.
package check

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// Zone describes one zone that passed its checks.
type Zone struct {
	Origin   string   `json:"origin"`
	File     string   `json:"file"`
	Serial   uint32   `json:"serial"`
	Records  int      `json:"records"`
	Signed   bool     `json:"signed"`
	NSEC3    bool     `json:"nsec3"`
	Warnings []string `json:"warnings,omitempty"` // FILE:LINE: reason
	// SigExpiration is the earliest RRSIG expiration (signed zones).
	SigExpiration *time.Time `json:"sig_expiration,omitempty"`
}

// XDP is what the compiled image holds and what it leaves to userspace.
type XDP struct {
	Names       int `json:"names"`       // names with an entry (empty non-terminals included)
	Answers     int `json:"answers"`     // per-type entries that differ from a name's default
	Templates   int `json:"templates"`   // distinct reply bodies
	BodyBytes   int `json:"body_bytes"`  // bytes of those bodies
	Delegations int `json:"delegations"` // delegation points (referrals answered in XDP)
	// Passed counts (name, type, DO) combinations whose answer the
	// engine gives in userspace (for instance DO=1 denial in signed
	// zones, answers too big for one frame).
	Passed int `json:"passed_to_userspace"`
	// MapBytes estimates the kernel memory of the zone maps; a reload
	// needs twice as much while both generations exist.
	MapBytes int `json:"map_bytes"`
}

// Report is the result of a check that passed.
type Report struct {
	Zones []Zone `json:"zones"`
	XDP   XDP    `json:"xdp"`
	// Took is the time spent loading and compiling.
	Took time.Duration `json:"took_ns"`
}

// Run loads every zone of specs with opt (errors are the zone's own:
// FILE:LINE: reason) and compiles them for XDP with an engine configured
// by ec, as the daemon does at start.
func Run(specs []zone.Spec, opt zone.Options, ec engine.Config) (*Report, error) {
	start := time.Now()
	set, err := zone.LoadSet(specs, opt)
	if err != nil {
		return nil, err
	}
	img, err := render.Compile(engine.New(ec, set))
	if err != nil {
		return nil, fmt.Errorf("compiling for XDP: %w", err)
	}
	r := &Report{XDP: XDP{
		Names: img.Stats.Names, Answers: img.Stats.Answers, Templates: img.Stats.Templates,
		BodyBytes: img.Stats.BodyBytes, Delegations: img.Stats.Delegations,
		Passed: img.Stats.PassedTemplates, MapBytes: img.MapBytes(),
	}}
	for _, z := range set.Zones() {
		zr := Zone{Origin: z.Name(), File: z.File, Serial: z.Serial, Records: z.RecordCount(),
			Signed: z.Signed, NSEC3: z.NSEC3 != nil, Warnings: z.Warnings}
		if z.HasRRSIGs() {
			exp := z.SigExpiration
			zr.SigExpiration = &exp
		}
		r.Zones = append(r.Zones, zr)
	}
	r.Took = time.Since(start)
	return r, nil
}

// Write prints the report for people: one line per zone, its warnings,
// then the XDP image.
func (r *Report) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ZONE\tSERIAL\tRECORDS\tDNSSEC\tWARNINGS\tFILE")
	for _, z := range r.Zones {
		dnssec := "unsigned"
		switch {
		case z.NSEC3:
			dnssec = "nsec3"
		case z.Signed:
			dnssec = "nsec"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%s\n", z.Origin, z.Serial, z.Records, dnssec, len(z.Warnings), z.File)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, z := range r.Zones {
		for _, warn := range z.Warnings {
			fmt.Fprintf(w, "warning: %s\n", warn)
		}
		if z.SigExpiration != nil {
			fmt.Fprintf(w, "%s: earliest signature expires %s (in %s)\n", z.Origin,
				z.SigExpiration.UTC().Format(time.RFC3339), time.Until(*z.SigExpiration).Round(time.Minute))
		}
	}
	x := r.XDP
	_, err := fmt.Fprintf(w, "xdp: %d names, %d typed answers, %d templates (%d body bytes), %d delegations; "+
		"%d answers left to userspace; maps ~%s (twice that during a reload); compiled in %s\n",
		x.Names, x.Answers, x.Templates, x.BodyBytes, x.Delegations, x.Passed, size(x.MapBytes), r.Took.Round(time.Millisecond))
	return err
}

// size formats a byte count in KiB or MiB.
func size(n int) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
