#!/usr/bin/env bash
# bench/scale.sh — TLD scale beside Knot DNS (issue 11): a generated zone of
# SCALE_DELEGATIONS delegations (genzone), unsigned and NSEC3 opt-out
# signed, served by xdpdnsd (native XDP on a veth, in a network namespace
# of its own) and by knotd in turn. For each: seconds from process start to
# the first correct referral (for xdpdns: answered by the XDP program, per
# its counters), RSS and kernel map memory (memlock of the BPF maps the
# process holds) once loaded, and the peak of both during a full reload of
# the same zone. Writes the scale-bench section of SCALE_RESULTS.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

SCALE_DELEGATIONS=${SCALE_DELEGATIONS:-1000000}
SCALE_RESULTS=${SCALE_RESULTS:-$ROOT/bench/RESULTS.md}
SCALE_TIMEOUT=${SCALE_TIMEOUT:-1500} # hard bound on the whole run (s)
SCALE_START_LIMIT=${SCALE_START_LIMIT:-300} # seconds a server may take to answer
SCALE_STARTS=${SCALE_STARTS:-3}            # timed starts of knot and of xdpdns from the image (median reported)

NS_SRV=xscale-srv NS_CLI=xscale-cli IF_SRV=xsc0 IF_CLI=xsc1
SRV_IP=198.18.0.1 CLI_IP=198.18.0.2
TMP=$(mktemp -d /tmp/xdpdns-scale.XXXXXX)
PIDS=() CLEANED=0 DIED=
START_EPOCH=$(date +%s)

log() { printf '[scale %4ds] %s\n' "$(($(date +%s) - START_EPOCH))" "$*" >&2; }
die() { printf '\nscale: FAIL: %s\n' "$*" >&2; DIED=1; exit 1; }
usec() { local t=${EPOCHREALTIME/[.,]/}; echo "$((10#$t))"; }

cleanup() {
	[ "$CLEANED" = 1 ] && return 0
	CLEANED=1
	local pid
	for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
	teardown_netns "$NS_SRV" "$IF_SRV" "$NS_CLI" "$IF_CLI"
	[ -n "${WATCHDOG_PID:-}" ] && { kill "$WATCHDOG_PID" 2>/dev/null || true; wait "$WATCHDOG_PID" 2>/dev/null || true; }
	[ -z "${SCALE_KEEP_TMP:-}" ] && rm -rf "$TMP"
}
trap 'rc=$?; [ "$rc" = 0 ] || [ -n "$DIED" ] || printf "\nscale: FAIL: exit status %s, last command: %s\n" "$rc" "$BASH_COMMAND" >&2; cleanup' EXIT
trap 'DIED=1; cleanup; exit 130' INT
trap 'log "terminated (SCALE_TIMEOUT=${SCALE_TIMEOUT}s or signal)"; DIED=1; cleanup; exit 143' TERM
(
	trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
	sleep "$SCALE_TIMEOUT" &
	sleeper=$!
	wait "$sleeper"
	kill -TERM $$
) &
WATCHDOG_PID=$!

[ "$(id -u)" = 0 ] || die "needs root (namespaces, XDP)"
for t in knotd knotc kdig dnssec-keygen dnssec-signzone; do command -v "$t" >/dev/null || die "$t missing (make deps-bench)"; done

log "build"
(cd "$ROOT" && go build -o "$TMP/" ./cmd/xdpdnsd ./cmd/xdpdnsctl ./bench/cmd/genzone ./bench/cmd/xdppass) || die "cannot build"

log "zone: $SCALE_DELEGATIONS delegations, and an NSEC3 opt-out signed copy"
t0=$(usec)
"$TMP/genzone" -out "$TMP" -delegations "$SCALE_DELEGATIONS" -queries 1 >/dev/null || die genzone
mkdir -p "$TMP/keys"
(cd "$TMP/keys" && dnssec-keygen -q -a ECDSAP256SHA256 -f KSK tld. >/dev/null && dnssec-keygen -q -a ECDSAP256SHA256 tld. >/dev/null) ||
	die dnssec-keygen
dnssec-signzone -q -S -K "$TMP/keys" -o tld. -f "$TMP/tld.signed" -3 abcd -H 0 -A "$TMP/tld.zone" >/dev/null 2>"$TMP/sign.err" ||
	die "dnssec-signzone: $(cat "$TMP/sign.err")"
SIGN_S=$(awk -v a="$t0" -v b="$(usec)" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')

veth_pair "$NS_SRV" "$NS_CLI" "$IF_SRV" "$IF_CLI" "$SRV_IP" "$CLI_IP"
# Replies sent with XDP_TX reach the client's veth only while an XDP
# program runs there: a plain XDP_PASS one.
ip netns exec "$NS_CLI" "$TMP/xdppass" -iface "$IF_CLI" -prog pass >"$TMP/pass.out" 2>&1 &
PIDS+=("$!")
for ((i = 0; i < 100; i++)); do grep -q '^attached' "$TMP/pass.out" && break; sleep 0.05; done
grep -q '^attached' "$TMP/pass.out" || die "xdppass on $IF_CLI: $(cat "$TMP/pass.out")"

# kb_status pid field: a /proc/PID/status figure in KiB (VmRSS, VmHWM).
kb_status() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# memlock pids...: bytes of memlock of the distinct BPF maps the processes hold.
memlock() {
	local p
	for p in "$@"; do
		grep -H -s -e '^map_id:' -e '^memlock:' /proc/"$p"/fdinfo/* 2>/dev/null || true
	done | awk -F'[: \t]+' '{ f = $1; if ($2 == "map_id") id[f] = $3; else if ($2 == "memlock") ml[f] = $3 }
		END { for (f in id) if (!(id[f] in seen)) { seen[id[f]] = 1; s += ml[f] } print s + 0 }'
}
# referral_ok: the referral for www.d7.tld. A, from the client namespace.
referral_ok() {
	ip netns exec "$NS_CLI" kdig +norec +timeout=1 +retry=0 @"$SRV_IP" www.d7.tld. A 2>/dev/null |
		grep -qE '^d7\.tld\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+NS'
}
# xdp_referrals: referrals the XDP program has answered (xdpdns only).
xdp_referrals() {
	ip netns exec "$NS_SRV" "$TMP/xdpdnsctl" --control "$TMP/xdpdns.sock" --json stats 2>/dev/null | tr -d '\n ' |
		grep -o '"answer.referral":[0-9]*' | cut -d: -f2 || echo 0
}
# sample_peak pid out: every 50 ms, the highest RSS (KiB) and memlock (B)
# of the process until out.stop exists; writes "rss memlock" to out.
sample_peak() {
	local pid=$1 out=$2 rss=0 ml=0 r m
	while [ ! -e "$out.stop" ] && kill -0 "$pid" 2>/dev/null; do
		r=$(kb_status "$pid" VmRSS)
		m=$(memlock "$pid")
		((r > rss)) && rss=$r
		((m > ml)) && ml=$m
		sleep 0.05
	done
	echo "$rss $ml" >"$out"
}

# measured pid out cmd...: runs cmd while sampling the process's peak RSS
# (KiB; VmHWM reset first) and memlock (B); writes "seconds rss memlock"
# to out.
measured() {
	local pid=$1 out=$2 t0 secs sampler hwm rss ml
	shift 2
	echo 5 >"/proc/$pid/clear_refs"
	sample_peak "$pid" "$out.peak" &
	sampler=$!
	t0=$(usec)
	"$@"
	secs=$(awk -v a="$t0" -v b="$(usec)" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')
	sleep 0.5
	touch "$out.peak.stop"
	wait "$sampler" || true
	hwm=$(kb_status "$pid" VmHWM)
	read -r rss ml <"$out.peak"
	((hwm > rss)) && rss=$hwm
	echo "$secs $rss $ml" >"$out"
}

# reload_server server dir: reloads the zone and waits until it is in.
reload_server() {
	case $1 in
	xdpdns*) ip netns exec "$NS_SRV" "$TMP/xdpdnsctl" --control "$TMP/xdpdns.sock" --timeout 10m reload >/dev/null || die "xdpdns reload" ;;
	knot)
		local n=0 before
		before=$(grep -c 'loaded, serial' "$2/log")
		ip netns exec "$NS_SRV" knotc -s "$2/run/knot.sock" -f zone-reload tld. >/dev/null || die "knotc zone-reload"
		# zone-reload returns before the new version is in: wait for the log.
		until (($(grep -c 'loaded, serial' "$2/log") > before)); do
			sleep 0.05
			((n++ < 6000)) || die "knot reload did not finish"
		done
		;;
	esac
}

# start_server server variant zonefile dir: starts the server (its pid in
# SPID, the time it was started in T0) and waits until it gives the first
# correct referral (through XDP for xdpdns; the time in READY).
start_server() {
	local server=$1 variant=$2 zf=$3 dir=$4 pid t0 ready="" deadline
	t0=$(usec)
	case $server in
	xdpdns | xdpdns-image)
		# xdpdns starts from the zone file (no image yet) and writes
		# the compiled image; xdpdns-image restarts from that image.
		[ "$server" = xdpdns ] && rm -f "$TMP/$variant.xdpimage"
		[ "$server" = xdpdns-image ] && [ ! -s "$TMP/$variant.xdpimage" ] && die "no compiled image to restart from"
		ip netns exec "$NS_SRV" "$TMP/xdpdnsd" --zone "tld.=$zf" --listen "$SRV_IP:53" --control "$TMP/xdpdns.sock" \
			--xdp "$IF_SRV:native" --zone-image "$TMP/$variant.xdpimage" >"$dir/log" 2>&1 &
		;;
	knot)
		knot_conf "$dir" "$SRV_IP@53" "tld.=$zf" >"$dir/knot.conf"
		ip netns exec "$NS_SRV" knotd -c "$dir/knot.conf" >"$dir/log" 2>&1 &
		;;
	esac
	pid=$!
	PIDS+=("$pid")
	deadline=$((t0 + SCALE_START_LIMIT * 1000000))
	while (($(usec) < deadline)); do
		kill -0 "$pid" 2>/dev/null || { tail -5 "$dir/log" >&2; die "$server/$variant exited during start-up"; }
		if referral_ok && { [ "$server" = knot ] || (($(xdp_referrals) > 0)); }; then
			ready=$(usec)
			break
		fi
		sleep 0.05
	done
	if [ -z "$ready" ]; then
		ip netns exec "$NS_CLI" kdig +norec +timeout=1 +retry=0 @"$SRV_IP" www.d7.tld. A >&2 || true
		[ "$server" != knot ] && log "XDP referrals: $(xdp_referrals)"
		die "$server/$variant: no correct referral within ${SCALE_START_LIMIT}s"
	fi
	SPID=$pid T0=$t0 READY=$ready
	echo "$(((ready - t0) / 1000))" >>"$TMP/ready-$server-$variant"
}

# ready_sample server variant zonefile: one more timed start of the
# server, stopped once it answers (the median of its starts is reported:
# one start of each measures a slow spell of the VM as much as either).
ready_sample() {
	local dir=$TMP/$1-$2-sample
	mkdir -p "$dir/run" "$dir/storage"
	start_server "$1" "$2" "$3" "$dir"
	if [ "$1" = xdpdns-image ] && ! grep -q 'zones loaded from the compiled image' "$dir/log"; then
		die "$1/$2: a timed start did not start from the image"
	fi
	stop_pid "$SPID"
	log "$1/$2: a start ready in $(tail -1 "$TMP/ready-$1-$2") ms"
}

# ready_of server/variant: the median of the server's ready times (s).
ready_of() {
	sort -n "$TMP/ready-${1/\//-}" | awk '{ v[NR] = $1 } END { printf "%.2f", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) / 1000 }'
}

declare -A ROW
run() { # server variant zonefile
	local server=$1 variant=$2 zf=$3 dir=$TMP/$1-$2 pid t0 ready rss ml hwm peak rl0 rl_s
	mkdir -p "$dir/run" "$dir/storage"
	log "$server/$variant: start"
	start_server "$server" "$variant" "$zf" "$dir"
	pid=$SPID t0=$T0 ready=$READY
	case $server in
	xdpdns) # the steady state comes after the image is written
		local n=0
		until grep -q 'compiled zone image written' "$dir/log"; do
			sleep 0.1
			((n++ < 3000)) || die "$server/$variant: no compiled image written"
		done
		;;
	xdpdns-image) grep -q 'zones loaded from the compiled image' "$dir/log" || die "$server/$variant: did not start from the image" ;;
	esac
	if [ "$server" != knot ]; then
		# The steady state holds the indexes a change reads, built in
		# the background once the start has settled.
		local k=0
		until grep -q 'zone indexes built' "$dir/log"; do
			sleep 0.1
			((k++ < 3000)) || die "$server/$variant: the zone's indexes were not built"
		done
	fi
	sleep 2
	rss=$(kb_status "$pid" VmRSS)
	ml=$(memlock "$pid")
	# A full reload of the same zone file, touched (a file unchanged since
	# it was read is not read again): the peak over it (VmHWM reset
	# first). Not for the first xdpdns start, whose image the touch
	# would make stale: the restart from the image measures it.
	rl_s=- peak=0 peakml=0
	if [ "$server" != xdpdns ]; then
		touch "$zf"
		measured "$pid" "$dir/reload" reload_server "$server" "$dir"
		read -r rl_s peak peakml <"$dir/reload"
		referral_ok || die "$server/$variant: no correct referral after the reload"
	fi
	local sr_s=- sr_peak=- sr_how=- sr_rss sr_ml
	if [ "$server" = xdpdns-image ]; then
		# A reload of the file with a new SOA serial (an IXFR's most
		# common change; the SOA's RRSIG kept: nothing validates it):
		# how long, at what peak, and how it reached the maps.
		sed -i '0,/2024010101/s//2024010102/' "$zf"
		measured "$pid" "$dir/serial" reload_server "$server" "$dir"
		read -r sr_s sr_rss sr_ml <"$dir/serial"
		sr_peak=$(((sr_rss / 1024) + (sr_ml / 1048576)))
		sr_how=$(ip netns exec "$NS_SRV" "$TMP/xdpdnsctl" --control "$TMP/xdpdns.sock" --json status | tr -d '\n ' |
			grep -o '"partial":[0-9]*' | head -1 | cut -d: -f2)
		ip netns exec "$NS_CLI" kdig +norec +timeout=1 +retry=0 @"$SRV_IP" tld. SOA | grep -q 2024010102 ||
			die "$server/$variant: the new serial is not served"
		referral_ok || die "$server/$variant: no correct referral after the serial reload"
	fi
	stop_pid "$pid"
	ROW[$server/$variant]=$(awk -v a="$t0" -v b="$ready" -v rss="$rss" -v ml="$ml" -v peak="$peak" -v pml="$peakml" -v rl="$rl_s" \
		-v sr="$sr_s" -v srp="$sr_peak" -v how="$sr_how" \
		'BEGIN { printf "%.2f %.0f %.0f %.0f %.0f %s %s %s %s", (b - a) / 1e6, rss / 1024, ml / 1048576, peak / 1024, pml / 1048576, rl, sr, srp, how }')
	log "$server/$variant: ${ROW[$server/$variant]} (s to XDP referral, RSS MiB, maps MiB, reload peak RSS MiB, peak maps MiB, reload s, serial reload s, its peak RSS + maps MiB, changes rendered alone)"
}

for v in unsigned signed; do
	zf=$TMP/tld.zone
	[ $v = signed ] && zf=$TMP/tld.signed
	run knot $v "$zf"
	run xdpdns $v "$zf"
	# The other timed starts, taking turns (before the image run's
	# reloads, which change the zone file).
	for ((i = 1; i < SCALE_STARTS; i++)); do
		ready_sample knot $v "$zf"
		ready_sample xdpdns-image $v "$zf"
	done
	run xdpdns-image $v "$zf"
done

col() { awk -v i="$2" '{ print $i }' <<<"${ROW[$1]}"; }
psum() { if [ "$1" = 0 ]; then echo -; else echo $(($1 + $2)); fi; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
{
	echo "<!-- scale-bench:begin -->"
	echo "## TLD scale beside Knot DNS: cold start, memory, reload (issue 11)"
	echo
	echo "Generated by \`bench/scale.sh\` (\`make bench\`); do not edit by hand."
	echo
	echo "- Date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); run took $(($(date +%s) - START_EPOCH)) s (signing ${SIGN_S} s)."
	echo "- Command: \`SCALE_DELEGATIONS=$SCALE_DELEGATIONS bench/scale.sh\` (as root)."
	echo "- Machine: $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), kernel $(uname -r), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)."
	echo "- Versions: xdpdns $(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo unknown) ($(go env GOVERSION)); $(knotd --version 2>&1 | head -1)."
	echo "- Zone: tld. with $SCALE_DELEGATIONS delegations (bench/cmd/genzone: 2 NS, 10% in-bailiwick glue, 20% DS); signed: \`dnssec-signzone -S -3 abcd -H 0 -A\` (ECDSAP256SHA256 KSK+ZSK, NSEC3 opt-out)."
	echo "- *Ready*: seconds from the process's start to the first correct referral for \`www.d7.tld. A\` (kdig from another namespace every 50 ms); for xdpdns also counted by the XDP program (\`answer.referral\`), so it is the XDP path that answered; for knot and for xdpdns from the image the median of $SCALE_STARTS starts (taking turns), for xdpdns from the zone file its one start. xdpdnsd: \`--xdp VETH:native\`; knotd: one zone, \`zonefile-load: whole\`, no journal."
	echo "- *xdpdns (zone file)*: a first start, no compiled image: the zone file is parsed and compiled, then the compiled zone image written (\`--zone-image\`); *xdpdns (image)*: the restart that loads that image (records and map image) instead."
	echo "- *RSS* (VmRSS) and *maps* (memlock of the BPF maps the process holds) 2 s after ready (for the first start, 2 s after the image was written); *reload peak*: VmHWM (reset before) and the highest RSS and memlock sampled every 50 ms over a reload of the same file, touched (\`xdpdnsctl reload\`, \`knotc -f zone-reload\`); for xdpdns measured in the restart from the image (a touch would make the first start's image stale). Ratios of xdpdns to its steady state are to the restart's."
	echo
	echo "- *Serial reload*: after that, a reload of the file with only the SOA serial changed (\`sed\`; the SOA's RRSIG kept), its time and peak RSS + maps; *rendered alone*: how many of the two reloads the daemon rendered and wrote alone (\`render.Recompile\`; \`xdpdnsctl status\`, partial), the others compiled whole."
	echo
	echo "| zone | server | ready (s) | RSS (MiB) | maps (MiB) | RSS + maps (MiB) | reload (s) | reload peak RSS + maps (MiB) | serial reload (s) | its peak RSS + maps (MiB) | rendered alone |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for v in unsigned signed; do
		for s in knot xdpdns xdpdns-image; do
			label=$s
			[ $s = xdpdns ] && label="xdpdns (zone file)"
			[ $s = xdpdns-image ] && label="xdpdns (image)"
			ready=$(col $s/$v 1)
			[ $s != xdpdns ] && ready=$(ready_of $s/$v)
			echo "| $v | $label | $ready | $(col $s/$v 2) | $(col $s/$v 3) | $(($(col $s/$v 2) + $(col $s/$v 3))) | $(col $s/$v 6) | $(psum "$(col $s/$v 4)" "$(col $s/$v 5)") | $(col $s/$v 7) | $(col $s/$v 8) | $(col $s/$v 9) |"
		done
	done
	echo
	echo "| zone | ready from the image / Knot (target ≤ 1) | ready from the zone file / Knot | memory (RSS + maps) from the image / Knot (target ≤ 1) | reload peak / steady state (target ≤ 1.5) | serial reload peak / steady state (target ≤ 1.5) |"
	echo "|---|---:|---:|---:|---:|---:|"
	for v in unsigned signed; do
		local_steady=$(($(col xdpdns-image/$v 2) + $(col xdpdns-image/$v 3)))
		echo "| $v | $(ratio "$(ready_of xdpdns-image/$v)" "$(ready_of knot/$v)") | $(ratio "$(col xdpdns/$v 1)" "$(ready_of knot/$v)") | $(ratio "$local_steady" "$(col knot/$v 2)") | $(ratio $(($(col xdpdns-image/$v 4) + $(col xdpdns-image/$v 5))) "$local_steady") | $(ratio "$(col xdpdns-image/$v 8)" "$local_steady") |"
	done
	echo "<!-- scale-bench:end -->"
} >"$TMP/section.md"
write_section "$SCALE_RESULTS" scale-bench "$TMP/section.md"
log "results: $SCALE_RESULTS"
cat "$TMP/section.md"
