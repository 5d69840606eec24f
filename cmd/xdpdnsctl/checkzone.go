package main

import (
	"encoding/json"
	"io"

	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/zonecompiler/check"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// cmdCheckZone: check-zone ORIGIN FILE, offline (no daemon): the zone
// checks xdpdnsd applies (errors as FILE:LINE: reason, warnings listed),
// then the XDP image it would compile, with the engine's defaults.
func cmdCheckZone(_ *control.Client, asJSON bool, args []string, w io.Writer) error {
	if len(args) != 2 {
		return usageError{"want ORIGIN FILE"}
	}
	r, err := check.Run([]zone.Spec{{Origin: args[0], File: args[1]}}, zone.Options{}, engine.Config{})
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return r.Write(w)
}
