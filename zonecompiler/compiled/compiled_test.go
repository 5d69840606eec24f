package compiled

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xdpdns/xdpdns/interop"
	"github.com/xdpdns/xdpdns/interop/interoptest"
	"github.com/xdpdns/xdpdns/zonecompiler/binfmt"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// fixture is a zone set of one variant loaded from its files, compiled,
// with its image written.
type fixture struct {
	specs []zone.Spec
	set   *zone.Set
	img   *render.Image
	key   Key
	path  string
}

func newFixture(t *testing.T, v interoptest.Variant) *fixture {
	t.Helper()
	zs := interoptest.PrepareZones(t, v)
	f := &fixture{path: filepath.Join(t.TempDir(), "zones.image")}
	var list []*zone.Zone
	for _, z := range zs.Zones() {
		f.specs = append(f.specs, zone.Spec{Origin: z.Origin, File: z.Path})
		loaded, err := zone.LoadFile(z.Origin, z.Path, zone.Options{})
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, loaded)
	}
	var err error
	if f.set, err = zone.NewSet(list...); err != nil {
		t.Fatal(err)
	}
	if f.img, err = render.Compile(engine.New(interop.EngineConfig, f.set)); err != nil {
		t.Fatal(err)
	}
	if f.key, err = KeyFor(interop.EngineConfig); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(f.path, f.key, f.set, f.img); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return f
}

func (f *fixture) read() (*zone.Set, *render.Image, error) {
	return Read(f.path, f.key, f.specs, zone.Options{})
}

func encodedImage(t *testing.T, img *render.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := binfmt.NewWriter(&buf)
	img.Encode(w)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestReadBack: the zones read from an image answer every corpus query
// as the zones loaded from their files do, and its map image is the one
// compiled.
func TestReadBack(t *testing.T) {
	corpus := interoptest.UDPCorpus(t)
	for _, v := range interoptest.Variants {
		t.Run(string(v), func(t *testing.T) {
			f := newFixture(t, v)
			set, img, err := f.read()
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if !bytes.Equal(encodedImage(t, img), encodedImage(t, f.img)) {
				t.Fatal("the map image read back differs from the one written")
			}
			want, got := engine.New(interop.EngineConfig, f.set), engine.New(interop.EngineConfig, set)
			for _, q := range corpus {
				for _, tcp := range []bool{false, true} {
					a, b := want.Respond(nil, q.Packet, tcp), got.Respond(nil, q.Packet, tcp)
					if !bytes.Equal(a, b) {
						t.Fatalf("query %d (%v, tcp %v): the zones read back answer differently", q.Index, q.Query, tcp)
					}
				}
			}
		})
	}
}

// TestStaleImages: every reason not to use an image is a *StaleError
// naming it, never a zone set.
func TestStaleImages(t *testing.T) {
	f := newFixture(t, interoptest.NSEC3)
	good, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	restore := func() {
		if err := os.WriteFile(f.path, good, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(what, reason string) {
		t.Helper()
		set, _, err := f.read()
		var se *StaleError
		if set != nil || !errors.As(err, &se) || !strings.Contains(err.Error(), reason) {
			t.Fatalf("%s: Read gave %v (set %v), want a stale image (%q)", what, err, set != nil, reason)
		}
		restore()
	}
	if _, _, err := f.read(); err != nil {
		t.Fatalf("the image as written: %v", err)
	}

	os.Remove(f.path)
	if _, _, err := f.read(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("no image: %v, want fs.ErrNotExist", err)
	}
	restore()

	for n := 0; n < len(good); n += 1 + len(good)/53 {
		os.WriteFile(f.path, good[:n], 0o644)
		expect("truncated", "")
	}
	// A flipped byte anywhere: header, each section, directory, checksum.
	for _, at := range []int{3, 18, headerLen + 5, len(good) / 2, len(good) - trailerLen - 9, len(good) - trailerLen + 3, len(good) - 1} {
		bad := append([]byte(nil), good...)
		bad[at] ^= 0x40
		os.WriteFile(f.path, bad, 0o644)
		expect("corrupt", "")
	}
	bad := append([]byte(nil), good...)
	bad[16]++
	os.WriteFile(f.path, bad, 0o644)
	expect("format version", fmt.Sprintf("format version %d, this build reads version %d", FormatVersion+1, FormatVersion))

	other := *f
	other.key.Build = "another"
	if _, _, err := other.read(); err == nil || !strings.Contains(err.Error(), "another build") {
		t.Fatalf("another build: %v", err)
	}
	other = *f
	other.key.Config = ConfigID(engine.Config{Identity: "else"})
	if _, _, err := other.read(); err == nil || !strings.Contains(err.Error(), "answer configuration") {
		t.Fatalf("another configuration: %v", err)
	}
	other = *f
	other.specs = f.specs[:1]
	if _, _, err := other.read(); err == nil || !strings.Contains(err.Error(), "holds 2 zones, 1 configured") {
		t.Fatalf("other zones: %v", err)
	}

	// A zone file modified (newer mtime), or touched back to its old
	// mtime (its ctime moves all the same).
	zf := f.specs[1].File
	st, err := os.Stat(zf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(zf, time.Time{}, st.ModTime().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	expect("zone file newer", "was modified since")
	time.Sleep(10 * time.Millisecond) // a ctime this filesystem can tell apart
	if err := os.Chtimes(zf, time.Time{}, st.ModTime()); err != nil {
		t.Fatal(err)
	}
	expect("zone file touched", "is not the file it was")
}

// TestWriteNeedsFiles: a zone not read from a file has no image.
func TestWriteNeedsFiles(t *testing.T) {
	z, err := zone.Load(strings.NewReader("@ 300 SOA ns h 1 2 3 4 5\n@ 300 NS ns\nns 300 A 198.18.0.1\n"), "w.test.", "w.zone", zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	set, _ := zone.NewSet(z)
	img, err := render.Compile(engine.New(engine.Config{}, set))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "x.image")
	if _, err := Write(path, Key{}, set, img); !errors.Is(err, ErrNoSources) {
		t.Fatalf("Write: %v, want ErrNoSources", err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 0 {
		t.Fatalf("left %d files behind", len(ents))
	}
}

// TestDamagedSections: an image whose sections were damaged and whose
// checksums were made to match (what no CRC catches) is refused or read,
// never a crash.
func TestDamagedSections(t *testing.T) {
	f := newFixture(t, interoptest.NSEC3OptOut)
	good, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	dir := good[len(good)-trailerLen : len(good)-sumLen]
	rng := rand.New(rand.NewPCG(1, 2))
	refused := 0
	for range 200 {
		b := append([]byte(nil), good...)
		d := b[len(b)-trailerLen : len(b)-sumLen]
		sec := 1 + rng.IntN(2) // records or map image
		e := dir[sec*(16+sumLen):]
		off, n := binary.LittleEndian.Uint64(e), binary.LittleEndian.Uint64(e[8:])
		for range 1 + rng.IntN(8) {
			b[off+uint64(rng.IntN(int(n)))] ^= byte(1 + rng.IntN(255))
		}
		binary.LittleEndian.PutUint32(d[sec*(16+sumLen)+16:], crc32.Checksum(b[off:off+n], castagnoli))
		binary.LittleEndian.PutUint32(b[len(b)-sumLen:], trailerSum(b[:headerLen], d))
		if err := os.WriteFile(f.path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.read(); err != nil {
			refused++
			if strings.Contains(err.Error(), "corrupt records: ") || strings.Contains(err.Error(), "corrupt map image: ") {
				t.Logf("a decoder panicked (recovered): %v", err)
			}
		}
	}
	t.Logf("%d of 200 damaged images refused, the others read", refused)
	if refused == 0 {
		t.Fatal("no damaged image was refused")
	}
}
