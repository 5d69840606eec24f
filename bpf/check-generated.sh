#!/bin/sh
# check-generated.sh: run `go generate ./bpf` in a temporary copy of the
# module and fail if its output differs from what is committed: the XDP
# object and its Go bindings (bpf2go: bpf/xdp_bpfel.o, bpf/xdp_bpfel.go) and
# the ABI (abigen: bpf/abi/abi_gen.go and the counter table in
# docs/CONFIG.md). Needs clang; run from anywhere.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
cp "$root/go.mod" "$root/go.sum" "$tmp/"
mkdir "$tmp/bpf"
mkdir "$tmp/docs"
cp -R "$root/bpf/." "$tmp/bpf/"
cp "$root/docs/CONFIG.md" "$tmp/docs/"
rm -f "$tmp/bpf/xdp_bpfel.o" "$tmp/bpf/xdp_bpfel.go" "$tmp/bpf/abi/abi_gen.go"
(cd "$tmp" && go generate ./bpf)
status=0
for f in bpf/xdp_bpfel.o bpf/xdp_bpfel.go bpf/abi/abi_gen.go docs/CONFIG.md; do
	if ! cmp -s "$root/$f" "$tmp/$f"; then
		echo "$f is out of date: run 'go generate ./bpf' and commit it" >&2
		status=1
	fi
done
exit $status
