// Package secondary keeps secondary zones up to date from their primaries
// (RFC 1034 §4.3.5, RFC 1995, RFC 5936, RFC 1996): per zone, a loop asks
// the primaries for the SOA serial when the refresh timer fires (or a
// NOTIFY arrives), transfers a newer version (IXFR when it holds one,
// falling back to AXFR), checks it with the zone loader's checks, writes
// it to the zone's file atomically and hands it to the daemon, which
// switches both paths to it as a reload does. Everything is signed with
// the zone's TSIG key when it has one, and leaves from the transfer
// source address. A version that fails changes nothing: the previous one
// keeps serving and the retry timer runs.
package secondary

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/internal/ratelog"
	"github.com/xdpdns/xdpdns/tsig"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

// Zone is one secondary zone as configured.
type Zone struct {
	Origin    string
	File      string           // the last good copy
	Primaries []netip.AddrPort // tried in order
	Key       string           // TSIG key name; "" unsigned
	// ExpirePolicy is what the zone does once its SOA EXPIRE passes with
	// no successful refresh: PolicyServfail or PolicyServeStale ("" is
	// the global expire-policy, PolicyServfail when unset).
	ExpirePolicy string
}

// The expire policies (expire-policy): servfail answers SERVFAIL for an
// expired zone and fails the health check, as NSD and Knot do; serve-stale
// keeps answering from the last good copy and keeps the route.
const (
	PolicyServfail   = "servfail"
	PolicyServeStale = "serve-stale"
)

// ParsePolicy checks an expire-policy word.
func ParsePolicy(s string) (string, error) {
	switch s {
	case PolicyServfail, PolicyServeStale:
		return s, nil
	}
	return "", fmt.Errorf("expire-policy %q: want %s or %s", s, PolicyServfail, PolicyServeStale)
}

// Timers when the zone's SOA cannot tell (no copy yet): how often to try.
const (
	// FirstRetry is the wait between attempts before any copy exists.
	FirstRetry = 10 * time.Second
	// NotifyPace is the least time between two checks a NOTIFY (or an
	// operator's refresh) starts: a flood of NOTIFYs, even from a
	// primary's address, costs the primary at most one SOA query per
	// NotifyPace; a NOTIFY in the pause is acted on when it ends.
	NotifyPace = time.Second
	// MinRefresh bounds the SOA refresh and retry from below, so that a
	// zone with tiny timers cannot make the node hammer its primary.
	MinRefresh = time.Second
	// QueryTimeout bounds one SOA query; TransferTimeout one transfer.
	QueryTimeout    = 5 * time.Second
	TransferTimeout = 5 * time.Minute
)

// Config configures a Manager.
type Config struct {
	Zones []Zone
	Keys  tsig.Ring
	// Source4 and Source6 are the unicast addresses to query and
	// transfer from (transfer-source); invalid: the kernel's choice.
	Source4, Source6 netip.Addr
	// ZoneOptions are the zone loader's options (checks, size limit).
	ZoneOptions zone.Options
	// Apply is called with a version that passed the checks and has been
	// written to the zone's file; it makes it live and reports whether
	// that worked. applied is the version zone.Apply made from the served
	// one (an IXFR), to take as it is; nil: load the file (the daemon
	// reloads the zone).
	Apply func(ctx context.Context, origin string, applied *Applied) error
	// Serial returns the serial of the version served now, and false
	// when the zone is not served yet.
	Serial func(origin string) (uint32, bool)
	// Served returns the version served now, or nil (not served, or no
	// such hook): an incremental IXFR is applied to it with zone.Apply,
	// and checked so, instead of loading the new version's text.
	Served func(origin string) *zone.Zone
	// Expire is called when a zone under PolicyServfail expires (true)
	// and when it is refreshed again after that (false): the daemon
	// switches its answers to SERVFAIL and back. Zones under
	// PolicyServeStale go stale without a call.
	Expire func(origin string, expired bool)
	Log    *slog.Logger
}

// Status is what a zone's loop knows, for xdpdnsctl and metrics.
type Status struct {
	Origin      string    `json:"origin"`
	Serial      uint32    `json:"serial"`
	HaveCopy    bool      `json:"have_copy"`
	LastPrimary string    `json:"last_primary,omitempty"`
	LastRefresh time.Time `json:"last_refresh,omitempty"` // last successful check or transfer
	LastError   string    `json:"last_error,omitempty"`
	NextRefresh time.Time `json:"next_refresh"`
	Transfers   uint64    `json:"transfers"`
	IXFRs       uint64    `json:"ixfrs"`
	Notifies    uint64    `json:"notifies"` // NOTIFYs from a primary, acted on
	// Policy is the zone's expire-policy; Expires when its copy expires
	// (the last successful refresh plus the SOA's EXPIRE; zero without a
	// copy); Expired whether that has passed: under serve-stale the zone
	// is then stale but answered.
	Policy  string    `json:"expire_policy"`
	Expires time.Time `json:"expires,omitempty"`
	Expired bool      `json:"expired"`
}

// Manager runs one loop per secondary zone.
type Manager struct {
	cfg   Config
	log   *slog.Logger
	zones map[string]*zoneLoop // by canonical origin
	wg    sync.WaitGroup
	stop  context.CancelFunc
	// refusedLog rate-limits the warnings of refused NOTIFYs (a flood
	// from strangers gives a line every few seconds).
	refusedLog ratelog.Limiter
}

// zoneLoop is one zone's state.
type zoneLoop struct {
	m      *Manager
	z      Zone
	origin string
	kick   chan bool // a NOTIFY or an operator's refresh (true: full AXFR)
	mu     sync.Mutex
	st     Status
	// expire is the SOA EXPIRE of the copy served; st.Expires is the last
	// successful refresh plus expire. The time of that refresh is kept
	// as the copy's modification time, so that it survives a restart.
	expire time.Duration
}

// New makes a Manager; Start runs it.
func New(cfg Config) *Manager {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{cfg: cfg, log: log, zones: map[string]*zoneLoop{}}
	for _, z := range cfg.Zones {
		o := dns.CanonicalName(z.Origin)
		if z.ExpirePolicy == "" {
			z.ExpirePolicy = PolicyServfail
		}
		m.zones[o] = &zoneLoop{m: m, z: z, origin: o, kick: make(chan bool, 1), st: Status{Origin: o, Policy: z.ExpirePolicy}}
	}
	return m
}

// Start runs the loops until Close.
func (m *Manager) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	m.stop = cancel
	for _, zl := range m.zones {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			zl.run(ctx)
		}()
	}
}

// Close stops the loops and waits for them.
func (m *Manager) Close() {
	if m.stop != nil {
		m.stop()
	}
	m.wg.Wait()
}

// IsPrimary reports whether from is a primary of the secondary zone origin
// (for NOTIFY: only they may send one), and whether origin is a secondary.
func (m *Manager) IsPrimary(origin string, from netip.Addr) (primary, secondary bool) {
	zl, ok := m.zones[dns.CanonicalName(origin)]
	if !ok {
		return false, false
	}
	for _, p := range zl.z.Primaries {
		if p.Addr().Unmap() == from.Unmap() {
			return true, true
		}
	}
	return false, true
}

// Key returns the TSIG key of the secondary zone origin, if it has one.
func (m *Manager) Key(origin string) (tsig.Key, bool) {
	zl, ok := m.zones[dns.CanonicalName(origin)]
	if !ok || zl.z.Key == "" {
		return tsig.Key{}, false
	}
	return m.cfg.Keys.Lookup(zl.z.Key)
}

// Refresh asks the zone's loop to check its primaries now (NOTIFY,
// xdpdnsctl refresh); full forces an AXFR (xdpdnsctl retransfer). Requests
// that arrive while one is pending are folded into it. It reports whether
// origin is a secondary zone.
func (m *Manager) Refresh(origin string, full bool) bool {
	zl, ok := m.zones[dns.CanonicalName(origin)]
	if !ok {
		return false
	}
	select {
	case zl.kick <- full:
	default:
	}
	return true
}

// Status lists every secondary zone's state, by origin.
func (m *Manager) Status() []Status {
	var out []Status
	for _, zl := range m.zones {
		zl.mu.Lock()
		out = append(out, zl.st)
		zl.mu.Unlock()
	}
	return out
}

// run is the zone's loop: check, then wait for the timer, a kick, or the
// copy's expiry.
func (zl *zoneLoop) run(ctx context.Context) {
	zl.startExpiry()
	full := false
	for {
		started := time.Now()
		wait := zl.check(ctx, full)
		zl.mu.Lock()
		if !zl.st.Expired && !zl.st.Expires.IsZero() {
			// Wake at the expiry to act on it, if no check comes first.
			wait = max(min(wait, zl.st.Expires.Sub(time.Now())), 0)
		}
		zl.st.NextRefresh = time.Now().Add(wait)
		zl.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case full = <-zl.kick:
			t.Stop()
			if pause := NotifyPace - time.Since(started); pause > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(pause):
				}
				select { // kicks that came meanwhile are this one
				case f := <-zl.kick:
					full = full || f
				default:
				}
			}
		case <-t.C:
			full = false
			zl.checkExpiry()
		}
	}
}

// startExpiry reads the copy's SOA EXPIRE and last refresh (the file's
// modification time) at start, so that a copy that expired while the node
// was down is expired at once.
func (zl *zoneLoop) startExpiry() {
	fi, err := os.Stat(zl.z.File)
	soa := zl.servedSOA()
	if err != nil || soa == nil {
		return
	}
	zl.mu.Lock()
	zl.expire = time.Duration(soa.Expire) * time.Second
	zl.st.Expires = fi.ModTime().Add(zl.expire)
	zl.mu.Unlock()
	zl.checkExpiry()
}

// refreshed records a successful refresh from a primary: the copy is good
// for another EXPIRE (soa's, the version now served), counted from now and
// kept as the file's modification time; an expired zone is live again.
func (zl *zoneLoop) refreshed(soa *dns.SOA) {
	now := time.Now()
	if err := os.Chtimes(zl.z.File, now, now); err != nil {
		zl.m.log.Warn("secondary: cannot record the refresh time on the copy", "zone", zl.origin, "err", err)
	}
	zl.mu.Lock()
	zl.expire = time.Duration(soa.Expire) * time.Second
	zl.st.Expires = now.Add(zl.expire)
	was := zl.st.Expired
	zl.st.Expired = false
	zl.mu.Unlock()
	if was {
		zl.m.log.Warn("secondary: expired zone refreshed; serving it again", "zone", zl.origin, "policy", zl.z.ExpirePolicy)
		if zl.z.ExpirePolicy == PolicyServfail && zl.m.cfg.Expire != nil {
			zl.m.cfg.Expire(zl.origin, false)
		}
	}
}

// checkExpiry expires the zone when its EXPIRE has passed since the last
// successful refresh: under servfail the daemon answers SERVFAIL (and the
// health check fails); under serve-stale the copy keeps serving, stale.
func (zl *zoneLoop) checkExpiry() {
	zl.mu.Lock()
	expires, already := zl.st.Expires, zl.st.Expired
	due := !expires.IsZero() && !time.Now().Before(expires)
	if due {
		zl.st.Expired = true
	}
	zl.mu.Unlock()
	if !due || already {
		return
	}
	if zl.z.ExpirePolicy == PolicyServeStale {
		zl.m.log.Error("secondary: zone EXPIRED, serving the stale copy (expire-policy serve-stale)", "zone", zl.origin, "since", expires.UTC().Format(time.RFC3339))
		return
	}
	zl.m.log.Error("secondary: zone EXPIRED, answering SERVFAIL (expire-policy servfail)", "zone", zl.origin, "since", expires.UTC().Format(time.RFC3339))
	if zl.m.cfg.Expire != nil {
		zl.m.cfg.Expire(zl.origin, true)
	}
}

// jitter spreads d by up to -10% so that a fleet does not poll in step.
func jitter(d time.Duration) time.Duration {
	return d - time.Duration(rand.Int64N(int64(d)/10+1))
}

// check asks the primaries in order and transfers a newer version; it
// returns how long to wait for the next check: the SOA's refresh after a
// success, its retry after a failure.
func (zl *zoneLoop) check(ctx context.Context, full bool) time.Duration {
	serial, have := zl.m.cfg.Serial(zl.origin)
	var errs []error
	for _, p := range zl.z.Primaries {
		soa, err := zl.querySOA(ctx, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: SOA query: %w", p, err))
			continue
		}
		if have && !full && soa.Serial != serial && !zone.SerialLess(serial, soa.Serial) {
			// Behind ours (RFC 1982): a primary restored from an old
			// backup or a misconfigured one. Keep ours; it does not count
			// as a refresh (NSD and Knot ignore it too).
			errs = append(errs, fmt.Errorf("%s: serial %d is behind ours (%d): ignored", p, soa.Serial, serial))
			continue
		}
		if have && !full && soa.Serial == serial {
			zl.done(p, serial, nil)
			zl.refreshed(zl.servedSOAOr(soa))
			return zl.refreshWait(soa, true)
		}
		ixfr, err := zl.transfer(ctx, p, serial, have && !full)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: transfer: %w", p, err))
			continue
		}
		zl.mu.Lock()
		zl.st.Transfers++
		if ixfr {
			zl.st.IXFRs++
		}
		zl.mu.Unlock()
		zl.done(p, soa.Serial, nil)
		zl.refreshed(soa)
		return zl.refreshWait(soa, true)
	}
	err := errors.Join(errs...)
	if len(zl.z.Primaries) == 0 {
		err = errors.New("no primary")
	}
	zl.done(netip.AddrPort{}, serial, err)
	zl.checkExpiry()
	zl.mu.Lock()
	expired, expires := zl.st.Expired, zl.st.Expires
	zl.mu.Unlock()
	switch {
	case expired && zl.z.ExpirePolicy == PolicyServeStale:
		zl.m.log.Error("secondary: refresh failed; serving the STALE copy", "zone", zl.origin, "stale_since", expires.UTC().Format(time.RFC3339), "err", err)
	case expired:
		zl.m.log.Error("secondary: refresh failed; the zone is expired and answers SERVFAIL", "zone", zl.origin, "since", expires.UTC().Format(time.RFC3339), "err", err)
	default:
		zl.m.log.Error("secondary: refresh failed; the previous version keeps serving", "zone", zl.origin, "err", err)
	}
	return zl.refreshWait(nil, false)
}

// done records the outcome of a check.
func (zl *zoneLoop) done(p netip.AddrPort, serial uint32, err error) {
	zl.mu.Lock()
	defer zl.mu.Unlock()
	if err != nil {
		zl.st.LastError = err.Error()
		return
	}
	zl.st.LastError = ""
	zl.st.LastPrimary = p.String()
	zl.st.LastRefresh = time.Now()
	zl.st.Serial = serial
	zl.st.HaveCopy = true
}

// refreshWait is the SOA's refresh (ok) or retry (failure), from the last
// SOA seen; before any copy, FirstRetry.
func (zl *zoneLoop) refreshWait(soa *dns.SOA, ok bool) time.Duration {
	if soa == nil {
		soa = zl.servedSOA()
	}
	if soa == nil {
		return FirstRetry
	}
	d := time.Duration(soa.Retry) * time.Second
	if ok {
		d = time.Duration(soa.Refresh) * time.Second
	}
	return jitter(max(d, MinRefresh))
}

// servedSOAOr is the copy's SOA, or soa when it cannot be read.
func (zl *zoneLoop) servedSOAOr(soa *dns.SOA) *dns.SOA {
	if s := zl.servedSOA(); s != nil {
		return s
	}
	return soa
}

// servedSOA reads the SOA of the last good copy, if any.
func (zl *zoneLoop) servedSOA() *dns.SOA {
	f, err := os.Open(zl.z.File)
	if err != nil {
		return nil
	}
	defer f.Close()
	zp := dns.NewZoneParser(f, zl.origin, zl.z.File)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa
		}
	}
	return nil
}

// dialer leaves from the transfer source of p's family.
func (zl *zoneLoop) dialer(p netip.AddrPort, network string) *net.Dialer {
	d := &net.Dialer{Timeout: QueryTimeout}
	src := zl.m.cfg.Source6
	if p.Addr().Unmap().Is4() {
		src = zl.m.cfg.Source4
	}
	if src.IsValid() {
		if network == "udp" {
			d.LocalAddr = &net.UDPAddr{IP: src.AsSlice()}
		} else {
			d.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
		}
	}
	return d
}

// sign sets the zone's TSIG on m; it returns the secrets map for the
// client (nil when unsigned).
func (zl *zoneLoop) sign(m *dns.Msg) map[string]string {
	k, ok := zl.m.Key(zl.origin)
	if !ok {
		return nil
	}
	m.SetTsig(k.Name, k.Algorithm, 300, time.Now().Unix())
	return map[string]string{k.Name: k.Secret}
}

// querySOA asks primary p for the zone's SOA.
func (zl *zoneLoop) querySOA(ctx context.Context, p netip.AddrPort) (*dns.SOA, error) {
	m := new(dns.Msg).SetQuestion(zl.origin, dns.TypeSOA)
	c := &dns.Client{Net: "udp", Timeout: QueryTimeout, Dialer: zl.dialer(p, "udp")}
	c.TsigSecret = zl.sign(m)
	r, _, err := c.ExchangeContext(ctx, m, p.String())
	if err == nil && r.Truncated {
		c.Net = "tcp"
		c.Dialer = zl.dialer(p, "tcp")
		m.Id = dns.Id()
		c.TsigSecret = zl.sign(m)
		r, _, err = c.ExchangeContext(ctx, m, p.String())
	}
	if err != nil {
		return nil, err
	}
	if r.Rcode != dns.RcodeSuccess || !r.Authoritative {
		return nil, fmt.Errorf("answered %s (AA %v)", dns.RcodeToString[r.Rcode], r.Authoritative)
	}
	for _, rr := range r.Answer {
		if soa, ok := rr.(*dns.SOA); ok && dns.CanonicalName(soa.Hdr.Name) == zl.origin {
			return soa, nil
		}
	}
	return nil, errors.New("no SOA in the answer")
}

// transfer pulls a new version from p (IXFR from serial when incremental,
// else AXFR), checks it, writes it and applies it. It reports whether an
// incremental transfer was used.
func (zl *zoneLoop) transfer(ctx context.Context, p netip.AddrPort, serial uint32, incremental bool) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, TransferTimeout)
	defer cancel()
	m := new(dns.Msg)
	if incremental {
		// The authority section carries the copy's SOA (RFC 1995 §3);
		// its names must be real ones (empty ones do not unpack).
		ns, mbox := zl.origin, zl.origin
		if soa := zl.servedSOA(); soa != nil {
			ns, mbox = soa.Ns, soa.Mbox
		}
		m.SetIxfr(zl.origin, serial, ns, mbox)
	} else {
		m.SetAxfr(zl.origin)
	}
	tr := &dns.Transfer{DialTimeout: QueryTimeout, ReadTimeout: TransferTimeout, WriteTimeout: QueryTimeout}
	tr.TsigSecret = zl.sign(m)
	conn, err := zl.dialer(p, "tcp").DialContext(ctx, "tcp", p.String())
	if err != nil {
		return false, err
	}
	tr.Conn = &dns.Conn{Conn: conn}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stopClose := context.AfterFunc(ctx, func() { conn.Close() }) // Close aborts a transfer at once
	defer stopClose()
	ch, err := tr.In(m, p.String())
	if err != nil {
		conn.Close()
		return false, err
	}
	var rrs []dns.RR
	limit := zl.m.cfg.ZoneOptions.MaxFileSize
	if limit <= 0 {
		limit = zone.DefaultMaxFileSize
	}
	size := int64(0)
	for env := range ch {
		if env.Error != nil {
			conn.Close()
			return false, fmt.Errorf("cut off after %d records: %w", len(rrs), env.Error)
		}
		for _, rr := range env.RR {
			size += int64(dns.Len(rr))
		}
		if size > limit {
			conn.Close()
			return false, fmt.Errorf("transfer larger than zone-max-size (%d bytes): aborted", limit)
		}
		rrs = append(rrs, env.RR...)
	}
	conn.Close()
	records, applied, err := zl.applyServed(rrs, incremental)
	checked := applied != nil
	ixfr := checked
	if err != nil {
		return false, err
	}
	if !checked {
		if records, ixfr, err = zl.apply(rrs, incremental); err != nil {
			return false, err
		}
	}
	if err := zl.install(ctx, records, applied); err != nil {
		return false, err
	}
	kind := "AXFR"
	if ixfr {
		kind = "IXFR"
	}
	// applied: the change was applied to the served version (zone.Apply)
	// rather than to the copy on disk and loaded again.
	zl.m.log.Info("secondary: transferred", "zone", zl.origin, "primary", p.String(), "kind", kind, "records", len(records), "applied", checked)
	return ixfr, nil
}

// apply turns a transfer's records into the new version's records: an
// AXFR (or an IXFR answered with a whole zone) as it is; an incremental
// IXFR (RFC 1995 §4) applied to the served copy, each deletion required to
// match.
func (zl *zoneLoop) apply(rrs []dns.RR, incremental bool) ([]dns.RR, bool, error) {
	if len(rrs) < 2 {
		return nil, false, fmt.Errorf("transfer of %d records", len(rrs))
	}
	first, ok1 := rrs[0].(*dns.SOA)
	last, ok2 := rrs[len(rrs)-1].(*dns.SOA)
	if !ok1 || !ok2 || first.Serial != last.Serial {
		return nil, false, errors.New("transfer does not start and end with the same SOA")
	}
	_, second := rrs[1].(*dns.SOA)
	if !incremental || !second || len(rrs) == 2 {
		return rrs[:len(rrs)-1], false, nil // a whole zone: SOA, records (the closing SOA dropped)
	}
	// Incremental: SOA(new), then sequences of SOA(old) deletions SOA(new)
	// additions, then SOA(new).
	current, err := zl.currentRecords()
	if err != nil {
		return nil, false, fmt.Errorf("IXFR: the served copy: %w", err)
	}
	set := map[string]dns.RR{}
	for _, rr := range current {
		set[rrKey(rr)] = rr
	}
	body := rrs[1 : len(rrs)-1]
	for i := 0; i < len(body); {
		oldSOA, ok := body[i].(*dns.SOA)
		if !ok {
			return nil, false, errors.New("IXFR: a sequence does not start with an SOA")
		}
		if _, ok := set[rrKey(oldSOA)]; !ok {
			return nil, false, fmt.Errorf("IXFR: from serial %d, which is not the copy served", oldSOA.Serial)
		}
		delete(set, rrKey(oldSOA))
		i++
		for ; i < len(body); i++ {
			if _, isSOA := body[i].(*dns.SOA); isSOA {
				break
			}
			k := rrKey(body[i])
			if _, ok := set[k]; !ok {
				return nil, false, fmt.Errorf("IXFR deletes %s, which is not in the served copy", strings.TrimSpace(body[i].String()))
			}
			delete(set, k)
		}
		if i >= len(body) {
			return nil, false, errors.New("IXFR: a sequence has no new SOA")
		}
		set[rrKey(body[i])] = body[i]
		i++
		for ; i < len(body); i++ {
			if _, isSOA := body[i].(*dns.SOA); isSOA {
				break
			}
			set[rrKey(body[i])] = body[i]
		}
	}
	out := []dns.RR{first}
	delete(set, rrKey(first))
	for _, rr := range set {
		if _, isSOA := rr.(*dns.SOA); isSOA {
			continue
		}
		out = append(out, rr)
	}
	return out, true, nil
}

// rrKey identifies a record for IXFR (case-insensitive owner, TTL aside).
func rrKey(rr dns.RR) string {
	c := dns.Copy(rr)
	c.Header().Name = strings.ToLower(c.Header().Name)
	c.Header().Ttl = 0
	return c.String()
}

// currentRecords reads the last good copy.
func (zl *zoneLoop) currentRecords() ([]dns.RR, error) {
	f, err := os.Open(zl.z.File)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []dns.RR
	zp := dns.NewZoneParser(f, zl.origin, zl.z.File)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		out = append(out, rr)
	}
	return out, zp.Err()
}

// install checks the new version with the zone loader (unless applied:
// zone.Apply made it from the served version, with the same checks),
// writes it to the zone's file atomically (temporary file, fsync, rename,
// fsync of the directory) and makes it live (the applied version as it
// is, else by loading the file).
func (zl *zoneLoop) install(ctx context.Context, records []dns.RR, applied *Applied) error {
	var b strings.Builder
	fmt.Fprintf(&b, "; %s transferred by xdpdns on %s\n", zl.origin, time.Now().UTC().Format(time.RFC3339))
	for _, rr := range records {
		b.WriteString(rr.String())
		b.WriteByte('\n')
	}
	text := b.String()
	if applied == nil {
		if _, err := zone.Load(strings.NewReader(text), zl.origin, zl.z.File+" (transferred)", zl.m.cfg.ZoneOptions); err != nil {
			return fmt.Errorf("the transferred version fails the zone checks: %w", err)
		}
	}
	if err := writeAtomic(zl.z.File, []byte(text)); err != nil {
		return err
	}
	if applied != nil {
		// The applied version is now the file's: its compiled image
		// (package compiled) stays current while the file is.
		if src, err := zone.FileSource(zl.z.File); err == nil {
			applied.Zone.Sources = []zone.Source{src}
		}
	}
	return zl.m.cfg.Apply(ctx, zl.origin, applied)
}

// writeAtomic replaces path with data so that a crash leaves either the
// old or the new complete file.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// HandleNotify answers a NOTIFY (RFC 1996) for a secondary zone: from one
// of its primaries (signed with its key when it has one) it is
// acknowledged and the zone checked at once; from anyone else, or for a
// zone that is not a secondary, REFUSED (NOTAUTH for a bad TSIG). It
// returns the reply's wire form, and nil for a message it cannot parse.
func (m *Manager) HandleNotify(raw []byte, from netip.Addr) []byte {
	req := new(dns.Msg)
	if err := req.Unpack(raw); err != nil || len(req.Question) != 1 {
		return nil
	}
	reply := new(dns.Msg)
	reply.SetReply(req)
	reply.Opcode = dns.OpcodeNotify
	origin := dns.CanonicalName(req.Question[0].Name)
	primary, isSecondary := m.IsPrimary(origin, from)
	key, keyed := m.Key(origin)
	switch {
	case !isSecondary || !primary:
		reply.Rcode = dns.RcodeRefused
		m.refusedLog.Warn(m.log, "secondary: NOTIFY refused", "zone", origin, "from", from, "secondary", isSecondary)
	case keyed && (req.IsTsig() == nil || !strings.EqualFold(dns.CanonicalName(req.IsTsig().Hdr.Name), key.Name) ||
		dns.TsigVerify(raw, key.Secret, "", false) != nil):
		reply.Rcode = dns.RcodeNotAuth
		m.refusedLog.Warn(m.log, "secondary: NOTIFY without the zone's TSIG key refused", "zone", origin, "from", from)
	default:
		reply.Authoritative = true
		if m.Refresh(origin, false) {
			zl := m.zones[origin]
			zl.mu.Lock()
			zl.st.Notifies++
			zl.mu.Unlock()
		}
		m.log.Debug("secondary: NOTIFY", "zone", origin, "from", from)
	}
	if keyed && req.IsTsig() != nil && reply.Rcode == dns.RcodeSuccess {
		reply.SetTsig(key.Name, key.Algorithm, 300, time.Now().Unix())
		b, _, err := dns.TsigGenerate(reply, key.Secret, req.IsTsig().MAC, false)
		if err == nil {
			return b
		}
	}
	b, err := reply.Pack()
	if err != nil {
		return nil
	}
	return b
}
