package render

import "github.com/xdpdns/xdpdns/bpf/abi"

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
	// DenialTail (abi.NoDenial: none): the RRset already in the body.
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
	ExactDefault [2]uint32 // by DO bit
	BelowDefault [2]uint32
	Flags        uint32 // abi.NameFlagExactTyped | abi.NameFlagBelowTyped | abi.NameFlagLeaf
}

// AnswerKey selects a per-type template.
type AnswerKey struct {
	Name  NameHash
	QType uint16
	Mode  uint16
}

// Image is a complete set of XDP map contents for one generation.
type Image struct {
	Names     map[NameHash]NameEntry
	Answers   map[AnswerKey][2]uint32
	Templates []Template // index = template id; [0] is unused (abi.Pass)
	// Denial holds the signed zones' chains the denial slots are filled
	// from; [0] is unused.
	Denial []*DenialZone
	Stats  Stats
	// Incremental is what Recompile needs to render a later change of
	// the zone set from this image's (set by Compile).
	Incremental *Incremental
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
	n := len(img.Names) * (16 + 16 + hashOverhead)
	n += len(img.Answers) * (24 + 8 + hashOverhead)
	n += len(img.Templates) * (20 + 2*abi.MaxRelocs)
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
