package compiled

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/interop"
	"github.com/xdpdns/xdpdns/interop/interoptest"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// changesZone is the text of an unsigned TLD-like zone at serial with
// delegations d0 .. d(n-1) and a host.
func changesZone(serial, n int, host string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN ch.test.\n$TTL 300\n@ SOA ns1 hostmaster %d 7200 3600 1209600 300\n@ NS ns1\nns1 A 198.18.0.53\nwww A %s\n", serial, host)
	for i := range n {
		fmt.Fprintf(&b, "d%d NS ns.d%d\nns.d%d A 198.18.1.%d\n", i, i, i, i%250+1)
	}
	return b.String()
}

// TestAppendChanges: changes rendered alone, appended to the image
// (AppendChanges), come back from a restart (Read) as a map image that
// answers every query as a whole compile of the zone's last version does,
// with the records of that version; a file that is not the one followed
// is refused.
func TestAppendChanges(t *testing.T) {
	dir := t.TempDir()
	file, path := filepath.Join(dir, "ch.test.zone"), filepath.Join(dir, "zones.image")
	specs := []zone.Spec{{Origin: "ch.test.", File: file}}
	key, err := KeyFor(interop.EngineConfig)
	if err != nil {
		t.Fatal(err)
	}
	load := func(text string) *engine.Engine {
		t.Helper()
		return interoptest.FileEngine(t, interop.EngineConfig, "ch.test.", file, text)
	}
	e := load(changesZone(1, 30, "198.18.0.80"))
	img, err := render.Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	at, err := Write(path, key, e.Zones(), img)
	if err != nil {
		t.Fatal(err)
	}
	inc := img.Incremental
	versions := []struct {
		serial, n int
		host      string
	}{{2, 31, "198.18.0.80"}, {3, 29, "198.18.0.81"}, {4, 29, "198.18.0.82"}}
	for step, v := range versions {
		ne := load(changesZone(v.serial, v.n, v.host))
		d, next, err := render.Recompile(inc, e, ne, nil)
		if err != nil {
			t.Fatalf("step %d: Recompile: %v", step+1, err)
		}
		// Two changes appended at once in the last step.
		ds := []*render.Delta{d}
		if step == len(versions)-1 {
			ne2 := load(changesZone(v.serial+1, v.n+2, v.host))
			d2, next2, err := render.Recompile(next, ne, ne2, nil)
			if err != nil {
				t.Fatal(err)
			}
			ds, ne, next = append(ds, d2), ne2, next2
		}
		stale := at
		stale.MapSum++
		if _, err := AppendChanges(path, key, ne.Zones(), stale, ds, next); !errors.Is(err, ErrNotFollowed) {
			t.Fatalf("step %d: a file not followed: %v", step+1, err)
		}
		if at, err = AppendChanges(path, key, ne.Zones(), at, ds, next); err != nil {
			t.Fatalf("step %d: AppendChanges: %v", step+1, err)
		}
		set, got, read, err := ReadWith(path, key, specs, zone.Options{}, nil)
		if err != nil {
			t.Fatalf("step %d: Read: %v", step+1, err)
		}
		if read != at || at.Changes != step+1+len(ds)-1 {
			t.Fatalf("step %d: the file holds %+v, read %+v", step+1, at, read)
		}
		if set.Zones()[0].Serial != ne.Zones().Zones()[0].Serial {
			t.Fatalf("step %d: records of serial %d, want %d", step+1, set.Zones()[0].Serial, ne.Zones().Zones()[0].Serial)
		}
		full, err := render.Compile(ne)
		if err != nil {
			t.Fatal(err)
		}
		sameAnswers(t, step+1, got, full, ne)
		// The next change follows from what the restart read back.
		e, inc = engine.New(interop.EngineConfig, set), got.Incremental
	}
}

// sameAnswers holds the map image got to full: the XDP program's model
// answers every query of the zone alike from both, and answers most.
func sameAnswers(t *testing.T, step int, got, full *render.Image, e *engine.Engine) {
	t.Helper()
	a := &render.Model{Image: got, UDPSize: e.Config().UDPSize, NSID: e.Config().NSID}
	b := &render.Model{Image: full, UDPSize: e.Config().UDPSize, NSID: e.Config().NSID}
	answered := 0
	var names []string
	for i := range 40 {
		names = append(names, fmt.Sprintf("d%d.ch.test.", i), fmt.Sprintf("x.d%d.ch.test.", i), fmt.Sprintf("ns.d%d.ch.test.", i))
	}
	names = append(names, "ch.test.", "www.ch.test.", "ns1.ch.test.", "nope.ch.test.")
	for _, n := range names {
		for _, qt := range []uint16{dns.TypeA, dns.TypeNS, dns.TypeDS, dns.TypeSOA} {
			for _, do := range []bool{false, true} {
				m := new(dns.Msg)
				m.SetQuestion(n, qt)
				m.SetEdns0(1232, do)
				pkt, err := m.Pack()
				if err != nil {
					t.Fatal(err)
				}
				ra, why := a.Reply(pkt)
				rb, _ := b.Reply(pkt)
				if !bytes.Equal(ra, rb) {
					t.Fatalf("step %d: %s %s DO %v: the image with its changes answers %x (%s), a whole compile %x",
						step, n, dns.Type(qt), do, ra, why, rb)
				}
				if rb != nil {
					answered++
				}
			}
		}
	}
	if answered < len(names) {
		t.Fatalf("step %d: %d queries answered: the test asks too little", step, answered)
	}
}
