package server

import (
	"errors"
	"net"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/xdpdns/xdpdns/cookie"
	"github.com/xdpdns/xdpdns/rrl"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
)

// maxUDPMessage is the largest UDP payload.
const maxUDPMessage = 65535

// udpBatch is how many datagrams one recvmmsg/sendmmsg moves: one system
// call per batch instead of one per query under load.
const udpBatch = 32

// udpQueryBuf bounds a UDP query read (a longer one is truncated and gets
// FORMERR); udpReplyBuf is the reply buffer each slot starts with (the
// engine grows it for the rare larger reply).
const (
	udpQueryBuf = 4096
	udpReplyBuf = 4096
)

// serveUDP answers the queries arriving on one UDP socket until it is
// closed. Each socket has its own goroutine and its own buffers, allocated
// once: queries are read and replies written in batches, and a query
// costs no allocation.
func (s *Server) serveUDP(u udpSocket, cache *engine.Cache) {
	defer s.wg.Done()
	oobSize := 0
	if u.pktinfo {
		oobSize = pktinfoSpace
	}
	bio, err := newBatchConn(u.c, udpBatch, udpQueryBuf, oobSize)
	if err != nil {
		s.log.Error("udp socket not served", "err", err)
		return
	}
	in := make([]datagram, udpBatch)
	lim := rrl.New(s.cfg.RRL)
	if cache != nil {
		cache.Names = lim != nil // bucket names only for rate limiting
	}
	ce, _ := s.eng.(CachingEngine)    // resolved once, not per query
	slips := make([][]byte, udpBatch) // truncated replies of limited responses
	replies := make([][]byte, udpBatch)
	replyCtl := make([][]byte, udpBatch)
	out := make([]reply, 0, udpBatch)
	for i := range replies {
		replies[i] = make([]byte, 0, udpReplyBuf)
		if u.pktinfo {
			replyCtl[i] = make([]byte, 0, pktinfoSpace)
		}
	}
	local := netip.AddrPort{}
	if la, ok := u.c.LocalAddr().(*net.UDPAddr); ok {
		local = la.AddrPort()
	}
	var hits, misses uint64 // cache counts already added to s.n
	for {
		n, err := bio.recv(in)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.isClosed() {
				return
			}
			s.log.Debug("udp read", "err", err)
			continue
		}
		u.received.Add(uint64(n))
		out = out[:0]
		var now int64 // for rate limiting: one clock reading per batch
		if lim != nil {
			now = int64(time.Since(s.epoch))
		}
		keys := s.cookies.Load()  // nil: cookies off
		validCookies := uint64(0) // added to the counter once per batch
		var nowSec uint32
		if keys != nil {
			nowSec = uint32(time.Now().Unix())
		}
		for i := 0; i < n; i++ {
			d := &in[i]
			if !d.from.IsValid() {
				continue // no way to answer
			}
			if s.cfg.DropSourcePorts.Has(d.from.Port()) {
				s.n.udpDroppedSourcePort.Add(1)
				continue
			}
			if d.from.Port() == 0 {
				continue // no way to answer
			}
			var oob []byte
			if u.pktinfo {
				var dst destination
				oob, dst = replyOOB(replyCtl[i][:0], d.oob, u.v6)
				if dst == destGroup && !s.answerGroup(u) {
					continue
				}
			}
			var received time.Time
			tapped := s.cfg.Tap != nil && s.cfg.Tap.Sampled()
			if tapped {
				received = time.Now()
			}
			resp, isNotify := s.notify(d.pkt, d.from.Addr())
			if !isNotify {
				var info engine.Info
				cookieOK, cookieSent := false, false
				if keys != nil {
					cdata := cookie.FromQuery(d.pkt)
					cookieSent = cdata != nil
					cookieOK = keys.valid(cdata, d.from.Addr(), nowSec)
				}
				switch {
				case keys != nil && s.cfg.CookieRequire && !cookieOK && cookieSent:
					// RFC 7873 §5.2.3: BADCOOKIE with a fresh cookie;
					// rate-limited as an error.
					resp = s.badCookie(replies[i][:0], d.pkt)
					info = engine.Info{Kind: engine.KindError}
					s.n.cookieBad.Add(1)
				default:
					resp, info = s.respondUDP(ce, cache, replies[i][:0], d.pkt)
				}
				if cap(resp) > cap(replies[i]) {
					replies[i] = resp[:0] // keep the grown buffer
				}
				if keys != nil && s.cfg.CookieRequire && !cookieOK && !cookieSent && resp != nil {
					// No cookie to tell the client: only TCP proves its
					// address, so the reply is truncated.
					slips[i] = engine.Truncated(slips[i][:0], resp)
					resp = slips[i]
					s.n.cookieNone.Add(1)
				}
				if resp != nil && keys != nil {
					cookie.Fill(resp, d.from.Addr(), nowSec, keys.current)
				}
				if cookieOK {
					validCookies++
				}
				if resp != nil && lim != nil && !cookieOK { // a valid server cookie exempts the client
					switch lim.Decide(d.from.Addr(), rrl.ClassOf(info.Kind), info.Name, now) {
					case rrl.Slip:
						s.n.rrlSlipped.Add(1)
						slips[i] = engine.Truncated(slips[i][:0], resp)
						resp = slips[i]
					case rrl.Drop:
						s.n.rrlDropped.Add(1)
						resp = nil
					}
				}
			}
			if resp == nil {
				continue
			}
			if tapped {
				s.observe(false, d.from, local, received, d.pkt, resp)
			}
			out = append(out, reply{b: resp, oob: oob, slot: i})
		}
		if validCookies > 0 {
			s.n.cookieValid.Add(validCookies)
		}
		if cache != nil {
			s.n.udpCacheHits.Add(cache.Hits - hits)
			s.n.udpCacheMisses.Add(cache.Misses - misses)
			hits, misses = cache.Hits, cache.Misses
		}
		if len(out) == 0 {
			continue
		}
		if err := bio.send(out); err != nil && !s.isClosed() {
			s.log.Debug("udp write", "err", err)
		}
	}
}

// answerGroup says whether socket u answers a query sent to a broadcast
// or multicast address: every socket of the address gets a copy, and only
// the first answers, when Config.AnswerGroupQueries allows; the first
// counts the queries dropped.
func (s *Server) answerGroup(u udpSocket) bool {
	if !u.first {
		return false
	}
	if !s.cfg.AnswerGroupQueries {
		s.n.udpDroppedGroup.Add(1)
		return false
	}
	return true
}

// newCache returns one UDP socket's reply cache (nil: none).
func (s *Server) newCache() *engine.Cache {
	if _, ok := s.eng.(CachingEngine); !ok || s.cfg.AnswerCache < 0 || len(s.udp) == 0 {
		return nil
	}
	return engine.NewCache(s.cfg.AnswerCache / len(s.udp))
}

// respondUDP answers one UDP query, through the socket's cache when it
// has one, dropping it (and logging) should the engine ever panic. ce is
// the engine as a CachingEngine (nil if it is not one: the Info is then the
// zero value, an answer not rate limited by name).
func (s *Server) respondUDP(ce CachingEngine, c *engine.Cache, dst, pkt []byte) (resp []byte, info engine.Info) {
	if ce == nil {
		return s.respond(dst, pkt, false), info
	}
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic answering a query; dropped", "panic", r, "tcp", false, "stack", string(debug.Stack()))
			resp = nil
		}
	}()
	return ce.RespondUDP(c, dst, pkt)
}

// respond runs the engine on one query, dropping it (and logging) should
// the engine ever panic.
func (s *Server) respond(dst, pkt []byte, tcp bool) (resp []byte) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic answering a query; dropped", "panic", r, "tcp", tcp, "stack", string(debug.Stack()))
			resp = nil
		}
	}()
	return s.eng.Respond(dst, pkt, tcp)
}
