package config

import (
	"testing"

	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

func TestZoneImagePath(t *testing.T) {
	c := Default()
	c.Zones = []zone.Spec{{Origin: "tld.", File: "/z/tld.zone"}, {Origin: "b.", File: "/z/b.zone"}}
	if p := c.ZoneImagePath(); p != "" {
		t.Fatalf("without XDP: %q, want none", p)
	}
	c.XDP = []XDPAttach{{Iface: "eth0"}}
	if p := c.ZoneImagePath(); p != "/z/tld.zone"+ZoneImageSuffix {
		t.Fatalf("auto: %q", p)
	}
	c.ZoneImage = "/var/img"
	if p := c.ZoneImagePath(); p != "/var/img" {
		t.Fatalf("a path: %q", p)
	}
	c.ZoneImage = ZoneImageOff
	if p := c.ZoneImagePath(); p != "" {
		t.Fatalf("off: %q", p)
	}
}
