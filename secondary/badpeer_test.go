package secondary_test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/internal/testsupport/daemontest"
	"github.com/xdpdns/xdpdns/secondary"
	"github.com/xdpdns/xdpdns/tsig"
)

// hostilePrimary is a primary that misbehaves on purpose, as the bad
// peers of a real fleet do (a primary restored from an old backup, one
// that dies mid-transfer, one that publishes a broken zone or a journal
// that does not match): real DNS over loopback TCP and UDP, with TSIG,
// answering SOA queries and AXFR/IXFR as scripted.
type hostilePrimary struct {
	addr       string
	soaQueries atomic.Int64

	mu sync.Mutex
	// serial and zone are what SOA and AXFR answer (zone without the
	// closing SOA); ixfr, when set, is the IXFR answer instead of the
	// whole zone; closeAfter > 0 closes the connection after that many
	// messages of a transfer.
	serial     uint32
	zone       []dns.RR
	ixfr       []dns.RR
	closeAfter int
}

func hostileSOA(serial uint32) *dns.SOA {
	rr, _ := dns.NewRR(fmt.Sprintf("example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. %d 3600 3600 1209600 300", serial))
	return rr.(*dns.SOA)
}

// hostileZone is example.com at serial with www's address and extra
// records.
func hostileZone(serial uint32, www string, extra ...string) []dns.RR {
	rrs := []dns.RR{hostileSOA(serial)}
	for _, s := range append([]string{"example.com. 3600 IN NS ns1.example.com.", "ns1.example.com. 3600 IN A 192.0.2.1",
		"www.example.com. 3600 IN A " + www}, extra...) {
		rr, err := dns.NewRR(s)
		if err != nil {
			panic(err)
		}
		rrs = append(rrs, rr)
	}
	return rrs
}

func (h *hostilePrimary) set(serial uint32, zone, ixfr []dns.RR, closeAfter int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.serial, h.zone, h.ixfr, h.closeAfter = serial, zone, ixfr, closeAfter
}

func startHostilePrimary(t *testing.T) *hostilePrimary {
	t.Helper()
	h := &hostilePrimary{}
	port := freePort(t)
	h.addr = fmt.Sprintf("127.0.0.1:%d", port)
	secret := map[string]string{dns.Fqdn(keyName): keySecret}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		reply := new(dns.Msg).SetReply(r)
		sign := func(m *dns.Msg) {
			if r.IsTsig() != nil {
				m.SetTsig(r.IsTsig().Hdr.Name, dns.HmacSHA256, 300, time.Now().Unix())
			}
		}
		if r.IsTsig() == nil || w.TsigStatus() != nil {
			reply.Rcode = dns.RcodeNotAuth
			w.WriteMsg(reply)
			return
		}
		h.mu.Lock()
		serial, zone, ixfr, closeAfter := h.serial, h.zone, h.ixfr, h.closeAfter
		h.mu.Unlock()
		q := r.Question[0]
		switch q.Qtype {
		case dns.TypeSOA:
			h.soaQueries.Add(1)
			reply.Authoritative = true
			reply.Answer = []dns.RR{hostileSOA(serial)}
			sign(reply)
			w.WriteMsg(reply)
		case dns.TypeAXFR, dns.TypeIXFR:
			rrs := append(append([]dns.RR{}, zone...), zone[0])
			if q.Qtype == dns.TypeIXFR && ixfr != nil {
				rrs = ixfr
			}
			// Several messages of 2 records each, as a large zone comes.
			for i, n := 0, 0; i < len(rrs); i, n = i+2, n+1 {
				if closeAfter > 0 && n == closeAfter {
					w.Close()
					return
				}
				m := new(dns.Msg).SetReply(r)
				m.Authoritative = true
				m.Answer = rrs[i:min(i+2, len(rrs))]
				sign(m)
				if err := w.WriteMsg(m); err != nil {
					return
				}
				w.TsigTimersOnly(true) // RFC 8945 §5.3.1: the next messages chain MACs
			}
		default:
			reply.Rcode = dns.RcodeRefused
			w.WriteMsg(reply)
		}
	})
	for _, network := range []string{"udp", "tcp"} {
		srv := &dns.Server{Addr: h.addr, Net: network, Handler: handler, TsigSecret: secret}
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ListenAndServe()
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatalf("hostile primary %s did not start", network)
		}
		t.Cleanup(func() { srv.Shutdown() })
	}
	return h
}

// TestBadPeers: against a primary that misbehaves in every way the issue
// lists, the node keeps serving the version it had, and zone-status says
// what went wrong; NOTIFYs from strangers are refused and counted, and a
// NOTIFY flood from the primary's own address costs the primary a bounded
// number of SOA queries.
func TestBadPeers(t *testing.T) {
	key, err := tsig.Parse(keyName, "hmac-sha256", keySecret)
	if err != nil {
		t.Fatal(err)
	}
	h := startHostilePrimary(t)
	h.set(1, hostileZone(1, "192.0.2.10"), nil, 0)
	copyFile := filepath.Join(t.TempDir(), "example.com.zone")
	sec, conf := daemontest.StartExample(t, func(c *config.Config) {
		c.Zones = nil
		c.Keys = tsig.Ring{key.Name: key}
		sz, err := config.ParseSecondary([]string{"example.com", copyFile, "primary", h.addr, "key", keyName})
		if err != nil {
			t.Fatal(err)
		}
		c.Secondaries = []secondary.Zone{sz}
	}, nil)
	addr := sec.Addrs()[0].String()
	ctl := &control.Client{Path: conf.Control}
	status := func() control.ZoneState {
		zs, err := ctl.ZoneStatus("example.com")
		if err != nil || len(zs) != 1 {
			t.Fatalf("zone-status: %v %v", zs, err)
		}
		return zs[0]
	}
	for start := time.Now(); lookupA(t, addr) != "192.0.2.10"; time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("the first transfer: not within 10 s; zone-status %+v", status())
		}
	}
	// refresh triggers a check and waits until its result is in.
	refresh := func(what string, wantErr string, bad func()) {
		t.Helper()
		refreshClean(t, ctl, h) // from a clean state: a good check first
		bad()
		if err := ctl.Refresh("example.com", false); err != nil {
			t.Fatal(err)
		}
		for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
			st := status()
			if strings.Contains(st.LastError, wantErr) {
				break
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("%s: zone-status does not say %q within 10 s: %+v", what, wantErr, st)
			}
		}
		if a := lookupA(t, addr); a != "192.0.2.10" {
			t.Fatalf("%s: the node answers %q, want the old version's 192.0.2.10", what, a)
		}
		st := status()
		if !st.Served || st.Serial != 1 {
			t.Fatalf("%s: zone-status %+v, want serial 1 still served", what, st)
		}
		t.Logf("%s: zone-status error: %s", what, st.LastError)
	}

	// A broken version: CNAME beside other data.
	refresh("a broken zone (CNAME beside A)", "CNAME", func() {
		h.set(2, hostileZone(2, "192.0.2.20", "www.example.com. 3600 IN CNAME ns1.example.com."), nil, 0)
	})

	// A primary that closes the connection half way through.
	big := hostileZone(3, "192.0.2.30")
	for i := range 20 {
		rr, _ := dns.NewRR(fmt.Sprintf("h%d.example.com. 3600 IN A 192.0.2.%d", i, 100+i))
		big = append(big, rr)
	}
	refresh("a transfer cut off", "transfer", func() { h.set(3, big, nil, 3) })

	// An IXFR whose deletion does not match the copy.
	bad := []dns.RR{hostileSOA(4), hostileSOA(1)}
	rr, _ := dns.NewRR("www.example.com. 3600 IN A 192.0.2.99")
	add, _ := dns.NewRR("www.example.com. 3600 IN A 192.0.2.40")
	bad = append(bad, rr, hostileSOA(4), add, hostileSOA(4))
	refresh("an IXFR whose deletion does not match", "IXFR", func() { h.set(4, hostileZone(4, "192.0.2.40"), bad, 0) })

	// The serial going backwards (a primary restored from an old backup).
	refresh("serial going backwards", "behind ours", func() { h.set(0, hostileZone(0, "192.0.2.50"), nil, 0) })

	// A missing glue record is not broken: it loads, with a warning.
	refreshClean(t, ctl, h)
	h.set(5, hostileZone(5, "192.0.2.10", "lame.example.com. 3600 IN NS ns.lame.example.com."), nil, 0)
	if err := ctl.Refresh("example.com", false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a version with missing glue is taken", 10*time.Second, func() bool { return status().Serial == 5 })
	if st := status(); len(st.Warnings) != 1 || !strings.Contains(st.Warnings[0], "missing glue") {
		t.Errorf("zone-status warnings %q, want the missing glue", st.Warnings)
	}
	h.set(1, hostileZone(1, "192.0.2.10"), nil, 0) // behind 5 from now on: never taken

	// NOTIFY from a stranger (127.0.0.2 is not the primary): REFUSED, counted.
	before := sec.Stats().Server["notify_refused"]
	notify := new(dns.Msg).SetNotify("example.com.")
	c := &dns.Client{Timeout: 2 * time.Second, Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}}}
	if r, _, err := c.Exchange(notify, addr); err != nil || r.Rcode != dns.RcodeRefused {
		t.Errorf("NOTIFY from a stranger: %v %v, want REFUSED", r, err)
	}
	if n := sec.Stats().Server["notify_refused"] - before; n != 1 {
		t.Errorf("notify_refused counted %d, want 1", n)
	}

	// A flood of signed NOTIFYs from the primary's address: the node
	// answers them but checks at most once per NotifyPace.
	time.Sleep(1100 * time.Millisecond)
	q0 := h.soaQueries.Load()
	floodStart := time.Now()
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const flood = 2000
	for i := range flood {
		m := new(dns.Msg).SetNotify("example.com.")
		m.Id = uint16(i)
		m.SetTsig(key.Name, key.Algorithm, 300, time.Now().Unix())
		b, _, err := dns.TsigGenerate(m, keySecret, "", false)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write(b)
	}
	time.Sleep(1500 * time.Millisecond)
	secs := time.Since(floodStart).Seconds()
	q := h.soaQueries.Load() - q0
	t.Logf("NOTIFY flood: %d NOTIFYs, %d SOA queries to the primary in %.1f s; notifies acted on: %d", flood, q, secs, status().Notifies)
	if limit := int64(secs/(time.Second.Seconds())) + 2; q > limit {
		t.Errorf("a NOTIFY flood made %d SOA queries in %.1f s, want at most %d (one per second)", q, secs, limit)
	}
	if q == 0 {
		t.Errorf("the NOTIFYs were not acted on at all")
	}
}

// refreshClean sets the hostile primary to the copy served (serial 1, or
// what is served) and waits for a clean check.
func refreshClean(t *testing.T, ctl *control.Client, h *hostilePrimary) {
	t.Helper()
	zs, err := ctl.ZoneStatus("example.com")
	if err != nil || len(zs) != 1 {
		t.Fatalf("zone-status: %v %v", zs, err)
	}
	h.set(zs[0].Serial, hostileZone(zs[0].Serial, "192.0.2.10"), nil, 0)
	if err := ctl.Refresh("example.com", false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a clean check", 10*time.Second, func() bool {
		zs, err := ctl.ZoneStatus("example.com")
		return err == nil && len(zs) == 1 && zs[0].LastError == ""
	})
}

// TestWrongKey: a node whose TSIG key does not match its primary's keeps
// serving its copy and says why in zone-status.
func TestWrongKey(t *testing.T) {
	h := startHostilePrimary(t)
	h.set(2, hostileZone(2, "192.0.2.20"), nil, 0)
	dir := t.TempDir()
	copyFile := filepath.Join(dir, "example.com.zone")
	var b strings.Builder
	for _, rr := range hostileZone(1, "192.0.2.10") {
		b.WriteString(rr.String() + "\n")
	}
	if err := os.WriteFile(copyFile, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	wrong, err := tsig.Parse(keyName, "hmac-sha256", "c2VjcmV0IHRoYXQgZG9lcyBub3QgbWF0Y2g=")
	if err != nil {
		t.Fatal(err)
	}
	d, conf := daemontest.StartExample(t, func(c *config.Config) {
		c.Zones = nil
		c.Keys = tsig.Ring{wrong.Name: wrong}
		sz, err := config.ParseSecondary([]string{"example.com", copyFile, "primary", h.addr, "key", keyName})
		if err != nil {
			t.Fatal(err)
		}
		c.Secondaries = []secondary.Zone{sz}
	}, nil)
	addr := d.Addrs()[0].String()
	ctl := &control.Client{Path: conf.Control}
	eventually(t, "the TSIG failure shows", 10*time.Second, func() bool {
		zs, err := ctl.ZoneStatus("example.com")
		return err == nil && len(zs) == 1 && zs[0].LastError != ""
	})
	zs, _ := ctl.ZoneStatus("example.com")
	t.Logf("zone-status error: %s", zs[0].LastError)
	if !strings.Contains(zs[0].LastError, "NOTAUTH") && !strings.Contains(strings.ToLower(zs[0].LastError), "sig") {
		t.Errorf("the error does not say TSIG: %q", zs[0].LastError)
	}
	if a := lookupA(t, addr); a != "192.0.2.10" || zs[0].Serial != 1 {
		t.Errorf("with the wrong key: answers %q at serial %d, want the copy (192.0.2.10, 1)", a, zs[0].Serial)
	}
}
