// Package control is xdpdnsd's operator control channel: a unix-socket
// server inside the daemon and the client xdpdnsctl uses.
//
// The protocol is one JSON request line per connection and one JSON
// response line back, after which the server closes the connection:
//
//	→ {"cmd":"reload","zone":"example.com."}
//	← {"ok":true,"result":{...}}
//	← {"ok":false,"error":"/etc/xdpdns/example.com.zone:12: reason"}
//
// Commands: "reload" (zone optional: empty reloads every zone), "status",
// "stats", and with a BGP speaker "drain", "undrain" and "bgp". Requests are bounded (MaxRequest bytes, deadlines, a limit on
// concurrent connections); anything malformed gets an error response.
package control

import (
	"time"

	"github.com/xdpdns/xdpdns/bpf/abi"
)

// Commands.
const (
	CmdReload = "reload"
	CmdStatus = "status"
	CmdStats  = "stats"
	// CmdDrain withdraws the anycast routes and keeps them withdrawn,
	// healthy or not, until CmdUndrain.
	CmdDrain = "drain"
	// CmdUndrain lets the health state decide the announcement again.
	CmdUndrain = "undrain"
	// CmdBGP describes the BGP speaker, its peers and the health checks.
	CmdBGP = "bgp"
	// CmdExplain says which path would answer a query and how
	// (ExplainHandler; Request.Explain).
	CmdExplain = "explain"
	// CmdZoneStatus, CmdRefresh and CmdRetransfer are the secondary
	// zones' commands (SecondaryHandler): the state of each zone, an SOA
	// check now, a full AXFR now.
	CmdZoneStatus = "zone-status"
	CmdRefresh    = "refresh"
	// CmdCookieRotate makes a new DNS Cookie server secret current
	// (CookieHandler).
	CmdCookieRotate = "cookie-secret-rotate"
	CmdRetransfer   = "retransfer"
)

// BGPHandler is implemented by handlers that run a BGP speaker; a
// handler without it answers drain, undrain and bgp with an error.
type BGPHandler interface {
	// Drain withdraws and stays withdrawn until Undrain.
	Drain() (BGPStatus, error)
	// Undrain announces again once (and while) healthy.
	Undrain() (BGPStatus, error)
	// BGP describes the speaker.
	BGP() (BGPStatus, error)
}

// BGPStatus is the anycast state: health, drain, what is announced, and
// the BGP peers.
type BGPStatus struct {
	// Healthy is the health monitor's state.
	Healthy bool `json:"healthy"`
	// Drained is set by drain and cleared by undrain; shutting down
	// drains too.
	Drained bool `json:"drained"`
	// Announced says whether the routes are announced.
	Announced bool `json:"announced"`
	// Advertised lists the routes announced, as the speaker describes them.
	Advertised []string `json:"advertised"`
	// Peers lists the BGP neighbours.
	Peers []BGPPeer `json:"peers"`
	// Health is the health monitor's detail.
	Health HealthStatus `json:"health"`
	// Error is the last announce or withdraw error, "" after a success.
	Error string `json:"error,omitempty"`
}

// BGPPeer is one BGP neighbour.
type BGPPeer struct {
	Address string `json:"address"`
	ASN     uint32 `json:"asn"`
	// State is the session state ("established", "active", ...).
	State string `json:"state"`
	// UptimeSeconds is how long the session has been established.
	UptimeSeconds int64 `json:"uptime_seconds"`
	// Received and Accepted count the prefixes the peer sent us.
	Received int `json:"received"`
	Accepted int `json:"accepted"`
}

// HealthStatus is the health monitor's state.
type HealthStatus struct {
	Healthy bool `json:"healthy"`
	// Passes and Fails count the consecutive passing and failing rounds.
	Passes int    `json:"passes"`
	Fails  int    `json:"fails"`
	Rounds uint64 `json:"rounds"`
	// Since is the time of the last transition.
	Since  time.Time     `json:"since"`
	Checks []CheckStatus `json:"checks"`
}

// CheckStatus is the last result of one health check.
type CheckStatus struct {
	Name  string    `json:"name"`
	Error string    `json:"error,omitempty"` // "" when it passed
	At    time.Time `json:"at"`
}

// Request is one control request.
type Request struct {
	Cmd  string `json:"cmd"`
	Zone string `json:"zone,omitempty"` // reload only; "" means every zone
	// Explain is the query to explain (explain only).
	Explain *ExplainQuery `json:"explain,omitempty"`
	// Secret is the new cookie secret in hex, "" for a random one
	// (cookie-secret-rotate only).
	Secret string `json:"secret,omitempty"`
}

// CookieHandler is implemented by handlers that answer DNS Cookies.
type CookieHandler interface {
	// RotateCookieSecret makes secret (hex; "": a random one) the server
	// secret of new cookies; the previous one is still accepted for an
	// hour.
	RotateCookieSecret(secret string) (CookieRotation, error)
}

// CookieRotation is the result of a rotation.
type CookieRotation struct {
	// Secret is the new secret when the daemon made it (random), for the
	// other nodes of the anycast group; empty when it was given.
	Secret string `json:"secret,omitempty"`
	// PreviousUntil is when the previous secret stops being accepted.
	PreviousUntil time.Time `json:"previous_until"`
}

// SecondaryHandler is implemented by handlers with secondary zones.
type SecondaryHandler interface {
	ZoneStatus(zone string) ([]ZoneState, error)
	Refresh(zone string, full bool) error
}

// ZoneState is one zone's role and, for a secondary, its transfers.
type ZoneState struct {
	Origin      string     `json:"origin"`
	Role        string     `json:"role"` // "file" or "secondary"
	File        string     `json:"file"`
	Served      bool       `json:"served"`
	Serial      uint32     `json:"serial"`
	Primaries   []string   `json:"primaries,omitempty"`
	LastPrimary string     `json:"last_primary,omitempty"`
	LastRefresh *time.Time `json:"last_refresh,omitempty"` // last good check or transfer
	NextRefresh *time.Time `json:"next_refresh,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	Transfers   uint64     `json:"transfers,omitempty"`
	IXFRs       uint64     `json:"ixfrs,omitempty"`
	Notifies    uint64     `json:"notifies,omitempty"` // NOTIFYs from a primary, acted on
	// ExpirePolicy, Expires and Expired describe a secondary zone's SOA
	// EXPIRE: when its copy expires (the last successful refresh plus
	// EXPIRE) and whether that has passed. Stale: expired and still
	// answered (expire-policy serve-stale); an expired servfail zone
	// answers SERVFAIL.
	ExpirePolicy string     `json:"expire_policy,omitempty"`
	Expires      *time.Time `json:"expires,omitempty"`
	Expired      bool       `json:"expired,omitempty"`
	Stale        bool       `json:"stale,omitempty"`
	// Warnings are the served version's load warnings (FILE:LINE: what),
	// such as occluded data or missing glue.
	Warnings []string `json:"warnings,omitempty"`
}

// ExplainHandler is implemented by handlers that can explain a query.
type ExplainHandler interface {
	Explain(q ExplainQuery) (ExplainResult, error)
}

// ExplainQuery is a query as xdpdnsctl explain describes it.
type ExplainQuery struct {
	Name    string `json:"name"`
	Type    string `json:"type"`              // a type mnemonic (A, DNSKEY) or TYPEnnn
	Class   string `json:"class,omitempty"`   // IN (default) or CH
	DO      bool   `json:"do,omitempty"`      // EDNS with the DO bit
	TCP     bool   `json:"tcp,omitempty"`     // over TCP: always userspace
	BufSize uint16 `json:"bufsize,omitempty"` // EDNS UDP size; 0: 1232 with EDNS
	NoEDNS  bool   `json:"no_edns,omitempty"` // no OPT record at all
	NSID    bool   `json:"nsid,omitempty"`    // ask for NSID (with EDNS)
}

// Paths a query can be answered on.
const (
	PathXDP       = "xdp"
	PathUserspace = "userspace"
)

// ExplainResult says which path answers a query and what it sends.
type ExplainResult struct {
	// Path is PathXDP or PathUserspace.
	Path string `json:"path"`
	// Reason says why the XDP program passes the query up (the name of
	// its pass counter, e.g. "pass.notmpl"), or why XDP is not involved.
	Reason string `json:"reason,omitempty"`
	// Kind is the answer kind (the answer.KIND counter XDP would count).
	Kind string `json:"kind,omitempty"`
	// XDP describes the map entries the program reads, when XDP is on.
	XDP *ExplainXDP `json:"xdp,omitempty"`
	// Answer is the response in dig-like presentation format.
	Answer string `json:"answer"`
}

// ExplainXDP names the entries the XDP program reads for a query.
type ExplainXDP struct {
	Name       string `json:"name"` // the longest existing suffix (its hash in the names map)
	NameHash   string `json:"name_hash"`
	Mode       string `json:"mode"`  // exact, below or chaos
	Typed      bool   `json:"typed"` // a per-type answers entry, not the name's default
	TemplateID uint32 `json:"template_id"`
	BodyLen    int    `json:"body_len,omitempty"`
	Truncated  bool   `json:"truncated,omitempty"` // sent with TC=1
	// Denial says how a template's denial slot was filled (the NSEC or
	// NSEC3 entry covering the query name), when it has one.
	Denial string `json:"denial,omitempty"`
	// TCIngress: the program is attached in a mode (generic, or native
	// on veth) where a reply larger than the query may not fit the frame;
	// the tc ingress companion then sends the same bytes.
	TCIngress bool `json:"tc_ingress,omitempty"`
	// Generation is the live map generation read.
	Generation uint32 `json:"generation"`
}

// Handler carries out control requests; the daemon implements it. Its
// methods may be called concurrently.
type Handler interface {
	// Reload reloads one zone (by origin) or, when zone is "", every
	// zone. A failed reload changes nothing and returns the reason, with
	// file:line for a zone that does not load.
	Reload(zone string) (ReloadResult, error)
	// Status describes the running daemon.
	Status() Status
	// Stats returns the query counters.
	Stats() Stats
}

// ReloadResult says what a successful reload put in service.
type ReloadResult struct {
	// Zones lists the zones reloaded, in canonical order.
	Zones []ZoneReload `json:"zones"`
	// Generation is the XDP map generation now live; absent when the
	// XDP hot path is off.
	Generation *uint32 `json:"generation,omitempty"`
}

// ZoneReload is one reloaded zone.
type ZoneReload struct {
	Origin   string   `json:"origin"`
	Serial   uint32   `json:"serial"`
	File     string   `json:"file"`
	Records  int      `json:"records"`
	Warnings []string `json:"warnings,omitempty"`
}

// Status describes the running daemon.
type Status struct {
	Version string    `json:"version"`
	Started time.Time `json:"started"`
	// UptimeSeconds is the time since Started, in whole seconds.
	UptimeSeconds int64        `json:"uptime_seconds"`
	Listen        []string     `json:"listen"`
	Zones         []ZoneStatus `json:"zones"`
	// XDP is the hot path's state; nil when XDP is off.
	XDP *XDPStatus `json:"xdp,omitempty"`
	// BGP is the anycast state; nil when no BGP speaker runs.
	BGP *BGPStatus `json:"bgp,omitempty"`
}

// ZoneStatus is one zone in service.
type ZoneStatus struct {
	Origin   string    `json:"origin"`
	Serial   uint32    `json:"serial"`
	File     string    `json:"file"`
	LoadedAt time.Time `json:"loaded_at"`
	Records  int       `json:"records"`
	Warnings int       `json:"warnings"`
	Signed   bool      `json:"signed"`
	NSEC3    bool      `json:"nsec3"`
	// SigExpiration is the earliest RRSIG expiration in the zone;
	// absent for a zone without signatures.
	SigExpiration *time.Time `json:"sig_expiration,omitempty"`
	// Secondary holds a secondary zone's transfer state (as zone-status
	// shows it); absent for a zone served from a file.
	Secondary *ZoneState `json:"secondary,omitempty"`
}

// XDPStatus is the XDP hot path's state.
type XDPStatus struct {
	Attachments []Attachment `json:"attachments"`
	// Generation is the live map generation.
	Generation uint32 `json:"generation"`
	// MapBytes is the kernel memory of the live generation's zone maps
	// (entries times value size, as their memlock counts them); 0 when
	// the hot path cannot tell.
	MapBytes int64 `json:"map_bytes,omitempty"`
	// Partial counts the zone set changes rendered alone and written
	// into the live maps, InPlace those compiled whole and written in
	// place (only what differs), Swaps those that needed a new
	// generation (the first, and a change the live maps had no room
	// for).
	Partial uint64 `json:"partial"`
	InPlace uint64 `json:"in_place"`
	Swaps   uint64 `json:"swaps"`
}

// Attachment is the XDP program attached to one interface.
type Attachment struct {
	Iface string `json:"iface"`
	Mode  string `json:"mode"` // "native" or "generic"
	// TCIngress: the tc ingress companion answers what does not fit the
	// XDP frame.
	TCIngress bool `json:"tc_ingress"`
}

// Query kinds in Stats.Queries beyond the engine's answer kinds
// (abi.KindNames).
const (
	KindOther   = "other"   // a kind this build cannot name
	KindDropped = "dropped" // queries given no reply
)

// QueryKinds lists the kinds of Stats.Queries in the order to show them:
// the answer kinds, then KindOther and KindDropped.
func QueryKinds() []string {
	return append(abi.KindNames[:len(abi.KindNames):len(abi.KindNames)], KindOther, KindDropped)
}

// Stats are the daemon's counters since it started.
type Stats struct {
	// Queries counts the queries answered in userspace by transport
	// ("udp", "tcp") and answer kind ("answer", "nxdomain", ...,
	// "dropped" for queries given no reply). Zone transfers are not
	// counted here.
	Queries map[string]map[string]uint64 `json:"queries"`
	// Server holds the userspace server's counters of what it refused
	// or dropped before answering (server.Server.Counters).
	Server map[string]uint64 `json:"server,omitempty"`
	// AnswerCache counts the UDP queries answered from the userspace
	// server's reply cache and those it did not hold.
	AnswerCache CacheStats `json:"answer_cache"`
	// XDP holds the XDP program's counters; absent when XDP is off.
	XDP map[string]uint64 `json:"xdp,omitempty"`
	// XDPError says why the XDP counters could not be read.
	XDPError string `json:"xdp_error,omitempty"`
	// Reloads counts the zone reloads since the daemon started.
	Reloads ReloadStats `json:"reloads"`
}

// CacheStats counts lookups in the userspace server's reply cache.
type CacheStats struct {
	Hits   uint64 `json:"hits"`
	Misses uint64 `json:"misses"`
}

// ReloadStats counts reloads by result and their total duration.
type ReloadStats struct {
	OK      uint64  `json:"ok"`
	Failed  uint64  `json:"failed"`
	Seconds float64 `json:"seconds"` // time spent in reloads, both results
}
