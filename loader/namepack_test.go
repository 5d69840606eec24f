//go:build linux

package loader

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/xdpdns/xdpdns/bpf"
	"github.com/xdpdns/xdpdns/bpf/abi"
)

// TestPackName: a names entry's version packs into a slot and back
// unchanged for every kind of template id (plain, shared, absent, at the
// limits) and cover; a version that cannot be packed is refused.
func TestPackName(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	id := func() uint32 {
		switch rng.IntN(5) {
		case 0:
			return abi.Absent
		case 1:
			return abi.NameIDLimit - 1
		case 2:
			return (abi.NameIDLimit - 1) | abi.SharedTmpl
		case 3:
			return rng.Uint32N(abi.NameIDLimit) | abi.SharedTmpl
		}
		return rng.Uint32N(abi.NameIDLimit)
	}
	for i := range 10000 {
		v := bpf.XdpNameVer{
			ExactDefault: [2]uint32{id(), id()},
			BelowDefault: [2]uint32{id(), id()},
			Flags:        rng.Uint32N(abi.NameFlagSide),
			Cover:        rng.Uint32N(abi.NameCoverMask + 1),
		}
		if err := checkName(i, &v); err != nil {
			t.Fatalf("%+v: %v", v, err)
		}
		e := packName(v)
		if got := unpackName(e); got != v {
			t.Fatalf("%+v packed as %+v unpacks as %+v", v, e, got)
		}
		if _, side := sideIndex(e); side {
			t.Fatalf("%+v packed as %+v reads as in names_side", v, e)
		}
	}
	if i, side := sideIndex(bpf.XdpNameEnt{Word: sideWord(12345)}); !side || i != 12345 {
		t.Fatalf("side word of 12345 reads as %d, %v", i, side)
	}
	for _, v := range []bpf.XdpNameVer{
		{Cover: abi.NameCoverMask + 1},
		{Flags: abi.NameFlagSide},
		{Flags: 1 << 8},
	} {
		if err := checkName(0, &v); !errors.Is(err, ErrImage) {
			t.Errorf("%+v: %v, want ErrImage", v, err)
		}
	}
}
