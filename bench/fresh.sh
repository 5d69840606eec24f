#!/usr/bin/env bash
# bench/fresh.sh — run `make bench` (or other make targets) the way a fresh
# Debian 12 machine would: in a chroot of a debootstrap'd Debian 12 minbase,
# from a fresh `git clone` of this repository, with nothing installed but Go
# (bind-mounted read-only from /usr/local/go, as the README asks) and make.
# Everything else — Debian packages, Go modules — is the Makefile's job, and
# a package it forgot shows up here. See bench/README.md ("Fresh machine").
#
#   bench/fresh.sh [--root DIR] [--copy-results] [--in-place] [--keep] [TARGET...]
#
# As root. By default the chroot is not modified: an overlay (the chroot as
# its lower layer, a new upper directory next to it) is mounted and
# everything a run installs, downloads or builds goes to the upper layer,
# which is removed at the end, so every run starts from the same minbase.
# RIG_* variables of the caller's environment are passed through to the run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FRESH_ROOT=${FRESH_ROOT:-/work/fresh-root}
FRESH_TIMEOUT=${FRESH_TIMEOUT:-2400} # bound on the whole run (s): packages, modules, build, bench
COPY=0
IN_PLACE=0
KEEP=0
TARGETS=()

usage() {
	cat >&2 <<-EOF
		usage: bench/fresh.sh [--root DIR] [--copy-results] [--in-place] [--keep] [TARGET...]
		  --root DIR       the Debian 12 minbase chroot (default \$FRESH_ROOT or /work/fresh-root)
		  --copy-results   copy bench/RESULTS.md and bench/rig-chart.png back to this repository on success
		  --in-place       run in the chroot itself (what the run installs stays there) instead of an overlay
		  --keep           keep the overlay's upper layer (the run's files) for inspection
		  TARGET...        make targets (default: bench)
		RIG_* variables are passed to the run; FRESH_TIMEOUT (s, default 2400) bounds it.
	EOF
	exit 2
}
while (($#)); do
	case $1 in
	--root) FRESH_ROOT=${2:?}; shift ;;
	--copy-results) COPY=1 ;;
	--in-place) IN_PLACE=1 ;;
	--keep) KEEP=1 ;;
	-h | --help) usage ;;
	-*) usage ;;
	*) TARGETS+=("$1") ;;
	esac
	shift
done
((${#TARGETS[@]})) || TARGETS=(bench)

START=$(date +%s)
log() { printf '[fresh %4ds] %s\n' "$(($(date +%s) - START))" "$*" >&2; }
die() { printf 'fresh: FAIL: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (mounts, chroot)"
[ -f "$FRESH_ROOT/etc/debian_version" ] || die "$FRESH_ROOT is not a Debian root (debootstrap --variant=minbase bookworm $FRESH_ROOT)"
[ -x /usr/local/go/bin/go ] || die "/usr/local/go/bin/go not found (the one thing the README asks a machine to have)"
command -v git >/dev/null || die "git not found on this machine (for the clone)"

FRESH_ROOT=$(cd "$FRESH_ROOT" && pwd)
WORK="" # overlay: upper, work and merged directories
M=""    # the root the run sees
MOUNTS=() # mount points, in mount order
CHILD=""
WATCHDOG=""
CLEANED=0

in_chroot_pids() { # processes whose root is the run's root
	local p r
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		[ "$r" = "$M" ] && echo "${p#/proc/}"
	done
	return 0
}

cleanup() {
	[ "$CLEANED" = 1 ] && return 0
	CLEANED=1
	set +e
	local i pids
	if [ -n "$WATCHDOG" ]; then kill "$WATCHDOG" 2>/dev/null || true; wait "$WATCHDOG" 2>/dev/null || true; fi
	if [ -n "$M" ]; then
		# Whatever still runs in the chroot (an interrupted run): TERM, so
		# that the rig's own cleanup removes its namespaces and XDP
		# programs, then KILL after 20 s.
		pids=$(in_chroot_pids)
		if [ -n "$pids" ]; then
			log "stopping what still runs in the chroot: $(tr '\n' ' ' <<<"$pids")"
			kill -TERM $pids 2>/dev/null || true
			for ((i = 0; i < 200; i++)); do
				[ -z "$(in_chroot_pids)" ] && break
				sleep 0.1
			done
			pids=$(in_chroot_pids)
			[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
			sleep 0.2
		fi
	fi
	[ -n "$CHILD" ] && wait "$CHILD" 2>/dev/null || true
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		umount -R "${MOUNTS[i]}" 2>/dev/null || umount -R -l "${MOUNTS[i]}" 2>/dev/null ||
			log "WARNING: cannot unmount ${MOUNTS[i]}"
	done
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		if findmnt -rn -o TARGET | grep -q "^$WORK"; then
			log "WARNING: mounts left under $WORK; not removing it"
		elif [ "$KEEP" = 1 ]; then
			log "kept the run's files in $WORK/upper"
		else
			rm -rf "$WORK"
		fi
	fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

mnt() { # mount args... target (last): mount and remember the target for cleanup
	local target=${*: -1}
	mount "$@" || die "mount $*"
	MOUNTS+=("$target")
}

# ---------------------------------------------------------------- the root

if [ "$IN_PLACE" = 1 ]; then
	M=$FRESH_ROOT
	log "running in $M itself (--in-place): what the run installs stays there"
else
	WORK=$(mktemp -d "$(dirname "$FRESH_ROOT")/xdpdns-fresh.XXXXXX")
	mkdir -p "$WORK/upper" "$WORK/work" "$WORK/merged"
	mnt -t overlay overlay -o "lowerdir=$FRESH_ROOT,upperdir=$WORK/upper,workdir=$WORK/work" "$WORK/merged"
	M=$WORK/merged
	log "overlay on $FRESH_ROOT at $M (the run's changes go to $WORK/upper)"
fi

# A fresh clone of this repository's committed HEAD (not the work tree).
SRC=$M/src/xdpdns
if [ -e "$SRC" ]; then
	[ "$IN_PLACE" = 1 ] || die "$SRC exists in the chroot"
	[ -d "$SRC/.git" ] || die "$SRC exists and is not a clone"
	rm -rf "$SRC"
fi
mkdir -p "$M/src"
git clone -q --no-hardlinks "$ROOT" "$SRC" || die "git clone $ROOT"
log "cloned $ROOT ($(git -C "$SRC" log -1 --format='%h %s' | cut -c1-80)) to /src/xdpdns"
if [ "$IN_PLACE" = 1 ]; then
	# A fresh machine has no Go module or build cache.
	rm -rf "$M/root/go" "$M/root/.cache/go-build"
fi

# What a running Debian 12 machine has mounted. /sys and /dev are bound
# recursively and made slaves, so nothing unmounted here leaves the host.
mnt -t proc proc "$M/proc"
mnt --rbind /sys "$M/sys"
mount --make-rslave "$M/sys"
if ! findmnt -rn "$M/sys/fs/bpf" >/dev/null; then
	mnt -t bpf bpf "$M/sys/fs/bpf"
fi
mnt --rbind /dev "$M/dev"
mount --make-rslave "$M/dev"
if ! findmnt -rn "$M/dev/pts" >/dev/null; then
	mnt -t devpts devpts "$M/dev/pts"
fi
# /run: a tmpfs, shared, as systemd has it (ip netns add keeps its
# namespaces under /run/netns).
mnt -t tmpfs -o mode=755 tmpfs "$M/run"
mount --make-shared "$M/run"
mkdir -p "$M/usr/local/go"
mnt --bind /usr/local/go "$M/usr/local/go"
mount -o remount,bind,ro "$M/usr/local/go" || die "cannot make $M/usr/local/go read-only"
[ -f "$M/etc/resolv.conf" ] && [ ! -L "$M/etc/resolv.conf" ] || { rm -f "$M/etc/resolv.conf"; : >"$M/etc/resolv.conf"; }
mnt --bind /etc/resolv.conf "$M/etc/resolv.conf"
# The machine's local CAs (in this workplace, the egress proxy's: without
# them Go cannot fetch modules over HTTPS), where Debian keeps a site's own
# CAs: installing ca-certificates (make deps-bench) adds them to the bundle.
if compgen -G '/usr/local/share/ca-certificates/*' >/dev/null; then
	mkdir -p "$M/usr/local/share/ca-certificates"
	cp -r /usr/local/share/ca-certificates/. "$M/usr/local/share/ca-certificates/"
fi

# ---------------------------------------------------------------- the run

# A clean environment, as a root login on the machine would have, plus the
# caller's RIG_* knobs.
ENVV=(HOME=/root PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	LANG=C.UTF-8 TERM="${TERM:-dumb}" DEBIAN_FRONTEND=noninteractive)
for v in $(compgen -e | grep '^RIG_' || true); do ENVV+=("$v=${!v}"); done

(
	trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
	sleep "$FRESH_TIMEOUT" &
	sleeper=$!
	wait "$sleeper"
	echo "fresh: FAIL: run exceeded FRESH_TIMEOUT=${FRESH_TIMEOUT}s" >&2
	kill -TERM $$
) &
WATCHDOG=$!

# make is the one tool needed to run make; a minbase chroot lacks it.
log "installing make (needed before make can install the rest)"
chroot "$M" /usr/bin/env -i "${ENVV[@]}" sh -c \
	'command -v make >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends make >/dev/null; }' ||
	die "cannot install make in the chroot"

log "running in the chroot: cd /src/xdpdns && make ${TARGETS[*]} ${ENVV[*]:5}"
t0=$(date +%s)
chroot "$M" /usr/bin/env -i "${ENVV[@]}" sh -c 'cd /src/xdpdns && exec make "$@"' make "${TARGETS[@]}" &
CHILD=$!
rc=0
wait "$CHILD" || rc=$?
CHILD=""
log "make ${TARGETS[*]} exited with $rc after $(($(date +%s) - t0)) s"
[ "$rc" = 0 ] || exit "$rc"

if [ "$COPY" = 1 ]; then
	for f in bench/RESULTS.md bench/rig-chart.png; do
		[ -f "$SRC/$f" ] || die "$f not produced by the run"
		cp "$SRC/$f" "$ROOT/$f"
		log "copied $f to $ROOT/$f"
	done
fi
