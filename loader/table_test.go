//go:build linux

package loader_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/bpf"
	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/loader"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
)

// crowdedNames returns n names below reach.test. whose table keys (key
// of the name's hash) have home home in a table of slots slots and seed
// seed.
func crowdedNames(t *testing.T, seed uint64, slots, home uint32, n int, key func(abi.NameHash) abi.NameHash) []string {
	t.Helper()
	var out []string
	for i := 0; i < 1<<24; i++ {
		name := fmt.Sprintf("h%d.reach.test.", i)
		wire := make([]byte, 256)
		end, err := dns.PackDomainName(name, wire, 0, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		h := key(abi.HashName(wire[:end]))
		if loader.TableHome(seed, slots, bpf.XdpNameKey{H1: h.H1, H2: h.H2}) != home {
			continue
		}
		if out = append(out, name); len(out) == n {
			return out
		}
	}
	t.Fatalf("no %d names with one home", n)
	return nil
}

// reachZone serves names (an address each) below reach.test.
func reachZone(t testing.TB, names []string) *engine.Engine {
	var b strings.Builder
	b.WriteString("$ORIGIN reach.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 198.18.0.53\n")
	for i, n := range names {
		fmt.Fprintf(&b, "%s A 198.18.1.%d\n", n, i+1)
	}
	return testEngine(t, "reach.test.", b.String(), engine.Config{UDPSize: 1232})
}

// TestNameTableReach checks the names table at the edge of its probe
// windows: names crowded onto one home sit up to abi.TableProbes - 1
// slots after it and the program finds each; a removed name's slot is
// reused; a name with no free slot in its window makes Update refuse,
// and a Swap whose table cannot be built with any seed fails and changes
// nothing.
func TestNameTableReach(t *testing.T) {
	tableReach(t, func(h abi.NameHash) abi.NameHash { return h }, (*loader.Loader).NameReach,
		func(l *loader.Loader) uint32 { n, _ := l.TableSizes(); return n })
}

// TestAnswerTableReach is TestNameTableReach for the answers table: each
// name's address is its answers entry (A, exact), and the names are
// crowded by the keys of those.
func TestAnswerTableReach(t *testing.T) {
	tableReach(t, func(h abi.NameHash) abi.NameHash { return abi.AnswerKey(h, dns.TypeA, abi.ModeExact) }, (*loader.Loader).AnswerReach,
		func(l *loader.Loader) uint32 { _, n := l.TableSizes(); return n })
}

// tableReach runs the reach test on the table of key, read by reachOf,
// of size sizeOf.
func tableReach(t *testing.T, key func(abi.NameHash) abi.NameHash, reachOf func(*loader.Loader) (map[bpf.XdpNameKey]uint32, error),
	sizeOf func(*loader.Loader) uint32) {
	const seed = 0x5eed5eed5eed
	fixed := true
	// A zone of as many names, to learn the table's size.
	var placeholders []string
	for i := range abi.TableProbes {
		placeholders = append(placeholders, fmt.Sprintf("p%d.reach.test.", i))
	}
	e0 := reachZone(t, placeholders)
	l := load(t, e0, nil)
	l.SetTableSeed(func() uint64 {
		if fixed {
			return seed
		}
		return rand.Uint64()
	})
	if _, err := l.Swap(compile(t, e0)); err != nil {
		t.Fatal(err)
	}
	// Crowded onto the last slot, so that the window wraps to the
	// first; in a table twice as large too (and so in this one): the one
	// newTable tries when a seed does not do.
	slots := sizeOf(l)
	names := crowdedNames(t, seed, 2*slots, 2*slots-1, abi.TableProbes+1, key)
	inZone, extra := names[:abi.TableProbes], names[abi.TableProbes]
	e1 := reachZone(t, inZone)
	if _, err := l.Swap(compile(t, e1)); err != nil {
		t.Fatal(err)
	}
	reach, err := reachOf(l)
	if err != nil {
		t.Fatal(err)
	}
	far := uint32(0)
	for _, r := range reach {
		far = max(far, r)
	}
	if far != abi.TableProbes-1 {
		t.Fatalf("farthest key %d slots from its home, want %d (the keys do not crowd one home)", far, abi.TableProbes-1)
	}
	// Every name answered in XDP and by the tc companion (one layout, one
	// lookup) as the engine answers it, the one not in the zone too (its
	// walk probes the whole window).
	check := func(e *engine.Engine, names ...string) {
		t.Helper()
		for _, n := range names {
			q := query(t, n, dns.TypeA, dns.ClassINET)
			want := e.Respond(nil, q, false)
			v, out := run(t, l.Program(), layout{}.build(q))
			if v != xdpTX {
				t.Fatalf("%s: verdict %d", n, v)
			}
			if got := checkReply(t, layout{}, out); !bytes.Equal(got, want) {
				t.Fatalf("%s: XDP %x, engine %x", n, got, want)
			}
			v, out = runTC(t, l.TCProgram(), layout{}.build(q))
			if v != tcRedirect {
				t.Fatalf("%s: tc ingress verdict %d", n, v)
			}
			if got := checkReply(t, layout{}, out); !bytes.Equal(got, want) {
				t.Fatalf("%s: tc ingress %x, engine %x", n, got, want)
			}
		}
	}
	check(e1, names...)

	// Remove the name at its home, then add the one that did not fit:
	// it takes the removed name's slot (which stays taken while the
	// update that removes the name is in flight).
	e2a := reachZone(t, inZone[1:])
	if _, err := l.Update(compile(t, e2a)); err != nil {
		t.Fatal(err)
	}
	check(e2a, names...)
	e2 := reachZone(t, append(append([]string{}, inZone[1:]...), extra))
	if _, err := l.Update(compile(t, e2)); err != nil {
		t.Fatal(err)
	}
	check(e2, names...)
	if r2, err := reachOf(l); err != nil {
		t.Fatal(err)
	} else if len(r2) != len(reach) {
		t.Errorf("%d slots used after the update, %d before: the removed name's slot was not reused", len(r2), len(reach))
	}

	// All abi.TableProbes + 1 names: no room in the window, so Update
	// refuses; a Swap with the same seed cannot build a table either and
	// leaves the live generation as it was; with other seeds it can.
	e3 := reachZone(t, names)
	if _, err := l.Update(compile(t, e3)); !errors.Is(err, loader.ErrNoUpdate) {
		t.Fatalf("Update with a full probe window: %v, want ErrNoUpdate", err)
	}
	check(e2, names...)
	if _, err := l.Swap(compile(t, e3)); err == nil {
		t.Fatal("Swap built a table with a full probe window")
	}
	check(e2, names...)
	fixed = false
	if _, err := l.Swap(compile(t, e3)); err != nil {
		t.Fatal(err)
	}
	check(e3, names...)
}

// TestTableBuild: a table built from many random keys (some wrapping
// past the end) holds every key within its probe window, with no free
// slot between a key's home and the key.
// randomNameKeys returns n name keys drawn from a fixed seed (never the
// empty slot's key).
func randomNameKeys(n int) []bpf.XdpNameKey {
	rng := rand.New(rand.NewPCG(7, 9))
	keys := make([]bpf.XdpNameKey, n)
	for i := range keys {
		keys[i] = bpf.XdpNameKey{H1: rng.Uint64() | 1, H2: rng.Uint64()}
	}
	return keys
}

func TestTableBuild(t *testing.T) {
	e := reachZone(t, []string{"a.reach.test."})
	l := load(t, e, nil)
	keys := randomNameKeys(200000)
	reach, holes, err := l.BuildNames(keys, 0x5eed)
	if err != nil {
		t.Fatal(err)
	}
	if len(reach) != len(keys) {
		t.Fatalf("%d keys in the table, built from %d", len(reach), len(keys))
	}
	far := uint32(0)
	for _, k := range keys {
		d, ok := reach[k]
		if !ok {
			t.Fatalf("key %x not in the table", k)
		}
		far = max(far, d)
	}
	if holes != 0 || far >= abi.TableProbes {
		t.Fatalf("%d free slots before keys, farthest key %d slots from its home", holes, far)
	}
	t.Logf("farthest key %d slots from its home", far)
}
