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

# Knobs (bench/README.md).
RIG_DELEGATIONS=${RIG_DELEGATIONS:-20000}  # delegations in tld. and stld.
RIG_ROOT_TLDS=${RIG_ROOT_TLDS:-300}        # TLD delegations in the root-like zone
RIG_QUERIES=${RIG_QUERIES:-100000}         # lines per query file
RIG_RATES=${RIG_RATES:-50000 100000 200000 300000 450000 650000}
RIG_STEP_SECONDS=${RIG_STEP_SECONDS:-2}    # kxdpgun -t per offered rate
RIG_CPU_RATE=${RIG_CPU_RATE:-100000}       # offered rate whose CPU per reply is reported
RIG_DNSPERF_SETS=${RIG_DNSPERF_SETS-hot mix mix-signed flood root}
RIG_DNSPERF_SECONDS=${RIG_DNSPERF_SECONDS:-3}
RIG_FIXED_RATE=${RIG_FIXED_RATE:-50000}    # dnsperf -Q of the fixed-rate run
RIG_SERVERS=${RIG_SERVERS:-reflector xdpdns xdpdns-user nsd knot knot-xdp}
RIG_SETS=${RIG_SETS:-hot mix mix-signed flood root}
RIG_TIMEOUT=${RIG_TIMEOUT:-1200}           # hard bound on the whole run (s)
RIG_SERVER_CPU=${RIG_SERVER_CPU:-1}
RIG_CLIENT_CPU=${RIG_CLIENT_CPU:-0}
RIG_RESULTS=${RIG_RESULTS:-$ROOT/bench/RESULTS.md}
RIG_CHART=${RIG_CHART:-$ROOT/bench/rig-chart.png}
RIG_LOSS_PCT=${RIG_LOSS_PCT:-0.1}          # "answered" means loss below this

START_EPOCH=$(date +%s)
COMMAND_LINE="bench/rig.sh${*:+ $*}"
KNOBS="RIG_DELEGATIONS=$RIG_DELEGATIONS RIG_ROOT_TLDS=$RIG_ROOT_TLDS RIG_QUERIES=$RIG_QUERIES RIG_RATES='$RIG_RATES' RIG_STEP_SECONDS=$RIG_STEP_SECONDS RIG_SETS='$RIG_SETS' RIG_SERVERS='$RIG_SERVERS' RIG_DNSPERF_SETS='$RIG_DNSPERF_SETS' RIG_DNSPERF_SECONDS=$RIG_DNSPERF_SECONDS RIG_FIXED_RATE=$RIG_FIXED_RATE"

log() { printf '[rig %3ds] %s\n' "$(($(date +%s) - START_EPOCH))" "$*" >&2; }
die() { printf '\nrig: FAIL: %s\n' "$*" >&2; exit 1; }

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

descendants() {
	local k
	echo "$1"
	for k in $(pgrep -P "$1" 2>/dev/null || true); do descendants "$k"; done
}

stop_pid() { # TERM, 5 s grace, KILL; the process's descendants too
	local pid=$1 kids i
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
	kids=$(descendants "$pid" | tail -n +2)
	kill -TERM "$pid" $kids 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" $kids 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

forget_pid() {
	local keep=() p
	for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	PIDS=("${keep[@]+"${keep[@]}"}")
}

xdp_off() { # ns iface: detach whatever netlink-attached program is left (Knot's, kxdpgun's)
	ip -n "$1" link set dev "$2" xdp off 2>/dev/null || true
	ip -n "$1" link set dev "$2" xdpgeneric off 2>/dev/null || true
}

cleanup() {
	[ "$CLEANED" = 1 ] && return 0
	CLEANED=1
	local pid
	for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
	# Anything still running inside the namespaces (kxdpgun, dnsperf, kdig).
	for ns in "$NS_SRV" "$NS_CLI"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null || true); do kill -KILL "$pid" 2>/dev/null || true; done
	done
	xdp_off "$NS_SRV" "$IF_SRV"
	xdp_off "$NS_CLI" "$IF_CLI"
	ip netns delete "$NS_SRV" 2>/dev/null || true
	ip netns delete "$NS_CLI" 2>/dev/null || true
	if [ -n "$WATCHDOG_PID" ]; then
		kill "$WATCHDOG_PID" 2>/dev/null || true
		wait "$WATCHDOG_PID" 2>/dev/null || true
	fi
	if [ -n "${BPF_STATS_WAS:-}" ]; then sysctl -qw kernel.bpf_stats_enabled="$BPF_STATS_WAS" || true; fi
	if [ -n "$TMP" ] && [ -d "$TMP" ] && [ -z "${RIG_KEEP_TMP:-}" ]; then rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'log "interrupted"; cleanup; exit 130' INT
trap 'log "terminated (RIG_TIMEOUT=${RIG_TIMEOUT}s or signal)"; cleanup; exit 143' TERM

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
(cd "$ROOT" && go build -o "$TMP/" ./cmd/xdpdnsd ./bench/cmd/genzone ./bench/cmd/xdppass) || die "cannot build xdpdnsd, genzone, xdppass"
XDPDNSD=$TMP/xdpdnsd

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
	}
}') || die "cannot write the query files"
for set in hot mix mix-signed flood root; do
	mv "$D/$set.txt" "$D/q-$set.txt"
	awk '{print $1, $2}' "$D/q-$set.txt" >"$D/dp-$set.txt"
done
set_flags() { grep -q ' D$' "$D/q-$1.txt" && echo -D || echo -e; }
set_desc() {
	case $1 in
	hot) echo "hot names in the small zone hot. (A, AAAA, SOA, NS; NOERROR, AA), no DO" ;;
	mix) echo "TLD mix, tld. unsigned: referrals \`www.dK.tld. A\` under random delegations, 5% NXDOMAIN, DO=1 on 70%" ;;
	mix-signed) echo "TLD mix, stld. NSEC3-signed (opt-out): referrals (DS + RRSIG or NSEC3 no-DS proof with DO), 5% NXDOMAIN (NSEC3 proofs with DO), DO=1 on 70%" ;;
	flood) echo "random-subdomain flood on stld. (signed): \`<12 hex>.stld. A\`, all NXDOMAIN, DO=1 on 70%" ;;
	root) echo "root-like zone . (signed, NSEC): referrals \`www.domN.tK. A\` to $RIG_ROOT_TLDS TLDs (DS with DO), 5% NXDOMAIN, DO=1 on 70%" ;;
	esac
}

# ---------------------------------------------------------------- the rig

log "rig: namespaces $NS_SRV / $NS_CLI, veth $IF_SRV <-> $IF_CLI"
ip netns add "$NS_SRV"
ip netns add "$NS_CLI"
ip -n "$NS_SRV" link add "$IF_SRV" type veth peer name "$IF_CLI" netns "$NS_CLI"
ip -n "$NS_SRV" addr add "$SRV_IP/24" dev "$IF_SRV"
ip -n "$NS_CLI" addr add "$CLI_IP/24" dev "$IF_CLI"
for end in "$NS_SRV $IF_SRV" "$NS_CLI $IF_CLI"; do
	read -r ns ifc <<<"$end"
	ip -n "$ns" link set lo up
	ip -n "$ns" link set "$ifc" up
done
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
		ip netns exec "$NS_SRV" taskset -c "$RIG_SERVER_CPU" "$XDPDNSD" "${zargs[@]}" --listen "$SRV_IP:53" --control "" --xdp "$IF_SRV:native" >"$logf" 2>&1 &
		;;
	xdpdns-user)
		ip netns exec "$NS_SRV" taskset -c "$RIG_SERVER_CPU" "$XDPDNSD" "${zargs[@]}" --listen "$SRV_IP:53" --control "" >"$logf" 2>&1 &
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
				  rrl-ratelimit: 0
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
		mkdir -p "$dir/run" "$dir/storage"
		{
			cat <<-EOF
				server:
				  rundir: "$dir/run"
				  listen: $SRV_IP@53
				  udp-workers: 1
				  tcp-workers: 1
				  background-workers: 1
			EOF
			if [ "$name" = knot-xdp ]; then printf 'xdp:\n  listen: %s@53\n' "$IF_SRV"; fi
			cat <<-EOF
				database:
				  storage: "$dir/storage"
				log:
				  - target: stderr
				    any: info
				template:
				  - id: default
				    storage: "$dir/storage"
				    zonefile-load: whole
				    journal-content: none
				    zonefile-sync: -1
				zone:
			EOF
			for z in $zones; do printf '  - domain: "%s"\n    file: "%s"\n' "${z%%=*}" "${z#*=}"; done
		} >"$dir/knot.conf"
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
	pin_napi
	SERVER_PROGS=$(server_progs)
	if [[ $name == reflector || $name == xdpdns || $name == knot-xdp ]] && [ -z "$SERVER_PROGS" ]; then
		die "$name: no XDP program attached to $IF_SRV"
	fi
	log "$name ready (pid $SERVER_PID; XDP programs on $IF_SRV: ${SERVER_PROGS:-none})"
}

stop_server() {
	stop_pid "$SERVER_PID"
	forget_pid "$SERVER_PID"
	SERVER_PID=""
	# Knot (and NSD) leave their XDP program attached after they stop.
	xdp_off "$NS_SRV" "$IF_SRV"
	[ -z "$(server_progs)" ] || die "an XDP program is still attached to $IF_SRV"
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

# ---------------------------------------------------------------- measures

CLK_TCK=$(getconf CLK_TCK)
proc_ticks() { # user+system ticks of the process tree
	local total=0 p v
	for p in $(descendants "$1"); do
		v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}')
		total=$((total + ${v:-0}))
	done
	echo "$total"
}
bpf_ns() { # summed run_time_ns of the given program IDs
	local total=0 id v
	for id in $1; do
		v=$(bpftool prog show id "$id" -j 2>/dev/null | grep -o '"run_time_ns":[0-9]*' | grep -o '[0-9]*$')
		total=$((total + ${v:-0}))
	done
	echo "$total"
}
snap() { # "proc-ticks bpf-ns idle-ticks-all-cpus wall"
	local busy
	# idle+iowait ticks of all CPUs; busy is wall minus idle (the other
	# per-category tick counts are unreliable on this VM, BRIEF §4).
	busy=$(awk '/^cpu[0-9]/ { b += $5 + $6 } END { print b }' /proc/stat)
	echo "$(proc_ticks "$SERVER_PID") $(bpf_ns "$SERVER_PROGS") $busy $(date +%s.%N)"
}

# kxdp_step set rate out: one kxdpgun run; prints
# "offered sent replies loss% srv_us_per_reply bpf_us_per_reply vm_us_per_reply rcodes"
kxdp_step() {
	local set=$1 rate=$2 out=$3 s0 s1
	xdp_off "$NS_CLI" "$IF_CLI"
	pin_napi
	s0=$(snap)
	timeout -k 5 $((RIG_STEP_SECONDS + 30)) ip netns exec "$NS_CLI" taskset -c "$RIG_CLIENT_CPU" \
		kxdpgun -t "$RIG_STEP_SECONDS" -Q "$rate" -F "$RIG_CLIENT_CPU" -I "$IF_CLI" -R "$MAC_SRV" -i "$D/q-$set.txt" "$SRV_IP" >"$out" 2>&1 ||
		die "kxdpgun failed: $(tail -5 "$out" | tr '\n' ' ')"
	s1=$(snap)
	xdp_off "$NS_CLI" "$IF_CLI" # kxdpgun leaves its program attached
	awk -v rate="$rate" -v s0="$s0" -v s1="$s1" -v hz="$CLK_TCK" -v ncpu="$ncpu" -v secs="$RIG_STEP_SECONDS" '
		/^total queries:/ { sent = $3 }
		/^total replies:/ { got = $3 }
		/^responded / { sub(/^responded /, ""); sub(/: +/, "="); rc = rc (rc == "" ? "" : ",") $0 }
		END {
			if (sent == "" || got == "") exit 1
			split(s0, a, " "); split(s1, b, " ")
			loss = sent > 0 ? 100 * (sent - got) / sent : 100
			procus = (b[1] - a[1]) / hz * 1e6; bpfus = (b[2] - a[2]) / 1e3
			vmus = ((b[4] - a[4]) * ncpu - (b[3] - a[3]) / hz) * 1e6
			if (got > 0) printf "%d %.0f %.0f %.3f %.2f %.2f %.2f %s\n", rate, sent / secs, got / secs, loss, (procus + bpfus) / got, bpfus / got, vmus / got, (rc == "" ? "none" : rc)
			else printf "%d %.0f 0 100 - - - none\n", rate, sent / secs
		}' "$out" || die "cannot parse kxdpgun output: $(tr '\n' ' ' <"$out")"
}

# Honest by construction: at the lowest offered rate every server must
# answer (almost) everything, with the rcodes the set calls for.
check_ladder_start() { # server set step-line
	local s=$1 set=$2 line=$3 loss rc
	loss=$(awk '{print $4}' <<<"$line")
	rc=$(awk '{print $8}' <<<"$line")
	awk -v l="$loss" 'BEGIN {exit !(l > 5)}' && die "$s/$set: lost $loss% at the lowest offered rate ($line)"
	[ "$s" = reflector ] && return 0
	case $set in
	hot) [[ $rc == NOERROR=* ]] || die "$s/$set: rcodes $rc, expected NOERROR only" ;;
	flood) [[ $rc == NXDOMAIN=* ]] || die "$s/$set: rcodes $rc, expected NXDOMAIN only" ;;
	mix | mix-signed | root)
		awk -v rc="$rc" 'BEGIN { n = split(rc, p, ","); for (i = 1; i <= n; i++) { split(p[i], kv, "="); c[kv[1]] = kv[2]; t += kv[2] }
			f = c["NXDOMAIN"] / t; exit !(n == 2 && c["NOERROR"] > 0 && f > 0.02 && f < 0.09) }' ||
			die "$s/$set: rcodes $rc, expected NOERROR with ~5% NXDOMAIN"
		;;
	esac
}

# dnsperf (from run.sh): "qps lost lost% avg_ms stddev_ms rcodes".
parse_dnsperf() {
	awk '
		/Queries sent:/       { sent = $3 }
		/Queries lost:/       { lost = $3; pct = $4; gsub(/[()%]/, "", pct) }
		/Queries per second:/ { qps = $4 }
		/Average Latency/     { avg = $4 * 1000 }
		/Latency StdDev/      { sd = $4 * 1000 }
		/Response codes:/     { sub(/.*Response codes: */, ""); gsub(/ /, "_"); rc = $0 }
		END {
			if (sent == "" || qps == "") exit 1
			printf "%.0f %s %s %.3f %.3f %s\n", qps, lost, pct, avg, sd, (rc == "" ? "none" : rc)
		}' "$1"
}
percentiles() {
	awk '$1 == ">" && $NF ~ /^[0-9]+\.[0-9]+$/ { print $NF }' "$1" | sort -g |
		awk '{ v[NR] = $1 }
			function p(f,  i) { i = int(NR * f + 0.999999); if (i < 1) i = 1; return v[i] * 1000 }
			END { if (NR == 0) { print "- - -"; exit } printf "%.3f %.3f %.3f\n", p(0.5), p(0.99), p(0.999) }'
}
dnsperf_run() { # out set [args]
	local out=$1 set=$2
	shift 2
	timeout -k 5 $((RIG_DNSPERF_SECONDS + 30)) ip netns exec "$NS_CLI" taskset -c "$RIG_CLIENT_CPU" \
		dnsperf -s "$SRV_IP" -d "$D/dp-$set.txt" -l "$RIG_DNSPERF_SECONDS" -t 2 $(set_flags "$set") "$@" >"$out" 2>"$out.err" ||
		die "dnsperf failed ($(cat "$out.err" "$out" | tail -n 3 | tr '\n' ' '))"
}

declare -A LADDER DPSAT DPFIX DPPCT
for server in $RIG_SERVERS; do
	log "== $server"
	pass_on # before the server: kdig's readiness probe needs the XDP_TX path
	start_server "$server"
	[ "$server" = reflector ] || spot_check "$server"
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
			awk -v l="$lp" 'BEGIN {exit !(l > 1)}' && die "$server/$set: dnsperf lost $lp% at $RIG_FIXED_RATE qps"
		fi
	done
	pass_off
	for set in $RIG_SETS; do
		first=1
		for rate in $RIG_RATES; do
			line=$(kxdp_step "$set" "$rate" "$TMP/kx-$server-$set-$rate")
			[ $first = 1 ] && check_ladder_start "$server" "$set" "$line"
			first=0
			LADDER[$server/$set]+="$line"$'\n'
		done
		log "$server/$set: $(awk 'NF { printf "%dk→%dk/%dk(%s%%) ", $1 / 1000, $3 / 1000, $2 / 1000, $4 }' <<<"${LADDER[$server/$set]}")"
	done
	stop_server
done

# ---------------------------------------------------------------- results

ELAPSED=$(($(date +%s) - START_EPOCH))
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
has() { [[ " $RIG_SERVERS " == *" $1 "* ]]; }
# best_lossless server set: highest offered rate answered with loss < RIG_LOSS_PCT (0 if none)
best_lossless() { awk -v m="$RIG_LOSS_PCT" '$4 < m && $3 > 0 { b = $1 } END { print b + 0 }' <<<"${LADDER[$1/$2]}"; }
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
	echo "set multiplot layout $((nsets > 1 ? 2 : 1)),$cols title 'xdpdns rig: replies/s vs offered rate (kxdpgun, ${RIG_STEP_SECONDS}s per step, $(date -u +%F))'"
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
	echo "- Date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); run took ${ELAPSED} s."
	echo "- Command: \`$KNOBS $COMMAND_LINE\`"
	echo "- Machine: $ncpu CPUs ($cpu_model), kernel $(uname -r); two network namespaces joined by a veth pair ($SRV_IP server, $CLI_IP client); server pinned to CPU $RIG_SERVER_CPU, kxdpgun and dnsperf to CPU $RIG_CLIENT_CPU; load average $LOAD_START before, $LOAD_END after."
	echo "- Versions: xdpdns $ver_xdpdns ($ver_go); $ver_nsd; $ver_knot; $ver_kxdpgun; dnsperf $ver_dnsperf."
	echo "- Servers: \`reflector\` = bare swap-and-XDP_TX program (bench/cmd/xdppass -prog reflect), the floor; \`xdpdns\` = \`xdpdnsd --xdp VETH:native\`; \`xdpdns-user\` = xdpdnsd without XDP; \`nsd\` (\`server-count: 1\`, \`rrl-ratelimit: 0\`, \`minimal-responses: yes\`); \`knot\` (\`udp-workers: 1\`); \`knot-xdp\` (the same plus \`xdp: listen: VETH@53\`). Each serves hot., tld. (unsigned), stld. (NSEC3, \`dnssec-signzone -S -3 abcd -H 0 -A\`) and . (NSEC) at once; each is spot-checked with kdig before it is measured."
	echo "- Zones: tld./stld. with $RIG_DELEGATIONS delegations (genzone: 10% in-bailiwick glue, 20% DS); root-like . with $RIG_ROOT_TLDS TLDs (2 NS with A/AAAA glue, DS each)."
	echo "- kxdpgun: offered rates $(sed 's/ /, /g' <<<"$RIG_RATES") pps, ${RIG_STEP_SECONDS} s each, one thread on CPU $RIG_CLIENT_CPU; each cell is replies/s / queries sent per s (loss %), kxdpgun's own counts; *answered* = loss below ${RIG_LOSS_PCT}%. The sent rate can fall below the offered one: the generator shares CPU $RIG_CLIENT_CPU with the veth softirq, where an XDP server's program and the replies' reception run."
	echo "- CPU per reply at ${RIG_CPU_RATE} pps offered: *server* = the server's process CPU time (user+system, /proc/PID/stat, all threads) plus the run time of its XDP programs (kernel bpf_stats, run_time_ns) per reply, with the BPF part in brackets; *VM* = wall minus idle of all CPUs (generator and rig included) per reply. Receive work: with \`RIG_NAPI=$RIG_NAPI\`$( [ "$RIG_NAPI" = threaded ] && echo ", the server veth's NAPI is threaded and its kthread pinned to CPU $RIG_SERVER_CPU while an XDP program is attached, and RPS sends the kernel path's receive work to CPU $RIG_SERVER_CPU, so a server's network work runs on the server CPU (without this, veth runs it on the sending CPU, the generator's)"). Kernel work (NAPI kthread, softirq) is not in the process figure; the BPF part is the XDP program's own run time; the VM column holds everything."
	echo
	echo "![replies/s vs offered rate]($chart_rel)"
	for set in $RIG_SETS; do
		echo
		echo "### $set — $(set_desc "$set")"
		echo
		hdr="| server | highest rate answered (<${RIG_LOSS_PCT}% loss) | peak replies/s |"
		sep="|---|---:|---:|"
		for r in $RIG_RATES; do hdr+=" @$((r / 1000))k |"; sep+="---:|"; done
		hdr+=" µs/reply server [BPF] @$((RIG_CPU_RATE / 1000))k | µs/reply VM | limited by |"
		sep+="---:|---:|---|"
		echo "$hdr"
		echo "$sep"
		for s in $RIG_SERVERS; do
			row="| $s | $(best_lossless "$s" "$set") | $(peak "$s" "$set") |"
			while read -r off sent got loss _; do
				[ -n "$off" ] || continue
				row+=" $(awk -v g="$got" -v s="$sent" -v l="$loss" 'BEGIN { printf "%.1fk/%.1fk (%s%%)", g / 1000, s / 1000, l }') |"
			done <<<"${LADDER[$s/$set]}"
			row+=" $(at_rate "$s" "$set" 5) [$(at_rate "$s" "$set" 6)] | $(at_rate "$s" "$set" 7) | $(limited "$s" "$set") |"
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
	dp_any=0
	for set in $RIG_DNSPERF_SETS; do [[ " $RIG_SETS " == *" $set "* ]] && dp_any=1; done
	if [ $dp_any = 1 ]; then
		echo
		echo "### dnsperf on the rig"
		echo
		echo "\`dnsperf -c 4 -q 200 -l $RIG_DNSPERF_SECONDS\` (saturation) and \`-c 4 -Q $RIG_FIXED_RATE -v\` (fixed rate; percentiles from the per-query latencies), from the client namespace, with the client veth's XDP_PASS program attached. dnsperf cannot set DO per query: sets with DO lines run with \`-D\` (DO on every query). dnsperf on one CPU saturates near 200k qps on this VM whatever the server (BRIEF §4): the saturation column ranks the generator, not fast servers."
		for set in $RIG_DNSPERF_SETS; do
			[[ " $RIG_SETS " == *" $set "* ]] || continue
			echo
			echo "#### $set (dnsperf $(set_flags "$set"))"
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
	echo
	echo "### Notes"
	echo
	echo "- *limited by*: \`generator\` when the server lost nothing up to the top offered rate and kxdpgun sent at least 90% of it (kxdpgun on one CPU reaches ~650k pps here); \`rig\` when nothing was lost but kxdpgun sent less than 90% of the top rate (the generator shares its CPU with the veth softirq); \`rig/generator\` when the server lost queries but its peak is within 5% of the bare reflector's; \`server\` otherwise, with the offered rate where loss began. The reflector's row is the rig's floor: kxdpgun, veth and the XDP_TX path with no DNS work."
	echo "- *Highest rate answered* is the highest step under ${RIG_LOSS_PCT}% loss; loss is not always monotonic in one-run steps (a lower step may show more loss than a higher one), so read the row."
	echo "- Each figure is one ${RIG_STEP_SECONDS}-second kxdpgun run per step, not a median: on this VM runs of the same server have differed by 30% or more (bench/run.sh's notes); read ratios near 1 as no difference."
	echo "- xdpdns passes to its userspace server what the XDP program cannot answer from templates (notably NSEC3 proofs that depend on the qname, with DO=1): in *mix-signed* and *flood* those queries take the userspace path, and its figures show it."
	echo "<!-- rig-bench:end -->"
} >"$TMP/section.md"

if [ -f "$RIG_RESULTS" ] && grep -q '^<!-- rig-bench:begin -->' "$RIG_RESULTS"; then
	awk -v sec="$TMP/section.md" '
		/^<!-- rig-bench:begin -->/ { while ((getline l < sec) > 0) print l; skip = 1; next }
		/^<!-- rig-bench:end -->/   { skip = 0; next }
		!skip' "$RIG_RESULTS" >"$TMP/results.md"
else
	{
		if [ -f "$RIG_RESULTS" ]; then cat "$RIG_RESULTS"; echo; else printf '# xdpdns benchmark results\n\n'; fi
		cat "$TMP/section.md"
	} >"$TMP/results.md"
fi
cp "$TMP/results.md" "$RIG_RESULTS"
log "wrote $RIG_RESULTS and $RIG_CHART (run took ${ELAPSED} s)"
cat "$TMP/section.md"
