package engine

import (
	"encoding/binary"
	"hash/maphash"

	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// A referral depends on the query name only through the question it
// echoes: every name below a delegation gets the same records, and the
// compression pointers into the question point at the delegation's name,
// which every such query name ends with. So a referral rendered once for
// one name below a delegation serves any other: its question replaced and
// every pointer moved by the difference of the names' lengths — as the
// XDP program replays its templates. The memo (one per Cache) keeps such
// renderings, keyed by the delegation's name and the rest of the query,
// and uses one only where the engine would write the same bytes:
//   - every pointer into the question points into the delegation's name
//     (a referral's names never compress against the question's labels
//     below the cut: renderWith);
//   - the rendering was complete (nothing truncated or left out for size)
//     and the new reply fits the same size limit;
//   - the compression table does not fill up with the longer question.
// A random-subdomain flood under a delegation (a root server's junk
// queries for one TLD) then costs a parse and a copy instead of the lookup
// and the rendering.

// refMax bounds the memo's entries; it is emptied when full.
const refMax = 4096

// refTemplate is one remembered referral.
type refTemplate struct {
	reply  []byte   // the rendering, for the first query name
	qlen   int      // that name's wire length
	labels int      // its labels
	relocs []uint16 // offsets of the compression pointers after the question
	ncomp  int      // names in the compression table at the end
	limit  int      // the size limit it was rendered under
	info   Info
}

// refKey is the memo's key: the delegation's lower-case name, then the
// query's bytes without its ID and question name.
func refKey(dst []byte, deleg []byte, pkt []byte, qend int) []byte {
	dst = append(dst[:0], deleg...)
	dst = append(dst, pkt[2:wire.HeaderLen]...)
	return append(dst, pkt[qend-4:]...)
}

// referralFromMemo answers pkt, parsed well-formed in c.s.q, from the
// memo if it can; ok is false when the engine must.
func (c *Cache) referralFromMemo(dst, pkt []byte) (out []byte, info Info, ok bool) {
	q := &c.s.q
	if len(c.ref) == 0 || q.QClass != 1 || q.Opcode != 0 {
		return nil, info, false
	}
	n := wire.Labels(q.QLower)
	for k := 1; k < n && k <= refMaxDepth; k++ {
		deleg := wire.Suffix(q.QLower, k)
		c.keyBuf = refKey(c.keyBuf, deleg, pkt, q.QEnd)
		t := c.ref[string(c.keyBuf)]
		if t == nil {
			continue
		}
		delta := len(q.QName) - t.qlen
		if len(t.reply)+delta > t.limit || t.ncomp+n-t.labels >= wire.MaxCompression || len(t.reply)+delta >= 0x3FFF {
			return nil, info, false
		}
		qend := wire.HeaderLen + t.qlen + 4
		out = append(dst[:0], pkt[0], pkt[1])
		out = append(out, t.reply[2:wire.HeaderLen]...)
		out = append(out, pkt[wire.HeaderLen:q.QEnd]...)
		body := len(out)
		out = append(out, t.reply[qend:]...)
		for _, r := range t.relocs {
			p := body + int(r)
			ptr := binary.BigEndian.Uint16(out[p:])
			binary.BigEndian.PutUint16(out[p:], uint16(int(ptr)+delta))
		}
		return out, t.info, true
	}
	return nil, info, false
}

// refSalt tells the memo's keys from the cache's in the doorkeeper.
const refSalt = 0x5bd1e9955bd1e995

// refMaxDepth bounds the delegation depths the memo looks up (a TLD's
// delegations are 2 labels deep, the root's 1).
const refMaxDepth = 4

// rememberReferral keeps the referral just rendered in c.s as out, if the
// engine would render it alike for the other names below its delegation.
func (c *Cache) rememberReferral(pkt, out []byte, info Info) {
	s := &c.s
	q, a := &s.q, &s.a
	if info.Kind != KindReferral || a.rrlName == nil || !s.complete || q.QClass != 1 || q.Opcode != 0 {
		return
	}
	deleg := a.rrlName
	k := wire.Labels(deleg)
	n := wire.Labels(q.QLower)
	if n <= k || k > refMaxDepth || len(out) < q.QEnd {
		return
	}
	// Pointers into the question must point into the delegation's name.
	delegStart := wire.HeaderLen + len(q.QName) - len(deleg)
	relocs := make([]uint16, 0, len(s.relocs))
	for _, r := range s.relocs {
		if r < q.QEnd || r+2 > len(out) {
			return
		}
		t := int(binary.BigEndian.Uint16(out[r:]) & 0x3FFF)
		if t < q.QEnd && t < delegStart {
			return
		}
		relocs = append(relocs, uint16(r-q.QEnd))
	}
	c.keyBuf = refKey(c.keyBuf, deleg, pkt, q.QEnd)
	// Kept the second time the delegation and query shape are seen, as
	// the cache keeps replies: one-off delegations cost no allocation.
	if !c.seenBefore(maphash.Bytes(c.seed, c.keyBuf) ^ refSalt) {
		return
	}
	if len(c.ref) >= refMax {
		clear(c.ref)
	}
	c.ref[string(c.keyBuf)] = &refTemplate{
		reply: append([]byte(nil), out...), qlen: len(q.QName), labels: n, relocs: relocs,
		ncomp: s.b.Compressed(), limit: s.limit, info: info,
	}
}
