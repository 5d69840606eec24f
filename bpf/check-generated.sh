#!/bin/sh
# check-generated.sh: regenerate the XDP object and its Go bindings in a
# temporary copy of the module and fail if they differ from the committed
# bpf/xdp_bpfel.o and bpf/xdp_bpfel.go (needs clang; run from anywhere).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
cp "$root/go.mod" "$root/go.sum" "$tmp/"
mkdir "$tmp/bpf"
cp -R "$root/bpf/." "$tmp/bpf/"
rm -f "$tmp/bpf/xdp_bpfel.o" "$tmp/bpf/xdp_bpfel.go"
(cd "$tmp" && go generate ./bpf)
status=0
for f in xdp_bpfel.o xdp_bpfel.go; do
	if ! cmp -s "$root/bpf/$f" "$tmp/bpf/$f"; then
		echo "bpf/$f is out of date: run 'go generate ./bpf' and commit it" >&2
		status=1
	fi
done
exit $status
