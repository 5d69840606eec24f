// Package binfmt is the byte encoding of the compiled zone image
// (package compiled): unsigned varints, fixed-width little-endian words
// and length-prefixed byte strings, written through a buffer and read back
// from one slice (a mapped file) with a sticky error. A reader never
// panics and never allocates more than the input can hold, whatever the
// bytes: lengths are checked against what is left before anything is
// made.
package binfmt

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Writer encodes to an io.Writer through a buffer; the first error sticks
// and is returned by Flush.
type Writer struct {
	w   *bufio.Writer
	err error
	pos int64
	tmp [binary.MaxVarintLen64]byte
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: bufio.NewWriterSize(w, 1<<20)} }

func (w *Writer) write(b []byte) {
	if w.err == nil {
		_, w.err = w.w.Write(b)
		w.pos += int64(len(b))
	}
}

// Write writes b as it is: the Writer is an io.Writer (io.Copy of a
// section from another file).
func (w *Writer) Write(b []byte) (int, error) {
	w.write(b)
	if w.err != nil {
		return 0, w.err
	}
	return len(b), nil
}

// Fail makes err the writer's error, which Flush returns, unless it has
// one already.
func (w *Writer) Fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

// Pos is how many bytes were written so far.
func (w *Writer) Pos() int64 { return w.pos }

// Uvarint writes v as an unsigned varint.
func (w *Writer) Uvarint(v uint64) { w.write(binary.AppendUvarint(w.tmp[:0], v)) }

// Int writes a non-negative int as an unsigned varint.
func (w *Writer) Int(v int) { w.Uvarint(uint64(v)) }

// U8 writes one byte.
func (w *Writer) U8(v uint8) { w.write([]byte{v}) }

// U16 writes v in two bytes.
func (w *Writer) U16(v uint16) { w.write(binary.LittleEndian.AppendUint16(w.tmp[:0], v)) }

// U32 writes v in four bytes.
func (w *Writer) U32(v uint32) { w.write(binary.LittleEndian.AppendUint32(w.tmp[:0], v)) }

// U64 writes v in eight bytes.
func (w *Writer) U64(v uint64) { w.write(binary.LittleEndian.AppendUint64(w.tmp[:0], v)) }

// Bool writes a byte 0 or 1.
func (w *Writer) Bool(v bool) {
	if v {
		w.U8(1)
	} else {
		w.U8(0)
	}
}

// Bytes writes b's length and b.
func (w *Writer) Bytes(b []byte) {
	w.Int(len(b))
	w.write(b)
}

// String writes s's length and s.
func (w *Writer) String(s string) {
	w.Int(len(s))
	if w.err == nil {
		_, w.err = w.w.WriteString(s)
		w.pos += int64(len(s))
	}
}

// Raw writes b as it is (a fixed-size field).
func (w *Writer) Raw(b []byte) { w.write(b) }

// Flush writes what is buffered and returns the first error.
func (w *Writer) Flush() error {
	if w.err == nil {
		w.err = w.w.Flush()
	}
	return w.err
}

// ErrShort is the error of a read past the end of the input.
var ErrShort = errors.New("truncated")

// Reader decodes from one slice. The byte strings it returns are copies,
// carved from an Arena; the input may be unmapped once reading is done.
type Reader struct {
	b     []byte
	off   int
	err   error
	arena Arena
}

// ArenaBlock is the largest block an Arena copies strings into.
const ArenaBlock = 256 << 10

// NewReader reads from b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err is the first error met (nil if none).
func (r *Reader) Err() error { return r.err }

// Fail records err (wrapped with the offset reached) unless an error is
// recorded already; decoders call it when a value is out of range.
func (r *Reader) Fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("at byte %d: %s", r.off, fmt.Sprintf(format, args...))
	}
}

// Left is how many bytes are unread.
func (r *Reader) Left() int { return len(r.b) - r.off }

func (r *Reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > r.Left() {
		r.err = fmt.Errorf("at byte %d: %w (%d bytes wanted, %d left)", r.off, ErrShort, n, r.Left())
		return nil
	}
	b := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return b
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.Fail("bad varint")
		return 0
	}
	r.off += n
	return v
}

// Int reads a varint that must be at most max.
func (r *Reader) Int(max int) int {
	v := r.Uvarint()
	if v > uint64(max) {
		r.Fail("value %d above its bound %d", v, max)
		return 0
	}
	return int(v)
}

// Count reads the length of a list whose elements take at least minSize
// bytes each: never more than the input left could hold, so that a
// corrupt length cannot make a reader allocate.
func (r *Reader) Count(minSize int) int {
	return r.Int(r.Left() / max(minSize, 1))
}

// U8 reads one byte.
func (r *Reader) U8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

// U16 reads two bytes.
func (r *Reader) U16() uint16 {
	if b := r.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

// U32 reads four bytes.
func (r *Reader) U32() uint32 {
	if b := r.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

// U64 reads eight bytes.
func (r *Reader) U64() uint64 {
	if b := r.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// Bool reads a byte that must be 0 or 1.
func (r *Reader) Bool() bool {
	v := r.U8()
	if v > 1 {
		r.Fail("bad bool %d", v)
	}
	return v == 1
}

// View reads a length-prefixed byte string without copying: the result
// aliases the input.
func (r *Reader) View() []byte { return r.take(r.Count(1)) }

// Bytes reads a length-prefixed byte string as a copy (nil when empty).
func (r *Reader) Bytes() []byte {
	b := r.View()
	if len(b) == 0 {
		return nil
	}
	return r.copy(b)
}

// Raw reads n bytes as a copy.
func (r *Reader) Raw(n int) []byte { return r.copy(r.take(n)) }

func (r *Reader) copy(b []byte) []byte { return r.arena.Copy(b) }

// Arena hands out copies of byte strings carved from blocks, so that a
// few million small strings cost a few hundred allocations and a
// survivor pins one block at most. Blocks start at minArenaBlock bytes
// and double up to ArenaBlock: a few strings (a change of a few records)
// pin little. The zero Arena is ready to use.
type Arena struct {
	free  []byte // the rest of the current block
	block int    // the current block's size
}

// minArenaBlock is the size of an Arena's first block.
const minArenaBlock = 1 << 10

// Copy returns a copy of b (nil for nil).
func (a *Arena) Copy(b []byte) []byte {
	if b == nil {
		return nil
	}
	if len(b) > ArenaBlock/4 {
		return append([]byte(nil), b...)
	}
	if len(a.free) < len(b) {
		a.block = min(ArenaBlock, max(2*a.block, minArenaBlock, 4*len(b)))
		a.free = make([]byte, a.block)
	}
	out := a.free[:len(b):len(b)]
	copy(out, b)
	a.free = a.free[len(b):]
	return out
}

// String reads a length-prefixed string.
func (r *Reader) String() string { return string(r.View()) }
