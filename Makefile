# xdpdns — build, run, test and benchmark.
#
#   make run     build and start xdpdnsd on the example zone (127.0.0.1:5353)
#   make test    install what the tests need, then run the whole suite
#   make bench   benchmarks against NSD and Knot DNS (bench/README.md)
#
# Every target that needs system packages installs them itself (Debian 12,
# as root, idempotent), so a fresh machine needs nothing but Go.

GO       ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
BIN      := bin
LISTEN   ?= 127.0.0.1:5353
# FUZZTIME: a count of executions per fuzz target, not a duration: with a
# wall-clock -fuzztime the Go 1.26 fuzz coordinator can fail a target with a
# bare "context deadline exceeded" when the budget ends (golang/go#75804,
# fixed in Go 1.27), which made make test fail on busy machines.
FUZZTIME ?= 300000x

# Debian packages: the reference servers and signers the differential
# tests start, the clients the tests and benchmarks drive.
TEST_PKGS  := nsd knot knot-dnsutils bind9 bind9-dnsutils bind9-utils ldnsutils unbound dnsperf iproute2 \
              clang llvm libbpf-dev clang-format-14 gobgpd bird2 procps git ca-certificates systemd ethtool dnstap-ldns
RUN_PKGS   := bind9-dnsutils
# make bench: the servers it measures (nsd, knot), kxdpgun and kdig
# (knot-dnsutils), dnsperf, the zone signer (bind9-utils), ip (iproute2),
# bpftool (XDP programs' run time), pgrep and sysctl (procps), gnuplot for
# the chart; for the build, git (go build stamps the version from the
# checkout) and ca-certificates (Go downloads modules over HTTPS).
BENCH_PKGS := nsd knot knot-dnsutils bind9-utils dnsperf iproute2 bpftool procps gnuplot-nox ethtool \
              git ca-certificates

.PHONY: all help man build run test deps deps-run deps-bench check fuzz bench bench-scale install clean

all: build

# help: the targets, from the comments above them.
help:
	@echo "make build        build bin/xdpdnsd and bin/xdpdnsctl"
	@echo "make run          build and start xdpdnsd on the example zone ($(LISTEN)), XDP generic on lo"
	@echo "make test         install the test packages (Debian 12, as root) and run the whole suite (<20 min)"
	@echo "make check        gofmt, go vet, the darwin build, clang-format, generated files up to date"
	@echo "make fuzz         a short bounded run of every fuzz target (FUZZTIME=$(FUZZTIME) executions each)"
	@echo "make bench        the namespace rig against NSD and Knot, then the XDP cost per answer class"
	@echo "make bench-scale  1M-delegation zones: compile, load, map memory (~9 GB of memory)"
	@echo "make install      binaries, systemd unit and configuration (PREFIX=$(PREFIX) SYSCONFDIR=$(SYSCONFDIR) DESTDIR=)"
	@echo "make man          rewrite docs/man/ from the flags, the commands and docs/CONFIG.md"
	@echo "make clean        remove bin/"

build:
	$(GO) build -o $(BIN)/ ./cmd/...

# deps installs packages only when one is missing. Package scripts must not
# start the system's own nsd/knot/unbound (they would take port 53 and the
# tests start their own), so a policy-rc.d that forbids starts is put in
# place for the duration of the install.
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		had_policy=0; [ -e /usr/sbin/policy-rc.d ] && had_policy=1 && cp /usr/sbin/policy-rc.d /tmp/xdpdns-policy-rc.d.bak; \
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; rc=$$?; \
		if [ $$had_policy = 1 ]; then mv /tmp/xdpdns-policy-rc.d.bak /usr/sbin/policy-rc.d; else rm -f /usr/sbin/policy-rc.d; fi; \
		exit $$rc; \
	fi
endef

deps:
	$(call apt_install,$(TEST_PKGS))

deps-run:
	$(call apt_install,$(RUN_PKGS))

deps-bench:
	$(call apt_install,$(BENCH_PKGS))

run: build deps-run
	@echo "xdpdnsd on $(LISTEN) serving examples/example.com.zone; try:"
	@echo "  dig @127.0.0.1 -p 5353 example.com SOA"
	@echo "  dig @127.0.0.1 -p 5353 www.example.com A        # CNAME chain"
	@echo "  dig @127.0.0.1 -p 5353 foo.apps.example.com A   # wildcard"
	@echo "  dig @127.0.0.1 -p 5353 host.sub.example.com A   # referral with glue"
	@echo "  dig @127.0.0.1 -p 5353 nope.example.com A       # NXDOMAIN"
	@echo "  dig @127.0.0.1 -p 5353 +nsid CH TXT id.server   # identity"
	@echo "The XDP program answers in generic mode on lo; see it count:"
	@echo "  $(BIN)/xdpdnsctl stats"
	@echo "  $(BIN)/xdpdnsctl status"
	@echo "Ctrl-C stops it (and detaches XDP); $(BIN)/xdpdnsctl reload reloads the zone."
	$(BIN)/xdpdnsd --zone example.com=examples/example.com.zone --listen $(LISTEN) \
		--xdp lo:generic --identity "$$(hostname)" --nsid "$$(hostname)"

# check: formatting and vet, failing on any finding; the committed bpf2go
# output must be what regenerating it gives; everything builds and vets
# for macOS too (XDP, the BGP speaker and wildcard listen addresses then
# refuse with "not supported on this platform").
check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=darwin GOARCH=arm64 $(GO) build ./...
	GOOS=darwin GOARCH=arm64 $(GO) vet ./...
	clang-format-14 --dry-run -Werror bpf/xdpdns.c bpf/include/*.h
	bpf/check-generated.sh

# fuzz: a short bounded run of every fuzz target (longer: FUZZTIME=10000000x).
fuzz:
	$(GO) test ./zonecompiler/wire -run '^$$' -fuzz '^FuzzParseQuery$$' -fuzztime $(FUZZTIME)
	$(GO) test ./zonecompiler/engine -run '^$$' -fuzz '^FuzzRespond$$' -fuzztime $(FUZZTIME)
	$(GO) test ./zonecompiler/render -run '^$$' -fuzz '^FuzzModel$$' -fuzztime $(FUZZTIME)
	$(GO) test ./zonecompiler/zone -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME)
	$(GO) test ./server -run '^$$' -fuzz '^FuzzTCPStream$$' -fuzztime $(FUZZTIME)

test: deps check
	$(GO) test -count=1 -timeout 15m ./...
	$(MAKE) --no-print-directory fuzz

# bench: the namespace rig (kxdpgun ladder and dnsperf over veth: xdpdns
# with XDP and without, NSD, Knot, Knot XDP, a bare reflector; ~11 min), then
# the XDP program's kernel-measured cost per answer class (~15 s at 100k
# delegations, ~10 min at 1M, one zone at a time), the TLD
# scale beside Knot (bench/scale.sh, ~5 min) and zone changes written in
# place at 1M delegations (xdpupdate, ~3 min unsigned, ~5 min signed with
# NSEC3 and again with NSEC: the zone signed by dnssec-signzone, DS records
# and delegations coming and going). The older
# loopback dnsperf run (bench/run.sh, ~7 min) stays available on its own.
# bench/fresh.sh runs it in a fresh Debian 12 chroot.
bench: deps-bench build
	bench/rig.sh
	$(GO) run ./bench/cmd/xdpbench -results bench/RESULTS.md
	$(GO) run ./bench/cmd/xdpbench -delegations 1000000 -each -rounds 5 -results bench/RESULTS.md
	bench/scale.sh
	$(GO) run ./bench/cmd/xdpupdate -delegations 1000000 -changes 0,100,1000,0 -results bench/RESULTS.md
	$(GO) run ./bench/cmd/xdpupdate -delegations 1000000 -changes 0,100,1000,0 -signed -results bench/RESULTS.md
	$(GO) run ./bench/cmd/xdpupdate -delegations 1000000 -changes 0,100,1000,0 -signed -nsec -results bench/RESULTS.md

# bench-scale: 1M-delegation zones (unsigned and NSEC3): compile and load
# time, map memory, XDP coverage of a TLD mix (needs ~9 GB of memory).
bench-scale: deps
	$(GO) run ./bench/cmd/xdpbench -scale -results bench/RESULTS.md

# install: the binaries to PREFIX/sbin, the systemd unit to
# PREFIX/lib/systemd/system (paths substituted), the example configuration
# and zone to SYSCONFDIR/xdpdns (never over an existing file), the docs to
# PREFIX/share/doc/xdpdns. DESTDIR is prepended to every path (packaging).
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
install: build
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/lib/systemd/system \
		$(DESTDIR)$(SYSCONFDIR)/xdpdns $(DESTDIR)$(PREFIX)/share/doc/xdpdns
	install -m 0755 $(BIN)/xdpdnsd $(BIN)/xdpdnsctl $(DESTDIR)$(PREFIX)/sbin/
	sed -e 's|@SBINDIR@|$(PREFIX)/sbin|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		-e 's|/usr/local/share/doc|$(PREFIX)/share/doc|g' examples/xdpdnsd.service \
		> $(DESTDIR)$(PREFIX)/lib/systemd/system/xdpdnsd.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/xdpdnsd.service
	[ -e $(DESTDIR)$(SYSCONFDIR)/xdpdns/xdpdnsd.conf ] || \
		install -m 0644 examples/xdpdnsd-systemd.conf $(DESTDIR)$(SYSCONFDIR)/xdpdns/xdpdnsd.conf
	[ -e $(DESTDIR)$(SYSCONFDIR)/xdpdns/example.com.zone ] || \
		install -m 0644 examples/example.com.zone $(DESTDIR)$(SYSCONFDIR)/xdpdns/example.com.zone
	install -m 0644 README.md docs/CONFIG.md docs/ARCHITECTURE.md docs/THREAT-MODEL.md $(DESTDIR)$(PREFIX)/share/doc/xdpdns/
	install -d $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 0644 docs/man/xdpdnsd.8 docs/man/xdpdnsctl.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 docs/man/xdpdnsd.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/

# man: the man pages are rendered from their sources by the tests of those
# packages; this rewrites them (the tests fail when they are stale).
man:
	UPDATE_MAN=1 $(GO) test -count=1 -run TestManPage ./cmd/... ./config

clean:
	rm -rf $(BIN)
