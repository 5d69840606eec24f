package daemon

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/cookie"
	"github.com/xdpdns/xdpdns/server"
)

// CookieSecrets is implemented by hot paths that answer DNS Cookies.
type CookieSecrets interface {
	SetCookieSecrets(current, previous []byte) error
}

// RotateCookieSecret makes secret (hex; "": a random one) the server
// secret of new DNS Cookies, in the userspace server and the XDP program;
// the previous one is still accepted for server.CookieGrace (in the
// program, until the next rotation: its cookies have expired by then).
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
	prev, err := d.srv.RotateCookieSecret(k)
	if err != nil {
		return control.CookieRotation{}, err
	}
	if cs, ok := d.hotPath().(CookieSecrets); ok {
		if err := cs.SetCookieSecrets(k[:], prev[:]); err != nil {
			return control.CookieRotation{}, fmt.Errorf("xdp: %w", err)
		}
	}
	r.PreviousUntil = time.Now().Add(server.CookieGrace).UTC().Truncate(time.Second)
	d.log.Info("cookie secret rotated", "previous_until", r.PreviousUntil)
	return r, nil
}
