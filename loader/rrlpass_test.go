//go:build linux

package loader_test

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/loader"
)

// TestRRLPass: with RRLPass, a query the program would answer goes to
// userspace, counted pass.rrl, from XDP and from the tc companion (which
// leaves the reply too big for XDP to the kernel); a frame
// that is no query keeps its own reason.
func TestRRLPass(t *testing.T) {
	requireRoot(t)
	e := swapZone(t, "192.0.2.1")
	l, err := loader.Load(loader.Options{Ports: []uint16{53}, AnyAddress: true, UDPSize: e.Config().UDPSize, RRLPass: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Swap(compile(t, e)); err != nil {
		t.Fatal(err)
	}
	www := query(t, "www.swap.test.", dns.TypeA, dns.ClassINET)
	before, err := l.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := run(t, l.Program(), layout{}.build(www)); v != xdpPass {
		t.Errorf("XDP verdict %d, want XDP_PASS", v)
	}
	big := query(t, "big.swap.test.", dns.TypeTXT, dns.ClassINET, edns(1232, false, true))
	if v, _ := runTC(t, l.TCProgram(), layout{}.build(big)); v != tcOK {
		t.Errorf("tc verdict %d on a reply too big for XDP, want TC_ACT_OK (to userspace)", v)
	}
	if v, _ := run(t, l.Program(), layout{proto: 6}.build(www)); v != xdpPass {
		t.Errorf("TCP frame: verdict %d, want XDP_PASS", v)
	}
	after, err := l.Counters()
	if err != nil {
		t.Fatal(err)
	}
	// The tc companion counts only what it answers: the XDP program
	// counted the query's reason already when it passed it.
	if d := after["pass.rrl"] - before["pass.rrl"]; d != 1 {
		t.Errorf("pass.rrl counted %d, want 1", d)
	}
	if d := after["tc_ingress.answer"] - before["tc_ingress.answer"]; d != 0 {
		t.Errorf("the tc companion answered %d with rate limiting on", d)
	}
	if d := after["pass.not_dns"] - before["pass.not_dns"]; d != 1 {
		t.Errorf("pass.not_dns counted %d, want 1 (the TCP frame)", d)
	}
	for k, v := range after {
		if len(k) > 7 && k[:7] == "answer." && v != before[k] {
			t.Errorf("%s counted with rate limiting on", k)
		}
	}
}
