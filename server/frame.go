package server

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// headerLen is the size of a DNS header, the shortest possible message.
const headerLen = 12

// errShortFrame is a length prefix too small to hold a DNS header.
var errShortFrame = errors.New("tcp message shorter than a DNS header")

// frameReader reads DNS messages framed with a two-byte length prefix
// (RFC 1035 §4.2.2) from a stream.
type frameReader struct {
	r *bufio.Reader
	// buf holds the current message; it has room for the largest one.
	buf []byte
	// started, if set, is called once the first byte of a message has
	// arrived, so that the caller can switch from the idle timeout to the
	// per-message read timeout.
	started func()
}

// next returns the next message, valid until the following call. It
// returns io.EOF when the stream ends cleanly between messages,
// errShortFrame for a length below the DNS header size, and an error
// wrapping io.ErrUnexpectedEOF for a stream cut inside a message.
func (f *frameReader) next() ([]byte, error) {
	b0, err := f.r.ReadByte()
	if err != nil {
		return nil, err
	}
	if f.started != nil {
		f.started()
	}
	b1, err := f.r.ReadByte()
	if err != nil {
		return nil, fmt.Errorf("reading length prefix: %w", unexpected(err))
	}
	n := int(binary.BigEndian.Uint16([]byte{b0, b1}))
	if n < headerLen {
		return nil, fmt.Errorf("length prefix %d: %w", n, errShortFrame)
	}
	msg := f.buf[:n]
	if _, err := io.ReadFull(f.r, msg); err != nil {
		return nil, fmt.Errorf("reading %d-byte message: %w", n, unexpected(err))
	}
	return msg, nil
}

// unexpected turns an end of stream inside a message into
// io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
