package render

import (
	"cmp"
	"iter"
	"maps"
	"slices"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/bpf/abi"
)

// Template is one precomputed reply body with what the program needs to
// send it: counts, header flags, and the offsets of the compression
// pointers to relocate by the query name's length.
type Template struct {
	Body   []byte // empty when abi.FlagTooBig: only TC or pass
	Relocs []uint16
	// BodyLen is the full body length (len(Body) unless abi.FlagTooBig).
	BodyLen int
	ReqLen  int
	AN, NS  uint16
	AR      uint16
	Flags   uint16
	Kind    uint16
	// RRLClass, RRLLabels and RRLWild name the rate-limiting bucket
	// (struct tmpl's rrl_*: engine.Precomputed, rrl.ClassOf).
	RRLClass  uint8
	RRLLabels uint8
	RRLWild   bool
	// Slot is the body offset of the denial slot (abi.NoSlot: none),
	// where the program puts the piece of the entry of Image.Denial[Denial]
	// that covers the query name, unless that entry is DenialHead or
	// DenialTail (places among the view's entries, so that a template
	// reads its view wherever the view is placed; abi.NoDenial: none): the
	// RRset already in the body.
	Slot                   int
	Denial                 uint16
	DenialHead, DenialTail uint32
	// Shared: at least SharedMinRefs entry slots use the template, so
	// the program reads it from shared_templates, where an update may
	// rewrite it in place (one new negative answer for a new SOA serial,
	// not a new entry for every name using it).
	Shared bool
}

// SharedMinRefs is how many entry slots (a names entry has four: exact
// and below, DO off and on; an answers entry two) must use a template for
// it to be shared.
const SharedMinRefs = 16

// NameEntry is what to answer when a name is the longest existing suffix
// of the query name and the query type has no entry of its own.
type NameEntry struct {
	ExactDefault [2]uint32 // by DO bit; with abi.NameFlagCut, the DS answer alone
	BelowDefault [2]uint32
	Flags        uint32 // abi.NameFlagExactTyped | abi.NameFlagBelowTyped | abi.NameFlagLeaf | abi.NameFlagCut
	// Cover is 1 + the index, among the entries of its templates' denial
	// zone, of the entry covering the name's own NSEC3 hash, which fills
	// the slot of a template with abi.FlagSlotSelf (an insecure
	// delegation's opt-out proof) without the program hashing the name;
	// 0: none. Relative to the zone's entries, it holds wherever the
	// loader places them.
	Cover uint32
}

// Tmpls is e's template ids: exact and below, each by DO bit.
func (e NameEntry) Tmpls() [4]uint32 {
	return [4]uint32{e.ExactDefault[0], e.ExactDefault[1], e.BelowDefault[0], e.BelowDefault[1]}
}

// exactQType is the query type ExactDefault answers: DS at a cut
// (abi.NameFlagCut), else 0, the name's default.
func (e NameEntry) exactQType() uint16 {
	if e.Flags&abi.NameFlagCut != 0 {
		return dns.TypeDS
	}
	return 0
}

// withTmpls is e with each template id mapped by f.
func (e NameEntry) withTmpls(f func(uint32) uint32) NameEntry {
	for i := range 2 {
		e.ExactDefault[i], e.BelowDefault[i] = f(e.ExactDefault[i]), f(e.BelowDefault[i])
	}
	return e
}

// AnswerKey selects a per-type template.
type AnswerKey struct {
	Name  NameHash
	QType uint16
	Mode  uint16
}

// Image is a complete set of XDP map contents for one generation.
type Image struct {
	// Names and Answers are the entries of the names and answers tables
	// (nil in a decoded image, which holds them in Sorted instead).
	Names   map[NameHash]NameEntry
	Answers map[AnswerKey][2]uint32
	// Sorted holds a decoded image's names and answers (DecodeImage): a
	// restart only lays them out in the maps, and building the Go maps
	// of a TLD's two million entries for that costs seconds. Read the
	// entries of either form with AllNames, AllAnswers, Name and Answer.
	Sorted    *Sorted
	Templates []Template // index = template id; [0] is unused (abi.Pass)
	// Denial holds the signed zones' chains the denial slots are filled
	// from; [0] is unused.
	Denial []*DenialZone
	Stats  Stats
	// Incremental is what Recompile needs to render a later change of
	// the zone set from this image's (set by Compile).
	Incremental *Incremental
}

// Sorted is the names and answers of an image in key order, each key
// beside its value.
type Sorted struct {
	NameKeys   []NameHash
	NameVals   []NameEntry
	AnswerKeys []AnswerKey
	AnswerVals [][2]uint32
}

// NameCount is how many names entries img has.
func (img *Image) NameCount() int {
	if img.Sorted != nil {
		return len(img.Sorted.NameKeys)
	}
	return len(img.Names)
}

// AnswerCount is how many answers entries img has.
func (img *Image) AnswerCount() int {
	if img.Sorted != nil {
		return len(img.Sorted.AnswerKeys)
	}
	return len(img.Answers)
}

// AllNames yields img's names entries (in key order when decoded, else
// in no set order).
func (img *Image) AllNames() iter.Seq2[NameHash, NameEntry] {
	if s := img.Sorted; s != nil {
		return pairs(s.NameKeys, s.NameVals)
	}
	return maps.All(img.Names)
}

// AllAnswers yields img's answers entries, as AllNames does.
func (img *Image) AllAnswers() iter.Seq2[AnswerKey, [2]uint32] {
	if s := img.Sorted; s != nil {
		return pairs(s.AnswerKeys, s.AnswerVals)
	}
	return maps.All(img.Answers)
}

// NameHashes is img's names (a decoded image's own slice: not to be
// changed).
func (img *Image) NameHashes() []NameHash {
	if s := img.Sorted; s != nil {
		return s.NameKeys
	}
	return slices.AppendSeq(make([]NameHash, 0, len(img.Names)), maps.Keys(img.Names))
}

// Name is the names entry of h.
func (img *Image) Name(h NameHash) (NameEntry, bool) {
	if s := img.Sorted; s != nil {
		return search(s.NameKeys, s.NameVals, h, compareHash)
	}
	e, ok := img.Names[h]
	return e, ok
}

// Answer is the answers entry of k.
func (img *Image) Answer(k AnswerKey) ([2]uint32, bool) {
	if s := img.Sorted; s != nil {
		return search(s.AnswerKeys, s.AnswerVals, k, compareAnswerKey)
	}
	ids, ok := img.Answers[k]
	return ids, ok
}

// pairs yields keys[i], vals[i] in order.
func pairs[K, V any](keys []K, vals []V) iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		for i, k := range keys {
			if !yield(k, vals[i]) {
				return
			}
		}
	}
}

// search finds k in keys (in the order of compare) and returns its value.
func search[K, V any](keys []K, vals []V, k K, compare func(a, b K) int) (V, bool) {
	i, ok := slices.BinarySearchFunc(keys, k, compare)
	if !ok {
		var zero V
		return zero, false
	}
	return vals[i], true
}

// compareHash and compareAnswerKey order the keys of Sorted.
func compareHash(a, b NameHash) int {
	if a.H1 != b.H1 {
		return cmp.Compare(a.H1, b.H1)
	}
	return cmp.Compare(a.H2, b.H2)
}

func compareAnswerKey(a, b AnswerKey) int {
	if c := compareHash(a.Name, b.Name); c != 0 {
		return c
	}
	if a.QType != b.QType {
		return int(a.QType) - int(b.QType)
	}
	return int(a.Mode) - int(b.Mode)
}

// Stats describe an image, for reports and the memory target.
type Stats struct {
	Names, Answers, Templates int
	BodyBytes                 int // template body bytes stored
	Delegations               int
	PassedTemplates           int // answers left to userspace
	Renders                   int // engine renders performed
}

// MapBytes estimates the kernel memory of the image's maps: keys and values
// of the hash maps (with a per-entry overhead) plus the arrays.
func (img *Image) MapBytes() int {
	const hashOverhead = 64 // struct htab_elem and bucket share, roughly
	n := img.NameCount() * (16 + 16 + hashOverhead)
	n += img.AnswerCount() * (24 + 8 + hashOverhead)
	n += len(img.Templates) * (44 + abi.ChunkSize + 2*abi.InlineRelocs) // struct tmpl
	n += img.Chunks() * abi.ChunkSize
	return n
}

// Chunks is the number of body chunks the image needs.
func (img *Image) Chunks() int {
	n := 0
	for i := range img.Templates {
		n += (len(img.Templates[i].Body) + abi.ChunkSize - 1) / abi.ChunkSize
	}
	return n
}
