package srcport

import (
	"slices"
	"testing"
)

func TestSet(t *testing.T) {
	s := NewSet([]uint16{65535, 0, 19, 64, 63})
	for p, want := range map[uint16]bool{0: true, 1: false, 19: true, 63: true, 64: true, 65: false, 53: false, 65535: true, 65534: false} {
		if s.Has(p) != want {
			t.Errorf("Has(%d) = %v", p, !want)
		}
	}
	if got := s.Ports(); !slices.Equal(got, []uint16{0, 19, 63, 64, 65535}) {
		t.Errorf("Ports() = %v", got)
	}
	if got := new(Set).Ports(); len(got) != 0 {
		t.Errorf("empty set holds %v", got)
	}
}

func TestDefaults(t *testing.T) {
	d := Defaults()
	for _, p := range []uint16{0, 7, 13, 17, 19, 37, 123, 1900, 11211} {
		if !slices.Contains(d, p) {
			t.Errorf("default ports %v lack %d", d, p)
		}
	}
	if slices.Contains(d, 53) {
		t.Error("port 53 (DNS clients may query from it) is dropped by default")
	}
	d[0] = 53 // a copy: the defaults stay
	if Defaults()[0] != 0 {
		t.Error("Defaults returns the package's own slice")
	}
}
