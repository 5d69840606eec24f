// Package compiled reads and writes the compiled zone image: a zone set's
// records and the XDP map image rendered from them, in one versioned,
// checksummed file written next to the zones, that a restart loads in
// place of parsing and compiling the zone files again.
//
// An image is used only when everything it was made from is unchanged:
// the same format version, the same build of the program (the answers'
// bytes are the code's), the same engine configuration, the same zones
// from the same files, each file still the one read (size, mtime, ctime,
// inode). Anything else (a corrupt, truncated or foreign file, another
// version, a zone file changed or touched since) is a *StaleError: the
// caller loads the zone files and writes a new image.
//
// Layout (integers little-endian, see package binfmt):
//
//	header     magic (16 bytes), format version (u32), reserved (u32)
//	sections   meta, records, map image, changes, back to back
//	directory  per section: offset (u64), length (u64), CRC-32C (u32)
//	checksum   CRC-32C of the header and the directory (u32)
//
// meta holds the build and configuration fingerprints and, per zone, its
// origin, file and sources; records the zones' records
// (zone.Zone.WriteRecords); the map image render.Image.Encode's bytes;
// changes the changes rendered alone since that map image was compiled
// (render.Delta.Encode, each length-prefixed, then the Incremental after
// the last), which a restart applies to it (render.Image.Apply): the
// image follows the zone through the changes written to the maps alone
// (AppendChanges), copying the map image as it is. Each section is
// checked against its own checksum before it is decoded,
// so the records and the map image decode in parallel. CRC-32C (the
// checksum of ext4's and btrfs's metadata, in hardware on x86 and arm64:
// a gigabyte in a tenth of a second) guards against a file damaged or cut
// short; the image is as trusted as the zone files beside it.
package compiled

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/binfmt"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// FormatVersion is the layout version this build writes and reads. Bump
// it whenever the encoding of any section changes.
const FormatVersion = 14

// magic opens every image file.
var magic = [16]byte{'X', 'D', 'P', 'D', 'N', 'S', ' ', 'Z', 'O', 'N', 'E', 'I', 'M', 'G', '\n', 0}

const (
	headerLen  = 16 + 4 + 4
	sections   = 4 // meta, records, map image, changes
	sumLen     = 4 // a CRC-32C
	dirLen     = sections * (8 + 8 + sumLen)
	trailerLen = dirLen + sumLen
)

// Key is what an image must have been made by, besides its zones.
type Key struct {
	// Build fingerprints the program (BuildID): another build may render
	// other bytes.
	Build string
	// Config fingerprints what else the rendering depends on (the engine
	// configuration: ConfigID).
	Config string
}

// StaleError says why an image file cannot be used.
type StaleError struct {
	Path   string
	Reason string
	Err    error // the underlying error, if any (fs.ErrNotExist: no image)
}

func (e *StaleError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("compiled image %s: %s: %v", e.Path, e.Reason, e.Err)
	}
	return fmt.Sprintf("compiled image %s: %s", e.Path, e.Reason)
}

func (e *StaleError) Unwrap() error { return e.Err }

// Written says which map image and how many changes an image file
// holds: what AppendChanges must find in the file to add to it.
type Written struct {
	MapSum  uint32 // the CRC-32C of the map image section
	Changes int
}

// MaxChanges is how many changes an image holds at most: a restart
// applies them all, and a change more makes AppendChanges refuse (the
// image is stale until the next whole compile writes a new one).
const MaxChanges = 256

// ErrTooManyChanges is AppendChanges' refusal past MaxChanges.
var ErrTooManyChanges = fmt.Errorf("more than %d changes since the map image was compiled", MaxChanges)

// ErrNotFollowed is AppendChanges' refusal of a file that is not the one
// the caller wrote or read last (replaced, removed, or another version).
var ErrNotFollowed = errors.New("the image file is not the one the changes follow")

// ErrNoSources is Write's refusal of a zone not read from files (made by
// a transfer or a change): no file says when its image is stale.
var ErrNoSources = errors.New("a zone not read from files has no compiled image")

// Write writes set and its compiled map image img (render.Compile of an
// engine on set, configured as key.Config says) to path: to a temporary
// file beside it, synced, then renamed over path, so that a reader sees
// the old image or the new one, never part of one.
func Write(path string, key Key, set *zone.Set, img *render.Image) (Written, error) {
	sums, err := writeFile(path, key, set, img.Encode, func(w *binfmt.Writer) { writeChanges(w, nil, nil, nil) }, nil)
	if err != nil {
		return Written{}, err
	}
	return Written{MapSum: sums[2]}, nil
}

// AppendChanges writes set, with the map image of the file at path and
// its changes and ds after them, and inc (Recompile's Incremental after
// the last of ds), in place of that file, as Write does: so that a
// restart gets the maps the changes made live without a whole compile.
// The file must be the one at describes (ErrNotFollowed) and hold fewer than
// MaxChanges with ds (ErrTooManyChanges).
func AppendChanges(path string, key Key, set *zone.Set, at Written, ds []*render.Delta, inc *render.Incremental) (Written, error) {
	f, err := os.Open(path)
	if err != nil {
		return Written{}, fmt.Errorf("%w: %v", ErrNotFollowed, err)
	}
	defer f.Close()
	// Read, not mapped: the map image is copied by the kernel, and never
	// counts in the process's memory.
	_, spans, sums, err := directory(f, path)
	if err != nil {
		return Written{}, fmt.Errorf("%w: %v", ErrNotFollowed, err)
	}
	if sums[2] != at.MapSum {
		return Written{}, ErrNotFollowed
	}
	changes := make([]byte, spans[3].n)
	if _, err := f.ReadAt(changes, spans[3].off); err != nil || crc32.Checksum(changes, castagnoli) != sums[3] {
		return Written{}, fmt.Errorf("%w: its changes cannot be read or are corrupt", ErrNotFollowed)
	}
	r := binfmt.NewReader(changes)
	old := changeBlobs(r)
	if r.Err() != nil || len(old) != at.Changes {
		return Written{}, ErrNotFollowed
	}
	if len(old)+len(ds) > MaxChanges {
		return Written{}, ErrTooManyChanges
	}
	mapImage := io.NewSectionReader(f, spans[2].off, spans[2].n)
	copied := crc32.New(castagnoli)
	newSums, err := writeFile(path, key, set, func(w *binfmt.Writer) {
		if _, err := io.Copy(w, io.TeeReader(mapImage, copied)); err != nil {
			w.Fail(err)
		}
	}, func(w *binfmt.Writer) { writeChanges(w, old, ds, inc) }, func(sums [sections]uint32) error {
		if copied.Sum32() != at.MapSum || sums[2] != at.MapSum {
			return fmt.Errorf("%w: its map image is corrupt", ErrNotFollowed)
		}
		return nil
	})
	if err != nil {
		return Written{}, err
	}
	return Written{MapSum: newSums[2], Changes: len(old) + len(ds)}, nil
}

// writeChanges writes the changes section: the changes old (as written
// before) and ds, each length-prefixed, then inc (the Incremental after
// the last; nil with none).
func writeChanges(w *binfmt.Writer, old [][]byte, ds []*render.Delta, inc *render.Incremental) {
	w.Int(len(old) + len(ds))
	for _, c := range old {
		w.Bytes(c)
	}
	var buf bytes.Buffer
	for _, d := range ds {
		buf.Reset()
		dw := binfmt.NewWriter(&buf)
		d.Encode(dw)
		dw.Flush() // a bytes.Buffer: no error
		w.Bytes(buf.Bytes())
	}
	render.EncodeIncremental(w, inc)
}

// changeBlobs reads the changes of a changes section, each as written
// (r is then at the Incremental).
func changeBlobs(r *binfmt.Reader) [][]byte {
	blobs := make([][]byte, r.Count(1))
	for i := range blobs {
		blobs[i] = r.View()
	}
	return blobs
}

// writeFile writes an image of set: its meta and records sections, then
// the map image and changes sections mapImage and changes write; verify,
// when not nil, may refuse the file written (its sections' checksums)
// before it replaces the one at path. It returns the sections' checksums.
func writeFile(path string, key Key, set *zone.Set, mapImage, changes func(*binfmt.Writer),
	verify func([sections]uint32) error) (sums [sections]uint32, err error) {
	for _, z := range set.Zones() {
		if len(z.Sources) == 0 {
			return sums, fmt.Errorf("zone %s: %w", z.Name(), ErrNoSources)
		}
	}
	// A write cut short (the process killed) leaves its temporary file:
	// the next one removes it.
	pattern := "." + filepath.Base(path) + ".*"
	if old, err := filepath.Glob(filepath.Join(filepath.Dir(path), pattern)); err == nil {
		for _, f := range old {
			os.Remove(f)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), pattern)
	if err == nil {
		err = tmp.Chmod(0o644) // as readable as the zone files it holds
	}
	if err != nil {
		return sums, fmt.Errorf("writing compiled image: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	var head [headerLen]byte
	copy(head[:], magic[:])
	binary.LittleEndian.PutUint32(head[16:], FormatVersion)
	if _, err := tmp.Write(head[:]); err != nil {
		return sums, fmt.Errorf("writing compiled image: %w", err)
	}
	var dir [dirLen]byte
	off := int64(headerLen)
	for i, write := range [sections]func(*binfmt.Writer){
		func(w *binfmt.Writer) { writeMeta(w, key, set) },
		func(w *binfmt.Writer) {
			w.Int(len(set.Zones()))
			for _, z := range set.Zones() {
				z.WriteRecords(w)
			}
		},
		mapImage,
		changes,
	} {
		h := crc32.New(castagnoli)
		w := binfmt.NewWriter(io.MultiWriter(tmp, h))
		write(w)
		if err := w.Flush(); err != nil {
			return sums, fmt.Errorf("writing compiled image: %w", err)
		}
		sums[i] = h.Sum32()
		d := dir[i*(16+sumLen):]
		binary.LittleEndian.PutUint64(d, uint64(off))
		binary.LittleEndian.PutUint64(d[8:], uint64(w.Pos()))
		binary.LittleEndian.PutUint32(d[16:], sums[i])
		off += w.Pos()
	}
	if verify != nil {
		if err := verify(sums); err != nil {
			return sums, err
		}
	}
	if _, err := tmp.Write(binary.LittleEndian.AppendUint32(dir[:], trailerSum(head[:], dir[:]))); err != nil {
		return sums, fmt.Errorf("writing compiled image: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return sums, fmt.Errorf("writing compiled image: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return sums, fmt.Errorf("writing compiled image: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return sums, fmt.Errorf("writing compiled image: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return sums, nil
}

// castagnoli is the CRC-32C table.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// trailerSum is the checksum of the header and the directory.
func trailerSum(head, dir []byte) uint32 {
	return crc32.Update(crc32.Checksum(head, castagnoli), castagnoli, dir)
}

func writeMeta(w *binfmt.Writer, key Key, set *zone.Set) {
	w.String(key.Build)
	w.String(key.Config)
	w.Int(len(set.Zones()))
	for _, z := range set.Zones() {
		w.Bytes(z.Origin.Lower)
		w.String(z.File)
		zone.WriteSources(w, z.Sources)
	}
}

// Read loads the zone set and map image of the image file at path when
// it was made by key from exactly the zones specs names, each file
// unchanged since; the zones are checked again as zone.Load checks them
// (opt's clock: a signature expired since is refused as it would be from
// the file). The map image is the one the file holds with its changes
// applied. Any reason not to use the file is a *StaleError.
func Read(path string, key Key, specs []zone.Spec, opt zone.Options) (*zone.Set, *render.Image, error) {
	set, img, _, err := ReadWith(path, key, specs, opt, nil)
	return set, img, err
}

// span is where a section is in an image file.
type span struct{ off, n int64 }

// directory reads and checks the header and the directory of the image
// file f (at path): where each section is, and the checksum the
// directory gives it (not checked yet: the caller checks each before it
// decodes it).
func directory(f *os.File, path string) (size int64, at [sections]span, sums [sections]uint32, err error) {
	stale := func(format string, args ...any) error {
		return &StaleError{Path: path, Reason: fmt.Sprintf(format, args...)}
	}
	st, err := f.Stat()
	if err != nil {
		return 0, at, sums, &StaleError{Path: path, Reason: "cannot stat", Err: err}
	}
	size = st.Size()
	if !st.Mode().IsRegular() || size < headerLen+trailerLen {
		return 0, at, sums, stale("truncated (%d bytes)", size)
	}
	var head [headerLen]byte
	var trailer [trailerLen]byte
	if _, err := f.ReadAt(head[:], 0); err != nil {
		return 0, at, sums, &StaleError{Path: path, Reason: "cannot read", Err: err}
	}
	if _, err := f.ReadAt(trailer[:], size-trailerLen); err != nil {
		return 0, at, sums, &StaleError{Path: path, Reason: "cannot read", Err: err}
	}
	if [16]byte(head[:16]) != magic {
		return 0, at, sums, stale("not a compiled zone image")
	}
	if v := binary.LittleEndian.Uint32(head[16:]); v != FormatVersion {
		return 0, at, sums, stale("format version %d, this build reads version %d", v, FormatVersion)
	}
	dir := trailer[:dirLen]
	if trailerSum(head[:], dir) != binary.LittleEndian.Uint32(trailer[dirLen:]) {
		return 0, at, sums, stale("corrupt or truncated (directory checksum mismatch)")
	}
	end := uint64(size - trailerLen)
	for i := range sections {
		d := dir[i*(16+sumLen):]
		o, n := binary.LittleEndian.Uint64(d), binary.LittleEndian.Uint64(d[8:])
		if o < headerLen || o > end || n > end-o {
			return 0, at, sums, stale("corrupt: section %d out of the file", i)
		}
		at[i], sums[i] = span{int64(o), int64(n)}, binary.LittleEndian.Uint32(d[16:])
	}
	return size, at, sums, nil
}

// mapImage maps the image file f (at path) and finds its sections
// (directory). The caller unmaps b.
func mapImage(f *os.File, path string) (b []byte, sec [sections][]byte, sums [sections]uint32, err error) {
	size, at, sums, err := directory(f, path)
	if err != nil {
		return nil, sec, sums, err
	}
	if b, err = mapFile(f, size); err != nil {
		return nil, sec, sums, &StaleError{Path: path, Reason: "cannot map", Err: err}
	}
	for i, sp := range at {
		sec[i] = b[sp.off : sp.off+sp.n]
	}
	return b, sec, sums, nil
}

// ReadWith is Read that hands the map image to onImage as soon as it is
// decoded (its changes applied), while the zones' records are still being
// read (the caller writes it to the XDP maps meanwhile); Read returns once
// onImage has. The image is only good if Read then succeeds. It also says
// what the file holds, for AppendChanges.
func ReadWith(path string, key Key, specs []zone.Spec, opt zone.Options, onImage func(*render.Image)) (*zone.Set, *render.Image, Written, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, Written{}, &StaleError{Path: path, Reason: "cannot open", Err: err}
	}
	defer f.Close()
	b, sec, sums, err := mapImage(f, path)
	if err != nil {
		return nil, nil, Written{}, err
	}
	defer unmapFile(b)
	stale := func(format string, args ...any) error {
		return &StaleError{Path: path, Reason: fmt.Sprintf(format, args...)}
	}
	check := func(i int) error {
		if crc32.Checksum(sec[i], castagnoli) != sums[i] {
			return stale("corrupt: %s checksum mismatch", [...]string{"meta", "records", "map image", "changes"}[i])
		}
		return nil
	}
	if err := check(0); err != nil {
		return nil, nil, Written{}, err
	}
	if err := matchMeta(sec[0], key, specs); err != nil {
		return nil, nil, Written{}, &StaleError{Path: path, Reason: err.Error()}
	}
	// The map image decodes beside the zones.
	type decoded struct {
		img     *render.Image
		changes int
		err     error
	}
	imgc := make(chan decoded, 1)
	go func() {
		if err := check(2); err != nil {
			imgc <- decoded{err: err}
			return
		}
		if err := check(3); err != nil {
			imgc <- decoded{err: err}
			return
		}
		var img *render.Image
		var n int
		err := decodeSafely(stale, "map image", func() (err error) {
			if img, err = render.DecodeImage(binfmt.NewReader(sec[2])); err != nil {
				return err
			}
			n, err = applyChanges(&img, sec[3])
			return err
		})
		if err != nil {
			err = stale("map image: %v", err)
		} else if onImage != nil {
			onImage(img)
		}
		imgc <- decoded{img, n, err}
	}()
	var set *zone.Set
	err = decodeSafely(stale, "records", func() (err error) {
		set, err = readZones(sec[1], check, stale, opt)
		return err
	})
	d := <-imgc
	if err != nil {
		return nil, nil, Written{}, err
	}
	if d.err != nil {
		return nil, nil, Written{}, d.err
	}
	return set, d.img, Written{MapSum: sums[2], Changes: d.changes}, nil
}

// applyChanges decodes the changes section b and applies them to *img
// (none: *img stays), returning how many there were.
func applyChanges(img **render.Image, b []byte) (int, error) {
	r := binfmt.NewReader(b)
	blobs := changeBlobs(r)
	ds := make([]*render.Delta, len(blobs))
	for i, blob := range blobs {
		var err error
		if ds[i], err = render.DecodeDelta(binfmt.NewReader(blob)); err != nil {
			return 0, fmt.Errorf("change %d: %w", i+1, err)
		}
	}
	inc, err := render.DecodeIncremental(r)
	if err == nil && r.Left() != 0 {
		err = fmt.Errorf("%d bytes after the changes", r.Left())
	}
	if err != nil || len(ds) == 0 {
		return 0, err
	}
	next, err := (*img).Apply(ds...)
	if err != nil {
		return 0, err
	}
	if err := next.CheckRefs(); err != nil {
		return 0, fmt.Errorf("after the changes: %w", err)
	}
	next.Incremental = inc
	*img = next
	return len(ds), nil
}

// decodeSafely runs a decoder, turning a panic into a stale image: the
// decoders check what they read, and the zone checks what it is given,
// but a file that passed its checksums without being one this build
// wrote must cost a start from the zone files, never a crash.
func decodeSafely(stale func(string, ...any) error, what string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = stale("corrupt %s: %v", what, r)
		}
	}()
	return f()
}

// readZones decodes the records section.
func readZones(b []byte, check func(int) error, stale func(string, ...any) error, opt zone.Options) (*zone.Set, error) {
	if err := check(1); err != nil {
		return nil, err
	}
	r := binfmt.NewReader(b)
	n := r.Count(1)
	zones := make([]*zone.Zone, 0, n)
	for range n {
		z, err := zone.ReadRecords(r, opt)
		if err != nil {
			var ze *zone.Error
			if errors.As(err, &ze) {
				return nil, err // the zone's own refusal, as from its file
			}
			return nil, stale("records: %v", err)
		}
		zones = append(zones, z)
	}
	if err := r.Err(); err != nil {
		return nil, stale("records: %v", err)
	}
	set, err := zone.NewSet(zones...)
	if err != nil {
		return nil, stale("records: %v", err)
	}
	return set, nil
}

// matchMeta checks the meta section against key and specs, and each zone
// file against the one the image was made from.
func matchMeta(b []byte, key Key, specs []zone.Spec) error {
	r := binfmt.NewReader(b)
	build, config := r.String(), r.String()
	type zoneMeta struct {
		file    string
		sources []zone.Source
	}
	n := r.Count(1)
	zones := make(map[string]zoneMeta, n)
	for range n {
		origin := wire.String(r.View())
		m := zoneMeta{file: r.String()}
		m.sources = zone.ReadSources(r)
		zones[origin] = m
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("meta: %w", err)
	}
	switch {
	case build != key.Build:
		return errors.New("made by another build of xdpdnsd")
	case config != key.Config:
		return errors.New("made with another answer configuration (identity, version, NSID, UDP size or cookies)")
	case len(zones) != len(specs):
		return fmt.Errorf("holds %d zones, %d configured", len(zones), len(specs))
	}
	for _, sp := range specs {
		m, ok := zones[dns.CanonicalName(sp.Origin)]
		if !ok || m.file != sp.File {
			return fmt.Errorf("zone %s from %s is not in it", sp.Origin, sp.File)
		}
		for _, s := range m.sources {
			if err := s.Current(); err != nil {
				return fmt.Errorf("zone %s: %w", sp.Origin, err)
			}
		}
	}
	return nil
}
