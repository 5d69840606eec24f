package zone

import (
	"strings"
	"testing"
)

func TestSerialWarning(t *testing.T) {
	const base = "$TTL 60\n@ SOA ns h SERIAL 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n"
	load := func(serial, extra string) *Zone {
		t.Helper()
		z, err := Load(strings.NewReader(strings.Replace(base, "SERIAL", serial, 1)+extra), "s.test.", "s.zone", Options{})
		if err != nil {
			t.Fatal(err)
		}
		return z
	}
	old := load("10", "")
	for _, c := range []struct {
		desc string
		new  *Zone
		want string
	}{
		{"same serial, same content", load("10", ""), ""},
		{"newer serial", load("11", "www A 192.0.2.2\n"), ""},
		{"same serial, new record", load("10", "www A 192.0.2.2\n"), "changed but its SOA serial 10 did not"},
		{"same serial, changed TTL", load("10", "www 61 A 192.0.2.2\n"), "changed"},
		{"older serial", load("9", ""), "went backwards from 10 to 9"},
		{"a serial just below the wrap is older than 10 (RFC 1982)", load("4294967295", ""), "went backwards"},
	} {
		got := SerialWarning(old, c.new, nil)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: warning %q, want %q", c.desc, got, c.want)
		}
	}
	// A known change decides without comparing the versions: an empty
	// one (a file read again unchanged) warns of nothing, one that names
	// a name is a change under the same serial.
	if w := SerialWarning(old, load("10", "www A 192.0.2.2\n"), &Changed{}); w != "" {
		t.Errorf("empty change: warning %q", w)
	}
	if w := SerialWarning(old, load("10", ""), &Changed{Names: [][]byte{[]byte("\x03www\x01s\x04test\x00")}}); !strings.Contains(w, "changed") {
		t.Errorf("known change under the same serial: warning %q", w)
	}
	if SerialWarning(old, old, nil) != "" {
		t.Error("the same version has a serial warning")
	}
	if SerialWarning(nil, old, nil) != "" {
		t.Error("a new zone has a serial warning")
	}
	// 4294967295 -> 10 is forward in serial arithmetic.
	if SerialLess(10, 4294967295) || !SerialLess(4294967295, 10) {
		t.Error("RFC 1982 wrap-around")
	}
}
