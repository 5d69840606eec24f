package zone

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// dumpZone renders everything the rest of xdpdns reads of a zone, in an
// order that does not depend on how the zone was made: the zone facts,
// every node in canonical order (name, flags, NSEC3 hash, RRsets with
// their TTL, records and RRSIGs), the NSEC and NSEC3 chains, the records
// as a set and the warnings without their file and line. Two zones with
// equal dumps answer alike.
func dumpZone(t testing.TB, z *Zone) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "origin %s serial %d signed %v hasRRSIGs %v sigexp %v expired %v\n",
		z.Name(), z.Serial, z.Signed, z.HasRRSIGs(), z.SigExpiration.Unix(), z.Expired)
	if z.NSEC3 != nil {
		fmt.Fprintf(&b, "nsec3 %+v salt %x\n", *z.NSEC3, z.NSEC3Salt())
	}
	fmt.Fprintf(&b, "apex %s soa %s nodes %d records %d\n", wire.String(z.Apex.Name.Lower()),
		rrText(z.SOA.RRs()[0]), z.NodeCount(), z.RecordCount())
	if z.Apex != z.Node(z.Origin.Lower) || z.SOA != z.Apex.Set(z.SOA.Type) {
		t.Errorf("Apex or SOA is not the apex node's")
	}
	var nodes []*Node
	z.ForEachNode(func(n *Node) { nodes = append(nodes, n) })
	if len(nodes) != z.NodeCount() {
		t.Errorf("ForEachNode gave %d nodes, NodeCount says %d", len(nodes), z.NodeCount())
	}
	slices.SortFunc(nodes, func(a, b *Node) int { return wire.Compare(a.Name.Lower(), b.Name.Lower()) })
	for _, n := range nodes {
		if z.Node(n.Name.Lower()) != n {
			t.Errorf("Node(%s) is not the node ForEachNode gave", wire.String(n.Name.Lower()))
		}
		dumpNode(&b, z.NSEC3Hash(n), n)
	}
	// The covers, probed at every name and just after it.
	if len(z.NSECChain()) > 0 || len(z.NSEC3Chain()) > 0 {
		b.WriteString("covers:\n")
		for _, n := range nodes {
			after := append([]byte{1, 0}, n.Name.Lower()...)
			fmt.Fprintf(&b, "  %s %s %s", wire.String(n.Name.Lower()), nodeName(z.NSECCover(n.Name.Lower())), nodeName(z.NSECCover(after)))
			if z.NSEC3 != nil {
				h := z.HashName(n.Name.Lower())
				fmt.Fprintf(&b, " %s %s", nodeName(z.NSEC3Cover([]byte(h))), nodeName(z.NSEC3Match(h)))
			}
			b.WriteString("\n")
		}
	}
	b.WriteString("nsec chain:")
	for _, n := range z.NSECChain() {
		if z.Node(n.Name.Lower()) != n {
			t.Errorf("NSEC chain node %s is not the zone's", wire.String(n.Name.Lower()))
		}
		b.WriteString(" " + wire.String(n.Name.Lower()))
	}
	b.WriteString("\nnsec3 chain:\n")
	for _, n := range z.NSEC3Chain() {
		if z.NSEC3Match(n.ChainLabel()) != n {
			t.Errorf("NSEC3Match(%s) is not the chain's node", n.ChainLabel())
		}
		dumpNode(&b, n.ChainLabel(), n)
	}
	var recs []string
	for rr := range z.Records() {
		recs = append(recs, rrText(rr))
	}
	if len(recs) != z.RecordCount() {
		t.Errorf("Records has %d records, RecordCount says %d", len(recs), z.RecordCount())
	}
	slices.Sort(recs)
	b.WriteString("records:\n" + strings.Join(recs, "\n") + "\n")
	var warns []string
	for _, w := range z.Warnings {
		warns = append(warns, fileLine.ReplaceAllString(w, ""))
	}
	slices.Sort(warns)
	b.WriteString("warnings:\n" + strings.Join(warns, "\n") + "\n")
	return b.String()
}

// fileLine is the FILE:LINE prefix of a warning: a record from a change
// has no line of its own.
var fileLine = regexp.MustCompile(`^[^:]*:\d+: `)

func dumpNode(b *strings.Builder, hash string, n *Node) {
	fmt.Fprintf(b, "%s flags %07b hash %q\n", wire.String(n.Name.Lower()), n.Flags, hash)
	for s := range n.EachSet {
		fmt.Fprintf(b, "  set %d ttl %d\n", s.Type, s.TTL)
		for _, rr := range s.RRs() {
			b.WriteString("    " + rrText(rr) + "\n")
		}
		for _, rr := range s.Sigs() {
			b.WriteString("    sig " + rrText(rr) + "\n")
		}
	}
}

func nodeName(n *Node) string {
	if n == nil {
		return "-"
	}
	return wire.String(n.Name.Lower())
}

// rrText is a record as the response builder sees it.
func rrText(rr *RR) string {
	off, n := rr.Names()
	return fmt.Sprintf("%s %d %d %d %s %d/%d", wire.String(rr.Owner.Lower()), rr.Type, rr.Class(), rr.TTL,
		hex.EncodeToString(rr.RData()), off, n)
}
