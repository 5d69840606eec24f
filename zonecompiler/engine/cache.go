package engine

import (
	"encoding/binary"
	"hash/maphash"

	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// The engine is a pure function of its Config, its zone set and the query
// (the ID is only copied), so a reply computed once can be sent again for
// a query whose bytes after the ID are the same, for as long as the zone
// set is the same. A Cache remembers the recent UDP replies of one
// goroutine (one socket of the server): no lock, no allocation, no
// pointers for the garbage collector to scan. Queries that repeat — the
// bulk of an authoritative server's traffic — then cost a hash, one or two
// memory reads and a copy instead of the lookup and the rendering; a name
// never seen before (a random-subdomain flood) costs the engine's work
// plus one copy into the cache.
//
// A reply is stored the second time its query is seen within a while: a
// bitmap of query hashes (a "doorkeeper", as in TinyLFU) remembers the
// first sighting, so queries asked once — a random-subdomain flood, the
// long tail of names — cost a bit set and no copy, and do not push the
// repeated queries out of the ring.
//
// The replies live in a ring of bytes written front to back and wrapped
// when full (the oldest entries are overwritten first); an index of
// 2-entry buckets maps a query's hash to its entry. An entry is valid
// while the ring has not come round to it, which the index checks from
// the lap and offset it was written at, so nothing is ever deleted.

// Cache bounds.
const (
	// MinCacheBytes is the smallest ring NewCache builds.
	MinCacheBytes = 64 << 10
	// cacheMaxKey is the longest query cached (bytes after the ID).
	cacheMaxKey = 512
	// cacheMaxReply is the longest reply cached.
	cacheMaxReply = 4096
	// cacheAvgEntry sizes the index: about one slot per this many bytes
	// of ring (a referral with glue and its query is ~300 bytes).
	cacheAvgEntry = 256
	// cacheHeader is an entry's header: key length, reply length, kind,
	// the hash of the rate-limiting name (Info.Name).
	cacheHeader = 13
	// cacheSeenBits is the doorkeeper's bits per index slot; it is
	// cleared once an eighth of its bits were set since the last time.
	cacheSeenBits = 8
)

// cacheSlot is one index entry: the query's hash, where its entry starts
// in the ring and in which lap of the ring it was written.
type cacheSlot struct {
	hash uint64
	off  uint32
	lap  uint32
}

// Cache is one goroutine's memo of UDP replies (see above). Its zero value
// is not usable: NewCache builds one.
type Cache struct {
	ring  []byte
	pos   int    // where the next entry is written
	lap   uint32 // how many times the ring has wrapped (starts at 2)
	index []cacheSlot
	mask  uint64 // len(index)-1, the index length a power of two
	seed  maphash.Seed
	set   *zone.Set // the zone set the entries were computed from
	s     scratch   // the engine's working memory for misses
	// ref is the referral memo (refmemo.go), keyBuf its key's buffer.
	ref    map[string]*refTemplate
	keyBuf []byte
	seen   []uint64 // the doorkeeper: queries seen once (bit hash mod len)
	nseen  int      // bits set since seen was last cleared

	// Names says whether RespondUDP names each reply's rate-limiting
	// bucket (Info.Name; on by default): a server without rate limiting
	// turns it off and saves hashing a name per miss.
	Names bool

	// Hits, Misses and Stored count lookups and insertions; RefHits the
	// misses answered from the referral memo.
	Hits, Misses, Stored, RefHits uint64
}

// NewCache returns a cache holding about bytes of queries and replies
// (at least MinCacheBytes).
func NewCache(bytes int) *Cache {
	bytes = max(bytes, MinCacheBytes)
	slots := 1
	for slots < bytes/cacheAvgEntry {
		slots <<= 1
	}
	return &Cache{
		ring:  make([]byte, bytes),
		lap:   2,
		index: make([]cacheSlot, slots),
		mask:  uint64(slots - 1),
		seed:  maphash.MakeSeed(),
		seen:  make([]uint64, slots*cacheSeenBits/64+1),
		s:     scratch{relocs: make([]int, 0, 64)},
		Names: true,
		ref:   make(map[string]*refTemplate),
	}
}

// Info describes a UDP reply for the server's rate limiting.
type Info struct {
	Kind Kind
	// Name is abi.HashName(name).H1 of the name rate limiting counts the
	// reply under (package rrl): the query name, or the delegation of a
	// referral, the zone of an NXDOMAIN, the wildcard of a synthesised
	// answer; 0 for errors and refusals.
	Name uint64
}

// RespondUDP is RespondKind(dst, pkt, false) through the cache c, which
// only this goroutine may use (nil: no cache), also giving the reply's
// rate-limiting name.
func (e *Engine) RespondUDP(c *Cache, dst, pkt []byte) ([]byte, Info) {
	if c == nil {
		s := e.pool.Get().(*scratch)
		defer e.pool.Put(s)
		out, kind := e.respondSet(s, e.zones.Load(), dst, pkt, false)
		return out, Info{Kind: kind, Name: rrlName(s, kind)}
	}
	set := e.zones.Load()
	if c.set != set {
		// A new zone set (a reload, a transfer, an expiry): every entry
		// is stale. Two laps on, none of them is valid.
		c.set, c.lap, c.pos = set, c.lap+2, 0
		clear(c.ref)
	}
	if len(pkt) < 2 || len(pkt)-2 > cacheMaxKey {
		out, kind := e.respondSet(&c.s, set, dst, pkt, false)
		return out, c.info(kind)
	}
	key := pkt[2:]
	h := maphash.Bytes(c.seed, key)
	b := h & c.mask &^ 1
	for i := b; i <= b+1; i++ {
		sl := &c.index[i]
		if sl.hash != h || !c.valid(sl) {
			continue
		}
		ent := c.ring[sl.off:]
		kl, rl := int(binary.LittleEndian.Uint16(ent)), int(binary.LittleEndian.Uint16(ent[2:]))
		if kl != len(key) || string(ent[cacheHeader:cacheHeader+kl]) != string(key) {
			continue
		}
		c.Hits++
		out := append(dst[:0], ent[cacheHeader+kl:cacheHeader+kl+rl]...)
		out[0], out[1] = pkt[0], pkt[1]
		return out, Info{Kind: Kind(ent[4]), Name: binary.LittleEndian.Uint64(ent[5:])}
	}
	c.Misses++
	// One parse for the memo and the engine.
	perr := wire.ParseQuery(pkt, &c.s.q)
	if perr == nil { // a malformed query gets the engine's error reply
		if out, info, ok := c.referralFromMemo(dst, pkt); ok {
			c.RefHits++
			if len(out) <= cacheMaxReply && c.seenBefore(h) {
				c.store(h, b, key, out, info)
			}
			return out, info
		}
	}
	out, kind := e.respondParsed(&c.s, set, dst, perr, false)
	info := c.info(kind)
	if kind == KindReferral {
		c.rememberReferral(pkt, out, info)
	}
	if len(out) >= 2 && len(out) <= cacheMaxReply && c.seenBefore(h) {
		c.store(h, b, key, out, info)
	}
	return out, info
}

// info describes the answer just rendered in c.s.
func (c *Cache) info(k Kind) Info {
	if !c.Names {
		return Info{Kind: k}
	}
	return Info{Kind: k, Name: rrlName(&c.s, k)}
}

// rrlName is Info.Name of the answer just rendered in s.
func rrlName(s *scratch, k Kind) uint64 {
	switch {
	case k == KindRefused || k == KindError:
		return 0
	case s.a.rrlName != nil:
		return abi.HashName(s.a.rrlName).H1
	}
	return abi.HashName(s.q.QLower).H1
}

// seenBefore reports whether a query of hash h was seen since the
// doorkeeper was last cleared, and marks it seen.
func (c *Cache) seenBefore(h uint64) bool {
	bit := (h >> 32) % uint64(len(c.seen)*64)
	w, m := &c.seen[bit/64], uint64(1)<<(bit%64)
	if *w&m != 0 {
		return true
	}
	*w |= m
	if c.nseen++; c.nseen > len(c.seen)*64/8 {
		clear(c.seen)
		c.nseen = 0
	}
	return false
}

// valid reports whether the entry sl points to has not been overwritten:
// written in this lap, or in the last one beyond where this lap has got.
func (c *Cache) valid(sl *cacheSlot) bool {
	return sl.lap == c.lap || (sl.lap+1 == c.lap && int(sl.off) >= c.pos)
}

// store writes one entry at the ring's write position and points the
// bucket b's emptier (or older) slot at it.
func (c *Cache) store(h, b uint64, key, reply []byte, info Info) {
	n := cacheHeader + len(key) + len(reply)
	if n > len(c.ring) {
		return
	}
	if c.pos+n > len(c.ring) {
		c.pos, c.lap = 0, c.lap+1
	}
	e := c.ring[c.pos : c.pos+n]
	binary.LittleEndian.PutUint16(e, uint16(len(key)))
	binary.LittleEndian.PutUint16(e[2:], uint16(len(reply)))
	e[4] = byte(info.Kind)
	binary.LittleEndian.PutUint64(e[5:], info.Name)
	copy(e[cacheHeader:], key)
	copy(e[cacheHeader+len(key):], reply)
	// Replace an invalid slot if there is one, else the older entry.
	sl := &c.index[b]
	if other := &c.index[b+1]; !c.valid(other) || (c.valid(sl) && c.older(other, sl)) {
		sl = other
	}
	*sl = cacheSlot{hash: h, off: uint32(c.pos), lap: c.lap}
	c.pos += n
	c.Stored++
}

// older reports whether valid entry a was written before valid entry b.
func (c *Cache) older(a, b *cacheSlot) bool {
	if a.lap != b.lap {
		return a.lap < b.lap
	}
	return a.off < b.off
}
