//go:build linux

package loader

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"unsafe"

	"github.com/cilium/ebpf"

	"github.com/xdpdns/xdpdns/bpf"
	"github.com/xdpdns/xdpdns/bpf/abi"
)

// table is one of a generation's hash tables, names or answers: the
// open-addressing hash table of bpf/include/shared.h
// (XDPDNS_TABLE_PROBES) in an mmapable array map of slots S, slot 0 its
// header, slots 1 .. n the table; each slot holds a key and a
// value W of two versions of V. A new table is built with Robin Hood
// insertion (every key close to its home); an update adds a key to the
// first free slot of its probe window and never moves a key, so that a
// packet probing concurrently always finds what is there.
type table[S any, W any, V comparable] struct {
	kind *tableKind[S, W, V]
	m    *ebpf.Map
	n    uint32 // slots, the header not counted
	seed uint64
	// open is the table's mapped windows for the update in progress
	// (liveTable), which slotsView hands out instead of mapping them
	// again: a mapping of a BPF map counts its every page in the
	// process's RSS.
	open *slotPages[S]
}

// tableKind is what the table code needs of one kind of slot S: its
// entry's kind (the absent version, the slot's value W for versions),
// its key and value, a value's version i, how a value is written over a
// live one, and whether a version is absent (a value absent in every
// version is a removed entry).
type tableKind[S any, W any, V comparable] struct {
	what   string // the map's name, for errors
	entry  *entryKind[V, W]
	key    func(*S) *bpf.XdpNameKey
	val    func(*S) *W
	ver    func(*W, int) V
	store  func(dst *W, w W)
	isGone func(V) bool
	// mapped: a live table's slots are written through a mapping of
	// the map, never with system calls (store's order and atomicity
	// are the program's to see: a system call copies a value bytewise).
	mapped bool
}

// both is the value holding v in both versions.
func (k *tableKind[S, W, V]) both(v V) W { return k.entry.pair(v, v) }

// The two tables' kinds.
var (
	// A names slot holds one version (the live one, packed) between
	// updates: every version is it. An update points the entries it
	// changes to names_side (writeSide) until it settles them.
	nameSlots = &tableKind[bpf.XdpNameSlot, bpf.XdpNameEnt, bpf.XdpNameVer]{
		what:   "names",
		entry:  nameKind,
		key:    func(s *bpf.XdpNameSlot) *bpf.XdpNameKey { return &s.Key },
		val:    func(s *bpf.XdpNameSlot) *bpf.XdpNameEnt { return &s.Ent },
		ver:    func(w *bpf.XdpNameEnt, _ int) bpf.XdpNameVer { return unpackName(*w) },
		store:  storeName,
		isGone: func(v bpf.XdpNameVer) bool { return v.Flags&abi.NameFlagAbsent != 0 },
		mapped: true,
	}
	answerSlots = &tableKind[bpf.XdpAnswerSlot, bpf.XdpAnswerVal, bpf.XdpAnswerVer]{
		what:   "answers",
		entry:  answerKind,
		key:    func(s *bpf.XdpAnswerSlot) *bpf.XdpNameKey { return &s.Key },
		val:    func(s *bpf.XdpAnswerSlot) *bpf.XdpAnswerVal { return &s.Val },
		ver:    func(w *bpf.XdpAnswerVal, i int) bpf.XdpAnswerVer { return w.V[i] },
		store:  func(dst *bpf.XdpAnswerVal, w bpf.XdpAnswerVal) { *dst = w }, // the live version's bytes unchanged
		isGone: func(v bpf.XdpAnswerVer) bool { return v.Tmpl[0] == abi.Absent },
	}
)

// nameTable and answerTable are a generation's names and answers;
// liveNames and liveAnswers the loader's record of their live entries.
type (
	nameTable   = table[bpf.XdpNameSlot, bpf.XdpNameEnt, bpf.XdpNameVer]
	answerTable = table[bpf.XdpAnswerSlot, bpf.XdpAnswerVal, bpf.XdpAnswerVer]
	liveNames   = liveTable[bpf.XdpNameSlot, bpf.XdpNameEnt, bpf.XdpNameVer]
	liveAnswers = liveTable[bpf.XdpAnswerSlot, bpf.XdpAnswerVal, bpf.XdpAnswerVer]
)

// errTableFull says a key found no slot within abi.TableProbes of its
// home.
var errTableFull = errors.New("no free slot within the probe window")

// tableSlots is the size of a table holding n keys: at most three
// quarters full, a multiple of tableSlotsRound (and so at least
// abi.TableProbes: a probe window wraps once at most).
func tableSlots(n int) int {
	s := (n*4 + 2) / 3
	return max(tableSlotsRound, (s+tableSlotsRound-1)/tableSlotsRound*tableSlotsRound)
}

// tableSlotsRound is what a table's size is a multiple of.
const tableSlotsRound = 64

// capacity is how many keys the table holds before an update is
// refused (the plan's room check): seven eighths of its slots.
func (t *table[S, W, V]) capacity() int { return int(t.n) - int(t.n)/8 }

// home is the home slot of k (0 .. n-1, before the header), as
// table_probe computes it.
func (t *table[S, W, V]) home(k bpf.XdpNameKey) uint32 { return tableHome(t.seed, t.n, k) }

// tableHome is the home slot of k in a table of n slots and seed seed.
func tableHome(seed uint64, n uint32, k bpf.XdpNameKey) uint32 {
	f := (k.H1 ^ seed) * abi.TableHomeMult >> 32
	return uint32(f * uint64(n) >> 32)
}

// slot is the index in the map of the slot p places after home
// (wrapping from the last to the first; the header is index 0).
func (t *table[S, W, V]) slot(home, p uint32) uint32 {
	i := home + p
	if i >= t.n {
		i -= t.n
	}
	return 1 + i
}

// dist is how far slot pos is after slot home (wrapping).
func (t *table[S, W, V]) dist(pos, home uint32) uint32 {
	if pos >= home {
		return pos - home
	}
	return pos + t.n - home
}

// bpfMap is the table's map (nil for no table).
func (t *table[S, W, V]) bpfMap() *ebpf.Map {
	if t == nil {
		return nil
	}
	return t.m
}

// accessFor is how an update touching keys of the table's keys (-1: a
// whole image, diffed against every live entry) reaches its slots: slot
// by slot for few keys (each key ~2 reads of sparseRun slots, ~5-7 µs
// each), else window by window (a window of slotWindow bytes, ~25 µs to
// map and unmap, serves the keys that fall in it): past about two keys a
// window, the windows cost less.
func (t *table[S, W, V]) accessFor(keys int) slotAccess {
	if forcedAccess != nil {
		return *forcedAccess
	}
	var zero S
	windows := uint64(t.n) * uint64(unsafe.Sizeof(zero)) / uint64(slotWindow)
	if keys < 0 || uint64(keys) > 2*windows {
		return slotsWindows
	}
	return slotsSparse
}

// forcedAccess, when set, is the access of every update (for the tests:
// both ways on small tables).
var forcedAccess *slotAccess

// slotsView gives access to the table's slots (or hands out the
// update's, open) as access says; done unmaps them.
func (t *table[S, W, V]) slotsView(access slotAccess) (slots *slotPages[S], done func() error, err error) {
	if t.open != nil {
		return t.open, func() error { return nil }, nil
	}
	if access == slotsSparse && t.kind.mapped {
		access = slotsWindows // never a system call's copy (tableKind.mapped)
	}
	p, err := newSlotPages[S](t.m, access)
	if err != nil {
		return nil, nil, err
	}
	return p, p.close, nil
}

// tableTries bounds the tables newTable builds for one image before it
// gives up: each with a new seed, every other one twice as large.
const tableTries = 4

// newTable creates a table of kind for keys and vals (reordered by
// build) with room for at
// least room keys, and builds it with a seed drawn by seed (nil: at
// random). A table whose probe windows overflow is made again with
// another seed, then also twice as large (a window holds
// abi.TableProbes = 128 slots; at three quarters full the longest reach
// of a million random keys built with Robin Hood is about 11). The
// window is that wide for updates, which put a new key in the first free
// slot after its home and never move one: at two thirds full, the free
// slot is 32 or more slots away for 1% of new keys, 64 or more for
// 0.06%, 128 or more for 0.0005% (a simulation of 1.2M keys), and a key
// with none is ErrNoUpdate, a whole Swap.
func newTable[S any, W any, V comparable](kind *tableKind[S, W, V], spec *ebpf.MapSpec, keys []bpf.XdpNameKey, vals []V,
	room int, seed func() uint64) (*table[S, W, V], error) {
	if seed == nil {
		seed = rand.Uint64
	}
	slots := tableSlots(max(room, len(keys)))
	var err error
	for try := range tableTries {
		if try > 0 && try%2 == 0 {
			slots <<= 1
		}
		s := *spec
		s.MaxEntries = uint32(1 + slots)
		m, merr := ebpf.NewMap(&s)
		if merr != nil {
			return nil, fmt.Errorf("loader: creating the %s table (%d slots): %w", kind.what, slots, merr)
		}
		t := &table[S, W, V]{kind: kind, m: m, n: uint32(slots), seed: seed()}
		if err = t.build(keys, vals); err == nil {
			return t, nil
		}
		m.Close()
		if !errors.Is(err, errTableFull) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("loader: building the %s table of %d keys: %w", kind.what, len(keys), err)
}

// newTableCap is newTable and the new table's capacity (0 on error).
func newTableCap[S any, W any, V comparable](kind *tableKind[S, W, V], spec *ebpf.MapSpec, keys []bpf.XdpNameKey, vals []V,
	room int, seed func() uint64) (*table[S, W, V], int, error) {
	t, err := newTable(kind, spec, keys, vals, room, seed)
	if err != nil {
		return nil, 0, err
	}
	return t, t.capacity(), nil
}

// build writes the header and keys → vals (in both versions) into the
// empty table, by Robin Hood insertion: a key that has come further from
// its home than the one in a slot takes the slot and that one moves on.
// It reorders keys and vals (together) by their homes first
// (orderByHome).
func (t *table[S, W, V]) build(keys []bpf.XdpNameKey, vals []V) error {
	if len(keys) != len(vals) {
		return fmt.Errorf("%w: %d %s keys, %d values", ErrImage, len(keys), t.kind.what, len(vals))
	}
	pages, done, err := t.slotsView(slotsWhole)
	if err != nil {
		return err
	}
	defer done()
	t.orderByHome(keys, vals)
	slots := pages.all
	k := t.kind.key
	*k(&slots[0]) = bpf.XdpNameKey{H1: uint64(t.n), H2: t.seed}
	for i, key := range keys {
		if key == (bpf.XdpNameKey{}) {
			return fmt.Errorf("%w: %s entry %d has the empty slot's key", ErrImage, t.kind.what, i)
		}
		var cur S
		*k(&cur) = key
		*t.kind.val(&cur) = t.kind.both(vals[i])
		pos := t.home(key)
		for d := uint32(0); ; d++ {
			if d >= abi.TableProbes {
				return errTableFull
			}
			s := &slots[1+pos]
			sk := *k(s)
			if sk == (bpf.XdpNameKey{}) {
				*s = cur
				break
			}
			if sk == *k(&cur) {
				return fmt.Errorf("%w: %s key %x listed twice", ErrImage, t.kind.what, sk)
			}
			if sd := t.dist(pos, t.home(sk)); sd < d {
				*s, cur = cur, *s
				d = sd
			}
			pos = t.slot(pos, 1) - 1
		}
	}
	return nil
}

// homeBuckets is how many parts of a table orderByHome sorts keys into:
// a part of a TLD's names table (~100 KB) stays in the CPU's caches
// while its keys go in.
const homeBuckets = 1024

// orderByHome reorders keys and vals (together, in place: a TLD's are
// tens of MB, which a copy would add to a reload's peak) so that keys
// whose homes are in the first 1/homeBuckets of the table come first,
// then the second, and so on (an in-place bucket sort). Inserted in that
// order, each key's probes stay in a small part of the table, where in
// the image's order (by hash) every insertion misses the caches and the
// TLB: BenchmarkBuildNames (1.2M names, map made and freed) 470 → 375 ms.
func (t *table[S, W, V]) orderByHome(keys []bpf.XdpNameKey, vals []V) {
	bucket := func(k bpf.XdpNameKey) int { return int(uint64(t.home(k)) * homeBuckets / uint64(t.n)) }
	// start[b] .. start[b+1] is where bucket b's keys go; next[b] is its
	// first place not yet holding one of them.
	start := make([]int, homeBuckets+1)
	for _, k := range keys {
		start[bucket(k)+1]++
	}
	for b := range homeBuckets {
		start[b+1] += start[b]
	}
	next := slices.Clone(start[:homeBuckets])
	for b := range homeBuckets {
		// Each pass either finds the key at next[b] in place or swaps
		// it to its own bucket's next place, for good: at most
		// len(keys) passes in all.
		for next[b] < start[b+1] {
			i := next[b]
			kb := bucket(keys[i])
			if kb == b {
				next[b]++
				continue
			}
			j := next[kb]
			next[kb]++
			keys[i], keys[j] = keys[j], keys[i]
			vals[i], vals[j] = vals[j], vals[i]
		}
	}
}

// removed reports whether a value is a removed entry's (every version
// absent), whose slot an update may reuse.
func (t *table[S, W, V]) removed(w *W) bool {
	for i := range abi.Gens {
		if !t.kind.isGone(t.kind.ver(w, i)) {
			return false
		}
	}
	return true
}

// find returns the slot of k in slots (0: not there) and the first slot
// of its probe window free for it (0: none).
func (t *table[S, W, V]) find(slots *slotPages[S], k bpf.XdpNameKey) (at, free uint32, err error) {
	home := t.home(k)
	for p := uint32(0); p < abi.TableProbes; p++ {
		i := t.slot(home, p)
		s, err := slots.at(i)
		if err != nil {
			return 0, 0, err
		}
		switch sk := *t.kind.key(s); {
		case sk == k:
			return i, free, nil
		case sk == (bpf.XdpNameKey{}):
			if free == 0 {
				free = i
			}
			return 0, free, nil
		case free == 0 && t.removed(t.kind.val(s)):
			free = i
		}
	}
	return 0, free, nil
}

// put sets keys[i] → vals[i]: in place for a key in the table (the
// caller changes only the version no packet reads), else in a free slot,
// the value written before the key.
func (t *table[S, W, V]) put(keys []bpf.XdpNameKey, vals []W) error {
	return t.putEach(keys, vals, t.kind.store)
}

// putEach is put with existing writing a key's value over its live one.
func (t *table[S, W, V]) putEach(keys []bpf.XdpNameKey, vals []W, existing func(dst *W, w W)) error {
	if len(keys) == 0 {
		return nil
	}
	slots, done, err := t.slotsView(slotsSparse)
	if err != nil {
		return err
	}
	defer done()
	for i, k := range keys {
		if k == (bpf.XdpNameKey{}) {
			return fmt.Errorf("%w: a %s key is the empty slot's", ErrImage, t.kind.what)
		}
		at, free, err := t.find(slots, k)
		if err != nil {
			return err
		}
		if at != 0 {
			s, _ := slots.at(at) // read by find
			existing(t.kind.val(s), vals[i])
			if err := slots.write(at); err != nil {
				return err
			}
			continue
		}
		if free == 0 {
			return fmt.Errorf("%s key %x: %w", t.kind.what, k, errTableFull)
		}
		s, _ := slots.at(free)
		// A removed entry's slot reused: a packet may still look up
		// the old key here until the key changes, and must find it
		// absent in its version (an added entry's live version is
		// absent).
		t.kind.store(t.kind.val(s), vals[i])
		if err := slots.write(free); err != nil {
			return err
		}
		sk := t.kind.key(s)
		atomic.StoreUint64(&sk.H2, k.H2)
		atomic.StoreUint64(&sk.H1, k.H1)
		if err := slots.write(free); err != nil {
			return err
		}
	}
	return slots.flush()
}

// remove makes k a removed entry (its slot stays, so that the probe
// windows through it stay whole).
func (t *table[S, W, V]) remove(k bpf.XdpNameKey) error {
	slots, done, err := t.slotsView(slotsSparse)
	if err != nil {
		return err
	}
	defer done()
	at, _, err := t.find(slots, k)
	if err != nil || at == 0 {
		return err
	}
	s, _ := slots.at(at)
	t.kind.store(t.kind.val(s), t.kind.both(t.kind.entry.absent))
	if err := slots.write(at); err != nil {
		return err
	}
	return slots.flush()
}

// lookup reads the value of k (false: not in the table).
func (t *table[S, W, V]) lookup(k bpf.XdpNameKey) (W, bool, error) {
	var zero W
	home := t.home(k)
	for p := uint32(0); p < abi.TableProbes; p++ {
		var s S
		if err := t.m.Lookup(t.slot(home, p), &s); err != nil {
			return zero, false, fmt.Errorf("loader: reading the %s table: %w", t.kind.what, err)
		}
		switch *t.kind.key(&s) {
		case k:
			return *t.kind.val(&s), true, nil
		case bpf.XdpNameKey{}:
			return zero, false, nil
		}
	}
	return zero, false, nil
}

// each calls f with every key in the table that is not a removed one.
func (t *table[S, W, V]) each(f func(bpf.XdpNameKey, W) error) error {
	slots, done, err := t.slotsView(slotsWindows)
	if err != nil {
		return err
	}
	defer done()
	return slots.scan(1, func(_ uint32, s *S) error {
		if k := *t.kind.key(s); k != (bpf.XdpNameKey{}) && !t.removed(t.kind.val(s)) {
			return f(k, *t.kind.val(s))
		}
		return nil
	})
}

// liveTable is the liveSet of a table's entries: the live versions are
// read from the live generation's table itself (the slots an update
// reads, one by one, kept from open to done), so the loader keeps no
// copy of a TLD's names and answers; only the marks of the keys the
// update has seen, and their count.
type liveTable[S any, W any, V comparable] struct {
	t     *table[S, W, V]
	n     int                       // live entries
	slots *slotPages[S]             // the table, while an update runs
	ver   uint32                    // the version live when it began
	marks map[bpf.XdpNameKey]uint32 // the update's marks
	err   error                     // the first slot get or each could not read
}

// open maps the table for an update beginning while version ver is live.
func (s *liveTable[S, W, V]) open(ver uint32, keys int) (done func(), err error) {
	slots, unmap, err := s.t.slotsView(s.t.accessFor(keys))
	if err != nil {
		return nil, err
	}
	s.slots, s.ver, s.marks, s.err = slots, ver, map[bpf.XdpNameKey]uint32{}, nil
	s.t.open = slots
	return func() {
		s.slots, s.marks, s.t.open = nil, nil, nil
		_ = unmap()
	}, nil
}

// get reads k's live version. A slot that cannot be read (the
// kernel out of memory) reads as missing and is noted in s.err, which
// fails the update before it writes (failed).
func (s *liveTable[S, W, V]) get(k bpf.XdpNameKey) (liveEntry[V], bool) {
	at, _, err := s.t.find(s.slots, k)
	if err != nil {
		s.err = cmp.Or(s.err, err)
		return liveEntry[V]{}, false
	}
	if at == 0 {
		return liveEntry[V]{}, false
	}
	sl, _ := s.slots.at(at)
	v := s.t.kind.ver(s.t.kind.val(sl), int(s.ver&1))
	if s.t.kind.isGone(v) {
		return liveEntry[V]{}, false
	}
	return liveEntry[V]{v: v, mark: s.marks[k]}, true
}

// prefetch reads the slots from the homes of keys on, the first probes
// of the update's gets and puts, at once.
func (s *liveTable[S, W, V]) prefetch(keys ...[]bpf.XdpNameKey) error {
	var firsts []uint32
	for _, ks := range keys {
		for _, k := range ks {
			firsts = append(firsts, s.t.slot(s.t.home(k), 0))
		}
	}
	return s.slots.prefetch(firsts)
}

// put records e's mark: the version is the table's (the update writes
// it there).
func (s *liveTable[S, W, V]) put(k bpf.XdpNameKey, e liveEntry[V]) { s.marks[k] = e.mark }

func (s *liveTable[S, W, V]) drop(k bpf.XdpNameKey) { delete(s.marks, k) }

func (s *liveTable[S, W, V]) size() int { return s.n }

// each calls f with every live entry. A window that cannot be mapped
// ends the walk, noted in s.err (as get).
func (s *liveTable[S, W, V]) each(f func(bpf.XdpNameKey, liveEntry[V])) {
	kind := s.t.kind
	s.err = cmp.Or(s.err, s.slots.scan(1, func(_ uint32, sl *S) error {
		k := *kind.key(sl)
		if v := kind.ver(kind.val(sl), int(s.ver&1)); k != (bpf.XdpNameKey{}) && !kind.isGone(v) {
			f(k, liveEntry[V]{v: v, mark: s.marks[k]})
		}
		return nil
	}))
}

// failed is the first error get or each met since open.
func (s *liveTable[S, W, V]) failed() error { return s.err }
