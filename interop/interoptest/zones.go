package interoptest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/internal/testsupport/zonegen"
	"github.com/xdpdns/xdpdns/interop"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// Variant is how the test zones are signed.
type Variant string

// The zone variants every differential test runs against.
const (
	Unsigned    Variant = "unsigned"
	NSEC        Variant = "nsec"
	NSEC3       Variant = "nsec3"
	NSEC3OptOut Variant = "nsec3-optout"
)

// Variants lists all zone variants in test order.
var Variants = []Variant{Unsigned, NSEC, NSEC3, NSEC3OptOut}

// Signature validity: fixed so that runs are comparable, far enough in the
// future to outlive the test suite.
const (
	sigInception  = "20200101000000"
	sigExpiration = "20360101000000"
	nsec3Salt     = "cafe0123"
	keyAlgorithm  = "ECDSAP256SHA256"
	toolTimeout   = time.Minute
)

// ZoneSet is the pair of zones every server serves, prepared for one variant.
type ZoneSet struct {
	Variant Variant
	Parent  interop.Zone // example.test.
	Child   interop.Zone // sub2.example.test., delegated from Parent with a DS
	// TrustAnchor is the parent's KSK as a DS record in presentation
	// format ("" when unsigned).
	TrustAnchor string
	dir         string
}

// Zones returns the zones in the order servers load them.
func (z *ZoneSet) Zones() []interop.Zone { return []interop.Zone{z.Parent, z.Child} }

// PrepareZones copies the hand-written zones into a temporary directory,
// adds the child's DS to the parent and, for the signed variants, generates
// keys and signs both zones.
func PrepareZones(t testing.TB, v Variant) *ZoneSet {
	t.Helper()
	keygen := requireBinary(t, "dnssec-keygen")
	dsfromkey := requireBinary(t, "dnssec-dsfromkey")
	signzone := requireBinary(t, "dnssec-signzone")

	parent, child, err := interop.TestdataZones()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	zs := &ZoneSet{Variant: v, dir: dir}

	// The child always has a KSK so that the parent's DS is real.
	childKSK := runTool(t, dir, keygen, "-q", "-K", dir, "-a", keyAlgorithm, "-f", "KSK", "-n", "ZONE", child.Origin)
	childDS := runTool(t, dir, dsfromkey, "-2", filepath.Join(dir, childKSK+".key"))

	parentText := readFile(t, parent.Path) + "\n; added by the test set-up\n" + childDS + "\n"
	childText := readFile(t, child.Path)
	zs.Parent = interop.Zone{Origin: parent.Origin, Path: filepath.Join(dir, "example.test.zone")}
	zs.Child = interop.Zone{Origin: child.Origin, Path: filepath.Join(dir, "sub2.example.test.zone")}
	writeFile(t, zs.Parent.Path, parentText)
	writeFile(t, zs.Child.Path, childText)
	if v == Unsigned {
		return zs
	}

	childZSK := runTool(t, dir, keygen, "-q", "-K", dir, "-a", keyAlgorithm, "-n", "ZONE", child.Origin)
	parentKSK := runTool(t, dir, keygen, "-q", "-K", dir, "-a", keyAlgorithm, "-f", "KSK", "-n", "ZONE", parent.Origin)
	parentZSK := runTool(t, dir, keygen, "-q", "-K", dir, "-a", keyAlgorithm, "-n", "ZONE", parent.Origin)
	zs.TrustAnchor = runTool(t, dir, dsfromkey, "-2", filepath.Join(dir, parentKSK+".key"))

	zs.Parent.Path = signZone(t, signzone, dir, v, parent.Origin, zs.Parent.Path, parentKSK, parentZSK)
	zs.Child.Path = signZone(t, signzone, dir, v, child.Origin, zs.Child.Path, childKSK, childZSK)
	return zs
}

// signZone signs in with the given keys (base names in dir) and returns the
// path of the signed file.
func signZone(t testing.TB, signzone, dir string, v Variant, origin, in string, keys ...string) string {
	t.Helper()
	// dnssec-signzone wants the DNSKEYs in the zone when keys are named
	// on the command line.
	text := readFile(t, in)
	for _, k := range keys {
		text += readFile(t, filepath.Join(dir, k+".key"))
	}
	unsignedPath := in + ".keys"
	writeFile(t, unsignedPath, text)

	out := in + ".signed"
	args := []string{"-q", "-K", dir, "-d", dir, "-o", origin, "-f", out,
		"-s", sigInception, "-e", sigExpiration}
	switch v {
	case NSEC:
	case NSEC3:
		args = append(args, "-3", nsec3Salt, "-H", "0")
	case NSEC3OptOut:
		args = append(args, "-3", nsec3Salt, "-H", "0", "-A")
	default:
		t.Fatalf("signZone: variant %q is not signed", v)
	}
	args = append(args, unsignedPath)
	for _, k := range keys {
		args = append(args, filepath.Join(dir, k))
	}
	runTool(t, dir, signzone, args...)
	return out
}

// runTool runs a command in dir with a time limit and returns its trimmed
// standard output, failing the test on error.
func runTool(t testing.TB, dir, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// runCheck runs a configuration checker with a time limit.
func runCheck(bin string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	return exec.CommandContext(ctx, bin, args...).CombinedOutput()
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read zone: %v", err)
	}
	return string(b)
}

func writeFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatalf("write zone: %v", err)
	}
}

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
	return ZonesEngine(t, interop.EngineConfig, list...)
}

// ZonesEngine returns an engine configured as cfg serving zones.
func ZonesEngine(t testing.TB, cfg engine.Config, zones ...*zone.Zone) *engine.Engine {
	t.Helper()
	set, err := zone.NewSet(zones...)
	if err != nil {
		t.Fatal(err)
	}
	return engine.New(cfg, set)
}

// GenEngine is an engine configured as cfg serving a zonegen version
// (its records by key), loaded on zonegen's clock (its signatures
// valid).
func GenEngine(t testing.TB, cfg engine.Config, rrs map[string]dns.RR) *engine.Engine {
	t.Helper()
	z, err := zone.Load(strings.NewReader(zonegen.Text(rrs)), zonegen.Origin, "gen.zone",
		zone.Options{Now: func() time.Time { return zonegen.Now }})
	if err != nil {
		t.Fatal(err)
	}
	return ZonesEngine(t, cfg, z)
}

// FileEngine writes text to path as a new file renamed into place (a new
// inode, as a secondary or an editor writes a zone), loads it as zone
// origin from there (so that it has its file as a source) and returns an
// engine configured as cfg that serves it.
func FileEngine(t testing.TB, cfg engine.Config, origin, path, text string) *engine.Engine {
	t.Helper()
	writeFile(t, path+".new", text)
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	z, err := zone.LoadFile(origin, path, zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return ZonesEngine(t, cfg, z)
}
