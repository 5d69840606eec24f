#!/usr/bin/env bash
# bench/run.sh — userspace-path benchmark of the authoritative core:
# xdpdnsd, NSD and Knot DNS, one after another, each alone on 127.0.0.1 and
# pinned to one CPU, serving the same generated TLD-like zone, driven by
# dnsperf pinned to the other CPU. Writes its section of bench/RESULTS.md.
# See bench/README.md for what it measures and what limits the figures.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

# Knobs (bench/README.md).
BENCH_DELEGATIONS=${BENCH_DELEGATIONS:-20000}  # delegations in tld.
BENCH_QUERIES=${BENCH_QUERIES:-100000}         # lines per query file
BENCH_SECONDS=${BENCH_SECONDS:-10}             # duration of each dnsperf run
BENCH_REPEAT=${BENCH_REPEAT:-3}                # saturation rounds (median reported)
BENCH_RATE=${BENCH_RATE:-50000}                # fixed rate (-Q) of the second run
BENCH_CLIENTS=${BENCH_CLIENTS:-4}              # dnsperf -c at saturation
BENCH_OUTSTANDING=${BENCH_OUTSTANDING:-200}    # dnsperf -q at saturation
BENCH_QUERY_TIMEOUT=${BENCH_QUERY_TIMEOUT:-2}  # dnsperf -t: a query unanswered this long is lost
BENCH_DNSPERF_FLAGS=${BENCH_DNSPERF_FLAGS:--e} # extra dnsperf flags (-e: EDNS0; -D: DO)
BENCH_MAX_LOST_PCT=${BENCH_MAX_LOST_PCT:-1}    # fail above this loss at the fixed rate
BENCH_SERVERS=${BENCH_SERVERS:-xdpdns nsd knot}
BENCH_SETS=${BENCH_SETS:-referral nxdomain apex}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-570}            # hard bound on the whole run (s)
BENCH_SERVER_CPU=${BENCH_SERVER_CPU:-1}
BENCH_CLIENT_CPU=${BENCH_CLIENT_CPU:-0}
BENCH_RESULTS=${BENCH_RESULTS:-$ROOT/bench/RESULTS.md}
BENCH_SAMPLE=${BENCH_SAMPLE:-200}              # queries per set compared across servers
BENCH_READY_TIMEOUT=${BENCH_READY_TIMEOUT:-120} # zone load bound per server (s)

START_EPOCH=$(date +%s)
COMMAND_LINE="$0${*:+ $*}"
KNOBS="BENCH_DELEGATIONS=$BENCH_DELEGATIONS BENCH_QUERIES=$BENCH_QUERIES BENCH_SECONDS=$BENCH_SECONDS BENCH_REPEAT=$BENCH_REPEAT BENCH_RATE=$BENCH_RATE BENCH_CLIENTS=$BENCH_CLIENTS BENCH_OUTSTANDING=$BENCH_OUTSTANDING BENCH_DNSPERF_FLAGS='$BENCH_DNSPERF_FLAGS'"

log() { printf '[bench %3ds] %s\n' "$(($(date +%s) - START_EPOCH))" "$*" >&2; }
die() { printf '\nbench: FAIL: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- cleanup

TMP=""
SERVER_PIDS=()
WATCHDOG_PID=""
CLEANED=0

cleanup() {
	[ "$CLEANED" = 1 ] && return 0
	CLEANED=1
	local pid
	for pid in "${SERVER_PIDS[@]}"; do stop_pid "$pid"; done
	if [ -n "$WATCHDOG_PID" ]; then
		kill "$WATCHDOG_PID" 2>/dev/null || true
		wait "$WATCHDOG_PID" 2>/dev/null || true
	fi
	if [ -n "$TMP" ] && [ -d "$TMP" ]; then rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'log "interrupted"; cleanup; exit 130' INT
trap 'log "terminated (BENCH_TIMEOUT=${BENCH_TIMEOUT}s or signal)"; cleanup; exit 143' TERM

# The watchdog bounds the whole run: every step below is itself bounded, so
# the TERM it sends is handled within one dnsperf run at most.
(
	trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
	sleep "$BENCH_TIMEOUT" &
	sleeper=$!
	wait "$sleeper"
	echo "bench: FAIL: run exceeded BENCH_TIMEOUT=${BENCH_TIMEOUT}s" >&2
	kill -TERM $$
) &
WATCHDOG_PID=$!

# ---------------------------------------------------------------- prerequisites

for tool in dnsperf kdig taskset nsd knotd ss go; do
	command -v "$tool" >/dev/null || die "$tool not found (make deps installs the packages)"
done
ncpu=$(nproc)
((BENCH_SERVER_CPU < ncpu && BENCH_CLIENT_CPU < ncpu)) ||
	die "need CPUs $BENCH_CLIENT_CPU and $BENCH_SERVER_CPU, have $ncpu"

XDPDNSD=${BENCH_XDPDNSD:-$ROOT/bin/xdpdnsd}
if [[ " $BENCH_SERVERS " == *" xdpdns "* ]] && [ ! -x "$XDPDNSD" ]; then
	log "bin/xdpdnsd missing: building it"
	(cd "$ROOT" && go build -o bin/ ./cmd/...) || die "cannot build bin/xdpdnsd"
fi

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v l="${LOAD_START%% *}" -v n="$ncpu" 'BEGIN {exit !(l > 0.5)}'; then
	log "WARNING: load average $LOAD_START before the run: other work on this machine skews the figures"
fi
TMP=$(mktemp -d /tmp/xdpdns-bench.XXXXXX)
log "work directory $TMP"

# ---------------------------------------------------------------- data

log "generating tld. with $BENCH_DELEGATIONS delegations and query files of $BENCH_QUERIES lines"
(cd "$ROOT" && go build -o "$TMP/" ./bench/cmd/genzone ./bench/cmd/dnsready) || die "cannot build bench/cmd/{genzone,dnsready}"
"$TMP/genzone" -out "$TMP" -delegations "$BENCH_DELEGATIONS" -queries "$BENCH_QUERIES"
ZONE=$TMP/tld.zone
ZONE_RRS=$(grep -vc '^\$' "$ZONE")

# ---------------------------------------------------------------- helpers

free_port() { # a UDP+TCP port nobody listens on
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + RANDOM % 40000))
		if [ -z "$(ss -Hlnut "sport = :$p" 2>/dev/null)" ]; then
			echo "$p"
			return 0
		fi
	done
	die "no free port found"
}

q() { # port name type [kdig options...]: one query, full text answer
	local port=$1 name=$2 type=$3
	shift 3
	kdig @127.0.0.1 -p "$port" "$name" "$type" +norec +time=1 +retry=0 "$@" 2>&1 || true
}

section() { # kdig-output SECTION: the records of one section, one per line
	awk -v s=";; $2 SECTION:" '$0 == s {on = 1; next} /^;;/ || /^$/ {on = 0} on' <<<"$1"
}

# wait_ready server pid port log: until tld. SOA answers NOERROR with an
# answer (bench/cmd/dnsready polls every 20 ms), failing early if the server
# exits; prints nothing, sets READY_AT (seconds since the probe started).
wait_ready() {
	local name=$1 pid=$2 port=$3 logf=$4 probe
	"$TMP/dnsready" -server "127.0.0.1:$port" -zone tld. -timeout "${BENCH_READY_TIMEOUT}s" >"$TMP/ready.out" 2>&1 &
	probe=$!
	while kill -0 "$probe" 2>/dev/null; do
		if ! kill -0 "$pid" 2>/dev/null; then
			kill "$probe" 2>/dev/null || true
			wait "$probe" 2>/dev/null || true
			tail -20 "$logf" >&2 || true
			die "$name exited during startup (log above)"
		fi
		sleep 0.02
	done
	if ! wait "$probe"; then
		tail -20 "$logf" >&2 || true
		die "$name did not answer tld. SOA on 127.0.0.1:$port within ${BENCH_READY_TIMEOUT} s ($(cat "$TMP/ready.out"))"
	fi
}

spot_check() { # server port: fail loudly on a wrong referral, NXDOMAIN or apex answer
	local name=$1 port=$2 out auth add
	# Referral to a delegation with in-bailiwick glue (d0: K%10 == 0).
	out=$(q "$port" www.d0.tld. A)
	grep -q 'status: NOERROR' <<<"$out" || die "$name: www.d0.tld. A is not NOERROR:"$'\n'"$out"
	grep -q 'Flags:.* aa' <<<"$out" && die "$name: referral www.d0.tld. A has AA set:"$'\n'"$out"
	[ -z "$(section "$out" ANSWER)" ] || die "$name: referral www.d0.tld. A has an answer section:"$'\n'"$out"
	auth=$(section "$out" AUTHORITY)
	[ "$(grep -Ec '^d0\.tld\.[[:space:]].*[[:space:]]NS[[:space:]]+ns[12]\.d0\.tld\.' <<<"$auth")" = 2 ] ||
		die "$name: referral www.d0.tld. A lacks the two NS of d0.tld. in authority:"$'\n'"$out"
	add=$(section "$out" ADDITIONAL)
	grep -Eq '^ns1\.d0\.tld\.[[:space:]].*[[:space:]]A[[:space:]]+198\.51\.0\.1$' <<<"$add" ||
		die "$name: referral www.d0.tld. A lacks glue ns1.d0.tld. A 198.51.0.1:"$'\n'"$out"
	# Referral without glue (d1: out-of-zone name servers).
	out=$(q "$port" www.d1.tld. A)
	grep -q 'status: NOERROR' <<<"$out" && [ "$(section "$out" AUTHORITY | grep -Ec '^d1\.tld\.[[:space:]].*[[:space:]]NS[[:space:]]')" = 2 ] ||
		die "$name: referral www.d1.tld. A is wrong:"$'\n'"$out"
	# NXDOMAIN with the SOA in authority.
	out=$(q "$port" nxspotcheck.tld. A)
	grep -q 'status: NXDOMAIN' <<<"$out" || die "$name: nxspotcheck.tld. A is not NXDOMAIN:"$'\n'"$out"
	grep -q 'Flags:.* aa' <<<"$out" || die "$name: NXDOMAIN for nxspotcheck.tld. A lacks AA:"$'\n'"$out"
	section "$out" AUTHORITY | grep -Eq '^tld\.[[:space:]].*[[:space:]]SOA[[:space:]]' ||
		die "$name: NXDOMAIN for nxspotcheck.tld. A lacks the SOA in authority:"$'\n'"$out"
	# An authoritative host answer.
	out=$(q "$port" host1.nic.tld. A)
	grep -q 'status: NOERROR' <<<"$out" && section "$out" ANSWER | grep -Eq '[[:space:]]A[[:space:]]+192\.0\.2\.11$' ||
		die "$name: host1.nic.tld. A is not 192.0.2.11:"$'\n'"$out"
}

# sample_answers server port: a normalised dump (rcode, flags, sorted
# records without TTL per section) of the first BENCH_SAMPLE queries of each
# set, to compare servers' answers with each other.
# Besides the samples, a few probes of the same paths with other flags: DO
# set (DS at a delegation), mixed case (must be echoed), the DS and glue
# names themselves, NODATA at the apex.
PROBES="www.d0.tld. A +dnssec
WwW.D10.TlD. A +edns
d0.tld. DS +dnssec
d0.tld. NS +edns
ns1.d0.tld. A +edns
tld. DNSKEY +dnssec
tld. TXT +edns
nic.tld. A +edns
HOST3.nic.tld. A +noedns"

sample_answers() {
	local port=$2 set qn qt fl out
	{
		for set in $BENCH_SETS; do
			head -n "$BENCH_SAMPLE" "$TMP/queries-$set.txt" | sed "s/\$/ $BENCH_DNSPERF_FLAGS_KDIG/"
		done
		echo "$PROBES"
	} | while read -r qn qt fl; do
		out=$(q "$port" "$qn" "$qt" "$fl" +time=2 +retry=2)
		printf '== %s %s %s %s\n' "$qn" "$qt" "$fl" "$(grep -o 'status: [A-Z]*' <<<"$out" | head -1)"
		printf 'flags:%s\n' "$(grep -o 'Flags:[^;]*' <<<"$out" | head -1 | sed 's/Flags://')"
		awk '/^;; QUESTION SECTION:/ { getline; sub(/^;; */, ""); print "QUESTION: " $0 }' <<<"$out"
		for s in ANSWER AUTHORITY ADDITIONAL; do
			section "$out" "$s" | awk -v s="$s" '{ $2 = ""; print s ": " $0 }' | sort
		done
	done
}
# kdig equivalent of the dnsperf flags, for the answer comparison.
BENCH_DNSPERF_FLAGS_KDIG="+noedns"
case " $BENCH_DNSPERF_FLAGS " in
*" -D "*) BENCH_DNSPERF_FLAGS_KDIG="+dnssec" ;;
*" -e "*) BENCH_DNSPERF_FLAGS_KDIG="+edns" ;;
esac

# pin_all server pid: every thread of the server on BENCH_SERVER_CPU. taskset
# at exec is not enough: knotd sets its UDP workers' affinity itself (the one
# worker went to CPU 0, beside dnsperf), so threads are re-pinned once the
# server answers, then checked.
pin_all() {
	local name=$1 p t moved=""
	for p in $(descendants "$2"); do
		for t in /proc/"$p"/task/*; do
			if [ "$(awk '/^Cpus_allowed_list:/ {print $2}' "$t/status" 2>/dev/null)" != "$BENCH_SERVER_CPU" ]; then
				moved+=" ${t##*/}"
				taskset -p -c "$BENCH_SERVER_CPU" "${t##*/}" >/dev/null || die "$name: cannot pin thread ${t##*/}"
			fi
		done
	done
	[ -z "$moved" ] || log "$name: re-pinned threads$moved to CPU $BENCH_SERVER_CPU (the server had set its own affinity)"
	for p in $(descendants "$2"); do
		for t in /proc/"$p"/task/*; do
			[ "$(awk '/^Cpus_allowed_list:/ {print $2}' "$t/status" 2>/dev/null || echo "$BENCH_SERVER_CPU")" = "$BENCH_SERVER_CPU" ] ||
				die "$name: thread ${t##*/} is not pinned to CPU $BENCH_SERVER_CPU"
		done
	done
}

rss_kib() { # pid: resident set of the process and its descendants, KiB
	local total=0 p v
	for p in $(descendants "$1"); do
		v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
		total=$((total + ${v:-0}))
	done
	echo "$total"
}

# ---------------------------------------------------------------- servers

SERVER_PID=""
SERVER_PORT=""

start_server() { # name: start it pinned, alone, on a fresh port; sets SERVER_PID/PORT
	local name=$1 port dir logf t0
	port=$(free_port)
	dir=$TMP/$name
	mkdir -p "$dir"
	logf=$dir/server.log
	case $name in
	xdpdns)
		taskset -c "$BENCH_SERVER_CPU" "$XDPDNSD" --zone "tld.=$ZONE" --listen "127.0.0.1:$port" --control "" >"$logf" 2>&1 &
		;;
	nsd)
		cat >"$dir/nsd.conf" <<-EOF
			server:
			  ip-address: 127.0.0.1@$port
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
			zone:
			  name: "tld."
			  zonefile: "$ZONE"
		EOF
		taskset -c "$BENCH_SERVER_CPU" nsd -d -c "$dir/nsd.conf" >>"$logf" 2>&1 &
		;;
	knot)
		knot_conf "$dir" "127.0.0.1@$port" "tld.=$ZONE" >"$dir/knot.conf"
		taskset -c "$BENCH_SERVER_CPU" knotd -c "$dir/knot.conf" >"$logf" 2>&1 &
		;;
	*) die "unknown server $name" ;;
	esac
	SERVER_PID=$!
	SERVER_PIDS+=("$SERVER_PID")
	SERVER_PORT=$port
	wait_ready "$name" "$SERVER_PID" "$port" "$logf"
	pin_all "$name" "$SERVER_PID"
	local ready rss
	ready=$(awk '{printf "%.2f", $1}' "$TMP/ready.out")
	rss=$(awk -v k="$(rss_kib "$SERVER_PID")" 'BEGIN {printf "%.0f", k / 1024}')
	# Startup figures: the first start of each server.
	[ -n "${READY_S[$name]:-}" ] || { READY_S[$name]=$ready; RSS_MIB[$name]=$rss; }
	log "$name ready on 127.0.0.1:$port (pid $SERVER_PID) after $ready s, RSS $rss MiB"
}

stop_server() {
	stop_pid "$SERVER_PID"
	local keep=() p
	for p in "${SERVER_PIDS[@]}"; do [ "$p" = "$SERVER_PID" ] || keep+=("$p"); done
	SERVER_PIDS=("${keep[@]+"${keep[@]}"}")
	SERVER_PID=""
}

# ---------------------------------------------------------------- dnsperf

# dnsperf_run out-file port set [dnsperf args...]: one bounded dnsperf run.
dnsperf_run() {
	local out=$1 port=$2 set=$3
	shift 3
	# shellcheck disable=SC2086 # BENCH_DNSPERF_FLAGS is a list of flags
	timeout -k 5 $((BENCH_SECONDS + 30)) \
		taskset -c "$BENCH_CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$port" -d "$TMP/queries-$set.txt" \
		-l "$BENCH_SECONDS" -t "$BENCH_QUERY_TIMEOUT" $BENCH_DNSPERF_FLAGS "$@" >"$out" 2>"$out.err" ||
		die "dnsperf failed ($(tail -3 "$out.err" "$out" | tr '\n' ' '))"
}



CLK_TCK=$(getconf CLK_TCK)

cpu_ticks() { # pid: user+system clock ticks of the process (all threads) and its descendants
	local total=0 p v
	for p in $(descendants "$1"); do
		# Fields after the ")" closing comm: state is 1st, utime 12th, stime 13th.
		v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}')
		total=$((total + ${v:-0}))
	done
	echo "$total"
}

# snapshot pid: "process-ticks idle-ticks wall-seconds": the server's CPU
# time, the idle+iowait ticks of its CPU from /proc/stat, and the clock. Busy
# is wall minus idle (the per-category tick counts are unreliable on this VM).
snapshot() {
	printf '%s ' "$(cpu_ticks "$1")"
	awk -v c="cpu$BENCH_SERVER_CPU" '$1 == c { printf "%s ", $5 + $6 }' /proc/stat
	date +%s.%N
}

# server_cpu snapshot-before snapshot-after dnsperf-output: "proc% cpubusy%
# µs/answer": the server process's CPU time over the run (user+system; softirq
# work is charged to whoever runs), its CPU's busy share, and process µs per answer.
server_cpu() {
	awk -v s0="$1" -v s1="$2" -v hz="$CLK_TCK" '
		/Queries completed:/ { done = $3 }
		/Run time \(s\):/   { rt = $4 }
		END {
			split(s0, a); split(s1, b)
			cpu = (b[1] - a[1]) / hz
			wall = b[3] - a[3]
			busy = (wall > 0 ? 100 * (1 - (b[2] - a[2]) / hz / wall) : 0)
			if (busy < 0) busy = 0
			printf "%.0f %.0f %s\n", (rt > 0 ? 100 * cpu / rt : 0), busy, (done > 0 ? sprintf("%.1f", 1e6 * cpu / done) : "-")
		}' "$3"
}

expected_rcode() {
	case $1 in
	nxdomain) echo NXDOMAIN ;;
	*) echo NOERROR ;;
	esac
}

# ---------------------------------------------------------------- main loop

declare -A READY_S RSS_MIB SAT FIX PCT CPU ROUNDS RANGE
FAILURES=()

check_rcodes() { # server set mode stats: every answer must carry the set's rcode
	local rc want_re
	read -r _ _ _ _ _ rc <<<"$4"
	want_re="^$(expected_rcode "$2")_[0-9]+_\\(100\\.00%\\)\$"
	[[ $rc =~ $want_re ]] ||
		FAILURES+=("$1/$2 ($3): response codes ${rc//_/ }, expected only $(expected_rcode "$2")")
}

# Rounds: each round starts every server in turn and runs the saturation
# runs; the last round also runs the fixed-rate runs. Interleaving the
# servers spreads slow drifts of the machine over all of them; the median
# round (by qps) is reported, with the range.
for ((round = 1; round <= BENCH_REPEAT; round++)); do
	for server in $BENCH_SERVERS; do
		log "round $round/$BENCH_REPEAT: starting $server"
		start_server "$server"
		if ((round == 1)); then
			spot_check "$server" "$SERVER_PORT"
			log "$server: spot checks passed (referral with/without glue, NXDOMAIN, host A)"
			sample_answers "$server" "$SERVER_PORT" >"$TMP/answers-$server.txt"
		fi
		for set in $BENCH_SETS; do
			log "$server/$set: saturation run $round (-c $BENCH_CLIENTS -q $BENCH_OUTSTANDING, ${BENCH_SECONDS}s)"
			out=$TMP/$server-$set-sat-$round.out
			t0=$(snapshot "$SERVER_PID")
			dnsperf_run "$out" "$SERVER_PORT" "$set" -c "$BENCH_CLIENTS" -q "$BENCH_OUTSTANDING"
			t1=$(snapshot "$SERVER_PID")
			stats=$(parse_dnsperf "$out") || die "cannot parse dnsperf output for $server/$set"
			cpu=$(server_cpu "$t0" "$t1" "$out")
			ROUNDS[$server/$set]+="$stats|$cpu"$'\n'
			check_rcodes "$server" "$set" "saturation run $round" "$stats"
			log "$server/$set: saturation: $stats; server process CPU %, CPU $BENCH_SERVER_CPU busy %, process µs/answer: $cpu"
		done
		if ((round == BENCH_REPEAT)); then
			for set in $BENCH_SETS; do
				log "$server/$set: fixed-rate run (-Q $BENCH_RATE, ${BENCH_SECONDS}s, per-query latencies)"
				out=$TMP/$server-$set-fix.out
				t0=$(snapshot "$SERVER_PID")
				dnsperf_run "$out" "$SERVER_PORT" "$set" -c "$BENCH_CLIENTS" -Q "$BENCH_RATE" -v
				t1=$(snapshot "$SERVER_PID")
				FIX[$server/$set]=$(parse_dnsperf "$out") || die "cannot parse dnsperf output for $server/$set"
				CPU[$server/$set/fix]=$(server_cpu "$t0" "$t1" "$out")
				PCT[$server/$set]=$(percentiles "$out")
				rm -f "$out" # per-query lines: large
				log "$server/$set: fixed rate: ${FIX[$server/$set]}; p50/p99/p99.9 ms: ${PCT[$server/$set]}; server process CPU %, CPU $BENCH_SERVER_CPU busy %, process µs/answer: ${CPU[$server/$set/fix]}"
				read -r _ _ lostpct _ <<<"${FIX[$server/$set]}"
				if awk -v l="$lostpct" -v m="$BENCH_MAX_LOST_PCT" 'BEGIN {exit !(l > m)}'; then
					FAILURES+=("$server/$set: ${lostpct}% lost at $BENCH_RATE qps (limit ${BENCH_MAX_LOST_PCT}%)")
				fi
				check_rcodes "$server" "$set" "fixed rate" "${FIX[$server/$set]}"
			done
		fi
		log "stopping $server"
		stop_server
	done
done

# The median saturation round by qps (the lower middle one for an even
# count), and the range of qps over the rounds.
for key in "${!ROUNDS[@]}"; do
	med=$(printf '%s' "${ROUNDS[$key]}" | sort -n -k1,1 | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }')
	SAT[$key]=${med%%|*}
	CPU[$key/sat]=${med#*|}
	RANGE[$key]=$(printf '%s' "${ROUNDS[$key]}" | awk '{ q = $1 + 0; if (NR == 1 || q < lo) lo = q; if (NR == 1 || q > hi) hi = q } END { printf "%d–%d", lo, hi }')
done

# ---------------------------------------------------------------- answers compared

DIFF_NOTE=""
if [[ " $BENCH_SERVERS " == *" xdpdns "* ]]; then
	for ref in nsd knot; do
		[[ " $BENCH_SERVERS " == *" $ref "* ]] || continue
		a=$TMP/answers-xdpdns.txt b=$TMP/answers-$ref.txt
		total=$(grep -c '^== ' "$a")
		ndiff=$(awk '/^== /{ if (q != "") print q "\t" body; q = $0; body = ""; next } { body = body "|" $0 } END { print q "\t" body }' "$a" >"$a.j"
			awk '/^== /{ if (q != "") print q "\t" body; q = $0; body = ""; next } { body = body "|" $0 } END { print q "\t" body }' "$b" >"$b.j"
			paste -d '\n' "$a.j" "$b.j" | awk 'NR % 2 == 1 { x = $0; next } x != $0 { n++ } END { print n + 0 }')
		DIFF_NOTE+="- xdpdns vs $ref: $((total - ndiff)) of $total answers identical (rcode, flags, question, records without TTL, sorted per section)."$'\n'
		if [ "$ndiff" != 0 ]; then
			log "xdpdns answers differing from $ref (first lines of diff):"
			diff "$b" "$a" | head -40 >&2 || true
		fi
	done
fi

# ---------------------------------------------------------------- RESULTS.md

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
END_EPOCH=$(date +%s)
ELAPSED=$((END_EPOCH - START_EPOCH))

ver_xdpdns=$(cd "$ROOT" && git describe --always --dirty --tags 2>/dev/null || echo unknown)
ver_nsd=$(nsd -v 2>&1 | sed -n 1p)
ver_knot=$(knotd -V 2>&1 | sed -n 1p)
ver_dnsperf=$(dnsperf -h 2>&1 | awk '/^Version/ {print $2}')
ver_go=$(go version | awk '{print $3}')
cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)

ratio() { # a b: a/b with two decimals, or - if either is missing
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'
}

{
	echo "<!-- userspace-bench:begin -->"
	echo "## Userspace path: xdpdnsd vs NSD vs Knot DNS (dnsperf over loopback)"
	echo
	echo "Generated by \`bench/run.sh\`; do not edit by hand (the section is rewritten on every run)."
	echo
	echo "- Date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); run took ${ELAPSED} s."
	echo "- Command: \`$KNOBS $COMMAND_LINE\`"
	echo "- Machine: $ncpu CPUs ($cpu_model), kernel $(uname -r); servers pinned to CPU $BENCH_SERVER_CPU, dnsperf to CPU $BENCH_CLIENT_CPU; load average (1/5/15 min) $LOAD_START before, $LOAD_END after the run."
	echo "- Versions: xdpdns $ver_xdpdns ($ver_go); $ver_nsd; $ver_knot; dnsperf $ver_dnsperf."
	echo "- Zone: tld. with $BENCH_DELEGATIONS delegations (2 NS each, 10% with in-bailiwick glue, 20% with DS; $ZONE_RRS records), unsigned."
	echo "- Saturation: $BENCH_REPEAT rounds, each starting every server in turn, of \`dnsperf -c $BENCH_CLIENTS -q $BENCH_OUTSTANDING -l $BENCH_SECONDS -t $BENCH_QUERY_TIMEOUT $BENCH_DNSPERF_FLAGS\`; the round with the median qps is reported (its latency and CPU figures too), with the range over the rounds; fixed rate, in the last round: \`dnsperf -c $BENCH_CLIENTS -Q $BENCH_RATE -l $BENCH_SECONDS -t $BENCH_QUERY_TIMEOUT $BENCH_DNSPERF_FLAGS -v\` (percentiles computed from the per-query latencies of \`-v\`; dnsperf $ver_dnsperf prints no percentiles itself)."
	echo "- Server config: NSD \`server-count: 1\`, \`rrl-ratelimit: 0\`, no remote control; Knot \`udp-workers: 1\`, \`tcp-workers: 1\`, \`background-workers: 1\`, \`zonefile-load: whole\`, \`journal-content: none\`; xdpdnsd defaults (GOMAXPROCS follows the CPU pinning: 1)."
	echo
	echo "Startup (process start to the first NOERROR answer to tld. SOA, polled every 20 ms) and resident memory after load:"
	echo
	echo "| server | ready after (s) | RSS (MiB) |"
	echo "|---|---:|---:|"
	for server in $BENCH_SERVERS; do
		echo "| $server | ${READY_S[$server]:--} | ${RSS_MIB[$server]:--} |"
	done
	for set in $BENCH_SETS; do
		echo
		case $set in
		referral) echo "### referral — \`www.dK.tld. A\` for random K (NOERROR, NS in authority, glue for 10%)" ;;
		nxdomain) echo "### nxdomain — random non-existent \`nxXXXXXXXXXXXX.tld. A\` (NXDOMAIN, SOA in authority)" ;;
		apex) echo "### apex — \`tld. SOA\`, \`tld. NS\`, \`hostK.nic.tld. A\` in equal parts (authoritative answers)" ;;
		esac
		echo
		echo "| server | qps (saturation, median) | range | lost | avg latency (ms) | stddev (ms) | CPU: server % / CPU$BENCH_SERVER_CPU busy % / µs per answer | qps @ $BENCH_RATE | lost | avg latency (ms) | p50 / p99 / p99.9 (ms) | CPU: server % / CPU$BENCH_SERVER_CPU busy % / µs per answer |"
		echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		for server in $BENCH_SERVERS; do
			read -r sq sl slp sa ss _ <<<"${SAT[$server/$set]}"
			read -r fq fl flp fa _ _ <<<"${FIX[$server/$set]}"
			read -r p50 p99 p999 <<<"${PCT[$server/$set]}"
			read -r scpu sbusy sus <<<"${CPU[$server/$set/sat]}"
			read -r fcpu fbusy fus <<<"${CPU[$server/$set/fix]}"
			echo "| $server | $sq | ${RANGE[$server/$set]} | $sl ($slp%) | $sa | $ss | $scpu / $sbusy / $sus | $fq | $fl ($flp%) | $fa | $p50 / $p99 / $p999 | $fcpu / $fbusy / $fus |"
		done
		if [[ " $BENCH_SERVERS " == *" xdpdns "* ]]; then
			xq=$(awk '{print $1}' <<<"${SAT[xdpdns/$set]}")
			xu=$(awk '{print $3}' <<<"${CPU[xdpdns/$set/sat]}")
			line="Ratios within this run, xdpdns/NSD and xdpdns/Knot: qps at saturation"
			line2="server CPU per answer at saturation (lower is better)"
			for ref in nsd knot; do
				[[ " $BENCH_SERVERS " == *" $ref "* ]] || continue
				line+=" $(ratio "$xq" "$(awk '{print $1}' <<<"${SAT[$ref/$set]}")") ($ref),"
				line2+=" $(ratio "$xu" "$(awk '{print $3}' <<<"${CPU[$ref/$set/sat]}")") ($ref),"
			done
			echo
			echo "${line%,}; ${line2%,}."
		fi
	done
	echo
	echo "### Notes"
	echo
	maxq=0
	for k in "${!ROUNDS[@]}"; do
		while read -r v _; do
			[ -n "$v" ] && ((v > maxq)) && maxq=$v
		done <<<"${ROUNDS[$k]}"
	done
	echo "- The generator's ceiling: dnsperf on one CPU was measured saturating near 200k qps on this VM in earlier runs (a bare XDP reflector gave ~204k); in this run (loopback, \`-c $BENCH_CLIENTS -q $BENCH_OUTSTANDING\`) the highest rate seen was $maxq qps, so the ceiling is at least that here. A server whose qps is close to the highest figure of the run, or whose CPU (busy %) at saturation is well below 100, was limited by dnsperf, not by itself: its qps ratio measures the generator. Compare such servers by CPU per answer instead."
	echo "- CPU columns: *server %* is the user+system time of the server's processes (all threads, NSD's children too) over the dnsperf run, from /proc/PID/stat, per second of run time; *CPU$BENCH_SERVER_CPU busy %* is wall minus idle of the server's CPU from /proc/stat (includes softirq and anything else scheduled there); *µs per answer* is the server's process time divided by the answers. Kernel work done in softirq context is charged to whichever task is running and is only partly in the process figure; other load on the machine does not enter the process figure, but does enter the busy %, the qps and the latencies."
	echo "- Loopback, one server CPU, one client CPU, same kernel: this is the userspace path (kernel UDP sockets); the XDP path is measured separately."
	if [ -n "$DIFF_NOTE" ]; then
		echo "- Answers compared on the first $BENCH_SAMPLE queries of each set plus $(grep -c . <<<"$PROBES") probes (DO set, mixed case, DS and glue owners, apex NODATA):"
		printf '%s' "$DIFF_NOTE" | sed 's/^/  /'
	fi
	if ((${#FAILURES[@]})); then
		echo "- **FAILED**:"
		printf '  - %s\n' "${FAILURES[@]}"
	fi
	echo "<!-- userspace-bench:end -->"
} >"$TMP/section.md"

write_section "$BENCH_RESULTS" userspace-bench "$TMP/section.md"
log "wrote $BENCH_RESULTS (run took ${ELAPSED} s)"
cat "$TMP/section.md"

if ((${#FAILURES[@]})); then
	printf 'bench: FAIL: %s\n' "${FAILURES[@]}" >&2
	exit 1
fi
