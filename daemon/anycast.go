package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/health"
)

// Announcer is the BGP speaker as the daemon drives it; anycast.Speaker
// implements it through a small adapter in cmd/xdpdnsd (its Peers returns
// anycast.PeerStatus). Announce and Withdraw must be idempotent; the
// daemon calls them whenever the wanted state (healthy and not drained)
// differs from Announced.
type Announcer interface {
	Announce() error
	Withdraw() error
	Announced() bool
	Peers() []control.BGPPeer
	Advertised() []string
	Close() error
}

// SelfTester is implemented by hot paths that can run a query through
// the XDP program without the network (BPF_PROG_TEST_RUN): query is a DNS
// message, sent as a UDP/IPv4 frame to a served address and port, and the
// reply is the DNS message the program sent back (an error when it
// passed the frame up instead of answering).
type SelfTester interface {
	SelfTest(query []byte) ([]byte, error)
}

// selfQueryTimeout bounds each self-query of the serving check.
const selfQueryTimeout = 500 * time.Millisecond

// SetAnnouncer hands the BGP speaker to the daemon. Call it after New and
// before Start: Start then runs the health monitor and announces while
// healthy and not drained, and Close withdraws, waits the drain time,
// stops serving and closes a. Without an Announcer no monitor runs.
func (d *Daemon) SetAnnouncer(a Announcer) {
	d.annMu.Lock()
	defer d.annMu.Unlock()
	d.ann = a
}

// startHealth builds and starts the health monitor when an Announcer is
// set.
func (d *Daemon) startHealth(ctx context.Context) {
	d.annMu.Lock()
	defer d.annMu.Unlock()
	if d.ann == nil {
		return
	}
	// Each check may take longer than the interval: the serving check
	// allows selfQueryTimeout per address and transport. A round that
	// overruns the interval delays the next one.
	timeout := max(d.cfg.HealthInterval, health.DefaultInterval)
	timeout = max(timeout, time.Duration(2*len(d.srv.Addrs()))*selfQueryTimeout+250*time.Millisecond)
	d.mon = health.New(health.Config{
		Interval: d.cfg.HealthInterval,
		Timeout:  timeout,
		Rise:     d.cfg.HealthRise,
		Fall:     d.cfg.HealthFall,
		OnChange: func(h bool) {
			if h {
				d.log.Info("health: healthy")
			} else {
				d.log.Warn("health: unhealthy", "checks", fmt.Sprint(d.mon.Status().Checks))
			}
		},
		AfterRound: func(bool) { d.reconcile() },
	}, d.Checks()...)
	d.mon.Start(ctx)
	d.log.Info("health monitor started", "interval", d.mon.Config().Interval, "rise", d.mon.Config().Rise, "fall", d.mon.Config().Fall)
}

// reconcile announces or withdraws so that the routes are announced iff
// the node is healthy, not drained and not stopping.
func (d *Daemon) reconcile() {
	d.annMu.Lock()
	defer d.annMu.Unlock()
	d.reconcileLocked()
}

func (d *Daemon) reconcileLocked() {
	if d.ann == nil {
		return
	}
	want := d.mon != nil && d.mon.Healthy() && !d.drained && !d.stopping
	if want == d.ann.Announced() {
		return
	}
	var err error
	if want {
		err = d.ann.Announce()
		if err == nil {
			d.log.Info("anycast: announced", "routes", fmt.Sprint(d.ann.Advertised()))
		}
	} else {
		err = d.ann.Withdraw()
		if err == nil {
			d.log.Info("anycast: withdrawn", "drained", d.drained, "stopping", d.stopping)
		}
	}
	d.annErr = ""
	if err != nil {
		d.annErr = err.Error()
		d.log.Error("anycast: announce/withdraw failed", "announce", want, "err", err)
	}
}

// errNoBGP answers drain, undrain and bgp without a speaker.
var errNoBGP = errors.New("no BGP speaker is configured")

// Drain withdraws the routes and keeps them withdrawn until Undrain.
func (d *Daemon) Drain() (control.BGPStatus, error) { return d.setDrained(true) }

// Undrain announces again once (and while) healthy.
func (d *Daemon) Undrain() (control.BGPStatus, error) { return d.setDrained(false) }

func (d *Daemon) setDrained(v bool) (control.BGPStatus, error) {
	d.annMu.Lock()
	if d.ann == nil {
		d.annMu.Unlock()
		return control.BGPStatus{}, errNoBGP
	}
	d.drained = v
	d.reconcileLocked()
	err := d.annErr
	d.annMu.Unlock()
	st, _ := d.BGP()
	if err != "" {
		return st, fmt.Errorf("drained=%v recorded, but: %s", v, err)
	}
	return st, nil
}

// BGP describes the speaker, its peers and the health checks.
func (d *Daemon) BGP() (control.BGPStatus, error) {
	d.annMu.Lock()
	a, mon, drained, annErr := d.ann, d.mon, d.drained || d.stopping, d.annErr
	d.annMu.Unlock()
	if a == nil {
		return control.BGPStatus{}, errNoBGP
	}
	st := control.BGPStatus{
		Drained:    drained,
		Announced:  a.Announced(),
		Advertised: a.Advertised(),
		Peers:      a.Peers(),
		Error:      annErr,
	}
	if st.Advertised == nil {
		st.Advertised = []string{}
	}
	if st.Peers == nil {
		st.Peers = []control.BGPPeer{}
	}
	st.Health = control.HealthStatus{Checks: []control.CheckStatus{}}
	if mon != nil {
		hs := mon.Status()
		st.Healthy = hs.Healthy
		st.Health = control.HealthStatus{Healthy: hs.Healthy, Passes: hs.Passes, Fails: hs.Fails, Rounds: hs.Rounds, Since: hs.Since,
			Checks: make([]control.CheckStatus, 0, len(hs.Checks))}
		for _, c := range hs.Checks {
			st.Health.Checks = append(st.Health.Checks, control.CheckStatus{Name: c.Name, Error: c.Error, At: c.At})
		}
	}
	return st, nil
}

// Health returns the health monitor's state, and false when no monitor
// runs.
func (d *Daemon) Health() (health.Status, bool) {
	d.annMu.Lock()
	mon := d.mon
	d.annMu.Unlock()
	if mon == nil {
		return health.Status{}, false
	}
	return mon.Status(), true
}

// PauseServing makes the userspace server drop every query (true) or
// answer again (false). TEST ONLY: it exists so that tests can make the
// serving health check fail; nothing in xdpdnsd or the control socket
// calls it.
func (d *Daemon) PauseServing(paused bool) { d.n.paused.Store(paused) }

// Checks returns the daemon's health checks: zones loaded and none
// expired, the userspace server answering a self-query on every listen
// address over UDP and TCP, and, with the XDP hot path, the program
// attached, at the generation last swapped in, and (when the hot path is
// a SelfTester) answering a self-query.
func (d *Daemon) Checks() []health.Check {
	return []health.Check{
		{Name: "zones", Run: d.checkZones},
		{Name: "serving", Run: d.checkServing},
		{Name: "xdp", Run: d.checkXDP},
	}
}

// checkZones fails when no zone is loaded, a secondary zone expired under
// expire-policy servfail (it answers SERVFAIL), or a zone's earliest RRSIG
// expiration (zone.Zone.SigExpiration) has passed, whatever the policy:
// a stale copy with live signatures may be served, bogus data never.
func (d *Daemon) checkZones(context.Context) error {
	d.mu.Lock()
	set := d.eng.Zones()
	d.mu.Unlock()
	zs := set.Zones()
	if len(zs) == 0 {
		return errors.New("no zones loaded")
	}
	now := time.Now()
	for _, z := range zs {
		if z.Expired {
			return fmt.Errorf("zone %s: expired (SOA EXPIRE passed with no refresh; expire-policy servfail)", z.Name())
		}
		if z.HasRRSIGs() && now.After(z.SigExpiration) {
			return fmt.Errorf("zone %s: signatures expired at %s", z.Name(), z.SigExpiration.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// selfQuery is the SOA query for the first zone's apex.
func (d *Daemon) selfQuery() (*dns.Msg, error) {
	zs := d.eng.Zones().Zones()
	if len(zs) == 0 {
		return nil, errors.New("no zones loaded")
	}
	m := new(dns.Msg).SetQuestion(zs[0].Name(), dns.TypeSOA)
	return m, nil
}

// checkReply requires NOERROR, AA and an answer.
func checkReply(r *dns.Msg) error {
	if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) == 0 {
		return fmt.Errorf("reply %s, aa=%v, %d answers", dns.RcodeToString[r.Rcode], r.Authoritative, len(r.Answer))
	}
	return nil
}

// checkServing asks the SOA of the first zone on every listen address
// over UDP and TCP; a wildcard address is asked on its loopback address.
// Each query is sent from the address it is sent to, which makes its TCP
// connection the host's own: the server keeps slots for those beside
// its clients' pool, so clients holding that pool cannot fail the check.
func (d *Daemon) checkServing(ctx context.Context) error {
	q, err := d.selfQuery()
	if err != nil {
		return err
	}
	for _, ap := range d.srv.Addrs() {
		a := ap.Addr()
		if a.IsUnspecified() {
			if a.Is4() {
				a = netip.MustParseAddr("127.0.0.1")
			} else {
				a = netip.IPv6Loopback()
			}
		}
		target := netip.AddrPortFrom(a, ap.Port()).String()
		for _, network := range []string{"udp", "tcp"} {
			qctx, cancel := context.WithTimeout(ctx, selfQueryTimeout)
			dialer := &net.Dialer{Timeout: selfQueryTimeout, LocalAddr: &net.UDPAddr{IP: a.AsSlice(), Zone: a.Zone()}}
			if network == "tcp" {
				dialer.LocalAddr = &net.TCPAddr{IP: a.AsSlice(), Zone: a.Zone()}
			}
			c := &dns.Client{Net: network, Timeout: selfQueryTimeout, Dialer: dialer}
			r, _, err := c.ExchangeContext(qctx, q.Copy(), target)
			cancel()
			if err == nil {
				err = checkReply(r)
			}
			if err != nil {
				return fmt.Errorf("%s %s: %w", network, target, err)
			}
		}
	}
	return nil
}

// checkXDP passes without a hot path; with one it requires attachments,
// the generation the daemon last swapped in, and a self-test answer.
func (d *Daemon) checkXDP(context.Context) error {
	d.mu.Lock()
	hot, want := d.hot, d.gen
	d.mu.Unlock()
	if hot == nil {
		return nil
	}
	if len(hot.Attachments()) == 0 {
		return errors.New("not attached to any interface")
	}
	if g := hot.Generation(); g == 0 || g != want {
		return fmt.Errorf("live generation %d, want %d", g, want)
	}
	st, ok := hot.(SelfTester)
	if !ok {
		return nil
	}
	q, err := d.selfQuery()
	if err != nil {
		return err
	}
	b, err := q.Pack()
	if err != nil {
		return err
	}
	out, err := st.SelfTest(b)
	if err != nil {
		return fmt.Errorf("self-test: %w", err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(out); err != nil {
		return fmt.Errorf("self-test reply: %w", err)
	}
	if err := checkReply(r); err != nil {
		return fmt.Errorf("self-test: %w", err)
	}
	return nil
}
