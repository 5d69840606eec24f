package zone

import (
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// structure makes the name tree of the new version whole, as Load's
// empty non-terminals make it: every ancestor of a name with records
// exists, and a name left without records stays (empty) only while a
// name below it exists.
func (a *applier) structure() {
	origin := a.old.Origin.Lower
	var empty []string
	for key := range a.records {
		n := a.work[key]
		if len(n.Sets()) == 0 {
			empty = append(empty, key)
			continue
		}
		p := n.Name.Name()
		for i := 0; i < wire.MaxLabels && len(p.Lower) > len(origin); i++ {
			p = wire.Name{Wire: wire.Parent(p.Wire), Lower: wire.Parent(p.Lower)}
			a.newChild[string(p.Lower)] = true
			if a.get(p.Lower) != nil {
				break
			}
			ent := &Node{Name: wire.Pack(p)}
			a.owned[ent] = true
			a.work[string(p.Lower)] = ent
		}
	}
	// Remove the empty names without descendants, then their parents
	// that are left empty and childless in turn.
	for len(empty) > 0 {
		key := empty[len(empty)-1]
		empty = empty[:len(empty)-1]
		n := a.get([]byte(key))
		if n == nil || len(n.Sets()) > 0 || len(key) <= len(origin) || a.hasChild(key) {
			continue
		}
		a.work[key] = nil
		if p := wire.Parent([]byte(key)); len(p) > len(origin) {
			empty = append(empty, string(p))
		}
	}
}

// hasChild reports whether a name strictly below key exists in the new
// version: one created by the change, or one of the old version's that
// the change did not delete.
func (a *applier) hasChild(key string) bool {
	if a.newChild[key] {
		return true
	}
	found := false
	a.old.below([]byte(key), func(n *Node) bool {
		found = a.get(n.Name.Lower()) != nil
		return !found
	})
	return found
}

// descendants calls f for the names of the old version strictly below
// key, in canonical order.
func (a *applier) descendants(key []byte, f func(name []byte)) {
	a.old.below(key, func(n *Node) bool {
		f(n.Name.Lower())
		return true
	})
}
