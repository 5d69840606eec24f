package server

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestRateLogFlood: a flood of the same warning gives one line per
// logEvery, the next one saying how many were suppressed.
func TestRateLogFlood(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var r rateLog
	for i := 0; i < 1000; i++ {
		r.warn(log, "tcp connections refused", "client", "198.18.0.9")
	}
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Fatalf("%d lines for a flood of 1000:\n%s", n, buf.String())
	}
	r.last = time.Now().Add(-logEvery) // the next window
	r.warn(log, "tcp connections refused")
	if !strings.Contains(buf.String(), "suppressed_since_last=999") {
		t.Errorf("the second line does not count the suppressed ones:\n%s", buf.String())
	}
}
