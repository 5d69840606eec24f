//go:build linux

package loader_test

import (
	"bytes"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/daemon/hotpath"
	"github.com/xdpdns/xdpdns/interop/interoptest"
	"github.com/xdpdns/xdpdns/loader"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
)

// TestCorpusXDPMatchesEngine is the central invariant on a real kernel:
// the interop zones (unsigned, NSEC, NSEC3, NSEC3 opt-out) are compiled and
// swapped in, and the differential test's UDP corpus (0x20 case, EDNS, DO,
// NSID, buffer sizes) is sent through the program over IPv4 and IPv6. Every
// XDP_TX reply must carry exactly the engine's bytes, every XDP_PASS must
// be counted under a pass reason, and the program must answer exactly the
// queries the Go model of it (render.Model) answers. The tc ingress
// companion, which answers what did not fit the XDP frame, gets every
// query too: it must answer (TC_ACT_REDIRECT) exactly what the model
// answers, with the same bytes, and leave everything else untouched. It
// runs with rate limiting off, and on at a rate the corpus never reaches
// (which must change no byte and no verdict).
func TestCorpusXDPMatchesEngine(t *testing.T) {
	requireRoot(t)
	for _, v := range interoptest.Variants {
		for _, rrlOn := range []bool{false, true} {
			name := string(v)
			if rrlOn {
				name += "/rrl"
			}
			t.Run(name, func(t *testing.T) { corpusXDPMatchesEngine(t, v, rrlOn) })
		}
	}
}

func corpusXDPMatchesEngine(t *testing.T, v interoptest.Variant, rrlOn bool) {
	{
		{
			e := interoptest.Engine(t, v)
			rimg, err := render.Compile(e)
			if err != nil {
				t.Fatal(err)
			}
			l := loadWith(t, e, hotpath.FromRender(rimg), func(o *loader.Options) {
				if rrlOn {
					o.RRL = loader.RRL{Rate: 1e6, Slip: 2, Prefix4: 24, Prefix6: 56, Window: 15 * time.Second, TableSize: 1 << 16}
				}
			})
			model := &render.Model{Image: rimg, UDPSize: e.Config().UDPSize, NSID: e.Config().NSID}
			answered, tcAnswered, total := 0, 0, 0
			// Templates whose relocations go on in a chunk
			// (abi.InlineRelocs): a signed zone's NXDOMAIN has them.
			overflow := 0
			for _, tp := range rimg.Templates {
				if len(tp.Relocs) > abi.InlineRelocs {
					overflow++
				}
			}
			t.Logf("%s: %d templates with relocations past their own", v, overflow)
			if v != interoptest.Unsigned && overflow == 0 {
				t.Error("no template has relocations past its own: the corpus does not exercise their chunk")
			}
			for _, c := range interoptest.UDPCorpus(t) {
				i, q, pkt := c.Index, c.Query, c.Packet
				f := layout{v6: i%2 == 1}
				before, err := l.Counters()
				if err != nil {
					t.Fatal(err)
				}
				verdict, out := run(t, l.Program(), f.build(pkt))
				after, err := l.Counters()
				if err != nil {
					t.Fatal(err)
				}
				total++
				modelReply, modelReason := model.Reply(pkt)
				in := f.build(pkt)
				tcVerdict, tcOut := runTC(t, l.TCProgram(), in)
				switch {
				case modelReply != nil && tcVerdict != tcRedirect:
					t.Errorf("%s: tc ingress verdict %d, the model answers", q, tcVerdict)
				case modelReply != nil:
					tcAnswered++
					if got, want := checkReply(t, f, tcOut), e.Respond(nil, pkt, false); !bytes.Equal(got, want) {
						t.Errorf("%s: tc ingress and engine differ\ntc     %x\nengine %x", q, got, want)
					}
				case tcVerdict != tcOK:
					t.Errorf("%s: tc ingress verdict %d, the model passes (%s)", q, tcVerdict, modelReason)
				case !bytes.Equal(tcOut, in):
					t.Errorf("%s: tc ingress changed a packet it passed", q)
				}
				switch verdict {
				case xdpTX:
					answered++
					got := checkReply(t, f, out)
					want := e.Respond(nil, pkt, false)
					if !bytes.Equal(got, want) {
						t.Errorf("%s: XDP and engine differ\nxdp    %x\nengine %x", q, got, want)
					}
					if modelReply == nil {
						t.Errorf("%s: XDP answered, the model passes (%s)", q, modelReason)
					}
				case xdpPass:
					reason := ""
					for k, n := range after {
						if n != before[k] && len(k) > 5 && k[:5] == "pass." {
							reason = k
						}
					}
					if reason == "" {
						t.Errorf("%s: passed without a counted reason", q)
					}
					if modelReply != nil {
						t.Errorf("%s: XDP passed (%s), the model answers", q, reason)
					} else if reason != modelReason {
						t.Errorf("%s: XDP passed as %s, the model as %s", q, reason, modelReason)
					}
				default:
					t.Errorf("%s: verdict %d", q, verdict)
				}
			}
			c, err := l.Counters()
			if err != nil {
				t.Fatal(err)
			}
			var cs []string
			for k, n := range c {
				if n != 0 {
					cs = append(cs, fmt.Sprintf("%s=%d", k, n))
				}
			}
			sort.Strings(cs)
			t.Logf("%s: %d/%d UDP queries answered in XDP, %d at tc ingress; counters %v", v, answered, total, tcAnswered, cs)
			if answered == 0 {
				t.Errorf("nothing answered in XDP")
			}
			if tcAnswered != answered || c["tc_ingress.answer"] != uint64(tcAnswered) {
				t.Errorf("tc ingress answered %d (counter %d), XDP %d", tcAnswered, c["tc_ingress.answer"], answered)
			}
			if c["rrl.slipped"]+c["rrl.dropped"] != 0 {
				t.Errorf("rate limiting limited replies of the corpus: %d slipped, %d dropped", c["rrl.slipped"], c["rrl.dropped"])
			}
		}
	}
}

// TestDenialXDPMatchesEngine runs the signed-denial corpus
// (interoptest.DenialCorpus: names below every name, in the first and
// last NSEC3 intervals, around every NSEC owner, NSEC3 owner names, the
// referrals of every delegation)
// through the real program: the NSEC3 hash computed in BPF and the
// covering entry's search must give the engine's bytes, every NXDOMAIN
// the program can prove must be answered in XDP, and the program must
// answer exactly what the model answers.
func TestDenialXDPMatchesEngine(t *testing.T) {
	requireRoot(t)
	for _, v := range interoptest.Variants[1:] {
		t.Run(string(v), func(t *testing.T) {
			e := interoptest.Engine(t, v)
			rimg, err := render.Compile(e)
			if err != nil {
				t.Fatal(err)
			}
			l := loadWith(t, e, hotpath.FromRender(rimg), nil)
			model := &render.Model{Image: rimg, UDPSize: e.Config().UDPSize, NSID: e.Config().NSID}
			answered, must := 0, 0
			for i, q := range interoptest.DenialCorpus(t, e, 11) {
				f := layout{v6: i%2 == 1}
				verdict, out := run(t, l.Program(), f.build(q.Packet))
				modelReply, reason := model.Reply(q.Packet)
				if q.InXDP {
					must++
				}
				switch {
				case verdict == xdpTX:
					answered++
					if got, want := checkReply(t, f, out), e.Respond(nil, q.Packet, false); !bytes.Equal(got, want) {
						t.Errorf("%s: XDP and engine differ\nxdp    %x\nengine %x", q.Name, got, want)
					}
					if modelReply == nil {
						t.Errorf("%s: XDP answered, the model passes (%s)", q.Name, reason)
					}
				case verdict != xdpPass:
					t.Errorf("%s: verdict %d", q.Name, verdict)
				case q.InXDP:
					t.Errorf("%s: passed, the program can prove it", q.Name)
				case modelReply != nil:
					t.Errorf("%s: XDP passed, the model answers", q.Name)
				}
			}
			c, err := l.Counters()
			if err != nil {
				t.Fatal(err)
			}
			selfReferrals := 0
			for _, tp := range rimg.Templates {
				if tp.Kind == abi.KindReferral && tp.Flags&abi.FlagSlotSelf != 0 {
					selfReferrals++
				}
			}
			t.Logf("%d answered in XDP (%d it must answer); answer.nxdomain=%d answer.wildcard=%d answer.referral=%d pass.denial=%d; %d referral templates with a self slot",
				answered, must, c["answer.nxdomain"], c["answer.wildcard"], c["answer.referral"], c["pass.denial"], selfReferrals)
			if must == 0 {
				t.Error("the corpus has no NXDOMAIN the program must prove")
			}
			if v == interoptest.NSEC3OptOut && selfReferrals == 0 {
				t.Error("no insecure delegation's referral has its opt-out proof filled by the program")
			}
		})
	}
}
