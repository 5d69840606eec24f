package interop

import (
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
)

// EngineConfig is the engine configuration the differential test's
// xdpdns runs with (same identity and NSID).
var EngineConfig = engine.Config{Identity: "xdp-test", NSID: []byte("node-1"), Version: "xdpdns"}
