package server

import (
	"log/slog"
	"sync"
	"time"
)

// logEvery is how often a rate-limited log line may repeat.
const logEvery = 10 * time.Second

// rateLog logs a line at most once per logEvery, with how many were
// suppressed since the last: a flood of bad input gives a line every few
// seconds, never one per packet.
type rateLog struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// warn logs msg with args unless one was logged less than logEvery ago.
func (r *rateLog) warn(log *slog.Logger, msg string, args ...any) {
	r.mu.Lock()
	now := time.Now()
	if now.Sub(r.last) < logEvery {
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
