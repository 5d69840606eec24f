//go:build linux

package hotpath

import (
	"net/netip"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	"golang.org/x/sys/unix"

	"github.com/xdpdns/xdpdns/bpf"
	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/tap"
)

// Tap sends the program's dnstap samples (loader.Options.TapSample) to w,
// as tap.Events of path xdp or tc_ingress, until the hot path closes.
func (h *HotPath) Tap(w *tap.Writer) error {
	// The program stamps samples with CLOCK_MONOTONIC; wall time is that
	// plus the offset between the clocks now.
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return err
	}
	offset := time.Now().Sub(time.Unix(0, ts.Nano()))
	return h.l.ReadTaps(func(ev *bpf.XdpTapEvent) { w.Event(tapEvent(ev, offset)) })
}

// tapEvent turns a sample into a tap.Event: addresses, ports, the kept
// bytes of the query and the reply, the time.
func tapEvent(ev *bpf.XdpTapEvent, offset time.Duration) tap.Event {
	addr := func(b [16]uint8) netip.Addr {
		if ev.V6 != 0 {
			return netip.AddrFrom16(b)
		}
		return netip.AddrFrom4([4]byte{b[0], b[1], b[2], b[3]})
	}
	path := tap.PathXDP
	if ev.Program == abi.TapTC {
		path = tap.PathTC
	}
	at := time.Unix(0, int64(ev.KtimeNs)).Add(offset)
	return tap.Event{
		Path: path, Protocol: dnstap.SocketProtocol_UDP,
		Client:    netip.AddrPortFrom(addr(ev.Saddr), ev.Sport),
		Server:    netip.AddrPortFrom(addr(ev.Daddr), ev.Dport),
		QueryTime: at, ReplyTime: at,
		Query: ev.Query[:min(int(ev.QueryLen), len(ev.Query))],
		Reply: ev.Reply[:min(int(ev.ReplyLen), len(ev.Reply))],
	}
}
