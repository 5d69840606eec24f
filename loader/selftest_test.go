//go:build linux

package loader_test

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/daemon/hotpath"
	"github.com/xdpdns/xdpdns/loader"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
)

func TestSelfTest(t *testing.T) {
	requireRoot(t)
	e := swapZone(t, "198.18.0.80")
	l, err := loader.Load(loader.Options{Ports: []uint16{53}, AnyAddress: true, UDPSize: 1232})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	q := new(dns.Msg)
	q.SetQuestion("www.swap.test.", dns.TypeA)
	pkt, _ := q.Pack()
	if _, err := l.SelfTest(pkt); err == nil {
		t.Fatal("self-test answered from an empty generation")
	}
	img, err := render.Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Swap(hotpath.FromRender(img)); err != nil {
		t.Fatal(err)
	}
	got, err := l.SelfTest(pkt)
	if err != nil {
		t.Fatal(err)
	}
	if want := e.Respond(nil, pkt, false); string(got) != string(want) {
		t.Fatalf("self-test reply differs from the engine:\n got %x\nwant %x", got, want)
	}
}
