package zone

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// The NSEC3 hash labels of an NSEC3 zone's names, held apart from the
// nodes: a node keeps a 32-bit id into its zone's store instead of a
// string header, so that a Node is 32 bytes, not 48 (a TLD holds
// millions). An NSEC3 chain node holds no id: its hash label is its own
// first label (ChainLabel).
//
// A store is shared by the versions Apply makes of one zone: it only
// grows (the labels of names a change adds are appended; an id, once
// given, is never rewritten), so that a version being served reads its
// ids while a change appends. What the names a change removes leave is
// 32 bytes each, until the next whole load makes a new store.

// hashChunkBits is log2 of the labels in one chunk of a store.
const hashChunkBits = 12

// hashStore holds hash labels by id (id 0: none).
type hashStore struct {
	mu   sync.Mutex // held by writers (add)
	next uint32     // the id add gives next
	// chunks is the list of chunks; a chunk, once listed, never moves,
	// and a longer list replaces a shorter one whole (readers of the
	// shorter one read the ids it has).
	chunks atomic.Pointer[[]*[1 << hashChunkBits]HashLabel]
}

// newHashStore returns an empty store.
func newHashStore() *hashStore {
	s := &hashStore{next: 1}
	s.chunks.Store(new([]*[1 << hashChunkBits]HashLabel))
	return s
}

// add stores label h (a HashLabel's 32 bytes; anything else is not
// stored) and returns its id (0 for none).
func (s *hashStore) add(h string) uint32 {
	if len(h) != len(HashLabel{}) {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.next
	list := *s.chunks.Load()
	c := int(id >> hashChunkBits)
	if c == len(list) {
		grown := append(list[:len(list):len(list)], new([1 << hashChunkBits]HashLabel))
		s.chunks.Store(&grown)
		list = grown
	}
	copy(list[c][id&(1<<hashChunkBits-1)][:], h)
	s.next++
	return id
}

// get returns the label of id (not copied: a store's labels are never
// rewritten), "" for id 0.
func (s *hashStore) get(id uint32) string {
	if id == 0 {
		return ""
	}
	l := &(*s.chunks.Load())[id>>hashChunkBits][id&(1<<hashChunkBits-1)]
	return unsafe.String(&l[0], len(l))
}

// NSEC3Hash returns the NSEC3 hash label (lower-case base32hex) of n, a
// name of z, as z's NSEC3 parameters give it: "" in a zone without NSEC3
// and for a name below a cut.
func (z *Zone) NSEC3Hash(n *Node) string {
	if n.hash == 0 {
		return ""
	}
	return z.hashes.get(n.hash)
}

// setNSEC3Hash gives n, a name of z without one yet, the hash label h
// ("": none).
func (z *Zone) setNSEC3Hash(n *Node, h string) {
	if h == "" {
		return
	}
	if z.hashes == nil {
		z.hashes = newHashStore()
	}
	n.hash = z.hashes.add(h)
}

// ChainLabel returns the hash label of n, a node of the NSEC3 chain: its
// own first label, lower-case (not copied).
func (n *Node) ChainLabel() string {
	l := n.Name.Lower()
	if len(l) == 0 || int(l[0]) >= len(l) {
		return ""
	}
	return unsafe.String(&l[1], int(l[0]))
}
