// Package ratelog logs a repeated warning at most once per interval, with
// how many were suppressed since the last: a flood of bad input gives a
// line every few seconds, never one per packet.
package ratelog

import (
	"log/slog"
	"sync"
	"time"
)

// Every is how often a rate-limited line may repeat.
const Every = 10 * time.Second

// Limiter is one rate-limited warning; its zero value is ready.
type Limiter struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// Warn logs msg with args unless one was logged less than Every ago.
func (r *Limiter) Warn(log *slog.Logger, msg string, args ...any) {
	r.mu.Lock()
	now := time.Now()
	if !r.last.IsZero() && now.Sub(r.last) < Every {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	n := r.suppressed
	r.last, r.suppressed = now, 0
	r.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed_since_last", n)
	}
	log.Warn(msg, args...)
}
