package zone

import (
	"bytes"
	"fmt"
	"math"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/binfmt"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// WriteRecords writes z in the form ReadRecords loads it from (the zone
// part of a compiled image): its origin, file and sources, then its
// records (Records), each in wire form with its file and line, an
// owner repeated from the record before written once.
func (z *Zone) WriteRecords(w *binfmt.Writer) {
	w.Bytes(z.Origin.Wire)
	w.String(z.File)
	WriteSources(w, z.Sources)
	files := map[uint16]int{}
	var names []string
	count := 0
	for rr := range z.Records() {
		count++
		if _, ok := files[rr.file]; !ok {
			files[rr.file] = len(names)
			names = append(names, rr.File())
		}
	}
	w.Int(len(names))
	for _, f := range names {
		w.String(f)
	}
	// The sizes of the node maps, for ReadRecords to make them at once.
	w.Int(z.NodeCount())
	w.Int(z.nsec3Chain.Len())
	w.Int(count)
	var prev []byte
	for rr := range z.Records() {
		if bytes.Equal(rr.Owner.Wire(), prev) {
			w.Int(0) // a wire name is never empty
		} else {
			w.Bytes(rr.Owner.Wire())
			prev = rr.Owner.Wire()
			// The name's NSEC3 hash, so that reading it back does not
			// hash every name again (SHA-1, a million names).
			hash, flags := "", Flags(0)
			if n := z.Node(rr.Owner.Lower()); n != nil && !isNSEC3Record(rr) {
				hash, flags = z.NSEC3Hash(n), n.Flags
			}
			w.String(hash)
			w.Uvarint(uint64(flags))
		}
		w.U16(rr.Type)
		w.U16(rr.Class())
		if ttl, ok := z.fileTTLs[rr]; ok {
			w.U32(ttl) // as in the file: the warning comes back with it
		} else {
			w.U32(rr.TTL)
		}
		w.Bytes(rr.RData())
		w.Int(files[rr.file])
		w.Int(int(rr.Line))
	}
	// The facts Load derives that no record carries: the empty
	// non-terminals, and the warnings that do not depend on the clock.
	var ents []*Node
	z.ForEachNode(func(n *Node) {
		if len(n.Sets()) == 0 {
			ents = append(ents, n)
		}
	})
	w.Int(len(ents))
	for _, n := range ents {
		w.Bytes(n.Name.Wire())
		w.String(z.NSEC3Hash(n))
		w.Uvarint(uint64(n.Flags))
	}
	var kept []int
	for i, k := range z.warnOwners {
		if !k.timed {
			kept = append(kept, i)
		}
	}
	w.Int(len(kept))
	for _, i := range kept {
		k := z.warnOwners[i]
		w.String(z.Warnings[i])
		w.String(k.name)
		w.Bool(k.nsec3)
		w.Bool(k.glue)
	}
}

// WriteSources writes a zone's sources as ReadSources reads them.
func WriteSources(w *binfmt.Writer, sources []Source) {
	w.Int(len(sources))
	for _, s := range sources {
		w.String(s.Path)
		w.U64(uint64(s.Size))
		w.U64(uint64(s.ModTime))
		w.U64(uint64(s.ChangeTime))
		w.U64(s.Inode)
	}
}

// ReadSources reads what WriteSources wrote (r's error says if it could
// not).
func ReadSources(r *binfmt.Reader) []Source {
	sources := make([]Source, r.Count(8*4+1))
	for i := range sources {
		sources[i] = Source{Path: r.String(), Size: int64(r.U64()), ModTime: int64(r.U64()),
			ChangeTime: int64(r.U64()), Inode: r.U64()}
	}
	return sources
}

// minRecordBytes is the fewest bytes WriteRecords writes for a record.
const minRecordBytes = 1 + 8 + 1 + 1 + 1

// ReadRecords loads the zone WriteRecords wrote, without parsing text: its
// records, the facts Load derived (per-name flags and NSEC3 hashes, empty
// non-terminals) and the warnings that do not depend on the clock, as
// written (the image was written from a zone that passed every check);
// its signatures are checked again against opt's clock (an RRSIG expired
// since is refused at its file and line, expiry warnings come anew).
func ReadRecords(r *binfmt.Reader, opt Options) (*Zone, error) {
	origin := r.Bytes()
	file := r.String()
	if r.Err() == nil {
		if !wholeName(origin) || !bytes.Equal(origin, wire.ToLower(origin)) {
			r.Fail("bad zone origin")
		}
	}
	sources := ReadSources(r)
	names := make([]string, r.Count(1))
	fileIDs := make([]uint16, len(names))
	for i := range names {
		names[i] = r.String()
		fileIDs[i] = fileNames.id(names[i])
	}
	// Size hints, trusted no further than the records that can follow.
	nodes, nsec3 := r.Int(1<<40), r.Int(1<<40)
	n := r.Count(minRecordBytes)
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("zone records: %w", err)
	}
	b := newBuilderSized(&Zone{Origin: wire.NewName(origin), File: file, lazy: &derived{}}, opt, min(nodes, 2*n), min(nsec3, n))
	// owner is the scratch owner of the records read: addRRNode gives
	// each record its node's name instead (or a copy, below).
	owner := new(wire.Packed)
	have := false
	var hash []byte // the owner's NSEC3 hash label (copied into the store)
	var flags Flags
	// near: the owner's node and NSEC3 node, once a record found them.
	var near [2]*Node
	for range n {
		if w := r.Bytes(); w != nil {
			if !wholeName(w) {
				return nil, fmt.Errorf("zone %s records: bad owner name", wire.String(origin))
			}
			*owner, have = wire.NewPacked(w), true
			hash = append(hash[:0], r.View()...)
			flags = Flags(r.Int(1 << 16))
			near = [2]*Node{}
		}
		rr := &RR{Owner: owner, Type: r.U16()}
		if class := r.U16(); class != dns.ClassINET {
			r.Fail("a record of class %d", class)
		}
		rr.setClass(dns.ClassINET)
		rr.TTL = r.U32()
		if rd := r.Bytes(); len(rd) <= MaxRData {
			rr.setRData(rd)
		} else {
			r.Fail("RDATA of %d bytes", len(rd))
		}
		if f := r.Int(len(names) - 1); len(names) > 0 {
			rr.file = fileIDs[f]
		}
		rr.Line = int32(r.Int(math.MaxInt32))
		if err := r.Err(); err != nil {
			return nil, fmt.Errorf("zone %s records: %w", wire.String(origin), err)
		}
		if !have {
			return nil, fmt.Errorf("zone %s records: the first has no owner", wire.String(origin))
		}
		if err := rr.findNames(); err != nil {
			return nil, b.errf(rr, "%s record: %v", dns.Type(rr.Type), err)
		}
		chain := 0
		if isNSEC3Record(rr) {
			chain = 1
		}
		node, err := b.addRRNode(rr, near[chain])
		if err != nil {
			return nil, err
		}
		near[chain] = node
		if rr.Owner == owner { // spelled unlike its node's name
			own := *owner
			rr.Owner = &own
		}
		if node != nil && !isNSEC3Record(rr) {
			node.Flags = flags
			if len(hash) > 0 && node.hash == 0 { // the owner's first record
				b.z.setNSEC3Hash(node, string(hash)) // buildChains keeps it
			}
		}
	}
	nents := r.Count(3)
	for range nents {
		name := wire.NewName(r.Bytes())
		hash, flags := r.String(), Flags(r.Int(1<<16))
		if r.Err() != nil || !wholeName(name.Wire) || !wire.IsSubdomain(name.Lower, b.z.Origin.Lower) {
			r.Fail("bad empty non-terminal")
			break
		}
		ent := &Node{Name: wire.Pack(name), Flags: flags}
		b.z.setNSEC3Hash(ent, hash)
		b.nodes.set(ent)
	}
	nw := r.Count(4)
	for range nw {
		b.z.Warnings = append(b.z.Warnings, r.String())
		b.z.warnOwners = append(b.z.warnOwners, warnKey{name: r.String(), nsec3: r.Bool(), glue: r.Bool()})
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("zone %s records: %w", wire.String(origin), err)
	}
	if err := b.finishRestored(); err != nil {
		return nil, err
	}
	b.z.Sources = sources
	return b.z, nil
}

// wholeName reports whether w is one uncompressed wire name and nothing
// else.
func wholeName(w []byte) bool {
	_, end, err := wire.ReadName(w, 0)
	return err == nil && end == len(w)
}
