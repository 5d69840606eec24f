package check

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdpdns/xdpdns/internal/testsupport"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

func TestRunReportsZoneAndImage(t *testing.T) {
	dir := t.TempDir()
	file := testsupport.WriteFile(t, dir, "example.com.zone", testsupport.ExampleCom)
	r, err := Run([]zone.Spec{{Origin: "example.com", File: file}}, zone.Options{}, engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Zones) != 1 || r.Zones[0].Origin != "example.com." || r.Zones[0].Records == 0 || r.Zones[0].File != file || r.Zones[0].Signed {
		t.Errorf("zones %+v", r.Zones)
	}
	if r.XDP.Names == 0 || r.XDP.Templates == 0 || r.XDP.MapBytes == 0 {
		t.Errorf("xdp %+v", r.XDP)
	}
	var out bytes.Buffer
	if err := r.Write(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "example.com.") || !strings.Contains(out.String(), "xdp: ") {
		t.Errorf("report:\n%s", out.String())
	}
}

func TestRunRefusesWithFileLine(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "bad.zone")
	if err := os.WriteFile(file, []byte("$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\nc CNAME ns\nc A 192.0.2.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Run([]zone.Spec{{Origin: "bad.test", File: file}}, zone.Options{}, engine.Config{})
	var ze *zone.Error
	if !errors.As(err, &ze) || ze.File != file || ze.Line == 0 || !strings.Contains(err.Error(), "CNAME") {
		t.Errorf("err %v, want %s:LINE: ...CNAME...", err, file)
	}
}
