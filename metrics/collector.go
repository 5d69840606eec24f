// Package metrics exports a node's state to Prometheus: on each scrape it
// reads the same Status and Stats the control socket serves (so /metrics
// and `xdpdnsctl status`/`stats` never disagree), turns them into
// xdpdns_* series, and adds the Go runtime and process collectors. It
// also serves /healthz from the daemon's health checks.
package metrics

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/control"
)

// Namespace prefixes every series of this package.
const Namespace = "xdpdns"

// Source is what the collector reads on each scrape; daemon.Daemon
// implements it (the same methods answer the control socket).
type Source interface {
	Status() control.Status
	Stats() control.Stats
}

// Paths of an answer in the xdpdns_responses_total "path" label.
const (
	PathUserspace = "userspace"
	PathXDP       = "xdp"
)

// desc builds a description in the xdpdns namespace.
func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
}

// Descriptions of every xdpdns_* series. Counters end in _total.
var (
	descBuildInfo      = desc("build_info", "Always 1; the version label is the build's version.", "version")
	descUptime         = desc("uptime_seconds", "Seconds since the daemon started serving.")
	descResponses      = desc("responses_total", "Responses sent, by the path that answered (userspace, xdp), transport and answer kind.", "path", "transport", "kind")
	descDropped        = desc("queries_dropped_total", "Queries the userspace server answered with no reply at all, by transport.", "transport")
	descRejected       = desc("userspace_rejected_total", "Connections or queries the userspace server refused or dropped before answering, by reason (the names of xdpdnsctl stats' SERVER table).", "reason")
	descRRL            = desc("rrl_limited_total", "Replies over the response rate limit, by path (xdp: the XDP program and its tc companion; userspace) and action (slipped: sent truncated, TC=1; dropped: not sent).", "path", "action")
	descCookies        = desc("cookies_total", "Queries by DNS Cookie outcome, by path: valid (a server cookie of ours: never rate-limited), badcookie (answered BADCOOKIE under cookie-require), none_truncated (no cookie under cookie-require: answered TC=1).", "path", "result")
	descAnswerCache    = desc("answer_cache_lookups_total", "UDP queries looked up in the userspace server's reply cache, by result: hit (answered from it) or miss (the engine answered).", "result")
	descXDPPackets     = desc("xdp_packets_total", "Packets seen by the XDP program and by its tc ingress companion.", "program")
	descXDPTruncated   = desc("xdp_truncated_total", "Of the XDP answers, those sent truncated (TC=1).")
	descXDPPassed      = desc("xdp_passed_total", "Packets the XDP program passed up to the kernel, by reason.", "reason")
	descTapSamples     = desc("dnstap_xdp_samples_total", "Answered queries the XDP and tc programs sampled for dnstap (result sampled), or could not (result lost: ring buffer full, or over dnstap-xdp-rate).", "result")
	descTCAnswers      = desc("tc_ingress_responses_total", "Responses sent by the tc ingress companion (replies too big for the XDP frame).")
	descXDPScrapeError = desc("xdp_counters_error", "1 when the XDP counters could not be read at this scrape.")
	descXDPGeneration  = desc("xdp_generation", "The live XDP map generation (changes on every reload).")
	descXDPMapBytes    = desc("xdp_map_bytes", "Kernel memory of the live generation's zone maps, in bytes (estimate from the image: keys, values and per-entry overhead).")
	descXDPAttached    = desc("xdp_attached", "1 per interface the XDP program is attached to, with its mode.", "interface", "mode")
	descXDPUpdates     = desc("xdp_map_updates_total", "Zone set changes written to the XDP maps, by how: rendered alone and written in place (partial), compiled whole and written in place (in_place), or swapped in as a new generation (swap).", "how")
	descZoneSerial     = desc("zone_serial", "SOA serial of the zone being served.", "zone")
	descZoneRecords    = desc("zone_records", "Records in the zone being served.", "zone")
	descZoneWarnings   = desc("zone_warnings", "Warnings the zone loaded with.", "zone")
	descZoneSigned     = desc("zone_signed", "1 when the zone is DNSSEC-signed.", "zone")
	descZoneLoaded     = desc("zone_loaded_timestamp_seconds", "When the zone being served was loaded (Unix time).", "zone")
	descZoneLoadAge    = desc("zone_load_age_seconds", "Seconds since the zone being served was loaded.", "zone")
	descZoneSigExpiry  = desc("zone_signature_expiry_timestamp_seconds", "Earliest RRSIG expiration in the zone (Unix time); signed zones only.", "zone")
	descZoneSigLeft    = desc("zone_signature_expiry_seconds", "Seconds until the earliest RRSIG in the zone expires (negative: expired); signed zones only.", "zone")
	descZoneRefreshAge = desc("zone_refresh_age_seconds", "Seconds since the secondary zone's last successful refresh from a primary.", "zone")
	descZoneSOAExpiry  = desc("zone_soa_expiry_seconds", "Seconds until the secondary zone's copy expires (SOA EXPIRE after the last refresh; negative: expired).", "zone")
	descZoneExpired    = desc("zone_expired", "1 when the secondary zone's SOA EXPIRE has passed with no refresh.", "zone", "policy")
	descZoneStale      = desc("zone_stale", "1 when the secondary zone is expired and still answered (expire-policy serve-stale).", "zone")
	descZoneXfrs       = desc("zone_transfers_total", "Transfers into the secondary zone, by type.", "zone", "type")
	descReloads        = desc("reloads_total", "Zone reloads, by result (ok, failed).", "result")
	descReloadSeconds  = desc("reload_duration_seconds", "Time taken by zone reloads, successful or not.")
	descHealthy        = desc("healthy", "1 while the health monitor passes (BGP nodes only).")
	descHealthCheck    = desc("health_check_ok", "1 when the named health check passed in its last round (BGP nodes only).", "check")
	descBGPAnnounced   = desc("bgp_announced", "1 while the anycast routes are announced.")
	descBGPDrained     = desc("bgp_drained", "1 while the node is drained by the operator.")
	descBGPPeerUp      = desc("bgp_peer_up", "1 when the BGP session with the peer is established.", "peer", "asn")
	descBGPPeerState   = desc("bgp_peer_state", "1 for the BGP peer's current session state.", "peer", "state")
	descBGPPeerUptime  = desc("bgp_peer_uptime_seconds", "Seconds the BGP session with the peer has been established.", "peer")
	descBGPReceived    = desc("bgp_peer_prefixes_received", "Prefixes received from the BGP peer.", "peer")
	descBGPAccepted    = desc("bgp_peer_prefixes_accepted", "Prefixes accepted from the BGP peer.", "peer")
)

// Collector is a prometheus.Collector over a Source.
type Collector struct {
	src Source
	now func() time.Time
}

// NewCollector returns a collector reading src on every scrape.
func NewCollector(src Source) *Collector { return &Collector{src: src, now: time.Now} }

// Describe sends every description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descBuildInfo, descUptime, descResponses, descDropped, descRejected, descRRL, descCookies, descAnswerCache, descXDPPackets,
		descXDPTruncated, descXDPPassed, descTapSamples, descTCAnswers, descXDPScrapeError, descXDPGeneration,
		descXDPMapBytes, descXDPAttached, descXDPUpdates, descZoneSerial, descZoneRecords, descZoneWarnings,
		descZoneSigned, descZoneLoaded, descZoneLoadAge, descZoneSigExpiry, descZoneSigLeft,
		descReloads, descReloadSeconds, descHealthy, descHealthCheck, descBGPAnnounced,
		descBGPDrained, descBGPPeerUp, descBGPPeerState, descBGPPeerUptime, descBGPReceived,
		descBGPAccepted,
	} {
		ch <- d
	}
}

// Collect reads the source once and sends every series.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	st := c.src.Status()
	stats := c.src.Stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}

	gauge(descBuildInfo, 1, st.Version)
	gauge(descUptime, float64(st.UptimeSeconds))

	// Userspace answers by transport and kind; "dropped" is no answer.
	for transport, kinds := range stats.Queries {
		for kind, n := range kinds {
			if kind == control.KindDropped {
				counter(descDropped, n, transport)
				continue
			}
			counter(descResponses, n, PathUserspace, transport, kind)
		}
	}
	for reason, n := range stats.Server {
		switch reason {
		case "rrl_slipped":
			counter(descRRL, n, PathUserspace, "slipped")
		case "rrl_dropped":
			counter(descRRL, n, PathUserspace, "dropped")
		case "cookie_valid", "cookie_badcookie", "cookie_none_truncated":
			counter(descCookies, n, PathUserspace, strings.TrimPrefix(reason, "cookie_"))
		default:
			counter(descRejected, n, reason)
		}
	}
	counter(descAnswerCache, stats.AnswerCache.Hits, "hit")
	counter(descAnswerCache, stats.AnswerCache.Misses, "miss")
	c.collectXDP(ch, stats, counter, gauge)
	if st.XDP != nil {
		gauge(descXDPGeneration, float64(st.XDP.Generation))
		gauge(descXDPMapBytes, float64(st.XDP.MapBytes))
		counter(descXDPUpdates, st.XDP.Partial, "partial")
		counter(descXDPUpdates, st.XDP.InPlace, "in_place")
		counter(descXDPUpdates, st.XDP.Swaps, "swap")
		for _, a := range st.XDP.Attachments {
			gauge(descXDPAttached, 1, a.Iface, a.Mode)
		}
	}

	for _, z := range st.Zones {
		gauge(descZoneSerial, float64(z.Serial), z.Origin)
		gauge(descZoneRecords, float64(z.Records), z.Origin)
		gauge(descZoneWarnings, float64(z.Warnings), z.Origin)
		gauge(descZoneSigned, boolValue(z.Signed), z.Origin)
		if !z.LoadedAt.IsZero() {
			gauge(descZoneLoaded, unixSeconds(z.LoadedAt), z.Origin)
			gauge(descZoneLoadAge, now.Sub(z.LoadedAt).Seconds(), z.Origin)
		}
		if z.SigExpiration != nil {
			gauge(descZoneSigExpiry, unixSeconds(*z.SigExpiration), z.Origin)
			gauge(descZoneSigLeft, z.SigExpiration.Sub(now).Seconds(), z.Origin)
		}
		if s := z.Secondary; s != nil {
			if s.LastRefresh != nil {
				gauge(descZoneRefreshAge, now.Sub(*s.LastRefresh).Seconds(), z.Origin)
			}
			if s.Expires != nil {
				gauge(descZoneSOAExpiry, s.Expires.Sub(now).Seconds(), z.Origin)
			}
			gauge(descZoneExpired, boolValue(s.Expired), z.Origin, s.ExpirePolicy)
			gauge(descZoneStale, boolValue(s.Stale), z.Origin)
			counter(descZoneXfrs, s.Transfers-s.IXFRs, z.Origin, "axfr")
			counter(descZoneXfrs, s.IXFRs, z.Origin, "ixfr")
		}
	}

	counter(descReloads, stats.Reloads.OK, "ok")
	counter(descReloads, stats.Reloads.Failed, "failed")
	ch <- prometheus.MustNewConstSummary(descReloadSeconds, stats.Reloads.OK+stats.Reloads.Failed, stats.Reloads.Seconds, nil)

	if b := st.BGP; b != nil {
		gauge(descHealthy, boolValue(b.Health.Healthy))
		for _, chk := range b.Health.Checks {
			gauge(descHealthCheck, boolValue(chk.Error == ""), chk.Name)
		}
		gauge(descBGPAnnounced, boolValue(b.Announced))
		gauge(descBGPDrained, boolValue(b.Drained))
		for _, p := range b.Peers {
			up := strings.EqualFold(p.State, "established")
			gauge(descBGPPeerUp, boolValue(up), p.Address, uintString(p.ASN))
			gauge(descBGPPeerState, 1, p.Address, strings.ToLower(p.State))
			gauge(descBGPPeerUptime, float64(p.UptimeSeconds), p.Address)
			gauge(descBGPReceived, float64(p.Received), p.Address)
			gauge(descBGPAccepted, float64(p.Accepted), p.Address)
		}
	}
}

// collectXDP turns the XDP counters (named by the ABI, bpf/abi) into
// series: answers by kind join xdpdns_responses_total with path "xdp"
// (XDP answers are UDP), passes go by reason.
func (c *Collector) collectXDP(ch chan<- prometheus.Metric, stats control.Stats,
	counter func(*prometheus.Desc, uint64, ...string), gauge func(*prometheus.Desc, float64, ...string)) {
	if stats.XDPError != "" {
		gauge(descXDPScrapeError, 1)
		return
	}
	if stats.XDP == nil {
		return
	}
	gauge(descXDPScrapeError, 0)
	for i, name := range abi.CounterNames {
		n, ok := stats.XDP[name]
		if !ok {
			continue
		}
		switch ctr := abi.Counter(i); {
		case ctr == abi.CounterRX:
			counter(descXDPPackets, n, "xdp")
		case ctr == abi.CounterSKBRX:
			counter(descXDPPackets, n, "tc_ingress")
		case ctr >= abi.CounterAnswerBase && ctr < abi.CounterAnswerBase+abi.KindMax:
			counter(descResponses, n, PathXDP, "udp", abi.KindNames[ctr-abi.CounterAnswerBase])
		case ctr == abi.CounterTC:
			counter(descXDPTruncated, n)
		case ctr == abi.CounterSKBAnswer:
			counter(descTCAnswers, n)
		case ctr == abi.CounterTapSampled:
			counter(descTapSamples, n, "sampled")
		case ctr == abi.CounterTapLost:
			counter(descTapSamples, n, "lost")
		case ctr == abi.CounterCookieValid:
			counter(descCookies, n, PathXDP, "valid")
		case ctr == abi.CounterRRLSlipped:
			counter(descRRL, n, PathXDP, "slipped")
		case ctr == abi.CounterRRLDropped:
			counter(descRRL, n, PathXDP, "dropped")
		case strings.HasPrefix(name, passPrefix):
			counter(descXDPPassed, n, strings.TrimPrefix(name, passPrefix))
		}
	}
}

// passPrefix starts the names of the XDP pass counters (pass.REASON).
const passPrefix = "pass."

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func uintString(v uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}
