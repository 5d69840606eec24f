package server

import "sync/atomic"

// counters counts what the server refused or dropped before the engine
// saw it; the engine's own answers are counted by its caller.
type counters struct {
	tcpRefusedPool   atomic.Uint64 // connections closed: public pool full
	tcpRefusedClient atomic.Uint64 // connections closed: client quota used up

	udpDroppedSourcePort atomic.Uint64 // queries from a DropSourcePorts port
	udpDroppedGroup      atomic.Uint64 // queries to a broadcast or multicast address

	cookieValid atomic.Uint64 // UDP queries with a valid server cookie
	cookieBad   atomic.Uint64 // UDP queries answered BADCOOKIE (cookie-require)
	cookieNone  atomic.Uint64 // UDP queries without a cookie answered truncated (cookie-require)

	rrlSlipped atomic.Uint64 // UDP replies over the rate limit sent truncated
	rrlDropped atomic.Uint64 // UDP replies over the rate limit not sent

	udpCacheHits   atomic.Uint64 // UDP queries answered from a socket's reply cache
	udpCacheMisses atomic.Uint64 // UDP queries the cache did not hold (the engine answered)

	xfrTSIGBadSig  atomic.Uint64 // transfer requests with a TSIG that does not verify
	xfrTSIGBadKey  atomic.Uint64 // transfer requests signed with a key we do not have
	xfrTSIGBadTime atomic.Uint64 // transfer requests signed outside the fudge window

	notifyRefused atomic.Uint64 // NOTIFYs answered REFUSED (not from a primary, not a secondary zone)
	notifyNotAuth atomic.Uint64 // NOTIFYs answered NOTAUTH (without the zone's TSIG key)
}

// Counters returns the server's counters by name:
//   - tcp_refused_pool: TCP connections closed on accept because the
//     public pool (TCPMaxConns) was full;
//   - tcp_refused_client: TCP connections closed on accept because their
//     client already held TCPMaxConnsPerClient connections;
//   - udp_dropped_source_port: UDP queries dropped unanswered because
//     they came from a port of DropSourcePorts;
//   - udp_dropped_group: UDP queries to a broadcast or multicast address,
//     dropped unanswered (unless AnswerGroupQueries);
//   - cookie_valid: UDP queries with a valid server cookie (DNS Cookies:
//     never rate-limited); cookie_badcookie and cookie_none_truncated:
//     UDP queries answered BADCOOKIE, or truncated for want of any
//     cookie, under Config.CookieRequire;
//   - rrl_slipped, rrl_dropped: UDP replies over the rate limit (Config.RRL)
//     sent as a minimal TC=1 reply, and not sent at all; their sum is
//     the responses limited;
//   - xfr_tsig_badsig, xfr_tsig_badkey, xfr_tsig_badtime: zone transfer
//     requests refused for their TSIG (RFC 8945 BADSIG, BADKEY, BADTIME);
//   - notify_refused, notify_notauth: NOTIFYs refused (not from one of the
//     zone's primaries, or for a zone that is not a secondary) and those
//     without the zone's TSIG key (RFC 1996, RFC 8945).
func (s *Server) Counters() map[string]uint64 {
	return map[string]uint64{
		"tcp_refused_pool":        s.n.tcpRefusedPool.Load(),
		"tcp_refused_client":      s.n.tcpRefusedClient.Load(),
		"udp_dropped_source_port": s.n.udpDroppedSourcePort.Load(),
		"udp_dropped_group":       s.n.udpDroppedGroup.Load(),
		"cookie_valid":            s.n.cookieValid.Load(),
		"cookie_badcookie":        s.n.cookieBad.Load(),
		"cookie_none_truncated":   s.n.cookieNone.Load(),
		"rrl_slipped":             s.n.rrlSlipped.Load(),
		"rrl_dropped":             s.n.rrlDropped.Load(),
		"xfr_tsig_badsig":         s.n.xfrTSIGBadSig.Load(),
		"xfr_tsig_badkey":         s.n.xfrTSIGBadKey.Load(),
		"xfr_tsig_badtime":        s.n.xfrTSIGBadTime.Load(),
		"notify_refused":          s.n.notifyRefused.Load(),
		"notify_notauth":          s.n.notifyNotAuth.Load(),
	}
}

// CacheCounts returns how many UDP queries were answered from the reply
// caches of the sockets (Config.AnswerCache), and how many the caches did
// not hold (the engine answered them, and the cache stored the reply).
func (s *Server) CacheCounts() (hits, misses uint64) {
	return s.n.udpCacheHits.Load(), s.n.udpCacheMisses.Load()
}
