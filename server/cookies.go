package server

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/xdpdns/xdpdns/cookie"
)

// cookieKeys are the server secrets of DNS Cookies: the current one, which
// makes every server cookie, and the previous one after a rotation, still
// accepted until previousUntil (RFC 9018 §5: cookies live an hour).
type cookieKeys struct {
	current       cookie.Secret
	previous      *cookie.Secret
	previousUntil uint32 // Unix seconds, the clock the cookies carry
}

// valid reports whether the COOKIE option data cdata holds a server cookie
// of ours for client, at nowSec.
func (k *cookieKeys) valid(cdata []byte, client netip.Addr, nowSec uint32) bool {
	if len(cdata) != cookie.ClientLen+cookie.ServerLen {
		return false
	}
	cc := [cookie.ClientLen]byte(cdata[:cookie.ClientLen])
	if k.previous != nil && int32(k.previousUntil-nowSec) > 0 {
		return cookie.Valid(cdata[cookie.ClientLen:], cc, client, nowSec, k.current, *k.previous)
	}
	return cookie.Valid(cdata[cookie.ClientLen:], cc, client, nowSec, k.current)
}

// CookieGrace is how long the previous secret is accepted after a
// rotation: as long as a cookie lives.
const CookieGrace = cookie.MaxAge * time.Second

// RotateCookieSecret makes next the secret of new server cookies and
// returns the one it replaces, still accepted for CookieGrace. It fails
// when cookies are off (no Config.CookieSecret).
func (s *Server) RotateCookieSecret(next cookie.Secret) (previous cookie.Secret, err error) {
	old := s.cookies.Load()
	if old == nil {
		return previous, fmt.Errorf("cookies are off: configure cookie-secret")
	}
	prev := old.current
	s.cookies.Store(&cookieKeys{current: next, previous: &prev, previousUntil: uint32(time.Now().Add(CookieGrace).Unix())})
	return prev, nil
}

// badCookie renders BADCOOKIE for pkt into dst (its cookie still to fill),
// dropping the query should the engine panic.
func (s *Server) badCookie(dst, pkt []byte) []byte {
	type badCookier interface{ BadCookie(dst, pkt []byte) []byte }
	bc, ok := s.eng.(badCookier)
	if !ok {
		return nil
	}
	return bc.BadCookie(dst, pkt)
}
