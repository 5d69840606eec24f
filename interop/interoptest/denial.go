package interoptest

import (
	"bytes"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// DenialQuery is one query of the signed-denial corpus.
type DenialQuery struct {
	Name   string // the query, for messages
	Packet []byte
	// InXDP: the XDP program must answer it (a DO=1 NXDOMAIN it can
	// prove: NSEC3, a next closer label that is not 32 bytes long like an
	// NSEC3 hash label; NSEC, a next closer label of at most 31 bytes; a
	// referral, whose delegation's label in an NSEC3 zone is not 32
	// bytes long).
	InXDP bool
}

// DenialCorpus is a corpus of DO=1 queries for the signed zones of e:
// random names below every name of every zone (the apex, empty
// non-terminals, wildcards), every delegation and a name below it
// (referrals, with an NSEC3 opt-out proof for the insecure ones; DS at
// the delegation: an insecure one's NODATA with its own NSEC, or NSEC3
// proof), names
// whose NSEC3 hash falls before the first and after the last hash of the
// chain (the wrapping interval), names sorting before and after every
// NSEC owner, and the NSEC3 owner names themselves, in random case.
func DenialCorpus(t testing.TB, e *engine.Engine, seed int64) []DenialQuery {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	var names []string
	cuts := map[string]bool{} // delegations, asked for DS too
	for _, z := range e.Zones().Zones() {
		if !z.Signed {
			continue
		}
		origin := z.Name()
		for i := 0; i < 30; i++ {
			names = append(names, fmt.Sprintf("%x.%s", rng.Uint64()>>16, origin))
		}
		z.ForEachNode(func(n *zone.Node) {
			if n.Has(zone.FlagBelowCut) {
				return
			}
			if n.Has(zone.FlagDelegation) {
				// Referrals: an insecure delegation's opt-out proof
				// covers the delegation's own hash.
				d := wire.String(n.Name.Lower())
				names = append(names, d, fmt.Sprintf("x%d.%s", rng.Intn(1000), d))
				cuts[d] = true
				return
			}
			for i := 0; i < 3; i++ {
				names = append(names, fmt.Sprintf("x%d.%s", rng.Intn(1000), wire.String(n.Name.Lower())))
			}
			names = append(names, "a.b."+wire.String(n.Name.Lower()))
		})
		if chain := z.NSEC3Chain(); len(chain) > 0 {
			first, last := chain[0].ChainLabel(), chain[len(chain)-1].ChainLabel()
			var h zone.HashLabel
			lo, hi := 0, 0
			for i := 0; i < 200000 && (lo < 3 || hi < 3); i++ {
				l := fmt.Sprintf("w%d", i)
				z.Hash(append([]byte{byte(len(l))}, append([]byte(l), z.Origin.Lower...)...), &h)
				switch {
				case string(h[:]) < first && lo < 3:
					lo++
					names = append(names, l+"."+origin)
				case string(h[:]) > last && hi < 3:
					hi++
					names = append(names, l+"."+origin)
				}
			}
			for _, n := range chain[:min(5, len(chain))] {
				names = append(names, wire.String(n.Name.Lower()), "x."+wire.String(n.Name.Lower()))
			}
		} else {
			names = append(names, "0."+origin, "-."+origin, "zzzz."+origin, "~~."+origin, "a.zzzz."+origin)
		}
	}
	var out []DenialQuery
	for i, name := range names {
		qtypes := []uint16{dns.TypeA, dns.TypeMX}
		if cuts[name] {
			qtypes = append(qtypes, dns.TypeDS)
		}
		for _, qt := range qtypes {
			m := new(dns.Msg)
			m.SetQuestion(randomCase(rng, name), qt)
			m.Id = uint16(i)
			size := uint16(1232)
			if rng.Intn(2) == 0 {
				size = 4096
			}
			m.SetEdns0(size, true)
			pkt, err := m.Pack()
			if err != nil {
				t.Fatalf("denial corpus %s: %v", name, err)
			}
			out = append(out, DenialQuery{Name: fmt.Sprintf("%s %s", m.Question[0].Name, dns.TypeToString[qt]), Packet: pkt,
				InXDP: inXDP(e, pkt, name)})
		}
	}
	return out
}

// inXDP says whether the program must answer the query: a DO=1 NXDOMAIN
// whose proof it can build, a referral, or a DS NODATA at a delegation
// (in an NSEC zone, its label at most 31 bytes: the program finds its
// NSEC by it), in a reply that fits.
func inXDP(e *engine.Engine, pkt []byte, name string) bool {
	reply, kind := e.RespondKind(nil, pkt, false)
	r := new(dns.Msg)
	if r.Unpack(reply) != nil || r.Truncated || len(reply) > 1200 {
		return false
	}
	w := make([]byte, wire.MaxNameLen+1)
	l, err := dns.PackDomainName(strings.ToLower(name), w, 0, nil, false)
	if err != nil {
		return false
	}
	lower := w[:l]
	z := e.Zones().Find(lower)
	if z == nil || !z.Signed {
		return false
	}
	if kind == engine.KindNoData && r.Question[0].Qtype == dns.TypeDS {
		n := z.Node(lower)
		if n == nil || !n.Has(zone.FlagDelegation) || e.Zones().Zone(lower) != nil {
			return false
		}
		return z.NSEC3 != nil || lower[0] <= 31
	}
	if kind != engine.KindNXDomain && kind != engine.KindReferral {
		return false
	}
	// The closest encloser and the next closer name below it.
	total, ce := wire.Labels(lower), wire.Labels(z.Origin.Lower)
	for ce < total && z.Node(wire.Suffix(lower, ce+1)) != nil {
		ce++
	}
	nc := wire.Suffix(lower, ce+1)
	if kind == engine.KindReferral {
		// The delegation: the first name below the apex on the way
		// that is one (an opt-out proof covers its hash, which an NSEC3
		// owner's label could be).
		nc = wire.Suffix(lower, wire.Labels(z.Origin.Lower)+1)
		for i := 0; i < wire.MaxLabels; i++ {
			if n := z.Node(nc); n != nil && n.Has(zone.FlagDelegation) {
				break
			}
			nc = wire.Suffix(lower, wire.Labels(nc)+1)
		}
		return z.NSEC3 == nil || nc[0] != 32
	}
	if z.NSEC3 != nil {
		return nc[0] != 32
	}
	return nc[0] <= 31
}

func randomCase(rng *rand.Rand, s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' && rng.Intn(2) == 0 {
			b[i] = c - 32
		}
	}
	return string(b)
}

// XDPMatchesEngine runs queries through an XDP program (reply: its reply
// to query i, nil when it passed the query up): every query it must answer
// answered, every one it answers with e's bytes; what prefixes the
// failures. It returns how many it answered and how many it had to.
func XDPMatchesEngine(t testing.TB, e *engine.Engine, what string, queries []DenialQuery, reply func(i int, pkt []byte) []byte) (answered, must int) {
	t.Helper()
	for i, q := range queries {
		got := reply(i, q.Packet)
		if q.InXDP {
			must++
			if got == nil {
				t.Errorf("%s: %s passed to userspace", what, q.Name)
				continue
			}
		}
		if got == nil {
			continue
		}
		answered++
		if want := e.Respond(nil, q.Packet, false); !bytes.Equal(got, want) {
			gm, wm := new(dns.Msg), new(dns.Msg)
			_, _ = gm.Unpack(got), wm.Unpack(want)
			t.Errorf("%s: %s: XDP and engine differ\nxdp    %v\nengine %v", what, q.Name, gm, wm)
		}
	}
	return answered, must
}
