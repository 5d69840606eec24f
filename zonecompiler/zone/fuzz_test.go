package zone

import (
	"errors"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary master files to the loader: it must never
// panic, and a refusal must be an *Error naming the file.
func FuzzLoad(f *testing.F) {
	f.Add("$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n")
	f.Add("@ 60 SOA ns h 1 2 3 4 5\n@ 60 NS ns.sub\nsub 60 NS ns.sub\nns.sub 60 A 192.0.2.1\nx.ns.sub 60 TXT x\n")
	f.Add("$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 1.2.3.4\nc CNAME ns\nc A 1.2.3.4\n*.w A 1.1.1.1\nd DNAME x\n")
	f.Fuzz(func(t *testing.T, text string) {
		z, err := Load(strings.NewReader(text), "fuzz.test.", "fuzz.zone", Options{})
		if err != nil {
			var ze *Error
			if !errors.As(err, &ze) || ze.File == "" {
				t.Fatalf("refusal without file: %v", err)
			}
			return
		}
		if z.Apex == nil || z.SOA == nil {
			t.Fatalf("zone loaded without apex or SOA")
		}
	})
}
