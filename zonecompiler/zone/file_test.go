package zone

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const smallZone = "$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n"

// TestHostileZoneFiles: what the loader must refuse quickly, with the file
// (and line) and without reading without end: FIFOs, devices, files over
// the size limit, binary data, absurd lines, the same through $INCLUDE,
// and a load whose context ends.
func TestHostileZoneFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo.zone")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero.zone")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	nul := write("nul.zone", smallZone+"www A 192.0.2.2\n\x00\x00\x00")
	long := write("long.zone", smallZone+"www A 192.0.2.2 ; "+strings.Repeat("x ", MaxLineBytes/2+10)+"\n")
	big := write("big.zone", smallZone+strings.Repeat("; padding to exceed a small limit\n", 100))
	incFIFO := write("incfifo.zone", smallZone+"$INCLUDE fifo.zone\n")
	incZero := write("inczero.zone", smallZone+"$INCLUDE "+zero+"\n")
	good := write("good.zone", smallZone)
	incGood := write("incgood.zone", "$TTL 60\n@ SOA ns h 1 2 3 4 5\n$INCLUDE good.inc\n")
	write("good.inc", "@ NS ns\nns A 192.0.2.1\n")

	for _, c := range []struct {
		desc, file string
		opt        Options
		want       string // in the error
		line       int    // 0: not checked
	}{
		{"a FIFO", fifo, Options{}, "not a regular file (a FIFO)", 0},
		{"a symlink to /dev/zero", zero, Options{}, "not a regular file (a character device)", 0},
		{"NUL bytes", nul, Options{}, "NUL byte", 6},
		{"a 1 MiB line", long, Options{}, "line longer than", 5},
		{"over zone-max-size", big, Options{MaxFileSize: 1000}, "larger than zone-max-size", 0},
		{"a FIFO through $INCLUDE", incFIFO, Options{}, "not a regular file (a FIFO)", 0},
		{"/dev/zero through $INCLUDE", incZero, Options{}, "not a regular file (a character device)", 0},
		{"a zone and its $INCLUDE over the limit together", incGood, Options{MaxFileSize: 60}, "larger than zone-max-size", 0},
	} {
		start := time.Now()
		_, err := LoadFile("s.test.", c.file, c.opt)
		var ze *Error
		if !errors.As(err, &ze) || !strings.Contains(ze.Reason, c.want) || ze.File == "" || (c.line != 0 && ze.Line != c.line) {
			t.Errorf("%s: err %v, want *Error with a file, line %d, containing %q", c.desc, err, c.line, c.want)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s: took %v", c.desc, took)
		}
	}
	if _, err := LoadFile("s.test.", incGood, Options{}); err != nil {
		t.Errorf("a good zone with an $INCLUDE: %v", err)
	}
	if _, err := LoadFile("s.test.", good, Options{MaxFileSize: int64(len(smallZone))}); err != nil {
		t.Errorf("a zone exactly at the limit: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := LoadFileContext(ctx, "s.test.", good, Options{})
	var ze *Error
	if !errors.As(err, &ze) || !strings.Contains(ze.Reason, "stopped") || ze.File != good {
		t.Errorf("cancelled load: %v", err)
	}
}

// TestSyntaxErrorsNameTheProblem: an unknown type where a TTL, class or
// type may stand is reported as a type, and an error inside an unclosed
// '(' says so.
func TestSyntaxErrorsNameTheProblem(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{smallZone + "www AA 192.0.2.2\n", "unknown record type (or class): \"AA\""},
		{"$TTL 60\n@ SOA ns h ( 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n", "a '(' opened on an earlier line is still open"},
	} {
		_, err := Load(strings.NewReader(c.text), "s.test.", "s.zone", Options{})
		var ze *Error
		if !errors.As(err, &ze) || !strings.Contains(ze.Reason, c.want) {
			t.Errorf("%q: %v, want %q", c.text, err, c.want)
		}
	}
}
