//go:build linux

package loader

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/xdpdns/xdpdns/bpf"
)

// taiOffset is TAI minus UTC in whole seconds, as the kernel keeps it (0
// unless a time daemon set it): the program reads TAI, cookies carry UTC.
func taiOffset() int64 {
	var tai, utc unix.Timespec
	if unix.ClockGettime(unix.CLOCK_TAI, &tai) != nil || unix.ClockGettime(unix.CLOCK_REALTIME, &utc) != nil {
		return 0
	}
	d := (tai.Sec-utc.Sec)*1e9 + (tai.Nsec - utc.Nsec)
	return (d + 5e8) / 1e9
}

// SetCookieSecrets makes current the secret of the program's new DNS
// Cookies and keeps previous (after a rotation) valid. The config is
// written in place, where the program reads it: first the previous
// secret, then the current one, so that a cookie of the secret being
// replaced verifies at every moment of the change.
func (l *Loader) SetCookieSecrets(current, previous []byte) error {
	var c bpf.XdpConfig
	if len(current) != len(c.CookieSecret) || len(previous) != len(c.CookiePrev) {
		return fmt.Errorf("loader: cookie secrets of %d and %d bytes, want %d", len(current), len(previous), len(c.CookieSecret))
	}
	if l.cfgMem == nil {
		return fmt.Errorf("loader: closed")
	}
	prevOff := unsafe.Offsetof(c.CookiePrev)
	copy(l.cfgMem[prevOff:prevOff+uintptr(len(c.CookiePrev))], previous)
	hasPrev := (*uint32)(unsafe.Pointer(&l.cfgMem[unsafe.Offsetof(c.CookieHasPrev)]))
	atomic.StoreUint32(hasPrev, 1)
	curOff := unsafe.Offsetof(c.CookieSecret)
	copy(l.cfgMem[curOff:curOff+uintptr(len(c.CookieSecret))], current)
	return nil
}
