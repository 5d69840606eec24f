package daemon

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/interop/interoptest"
	"github.com/xdpdns/xdpdns/zonecompiler/compiled"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// TestImageWrites: the writer does the queued image writes in order, a
// whole image that a later one replaces not at all, and the changes
// queued after the last whole image appended to it at once: the file
// then holds the last version, its changes applied.
func TestImageWrites(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "iw.test.zone")
	cfg := &config.Config{XDP: []config.XDPAttach{{Iface: "lo"}}, Zones: []zone.Spec{{Origin: "iw.test.", File: file}},
		ZoneImage: filepath.Join(dir, "zones.image")}
	var logs bytes.Buffer
	d := &Daemon{cfg: cfg, log: slog.New(slog.NewTextHandler(&logs, nil)), life: context.Background()}
	version := func(serial, n int) *engine.Engine {
		t.Helper()
		var b strings.Builder
		fmt.Fprintf(&b, "$ORIGIN iw.test.\n$TTL 300\n@ SOA ns1 hostmaster %d 7200 3600 1209600 300\n@ NS ns1\nns1 A 198.18.0.53\n", serial)
		for i := range n {
			fmt.Fprintf(&b, "d%d NS ns.example.net.\n", i)
		}
		return interoptest.FileEngine(t, cfg.EngineConfig(), "iw.test.", file, b.String())
	}
	whole := func(e *engine.Engine) imageWrite {
		img, err := render.Compile(e)
		if err != nil {
			t.Fatal(err)
		}
		return imageWrite{set: e.Zones(), img: img}
	}
	e1 := version(1, 5)
	w1 := whole(e1)
	e2 := version(2, 6)
	w2 := whole(e2)
	q := []imageWrite{w1, w2}
	e, inc := e2, w2.img.Incremental
	for serial := 3; serial <= 4; serial++ {
		ne := version(serial, serial+4)
		delta, next, err := render.Recompile(inc, e, ne, nil)
		if err != nil {
			t.Fatal(err)
		}
		q = append(q, imageWrite{set: ne.Zones(), delta: delta, inc: next})
		e, inc = ne, next
	}
	d.image.mu.Lock()
	d.image.queue, d.image.busy = slices.Clone(q), true
	d.image.writes.Add(len(q))
	d.image.mu.Unlock()
	d.writeImages()
	d.image.writes.Wait()

	if n := strings.Count(logs.String(), "compiled zone image written"); n != 1 {
		t.Errorf("%d whole images written, want 1 (the first is replaced by the second):\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "changes=2") {
		t.Errorf("the two changes were not appended at once:\n%s", logs.String())
	}
	key, err := compiled.KeyFor(cfg.EngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	set, img, at, err := compiled.ReadWith(cfg.ZoneImagePath(), key, cfg.Zones, zone.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if at.Changes != 2 || set.Zones()[0].Serial != 4 {
		t.Fatalf("the image holds %+v, records of serial %d", at, set.Zones()[0].Serial)
	}
	full, err := render.Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	if img.NameCount() != full.NameCount() || img.AnswerCount() != full.AnswerCount() {
		t.Fatalf("%d names, %d answers; the last version compiled whole has %d, %d",
			img.NameCount(), img.AnswerCount(), full.NameCount(), full.AnswerCount())
	}

	// Through queueImage, with the wait after a change: a whole image,
	// then two changes in quick succession, appended once.
	logs.Reset()
	d.image.appendAfter = 2 * time.Second
	d.queueImage(w2)
	for _, w := range q[2:] {
		d.queueImage(w)
	}
	d.image.writes.Wait()
	if n := strings.Count(logs.String(), "brought up to date"); n != 1 || !strings.Contains(logs.String(), "changes=2") {
		t.Errorf("%d appends, want one of both changes:\n%s", n, logs.String())
	}

	// An image written is not kept (the queue's array held the last one
	// written: a TLD's first start kept ~300 MB).
	freed := make(chan struct{})
	func() {
		w := whole(e)
		runtime.AddCleanup(w.img, func(ch chan struct{}) { close(ch) }, freed)
		d.queueImage(w)
	}()
	d.image.writes.Wait()
	for i := 0; ; i++ {
		runtime.GC()
		select {
		case <-freed:
			runtime.KeepAlive(d) // the daemon lives on: only the image may go
			return
		case <-time.After(10 * time.Millisecond):
		}
		if i == 100 {
			t.Fatal("the image written is still reachable after 100 collections")
		}
	}
}
