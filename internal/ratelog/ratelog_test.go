package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestFloodGivesOneLine(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var l Limiter
	for range 1000 {
		l.Warn(log, "refused", "from", "192.0.2.1")
	}
	if n := strings.Count(buf.String(), "refused"); n != 1 {
		t.Fatalf("%d lines for a flood, want 1:\n%s", n, buf.String())
	}
	// The next line after the interval carries the count.
	l.last = l.last.Add(-Every)
	l.Warn(log, "refused")
	if !strings.Contains(buf.String(), "suppressed_since_last=999") {
		t.Fatalf("no suppressed count:\n%s", buf.String())
	}
}
