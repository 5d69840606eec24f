package interoptest

import (
	"testing"

	"github.com/xdpdns/xdpdns/interop"
)

// CorpusSeed is the seed of the differential corpus that the render model
// and loader corpus tests replay.
const CorpusSeed = 20240101

// UDPQuery is one UDP query of the corpus, packed.
type UDPQuery struct {
	Index  int // its place in interop.Corpus(CorpusSeed), also its DNS ID
	Query  interop.Query
	Packet []byte
}

// UDPCorpus returns the corpus's queries sent over UDP, packed with their
// index as the ID.
func UDPCorpus(t testing.TB) []UDPQuery {
	t.Helper()
	var out []UDPQuery
	for i, q := range interop.Corpus(CorpusSeed) {
		if q.TCP {
			continue
		}
		msg := q.Msg()
		msg.Id = uint16(i)
		pkt, err := msg.Pack()
		if err != nil {
			t.Fatalf("corpus query %d (%v): %v", i, q, err)
		}
		out = append(out, UDPQuery{Index: i, Query: q, Packet: pkt})
	}
	return out
}
