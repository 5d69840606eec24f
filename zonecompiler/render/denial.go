package render

import (
	"cmp"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"math/bits"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// DenialZone is one signed zone's NSEC or NSEC3 chain as the XDP program
// searches it (struct denial_zone, bpf/include/shared.h): the intervals
// sorted by key, each with the piece the engine writes at a template's
// denial slot when that interval covers the query name.
type DenialZone struct {
	Kind uint8 // abi.DenialNSEC or abi.DenialNSEC3
	Salt []byte
	// Base is the index of the view's first slot among every zone's
	// entries (the program's denial_entries), so template fields and
	// Index hold absolute indexes.
	Base uint32
	// Entries are the view's slots in order; a Patch view's are only
	// those it does not keep from the live view, each at its Slot, and a
	// Ref view has none.
	Entries []DenialEntry
	// Index[b] is the absolute index of the first entry whose key's top
	// IndexBits bits are at least b (2^IndexBits + 1 words).
	IndexBits uint8
	Index     []uint32

	// byOwner: an NSEC view's owners (lower case) of entries' RRsets ->
	// absolute index (an NSEC3 view finds an owner by its hash: ownerSlot).
	byOwner map[string]uint32
	// Ref: the view is the live one of its name (an unchanged chain in a
	// change's Delta); the loader finds it by its name.
	Ref bool
	// Patch: the view is the live one of its name changed (a changed
	// chain in a change's Delta): Runs of its slots hold what slots of
	// the live view hold (keys and pieces), the loader copies them; the
	// others are Entries, only their pieces rendered.
	Patch bool
	// Slots is how many slots a Ref or Patch view has.
	Slots uint32
	Runs  []PatchRun
	// keys are the keys of every slot of a Ref or Patch view, where
	// Recompile made it (the layout its Incremental keeps, shared: not to
	// be modified); not encoded.
	keys *chainLayout
	// changedSlots: of a Patch view, the regions of slots the change
	// moved or changed (relayout).
	changedSlots []slotRegion
	probe        []byte // the name the pieces were rendered for
	// zone: of an NSEC view that is a reference or a patch, its zone
	// (ownerSlot finds owners by its chain).
	zone *zone.Zone
	// holes: an NSEC view laid out with holes (NSECPatchMin), which the
	// Incremental keeps the layout of (NSEC3 views all have them).
	holes bool
}

// PatchRun is a run of N slots of a Patch view, from To on, that hold
// what the live view's slots from From on hold.
type PatchRun struct{ To, From, N uint32 }

// DenialEntry is one interval: its search key and covering RRset.
type DenialEntry struct {
	Key   [4]uint64
	Piece Piece
	Slot  uint32 // in a Patch view: its place among the view's slots
}

// Count is how many slots dz has.
func (dz *DenialZone) Count() int {
	if dz.Ref || dz.Patch {
		return int(dz.Slots)
	}
	return len(dz.Entries)
}

// KeyAt is the key of slot i of dz (of a Ref or Patch view, only where
// Recompile made it).
func (dz *DenialZone) KeyAt(i int) [4]uint64 {
	if dz.keys != nil {
		return dz.keys.At(i)
	}
	return dz.Entries[i].Key
}

// Piece is a covering RRset as engine.DenialPiece renders it.
type Piece struct {
	Body    []byte
	Relocs  []uint16 // abi.RelocInternal: into the piece (add the slot offset)
	Records uint16
}

// NSEC3LabelLen is the length of an NSEC3 hash label (base32hex SHA-1).
const NSEC3LabelLen = abi.NSEC3Label

var b32hex = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// NSEC3Key is the search key of an NSEC3 hash (20 bytes).
func NSEC3Key(h []byte) [4]uint64 {
	return [4]uint64{binary.BigEndian.Uint64(h), binary.BigEndian.Uint64(h[8:]), uint64(binary.BigEndian.Uint32(h[16:])) << 32, 0}
}

// NSECKey is the search key of a lower-case label: its first
// abi.DenialLabel bytes zero-padded, then its length (0xff if longer).
func NSECKey(label []byte) [4]uint64 {
	var b [32]byte
	copy(b[:abi.DenialLabel], label)
	b[abi.DenialLabel] = byte(len(label))
	if len(label) > abi.DenialLabel {
		b[abi.DenialLabel] = 0xff
	}
	return [4]uint64{binary.BigEndian.Uint64(b[:]), binary.BigEndian.Uint64(b[8:]), binary.BigEndian.Uint64(b[16:]), binary.BigEndian.Uint64(b[24:])}
}

// QueryKey is the key the program searches for the next closer name nc
// (lower case) of a query in zone dz; false when it cannot make one. A
// next closer label as long as an NSEC3 hash label (32 bytes) may be an
// NSEC3 owner name, which the engine compresses against the question:
// such queries are left to userspace.
func (dz *DenialZone) QueryKey(nc []byte) ([4]uint64, bool) {
	if dz.Kind == abi.DenialNSEC3 {
		if nc[0] == NSEC3LabelLen {
			return [4]uint64{}, false
		}
		in := append(append(make([]byte, 0, len(nc)+len(dz.Salt)), nc...), dz.Salt...)
		sum := sha1.Sum(in)
		return NSEC3Key(sum[:]), true
	}
	l := int(nc[0])
	if l > abi.DenialLabel {
		return [4]uint64{}, false
	}
	return NSECKey(nc[1 : 1+l]), true
}

// selfCover is NameEntry.Cover of the name lower (lower case) in the
// image's denial zone i: 1 + the index among its entries of the one
// covering the name, found as the program finds it from the name
// (QueryKey, DenialCover), or 0 when the program could not (it then
// passes the query, as it does without the entry's help).
func (img *Image) selfCover(i uint16, lower []byte) uint32 {
	dz, ok := img.DenialZone(i)
	if !ok {
		return 0
	}
	if dz.Kind != abi.DenialNSEC3 {
		// An NSEC view: the place of the name's own NSEC in a view with
		// holes (a change moves few of its entries: Delta.Covers); in
		// one without, the program searches the name's label.
		if !dz.holes {
			return 0
		}
		j, ok := dz.ownerSlot(lower)
		if !ok {
			return 0
		}
		return j - dz.Base + 1
	}
	k, ok := dz.QueryKey(lower)
	if !ok {
		return 0
	}
	idx, ok := img.coverIndex(dz, k)
	if !ok {
		return 0
	}
	return idx - dz.Base + 1
}

// cmpKey orders two search keys.
func cmpKey(a, b [4]uint64) int {
	for i := range a {
		if a[i] != b[i] {
			return cmp.Compare(a[i], b[i])
		}
	}
	return 0
}

func keyLess(a, b [4]uint64) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// Cover finds the entry covering key as the program does: the index
// bucket of its top bits, a bounded binary search for the last entry
// below it, wrapping to the zone's last. index and keyAt read absolute
// indexes; false means the maps are inconsistent.
func Cover(dz *DenialZone, count uint32, index func(uint32) (uint32, bool), keyAt func(uint32) ([4]uint64, bool), key [4]uint64) (uint32, bool) {
	if dz.IndexBits > abi.DenialIndexBits || count == 0 {
		return 0, false
	}
	b := uint32(0)
	if dz.IndexBits > 0 {
		b = uint32(key[0] >> (64 - dz.IndexBits))
	}
	lo, ok1 := index(b)
	hi, ok2 := index(b + 1)
	if !ok1 || !ok2 {
		return 0, false
	}
	for step := 0; step < abi.DenialSearchSteps && lo < hi; step++ {
		mid := lo + (hi-lo)/2
		k, ok := keyAt(mid)
		if !ok {
			return 0, false
		}
		if keyLess(k, key) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < hi || lo < dz.Base || lo > dz.Base+count {
		return 0, false
	}
	if lo == dz.Base {
		return dz.Base + count - 1, true
	}
	return lo - 1, true
}

// buildIndex fills in IndexBits and Index for entries starting at base.
func (dz *DenialZone) buildIndex() {
	n := dz.Count()
	if n >= 64 {
		dz.IndexBits = uint8(min(abi.DenialIndexBits, bits.Len(uint(n))-3))
	}
	nb := 1 << dz.IndexBits
	dz.Index = make([]uint32, nb+1)
	j := 0
	for b := 0; b <= nb; b++ {
		for j < n && (dz.IndexBits == 0 || int(dz.KeyAt(j)[0]>>(64-dz.IndexBits)) < b) {
			j++
		}
		if b == 0 {
			dz.Index[b] = dz.Base
			continue
		}
		dz.Index[b] = dz.Base + uint32(j)
	}
	dz.Index[nb] = dz.Base + uint32(n)
}

// Name is the name whose chain dz is: its zone's apex (NSEC3), or the
// closest encloser its entries are below (NSEC), lower-case wire form.
func (dz *DenialZone) Name() []byte {
	if len(dz.probe) == 0 {
		return nil
	}
	return dz.probe[1+int(dz.probe[0]):]
}

// denialProbe is a name below the name lower (an apex, or a closest
// encloser), for rendering the pieces of a chain after the head its
// answers have there.
func denialProbe(lower []byte) []byte {
	return append([]byte("\x0fxdpdns-probe-aa"), lower...)
}

// nsec3View is the header of the XDP program's view of signed zone z's
// NSEC3 chain, or nil when the program cannot search it (another hash
// than SHA-1, extra iterations, a long salt).
func nsec3View(z *zone.Zone) *DenialZone {
	if !z.Signed || !z.HasRRSIGs() || z.Expired || z.NSEC3 == nil {
		return nil
	}
	dz := &DenialZone{probe: denialProbe(z.Origin.Lower)}
	if len(dz.probe) > wire.MaxNameLen || z.Node(dz.probe) != nil {
		return nil
	}
	if z.NSEC3.Hash != dns.SHA1 || z.NSEC3.Iterations != 0 || len(z.NSEC3Salt()) > abi.MaxSalt {
		return nil
	}
	dz.Kind, dz.Salt = abi.DenialNSEC3, z.NSEC3Salt()
	return dz
}

// buildDenial makes the XDP program's view of a signed zone's NSEC3 chain
// laid out anew, or nil when the program cannot search it (nsec3View, or
// pieces it cannot relocate).
func (c *compiler) buildDenial(z *zone.Zone) *DenialZone {
	dz := nsec3View(z)
	if dz == nil {
		return nil
	}
	var sets []*zone.RRset
	for _, n := range z.NSEC3Chain() {
		k, ok := hashKey(n.ChainLabel())
		if !ok {
			return nil
		}
		dz.Entries = append(dz.Entries, DenialEntry{Key: k})
		sets = append(sets, n.Set(dns.TypeNSEC3))
	}
	if dz = c.finishDenial(dz, sets, nil); dz == nil || !dz.layOut(freshLayout(len(dz.Entries))) {
		return nil
	}
	return dz
}

// patchView makes the view of zone b's NSEC3 chain changed from the live
// view laid out as old by the records whose keys are in chain (added,
// removed or changed), as a patch of the live one (DenialZone.Patch):
// laid out as old but for those records (relayout), its slots that
// hold what slots of old hold in runs, only the pieces of the records
// that change rendered. nil when the view cannot follow.
func (c *compiler) patchView(b *zone.Zone, old *chainLayout, chain map[[4]uint64]bool) *DenialZone {
	dz := nsec3View(b)
	if dz == nil || old.Len() == 0 {
		return nil
	}
	// The records of chain, in key order, and b's nodes of those it has.
	ch := make([]layoutChange, 0, len(chain))
	nodes := make(map[[4]uint64]*zone.Node, len(chain))
	for k := range chain {
		n := b.NSEC3Match(keyLabel(k))
		ch = append(ch, layoutChange{k: k, present: n != nil})
		if n != nil {
			nodes[k] = n
		}
	}
	slices.SortFunc(ch, func(x, y layoutChange) int { return cmpKey(x.k, y.k) })
	return c.patchOf(dz, old, ch, func(k [4]uint64) *zone.RRset {
		if nd := nodes[k]; nd != nil {
			return nd.Set(dns.TypeNSEC3)
		}
		return nil
	})
}

// patchOf makes dz, a view's header, the patch of the live view laid out
// as old by the changes ch (sorted by key): laid out by relayout, with an
// entry for each slot that takes nothing of old's, the pieces of the
// records among them rendered (setOf: the RRset of a key ch has
// present). nil when the view cannot follow (a record the change did not
// name, a piece the program cannot place).
func (c *compiler) patchOf(dz *DenialZone, old *chainLayout, ch []layoutChange, setOf func([4]uint64) *zone.RRset) *DenialZone {
	is, runs, slots, regions := relayout(old, ch)
	n := is.Len()
	if n == 0 || n > maxLayout {
		return nil
	}
	var sets []*zone.RRset
	var fresh []int
	for _, sl := range slots {
		k := is.At(int(sl))
		dz.Entries = append(dz.Entries, DenialEntry{Key: k, Slot: sl})
		if int(sl)+1 == n || is.At(int(sl)+1) != k {
			s := setOf(k)
			if s == nil {
				return nil // a record the change did not name
			}
			fresh = append(fresh, len(dz.Entries)-1)
			sets = append(sets, s)
		}
	}
	if len(sets) > 0 {
		part := c.finishDenial(&DenialZone{Entries: make([]DenialEntry, len(sets)), probe: dz.probe}, sets, nil)
		if part == nil {
			return nil // a piece the program cannot place
		}
		for p, e := range fresh {
			dz.Entries[e].Piece = part.Entries[p].Piece
		}
	}
	dz.Patch, dz.Slots, dz.Runs, dz.keys, dz.changedSlots = true, uint32(n), runs, is, regions
	return dz
}

// buildNSECDenial makes the program's view of the NSEC covers of the names
// below ce, a name of NSEC-signed zone z: one entry for the names sorting
// before every child of ce (the NSEC of ce, or of its predecessor when ce
// owns none), then one per child label, whose cover is the last NSEC owner
// at or below that child. The cover of a missing name below ce depends on
// its next closer label only, so the program searches ce's entries by it.
func (c *compiler) buildNSECDenial(z *zone.Zone, ce *zone.Node) *DenialZone {
	chain := z.NSECChain()
	if len(chain) == 0 {
		return nil
	}
	dz := &DenialZone{Kind: abi.DenialNSEC, byOwner: map[string]uint32{}, probe: denialProbe(ce.Name.Lower())}
	if len(dz.probe) > wire.MaxNameLen || z.Node(dz.probe) != nil {
		return nil
	}
	i := sort.Search(len(chain), func(i int) bool { return wire.Compare(chain[i].Name.Lower(), ce.Name.Lower()) >= 0 })
	base := chain[(i+len(chain)-1)%len(chain)]
	if i < len(chain) && chain[i] == ce {
		base, i = ce, i+1
	}
	sets := []*zone.RRset{base.Set(dns.TypeNSEC)}
	owners := [][]byte{base.Name.Lower()}
	dz.Entries = append(dz.Entries, DenialEntry{})
	depth := wire.Labels(ce.Name.Lower()) + 1
	var last []byte
	for ; i < len(chain) && wire.IsSubdomain(chain[i].Name.Lower(), ce.Name.Lower()) && chain[i] != ce; i++ {
		n := chain[i]
		child := wire.Suffix(n.Name.Lower(), depth)
		label := child[1 : 1+int(child[0])]
		if len(dz.Entries) > 1 && string(label) == string(last) {
			dz.Entries = dz.Entries[:len(dz.Entries)-1]
			sets, owners = sets[:len(sets)-1], owners[:len(owners)-1]
		}
		last = label
		dz.Entries = append(dz.Entries, DenialEntry{Key: NSECKey(label)})
		sets = append(sets, n.Set(dns.TypeNSEC))
		owners = append(owners, n.Name.Lower())
	}
	if dz = c.finishDenial(dz, sets, owners); dz == nil || len(dz.Entries) < NSECPatchMin {
		return dz
	}
	// Large: laid out with holes, so that a change patches it.
	at := freshLayout(len(dz.Entries))
	if !dz.layOut(at) {
		return nil
	}
	for o, i := range dz.byOwner {
		dz.byOwner[o] = at[i]
	}
	dz.holes, dz.zone = true, z
	return dz
}

// finishDenial renders the pieces of a chain's entries (sets, whose owners
// are owners) and records which entry holds which owner's RRset.
func (c *compiler) finishDenial(dz *DenialZone, sets []*zone.RRset, owners [][]byte) *DenialZone {
	if len(dz.Entries) == 0 {
		return nil
	}
	pieces := c.denialPieces(dz.probe, sets)
	if pieces == nil {
		return nil
	}
	for i, p := range pieces {
		if len(p.Relocs) > abi.MaxPieceRelocs || len(p.Body) > abi.MaxBody {
			return nil
		}
		dz.Entries[i].Piece = Piece{Body: p.Body, Relocs: p.Relocs, Records: p.Records}
	}
	if dz.byOwner != nil {
		for i, o := range owners {
			dz.byOwner[string(o)] = uint32(i) // made absolute by place
		}
	}
	return dz
}

// ownerSlot is the absolute index of the entry whose RRset is owner's:
// an NSEC3 view's by the owner's hash label, an NSEC view's by name.
func (dz *DenialZone) ownerSlot(owner []byte) (uint32, bool) {
	if dz.Kind != abi.DenialNSEC3 {
		switch {
		case dz.keys != nil: // a patch, or a reference to a view with holes
			k, ok := nsecOwnerKey(dz.zone, dz.Name(), owner)
			if !ok {
				return 0, false
			}
			if i := findSlot(dz.Count(), dz.KeyAt, k); i >= 0 {
				return dz.Base + uint32(i), true
			}
			return 0, false
		case dz.Ref:
			i, ok := nsecPlace(dz.zone, dz.Name(), owner)
			return dz.Base + i, ok
		}
		i, ok := dz.byOwner[string(owner)]
		return i, ok
	}
	if len(owner) == 0 || int(owner[0]) != NSEC3LabelLen {
		return 0, false
	}
	k, ok := hashKey(string(wire.ToLower(owner[1 : 1+NSEC3LabelLen])))
	if !ok {
		return 0, false
	}
	i := findSlot(dz.Count(), dz.KeyAt, k)
	if i < 0 {
		return 0, false
	}
	return dz.Base + uint32(i), true
}

// place gives dz its absolute position among the image's entries.
func (dz *DenialZone) place(base uint32) {
	dz.Base = base
	for o, i := range dz.byOwner {
		dz.byOwner[o] = i + base
	}
	dz.buildIndex()
}

// denialSlot keeps the answer below the name ce of signed zone z rendered with
// a denial slot (a: engine.PrecomputeDenial of the first probe) when the
// second probe, p2, renders the same template and the program can fill
// its slot.
func (c *compiler) denialSlot(r *nameResult, a engine.Precomputed, ce, p2 []byte, qtype uint16, z *zone.Zone) slot {
	idx, ok := c.denialOf[z]
	if z.NSEC3 == nil {
		// NSEC: the chain view of the closest encloser, the name below
		// which the probes are.
		idx, ok = c.nsecView(ce)
	}
	if !ok {
		r.pass++
		return slot{}
	}
	r.renders++
	b := c.e.PrecomputeDenial(p2, qtype)
	ta, oka := c.slotTemplate(a, idx)
	tb, okb := c.slotTemplate(b, idx)
	if !oka || !okb || key(ta) != key(tb) {
		r.pass++
		return slot{}
	}
	return slot{p: a, ok: true, t: &ta}
}

// slotTemplate is the template of a PrecomputeDenial rendering in the
// image's denial zone idx; false when the program could not fill it as
// the engine would.
func (c *compiler) slotTemplate(p engine.Precomputed, idx uint16) (Template, bool) {
	t := toTemplate(p)
	if p.Slot < 0 || p.SlotBad || p.Truncated || p.Compressed+abi.MaxLabels+8 > wire.MaxCompression ||
		len(p.SlotBefore) > 1 || len(p.SlotAfter) > 1 || (len(p.SlotAfter) == 1 && !p.SlotNext) {
		return t, false
	}
	dz := c.img.Denial[idx]
	t.Slot, t.Denial = p.Slot, idx
	if len(p.SlotBefore) == 1 {
		if i, ok := dz.ownerSlot(p.SlotBefore[0]); ok {
			t.DenialHead = i - dz.Base
		}
	}
	if len(p.SlotAfter) == 1 {
		if i, ok := dz.ownerSlot(p.SlotAfter[0]); ok {
			t.DenialTail = i - dz.Base
		}
	}
	return t, true
}

// denialPieces renders the pieces of sets (engine.DenialPieces) on every
// CPU, in batches, keeping their order; nil when the probe has no slot.
func (c *compiler) denialPieces(probe []byte, sets []*zone.RRset) []engine.DenialPiece {
	const batch = 4096
	out := make([]engine.DenialPiece, len(sets))
	nb := (len(sets) + batch - 1) / batch
	var wg sync.WaitGroup
	var failed atomic.Bool
	next := make(chan int, nb)
	for b := 0; b < nb; b++ {
		next <- b
	}
	close(next)
	for w := 0; w < min(runtime.GOMAXPROCS(0), nb); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range next {
				lo, hi := b*batch, min((b+1)*batch, len(sets))
				ps := c.e.DenialPieces(probe, dns.TypeA, sets[lo:hi])
				if ps == nil {
					failed.Store(true)
					continue
				}
				copy(out[lo:hi], ps)
			}
		}()
	}
	wg.Wait()
	if failed.Load() {
		return nil
	}
	return out
}
