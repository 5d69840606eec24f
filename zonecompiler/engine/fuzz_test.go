package engine

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/miekg/dns"
)

// FuzzRespond feeds arbitrary packets to the engine: it must never panic,
// and every reply must be a well-formed DNS response echoing the ID.
func FuzzRespond(f *testing.F) {
	for _, m := range []*dns.Msg{
		query("host.example.", dns.TypeA, false, false),
		query("www.sub.example.", dns.TypeA, true, true),
		query("x.dn.example.", dns.TypeA, false, true),
		query("nope.example.", dns.TypeAAAA, true, true),
	} {
		b, _ := m.Pack()
		f.Add(b)
	}
	e := newTestEngine(f, Config{Identity: "fuzz", NSID: []byte("n")}, [2]string{"example.", bigZone})
	c := NewCache(MinCacheBytes)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		// Through the cache, a miss and then a hit: the engine's bytes.
		want := e.Respond(nil, pkt, false)
		for i := 0; i < 2; i++ {
			if got, _ := e.RespondUDP(c, nil, pkt); !bytes.Equal(got, want) {
				t.Fatalf("cached reply %x, engine's %x", got, want)
			}
		}
		for _, tcp := range []bool{false, true} {
			out := e.Respond(nil, pkt, tcp)
			if out == nil {
				continue
			}
			r := new(dns.Msg)
			if err := r.Unpack(out); err != nil {
				t.Fatalf("reply does not unpack: %v\nquery %x\nreply %x", err, pkt, out)
			}
			if !r.Response || r.Id != binary.BigEndian.Uint16(pkt) {
				t.Fatalf("reply is not a response to this query")
			}
			if !tcp && len(out) > 1232 {
				t.Fatalf("UDP reply of %d bytes", len(out))
			}
		}
	})
}
