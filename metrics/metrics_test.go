//go:build linux

package metrics_test

import (
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/daemon"
	"github.com/xdpdns/xdpdns/internal/testsupport/daemontest"
)

// startWithMetrics runs a real daemon serving example.com with the metrics
// server on an ephemeral loopback port, and returns it with the base URL.
func startWithMetrics(t *testing.T) (*daemon.Daemon, string) {
	t.Helper()
	d, _ := daemontest.StartExample(t, func(c *config.Config) {
		c.MetricsListen = netip.MustParseAddrPort("127.0.0.1:0")
	}, nil)
	addr, ok := d.MetricsAddr()
	if !ok {
		t.Fatal("no metrics server")
	}
	return d, "http://" + addr
}

// scrape fetches /metrics and parses it with Prometheus's own text parser.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// value returns the value of the series of family name whose labels
// include want, and whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		match := true
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Summary != nil:
			return float64(m.Summary.GetSampleCount()), true
		}
	}
	return 0, false
}

func query(t *testing.T, d *daemon.Daemon, name string) {
	t.Helper()
	m := new(dns.Msg).SetQuestion(name, dns.TypeA)
	if _, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(m, d.Addrs()[0].String()); err != nil {
		t.Fatal(err)
	}
}

// TestMetricsUserspace checks that userspace answers, zone facts and
// reloads show in /metrics, and that /healthz follows the health checks.
func TestMetricsUserspace(t *testing.T) {
	d, base := startWithMetrics(t)
	answers := map[string]string{"path": "userspace", "transport": "udp", "kind": "answer"}
	nx := map[string]string{"path": "userspace", "transport": "udp", "kind": "nxdomain"}
	before := scrape(t, base)
	b0, _ := value(before, "xdpdns_responses_total", answers)
	query(t, d, "www.example.com.")
	query(t, d, "www.example.com.")
	query(t, d, "nope.example.com.")
	after := scrape(t, base)
	if a, ok := value(after, "xdpdns_responses_total", answers); !ok || a != b0+2 {
		t.Errorf("userspace answers %v (present %v), want %v", a, ok, b0+2)
	}
	if n, ok := value(after, "xdpdns_responses_total", nx); !ok || n != 1 {
		t.Errorf("userspace nxdomain %v (present %v), want 1", n, ok)
	}
	zone := map[string]string{"zone": "example.com."}
	if s, ok := value(after, "xdpdns_zone_serial", zone); !ok || s != float64(d.Engine().Zones().Zones()[0].Serial) {
		t.Errorf("zone serial %v (present %v)", s, ok)
	}
	if r, ok := value(after, "xdpdns_zone_records", zone); !ok || r == 0 {
		t.Errorf("zone records %v (present %v)", r, ok)
	}
	if _, ok := value(after, "xdpdns_zone_signature_expiry_seconds", zone); ok {
		t.Error("an unsigned zone has a signature expiry")
	}
	if age, ok := value(after, "xdpdns_zone_load_age_seconds", zone); !ok || age < 0 || age > 600 {
		t.Errorf("zone load age %v (present %v)", age, ok)
	}
	if _, ok := value(after, "go_goroutines", nil); !ok {
		t.Error("no Go runtime metrics")
	}
	if _, ok := value(after, "xdpdns_process_resident_memory_bytes", nil); !ok {
		t.Error("no process metrics")
	}

	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	reloaded := scrape(t, base)
	if n, ok := value(reloaded, "xdpdns_reloads_total", map[string]string{"result": "ok"}); !ok || n != 1 {
		t.Errorf("reloads ok %v (present %v), want 1", n, ok)
	}
	if n, ok := value(reloaded, "xdpdns_reload_duration_seconds", nil); !ok || n != 1 {
		t.Errorf("reload duration count %v (present %v), want 1", n, ok)
	}

	healthz := func() (int, string) {
		t.Helper()
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := healthz(); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz while serving: %d %q", code, body)
	}
	d.PauseServing(true)
	code, body := healthz()
	d.PauseServing(false)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "serving") {
		t.Errorf("/healthz while not answering: %d %q, want 503 naming the serving check", code, body)
	}
}

// TestMetricsXDP gives the daemon a real XDP hot path (loaded, not
// attached), answers one query and passes another through it with
// BPF_PROG_TEST_RUN, and checks the XDP series: the per-CPU counters
// summed, by kind and by pass reason, and the map generation and memory.
func TestMetricsXDP(t *testing.T) {
	d, base := startWithMetrics(t)
	hp := daemontest.HotPath(t, d) // the daemon closes it
	pack := func(name string, qtype uint16) []byte {
		b, err := new(dns.Msg).SetQuestion(name, qtype).Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if _, err := hp.SelfTest(pack("www.example.com.", dns.TypeA)); err != nil {
		t.Fatalf("self-test answer: %v", err)
	}
	if _, err := hp.SelfTest(pack("example.com.", dns.TypeANY)); err == nil {
		t.Fatal("an ANY query was answered in XDP; the test expects it passed up")
	}
	fams := scrape(t, base)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"xdpdns_responses_total", map[string]string{"path": "xdp", "kind": "answer"}, 1},
		{"xdpdns_xdp_passed_total", map[string]string{"reason": "qtype"}, 1},
		{"xdpdns_xdp_packets_total", map[string]string{"program": "xdp"}, 2},
		{"xdpdns_xdp_counters_error", nil, 0},
		{"xdpdns_dnstap_xdp_samples_total", map[string]string{"result": "sampled"}, 0}, // dnstap off
		{"xdpdns_xdp_generation", nil, float64(hp.Generation())},
		{"xdpdns_xdp_map_updates_total", map[string]string{"how": "swap"}, 1}, // the start
		{"xdpdns_xdp_map_updates_total", map[string]string{"how": "partial"}, 0},
	} {
		if v, ok := value(fams, c.name, c.labels); !ok || v != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	if v, ok := value(fams, "xdpdns_xdp_map_bytes", nil); !ok || v <= 0 {
		t.Errorf("xdp map bytes %v (present %v)", v, ok)
	}
}
