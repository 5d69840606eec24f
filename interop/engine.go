package interop

import (
	"testing"

	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// EngineConfig is the engine configuration the differential test's
// xdpdns runs with (same identity and NSID).
var EngineConfig = engine.Config{Identity: "xdp-test", NSID: []byte("node-1"), Version: "xdpdns"}

// Engine loads the zones of one variant into an in-process answer engine.
func Engine(t testing.TB, v Variant) *engine.Engine {
	t.Helper()
	zs := PrepareZones(t, v)
	var list []*zone.Zone
	for _, z := range zs.Zones() {
		loaded, err := zone.LoadFile(z.Origin, z.Path, zone.Options{})
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, loaded)
	}
	set, err := zone.NewSet(list...)
	if err != nil {
		t.Fatal(err)
	}
	return engine.New(EngineConfig, set)
}
