# bench/lib.sh — shell functions shared by bench/run.sh and bench/rig.sh
# (sourced, not run): stopping a process tree and reading dnsperf output.

# descendants pid: the pid and all its descendants (NSD serves from a
# grandchild).
descendants() {
	local k
	echo "$1"
	for k in $(pgrep -P "$1" 2>/dev/null || true); do descendants "$k"; done
}

# stop_pid pid: TERM, 5 s grace, KILL; the process's descendants too.
stop_pid() {
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

# parse_dnsperf file: "qps lost lost% avg_ms stddev_ms rcodes" from
# dnsperf's summary; fails when the summary is missing (dnsperf exits 0
# even when every query was lost, so callers check the lost columns).
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

# percentiles file: "p50 p99 p99.9" in ms from dnsperf -v per-query lines
# ("> RCODE name type latency"); lost queries have no latency and are skipped.
percentiles() {
	awk '$1 == ">" && $NF ~ /^[0-9]+\.[0-9]+$/ { print $NF }' "$1" | sort -g |
		awk '{ v[NR] = $1 }
			function p(f,  i) { i = int(NR * f + 0.999999); if (i < 1) i = 1; return v[i] * 1000 }
			END { if (NR == 0) { print "- - -"; exit } printf "%.3f %.3f %.3f\n", p(0.5), p(0.99), p(0.999) }'
}

# knot_conf dir listen zone=file... : a knotd configuration with its run
# and storage directories in dir, listening on listen (ADDR@PORT), one
# worker of each kind, logging to stderr, loading each zone whole from its
# file with no journal; extra "server:" lines come from $KNOT_SERVER_EXTRA.
knot_conf() {
	local dir=$1 listen=$2 z
	shift 2
	mkdir -p "$dir/run" "$dir/storage"
	cat <<-EOF
		server:
		  rundir: "$dir/run"
		  listen: $listen
		  udp-workers: 1
		  tcp-workers: 1
		  background-workers: 1
		${KNOT_SERVER_EXTRA:-}
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
	for z in "$@"; do printf '  - domain: "%s"\n    file: "%s"\n' "${z%%=*}" "${z#*=}"; done
}
