//go:build linux

package loader

import (
	"fmt"

	"github.com/xdpdns/xdpdns/bpf"
	"github.com/xdpdns/xdpdns/bpf/abi"
)

// entryKind is what the update code needs of one kind of versioned hash
// map entry (a names or an answers value, V one version, W the map value
// holding two): its absent version, its template ids, the same version
// with other ids, whether two versions differ beyond their ids, and the
// map value holding two versions.
type entryKind[V comparable, W any] struct {
	what     string
	absent   V
	ids      func(V) []uint32
	withIDs  func(V, []uint32) V
	sameRest func(a, b V) bool
	pair     func(v0, v1 V) W
}

// The two kinds.
var (
	nameKind = &entryKind[bpf.XdpNameVer, bpf.XdpNameEnt]{
		what:   "name",
		absent: absentName,
		ids: func(v bpf.XdpNameVer) []uint32 {
			return []uint32{v.ExactDefault[0], v.ExactDefault[1], v.BelowDefault[0], v.BelowDefault[1]}
		},
		withIDs: func(v bpf.XdpNameVer, ids []uint32) bpf.XdpNameVer {
			v.ExactDefault, v.BelowDefault = [2]uint32{ids[0], ids[1]}, [2]uint32{ids[2], ids[3]}
			return v
		},
		sameRest: func(a, b bpf.XdpNameVer) bool { return a.Flags == b.Flags && a.Cover == b.Cover },
		// A names slot holds one version: v0 == v1 (settled, or put
		// back); an update's two versions go to names_side (writeSide).
		pair: func(v0, _ bpf.XdpNameVer) bpf.XdpNameEnt { return packName(v0) },
	}
	answerKind = &entryKind[bpf.XdpAnswerVer, bpf.XdpAnswerVal]{
		what:   "answer",
		absent: absentAnswer,
		ids:    func(v bpf.XdpAnswerVer) []uint32 { return []uint32{v.Tmpl[0], v.Tmpl[1]} },
		withIDs: func(v bpf.XdpAnswerVer, ids []uint32) bpf.XdpAnswerVer {
			return bpf.XdpAnswerVer{Tmpl: [2]uint32{ids[0], ids[1]}}
		},
		sameRest: func(bpf.XdpAnswerVer, bpf.XdpAnswerVer) bool { return true },
		pair: func(v0, v1 bpf.XdpAnswerVer) bpf.XdpAnswerVal {
			return bpf.XdpAnswerVal{V: [abi.Gens]bpf.XdpAnswerVer{v0, v1}}
		},
	}
)

// entryMap is where one kind of entry lives in a generation: its table.
type entryMap[K, W any] interface {
	put(keys []K, vals []W) error
	remove(k K) error
}

// liveSet is the loader's record of the live entries of one kind: each
// one's live version and the update that last saw it (liveState.mark).
type liveSet[K comparable, V comparable] interface {
	get(k K) (liveEntry[V], bool)
	put(k K, e liveEntry[V]) // e is live now (or was seen by the update e.mark)
	drop(k K)
	each(f func(K, liveEntry[V]))
	size() int
}

// liveEntry is the live version of an entry, and the update that last
// saw it (liveState.mark).
type liveEntry[V comparable] struct {
	v    V
	mark uint32
}

// entryChange is an entry an update writes: its live version (or the
// kind's absent one: added) and its new one (absent: removed), with the
// contents of the new version's templates.
type entryChange[K comparable, V comparable] struct {
	k        K
	old, new V
	h        []contentHash
}

// entryDiff lists the entries of keys and vals whose content differs
// from the live ones (templates compared by content, not ids), then the
// live entries removed: with complete, every one the image lacks, else
// those of dels. note follows where each live template's references go;
// onAdd is called for an added key. It returns the changes and how many
// entries are added.
func entryDiff[K comparable, V comparable, W any](kind *entryKind[V, W], live liveSet[K, V], mark uint32,
	keys []K, vals []V, complete bool, dels []K, hs imageHashes, liveH func(uint32) contentHash,
	note func(id uint32, to contentHash, gone bool), onAdd func(K)) ([]entryChange[K, V], int, error) {
	var out []entryChange[K, V]
	added := 0
	for i, k := range keys {
		v := vals[i]
		ids := kind.ids(v)
		nh := make([]contentHash, len(ids))
		for j, id := range ids {
			nh[j] = hs.of(id)
		}
		old, ok := live.get(k)
		if ok {
			if old.mark == mark {
				return nil, 0, fmt.Errorf("%w: %s %+v listed twice", ErrImage, kind.what, k)
			}
			live.put(k, liveEntry[V]{v: old.v, mark: mark})
			same := kind.sameRest(old.v, v)
			for j, id := range kind.ids(old.v) {
				if liveH(id) != nh[j] {
					same = false
					note(id, nh[j], false)
				}
			}
			if same {
				continue
			}
		} else {
			added++
			old.v = kind.absent
			onAdd(k)
		}
		out = append(out, entryChange[K, V]{k: k, old: old.v, new: kind.withIDs(v, make([]uint32, len(ids))), h: nh})
	}
	gone := func(k K, old liveEntry[V]) {
		for _, id := range kind.ids(old.v) {
			note(id, contentHash{}, true)
		}
		out = append(out, entryChange[K, V]{k: k, old: old.v, new: kind.absent})
	}
	if complete {
		live.each(func(k K, old liveEntry[V]) {
			if old.mark != mark {
				gone(k, old)
			}
		})
		return out, added, nil
	}
	for _, k := range dels {
		if old, ok := live.get(k); ok {
			if old.mark == mark {
				return nil, 0, fmt.Errorf("%w: %s %+v both set and removed", ErrImage, kind.what, k)
			}
			live.put(k, liveEntry[V]{v: old.v, mark: mark})
			gone(k, old)
		}
	}
	return out, added, nil
}

// entryIDs gives the changes their new template ids (id maps a slot's
// live id and new content to the id to write), and drops those that end
// up as they are (every change made in place).
func entryIDs[K comparable, V comparable, W any](kind *entryKind[V, W], cs []entryChange[K, V], id func(old uint32, h contentHash) uint32) []entryChange[K, V] {
	out := cs[:0]
	var zero V
	for _, c := range cs {
		if c.new != kind.absent {
			o := c.old
			if o == kind.absent {
				o = zero
			}
			oids := kind.ids(o)
			ids := make([]uint32, len(oids))
			for j := range ids {
				ids[j] = id(oids[j], c.h[j])
			}
			c.new = kind.withIDs(c.new, ids)
			if c.new == c.old {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

// entryValues lays changes out as map keys and values, each holding
// pick's first version in version slot and its second in the other.
func entryValues[K comparable, V comparable, W any](kind *entryKind[V, W], cs []entryChange[K, V], slot uint32,
	pick func(old, new V) (V, V)) ([]K, []W) {
	keys := make([]K, len(cs))
	vals := make([]W, len(cs))
	for i, c := range cs {
		a, b := pick(c.old, c.new)
		if slot&1 == 1 {
			a, b = b, a
		}
		keys[i], vals[i] = c.k, kind.pair(a, b)
	}
	return keys, vals
}

// settleEntries writes the new version of each change into both
// versions, and deletes the entries it removed.
func settleEntries[K comparable, V comparable, W any](kind *entryKind[V, W], m entryMap[K, W], cs []entryChange[K, V]) error {
	var keys []K
	var vals []W
	for _, c := range cs {
		if c.new == kind.absent {
			if err := m.remove(c.k); err != nil {
				return err
			}
			continue
		}
		keys, vals = append(keys, c.k), append(vals, kind.pair(c.new, c.new))
	}
	return m.put(keys, vals)
}

// unwriteEntries puts back the live version of each change into both
// versions and deletes the entries a failed update added.
func unwriteEntries[K comparable, V comparable, W any](kind *entryKind[V, W], m entryMap[K, W], cs []entryChange[K, V]) {
	keys, vals := entryValues(kind, cs, 0, func(o, _ V) (V, V) { return o, o })
	_ = m.put(keys, vals)
	for _, c := range cs {
		if c.old == kind.absent {
			_ = m.remove(c.k)
		}
	}
}

// commitEntries records the changes in live, moving template references
// (ref), and counts the entries changed, added and removed.
func commitEntries[K comparable, V comparable, W any](kind *entryKind[V, W], live liveSet[K, V], cs []entryChange[K, V],
	mark uint32, ref func(ids []uint32, d int)) (changed, added, gone int) {
	for _, c := range cs {
		if c.old != kind.absent {
			ref(kind.ids(c.old), -1)
		}
		switch {
		case c.new == kind.absent:
			live.drop(c.k)
			gone++
			continue
		case c.old == kind.absent:
			added++
		default:
			changed++
		}
		ref(kind.ids(c.new), 1)
		live.put(c.k, liveEntry[V]{v: c.new, mark: mark})
	}
	return changed, added, gone
}
