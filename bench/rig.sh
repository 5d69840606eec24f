#!/usr/bin/env bash
# bench/rig.sh — the network-namespace benchmark rig (issue 5): a client
# namespace and a server namespace joined by a veth pair, every server alone
# on the server side (xdpdns with native XDP, xdpdns userspace only, NSD,
# Knot DNS, Knot DNS in XDP mode, and a bare XDP_TX reflector as the floor),
# driven by kxdpgun (rising offered rate) and dnsperf from the client side.
# Writes the <!-- rig-bench:begin/end --> section of bench/RESULTS.md and a
# PNG chart. See bench/README.md ("Namespace rig") for what it measures.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

# Knobs (bench/README.md).
RIG_DELEGATIONS=${RIG_DELEGATIONS:-20000}  # delegations in tld. and stld.
RIG_ROOT_TLDS=${RIG_ROOT_TLDS:-300}        # TLD delegations in the root-like zone
RIG_QUERIES=${RIG_QUERIES:-100000}         # lines per query file
RIG_RATES=${RIG_RATES:-50000 100000 200000 300000 450000 650000}
RIG_REPEATS=${RIG_REPEATS:-3}              # measured intervals per offered rate (the median is reported)
RIG_STEP_SECONDS=${RIG_STEP_SECONDS:-0.4}  # shortest measured interval of a kxdpgun run (s) ...
RIG_STEP_QUERIES=${RIG_STEP_QUERIES:-40000} # ... long enough to hold this many queries at the offered rate
RIG_WARMUP=${RIG_WARMUP:-0.05}             # seconds of traffic (at least) before the first interval
RIG_CPU_RATE=${RIG_CPU_RATE:-100000}       # offered rate whose CPU per reply is reported
RIG_LOW_RATE=${RIG_LOW_RATE:-5000}         # a low offered rate whose CPU per reply is reported too ...
RIG_LOW_SECONDS=${RIG_LOW_SECONDS:-3}      # ... measured over one interval this long ...
RIG_LOW_SETS=${RIG_LOW_SETS-hot mix}       # ... on these sets ("" skips it)
RIG_SPOOF_SERVERS=${RIG_SPOOF_SERVERS-xdpdns xdpdns-user nsd knot knot-xdp} # the spoof scenario ("" skips it) ...
RIG_SPOOF_RATE=${RIG_SPOOF_RATE:-200000}   # ... its flood (pps) of one large DO=1 query from one address ...
RIG_SPOOF_SECONDS=${RIG_SPOOF_SECONDS:-3}  # ... for this long, against ...
RIG_SPOOF_LIMIT=${RIG_SPOOF_LIMIT:-20}     # ... each server's response rate limiting at this rate (slip 2)
RIG_DNSPERF_SETS=${RIG_DNSPERF_SETS-hot mix mix-signed flood root flood-root}
RIG_DNSPERF_SECONDS=${RIG_DNSPERF_SECONDS:-3}
RIG_FIXED_RATE=${RIG_FIXED_RATE:-50000}    # dnsperf -Q of the fixed-rate run
RIG_SERVERS=${RIG_SERVERS:-reflector xdpdns xdpdns-user nsd knot knot-xdp}
RIG_SETS=${RIG_SETS:-hot mix mix-signed flood root flood-root}
RIG_TIMEOUT=${RIG_TIMEOUT:-1200}           # hard bound on the whole run (s)
RIG_SERVER_CPU=${RIG_SERVER_CPU:-1}
RIG_CLIENT_CPU=${RIG_CLIENT_CPU:-0}
RIG_RESULTS=${RIG_RESULTS:-$ROOT/bench/RESULTS.md}
RIG_CHART=${RIG_CHART:-$ROOT/bench/rig-chart.png}
RIG_LOSS_PCT=${RIG_LOSS_PCT:-0.1}          # "answered" means loss below this
RIG_ANSWERS=${RIG_ANSWERS:-1000}           # queries per set whose answers are compared across servers (0: none)

# Rate limiting of the servers, on only in the spoof scenario.
RRL_XDPDNS=()
RRL_NSD=0
RRL_KNOT=0

START_EPOCH=$(date +%s)
COMMAND_LINE="bench/rig.sh${*:+ $*}"
KNOBS="RIG_DELEGATIONS=$RIG_DELEGATIONS RIG_ROOT_TLDS=$RIG_ROOT_TLDS RIG_QUERIES=$RIG_QUERIES RIG_RATES='$RIG_RATES' RIG_REPEATS=$RIG_REPEATS RIG_STEP_SECONDS=$RIG_STEP_SECONDS RIG_STEP_QUERIES=$RIG_STEP_QUERIES RIG_WARMUP=$RIG_WARMUP RIG_SETS='$RIG_SETS' RIG_SERVERS='$RIG_SERVERS' RIG_DNSPERF_SETS='$RIG_DNSPERF_SETS' RIG_DNSPERF_SECONDS=$RIG_DNSPERF_SECONDS RIG_FIXED_RATE=$RIG_FIXED_RATE RIG_ANSWERS=$RIG_ANSWERS RIG_CPU_RATE=$RIG_CPU_RATE RIG_LOW_RATE=$RIG_LOW_RATE RIG_LOW_SECONDS=$RIG_LOW_SECONDS RIG_LOW_SETS='$RIG_LOW_SETS' RIG_SPOOF_SERVERS='$RIG_SPOOF_SERVERS' RIG_SPOOF_RATE=$RIG_SPOOF_RATE RIG_SPOOF_SECONDS=$RIG_SPOOF_SECONDS RIG_SPOOF_LIMIT=$RIG_SPOOF_LIMIT"

log() { printf '[rig %3ds] %s\n' "$(($(date +%s) - START_EPOCH))" "$*" >&2; }
usec() { local t=${EPOCHREALTIME/[.,]/}; echo "$((10#$t))"; }
# spent PHASE: charge the time since the previous call to PHASE (where the
# run's time goes; logged at the end and written to RESULTS.md).
declare -A SPENT
SPENT_ORDER="build data startup checks dnsperf kxdpgun stop report"
LAST_TICK=$(usec)
spent() {
	local now
	now=$(usec)
	SPENT[$1]=$((${SPENT[$1]:-0} + now - LAST_TICK))
	LAST_TICK=$now
}
spent_summary() {
	local p out=""
	for p in $SPENT_ORDER; do
		[ -n "${SPENT[$p]:-}" ] && out+="$p $(((SPENT[$p] + 500000) / 1000000)) s, "
	done
	echo "${out%, }"
}
die() { printf '\nrig: FAIL: %s\n' "$*" >&2; DIED=1; exit 1; }
DIED=""

# ---------------------------------------------------------------- rig and cleanup

TAG=xr$$
NS_SRV=$TAG-srv
NS_CLI=$TAG-cli
IF_SRV=${TAG}s0
IF_CLI=${TAG}c0
SRV_IP=198.18.0.1
CLI_IP=198.18.0.2
TMP=""
PIDS=()       # every long-running process started (servers, xdppass)
PASS_PID=""   # the client's XDP_PASS holder, when attached
SERVER_PID=""
WATCHDOG_PID=""
CLEANED=0

forget_pid() {
	local keep=() p
	for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	PIDS=("${keep[@]+"${keep[@]}"}")
}


cleanup() {
	[ "$CLEANED" = 1 ] && return 0
	CLEANED=1
	local pid
	for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
	# Anything still running inside the namespaces (kxdpgun, dnsperf, kdig).
	teardown_netns "$NS_SRV" "$IF_SRV" "$NS_CLI" "$IF_CLI"
	if [ -n "$WATCHDOG_PID" ]; then
		kill "$WATCHDOG_PID" 2>/dev/null || true
		wait "$WATCHDOG_PID" 2>/dev/null || true
	fi
	if [ -n "${BPF_STATS_WAS:-}" ]; then sysctl -qw kernel.bpf_stats_enabled="$BPF_STATS_WAS" || true; fi
	if [ -n "$TMP" ] && [ -d "$TMP" ] && [ -z "${RIG_KEEP_TMP:-}" ]; then rm -rf "$TMP"; fi
}
# A command failing under set -e ends the run without die's message: say so.
trap 'rc=$?; [ "$rc" = 0 ] || [ -n "$DIED" ] || printf "\nrig: FAIL: exit status %s, last command: %s\n" "$rc" "$BASH_COMMAND" >&2; cleanup' EXIT
trap 'log "interrupted"; DIED=1; cleanup; exit 130' INT
trap 'log "terminated (RIG_TIMEOUT=${RIG_TIMEOUT}s or signal)"; DIED=1; cleanup; exit 143' TERM

(
	trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
	sleep "$RIG_TIMEOUT" &
	sleeper=$!
	wait "$sleeper"
	echo "rig: FAIL: run exceeded RIG_TIMEOUT=${RIG_TIMEOUT}s" >&2
	kill -TERM $$
) &
WATCHDOG_PID=$!

# ---------------------------------------------------------------- prerequisites

[ "$(id -u)" = 0 ] || die "needs root (namespaces, XDP)"
if ! command -v gnuplot >/dev/null; then # the chart; not in make deps' list
	log "installing gnuplot-nox for the chart"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null 2>&1 ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null; } ||
		die "cannot install gnuplot-nox"
fi
for tool in kxdpgun dnsperf kdig nsd knotd bpftool dnssec-keygen dnssec-signzone gnuplot taskset ip go; do
	command -v "$tool" >/dev/null || die "$tool not found (make deps installs the packages)"
done
ncpu=$(nproc)
((RIG_SERVER_CPU < ncpu && RIG_CLIENT_CPU < ncpu)) || die "need CPUs $RIG_CLIENT_CPU and $RIG_SERVER_CPU, have $ncpu"
BPF_STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1 || die "cannot enable kernel.bpf_stats_enabled"

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v l="${LOAD_START%% *}" 'BEGIN {exit !(l > 0.5)}'; then
	log "WARNING: load average $LOAD_START before the run: other work on this machine skews the figures"
fi
TMP=$(mktemp -d /tmp/xdpdns-rig.XXXXXX)
log "work directory $TMP"
(cd "$ROOT" && go build -o "$TMP/" ./cmd/xdpdnsd ./cmd/xdpdnsctl ./bench/cmd/genzone ./bench/cmd/xdppass ./bench/cmd/anscmp) ||
	die "cannot build xdpdnsd, genzone, xdppass, anscmp"
XDPDNSD=$TMP/xdpdnsd
XDPDNSCTL=$TMP/xdpdnsctl
spent build

# ---------------------------------------------------------------- data

log "data: hot., tld. ($RIG_DELEGATIONS delegations) unsigned, stld. NSEC3-signed, root-like . ($RIG_ROOT_TLDS TLDs) signed"
D=$TMP/data
mkdir -p "$D/keys"
"$TMP/genzone" -out "$D" -delegations "$RIG_DELEGATIONS" -queries 1 || die genzone
# The signed TLD: the same zone under another origin (every name in
# genzone's output ends in "tld." or is relative to $ORIGIN tld.).
sed 's/tld\./stld./g' "$D/tld.zone" >"$D/stld.unsigned"

cat >"$D/hot.zone" <<'EOF'
$ORIGIN hot.
$TTL 3600
@ IN SOA ns1.hot. hostmaster.hot. 1 7200 3600 1209600 3600
@ IN NS ns1.hot.
@ IN NS ns2.hot.
ns1 IN A 192.0.2.53
ns2 IN A 192.0.2.54
www IN A 192.0.2.80
api IN A 192.0.2.81
cdn IN A 192.0.2.82
mail IN A 192.0.2.25
www IN AAAA 2001:db8::80
EOF

awk -v n="$RIG_ROOT_TLDS" 'BEGIN {
	srand(7)
	print "$ORIGIN ."
	print "$TTL 86400"
	print ". IN SOA a.root-servers.net. nstld.verisign-grs.com. 2024010101 1800 900 604800 86400"
	print ". IN NS a.root-servers.net."
	print ". IN NS b.root-servers.net."
	print "root-servers.net. IN NS a.root-servers.net."
	print "a.root-servers.net. IN A 198.41.0.4"
	print "b.root-servers.net. IN A 170.247.170.2"
	for (k = 0; k < n; k++) {
		t = "t" k "."
		for (j = 1; j <= 2; j++) {
			printf "%s IN NS ns%d.nic.%s\n", t, j, t
			printf "ns%d.nic.%s IN A 198.51.%d.%d\n", j, t, int(k / 250) % 256, 1 + k % 250
			printf "ns%d.nic.%s IN AAAA 2001:db8:%x::%d\n", j, t, k, j
		}
		d = ""
		for (i = 0; i < 64; i++) d = d sprintf("%x", int(rand() * 16))
		printf "%s IN DS %d 8 2 %s\n", t, 1000 + k, d
	}
}' >"$D/root.unsigned"

sign() { # origin in out [nsec3 args...]
	local origin=$1 in=$2 out=$3
	shift 3
	(cd "$D/keys" &&
		dnssec-keygen -q -a ECDSAP256SHA256 -f KSK "$origin" >/dev/null &&
		dnssec-keygen -q -a ECDSAP256SHA256 "$origin" >/dev/null) || die "dnssec-keygen $origin"
	dnssec-signzone -q -S -K "$D/keys" -o "$origin" -f "$out" "$@" "$in" >/dev/null 2>"$D/sign-$origin.err" ||
		die "dnssec-signzone $origin: $(cat "$D/sign-$origin.err")"
}
sign stld. "$D/stld.unsigned" "$D/stld.zone" -3 abcd -H 0 -A
sign . "$D/root.unsigned" "$D/root.zone"

# Query files, kxdpgun's format: "name type [D]" (D: EDNS with DO). dnsperf
# has no per-query DO: its copies drop the third column, and sets with D
# lines run with dnsperf -D (DO on every query).
(cd "$D" && awk -v q="$RIG_QUERIES" -v n="$RIG_DELEGATIONS" -v t="$RIG_ROOT_TLDS" 'BEGIN {
	srand(1)
	split("www.hot. A|api.hot. A|cdn.hot. A|mail.hot. A|www.hot. AAAA|hot. SOA|hot. NS", hot, "|")
	for (i = 0; i < q; i++) {
		print hot[1 + int(rand() * 7)] > "hot.txt"
		do_ = (rand() < 0.7) ? " D" : ""
		if (rand() < 0.05) nm = sprintf("nx%06x%06x", int(rand() * 16777216), int(rand() * 16777216))
		else nm = "www.d" int(rand() * n)
		print nm ".tld. A" do_ > "mix.txt"
		print nm ".stld. A" do_ > "mix-signed.txt"
		do_ = (rand() < 0.7) ? " D" : ""
		printf "%06x%06x.stld. A%s\n", int(rand() * 16777216), int(rand() * 16777216), do_ > "flood.txt"
		do_ = (rand() < 0.7) ? " D" : ""
		if (rand() < 0.05) printf "nx%06x. A%s\n", int(rand() * 16777216), do_ > "root.txt"
		else printf "www.dom%d.t%d. A%s\n", int(rand() * 100000), int(rand() * t), do_ > "root.txt"
		do_ = (rand() < 0.7) ? " D" : ""
		printf "%06x%04x. A%s\n", int(rand() * 16777216), int(rand() * 65536), do_ > "flood-root.txt"
	}
}') || die "cannot write the query files"
# The spoof scenario: one query with a large signed answer, DO=1, over and
# over from one address (as a forged-source amplification attack sends).
echo "stld. DNSKEY D" >"$D/spoof.txt"
for set in hot mix mix-signed flood root flood-root spoof; do
	mv "$D/$set.txt" "$D/q-$set.txt"
	awk '{print $1, $2}' "$D/q-$set.txt" >"$D/dp-$set.txt"
done
spent data
# dnsperf flags of a set: -D (EDNS, DO) where its lines have D; none (no
# EDNS, as kxdpgun sends those lines) otherwise. (It used to say "echo -e",
# which echo takes for an option and prints nothing: the hot set has always
# run without EDNS.)
set_flags() { if grep -q ' D$' "$D/q-$1.txt"; then echo -D; fi; }
set_desc() {
	case $1 in
	hot) echo "hot names in the small zone hot. (A, AAAA, SOA, NS; NOERROR, AA), no DO" ;;
	mix) echo "TLD mix, tld. unsigned: referrals \`www.dK.tld. A\` under random delegations, 5% NXDOMAIN, DO=1 on 70%" ;;
	mix-signed) echo "TLD mix, stld. NSEC3-signed (opt-out): referrals (DS + RRSIG or NSEC3 no-DS proof with DO), 5% NXDOMAIN (NSEC3 proofs with DO), DO=1 on 70%" ;;
	flood) echo "random-subdomain flood on stld. (signed): \`<12 hex>.stld. A\`, all NXDOMAIN, DO=1 on 70%" ;;
	flood-root) echo "junk-TLD flood on the root-like zone . (signed, NSEC): \`<10 hex>. A\`, all NXDOMAIN, DO=1 on 70%" ;;
	root) echo "root-like zone . (signed, NSEC): referrals \`www.domN.tK. A\` to $RIG_ROOT_TLDS TLDs (DS with DO), 5% NXDOMAIN, DO=1 on 70%" ;;
	esac
}

# ---------------------------------------------------------------- the rig

log "rig: namespaces $NS_SRV / $NS_CLI, veth $IF_SRV <-> $IF_CLI"
# dnsperf's datagrams must leave the client with complete UDP checksums
# (veth_pair turns the client's offload off); kxdpgun builds whole frames.
veth_pair "$NS_SRV" "$NS_CLI" "$IF_SRV" "$IF_CLI" "$SRV_IP" "$CLI_IP"
# Static neighbours both ways: the reflector answers ARP with garbage, and
# kxdpgun needs the server's MAC before it sends.
mac() { ip -n "$1" -j link show dev "$2" | grep -o '"address":"[0-9a-f:]*"' | head -1 | cut -d'"' -f4; }
MAC_SRV=$(mac "$NS_SRV" "$IF_SRV")
MAC_CLI=$(mac "$NS_CLI" "$IF_CLI")
ip -n "$NS_CLI" neigh replace "$SRV_IP" lladdr "$MAC_SRV" dev "$IF_CLI" nud permanent
ip -n "$NS_SRV" neigh replace "$CLI_IP" lladdr "$MAC_CLI" dev "$IF_SRV" nud permanent

# Server-side receive work on the server's CPU. On veth the receiving
# end's work (its XDP program, or the kernel stack up to the socket) runs on
# the CPU that sent the frame, the generator's. RIG_NAPI=threaded (default)
# gives the server veth threaded NAPI, its kthread pinned to the server CPU
# once a server's XDP program exists (pin_napi), and RPS to the server CPU
# for the path without XDP; RIG_NAPI=off leaves the kernel's default.
RIG_NAPI=${RIG_NAPI:-threaded}
if [ "$RIG_NAPI" = threaded ]; then
	ip netns exec "$NS_SRV" sh -c "printf %x $((1 << RIG_SERVER_CPU)) >/sys/class/net/$IF_SRV/queues/rx-0/rps_cpus" ||
		die "cannot set RPS on $IF_SRV"
fi
# pin_napi: veth has NAPI only while an XDP program is attached (threaded
# cannot be set before: EIO), so it is set, and the kthreads (comm
# napi/IFNAME-ID) pinned, once the server is up and again before each run.
pin_napi() {
	[ "$RIG_NAPI" = threaded ] || return 0
	local p
	[ -n "$(server_progs)" ] && ip netns exec "$NS_SRV" sh -c "echo 1 >/sys/class/net/$IF_SRV/threaded" 2>/dev/null || true
	for p in $(pgrep "^napi/$IF_SRV" || true); do taskset -p -c "$RIG_SERVER_CPU" "$p" >/dev/null || true; done
}

# pass_on / pass_off: the client's XDP_PASS program (needed for replies the
# server sends with XDP_TX to arrive; kxdpgun attaches its own program and
# cannot while another is attached, so it is detached around kxdpgun).
pass_on() {
	[ -n "$PASS_PID" ] && return 0
	xdp_off "$NS_CLI" "$IF_CLI"
	ip netns exec "$NS_CLI" "$TMP/xdppass" -iface "$IF_CLI" -prog pass >"$TMP/pass.out" 2>&1 &
	PASS_PID=$!
	PIDS+=("$PASS_PID")
	local i
	for ((i = 0; i < 100; i++)); do
		grep -q '^attached' "$TMP/pass.out" && return 0
		kill -0 "$PASS_PID" 2>/dev/null || die "xdppass on $IF_CLI: $(cat "$TMP/pass.out")"
		sleep 0.05
	done
	die "xdppass on $IF_CLI did not attach"
}
pass_off() {
	[ -z "$PASS_PID" ] && return 0
	stop_pid "$PASS_PID"
	forget_pid "$PASS_PID"
	PASS_PID=""
}

# ---------------------------------------------------------------- servers

# pin_all pid: every thread of the server and its descendants on the server
# CPU (knotd sets its workers' affinity itself).
pin_all() {
	local p t
	for p in $(descendants "$1"); do
		for t in /proc/"$p"/task/*; do
			taskset -p -c "$RIG_SERVER_CPU" "${t##*/}" >/dev/null 2>&1 || true
		done
	done
}

start_server() { # name: start it alone on the server side, pinned; sets SERVER_PID
	local name=$1 dir=$TMP/srv-$1 logf
	mkdir -p "$dir"
	logf=$dir/server.log
	local zones="hot.=$D/hot.zone tld.=$D/tld.zone stld.=$D/stld.zone .=$D/root.zone"
	local zargs=() z
	for z in $zones; do zargs+=(--zone "$z"); done
	case $name in
	reflector)
		ip netns exec "$NS_SRV" "$TMP/xdppass" -iface "$IF_SRV" -prog reflect >"$logf" 2>&1 &
		;;
	xdpdns)
		ip netns exec "$NS_SRV" taskset -c "$RIG_SERVER_CPU" "$XDPDNSD" "${zargs[@]}" "${RRL_XDPDNS[@]}" --listen "$SRV_IP:53" --control "$TMP/xdpdns.sock" --xdp "$IF_SRV:native" >"$logf" 2>&1 &
		;;
	xdpdns-user)
		ip netns exec "$NS_SRV" taskset -c "$RIG_SERVER_CPU" "$XDPDNSD" "${zargs[@]}" "${RRL_XDPDNS[@]}" --listen "$SRV_IP:53" --control "" >"$logf" 2>&1 &
		;;
	nsd)
		{
			cat <<-EOF
				server:
				  ip-address: $SRV_IP@53
				  server-count: 1
				  username: ""
				  chroot: ""
				  zonesdir: "$dir"
				  database: ""
				  zonelistfile: "$dir/zone.list"
				  xfrdfile: "$dir/xfrd.state"
				  pidfile: "$dir/nsd.pid"
				  logfile: "$logf"
				  rrl-ratelimit: $RRL_NSD
				  rrl-slip: 2
				  rrl-ipv4-prefix-length: 24
				  minimal-responses: yes
				  verbosity: 1
				remote-control:
				  control-enable: no
			EOF
			for z in $zones; do printf 'zone:\n  name: "%s"\n  zonefile: "%s"\n' "${z%%=*}" "${z#*=}"; done
		} >"$dir/nsd.conf"
		ip netns exec "$NS_SRV" taskset -c "$RIG_SERVER_CPU" nsd -d -c "$dir/nsd.conf" >>"$logf" 2>&1 &
		;;
	knot | knot-xdp)
		local sections="" tmpl=""
		if [ "$name" = knot-xdp ]; then sections=$(printf 'xdp:\n  listen: %s@53' "$IF_SRV"); fi
		if [ "$RRL_KNOT" != 0 ]; then
			sections+=${sections:+$'\n'}$(printf 'mod-rrl:\n  - id: rrl\n    rate-limit: %s\n    slip: 2' "$RRL_KNOT")
			tmpl='    global-module: mod-rrl/rrl'
		fi
		# shellcheck disable=SC2086 # $zones: ORIGIN=FILE words
		KNOT_SECTIONS=$sections KNOT_TEMPLATE_EXTRA=$tmpl knot_conf "$dir" "$SRV_IP@53" $zones >"$dir/knot.conf"
		ip netns exec "$NS_SRV" taskset -c "$RIG_SERVER_CPU" knotd -c "$dir/knot.conf" >"$logf" 2>&1 &
		;;
	*) die "unknown server $name" ;;
	esac
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	# Ready: the reflector once attached; the others once they answer hot. SOA.
	local ok=0 deadline=$(($(date +%s) + 120))
	while (($(date +%s) < deadline)); do
		kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$logf" >&2; die "$name exited during startup (log above)"; }
		if [ "$name" = reflector ]; then
			grep -q '^attached' "$logf" && ok=1
		else
			ip netns exec "$NS_CLI" kdig @"$SRV_IP" hot. SOA +norec +time=1 +retry=0 2>/dev/null | grep -q 'status: NOERROR' && ok=1
		fi
		[ $ok = 1 ] && break
		sleep 0.2
	done
	[ $ok = 1 ] || { tail -20 "$logf" >&2; die "$name did not answer hot. SOA within 120 s"; }
	pin_all "$SERVER_PID"
	SERVER_TREE=$(descendants "$SERVER_PID" | tr '\n' ' ')
	pin_napi
	SERVER_PROGS=$(server_progs)
	if [[ $name == reflector || $name == xdpdns || $name == knot-xdp ]] && [ -z "$SERVER_PROGS" ]; then
		die "$name: no XDP program attached to $IF_SRV"
	fi
	# The BPF programs whose run time counts as the server's: those attached
	# to its veth, and every program the server's processes hold (by
	# program or link fd), e.g. xdpdns's tc ingress companion (tcx).
	SERVER_BPF=$({
		tr ' ' '\n' <<<"$SERVER_PROGS"
		held_prog_ids
	} | grep -E '^[0-9]+$' | sort -un | tr '\n' ' ' | sed 's/ $//' || true)
	log "$name ready (pid $SERVER_PID; XDP programs on $IF_SRV: ${SERVER_PROGS:-none}; BPF programs counted: ${SERVER_BPF:-none})"
}

stop_server() {
	stop_pid "$SERVER_PID"
	forget_pid "$SERVER_PID"
	SERVER_PID=""
	# Knot (and NSD) leave their XDP program attached after they stop.
	xdp_off "$NS_SRV" "$IF_SRV"
	[ -z "$(server_progs)" ] || die "an XDP program is still attached to $IF_SRV"
}

held_prog_ids() { # IDs of the BPF programs the server's processes hold an fd of (program or link)
	local p f k v
	for p in $SERVER_TREE; do
		for f in /proc/"$p"/fdinfo/*; do
			while read -r k v; do
				[ "$k" = prog_id: ] && echo "$v"
			done 2>/dev/null <"$f"
		done
	done
	return 0
}
server_progs() { # IDs of the XDP programs attached to the server's veth
	ip -n "$NS_SRV" -d -j link show dev "$IF_SRV" 2>/dev/null |
		grep -o '"prog":{"id":[0-9]*' | grep -o '[0-9]*$' | sort -u | tr '\n' ' ' | sed 's/ $//' || true
}

# ---------------------------------------------------------------- spot checks

q() { # name type [kdig options]: from the client side
	local n=$1 t=$2
	shift 2
	ip netns exec "$NS_CLI" kdig @"$SRV_IP" "$n" "$t" +norec +time=1 +retry=1 "$@" 2>&1 || true
}
section() { awk -v s=";; $2 SECTION:" '$0 == s {on = 1; next} /^;;/ || /^$/ {on = 0} on' <<<"$1"; }
expect() { # server what output pattern...: every pattern must match
	local who=$1 what=$2 out=$3 p
	shift 3
	for p in "$@"; do
		grep -Eq -- "$p" <<<"$out" || die "$who: $what: no match for /$p/ in the answer:"$'\n'"$out"
	done
}

spot_check() {
	local s=$1 out
	out=$(q www.hot. A)
	expect "$s" "www.hot. A" "$out" 'status: NOERROR' 'Flags:.* aa' 'www\.hot\.[[:space:]].*A[[:space:]]+192\.0\.2\.80'
	out=$(q www.d0.tld. A +edns)
	expect "$s" "referral www.d0.tld. A" "$out" 'status: NOERROR' 'AUTHORITY: 2' '^d0\.tld\..*NS[[:space:]]+ns1\.d0\.tld\.' 'ns1\.d0\.tld\..*A[[:space:]]+198\.51\.0\.1'
	grep -q 'Flags:.* aa' <<<"$out" && die "$s: referral www.d0.tld. A has AA set:"$'\n'"$out"
	out=$(q nxspot.tld. A)
	expect "$s" "NXDOMAIN nxspot.tld. A" "$out" 'status: NXDOMAIN' 'Flags:.* aa' '^tld\..*SOA'
	out=$(q www.d0.stld. A +dnssec)
	expect "$s" "signed referral www.d0.stld. A +dnssec" "$out" 'status: NOERROR' '^d0\.stld\..*NS' '^d0\.stld\..*[[:space:]]DS[[:space:]]' '^d0\.stld\..*RRSIG[[:space:]]+DS'
	out=$(q www.d1.stld. A +dnssec)
	expect "$s" "signed referral without DS www.d1.stld. A +dnssec" "$out" 'status: NOERROR' '^d1\.stld\..*NS'
	out=$(q nxspot.stld. A +dnssec)
	expect "$s" "NXDOMAIN nxspot.stld. A +dnssec" "$out" 'status: NXDOMAIN' 'Flags:.* aa' '[[:space:]]NSEC3[[:space:]]' 'RRSIG[[:space:]]+NSEC3'
	out=$(q www.dom1.t0. A +dnssec)
	expect "$s" "root referral www.dom1.t0. A +dnssec" "$out" 'status: NOERROR' '^t0\..*NS[[:space:]]+ns1\.nic\.t0\.' '^t0\..*[[:space:]]DS[[:space:]]' 'ns1\.nic\.t0\..*A[[:space:]]+198\.51\.0\.1'
	out=$(q nxspot. A +dnssec)
	expect "$s" "root NXDOMAIN nxspot. A +dnssec" "$out" 'status: NXDOMAIN' '[[:space:]]NSEC[[:space:]]'
	log "$s: spot checks passed (hot, tld. referral/NXDOMAIN, stld. DS/NSEC3, root referral/NSEC)"
}

# ---------------------------------------------------------------- answers compared

# Every server but the reflector answers the first RIG_ANSWERS queries of
# each set (bench/cmd/anscmp record, from the client side, as kxdpgun sends
# them); its answers are compared with those of the reference servers
# recorded so far (anscmp compare: interop's comparison and allowed
# differences). The references are xdpdns and xdpdns-user (compared with
# each other with no difference allowed), or, when neither runs, the first
# server. Any other difference fails the run.
ANS_RECORDED=()
ANS_RESULTS=() # "server reference compared identical allowed bytes [allowances]"
is_ref() {
	case $1 in xdpdns | xdpdns-user) return 0 ;; esac
	[[ " $RIG_SERVERS " == *" xdpdns "* || " $RIG_SERVERS " == *" xdpdns-user "* ]] && return 1
	[ "$1" = "$(tr ' ' '\n' <<<"$RIG_SERVERS" | grep -v '^reflector$' | grep -m1 .)" ]
}
answers_check() { # server
	local s=$1 p args=() set ref other strict res
	[ "$RIG_ANSWERS" -gt 0 ] || return 0
	for set in $RIG_SETS; do args+=("$set=$D/q-$set.txt"); done
	ip netns exec "$NS_CLI" "$TMP/anscmp" record -server "$SRV_IP:53" -n "$RIG_ANSWERS" -out "$TMP/answers-$s.txt" "${args[@]}" 2>"$TMP/anscmp.err" ||
		die "$s: cannot record answers: $(cat "$TMP/anscmp.err")"
	for p in "${ANS_RECORDED[@]+"${ANS_RECORDED[@]}"}"; do
		if is_ref "$p"; then ref=$p other=$s
		elif is_ref "$s"; then ref=$s other=$p
		else continue; fi
		strict=()
		is_ref "$other" && strict=(-strict)
		res=$("$TMP/anscmp" compare "${strict[@]+"${strict[@]}"}" "$TMP/answers-$ref.txt" "$TMP/answers-$other.txt" 2>"$TMP/anscmp.err") ||
			die "answers of $other differ from $ref's:"$'\n'"$(cat "$TMP/anscmp.err")"
		ANS_RESULTS+=("$other $ref ${res#compared }")
		log "answers: $other vs $ref: $res"
	done
	ANS_RECORDED+=("$s")
}

# ---------------------------------------------------------------- measures

CLK_TCK=$(getconf CLK_TCK)
SERVER_TREE="" # the server's process and its descendants, listed once it is ready
proc_ticks() { # user+system ticks of the server's processes (all threads), without forking
	local total=0 p line f
	for p in $SERVER_TREE; do
		read -r line 2>/dev/null <"/proc/$p/stat" || continue
		read -ra f <<<"${line##*) }"
		total=$((total + f[11] + f[12]))
	done
	echo "$total"
}
bpf_ns() { # summed run_time_ns of the given program IDs
	local total=0 id v
	for id in $1; do
		v=$(bpftool prog show id "$id" -j 2>/dev/null | grep -o '"run_time_ns":[0-9]*' | grep -o '[0-9]*$' || true)
		total=$((total + ${v:-0}))
	done
	echo "$total"
}
idle_ticks() { # idle+iowait ticks of all CPUs; busy is wall minus idle (the
	# other per-category tick counts are unreliable on this VM, BRIEF §4)
	local name user nice sys idle iow rest total=0
	while read -r name user nice sys idle iow rest; do
		[[ $name == cpu[0-9]* ]] && total=$((total + idle + iow))
	done </proc/stat
	echo "$total"
}
proc_ns() { # nanoseconds on CPU of the server's threads (schedstat: exact, and
	# with interrupts and softirqs taken while they ran, as this kernel has no
	# IRQ time accounting), for the low-rate step, where ticks are too coarse
	local total=0 t ns rest
	for p in $SERVER_TREE; do
		for t in /proc/"$p"/task/*/schedstat; do
			read -r ns rest 2>/dev/null <"$t" || continue
			total=$((total + ns))
		done
	done
	echo "$total"
}
snap() { # "proc-ticks bpf-ns idle-ticks-all-cpus wall proc-ns"
	echo "$(proc_ticks) $(bpf_ns "$SERVER_BPF") $(idle_ticks) $EPOCHREALTIME $(proc_ns)"
}
sleep_until() { # microsecond timestamp
	local d=$(($1 - $(usec)))
	((d > 0)) || return 0
	sleep "$(printf '%d.%06d' $((d / 1000000)) $((d % 1000000)))"
}
count_lines() { local n; n=$(grep -c "$1" "$2" 2>/dev/null) || true; echo "${n:-0}"; }

# kxdp_step set rate out: one kxdpgun run at one offered rate, measured over
# RIG_REPEATS intervals of RIG_STEP_SECONDS (longer at low rates, see step_us)
# after at least RIG_WARMUP s of traffic.
# kxdpgun prints its cumulative counters on SIGUSR1 (queries sent, replies,
# rcodes, and the pps since traffic began, from which the exact time of each
# print follows); one print at each interval boundary, the differences are
# the intervals. kxdpgun runs with line-buffered stdout (stdbuf) and is
# killed once the last print is out: it would otherwise wait 1 s for late
# replies after its -t, and it spends ~1 s in start-up before it sends,
# which is why the repeats are intervals of one run and not separate runs.
# A SIGUSR1 before traffic starts would crash it (a division by the elapsed
# time), hence the warm-up; a run that ends without its prints is retried
# once. The server's CPU (snap) is read at the first and last boundary of
# the RIG_CPU_RATE step only. Prints one line per interval:
# "offered sent/s replies/s loss% srv_us_per_reply bpf_us_per_reply vm_us_per_reply rcodes"
# (the CPU fields are "-" except on the RIG_CPU_RATE step, where they cover
# all intervals and are repeated on each line).
kxdp_step() {
	local set=$1 rate=$2 out=$3 try
	for try in 1 2; do
		kxdp_try "$set" "$rate" "$out" && return 0
		log "kxdpgun run $set @$rate failed (try $try): $(tr '\n' ' ' <"$out.err" | tail -c 300)"
	done
	die "kxdpgun failed twice on $set @$rate: $(tail -5 "$out" "$out.err" | tr '\n' ' ')"
}
# xdp_counts: "program-replies userspace-replies" so far, from xdpdns's
# counters (XDP answers and tc ingress answers; userspace UDP replies).
xdp_counts() {
	ip netns exec "$NS_SRV" "$XDPDNSCTL" --control "$TMP/xdpdns.sock" --json stats 2>/dev/null | tr -d '\n ' | awk '
		{ s = $0
		  x = s; if (sub(/.*"xdp":\{/, "", x)) sub(/\}.*/, "", x); else x = ""
		  u = s; if (sub(/.*"udp":\{/, "", u)) sub(/\}.*/, "", u); else u = ""
		  n = split(x, a, ","); for (i = 1; i <= n; i++) { split(a[i], kv, ":"); k = kv[1]; gsub(/"/, "", k)
		    if (k ~ /^answer\./ || k == "tc_ingress.answer") p += kv[2] }
		  n = split(u, a, ","); for (i = 1; i <= n; i++) { split(a[i], kv, ":"); k = kv[1]; gsub(/"/, "", k)
		    if (k != "dropped") q += kv[2] }
		  printf "%d %d\n", p, q }'
}
# xdp_share before: the share of replies sent by the program since the
# snapshot before ("p u" from xdp_counts), as a percentage.
xdp_share() {
	awk -v a="$1" -v b="$(xdp_counts)" 'BEGIN { split(a, x, " "); split(b, y, " ")
		p = y[1] - x[1]; u = y[2] - x[2]; if (p + u <= 0) print "-"; else printf "%.2f%%", 100 * p / (p + u) }'
}

kxdp_try() {
	local set=$1 rate=$2 out=$3 pid t0 tk k s0="" s1="" deadline total cpu=0 step_us warm_us
	[ "$rate" = "$RIG_CPU_RATE" ] && cpu=1
	step_us=$(step_us "$rate")
	warm_us=$(awk -v w="$RIG_WARMUP" 'BEGIN { printf "%d", w * 1e6 }')
	total=$(awk -v w="$warm_us" -v n="$RIG_REPEATS" -v s="$step_us" 'BEGIN { printf "%.3f", (w + n * s) / 1e6 + 2 }')
	xdp_off "$NS_CLI" "$IF_CLI" # what the previous run left attached
	pin_napi
	t0=$(usec)
	ip netns exec "$NS_CLI" taskset -c "$RIG_CLIENT_CPU" stdbuf -oL \
		kxdpgun -t "$total" -Q "$rate" -F "$RIG_CLIENT_CPU" -I "$IF_CLI" -R "$MAC_SRV" -i "$D/q-$set.txt" "$SRV_IP" >"$out" 2>"$out.err" &
	pid=$!
	# Started: its signal handlers are set once it reports the interface.
	deadline=$((t0 + 10000000))
	until grep -qs '^using interface' "$out"; do
		kill -0 "$pid" 2>/dev/null && (($(usec) < deadline)) || { kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; return 1; }
		sleep 0.01
	done
	# kxdpgun starts its sending thread, sleeps 1.02 s and then starts
	# traffic; the thread reports the interface once it has set up its XDP
	# socket, so traffic has started at the latest 1.02 s after that report.
	# The first boundary comes RIG_WARMUP after that (the warm-up is
	# usually ~30 ms longer: the thread's own set-up time).
	tk=$(($(usec) + 1020000 + warm_us))
	for ((k = 0; k <= RIG_REPEATS; k++)); do
		sleep_until "$tk"
		[ $cpu = 1 ] && [ $k = 0 ] && s0=$(snap)
		kill -USR1 "$pid" 2>/dev/null || break
		[ $cpu = 1 ] && [ $k = "$RIG_REPEATS" ] && s1=$(snap)
		tk=$((tk + step_us))
	done
	deadline=$(($(usec) + 3000000))
	while (($(count_lines '^duration:' "$out") <= RIG_REPEATS)) && kill -0 "$pid" 2>/dev/null && (($(usec) < deadline)); do sleep 0.01; done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	(($(count_lines '^duration:' "$out") > RIG_REPEATS)) || return 1
	awk -v rate="$rate" -v s0="$s0" -v s1="$s1" -v hz="$CLK_TCK" -v ncpu="$ncpu" -v n="$RIG_REPEATS" -v usens="${RIG_CPU_NS:-0}" '
		/^total queries:/ { k++; sent[k] = $3; pps = $4; gsub(/[^0-9]/, "", pps); ms[k] = pps > 0 ? $3 * 1000 / pps : 0 }
		/^total replies:/ { got[k] = $3 }
		/^responded / { c = $2; sub(/:$/, "", c); rc[k, c] = $3; codes[c] = 1 }
		END {
			if (k != n + 1) exit 1
			if (s0 != "") {
				split(s0, a, " "); split(s1, b, " ")
				replies = got[k] - got[1]
				procus = (b[1] - a[1]) / hz * 1e6; bpfus = (b[2] - a[2]) / 1e3
				if (usens) procus = (b[5] - a[5]) / 1e3
				vmus = ((b[4] - a[4]) * ncpu - (b[3] - a[3]) / hz) * 1e6
				if (replies > 0) cpuf = sprintf("%.2f %.2f %.2f", (procus + bpfus) / replies, bpfus / replies, vmus / replies)
				else cpuf = "- - -"
			} else cpuf = "- - -"
			for (i = 2; i <= k; i++) {
				dn = sent[i] - sent[i - 1]; dg = got[i] - got[i - 1]; dt = (ms[i] - ms[i - 1]) / 1000
				if (dt <= 0 || dn <= 0) { printf "%d 0 0 100 - - - none\n", rate; continue }
				r = ""
				for (c in codes) { v = rc[i, c] - rc[i - 1, c]; if (v > 0) r = r (r == "" ? "" : ",") c "=" v }
				# A reply in flight at a boundary counts in the next interval
				# (up to two of kxdpgun'"'"'s 10-query batches): an interval can show
				# more replies than queries; its loss is then 0.
				loss = 100 * (dn - dg) / dn
				printf "%d %.0f %.0f %.3f %s %s\n", rate, dn / dt, dg / dt, (loss > 0 ? loss : 0), cpuf, (r == "" ? "none" : r)
			}
		}' "$out" || return 1
}

# step_us rate: the length of one measured interval at this offered rate (µs)
step_us() {
	awk -v s="$RIG_STEP_SECONDS" -v q="$RIG_STEP_QUERIES" -v r="$1" 'BEGIN { t = q / r; if (t < s) t = s; printf "%d", t * 1e6 }'
}

# median: the interval lines of one step -> the line with the median loss
# (the lower middle one for an even count) and the loss range "lo-hi".
median_step() {
	sort -g -k4,4 | awk '{ l[NR] = $0; v[NR] = $4 } END { m = l[int((NR + 1) / 2)]; printf "%s %s-%s\n", m, v[1], v[NR] }'
}

# Honest by construction: at the lowest offered rate every server must
# answer with the rcodes the set calls for (wrong answers, or none at all,
# stop the run). A server too slow to hold the lowest rate is recorded
# (SLOW, "< lowest step" in the tables) and the run goes on.
SLOW=() # "server/set: what it could not hold"
check_ladder_start() { # server set step-line
	local s=$1 set=$2 line=$3 loss rc got
	loss=$(awk '{print $4}' <<<"$line")
	rc=$(awk '{print $8}' <<<"$line")
	got=$(awk '{print $3}' <<<"$line")
	awk -v g="$got" 'BEGIN {exit !(g < 1)}' && die "$s/$set: answered nothing at the lowest offered rate ($line)"
	if awk -v l="$loss" 'BEGIN {exit !(l > 5)}'; then
		SLOW+=("$s/$set: lost $loss% at the lowest offered rate, $(awk '{printf "%dk", $1 / 1000}' <<<"$line") pps")
		log "$s/$set: could not hold the lowest offered rate (lost $loss%): recorded, the run goes on"
	fi
	[ "$s" = reflector ] && return 0
	case $set in
	hot) [[ $rc == NOERROR=* ]] || die "$s/$set: rcodes $rc, expected NOERROR only" ;;
	flood | flood-root) [[ $rc == NXDOMAIN=* ]] || die "$s/$set: rcodes $rc, expected NXDOMAIN only" ;;
	mix | mix-signed | root)
		awk -v rc="$rc" 'BEGIN { n = split(rc, p, ","); for (i = 1; i <= n; i++) { split(p[i], kv, "="); c[kv[1]] = kv[2]; t += kv[2] }
			f = c["NXDOMAIN"] / t; exit !(n == 2 && c["NOERROR"] > 0 && f > 0.02 && f < 0.09) }' ||
			die "$s/$set: rcodes $rc, expected NOERROR with ~5% NXDOMAIN"
		;;
	esac
}
dnsperf_run() { # out set [args]
	local out=$1 set=$2
	shift 2
	timeout -k 5 $((RIG_DNSPERF_SECONDS + 30)) ip netns exec "$NS_CLI" taskset -c "$RIG_CLIENT_CPU" \
		dnsperf -s "$SRV_IP" -d "$D/dp-$set.txt" -l "$RIG_DNSPERF_SECONDS" -t 2 $(set_flags "$set") "$@" >"$out" 2>"$out.err" ||
		die "dnsperf failed ($(cat "$out.err" "$out" | tail -n 3 | tr '\n' ' '))"
}

declare -A LADDER DPSAT DPFIX DPPCT LOW XDPSHARE
for server in $RIG_SERVERS; do
	log "== $server"
	pass_on # before the server: kdig's readiness probe needs the XDP_TX path
	start_server "$server"
	spent startup
	if [ "$server" != reflector ]; then
		spot_check "$server"
		answers_check "$server"
	fi
	spent checks
	for set in $RIG_DNSPERF_SETS; do
		[[ " $RIG_SETS " == *" $set "* ]] || continue
		[ "$server" = reflector ] && continue # dnsperf drops reflected queries (QR=0) as not answers
		out=$TMP/dp-$server-$set
		dnsperf_run "$out.sat" "$set" -c 4 -q 200
		DPSAT[$server/$set]=$(parse_dnsperf "$out.sat") || die "cannot parse dnsperf output for $server/$set"
		dnsperf_run "$out.fix" "$set" -c 4 -Q "$RIG_FIXED_RATE" -v
		DPFIX[$server/$set]=$(parse_dnsperf "$out.fix") || die "cannot parse dnsperf output for $server/$set"
		DPPCT[$server/$set]=$(percentiles "$out.fix")
		log "$server/$set dnsperf: saturation ${DPSAT[$server/$set]}; @$RIG_FIXED_RATE ${DPFIX[$server/$set]}"
		if [ "$server" != reflector ]; then
			read -r _ _ lp _ <<<"${DPFIX[$server/$set]}"
			if awk -v l="$lp" 'BEGIN {exit !(l > 1)}'; then
				SLOW+=("$server/$set: dnsperf lost $lp% at $RIG_FIXED_RATE qps")
				log "$server/$set: dnsperf lost $lp% at $RIG_FIXED_RATE qps: recorded, the run goes on"
			fi
		fi
		spent dnsperf
	done
	pass_off
	spent stop
	for set in $RIG_SETS; do
		first=1
		[ "$server" = xdpdns ] && share0=$(xdp_counts)
		for rate in $RIG_RATES; do
			steps=$(kxdp_step "$set" "$rate" "$TMP/kx-$server-$set-$rate")
			line=$(median_step <<<"$steps")
			[ $first = 1 ] && check_ladder_start "$server" "$set" "$line"
			first=0
			LADDER[$server/$set]+="$line"$'\n'
			printf '%s %s %s\n' "$server" "$set" "$steps" | sed "2,\$ s/^/$server $set /" >>"$TMP/intervals.txt"
		done
		log "$server/$set: $(awk 'NF { printf "%dk→%dk/%dk(%s%% [%s]) ", $1 / 1000, $3 / 1000, $2 / 1000, $4, $9 }' <<<"${LADDER[$server/$set]}")"
		if [[ " $RIG_LOW_SETS " == *" $set "* ]]; then
			# CPU per reply at a low rate: one interval of RIG_LOW_SECONDS,
			# where a server pays for every wake-up it takes per query.
			line=$(RIG_REPEATS=1 RIG_STEP_SECONDS=$RIG_LOW_SECONDS RIG_STEP_QUERIES=1 RIG_CPU_RATE=$RIG_LOW_RATE RIG_CPU_NS=1 \
				kxdp_step "$set" "$RIG_LOW_RATE" "$TMP/kx-$server-$set-low")
			LOW[$server/$set]=$(awk '{ print $5, $6, $7, $4 }' <<<"$line")
			log "$server/$set: @$((RIG_LOW_RATE / 1000))k: $(awk '{ printf "%s%% lost, %s µs/reply server [BPF %s], %s VM", $4, $5, $6, $7 }' <<<"$line")"
		fi
		if [ "$server" = xdpdns ]; then
			XDPSHARE[$set]=$(xdp_share "$share0")
			log "xdpdns/$set: ${XDPSHARE[$set]} of the replies sent by the XDP program (XDP or tc ingress)"
		fi
		spent kxdpgun
	done
	stop_server
	spent stop
done

# ---------------------------------------------------------------- spoof

# The spoof scenario: each server with response rate limiting on
# (RIG_SPOOF_LIMIT responses/s per bucket, slip 2) takes a flood of one
# large DO=1 query from one address (kxdpgun's, the "victim"), while a
# legitimate client in another /24 asks a query every 100 ms. Measured:
# what reaches the victim (replies, their average size: the amplification
# factor in bytes), the server's CPU per query under the flood, and the
# legitimate client's answers.
declare -A SPOOF
SPOOF_N=0 # servers measured (an empty associative array is "unbound" to set -u)
legit_loop() { # seconds: a kdig from 198.18.2.2 every 100 ms; prints "answered asked"
	local end=$(($(usec) + $1 * 1000000)) asked=0 ok=0
	while (($(usec) < end)); do
		asked=$((asked + 1))
		ip netns exec "$NS_CLI" kdig @"$SRV_IP" -b 198.18.2.2#1053 www.hot. A +time=1 +retry=0 2>/dev/null | grep -q 'status: NOERROR' && ok=$((ok + 1))
		sleep 0.1
	done
	echo "$ok $asked"
}
if [ -n "$RIG_SPOOF_SERVERS" ]; then
	ip -n "$NS_CLI" addr add 198.18.2.2/24 dev "$IF_CLI"
	ip -n "$NS_SRV" addr add 198.18.2.1/24 dev "$IF_SRV"
	ip -n "$NS_SRV" neigh replace 198.18.2.2 lladdr "$MAC_CLI" dev "$IF_SRV" nud permanent
	RRL_XDPDNS=(--rrl-rate "$RIG_SPOOF_LIMIT" --rrl-slip 2)
	RRL_NSD=$RIG_SPOOF_LIMIT
	RRL_KNOT=$RIG_SPOOF_LIMIT
	for server in $RIG_SPOOF_SERVERS; do
		[[ " $RIG_SERVERS " == *" $server "* ]] || continue
		log "== spoof: $server (rate limit $RIG_SPOOF_LIMIT/s, slip 2)"
		pass_on
		start_server "$server"
		pass_off
		# kxdpgun sends ~1 s after it starts: the legitimate client asks
		# from then on, for the flood's length.
		(sleep 1.2 && legit_loop "$RIG_SPOOF_SECONDS") >"$TMP/legit-$server" &
		lpid=$!
		line=$(RIG_REPEATS=1 RIG_STEP_SECONDS=$RIG_SPOOF_SECONDS RIG_STEP_QUERIES=1 RIG_CPU_RATE=$RIG_SPOOF_RATE \
			kxdp_step spoof "$RIG_SPOOF_RATE" "$TMP/kx-$server-spoof")
		wait "$lpid" || true
		size=$(awk '/average DNS reply size/ { s = $5 } END { print s + 0 }' "$TMP/kx-$server-spoof")
		read -r legit_ok legit_asked <"$TMP/legit-$server" || { legit_ok=0; legit_asked=0; }
		# sent/s replies/s reply-bytes server-µs-per-reply bpf-µs-per-reply legit-answered legit-asked
		SPOOF[$server]="$(awk '{ print $2, $3 }' <<<"$line") $size $(awk '{ print $5, $6 }' <<<"$line") $legit_ok $legit_asked"
		SPOOF_N=$((SPOOF_N + 1))
		log "spoof $server: ${SPOOF[$server]}"
		stop_server
		spent spoof
	done
	ip -n "$NS_CLI" addr del 198.18.2.2/24 dev "$IF_CLI" || true
	ip -n "$NS_SRV" addr del 198.18.2.1/24 dev "$IF_SRV" || true
fi

# ---------------------------------------------------------------- results

ELAPSED=$(($(date +%s) - START_EPOCH))
log "time by phase so far: $(spent_summary)"
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
has() { [[ " $RIG_SERVERS " == *" $1 "* ]]; }
# best_lossless server set: highest offered rate answered with loss < RIG_LOSS_PCT (0 if none)
best_lossless() { awk -v m="$RIG_LOSS_PCT" '$4 < m && $3 > 0 { b = $1 } END { print b + 0 }' <<<"${LADDER[$1/$2]}"; }
# answered_cell server set: best_lossless for a table, or "< lowest step"
# with the loss there when the server could not hold even that
answered_cell() {
	local b
	b=$(best_lossless "$1" "$2")
	if [ "$b" != 0 ]; then echo "$b"; return; fi
	awk 'NF { printf "< lowest step (%dk: %s%% lost)", $1 / 1000, $4; exit }' <<<"${LADDER[$1/$2]}"
}
peak() { awk '$3 > p { p = $3 } END { print p + 0 }' <<<"${LADDER[$1/$2]}"; }
at_rate() { awk -v r="$RIG_CPU_RATE" -v f="$3" '$1 == r { v = $f } END { print (v == "" ? "-" : v) }' <<<"${LADDER[$1/$2]}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == "-" || a == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
top_rate=$(awk '{ print $NF }' <<<"$RIG_RATES")

# limited server set: what bounded the figure. On veth the server's XDP
# program runs in the softirq of the sending CPU, the generator's: an XDP
# server's work takes CPU from kxdpgun, which then sends less than offered.
limited() {
	local refl=0
	has reflector && refl=$(peak reflector "$2")
	awk -v m="$RIG_LOSS_PCT" -v refl="$refl" -v s="$1" '
		NF { if ($4 >= m && fl == "") fl = $1; if ($3 > pk) pk = $3; lo = $1; ls = $2 }
		END {
			short = ls < 0.9 * lo
			gen = sprintf("kxdpgun sent %.0fk pps at %.0fk offered", ls / 1000, lo / 1000)
			if (s == "reflector") r = "the floor (generator and rig; " gen ")"
			else if (fl == "" && short) r = "rig: no loss, but " gen " (the XDP path shares its CPU)"
			else if (fl == "") r = "generator: no loss up to the top step (" gen ")"
			else if (refl > 0 && pk >= 0.95 * refl) r = "rig/generator: peak within 5% of the reflector'"'"'s"
			else r = sprintf("server: loss from %.0fk offered", fl / 1000) (short ? "; " gen : "")
			print r
		}' <<<"${LADDER[$1/$2]}"
}

ver_xdpdns=$(cd "$ROOT" && git describe --always --dirty --tags 2>/dev/null || echo unknown)
ver_nsd=$(nsd -v 2>&1 | sed -n 1p)
ver_knot=$(knotd -V 2>&1 | sed -n 1p)
ver_kxdpgun=$(kxdpgun -V 2>&1 | sed -n 1p)
ver_dnsperf=$(dnsperf -h 2>&1 | awk '/^Version/ {print $2}')
ver_go=$(go version | awk '{print $3}')
cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
chart_rel=$(realpath --relative-to="$(dirname "$RIG_RESULTS")" "$RIG_CHART")

# Chart: replies/s against offered rate, one panel per query set, one line per server.
sets_arr=($RIG_SETS)
nsets=${#sets_arr[@]}
cols=$(((nsets + 1) / 2))
{
	echo "set terminal pngcairo size $((cols * 620)),$(((nsets > 1 ? 2 : 1) * 460)) font 'sans,10'"
	echo "set output '$RIG_CHART'"
	echo "set multiplot layout $((nsets > 1 ? 2 : 1)),$cols title 'xdpdns rig: replies/s vs offered rate (kxdpgun, median of $RIG_REPEATS intervals per step, $(date -u +%F))'"
	echo "set key top left font ',8'"
	echo "set grid"
	echo "set xlabel 'offered (kpps)'"
	echo "set ylabel 'replies (kpps)'"
	echo "set xrange [0:$((top_rate / 1000 + 20))]"
	echo "set yrange [0:$((top_rate / 1000 + 20))]"
	for set in $RIG_SETS; do
		echo "set title '$set'"
		plot="plot x title 'offered' with lines dt 2 lc rgb 'gray'"
		for s in $RIG_SERVERS; do
			awk 'NF { print $1 / 1000, $3 / 1000 }' <<<"${LADDER[$s/$set]}" >"$TMP/chart-$s-$set.dat"
			plot+=", '$TMP/chart-$s-$set.dat' using 1:2 title '$s' with linespoints"
		done
		echo "$plot"
	done
	echo "unset multiplot"
} >"$TMP/chart.gp"
gnuplot "$TMP/chart.gp" || die "gnuplot failed"

{
	echo "<!-- rig-bench:begin -->"
	echo "## Namespace rig: xdpdns (XDP and userspace) vs NSD vs Knot DNS (and its XDP mode), kxdpgun and dnsperf over veth"
	echo
	echo "Generated by \`bench/rig.sh\` (\`make bench\`); do not edit by hand (the section is rewritten on every run)."
	echo
	echo "- Date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); run took ${ELAPSED} s ($(spent_summary))."
	echo "- Command: \`$KNOBS $COMMAND_LINE\`"
	echo "- Machine: $ncpu CPUs ($cpu_model), kernel $(uname -r); two network namespaces joined by a veth pair ($SRV_IP server, $CLI_IP client); server pinned to CPU $RIG_SERVER_CPU, kxdpgun and dnsperf to CPU $RIG_CLIENT_CPU; load average $LOAD_START before, $LOAD_END after."
	echo "- Versions: xdpdns $ver_xdpdns ($ver_go); $ver_nsd; $ver_knot; $ver_kxdpgun; dnsperf $ver_dnsperf."
	echo "- Servers: \`reflector\` = bare swap-and-XDP_TX program (bench/cmd/xdppass -prog reflect), the floor; \`xdpdns\` = \`xdpdnsd --xdp VETH:native\` (with its tc ingress companion, which answers the replies too large for the veth frame); \`xdpdns-user\` = xdpdnsd without XDP; \`nsd\` (\`server-count: 1\`, \`rrl-ratelimit: 0\`, \`minimal-responses: yes\`); \`knot\` (\`udp-workers: 1\`); \`knot-xdp\` (the same plus \`xdp: listen: VETH@53\`). Each serves hot., tld. (unsigned), stld. (NSEC3, \`dnssec-signzone -S -3 abcd -H 0 -A\`) and . (NSEC) at once; each is spot-checked with kdig before it is measured, and its answers are compared with the other servers' (below)."
	echo "- Zones: tld./stld. with $RIG_DELEGATIONS delegations (genzone: 10% in-bailiwick glue, 20% DS); root-like . with $RIG_ROOT_TLDS TLDs (2 NS with A/AAAA glue, DS each)."
	echo "- kxdpgun: offered rates $(sed 's/ /, /g' <<<"$RIG_RATES") pps, one thread on CPU $RIG_CLIENT_CPU, one run per offered rate measured over $RIG_REPEATS consecutive intervals after at least ${RIG_WARMUP} s of warm-up; an interval lasts ${RIG_STEP_SECONDS} s, or longer at low rates so that it holds $RIG_STEP_QUERIES queries ($(for r in $RIG_RATES; do printf '%s ' "$(awk -v u="$(step_us "$r")" 'BEGIN { printf "%g", u / 1e6 }')"; done | sed 's/ $//; s/ / \/ /g') s at the rates above). kxdpgun prints its counters on SIGUSR1 at each interval boundary (queries sent, replies, rcodes, and the time from its pps), the differences are the intervals. Each cell is the interval with the median loss: replies/s / queries sent per s (median loss %) and, in brackets, the lowest and highest loss of the $RIG_REPEATS intervals; kxdpgun's own counts. A reply in flight at a boundary counts in the next interval (a few of kxdpgun's 10-query batches: about ±0.05% of an interval of $RIG_STEP_QUERIES queries), so an interval can show more replies than queries: its loss is then 0. *answered* = median loss below ${RIG_LOSS_PCT}%. The sent rate can fall below the offered one: the generator shares CPU $RIG_CLIENT_CPU with the veth softirq, where an XDP server's program and the replies' reception run."
	echo "- CPU per reply at ${RIG_CPU_RATE} pps offered, over the $RIG_REPEATS measured intervals of that step (read at their first and last boundary): *server* = the server's process CPU time (user+system, /proc/PID/stat, all threads) plus the run time of its BPF programs (kernel bpf_stats, run_time_ns: the XDP programs attached to its veth and every program its processes hold, so xdpdns's tc ingress companion too) per reply, with the BPF part in brackets; *VM* = wall minus idle of all CPUs (generator and rig included) per reply. Receive work: with \`RIG_NAPI=$RIG_NAPI\`$( [ "$RIG_NAPI" = threaded ] && echo ", the server veth's NAPI is threaded and its kthread pinned to CPU $RIG_SERVER_CPU while an XDP program is attached, and RPS sends the kernel path's receive work to CPU $RIG_SERVER_CPU, so a server's network work runs on the server CPU (without this, veth runs it on the sending CPU, the generator's)"). Kernel work (NAPI kthread, softirq) is not in the process figure; the BPF part is the programs' own run time; the VM column holds everything."
	[ -n "$RIG_LOW_SETS" ] && echo "- CPU per reply at ${RIG_LOW_RATE} pps offered (sets $(sed 's/ /, /g' <<<"$RIG_LOW_SETS")): the same *server* figure over one interval of ${RIG_LOW_SECONDS} s, in a kxdpgun run of its own after the ladder: at a low rate a server wakes up for nearly every query, and this column shows what that costs it. Clock ticks of $((1000 / CLK_TCK)) ms are too coarse for the few ms of CPU this takes, so here the process figure is the threads' time on CPU from /proc/PID/task/*/schedstat (nanoseconds; it includes the interrupts and softirqs taken while a server thread ran, which the tick count leaves out: not comparable with the column at $((RIG_CPU_RATE / 1000))k, comparable between servers)."
	echo
	echo "![replies/s vs offered rate]($chart_rel)"
	for set in $RIG_SETS; do
		echo
		echo "### $set — $(set_desc "$set")"
		echo
		hdr="| server | highest rate answered (<${RIG_LOSS_PCT}% loss) | peak replies/s |"
		sep="|---|---:|---:|"
		for r in $RIG_RATES; do hdr+=" @$((r / 1000))k |"; sep+="---:|"; done
		hdr+=" µs/reply server [BPF] @$((RIG_CPU_RATE / 1000))k | µs/reply VM |"
		sep+="---:|---:|"
		if [[ " $RIG_LOW_SETS " == *" $set "* ]]; then
			hdr+=" µs/reply server [BPF] @$((RIG_LOW_RATE / 1000))k |"
			sep+="---:|"
		fi
		hdr+=" limited by |"
		sep+="---|"
		echo "$hdr"
		echo "$sep"
		for s in $RIG_SERVERS; do
			row="| $s | $(answered_cell "$s" "$set") | $(peak "$s" "$set") |"
			while read -r off sent got loss _ _ _ _ range; do
				[ -n "$off" ] || continue
				row+=" $(awk -v g="$got" -v s="$sent" -v l="$loss" -v r="$range" 'BEGIN { split(r, x, "-"); printf "%.1fk/%.1fk (%s%% [%.2f–%.2f])", g / 1000, s / 1000, l, x[1], x[2] }') |"
			done <<<"${LADDER[$s/$set]}"
			row+=" $(at_rate "$s" "$set" 5) [$(at_rate "$s" "$set" 6)] | $(at_rate "$s" "$set" 7) |"
			if [[ " $RIG_LOW_SETS " == *" $set "* ]]; then
				row+=" $(awk 'NF { printf "%s [%s]", $1, $2; if ($4 + 0 >= 1) printf " (%s%% lost)", $4; exit } END { if (!NR) print "-" }' <<<"${LOW[$s/$set]:-}") |"
			fi
			row+=" $(limited "$s" "$set") |"
			echo "$row"
		done
		if has xdpdns; then
			xl=$(best_lossless xdpdns "$set")
			xp=$(peak xdpdns "$set")
			xc=$(at_rate xdpdns "$set" 5)
			line="Ratios xdpdns / peer, this run — highest answered rate, peak replies/s, server µs per reply (lower is better):"
			for s in $RIG_SERVERS; do
				[ "$s" = xdpdns ] && continue
				line+=" $s $(ratio "$xl" "$(best_lossless "$s" "$set")"), $(ratio "$xp" "$(peak "$s" "$set")"), $(ratio "$xc" "$(at_rate "$s" "$set" 5)");"
			done
			echo
			echo "${line%;}."
		fi
	done
	# The issue's targets (reported, not enforced), on the TLD mixes.
	if has xdpdns; then
		echo
		echo "### Targets of issue 5 (reported, not enforced)"
		echo
		echo "| set | xdpdns / knot-xdp answered rate (≥ 2) | xdpdns / nsd answered rate (≥ 4) | xdpdns / reflector answered rate (≥ 0.9) | xdpdns / knot-xdp µs per reply (≤ 0.2) |"
		echo "|---|---:|---:|---:|---:|"
		for set in mix mix-signed; do
			[[ " $RIG_SETS " == *" $set "* ]] || continue
			xl=$(best_lossless xdpdns "$set")
			xc=$(at_rate xdpdns "$set" 5)
			k=$(has knot-xdp && best_lossless knot-xdp "$set" || echo "")
			n=$(has nsd && best_lossless nsd "$set" || echo "")
			r=$(has reflector && best_lossless reflector "$set" || echo "")
			kc=$(has knot-xdp && at_rate knot-xdp "$set" 5 || echo "")
			echo "| $set | $(ratio "$xl" "$k") | $(ratio "$xl" "$n") | $(ratio "$xl" "$r") | $(ratio "$xc" "$kc") |"
		done
		echo
		echo "A ratio of answered rates is capped by the generator: when both servers answer every step up to the top one, the ratio is 1 whatever the servers could do."
	fi
	if [ "$SPOOF_N" -gt 0 ]; then
		echo
		echo "### spoof — a forged-source flood against response rate limiting"
		echo
		echo "Each server with rate limiting on ($RIG_SPOOF_LIMIT responses/s per bucket, slip 2: xdpdns \`--rrl-rate $RIG_SPOOF_LIMIT --rrl-slip 2\`, NSD \`rrl-ratelimit: $RIG_SPOOF_LIMIT\` \`rrl-slip: 2\`, Knot \`mod-rrl\` \`rate-limit: $RIG_SPOOF_LIMIT\` \`slip: 2\` as a global module, in its XDP mode too) takes $RIG_SPOOF_SECONDS s of kxdpgun at $((RIG_SPOOF_RATE / 1000))k pps of \`stld. DNSKEY\` with DO=1 from one address (the victim), while a legitimate client in another /24 asks \`www.hot. A\` with kdig every 100 ms. *victim*: what reached the victim, replies/s and their average DNS size (kxdpgun); *amplification*: DNS bytes out per DNS byte in (the query is 33 bytes); *µs/query*: the server's CPU (process plus BPF, as in the ladders) per query received; *legit*: the legitimate client's answers."
		echo
		echo "| server | sent/s | victim replies/s | avg reply (B) | victim Mbit/s | amplification | µs/query server [BPF] | legit answered |"
		echo "|---|---:|---:|---:|---:|---:|---:|---:|"
		for s in $RIG_SPOOF_SERVERS; do
			[ -n "${SPOOF[$s]:-}" ] || continue
			read -r sent got size us bpf lok lask <<<"${SPOOF[$s]}"
			awk -v s="$s" -v sent="$sent" -v got="$got" -v size="$size" -v us="$us" -v bpf="$bpf" -v lok="$lok" -v lask="$lask" 'BEGIN {
				amp = (sent > 0) ? got * size / (sent * 33) : 0
				uq = (sent > 0 && us != "-") ? us * got / sent : 0; bq = (sent > 0 && bpf != "-") ? bpf * got / sent : 0
				printf "| %s | %.0f | %.0f | %d | %.2f | %.3f | %.3f [%.3f] | %d/%d |\n", s, sent, got, size, got * size * 8 / 1e6, amp, uq, bq, lok, lask
			}'
		done
	fi
	dp_any=0
	for set in $RIG_DNSPERF_SETS; do [[ " $RIG_SETS " == *" $set "* ]] && dp_any=1; done
	if [ $dp_any = 1 ]; then
		echo
		echo "### dnsperf on the rig"
		echo
		echo "\`dnsperf -c 4 -q 200 -l $RIG_DNSPERF_SECONDS\` (saturation) and \`-c 4 -Q $RIG_FIXED_RATE -v\` (fixed rate; percentiles from the per-query latencies), from the client namespace, with the client veth's XDP_PASS program attached. dnsperf cannot set DO per query: sets with DO lines run with \`-D\` (DO on every query), the others without EDNS (as kxdpgun sends them). dnsperf runs on one CPU and bounds the saturation column (the highest saturation qps in this run: $(for k in "${!DPSAT[@]}"; do echo "${DPSAT[$k]%% *}"; done | sort -n | tail -1)): servers near that figure were limited by dnsperf, and their ratios measure the generator."
		for set in $RIG_DNSPERF_SETS; do
			[[ " $RIG_SETS " == *" $set "* ]] || continue
			echo
			f=$(set_flags "$set")
			echo "#### $set (dnsperf ${f:-without EDNS})"
			echo
			echo "| server | qps (saturation) | lost | avg latency (ms) | qps @ $RIG_FIXED_RATE | lost | avg (ms) | p50 / p99 / p99.9 (ms) | rcodes @ $RIG_FIXED_RATE |"
			echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
			for s in $RIG_SERVERS; do
				[ "$s" = reflector ] && continue
				read -r sq sl slp sa _ _ <<<"${DPSAT[$s/$set]}"
				read -r fq fl flp fa _ frc <<<"${DPFIX[$s/$set]}"
				read -r p50 p99 p999 <<<"${DPPCT[$s/$set]}"
				echo "| $s | $sq | $sl ($slp%) | $sa | $fq | $fl ($flp%) | $fa | $p50 / $p99 / $p999 | ${frc//_/ } |"
			done
		done
	fi
	if ((${#ANS_RESULTS[@]})); then
		echo
		echo "### Answers compared on the rig"
		echo
		echo "Before it was measured, every server but the reflector answered the first $RIG_ANSWERS queries of each set ($(wc -w <<<"$RIG_SETS") sets: $(sed 's/ /, /g' <<<"$RIG_SETS")), sent from the client namespace over UDP as kxdpgun sends them (RD=1; EDNS 1232 with DO on lines with D, no EDNS otherwise; \`bench/cmd/anscmp\`). Its replies were compared query by query with those of $(if [[ " $RIG_SERVERS " == *" xdpdns "* || " $RIG_SERVERS " == *" xdpdns-user "* ]]; then echo "xdpdns and xdpdns-user (between these two no difference is allowed)"; else echo "the first server"; fi): rcode, flags, question, EDNS and every section as a multiset of records with their TTLs (interop.CompareReplies), less the differences the DNS specifications leave to the implementation (interop.Allowances: optional additional addresses, NS in the authority section of positive answers, EDE options, ...); each reply must also pass interop.CheckReply. Any other difference fails the run, with the query and both replies. *identical*: no difference at all; *allowed*: only allowed differences; *bytes*: the same wire bytes (message ID aside; name compression and record order are free)."
		echo
		echo "| server | compared with | replies | identical | allowed (by kind) | same bytes |"
		echo "|---|---|---:|---:|---:|---:|"
		for r in "${ANS_RESULTS[@]}"; do
			read -r a_s a_ref a_n _ a_id _ a_al _ a_by a_kinds <<<"$r"
			echo "| $a_s | $a_ref | $a_n | $a_id | $a_al${a_kinds:+ (${a_kinds//,/, })} | $a_by |"
		done
	fi
	echo
	echo "### Notes"
	echo
	if ((${#SLOW[@]})); then
		echo "- **Could not hold the lowest offered rate** (recorded, the run went on; read their rows as \"slower than the first step\" and compare CPU per reply with the reflector's to judge the machine):"
		printf '  - %s\n' "${SLOW[@]}"
	else
		echo "- Every server held the lowest offered rate on every set."
	fi
	echo "- *limited by*: \`generator\` when the server lost nothing up to the top offered rate and kxdpgun sent at least 90% of it (kxdpgun on one CPU reaches ~650k pps here); \`rig\` when nothing was lost but kxdpgun sent less than 90% of the top rate (the generator shares its CPU with the veth softirq); \`rig/generator\` when the server lost queries but its peak is within 5% of the bare reflector's; \`server\` otherwise, with the offered rate where loss began. The reflector's row is the rig's floor: kxdpgun, veth and the XDP_TX path with no DNS work."
	echo "- *Highest rate answered* is the highest step whose median loss is under ${RIG_LOSS_PCT}%; loss is not always monotonic (a lower step may show more loss than a higher one), so read the row."
	echo "- Each figure is the median of $RIG_REPEATS intervals of one kxdpgun run, so a stall in one interval does not decide a step; the bracketed range shows how far the intervals spread. Runs on other occasions can still differ by more (on this VM runs of the same server have differed by 30% or more, bench/run.sh's notes, and other work on the machine shows in every figure): read ratios near 1 as no difference."
	echo "- xdpdns passes to its userspace server what the XDP program cannot answer from templates; the share of xdpdns's replies sent by the program (XDP_TX, or its tc ingress companion when the veth frame cannot grow), from its counters over each set's whole ladder: $(for set in $RIG_SETS; do printf '%s %s; ' "$set" "${XDPSHARE[$set]:--}"; done | sed 's/; $//')."
	echo "<!-- rig-bench:end -->"
} >"$TMP/section.md"

write_section "$RIG_RESULTS" rig-bench "$TMP/section.md"
spent report
log "wrote $RIG_RESULTS and $RIG_CHART (run took ${ELAPSED} s; $(spent_summary))"
for slow in "${SLOW[@]}"; do
	log "could not hold the lowest offered rate: $slow"
done
cat "$TMP/section.md"
