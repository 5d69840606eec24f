//go:build linux

package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/internal/testsupport/netnstest"
)

// rrlRate is the rate limit of the flood test: replies per second per
// bucket.
const rrlRate = 50

// TestRRLFlood floods the node, over a real veth, with queries for a big
// answer from a "victim" address (198.18.100.2, another /24 than the
// client's): what a forged-source amplification attack sends. With the
// program attached natively (the big replies leave from its tc ingress
// companion) and with the userspace path alone: the full replies reaching
// the victim stay within the rate (the burst plus rate × duration), the
// others come back truncated (TC=1, no records, no bigger than a query)
// or not at all, the counters say so, and a second client in another
// prefix asking at a modest rate gets every answer in full meanwhile.
func TestRRLFlood(t *testing.T) {
	r := NewRig(t)
	dir := t.TempDir()
	var zone strings.Builder
	zone.WriteString("$ORIGIN amp.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 198.18.0.53\n")
	for i := 0; i < 8; i++ {
		fmt.Fprintf(&zone, "big TXT \"%d%s\"\n", i, strings.Repeat("x", 99))
	}
	zone.WriteString("www A 198.18.0.80\n")
	zf := filepath.Join(dir, "amp.test.zone")
	if err := os.WriteFile(zf, []byte(zone.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"native", "userspace"} {
		t.Run(mode, func(t *testing.T) {
			args := []string{"--zone", "amp.test=" + zf, "--listen", netip.AddrPortFrom(r.SrvV4, 53).String(),
				"--rrl-rate", fmt.Sprint(rrlRate), "--rrl-slip", "2"}
			if mode == "native" {
				args = append(args, "--xdp", r.SrvIface+":native")
			}
			d := StartDaemon(t, bins, r.Srv, args...)
			rrlFlood(t, r, d, mode)
		})
	}
}

func rrlFlood(t *testing.T, r *Rig, d *Daemon, mode string) {
	const duration = 2 * time.Second
	server := netip.AddrPortFrom(r.SrvV4, 53).String()
	q := new(dns.Msg).SetQuestion("big.amp.test.", dns.TypeTXT)
	q.SetEdns0(1232, true) // DO=1, as an amplification attack asks
	query, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	victim, err := netnstest.DialFrom(r.Cli, "udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(r.CliVLANV4, 0)), server, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	before := d.UserStats(t)

	var sent, full, truncated, fullBytes, tcBytes atomic.Int64
	var bad atomic.Value
	var wg sync.WaitGroup
	stop := time.Now().Add(duration)
	wg.Add(1)
	go func() { // the victim's side: what reaches it
		defer wg.Done()
		buf := make([]byte, 4096)
		for {
			victim.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			n, err := victim.Read(buf)
			if err != nil {
				if time.Now().After(stop) {
					return
				}
				continue
			}
			m := new(dns.Msg)
			if err := m.Unpack(buf[:n]); err != nil {
				bad.Store(fmt.Sprintf("reply does not unpack: %v", err))
				continue
			}
			switch {
			case m.Truncated:
				truncated.Add(1)
				tcBytes.Add(int64(n))
				if len(m.Answer)+len(m.Ns) != 0 || n > len(query) {
					bad.Store(fmt.Sprintf("slipped reply of %d bytes (query %d) with %d answers", n, len(query), len(m.Answer)))
				}
			case len(m.Answer) == 8:
				full.Add(1)
				fullBytes.Add(int64(n))
			default:
				bad.Store(fmt.Sprintf("unexpected reply %v", m))
			}
		}
	}()
	wg.Add(1)
	go func() { // the flood, paced to at most ~50k queries/s
		defer wg.Done()
		tick := time.Now()
		for time.Now().Before(stop) {
			for i := 0; i < 50; i++ {
				if _, err := victim.Write(query); err == nil {
					sent.Add(1)
				}
			}
			tick = tick.Add(time.Millisecond)
			if d := time.Until(tick); d > 0 {
				time.Sleep(d)
			}
		}
	}()
	// The other client: 10 queries a second, each retried twice at most,
	// as a resolver would; every one must be answered in full.
	answered, asked := 0, 0
	for time.Now().Before(stop) {
		asked++
		if askFull(t, r.Cli, r.CliV4, server, query) {
			answered++
		}
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	delta := Diff(before, d.UserStats(t))
	if s, _ := bad.Load().(string); s != "" {
		t.Error(s)
	}
	secs := duration.Seconds()
	t.Logf("%s: victim sent %d queries (%d bytes each); got %d full replies (%d bytes), %d truncated (%d bytes): amplification %.2f; other client %d/%d answered; counters %v",
		mode, sent.Load(), len(query), full.Load(), fullBytes.Load(), truncated.Load(), tcBytes.Load(),
		float64(fullBytes.Load()+tcBytes.Load())/float64(max(sent.Load(), 1)*int64(len(query))), answered, asked, delta)
	if sent.Load() < 10*rrlRate {
		t.Skipf("the flood sent only %d queries: too few to show the limit", sent.Load())
	}
	// Buckets are per CPU (XDP) or per socket (userspace, one per CPU):
	// a flood whose queries are received on every CPU gets each one's
	// share (docs/CONFIG.md, "Rate limiting").
	if limit := int64(float64(rrlRate*runtime.NumCPU()) * (secs + 1)); full.Load() > limit {
		t.Errorf("%s: the victim received %d full replies in %v, over the limit's %d (rate %d/s + a second's burst, on each of %d CPUs)",
			mode, full.Load(), duration, limit, rrlRate, runtime.NumCPU())
	}
	if truncated.Load() == 0 {
		t.Errorf("%s: no truncated (slipped) reply reached the victim", mode)
	}
	if answered != asked {
		t.Errorf("%s: the other client got %d of %d answers in full", mode, answered, asked)
	}
	var slipped, dropped uint64
	if mode == "native" {
		slipped, dropped = delta["xdp.rrl.slipped"], delta["xdp.rrl.dropped"]
	} else {
		slipped, dropped = delta["server.rrl_slipped"], delta["server.rrl_dropped"]
	}
	if slipped == 0 || dropped == 0 || uint64(truncated.Load()) > slipped {
		t.Errorf("%s: counters %d slipped, %d dropped; the victim saw %d truncated", mode, slipped, dropped, truncated.Load())
	}
}

// askFull asks query from src up to three times and reports whether a full
// (untruncated) answer came.
func askFull(t *testing.T, ns string, src netip.Addr, server string, query []byte) bool {
	t.Helper()
	c, err := netnstest.DialFrom(ns, "udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), server, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 4096)
	for try := 0; try < 3; try++ {
		c.Write(query)
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := c.Read(buf)
		if err != nil {
			continue
		}
		m := new(dns.Msg)
		if m.Unpack(buf[:n]) == nil && !m.Truncated && len(m.Answer) == 8 {
			return true
		}
	}
	return false
}
