//go:build linux

package loader

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"

	"github.com/cilium/ebpf"

	"github.com/xdpdns/xdpdns/bpf"
	"github.com/xdpdns/xdpdns/bpf/abi"
)

// nameTable is a generation's names map: the open-addressing hash table
// of bpf/include/shared.h (XDPDNS_NAME_PROBES) in an mmapable array map,
// slot 0 its header, slots 1 .. mask + 1 the table. A new table is built
// with Robin Hood insertion (every key close to its home); an update adds
// a key to the first free slot of its probe window and never moves a
// key, so that a packet probing concurrently always finds what is there.
type nameTable struct {
	m    *ebpf.Map
	mask uint32
	seed uint64
	// open is the table mapped for the update in progress (liveNames),
	// which slotsView hands out instead of mapping it again: a mapping
	// of a BPF map counts its every page in the process's RSS.
	open []bpf.XdpNameSlot
}

// errNameTableFull says a key found no slot within abi.NameProbes of its
// home.
var errNameTableFull = errors.New("no free slot within the probe window")

// nameSlots is the size of a table holding n names: a power of two at
// most three quarters full.
func nameSlots(n int) int {
	s := 1
	for s*3 < n*4 {
		s <<= 1
	}
	return s
}

// capacity is how many names the table holds before an update is
// refused (the plan's room check): seven eighths of its slots.
func (t *nameTable) capacity() int { return int(t.mask+1) - int(t.mask+1)/8 }

// home is the home slot offset of k (before the mask), as name_probe
// computes it.
func (t *nameTable) home(k bpf.XdpNameKey) uint32 {
	return uint32((k.H1 ^ t.seed) * abi.NameHomeMult >> 32)
}

// bpfMap is the table's map (nil for no table).
func (t *nameTable) bpfMap() *ebpf.Map {
	if t == nil {
		return nil
	}
	return t.m
}

// slotsView maps the table into memory (or hands out the update's
// mapping, open); done unmaps it.
func (t *nameTable) slotsView() (slots []bpf.XdpNameSlot, done func() error, err error) {
	if t.open != nil {
		return t.open, func() error { return nil }, nil
	}
	return mapArray[bpf.XdpNameSlot](t.m)
}

// nameTableTries bounds the tables newNameTable builds for one image
// before it gives up: each with a new seed, every other one twice as
// large.
const nameTableTries = 4

// newNameTable creates a table for keys and vals with room for at least
// room names, and builds it with a seed drawn by seed (nil: at random). A table whose probe windows overflow is
// made again with another seed (a window holds 32 slots, and at three
// quarters full the longest reach of a million random names is about
// 20), then also twice as large.
func newNameTable(spec *ebpf.MapSpec, keys []bpf.XdpNameKey, vals []bpf.XdpNameVer, room int, seed func() uint64) (*nameTable, error) {
	if seed == nil {
		seed = rand.Uint64
	}
	slots := nameSlots(max(room, len(keys)))
	var err error
	for try := range nameTableTries {
		if try > 0 && try%2 == 0 {
			slots <<= 1
		}
		s := *spec
		s.MaxEntries = uint32(1 + slots)
		m, merr := ebpf.NewMap(&s)
		if merr != nil {
			return nil, fmt.Errorf("loader: creating the names table (%d slots): %w", slots, merr)
		}
		t := &nameTable{m: m, mask: uint32(slots - 1), seed: seed()}
		if err = t.build(keys, vals); err == nil {
			return t, nil
		}
		m.Close()
		if !errors.Is(err, errNameTableFull) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("loader: building the names table of %d names: %w", len(keys), err)
}

// build writes the header and keys → vals (in both versions) into the
// empty table, by Robin Hood insertion: a key that has come further from
// its home than the one in a slot takes the slot and that one moves on.
func (t *nameTable) build(keys []bpf.XdpNameKey, vals []bpf.XdpNameVer) error {
	slots, done, err := t.slotsView()
	if err != nil {
		return err
	}
	defer done()
	slots[0].Key = bpf.XdpNameKey{H1: uint64(t.mask), H2: t.seed}
	for i, k := range keys {
		if k == (bpf.XdpNameKey{}) {
			return fmt.Errorf("%w: name %d has the empty slot's key", ErrImage, i)
		}
		cur := bpf.XdpNameSlot{Key: k, Val: nameVal(vals[i])}
		pos := t.home(k) & t.mask
		for d := uint32(0); ; d++ {
			if d >= abi.NameProbes {
				return errNameTableFull
			}
			s := &slots[1+pos]
			if s.Key == (bpf.XdpNameKey{}) {
				*s = cur
				break
			}
			if s.Key == cur.Key {
				return fmt.Errorf("%w: name %x listed twice", ErrImage, k)
			}
			if sd := (pos - t.home(s.Key)) & t.mask; sd < d {
				*s, cur = cur, *s
				d = sd
			}
			pos = (pos + 1) & t.mask
		}
	}
	return nil
}

// removed reports whether a slot's key is a removed name (every version
// absent), whose slot an update may reuse.
func removed(v *bpf.XdpNameVal) bool {
	for _, x := range v.V {
		if x.Flags&abi.NameFlagAbsent == 0 {
			return false
		}
	}
	return true
}

// find returns the slot of k in slots (0: not there) and the first slot
// of its probe window free for it (0: none).
func (t *nameTable) find(slots []bpf.XdpNameSlot, k bpf.XdpNameKey) (at, free uint32) {
	home := t.home(k)
	for p := uint32(0); p < abi.NameProbes; p++ {
		i := 1 + (home+p)&t.mask
		s := &slots[i]
		switch {
		case s.Key == k:
			return i, free
		case s.Key == (bpf.XdpNameKey{}):
			if free == 0 {
				free = i
			}
			return 0, free
		case free == 0 && removed(&s.Val):
			free = i
		}
	}
	return 0, free
}

// put sets keys[i] → vals[i]: in place for a key in the table (the
// caller changes only the version no packet reads), else in a free slot,
// the value written before the key.
func (t *nameTable) put(keys []bpf.XdpNameKey, vals []bpf.XdpNameVal) error {
	if len(keys) == 0 {
		return nil
	}
	slots, done, err := t.slotsView()
	if err != nil {
		return err
	}
	defer done()
	for i, k := range keys {
		if k == (bpf.XdpNameKey{}) {
			return fmt.Errorf("%w: a name has the empty slot's key", ErrImage)
		}
		at, free := t.find(slots, k)
		if at != 0 {
			slots[at].Val = vals[i]
			continue
		}
		if free == 0 {
			return fmt.Errorf("name %x: %w", k, errNameTableFull)
		}
		s := &slots[free]
		s.Val = vals[i]
		atomic.StoreUint64(&s.Key.H2, k.H2)
		atomic.StoreUint64(&s.Key.H1, k.H1)
	}
	return nil
}

// remove makes k a removed name (its slot stays, so that the probe
// windows through it stay whole).
func (t *nameTable) remove(k bpf.XdpNameKey) error {
	slots, done, err := t.slotsView()
	if err != nil {
		return err
	}
	defer done()
	if at, _ := t.find(slots, k); at != 0 {
		slots[at].Val = nameVal(absentName)
	}
	return nil
}

// lookup reads the value of k (false: not in the table).
func (t *nameTable) lookup(k bpf.XdpNameKey) (bpf.XdpNameVal, bool, error) {
	home := t.home(k)
	for p := uint32(0); p < abi.NameProbes; p++ {
		var s bpf.XdpNameSlot
		if err := t.m.Lookup(1+(home+p)&t.mask, &s); err != nil {
			return bpf.XdpNameVal{}, false, fmt.Errorf("loader: reading the names table: %w", err)
		}
		switch s.Key {
		case k:
			return s.Val, true, nil
		case bpf.XdpNameKey{}:
			return bpf.XdpNameVal{}, false, nil
		}
	}
	return bpf.XdpNameVal{}, false, nil
}

// each calls f with every name in the table that is not a removed one.
func (t *nameTable) each(f func(bpf.XdpNameKey, bpf.XdpNameVal) error) error {
	slots, done, err := t.slotsView()
	if err != nil {
		return err
	}
	defer done()
	for i := 1; i < len(slots); i++ {
		if s := slots[i]; s.Key != (bpf.XdpNameKey{}) && !removed(&s.Val) {
			if err := f(s.Key, s.Val); err != nil {
				return err
			}
		}
	}
	return nil
}

// liveNames is the liveSet of the names: the live versions are read from
// the live generation's table itself (mapped for the length of one
// update, open to done), so the loader keeps no copy of a TLD's names;
// only the marks of the names the update has seen, and their count.
type liveNames struct {
	t     *nameTable
	n     int                       // live names
	slots []bpf.XdpNameSlot         // the table, while an update runs
	ver   uint32                    // the version live when it began
	marks map[bpf.XdpNameKey]uint32 // the update's marks
}

// open maps the table for an update beginning while version ver is live.
func (s *liveNames) open(ver uint32) (done func(), err error) {
	slots, unmap, err := s.t.slotsView()
	if err != nil {
		return nil, err
	}
	s.slots, s.ver, s.marks = slots, ver, map[bpf.XdpNameKey]uint32{}
	s.t.open = slots
	return func() {
		s.slots, s.marks, s.t.open = nil, nil, nil
		_ = unmap()
	}, nil
}

func (s *liveNames) get(k bpf.XdpNameKey) (liveEntry[bpf.XdpNameVer], bool) {
	at, _ := s.t.find(s.slots, k)
	if at == 0 {
		return liveEntry[bpf.XdpNameVer]{}, false
	}
	v := s.slots[at].Val.V[s.ver&1]
	if v.Flags&abi.NameFlagAbsent != 0 {
		return liveEntry[bpf.XdpNameVer]{}, false
	}
	return liveEntry[bpf.XdpNameVer]{v: v, mark: s.marks[k]}, true
}

// put records e's mark: the version is the table's (the update writes
// it there).
func (s *liveNames) put(k bpf.XdpNameKey, e liveEntry[bpf.XdpNameVer]) { s.marks[k] = e.mark }

func (s *liveNames) drop(k bpf.XdpNameKey) { delete(s.marks, k) }

func (s *liveNames) size() int { return s.n }

func (s *liveNames) each(f func(bpf.XdpNameKey, liveEntry[bpf.XdpNameVer])) {
	for i := 1; i < len(s.slots); i++ {
		sl := &s.slots[i]
		if v := sl.Val.V[s.ver&1]; sl.Key != (bpf.XdpNameKey{}) && v.Flags&abi.NameFlagAbsent == 0 {
			f(sl.Key, liveEntry[bpf.XdpNameVer]{v: v, mark: s.marks[sl.Key]})
		}
	}
}
