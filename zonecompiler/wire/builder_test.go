package wire

import (
	"bytes"
	"testing"
)

// TestBuilderHide: after Hide, a name compresses against the question and
// against what is written after it, never against the body written
// between them; after Unhide, against all of them again.
func TestBuilderHide(t *testing.T) {
	name := func(s ...string) []byte {
		var b []byte
		for _, l := range s {
			b = append(append(b, byte(len(l))), l...)
		}
		return append(b, 0)
	}
	var b Builder
	b.Reset(nil, 512)
	b.Header(1, 0)
	b.Question(name("x", "tld"), name("x", "tld"), 1, 1)
	bodyStart := len(b.Buf)
	ns1 := len(b.Buf)
	b.Name(name("ns1", "tld"), name("ns1", "tld"), true) // in the body: "ns1" + a pointer to "tld"
	pointer := func(off int) []byte { return []byte{0xC0 | byte(off>>8), byte(off)} }
	tld := HeaderLen + 2 // "tld" in the question
	cases := []struct {
		hide bool
		want []byte
	}{
		{true, append([]byte("\x03ns1"), pointer(tld)...)}, // not against the body's ns1.tld
		{false, pointer(ns1)},
	}
	for _, c := range cases {
		if c.hide {
			b.Hide(bodyStart)
		} else {
			b.Unhide()
		}
		at := len(b.Buf)
		b.Name(name("ns1", "tld"), name("ns1", "tld"), true)
		if got := b.Buf[at:]; !bytes.Equal(got, c.want) {
			t.Fatalf("hidden %v: ns1.tld written as %x, want %x", c.hide, got, c.want)
		}
		if c.hide {
			// What the hidden part writes is a target for itself.
			own := at
			at = len(b.Buf)
			b.Name(name("ns1", "tld"), name("ns1", "tld"), true)
			if got := b.Buf[at:]; !bytes.Equal(got, pointer(own)) {
				t.Fatalf("hidden: ns1.tld written again as %x, want a pointer to %d", got, own)
			}
		}
	}
}
