package zone

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

// TestHashStore: labels added past several chunks come back by their ids
// while a reader reads the ids published so far (run with -race: a reader
// never sees a label being written), an id is never reused, and anything
// but a 32-byte label is none (id 0, "").
func TestHashStore(t *testing.T) {
	s := newHashStore()
	label := func(i int) string { return fmt.Sprintf("%032d", i) }
	if id := s.add(""); id != 0 || s.get(0) != "" {
		t.Fatalf(`"" got id %d`, id)
	}
	if id := s.add("short"); id != 0 {
		t.Fatalf("a short label got id %d", id)
	}
	n := 3<<hashChunkBits + 5
	ids := make([]uint32, n)
	var published atomic.Int64 // ids[:published] are written
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for seen := 0; seen < n; {
			p := int(published.Load())
			for i := seen; i < p; i++ {
				if got := s.get(ids[i]); got != label(i) {
					t.Errorf("id %d: %q, want %q", ids[i], got, label(i))
					return
				}
			}
			seen = p
		}
	}()
	used := map[uint32]bool{}
	for i := range n {
		ids[i] = s.add(label(i))
		if ids[i] == 0 || used[ids[i]] {
			t.Fatalf("label %d got id %d (taken or none)", i, ids[i])
		}
		used[ids[i]] = true
		published.Store(int64(i + 1))
	}
	wg.Wait()
	for i, id := range ids {
		if s.get(id) != label(i) {
			t.Fatalf("id %d: %q after the adds", id, s.get(id))
		}
	}
}

// TestNSEC3HashOfNames: every name of an NSEC3 zone has its hash (as
// HashName computes it), below a cut none, and a node of the chain its
// own first label; the versions Apply makes share the store.
func TestNSEC3HashOfNames(t *testing.T) {
	z, err := Load(strings.NewReader(`$ORIGIN example.
@ 3600 IN SOA ns.example. h.example. 1 7200 3600 1209600 300
@ 3600 IN NS ns.example.
@ 3600 IN NSEC3PARAM 1 0 0 -
ns 3600 IN A 192.0.2.1
sub 3600 IN NS ns.sub.example.
ns.sub 3600 IN A 192.0.2.2
`), "example.", "example.zone", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if z.NSEC3 == nil {
		t.Fatal("the zone has no NSEC3 parameters")
	}
	for _, name := range []string{"example.", "ns.example.", "sub.example."} {
		n := z.Node(lowerWire(name))
		if got, want := z.NSEC3Hash(n), z.HashName(n.Name.Lower()); got != want || len(got) != len(HashLabel{}) {
			t.Errorf("%s: hash %q, want %q", name, got, want)
		}
	}
	if h := z.NSEC3Hash(z.Node(lowerWire("ns.sub.example."))); h != "" {
		t.Errorf("a name below a cut has hash %q", h)
	}
	rr, err := dns.NewRR("new.example. 3600 IN A 192.0.2.3")
	if err != nil {
		t.Fatal(err)
	}
	nz, _, err := Apply(z, Change{Add: []dns.RR{rr}}, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if nz.hashes != z.hashes {
		t.Error("Apply's version has a store of its own")
	}
	n := nz.Node(lowerWire("new.example."))
	if got, want := nz.NSEC3Hash(n), z.HashName(n.Name.Lower()); got != want {
		t.Errorf("new.example.: hash %q, want %q", got, want)
	}
	if got := z.NSEC3Hash(z.Apex); got != nz.NSEC3Hash(nz.Apex) {
		t.Errorf("the apex's hash changed across Apply: %q, %q", got, nz.NSEC3Hash(nz.Apex))
	}
}
