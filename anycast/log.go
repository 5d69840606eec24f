//go:build linux

package anycast

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
)

// gobgpLogger adapts gobgp's logger interface to slog. gobgp's Fatal and
// Panic are logged at error level and do not end the process: a BGP
// problem must not take the DNS server down with it.
type gobgpLogger struct {
	log   *slog.Logger
	level atomic.Uint32
}

var _ gobgplog.Logger = (*gobgpLogger)(nil)

func (l *gobgpLogger) emit(lv slog.Level, msg string, fields gobgplog.Fields) {
	if !l.log.Enabled(context.Background(), lv) {
		return
	}
	attrs := make([]any, 0, 2*len(fields))
	for k, v := range fields {
		attrs = append(attrs, k, fmt.Sprint(v))
	}
	l.log.Log(context.Background(), lv, msg, attrs...)
}

func (l *gobgpLogger) Panic(msg string, f gobgplog.Fields) { l.emit(slog.LevelError, msg, f) }
func (l *gobgpLogger) Fatal(msg string, f gobgplog.Fields) { l.emit(slog.LevelError, msg, f) }
func (l *gobgpLogger) Error(msg string, f gobgplog.Fields) { l.emit(slog.LevelError, msg, f) }
func (l *gobgpLogger) Warn(msg string, f gobgplog.Fields)  { l.emit(slog.LevelWarn, msg, f) }
func (l *gobgpLogger) Info(msg string, f gobgplog.Fields)  { l.emit(slog.LevelInfo, msg, f) }
func (l *gobgpLogger) Debug(msg string, f gobgplog.Fields) { l.emit(slog.LevelDebug, msg, f) }

// SetLevel records gobgp's requested level; filtering is left to slog.
func (l *gobgpLogger) SetLevel(level gobgplog.LogLevel) { l.level.Store(uint32(level)) }

// GetLevel reports debug so gobgp hands every message to slog, which
// filters by its own handler's level.
func (l *gobgpLogger) GetLevel() gobgplog.LogLevel { return gobgplog.DebugLevel }
