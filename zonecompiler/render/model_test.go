package render

import (
	"bytes"
	"fmt"
	"sort"
	"testing"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/interop/interoptest"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
)

// TestModelMatchesEngine is the central invariant checked without a
// kernel: for the differential test's corpus, every query the XDP model
// answers gets exactly the engine's bytes, and every query it passes up
// has a reason.
func TestModelMatchesEngine(t *testing.T) {
	for _, v := range interoptest.Variants {
		t.Run(string(v), func(t *testing.T) {
			e, img, m := compileModel(t, v)
			answered, total := 0, 0
			reasons := map[string]int{}
			for _, c := range interoptest.UDPCorpus(t) {
				q, pkt := c.Query, c.Packet
				total++
				got, reason := m.Reply(pkt)
				if got == nil {
					reasons[reason]++
					continue
				}
				answered++
				want := e.Respond(nil, pkt, false)
				if !bytes.Equal(got, want) {
					t.Errorf("%s: XDP model and engine differ\nxdp    %x\nengine %x\n%s", q, got, want, diff(got, want))
				}
			}
			var rs []string
			for r, n := range reasons {
				rs = append(rs, fmt.Sprintf("%s=%d", r, n))
			}
			sort.Strings(rs)
			t.Logf("%s: %d/%d UDP queries answered by the model (%.1f%%); passed: %v; %d templates, %d names, %d typed answers, %d body bytes",
				v, answered, total, 100*float64(answered)/float64(total), rs, img.Stats.Templates, img.Stats.Names,
				img.Stats.Answers, img.Stats.BodyBytes)
			if answered < total/2 {
				t.Errorf("only %d of %d queries answered in XDP", answered, total)
			}
		})
	}
}

func diff(a, b []byte) string {
	ma, mb := new(dns.Msg), new(dns.Msg)
	ea, eb := ma.Unpack(a), mb.Unpack(b)
	return fmt.Sprintf("xdp (%v):\n%v\nengine (%v):\n%v", ea, ma, eb, mb)
}

// TestModelExpiredZone: with either test zone expired (expire-policy
// servfail), the model still answers only with the engine's bytes, never
// answers a query the expired zone owns (those go to userspace, where the
// engine answers SERVFAIL), and still answers the other zone's queries.
func TestModelExpiredZone(t *testing.T) {
	for _, v := range []interoptest.Variant{interoptest.Unsigned, interoptest.NSEC3} {
		base := interoptest.Engine(t, v)
		for _, expired := range base.Zones().Zones() {
			t.Run(string(v)+"/"+expired.Name(), func(t *testing.T) {
				set := base.Zones().With(expired.WithExpired(true))
				e := engine.New(base.Config(), set)
				img, err := Compile(e)
				if err != nil {
					t.Fatal(err)
				}
				m := &Model{Image: img, UDPSize: e.Config().UDPSize, NSID: e.Config().NSID}
				servfail, answered := 0, 0
				for _, c := range interoptest.UDPCorpus(t) {
					want := e.Respond(nil, c.Packet, false)
					r := new(dns.Msg)
					if err := r.Unpack(want); err != nil {
						continue
					}
					got, _ := m.Reply(c.Packet)
					if r.Rcode == dns.RcodeServerFailure {
						servfail++
						if r.Authoritative {
							t.Errorf("%s: SERVFAIL with AA", c.Query)
						}
						if got != nil {
							t.Errorf("%s: the expired zone's query was answered by the model", c.Query)
						}
						continue
					}
					if got == nil {
						continue
					}
					answered++
					if !bytes.Equal(got, want) {
						t.Errorf("%s: XDP model and engine differ\n%s", c.Query, diff(got, want))
					}
				}
				t.Logf("%d SERVFAIL (userspace), %d answered by the model", servfail, answered)
				if servfail == 0 || answered == 0 {
					t.Errorf("corpus does not exercise both zones: %d SERVFAIL, %d answered", servfail, answered)
				}
			})
		}
	}
}

// TestModelSignedDenial: DO=1 queries for names that do not exist in the
// signed zones (below every name, in the first and last NSEC3 interval,
// before and after every NSEC owner, NSEC3 owner names as query names)
// get the engine's bytes from the model, and every NXDOMAIN the program
// can prove (interoptest.DenialQuery.InXDP) is answered, not passed up.
func TestModelSignedDenial(t *testing.T) {
	for _, v := range interoptest.Variants[1:] {
		t.Run(string(v), func(t *testing.T) {
			e, _, m := compileModel(t, v)
			answered, must := 0, 0
			for _, q := range interoptest.DenialCorpus(t, e, 7) {
				got, reason := m.Reply(q.Packet)
				if q.InXDP {
					must++
					if got == nil {
						t.Errorf("%s: passed (%s), the program can prove it", q.Name, reason)
					}
				}
				if got == nil {
					continue
				}
				answered++
				if want := e.Respond(nil, q.Packet, false); !bytes.Equal(got, want) {
					t.Errorf("%s: XDP model and engine differ\n%s", q.Name, diff(got, want))
				}
			}
			t.Logf("%d answered, %d of them NXDOMAIN the program must prove", answered, must)
			if must == 0 {
				t.Error("the corpus has no NXDOMAIN the program must prove")
			}
		})
	}
}

// compileModel loads a variant's zones, compiles them and returns the
// engine, the image and the model configured like the engine.
func compileModel(t testing.TB, v interoptest.Variant) (*engine.Engine, *Image, *Model) {
	t.Helper()
	e := interoptest.Engine(t, v)
	img, err := Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	return e, img, &Model{Image: img, UDPSize: e.Config().UDPSize, NSID: e.Config().NSID}
}
