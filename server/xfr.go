package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/xdpdns/xdpdns/tsig"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// Zone transfers (RFC 5936 AXFR; RFC 1995 IXFR answered with a full
// transfer, as its §4 allows). Only over TCP and only to clients in
// Config.AXFRAllow. Refusals are decided in this order, so that a client
// that may not transfer learns nothing about which zones are served:
//
//   - client not allowed, or class not IN: REFUSED;
//   - the name is not the apex of a served zone: NOTAUTH (RFC 5936
//     §2.2.1: "If a server is not authoritative for the queried zone, the
//     server SHOULD set the value to NotAuth(9)");
//   - IXFR whose SOA serial is not older than ours: the single SOA that
//     says the client is up to date (RFC 1995 §2);
//   - otherwise the whole zone: SOA, every record but the apex SOA in file
//     order, SOA again.

// xfrQuery is the question of a zone transfer query.
type xfrQuery struct {
	qtype uint16
	lower []byte // lower-case wire form of the question name
}

// parseXFR reports whether msg is a standard query whose single question
// asks for AXFR or IXFR.
func parseXFR(msg []byte) (xfrQuery, bool) {
	if len(msg) < headerLen {
		return xfrQuery{}, false
	}
	flags := binary.BigEndian.Uint16(msg[2:])
	if flags&wire.FlagQR != 0 || flags&wire.OpcodeMask != 0 || binary.BigEndian.Uint16(msg[4:]) != 1 {
		return xfrQuery{}, false
	}
	name, off, err := wire.ReadName(msg, headerLen)
	if err != nil || off+4 > len(msg) {
		return xfrQuery{}, false
	}
	qt := binary.BigEndian.Uint16(msg[off:])
	if qt != dns.TypeAXFR && qt != dns.TypeIXFR {
		return xfrQuery{}, false
	}
	return xfrQuery{qtype: qt, lower: wire.ToLower(name)}, true
}

// allowed reports whether client may transfer zones, signed with key (nil:
// unsigned): a prefix of AXFRAllow, or one of AXFRAllowKeyed with its key.
func (s *Server) allowed(client netip.Addr, key *tsig.Key) bool {
	if !client.IsValid() {
		return false
	}
	for _, p := range s.cfg.AXFRAllow {
		if p.Contains(client) {
			return true
		}
	}
	for _, kp := range s.cfg.AXFRAllowKeyed {
		if kp.Prefix.Contains(client) && key != nil && key.Name == dns.CanonicalName(kp.Key) {
			return true
		}
	}
	return false
}

// tsigFudge is the time window of our TSIG signatures (RFC 8945 §10
// recommends 300 s).
const tsigFudge = 300

// checkTSIG verifies the TSIG of a transfer request, raw being its wire
// form. It returns the key it was signed with (nil: unsigned), or the
// TSIG error to answer (dns.RcodeBadSig, RcodeBadKey, RcodeBadTime).
func (s *Server) checkTSIG(req *dns.Msg, raw []byte) (*tsig.Key, int) {
	t := req.IsTsig()
	if t == nil {
		return nil, 0
	}
	k, ok := s.cfg.Keys.Lookup(t.Hdr.Name)
	if !ok || !strings.EqualFold(dns.CanonicalName(t.Algorithm), k.Algorithm) {
		s.n.xfrTSIGBadKey.Add(1)
		return nil, dns.RcodeBadKey
	}
	if err := dns.TsigVerify(raw, k.Secret, "", false); err != nil {
		if errors.Is(err, dns.ErrTime) {
			s.n.xfrTSIGBadTime.Add(1)
			return &k, dns.RcodeBadTime
		}
		s.n.xfrTSIGBadSig.Add(1)
		return nil, dns.RcodeBadSig
	}
	return &k, 0
}

// transfer answers the zone transfer query req (x: its question, raw: its
// wire form).
func (s *Server) transfer(c net.Conn, req *dns.Msg, x xfrQuery, raw []byte, client netip.Addr) error {
	q := req.Question[0]
	log := s.log.With("client", client, "zone", q.Name, "qtype", dns.TypeToString[x.qtype])
	key, tsigErr := s.checkTSIG(req, raw)
	reply := func(rcode int, why string) error {
		log.Info("zone transfer refused", "rcode", dns.RcodeToString[rcode], "reason", why)
		w := s.newXFRWriter(c, req, key)
		w.m.Rcode = rcode
		w.m.Authoritative = false
		return w.flush()
	}
	if tsigErr != 0 {
		// RFC 8945 §5.3.2: NOTAUTH with the TSIG error; signed only
		// for BADTIME, whose key and MAC checked out.
		log.Warn("zone transfer refused: TSIG", "error", dns.RcodeToString[tsigErr], "key", req.IsTsig().Hdr.Name)
		w := s.newXFRWriter(c, req, key)
		w.m.Rcode = dns.RcodeNotAuth
		w.m.Authoritative = false
		w.tsigError = tsigErr
		return w.flush()
	}
	if opt := req.IsEdns0(); opt != nil && opt.Version() != 0 {
		return reply(dns.RcodeBadVers, "unsupported EDNS version")
	}
	if !s.allowed(client, key) {
		return reply(dns.RcodeRefused, "client not in axfr-allow (or without its key)")
	}
	if q.Qclass != dns.ClassINET {
		return reply(dns.RcodeRefused, "class is not IN")
	}
	z := s.eng.Zones().Zone(x.lower)
	if z == nil {
		return reply(dns.RcodeNotAuth, "not a zone apex")
	}
	soa := z.SOA.RRs()[0].Src()
	w := s.newXFRWriter(c, req, key)
	if x.qtype == dns.TypeIXFR && ixfrUpToDate(req, z.Serial) {
		log.Info("ixfr: client is up to date", "serial", z.Serial)
		if err := w.add(soa); err != nil {
			return err
		}
		return w.flush()
	}
	start := time.Now()
	if err := w.add(soa); err != nil {
		return err
	}
	for rr := range z.Records() {
		if rr.Type == dns.TypeSOA && string(wire.ToLower(rr.Owner.Wire())) == string(z.Origin.Lower) {
			continue
		}
		if err := w.add(rr.Src()); err != nil {
			return err
		}
	}
	if err := w.add(soa); err != nil {
		return err
	}
	if err := w.flush(); err != nil {
		return err
	}
	log.Info("zone transfer", "serial", z.Serial, "records", w.rrs, "messages", w.msgs, "took", time.Since(start))
	return nil
}

// pack packs the message into space, with its TSIG record: signed with the
// request's key, or (BADSIG, BADKEY) carrying only the error.
func (w *xfrWriter) pack(space []byte) ([]byte, error) {
	if w.key == nil && w.tsigError == 0 {
		return w.m.PackBuffer(space)
	}
	extra := w.m.Extra
	defer func() { w.m.Extra = extra }()
	if w.key == nil {
		tsigRR := &dns.TSIG{
			Hdr:       dns.RR_Header{Name: w.reqTSIG.Hdr.Name, Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
			Algorithm: w.reqTSIG.Algorithm, TimeSigned: uint64(time.Now().Unix()), Fudge: tsigFudge,
			OrigId: w.m.Id, Error: uint16(w.tsigError),
		}
		w.m.Extra = append(w.m.Extra[:len(w.m.Extra):len(w.m.Extra)], tsigRR)
		return w.m.PackBuffer(space)
	}
	w.m.SetTsig(w.key.Name, w.key.Algorithm, tsigFudge, time.Now().Unix())
	if w.tsigError != 0 {
		t := w.m.IsTsig()
		t.Error = uint16(w.tsigError)
		if w.tsigError == dns.RcodeBadTime {
			now := uint64(time.Now().Unix())
			t.OtherLen = 6
			t.OtherData = fmt.Sprintf("%012x", now)
		}
	}
	buf, mac, err := dns.TsigGenerate(w.m, w.key.Secret, w.mac, w.msgs > 0)
	if err != nil {
		return nil, err
	}
	w.mac = mac
	return buf, nil
}

// ixfrUpToDate reports whether the IXFR query carries an SOA whose serial
// is not older than serial (RFC 1982 arithmetic).
func ixfrUpToDate(req *dns.Msg, serial uint32) bool {
	for _, rr := range req.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return int32(soa.Serial-serial) >= 0
		}
	}
	return false
}

// xfrWriter packs records into transfer messages of about
// Config.XFRMessageSize bytes and writes them to the connection.
type xfrWriter struct {
	s    *Server
	c    net.Conn
	m    *dns.Msg
	base int // size of the message without answers
	size int // estimated size with the answers so far
	buf  []byte
	msgs int // messages written
	rrs  int // records written
	// key signs every message when the request was signed with it
	// (RFC 8945 §5.3.1: the first MAC covers the request's, each later
	// one the previous MAC and the timers); mac is the last MAC.
	key       *tsig.Key
	mac       string
	tsigError int       // a TSIG error to answer (BADSIG and BADKEY unsigned)
	reqTSIG   *dns.TSIG // the request's TSIG record, if any
}

// newXFRWriter starts the reply to req: its ID and question, AA, and an OPT
// record when req had one; signed with key when not nil.
func (s *Server) newXFRWriter(c net.Conn, req *dns.Msg, key *tsig.Key) *xfrWriter {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.Compress = true
	if req.IsEdns0() != nil {
		m.SetEdns0(s.cfg.EDNSSize, false)
	}
	base := m.Len()
	w := &xfrWriter{s: s, c: c, m: m, base: base, size: base, key: key}
	if t := req.IsTsig(); t != nil {
		w.reqTSIG = t
		w.mac = t.MAC // the request's MAC starts the chain
		w.base += 100 // room for our TSIG record
		w.size = w.base
	}
	return w
}

// add appends rr, first writing the message so far if rr would take it
// past the target size. Sizes are counted uncompressed, so messages come
// out smaller than the target.
func (w *xfrWriter) add(rr dns.RR) error {
	n := dns.Len(rr)
	if len(w.m.Answer) > 0 && w.size+n > w.s.cfg.XFRMessageSize {
		if err := w.flush(); err != nil {
			return err
		}
	}
	w.m.Answer = append(w.m.Answer, rr)
	w.size += n
	return nil
}

// flush writes the message built so far and starts the next one.
func (w *xfrWriter) flush() error {
	// PackBuffer needs one byte more than the uncompressed size.
	if need := 2 + w.size + 64; cap(w.buf) < need {
		w.buf = make([]byte, 0, max(need, 2+w.s.cfg.XFRMessageSize+64))
	}
	space := w.buf[2:cap(w.buf)]
	packed, err := w.pack(space)
	if err != nil {
		return fmt.Errorf("packing transfer message: %w", err)
	}
	if len(packed) > maxTCPMessage {
		return fmt.Errorf("transfer message of %d bytes is too large", len(packed))
	}
	var frame []byte
	if &packed[0] == &space[0] {
		frame = w.buf[:2+len(packed)] // packed in place after the prefix
	} else {
		frame = append(w.buf[:2], packed...)
	}
	binary.BigEndian.PutUint16(frame, uint16(len(packed)))
	if err := w.s.writeFrame(w.c, frame); err != nil {
		return err
	}
	w.msgs++
	w.rrs += len(w.m.Answer)
	w.buf = frame[:0]
	w.m.Answer = w.m.Answer[:0]
	w.size = w.base
	return nil
}
