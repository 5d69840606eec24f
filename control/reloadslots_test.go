package control_test

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xdpdns/xdpdns/control"
)

// slowHandler's reloads wait until release is closed.
type slowHandler struct {
	started chan struct{}
	release chan struct{}
}

func (h *slowHandler) Reload(string) (control.ReloadResult, error) {
	h.started <- struct{}{}
	<-h.release
	return control.ReloadResult{}, nil
}
func (h *slowHandler) Status() control.Status { return control.Status{Version: "test"} }
func (h *slowHandler) Stats() control.Stats   { return control.Stats{} }

// TestReloadsLeaveRoomForOtherCommands: reloads that do not finish may
// hold at most a quarter of the connections; one more is refused at once
// with a JSON error, and status still answers.
func TestReloadsLeaveRoomForOtherCommands(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	h := &slowHandler{started: make(chan struct{}, 16), release: make(chan struct{})}
	s, err := control.Listen(control.Config{Path: sock, MaxConns: 8}, h)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := &control.Client{Path: sock, Wait: 10 * time.Second}
	var wg sync.WaitGroup
	for range 2 { // MaxConns/4
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Reload(""); err != nil {
				t.Errorf("a held reload: %v", err)
			}
		}()
		<-h.started
	}
	_, err = c.Reload("")
	if err == nil || !strings.Contains(err.Error(), "reloads are already waiting") {
		t.Errorf("a third reload: %v, want a refusal", err)
	}
	if st, err := c.Status(); err != nil || st.Version != "test" {
		t.Errorf("status while reloads hang: %+v %v", st, err)
	}
	close(h.release)
	wg.Wait()
}

// TestLongErrorsAreCut: an error of any length reaches the client as
// valid JSON, cut to MaxErrorLen.
func TestLongErrorsAreCut(t *testing.T) {
	msg := control.TruncateError(strings.Repeat("é", 2000))
	if len(msg) > control.MaxErrorLen+64 || !strings.Contains(msg, "more bytes)") {
		t.Errorf("truncated to %d bytes: %q…", len(msg), msg[:40])
	}
	if control.TruncateError("short") != "short" {
		t.Error("a short message changed")
	}
}
