package daemon

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/cookie"
	"github.com/xdpdns/xdpdns/server"
)

// RotateCookieSecret makes secret (hex; "": a random one) the server
// secret of new DNS Cookies; the previous one is still accepted for
// server.CookieGrace. The XDP program passes cookie queries to the
// userspace server, which holds the secrets, so nothing else changes.
func (d *Daemon) RotateCookieSecret(secret string) (control.CookieRotation, error) {
	var k cookie.Secret
	var r control.CookieRotation
	if secret == "" {
		if _, err := rand.Read(k[:]); err != nil {
			return r, fmt.Errorf("cookie secret: %w", err)
		}
		r.Secret = k.String()
	} else {
		var err error
		if k, err = cookie.ParseSecret(secret); err != nil {
			return r, err
		}
	}
	if err := d.srv.RotateCookieSecret(k); err != nil {
		return control.CookieRotation{}, err
	}
	r.PreviousUntil = time.Now().Add(server.CookieGrace).UTC().Truncate(time.Second)
	d.log.Info("cookie secret rotated", "previous_until", r.PreviousUntil)
	return r, nil
}
