package engine

import (
	"errors"
	"strings"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/zonecompiler/wire"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// scratch is the per-query working memory, pooled by the engine so that
// answering allocates nothing in the steady state.
type scratch struct {
	q wire.Query
	a answer
	b wire.Builder
	// reqEnd is where the required records ended in the last render.
	reqEnd int
	// cookie is the COOKIE option of the reply: the client cookie, then
	// CookieLen zeros for the server to fill.
	cookie [8 + CookieLen]byte
	// relocs collects the compression pointers of a render when asked
	// (the referral memo, Cache); complete says the last render wrote
	// every record it decided (no truncation, no additional data left
	// out for size); limit is the size limit it had.
	relocs   []int
	complete bool
	limit    int
	// slotOff is where the denial slot fell in the last render (slot
	// mode only).
	slotOff int
}

// MaxTCPMessage is the largest DNS message over TCP (RFC 1035 §4.2.2).
const MaxTCPMessage = 65535

// Respond builds the reply to the query pkt into dst[:0] and returns it;
// nil means the packet is to be dropped without reply (RFC 1035 §7.3,
// RFC 6891 §7). tcp selects the TCP size limit and RFC 8482 ANY handling.
func (e *Engine) Respond(dst, pkt []byte, tcp bool) []byte {
	s := e.pool.Get().(*scratch)
	defer e.pool.Put(s)
	out, _ := e.respondSet(s, e.zones.Load(), dst, pkt, tcp)
	return out
}

// RespondKind is Respond that also says what kind of answer was given.
func (e *Engine) RespondKind(dst, pkt []byte, tcp bool) ([]byte, Kind) {
	s := e.pool.Get().(*scratch)
	defer e.pool.Put(s)
	return e.respondSet(s, e.zones.Load(), dst, pkt, tcp)
}

// respondSet answers pkt from the zone set set.
func (e *Engine) respondSet(s *scratch, set *zone.Set, dst, pkt []byte, tcp bool) ([]byte, Kind) {
	return e.respondParsed(s, set, dst, wire.ParseQuery(pkt, &s.q), tcp)
}

// respondParsed is respondSet once pkt is parsed into s.q, with the
// parser's error.
func (e *Engine) respondParsed(s *scratch, set *zone.Set, dst []byte, perr error, tcp bool) ([]byte, Kind) {
	q := &s.q
	if err := perr; err != nil {
		switch {
		case errors.Is(err, wire.ErrFormat):
			return e.errorReply(s, dst, dns.RcodeFormatError), KindError
		case errors.Is(err, wire.ErrNotImpl):
			return e.errorReply(s, dst, dns.RcodeNotImplemented), KindError
		}
		return nil, KindError
	}
	a := &s.a
	a.reset()
	a.do = q.DO
	a.tcp = tcp
	if e.cfg.Cookies && q.CookieBad {
		// RFC 7873 §5.2.2: a malformed COOKIE option.
		return e.errorReply(s, dst, dns.RcodeFormatError), KindError
	}
	limit := int(e.cfg.UDPSize)
	switch {
	case tcp:
		limit = MaxTCPMessage
	case !q.EDNS:
		limit = wire.MinUDPPayload
	case q.UDPSize < e.cfg.UDPSize:
		limit = int(q.UDPSize)
	}
	if q.EDNS && q.Version != 0 {
		// RFC 6891 §6.1.3: BADVERS, with our version (0) in the OPT.
		a.rcode, a.kind = dns.RcodeBadVers, KindError
		return e.render(s, dst, limit), a.kind
	}
	switch q.QType {
	case dns.TypeOPT:
		return e.errorReply(s, dst, dns.RcodeFormatError), KindError
	case dns.TypeMAILA, dns.TypeMAILB:
		return e.errorReply(s, dst, dns.RcodeNotImplemented), KindError
	}
	e.decide(a, q, set)
	s.limit = limit
	return e.render(s, dst, limit), a.kind
}

// decide fills in the answer to a well-formed standard query.
func (e *Engine) decide(a *answer, q *wire.Query, set *zone.Set) {
	switch {
	case q.QClass == dns.ClassCHAOS:
		e.chaos(a, q)
	case q.QClass != dns.ClassINET && q.QClass != dns.ClassANY:
		a.rcode, a.kind = dns.RcodeRefused, KindRefused
	case q.QType == dns.TypeAXFR || q.QType == dns.TypeIXFR:
		// Zone transfers are the server's business, over TCP, and only
		// for allowed clients; anything that reaches the engine is not.
		a.rcode, a.kind = dns.RcodeRefused, KindRefused
	default:
		// QCLASS ANY (RFC 1035 §3.2.5) is answered as IN, the only class
		// served, so the answer is complete for every class: AA and the
		// negative answer's SOA stay, as Knot answers (NSD clears AA and
		// drops the authority section; RFC 1035 §6.2 leaves it open).
		e.lookup(a, set, wire.Name{Wire: q.QName, Lower: q.QLower}, q.QType)
	}
}

// chaos answers the CHAOS-class identity queries (id.server, hostname.bind,
// version.bind, version.server); everything else in CHAOS is refused.
func (e *Engine) chaos(a *answer, q *wire.Query) {
	a.kind = KindChaos
	var rr *zone.RR
	switch wire.String(q.QLower) {
	case "id.server.", "hostname.bind.":
		rr = e.chaosID
	case "version.bind.", "version.server.":
		rr = e.chaosVersion
	}
	if rr == nil {
		a.rcode, a.kind = dns.RcodeRefused, KindRefused
		return
	}
	a.aa = true
	if q.QType != dns.TypeTXT && q.QType != dns.TypeANY {
		return // NODATA: the name exists in CHAOS, this type does not
	}
	a.an = append(a.an, item{rr: rr, owner: wire.Name{Wire: q.QName, Lower: q.QLower}, setStart: true})
}

// chaosTXT builds a CHAOS TXT record for the identity answers.
func chaosTXT(name, text string) *zone.RR {
	if text == "" {
		return nil
	}
	var rd []byte
	for len(text) > 0 || rd == nil {
		n := len(text)
		if n > 255 {
			n = 255
		}
		rd = append(rd, byte(n))
		rd = append(rd, text[:n]...)
		text = text[n:]
	}
	w := make([]byte, wire.MaxNameLen+1)
	l, _ := dns.PackDomainName(strings.ToLower(name), w, 0, nil, false)
	owner := wire.NewPacked(w[:l])
	return zone.NewRR(&owner, dns.TypeTXT, dns.ClassCHAOS, 0, rd)
}

// errorReply answers FORMERR or NOTIMP, echoing the question when it could
// be read and the OPT when the query had one.
func (e *Engine) errorReply(s *scratch, dst []byte, rcode int) []byte {
	q := &s.q
	b := &s.b
	b.Reset(dst, MaxTCPMessage)
	b.Header(q.ID, wire.FlagQR|q.Flags&(wire.OpcodeMask|wire.FlagRD|wire.FlagCD)|uint16(rcode&0xF))
	if q.QName != nil {
		b.Question(q.QName, q.QLower, q.QType, q.QClass)
		b.SetCount(0, 1)
	}
	if q.EDNS && rcode != dns.RcodeFormatError {
		b.OPT(e.cfg.UDPSize, 0, q.DO, nil, e.replyCookie(s))
		b.SetCount(3, 1)
	}
	return b.Buf
}

// replyCookie is the COOKIE option data of the reply to the query in s:
// its client cookie and CookieLen zeros, or nil (cookies off, no option,
// a malformed one).
func (e *Engine) replyCookie(s *scratch) []byte {
	q := &s.q
	if !e.cfg.Cookies || q.Cookie == nil || q.CookieBad {
		return nil
	}
	copy(s.cookie[:8], q.Cookie)
	clear(s.cookie[8:])
	return s.cookie[:]
}

// BadCookie renders BADCOOKIE (RFC 7873 §5.2.3) for the query pkt, with a
// COOKIE option for the server to fill, as Config.Cookies does; nil when
// the query has no well-formed COOKIE option or cookies are off (the
// server cannot tell the client a cookie then).
func (e *Engine) BadCookie(dst, pkt []byte) []byte {
	s := e.pool.Get().(*scratch)
	defer e.pool.Put(s)
	q := &s.q
	if wire.ParseQuery(pkt, q) != nil || !q.EDNS || e.replyCookie(s) == nil {
		return nil
	}
	b := &s.b
	b.Reset(dst, MaxTCPMessage)
	b.Header(q.ID, wire.FlagQR|q.Flags&(wire.OpcodeMask|wire.FlagRD|wire.FlagCD)|uint16(dns.RcodeBadCookie&0xF))
	b.Question(q.QName, q.QLower, q.QType, q.QClass)
	b.SetCount(0, 1)
	b.OPT(e.cfg.UDPSize, uint8(dns.RcodeBadCookie>>4), q.DO, nil, e.replyCookie(s))
	b.SetCount(3, 1)
	return b.Buf
}

// render writes the answer decided in s.a under the size limit; when the
// answer and authority (and required glue) do not fit, it sends an empty
// reply with TC=1 (RFC 2181 §9, RFC 9471).
func (e *Engine) render(s *scratch, dst []byte, limit int) []byte {
	if s.relocs != nil {
		s.relocs = s.relocs[:0]
		return e.renderWith(s, dst, limit, &s.relocs)
	}
	return e.renderWith(s, dst, limit, nil)
}

// renderWith is render that, when relocs is not nil, records the offset of
// every compression pointer written (for Precompute).
func (e *Engine) renderWith(s *scratch, dst []byte, limit int, relocs *[]int) []byte {
	q, a, b := &s.q, &s.a, &s.b
	flags := wire.FlagQR | q.Flags&(wire.FlagRD|wire.FlagCD) | uint16(a.rcode&0xF)
	if a.aa {
		flags |= wire.FlagAA
	}
	var nsid, cookie []byte
	optLen := 0
	if q.EDNS {
		optLen = 11
		if q.NSID && e.cfg.NSID != nil {
			nsid = e.cfg.NSID
			optLen += 4 + len(nsid)
		}
		if cookie = e.replyCookie(s); cookie != nil {
			optLen += 4 + len(cookie)
		}
	}
	b.Reset(dst, limit-optLen)
	b.Relocs = relocs
	b.Header(q.ID, flags)
	b.Question(q.QName, q.QLower, q.QType, q.QClass)
	bodyStart := len(b.Buf)
	if a.compressFrom != nil {
		// Every name at or below a cut gets the same referral: its names
		// compress against the question from the cut up only, never
		// against the labels below it, so that the bytes are the same
		// for all of them but the question (one XDP template for the
		// cut, none for the names below it: a TLD's glue names). So
		// does an NSEC zone's DS NODATA at an insecure delegation, from
		// the delegation's parent up (answer.compressFrom).
		b.ForgetLonger(len(a.compressFrom))
	}
	b.SetCount(0, 1)
	afterQ := b.Mark()
	nan, nns, nar := 0, 0, 0
	truncated := false
	for i := range a.an {
		writeItem(b, &a.an[i])
	}
	nan = len(a.an)
	for i := range a.ns {
		if i == a.slot {
			s.slotOff = len(b.Buf)
		}
		if it := &a.ns[i]; it.setStart {
			if t := it.rr.Type; t == dns.TypeNSEC || t == dns.TypeNSEC3 {
				// A proof's NSEC or NSEC3 RRset compresses against the
				// question and itself only, never against the body
				// before it: written so, it is the same bytes after any
				// head, which lets the XDP program put it in the denial
				// slot of every template reading its chain view.
				b.Hide(bodyStart)
			} else {
				b.Unhide()
			}
		}
		writeItem(b, &a.ns[i])
	}
	b.Unhide()
	if a.slot == len(a.ns) {
		s.slotOff = len(b.Buf)
	}
	nns = len(a.ns)
	for i := 0; i < a.arRequired; i++ {
		writeItem(b, &a.ar[i])
	}
	nar = a.arRequired
	s.reqEnd = len(b.Buf)
	if b.Full() {
		truncated = true
	} else {
		// Optional additional data, whole RRsets while they fit.
		for i := a.arRequired; i < len(a.ar); {
			m := b.Mark()
			j := i
			for ; j < len(a.ar) && (j == i || !a.ar[j].setStart); j++ {
				writeItem(b, &a.ar[j])
			}
			if b.Full() {
				b.Rollback(m)
				break
			}
			nar += j - i
			i = j
		}
	}
	s.complete = !truncated && nar == len(a.ar)
	if truncated {
		b.Rollback(afterQ)
		b.SetFlags(flags | wire.FlagTC)
		nan, nns, nar = 0, 0, 0
	}
	b.SetCount(1, nan)
	b.SetCount(2, nns)
	if q.EDNS {
		b.OPT(e.cfg.UDPSize, uint8(a.rcode>>4), q.DO, nsid, cookie)
		nar++
	}
	b.SetCount(3, nar)
	return b.Buf
}

// writeItem appends one record, compressing its owner and the RDATA names
// RFC 1035 allows to be compressed.
func writeItem(b *wire.Builder, it *item) {
	rr := it.rr
	owner := it.owner
	if owner.Wire == nil {
		owner = rr.Owner.Name()
	}
	ttl := rr.TTL
	if it.ttlSet {
		ttl = it.ttl
	}
	b.Name(owner.Wire, owner.Lower, true)
	if it.synth != nil {
		lenOff := b.RRHeader(dns.TypeCNAME, rr.Class(), ttl)
		b.Name(it.synth, it.synthLower, true)
		b.EndRData(lenOff)
		return
	}
	lenOff := b.RRHeader(rr.Type, rr.Class(), ttl)
	rd := rr.RData()
	pos, n := rr.Names()
	b.Buf = append(b.Buf, rd[:pos]...)
	for range n {
		_, end, err := wire.ReadName(rd, pos)
		if err != nil {
			break
		}
		b.Name(rd[pos:end], rr.RDataLower()[pos:end], true)
		pos = end
	}
	b.Buf = append(b.Buf, rd[pos:]...)
	b.EndRData(lenOff)
}
