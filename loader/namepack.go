//go:build linux

package loader

import (
	"fmt"
	"sync/atomic"

	"github.com/xdpdns/xdpdns/bpf"
	"github.com/xdpdns/xdpdns/bpf/abi"
)

// A names table slot holds its entry's one version packed (struct
// name_ent in shared.h): the flags and cover in one word, the four
// template ids in 24 bits each. packName and unpackName convert.

// packID packs template id (abi.Absent, a shared or a plain id below
// abi.NameIDLimit: newGeneration sizes the template maps so).
func packID(id uint32) uint32 {
	switch {
	case id == abi.Absent:
		return abi.NameIDAbsent
	case id&abi.SharedTmpl != 0:
		return id&^abi.SharedTmpl | abi.NameIDShared
	}
	return id
}

// unpackID is the program's name_id.
func unpackID(p uint32) uint32 {
	switch {
	case p == abi.NameIDAbsent:
		return abi.Absent
	case p&abi.NameIDShared != 0:
		return p&^abi.NameIDShared | abi.SharedTmpl
	}
	return p
}

// packName packs v (its cover, flags and ids in range: checkImage).
func packName(v bpf.XdpNameVer) bpf.XdpNameEnt {
	a, b, c, d := packID(v.ExactDefault[0]), packID(v.ExactDefault[1]), packID(v.BelowDefault[0]), packID(v.BelowDefault[1])
	return bpf.XdpNameEnt{
		Word: v.Flags<<abi.NameFlagsShift | v.Cover&abi.NameCoverMask,
		Ids:  [3]uint32{a | d<<24, b | (d>>8)<<24, c | (d>>16)<<24},
	}
}

// unpackName is the version e holds (not for an entry in names_side:
// sideIndex).
func unpackName(e bpf.XdpNameEnt) bpf.XdpNameVer {
	const low = 0xffffff
	d := e.Ids[0]>>24 | (e.Ids[1]>>24)<<8 | (e.Ids[2]>>24)<<16
	return bpf.XdpNameVer{
		ExactDefault: [2]uint32{unpackID(e.Ids[0] & low), unpackID(e.Ids[1] & low)},
		BelowDefault: [2]uint32{unpackID(e.Ids[2] & low), unpackID(d)},
		Flags:        e.Word >> abi.NameFlagsShift,
		Cover:        e.Word & abi.NameCoverMask,
	}
}

// sideIndex reports whether e's versions are in names_side, and where.
func sideIndex(e bpf.XdpNameEnt) (uint32, bool) {
	return e.Word & abi.NameCoverMask, (e.Word>>abi.NameFlagsShift)&abi.NameFlagSide != 0
}

// sideWord is the word of an entry whose versions are names_side entry i.
func sideWord(i uint32) uint32 { return abi.NameFlagSide<<abi.NameFlagsShift | i }

// storeName writes e over the slot's entry dst, the word last and in one
// store: a packet reads the word first, and while it says names_side
// (the state an update leaves an entry in before it settles) the ids are
// not read.
func storeName(dst *bpf.XdpNameEnt, e bpf.XdpNameEnt) {
	for i := range dst.Ids {
		atomic.StoreUint32(&dst.Ids[i], e.Ids[i])
	}
	atomic.StoreUint32(&dst.Word, e.Word)
}

// checkName says why version v of name i cannot be packed, or nil.
func checkName(i int, v *bpf.XdpNameVer) error {
	if v.Cover > abi.NameCoverMask || v.Flags >= 1<<(32-abi.NameFlagsShift) || v.Flags&abi.NameFlagSide != 0 {
		return fmt.Errorf("%w: name %d: cover %d, flags %#x (at most %d, below %#x, no %#x)", ErrImage, i, v.Cover, v.Flags,
			abi.NameCoverMask, 1<<(32-abi.NameFlagsShift), abi.NameFlagSide)
	}
	return nil
}
