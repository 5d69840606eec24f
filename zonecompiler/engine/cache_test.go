package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// cacheCorpus is queries over every kind of answer of testZone (and some
// malformed ones), in several EDNS shapes and name cases.
func cacheCorpus(t testing.TB) [][]byte {
	var out [][]byte
	names := []string{"example.", "host.example.", "www.example.", "www.sub.example.", "sub.example.",
		"x.wild.example.", "x.wc.example.", "x.dn.example.", "nope.example.", "a.b.ent.example.", "ent.example.",
		"loop1.example.", "out.example.", "sec.example.", "www.sec.example.", "other.test.", "id.server."}
	types := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeNS, dns.TypeMX, dns.TypeTXT, dns.TypeSOA, dns.TypeANY, dns.TypeDS, dns.TypeAXFR}
	for _, n := range names {
		for _, qt := range types {
			for shape := 0; shape < 4; shape++ {
				m := query(n, qt, shape == 2, shape >= 1)
				if shape == 3 {
					m.Question[0].Name = strings.ToUpper(n)
					m.IsEdns0().SetUDPSize(512)
				}
				if n == "id.server." {
					m.Question[0].Qclass = dns.ClassCHAOS
				}
				b, err := m.Pack()
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, b)
			}
		}
	}
	out = append(out, []byte{1}, []byte{1, 2, 3}, make([]byte, 12), bytes.Repeat([]byte{0xff}, 40))
	return out
}

// TestCacheSameBytes: through the cache, every reply is byte for byte the
// engine's own, on a miss and on a hit, whatever the message ID, also
// while a small ring wraps over and over and entries are overwritten.
func TestCacheSameBytes(t *testing.T) {
	e := newTestEngine(t, Config{Identity: "test", NSID: []byte("n1")}, [2]string{"example.", testZone})
	corpus := cacheCorpus(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{MinCacheBytes, 4 << 20} {
		c := NewCache(size)
		var dst []byte
		for round := 0; round < 40; round++ {
			for i, q := range corpus {
				// Every other query is asked three times in a row (stored
				// the second time), so that the small ring, which never
				// holds a whole round, has hits.
				for rep := 0; rep <= 2*(i%2); rep++ {
					q = append([]byte(nil), q...)
					if len(q) >= 2 {
						q[0], q[1] = byte(rng.Uint32()), byte(rng.Uint32())
					}
					want, wantKind := e.RespondKind(nil, q, false)
					var info Info
					dst, info = e.RespondUDP(c, dst[:0], q)
					kind := info.Kind
					if !bytes.Equal(dst, want) || (want != nil && kind != wantKind) {
						t.Fatalf("cache size %d, round %d: query %x\ncached %x (%v)\nengine %x (%v)", size, round, q, dst, kind, want, wantKind)
					}
				}
			}
		}
		if c.Hits == 0 || c.Stored == 0 {
			t.Errorf("cache size %d: %d hits, %d stored: the cache was not used", size, c.Hits, c.Stored)
		}
		t.Logf("cache size %d: %d hits, %d misses, %d stored", size, c.Hits, c.Misses, c.Stored)
	}
}

// TestCacheFollowsZones: a new zone set (reload, transfer, expiry) is
// answered from at once, never from entries of the old one.
func TestCacheFollowsZones(t *testing.T) {
	e := newTestEngine(t, Config{}, [2]string{"example.", testZone})
	c := NewCache(1 << 20)
	q, _ := query("host.example.", dns.TypeA, false, true).Pack()
	for i := 0; i < 3; i++ {
		e.RespondUDP(c, nil, q)
	}
	// Stored when seen the second time, answered from the cache the third.
	if c.Hits != 1 || c.Stored != 1 {
		t.Fatalf("%d hits, %d stored for three equal queries, want 1, 1", c.Hits, c.Stored)
	}
	for _, addr := range []string{"192.0.2.81", "192.0.2.82"} {
		z, err := zone.Load(strings.NewReader(strings.Replace(testZone, "192.0.2.80", addr, 1)), "example.", "example.zone", zone.Options{})
		if err != nil {
			t.Fatal(err)
		}
		set, err := zone.NewSet(z)
		if err != nil {
			t.Fatal(err)
		}
		e.SetZones(set)
		for i := 0; i < 3; i++ {
			out, _ := e.RespondUDP(c, nil, q)
			r := new(dns.Msg)
			if err := r.Unpack(out); err != nil {
				t.Fatal(err)
			}
			if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != addr {
				t.Fatalf("after the new zone set, answer %v, want %s", r.Answer, addr)
			}
		}
	}
}

// TestCacheNoAllocs: a hit and a miss allocate nothing.
func TestCacheNoAllocs(t *testing.T) {
	e := newTestEngine(t, Config{}, [2]string{"example.", testZone})
	c := NewCache(1 << 20)
	dst := make([]byte, 0, 4096)
	hit, _ := query("www.sub.example.", dns.TypeA, false, true).Pack()
	var misses [][]byte
	for i := 0; i < 200; i++ {
		b, _ := query(fmt.Sprintf("n%d.example.", i), dns.TypeA, false, true).Pack()
		misses = append(misses, b)
	}
	e.RespondUDP(c, dst, hit)
	e.RespondUDP(c, dst, hit)
	i := 0
	if avg := testing.AllocsPerRun(100, func() {
		e.RespondUDP(c, dst, hit)
		e.RespondUDP(c, dst, misses[i%len(misses)])
		i++
	}); avg != 0 {
		t.Errorf("%.1f allocations per hit and miss, want 0", avg)
	}
}

// BenchmarkRespondUDP is the referral of BenchmarkRespond answered from
// the cache (a hit).
func BenchmarkRespondUDP(b *testing.B) {
	e := newTestEngine(b, Config{}, [2]string{"example.", testZone})
	c := NewCache(1 << 20)
	pkt, _ := query("www.sub.example.", dns.TypeA, false, true).Pack()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = e.RespondUDP(c, buf[:0], pkt)
	}
}

// TestCacheDoorkeeper: queries asked once are not stored, whatever their
// number, and do not evict a query that repeats.
func TestCacheDoorkeeper(t *testing.T) {
	e := newTestEngine(t, Config{}, [2]string{"example.", testZone})
	c := NewCache(MinCacheBytes)
	hot, _ := query("www.sub.example.", dns.TypeA, true, true).Pack()
	for i := 0; i < 20000; i++ {
		b, _ := query(fmt.Sprintf("n%d.example.", i), dns.TypeA, true, true).Pack()
		e.RespondUDP(c, nil, b)
		e.RespondUDP(c, nil, hot)
	}
	// A one-off query whose hash falls on a bit set before slips in: at
	// most an eighth of the bits are set, so a few percent, not all.
	if c.Stored > 2000 {
		t.Errorf("%d replies stored for 20000 one-off queries and one repeated", c.Stored)
	}
	if c.Hits < 19000 {
		t.Errorf("the repeated query hit %d times of 20000", c.Hits)
	}
}
