package zone

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// linesOf is dumpZone with its lines sorted: the content of a version
// whatever the order of the records in an RRset (a reload appends what
// the file adds, a load keeps the file's order).
func linesOf(t *testing.T, z *Zone) string {
	lines := strings.Split(dumpZone(t, z), "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func writeZone(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReloadFileMatchesLoad changes a zone file step by step (unsigned,
// NSEC, NSEC3, opt-out, re-signed each time) and reloads it as a
// difference to the version served: each version equals the file loaded
// whole, and the names reported changed are those that differ.
func TestReloadFileMatchesLoad(t *testing.T) {
	smallChunks(t)
	for _, kind := range []denialKind{unsigned, signedNSEC, signedNSEC3, signedNSEC3OptOut} {
		t.Run(kind.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "gen.zone")
			m := newModel(t, 90+uint64(kind))
			writeZone(t, path, zoneText(m.Signed(kind)))
			z, err := LoadFile(genOrigin, path, testOptions())
			if err != nil {
				t.Fatal(err)
			}
			diffs := 0
			for step := range 25 {
				m.Change()
				m.Bump()
				writeZone(t, path, zoneText(m.Signed(kind)))
				nz, changed, err := ReloadFile(context.Background(), z, path, testOptions())
				if err != nil {
					t.Fatalf("step %d: ReloadFile: %v", step, err)
				}
				want, err := LoadFile(genOrigin, path, testOptions())
				if err != nil {
					t.Fatal(err)
				}
				if got, exp := linesOf(t, nz), linesOf(t, want); got != exp {
					t.Fatalf("step %d: the reloaded version differs from the file loaded whole:\n%s", step, firstDiff(exp, got))
				}
				if changed != nil {
					diffs++
					checkChanged(t, z, nz, changed)
				}
				if len(nz.Sources) != 1 || nz.Sources[0].Current() != nil {
					t.Fatalf("step %d: sources %v", step, nz.Sources)
				}
				z = nz
			}
			if diffs == 0 {
				t.Fatal("every reload loaded the file whole")
			}
		})
	}
}

// TestReloadFileUnchanged: a file not touched since it was read is not
// read again; one touched with the same content is read and changes
// nothing.
func TestReloadFileUnchanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gen.zone")
	m := newModel(t, 5)
	text := zoneText(m.Signed(signedNSEC3))
	writeZone(t, path, text)
	z, err := LoadFile(genOrigin, path, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	nz, changed, err := ReloadFile(context.Background(), z, path, testOptions())
	if err != nil || nz != z || changed != nil {
		t.Fatalf("untouched file: %v, same version %v, changed %v", err, nz == z, changed)
	}
	later := time.Now().Add(time.Minute)
	os.Chtimes(path, later, later)
	nz, changed, err = ReloadFile(context.Background(), z, path, testOptions())
	if err != nil || nz == z || changed == nil || len(changed.Names) != 0 {
		t.Fatalf("touched file: %v, a new version %v, changed %+v", err, nz != z, changed)
	}
	if linesOf(t, nz) != linesOf(t, z) || nz.Sources[0].ModTime == z.Sources[0].ModTime {
		t.Fatal("a touched file changed the zone, or its sources were not updated")
	}
}

// TestReloadFileRefusal: a changed record the zone may not hold is
// refused at its file and line, and nothing is returned.
func TestReloadFileRefusal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gen.zone")
	base := "$TTL 300\n@ SOA ns.gen. h.gen. 1 2 3 4 5\n@ NS ns.gen.\nwww A 192.0.2.1\n"
	writeZone(t, path, base)
	z, err := LoadFile(genOrigin, path, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	writeZone(t, path, base+"www CNAME elsewhere.gen.\n")
	nz, _, err := ReloadFile(context.Background(), z, path, testOptions())
	var ze *Error
	if nz != nil || !errors.As(err, &ze) || ze.Line != 5 || !strings.HasSuffix(ze.File, "gen.zone") {
		t.Fatalf("ReloadFile of a CNAME beside data: %v, want a refusal at gen.zone:5", err)
	}
}
