//go:build linux

package loader

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"github.com/cilium/ebpf/ringbuf"

	"github.com/xdpdns/xdpdns/bpf"
)

// ReadTaps reads the dnstap samples of the program (Options.TapSample)
// and calls fn with each, on one goroutine, until Close. fn must not
// block for long: the programs drop samples while the ring buffer is full.
func (l *Loader) ReadTaps(fn func(ev *bpf.XdpTapEvent)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	r, err := ringbuf.NewReader(l.objs.TapEvents)
	if err != nil {
		return fmt.Errorf("loader: reading tap_events: %w", err)
	}
	l.watch.wg.Add(1)
	l.taps = r
	go func() {
		defer l.watch.wg.Done()
		var ev bpf.XdpTapEvent
		for {
			rec, err := r.Read()
			if err != nil {
				if errors.Is(err, os.ErrClosed) || errors.Is(err, ringbuf.ErrClosed) {
					return
				}
				continue
			}
			if len(rec.RawSample) < int(unsafe.Sizeof(ev)) {
				continue
			}
			ev = *(*bpf.XdpTapEvent)(unsafe.Pointer(&rec.RawSample[0]))
			fn(&ev)
		}
	}()
	return nil
}
