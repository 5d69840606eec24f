//go:build linux

package hotpath

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/bpf"
	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/loader"
	"github.com/xdpdns/xdpdns/zonecompiler/binfmt"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

var testConfig = engine.Config{Identity: "hotpath-test", NSID: []byte("node-1"), UDPSize: 1232}

// testSet is a small zone: a host whose address is a parameter (so that
// two sets answer differently), a delegation with glue, and a TXT RRset
// long enough to take several chunks.
func testSet(t *testing.T, wwwAddr string) *zone.Set {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN hot.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 198.18.0.53\n")
	fmt.Fprintf(&b, "www A %s\nsub NS ns.sub\nns.sub A 198.18.0.54\n", wwwAddr)
	for i := 0; i < 4; i++ {
		fmt.Fprintf(&b, "big TXT \"%d%s\"\n", i, strings.Repeat("x", 99))
	}
	z, err := zone.Load(strings.NewReader(b.String()), "hot.test.", "hot.test.zone", zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	set, err := zone.NewSet(z)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestFromRender checks the layout: every name and answer entry keeps its
// key and value, and every template's chunks hold its body in order, with
// its counts, lengths and relocations.
func TestFromRender(t *testing.T) {
	img, err := render.Compile(engine.New(testConfig, testSet(t, "192.0.2.1")))
	if err != nil {
		t.Fatal(err)
	}
	out := FromRender(img)
	if len(out.NameKeys) != len(img.Names) || len(out.NameVals) != len(img.Names) {
		t.Fatalf("%d name keys, %d values for %d names", len(out.NameKeys), len(out.NameVals), len(img.Names))
	}
	for i, k := range out.NameKeys {
		e, ok := img.Names[render.NameHash{H1: k.H1, H2: k.H2}]
		v := out.NameVals[i]
		if !ok || v.ExactDefault != e.ExactDefault || v.BelowDefault != e.BelowDefault || v.Flags != e.Flags {
			t.Errorf("name %x/%x: value %+v, rendered %+v (present %v)", k.H1, k.H2, v, e, ok)
		}
	}
	if len(out.AnswerKeys) != len(img.Answers) || len(out.AnswerVals) != len(img.Answers) {
		t.Fatalf("%d answer keys, %d values for %d answers", len(out.AnswerKeys), len(out.AnswerVals), len(img.Answers))
	}
	byKey := map[bpf.XdpNameKey]render.AnswerKey{}
	for rk := range img.Answers {
		byKey[AnswerKey(rk)] = rk
	}
	if len(byKey) != len(img.Answers) {
		t.Fatalf("%d answer keys for %d answers", len(byKey), len(img.Answers))
	}
	for i, k := range out.AnswerKeys {
		rk, found := byKey[k]
		if tmpl, ok := img.Answers[rk]; !found || !ok || out.AnswerVals[i].Tmpl != tmpl {
			t.Errorf("answer %+v: template %d, rendered %d (present %v)", rk, out.AnswerVals[i].Tmpl, tmpl, ok)
		}
	}
	if len(out.Templates) != len(img.Templates) {
		t.Fatalf("%d templates, rendered %d", len(out.Templates), len(img.Templates))
	}
	multi, overflow := false, 0
	for i, rt := range img.Templates {
		x := out.Templates[i]
		if int(x.BodyLen) != rt.BodyLen || int(x.ReqLen) != rt.ReqLen || x.Ancount != rt.AN || x.Nscount != rt.NS ||
			x.Arcount != rt.AR || x.Flags != rt.Flags || x.Kind != rt.Kind || int(x.Nrelocs) != len(rt.Relocs) {
			t.Errorf("template %d: %+v, rendered %+v", i, x, rt)
		}
		// Its own relocations, then the rest in the chunk after the
		// body's last.
		chunk := len(bpf.XdpChunk{}.B)
		n := (max(len(rt.Body)-chunk, 0) + chunk - 1) / chunk
		relocs, ok := out.TemplateRelocs(&x)
		if !ok {
			t.Fatalf("template %d: relocations' chunk %d of %d", i, x.RelocChunk, len(out.Chunks))
		}
		if int(x.Nrelocs) > abi.InlineRelocs {
			overflow++
		}
		if !slices.Equal(relocs, rt.Relocs) {
			t.Errorf("template %d: relocations %v, rendered %v", i, relocs, rt.Relocs)
		}
		if int(x.FirstChunk)+n > len(out.Chunks) {
			t.Fatalf("template %d: chunks %d+%d of %d", i, x.FirstChunk, n, len(out.Chunks))
		}
		body := append([]byte{}, x.Head[:]...)
		for _, c := range out.Chunks[x.FirstChunk : int(x.FirstChunk)+n] {
			body = append(body, c.B[:]...)
		}
		if !bytes.Equal(body[:len(rt.Body)], rt.Body) {
			t.Errorf("template %d: head and chunks do not hold the body", i)
		}
		multi = multi || n > 1
	}
	if !multi {
		t.Errorf("no template's body goes on over two chunks: the test zone does not exercise chunking")
	}
	t.Logf("%d templates with relocations past their own", overflow)
	// A decoded image (a restart's: names and answers in key order, no
	// Go maps) lays out as the compiler's.
	var buf bytes.Buffer
	w := binfmt.NewWriter(&buf)
	img.Encode(w)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	dec, err := render.DecodeImage(binfmt.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if dec.Sorted == nil || dec.Names != nil {
		t.Fatal("the decoded image holds Go maps")
	}
	a, b := FromRender(dec), out
	for _, x := range []*loader.Image{a, b} {
		sortPairs(x.NameKeys, x.NameVals)
		sortPairs(x.AnswerKeys, x.AnswerVals)
	}
	if !reflect.DeepEqual(a, b) {
		t.Error("the decoded image lays out otherwise than the compiled one")
	}
}

// sortPairs sorts keys, and vals alongside.
func sortPairs[V any](keys []bpf.XdpNameKey, vals []V) {
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(i, j int) int {
		return cmp.Or(cmp.Compare(keys[i].H1, keys[j].H1), cmp.Compare(keys[i].H2, keys[j].H2))
	})
	k2, v2 := slices.Clone(keys), slices.Clone(vals)
	for to, from := range idx {
		keys[to], vals[to] = k2[from], v2[from]
	}
}

// TestHotPath loads the program through New, answers a self-test query
// with the engine's bytes, and swaps a second set in as generation 2.
func TestHotPath(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_BPF) to load the XDP program")
	}
	set1 := testSet(t, "192.0.2.1")
	h, err := New(loader.Options{Ports: []uint16{53}, AnyAddress: true}, testConfig, set1)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	q := new(dns.Msg)
	q.SetQuestion("www.hot.test.", dns.TypeA)
	q.SetEdns0(1232, false)
	pkt, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	check := func(set *zone.Set, wantGen uint32) {
		t.Helper()
		if g := h.Generation(); g != wantGen {
			t.Errorf("generation %d, want %d", g, wantGen)
		}
		if st := h.ImageStats(); st.Names == 0 || st.Templates == 0 {
			t.Errorf("image stats %+v", st)
		}
		got, err := h.SelfTest(pkt)
		if err != nil {
			t.Fatal(err)
		}
		if want := engine.New(testConfig, set).Respond(nil, pkt, false); !bytes.Equal(got, want) {
			t.Errorf("generation %d: XDP %x, engine %x", wantGen, got, want)
		}
	}
	check(set1, 1)
	if a := h.Attachments(); len(a) != 0 {
		t.Errorf("attachments %+v, none asked for", a)
	}
	set2 := testSet(t, "192.0.2.99")
	gen, err := h.Swap(set2)
	if err != nil {
		t.Fatal(err)
	}
	if gen != 2 {
		t.Errorf("Swap returned generation %d, want 2", gen)
	}
	check(set2, 2)
	c, err := h.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if c["answer.answer"] != 2 {
		t.Errorf("answer.answer = %d after two self-tests, want 2", c["answer.answer"])
	}
}
