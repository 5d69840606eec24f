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
# file with no journal. $KNOT_SECTIONS holds extra top-level sections (xdp,
# modules), $KNOT_TEMPLATE_EXTRA extra lines of the default template.
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
	EOF
	[ -n "${KNOT_SECTIONS:-}" ] && printf '%s\n' "$KNOT_SECTIONS"
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
	EOF
	[ -n "${KNOT_TEMPLATE_EXTRA:-}" ] && printf '%s\n' "$KNOT_TEMPLATE_EXTRA"
	echo "zone:"
	for z in "$@"; do printf '  - domain: "%s"\n    file: "%s"\n' "${z%%=*}" "${z#*=}"; done
}

# veth_pair ns_srv ns_cli if_srv if_cli srv_ip cli_ip: two new network
# namespaces joined by a veth pair, addressed (/24) and up, the client's
# transmit checksum offload off so that its datagrams leave with complete
# UDP checksums, as a real client's do (behind a veth a local socket leaves
# only the partial sum, and the XDP program verifies checksums).
veth_pair() {
	local ns_srv=$1 ns_cli=$2 if_srv=$3 if_cli=$4 srv_ip=$5 cli_ip=$6 ns ifc e
	ip netns add "$ns_srv"
	ip netns add "$ns_cli"
	ip -n "$ns_srv" link add "$if_srv" type veth peer name "$if_cli" netns "$ns_cli"
	ip -n "$ns_srv" addr add "$srv_ip/24" dev "$if_srv"
	ip -n "$ns_cli" addr add "$cli_ip/24" dev "$if_cli"
	for e in "$ns_srv $if_srv" "$ns_cli $if_cli"; do
		read -r ns ifc <<<"$e"
		ip -n "$ns" link set lo up
		ip -n "$ns" link set "$ifc" up
	done
	ip netns exec "$ns_cli" ethtool -K "$if_cli" tx off >/dev/null
}

# write_section file tag section: replace the <!-- TAG:begin --> ... <!--
# TAG:end --> section of the results file with the file section (which
# holds the whole delimited section), keeping everything else; append it
# when the file has none (creating the file).
write_section() {
	local file=$1 tag=$2 sec=$3 tmp=$3.new
	if [ -f "$file" ] && grep -q "^<!-- $tag:begin -->" "$file"; then
		awk -v sec="$sec" -v b="<!-- $tag:begin -->" -v e="<!-- $tag:end -->" '
			index($0, b) == 1 { while ((getline l < sec) > 0) print l; skip = 1; next }
			index($0, e) == 1 { skip = 0; next }
			!skip' "$file" >"$tmp"
	else
		{
			if [ -f "$file" ]; then cat "$file"; echo; else printf '# xdpdns benchmark results\n\n'; fi
			cat "$sec"
		} >"$tmp"
	fi
	cat "$tmp" >"$file"
	rm -f "$tmp"
}

# xdp_off NS IFACE: detach whatever netlink-attached XDP program is left
# on IFACE in namespace NS (Knot's, kxdpgun's, ours), native or generic.
xdp_off() {
	ip -n "$1" link set dev "$2" xdp off 2>/dev/null || true
	ip -n "$1" link set dev "$2" xdpgeneric off 2>/dev/null || true
}

# teardown_netns NS_SRV IF_SRV NS_CLI IF_CLI: kill what still runs in the
# two namespaces, detach XDP from their interfaces and delete them (the
# end of every bench script that made a veth pair between them).
teardown_netns() {
	local ns pid
	for ns in "$1" "$3"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null || true); do kill -KILL "$pid" 2>/dev/null || true; done
	done
	xdp_off "$1" "$2"
	xdp_off "$3" "$4"
	ip netns delete "$1" 2>/dev/null || true
	ip netns delete "$3" 2>/dev/null || true
}
