package zone

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Limits on what a zone load reads. A zone file and its $INCLUDEs must be
// regular files (symbolic links are followed): a FIFO would block the
// reader and a device never end.
const (
	// DefaultMaxFileSize bounds the bytes of a zone, its $INCLUDEs
	// counted, unless Options.MaxFileSize says otherwise.
	DefaultMaxFileSize = 2 << 30
	// MaxLineBytes bounds one line of a zone file: far above any real
	// record (64 KiB of RDATA written as hex), far below a binary file
	// read as one line.
	MaxLineBytes = 1 << 20
)

// maxFileSize is the configured bound, or the default.
func (o Options) maxFileSize() int64 {
	if o.MaxFileSize > 0 {
		return o.MaxFileSize
	}
	return DefaultMaxFileSize
}

// LoadFileContext is LoadFile that stops, with ctx's error at the line it
// reached, when ctx is done (a reload timeout, a daemon stopping).
func LoadFileContext(ctx context.Context, origin, path string, opt Options) (*Zone, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("zone %s: %w", origin, err)
	}
	rd := &reading{budget: opt.maxFileSize()}
	f, err := openZoneFile(ctx, abs, path, rd)
	if err != nil {
		var ze *Error
		if errors.As(err, &ze) {
			return nil, ze
		}
		return nil, fmt.Errorf("zone %s: %w", origin, err)
	}
	defer f.Close()
	z, err := load(ctx, f, origin, path, abs, rd, opt)
	if err != nil {
		return nil, err
	}
	z.Sources = rd.sources
	return z, nil
}

// reading is what one zone load reads through: the byte budget its files
// share and the files opened so far, as they were when opened.
type reading struct {
	budget  int64 // bytes the whole load may still read
	sources []Source
}

// Source is a file a zone was read from as it was when opened: a compiled
// image of the zone is current only while its files still are
// (package compiled).
type Source struct {
	Path string // absolute
	Size int64
	// ModTime and ChangeTime (st_mtime, st_ctime, in Unix nanoseconds)
	// and Inode: a file rewritten, renamed into place or touched since
	// differs in one of them, even when its mtime was set back.
	ModTime, ChangeTime int64
	Inode               uint64
}

// FileSource describes the file at path as it is now: for a zone version
// written to a file by whoever made it (a secondary's transfer), so that
// its compiled image is current while that file is.
func FileSource(path string) (Source, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Source{}, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return Source{}, err
	}
	return sourceOf(abs, st), nil
}

// Current reports whether the file at s.Path is still the one s
// describes (nil), or says how it differs.
func (s Source) Current() error {
	st, err := os.Stat(s.Path)
	if err != nil {
		return err
	}
	now := sourceOf(s.Path, st)
	switch {
	case now == s:
		return nil
	case now.ModTime > s.ModTime:
		return fmt.Errorf("%s was modified since", s.Path)
	default:
		return fmt.Errorf("%s is not the file it was (size, times or inode differ)", s.Path)
	}
}

// zoneFile is an open zone file (or $INCLUDE) read through the limits:
// the shared byte budget, the line length, no NUL byte, and ctx.
type zoneFile struct {
	ctx  context.Context
	f    *os.File
	name string // as reported in errors
	rd   *reading
	line int // current line (1-based)
	col  int // bytes of the current line so far
}

// openZoneFile opens path without blocking (a FIFO opens at once) and
// refuses anything but a regular file, or a file larger than the budget.
func openZoneFile(ctx context.Context, path, name string, rd *reading) (*zoneFile, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, &Error{File: name, Reason: fmt.Sprintf("not a regular file (%s): a zone file must be one", fileKind(st.Mode()))}
	}
	if st.Size() > rd.budget {
		f.Close()
		return nil, &Error{File: name, Reason: fmt.Sprintf("%d bytes: larger than zone-max-size allows (%d bytes left of it)", st.Size(), rd.budget)}
	}
	rd.sources = append(rd.sources, sourceOf(path, st))
	return &zoneFile{ctx: ctx, f: f, name: name, rd: rd, line: 1}, nil
}

// fileKind names a non-regular file mode.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m.IsDir():
		return "a directory"
	default:
		return m.Type().String()
	}
}

func (z *zoneFile) Stat() (fs.FileInfo, error) { return z.f.Stat() }
func (z *zoneFile) Close() error               { return z.f.Close() }

// Read reads through the limits; an error is an *Error at the line reached.
func (z *zoneFile) Read(p []byte) (int, error) {
	if err := z.ctx.Err(); err != nil {
		reason := "reading stopped: " + err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			reason = "reading took longer than reload-timeout allows"
		}
		return 0, &Error{File: z.name, Line: z.line, Reason: reason}
	}
	n, err := z.f.Read(p)
	b := p[:n]
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return 0, &Error{File: z.name, Line: z.line + bytes.Count(b[:i], []byte{'\n'}),
			Reason: "NUL byte: not a zone file (binary data)"}
	}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			z.col += len(b)
			break
		}
		if z.col+i > MaxLineBytes {
			z.col += i
			break
		}
		z.line++
		z.col = 0
		b = b[i+1:]
	}
	if z.col > MaxLineBytes {
		return 0, &Error{File: z.name, Line: z.line, Reason: fmt.Sprintf("line longer than %d bytes: not a zone file", MaxLineBytes)}
	}
	z.rd.budget -= int64(n)
	if z.rd.budget < 0 {
		return 0, &Error{File: z.name, Line: z.line, Reason: "larger than zone-max-size allows (with its $INCLUDEs)"}
	}
	return n, err
}

// includeFS opens the $INCLUDEs of a load through the same limits. The
// zone parser hands it slash-separated paths with the leading "/" of an
// absolute path removed (as for os.DirFS("/")); the parser is given the
// zone file's absolute path, so every include path is absolute.
type includeFS struct {
	ctx context.Context
	rd  *reading
}

func (i includeFS) Open(name string) (fs.File, error) {
	return openZoneFile(i.ctx, "/"+name, "/"+name, i.rd)
}

// displayName turns a file name the parser reports back into the one the
// caller gave: the zone file's own name for its absolute path, "/"+name
// for an include.
func displayName(f, file, abs string) string {
	switch {
	case f == abs || f == "":
		return file
	case !strings.HasPrefix(f, "/"):
		return "/" + f
	}
	return f
}
