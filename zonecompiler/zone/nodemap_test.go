package zone

import (
	"fmt"
	"hash/maphash"
	"testing"

	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// TestNodeTable: a table grown from empty by set (a node set again under
// its key replaces it) finds every node by its key and nothing by another,
// and each and all visit every node once — keyed by name and by NSEC3
// hash label, from none to several thousand nodes (probes wrap around the
// table's end, the table grows several times).
func TestNodeTable(t *testing.T) {
	for _, n := range []int{0, 1, 7, 100, 5000} {
		for _, key := range []func(*Node) string{nameKey, hashKey} {
			tb := newNodeTable(0, key)
			want := map[string]*Node{}
			for i := range n {
				w := []byte(fmt.Sprintf("\x20h%031d\x04name\x00", i))
				node := &Node{Name: wire.NewPacked(w)}
				tb.set(node)
				if i%3 == 0 { // set again: replaced, not added
					again := &Node{Name: node.Name}
					tb.set(again)
					node = again
				}
				want[key(node)] = node
			}
			nm := nodeMapOf(tb)
			if nm.n != len(want) || tb.n != len(want) {
				t.Fatalf("%d nodes: the table counts %d", len(want), nm.n)
			}
			for k, x := range want {
				if got := nm.getString(k); got != x {
					t.Fatalf("%q finds %p, want %p", k, got, x)
				}
				if got := nm.getString(k + "x"); got != nil {
					t.Fatalf("%q finds a node", k+"x")
				}
			}
			// A slot is used exactly when its tag says so, the tag
			// its key's.
			for i, x := range tb.slots {
				if (x == nil) != (tb.tags[i] == 0) || (x != nil && tb.tags[i] != tagOf(maphash.String(tb.seed, key(x)))) {
					t.Fatalf("slot %d: node %v, tag %#x", i, x != nil, tb.tags[i])
				}
			}
			seen := map[*Node]int{}
			nm.each(func(x *Node) { seen[x]++ })
			for x := range tb.all() {
				seen[x] += 10
			}
			if len(seen) != len(want) {
				t.Fatalf("each and all visit %d nodes, want %d", len(seen), len(want))
			}
			for x, c := range seen {
				if c != 11 || want[key(x)] != x {
					t.Fatalf("%s visited %d times (each 1, all 10 each)", wire.String(x.Name.Wire()), c)
				}
			}
		}
	}
}
