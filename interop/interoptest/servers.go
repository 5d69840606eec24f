// Package interoptest is test support for the differential and
// resolver tests of package interop and for their users (e2e, the loader
// and render corpus tests): it prepares the test zones (signed with BIND's
// tools), builds an engine over them, and starts throw-away NSD, Knot DNS,
// xdpdns and Unbound instances on loopback that stop when the test ends.
// It imports testing; production code uses package interop only.
package interoptest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/interop"
)

// Bounds on waiting for servers.
const (
	readyTimeout = 20 * time.Second
	stopTimeout  = 5 * time.Second
	pollInterval = 50 * time.Millisecond
)

// requireBinary returns the path of a reference tool, or fails the test:
// the tools are Debian packages that `make deps` installs.
func requireBinary(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	t.Fatalf("%s not found: run `make deps` (installs nsd, knot, knot-dnsutils, bind9-utils, ldnsutils, unbound)", name)
	return ""
}

// freePort returns a loopback port free for both UDP and TCP at the time of
// the call.
func freePort() (int, error) {
	var lastErr error
	for range 50 {
		tl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("listen tcp: %w", err)
		}
		port := tl.Addr().(*net.TCPAddr).Port
		ul, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		tl.Close()
		if err != nil {
			lastErr = err
			continue
		}
		ul.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no free loopback port: %w", lastErr)
}

// startProcess runs bin in the foreground in its own process group, with
// output to logPath, and stops it (SIGTERM, then SIGKILL to the group) at
// the end of the test. The returned channel is closed when it exits.
func startProcess(t testing.TB, logPath, bin string, args ...string) <-chan struct{} {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("create log: %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", bin, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	t.Cleanup(func() {
		pgid := cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(stopTimeout):
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-done
		}
		// Children that outlived their parent (NSD's xfrd, servers).
		syscall.Kill(-pgid, syscall.SIGKILL)
	})
	return done
}

// LogTail returns the last lines of a log file for error messages.
func LogTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return strings.TrimSpace(string(b))
}

// soaProbe reports whether s answers every zone's SOA authoritatively.
func soaProbe(zones []interop.Zone) func(ctx context.Context, addr string) error {
	return func(ctx context.Context, addr string) error {
		c := &dns.Client{Net: "udp", Timeout: 300 * time.Millisecond}
		for _, z := range zones {
			q := new(dns.Msg)
			q.SetQuestion(z.Origin, dns.TypeSOA)
			r, _, err := c.ExchangeContext(ctx, q, addr)
			if err != nil {
				return err
			}
			if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) == 0 {
				return fmt.Errorf("%s SOA: %s, aa=%v, %d answers", z.Origin, dns.RcodeToString[r.Rcode], r.Authoritative, len(r.Answer))
			}
		}
		return nil
	}
}

// waitReady polls probe until it succeeds, the process exits, or
// readyTimeout passes.
func waitReady(s *interop.Server, done <-chan struct{}, probe func(ctx context.Context, addr string) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	for {
		err := probe(ctx, s.Addr)
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited before it was ready (%v):\n%s", s.Name, err, LogTail(s.Log))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %v (last: %v):\n%s", s.Name, readyTimeout, err, LogTail(s.Log))
		case <-time.After(pollInterval):
		}
	}
}

// launch picks a port and starts a server whose command line is made by
// args(port); it returns once probe succeeds against it.
func launch(t testing.TB, name, bin string, probe func(ctx context.Context, addr string) error, args func(port int) []string) *interop.Server {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &interop.Server{
		Name: name,
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Log:  filepath.Join(t.TempDir(), name+".log"),
	}
	done := startProcess(t, s.Log, bin, args(port)...)
	if err := waitReady(s, done, probe); err != nil {
		t.Fatal(err)
	}
	return s
}

// StartNSD runs NSD (nsd -d) serving zones.
func StartNSD(t testing.TB, zones []interop.Zone) *interop.Server {
	t.Helper()
	bin := requireBinary(t, "nsd")
	check := requireBinary(t, "nsd-checkconf")
	dir := t.TempDir()
	conf := filepath.Join(dir, "nsd.conf")
	return launch(t, "nsd", bin, soaProbe(zones), func(port int) []string {
		var b strings.Builder
		fmt.Fprintf(&b, "server:\n")
		fmt.Fprintf(&b, "  ip-address: 127.0.0.1@%d\n  port: %d\n", port, port)
		fmt.Fprintf(&b, "  do-ip6: no\n  username: \"\"\n  chroot: \"\"\n")
		fmt.Fprintf(&b, "  zonesdir: %q\n  database: \"\"\n", dir)
		fmt.Fprintf(&b, "  pidfile: %q\n", filepath.Join(dir, "nsd.pid"))
		fmt.Fprintf(&b, "  xfrdfile: %q\n", filepath.Join(dir, "xfrd.state"))
		fmt.Fprintf(&b, "  xfrdir: %q\n", dir)
		fmt.Fprintf(&b, "  zonelistfile: %q\n", filepath.Join(dir, "zone.list"))
		fmt.Fprintf(&b, "  server-count: 1\n  verbosity: 1\n")
		fmt.Fprintf(&b, "  identity: %q\n  nsid: \"ascii_%s\"\n", interop.Identity, interop.NSID)
		fmt.Fprintf(&b, "  hide-version: yes\n")
		fmt.Fprintf(&b, "  rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\n")
		fmt.Fprintf(&b, "remote-control:\n  control-enable: no\n")
		for _, z := range zones {
			fmt.Fprintf(&b, "zone:\n  name: %q\n  zonefile: %q\n", z.Origin, z.Path)
		}
		if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
			t.Fatalf("write nsd.conf: %v", err)
		}
		if out, err := runCheck(check, conf); err != nil {
			t.Fatalf("nsd-checkconf %s: %v\n%s\n%s", conf, err, out, b.String())
		}
		return []string{"-d", "-c", conf}
	})
}

// StartKnot runs knotd in the foreground serving zones, unsigned by Knot
// itself (the zone files are served as signed by the test set-up).
func StartKnot(t testing.TB, zones []interop.Zone) *interop.Server {
	t.Helper()
	return StartKnotWith(t, zones, KnotOptions{})
}

// KnotOptions make knotd a hidden primary: zone changes computed from the
// zone file (zonefile-load: difference-no-serial, the serial bumped by
// Knot) and kept in its journal (journal-content: all) for IXFR, NOTIFY sent to NotifyTo,
// transfers allowed from loopback, with Key when set.
type KnotOptions struct {
	Primary  bool
	NotifyTo netip.AddrPort
	// Key is a TSIG key as knot.conf takes it: name, algorithm, secret.
	KeyName, KeyAlgorithm, KeySecret string
	// Sign: Knot signs the zones itself (dnssec-signing, its default
	// policy: ECDSAP256SHA256 keys it makes, NSEC), and signs every
	// change again incrementally, as a TLD's signer does.
	Sign bool
	// NSEC3 (with Sign): NSEC3 instead of NSEC, no extra iterations, no
	// salt (RFC 9276); OptOut: with opt-out.
	NSEC3, OptOut bool
}

// onOff is a knot.conf switch.
func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// StartKnotWith is StartKnot with opts.
func StartKnotWith(t testing.TB, zones []interop.Zone, opts KnotOptions) *interop.Server {
	t.Helper()
	bin := requireBinary(t, "knotd")
	dir := t.TempDir()
	conf := filepath.Join(dir, "knot.conf")
	srv := launch(t, "knot", bin, soaProbe(zones), func(port int) []string {
		var b strings.Builder
		fmt.Fprintf(&b, "server:\n")
		fmt.Fprintf(&b, "  listen: 127.0.0.1@%d\n", port)
		fmt.Fprintf(&b, "  rundir: %q\n", dir)
		fmt.Fprintf(&b, "  identity: %q\n  nsid: %q\n  version: \"\"\n", interop.Identity, interop.NSID)
		fmt.Fprintf(&b, "  background-workers: 1\n  udp-workers: 1\n  tcp-workers: 1\n")
		fmt.Fprintf(&b, "control:\n  listen: %q\n", filepath.Join(dir, "knot.sock"))
		fmt.Fprintf(&b, "database:\n  storage: %q\n", dir)
		fmt.Fprintf(&b, "log:\n  - target: stderr\n    any: info\n")
		keyRef := ""
		if opts.KeyName != "" {
			fmt.Fprintf(&b, "key:\n  - id: %s\n    algorithm: %s\n    secret: %s\n", opts.KeyName, opts.KeyAlgorithm, opts.KeySecret)
			keyRef = "    key: " + opts.KeyName + "\n"
		}
		if opts.Primary {
			fmt.Fprintf(&b, "acl:\n  - id: xfr\n    address: 127.0.0.0/8\n    action: transfer\n%s", keyRef)
			if opts.NotifyTo.IsValid() {
				fmt.Fprintf(&b, "remote:\n  - id: secondary\n    address: %s@%d\n%s", opts.NotifyTo.Addr(), opts.NotifyTo.Port(), keyRef)
			}
		}
		if opts.Sign && opts.NSEC3 {
			fmt.Fprintf(&b, "policy:\n  - id: signer\n    nsec3: on\n    nsec3-iterations: 0\n    nsec3-salt-length: 0\n    nsec3-opt-out: %s\n",
				onOff(opts.OptOut))
		}
		fmt.Fprintf(&b, "template:\n  - id: default\n    storage: %q\n", dir)
		if opts.Sign && opts.NSEC3 {
			fmt.Fprintf(&b, "    dnssec-policy: signer\n")
		}
		if opts.Primary {
			fmt.Fprintf(&b, "    zonefile-load: difference-no-serial\n    zonefile-sync: -1\n    journal-content: all\n")
			fmt.Fprintf(&b, "    acl: xfr\n")
			if opts.NotifyTo.IsValid() {
				fmt.Fprintf(&b, "    notify: secondary\n")
			}
		} else {
			fmt.Fprintf(&b, "    zonefile-load: whole\n    zonefile-sync: -1\n    journal-content: none\n")
		}
		fmt.Fprintf(&b, "    dnssec-signing: %s\n    semantic-checks: off\n", onOff(opts.Sign))
		fmt.Fprintf(&b, "zone:\n")
		for _, z := range zones {
			fmt.Fprintf(&b, "  - domain: %q\n    file: %q\n", z.Origin, z.Path)
		}
		if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
			t.Fatalf("write knot.conf: %v", err)
		}
		return []string{"-c", conf}
	})
	srv.Control = filepath.Join(dir, "knot.sock")
	return srv
}

// StartXdpdns runs the xdpdnsd binary built by BuildXdpdns.
func StartXdpdns(t testing.TB, bin string, zones []interop.Zone, extra ...string) *interop.Server {
	t.Helper()
	return launch(t, "xdpdns", bin, soaProbe(zones), func(port int) []string {
		args := append([]string{}, extra...)
		args = append(args, []string{
			"--listen", fmt.Sprintf("127.0.0.1:%d", port),
			"--control", "", // no control socket: tests run several daemons at once
			"--identity", interop.Identity,
			"--nsid", interop.NSID,
		}...)
		for _, z := range zones {
			args = append(args, "--zone", z.Origin+"="+z.Path)
		}
		return args
	})
}

// BINDOptions make named (BIND 9) a primary of its zones: changes to a
// zone file, reloaded with Reload, are turned into IXFR deltas
// (ixfr-from-differences) and announced by NOTIFY to NotifyTo; transfers
// are allowed to Key only.
type BINDOptions struct {
	NotifyTo netip.AddrPort
	// Key is a TSIG key as named.conf takes it: name, algorithm, secret.
	KeyName, KeyAlgorithm, KeySecret string
}

// BIND is a running named with its rndc control channel.
type BIND struct {
	*interop.Server
	rndc, rndcConf string
	zones          []interop.Zone
}

// Reload makes named read its zone files again (rndc reload), which
// sends NOTIFY for the changed ones.
func (b *BIND) Reload(t testing.TB) {
	t.Helper()
	if out, err := runCheck(b.rndc, "-c", b.rndcConf, "reload"); err != nil {
		t.Fatalf("rndc reload: %v\n%s", err, out)
	}
}

// StartBINDPrimary runs named in the foreground as the primary of zones.
func StartBINDPrimary(t testing.TB, zones []interop.Zone, opts BINDOptions) *BIND {
	t.Helper()
	bin := requireBinary(t, "named")
	rndc := requireBinary(t, "rndc")
	check := requireBinary(t, "named-checkconf")
	dir := t.TempDir()
	conf := filepath.Join(dir, "named.conf")
	rndcConf := filepath.Join(dir, "rndc.conf")
	ctlPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	const rndcSecret = "8gmhS1cNcBcRTBWiH0/M0cY9Xf7D1cnEmCmfQ2yTXf0="
	rc := fmt.Sprintf("key \"rndc-key\" { algorithm hmac-sha256; secret %q; };\n"+
		"options { default-key \"rndc-key\"; default-server 127.0.0.1; default-port %d; };\n", rndcSecret, ctlPort)
	if err := os.WriteFile(rndcConf, []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := launch(t, "bind", bin, soaProbe(zones), func(port int) []string {
		var b strings.Builder
		fmt.Fprintf(&b, "key \"rndc-key\" { algorithm hmac-sha256; secret %q; };\n", rndcSecret)
		fmt.Fprintf(&b, "controls { inet 127.0.0.1 port %d allow { 127.0.0.1; } keys { \"rndc-key\"; }; };\n", ctlPort)
		allow := "127.0.0.0/8;"
		if opts.KeyName != "" {
			fmt.Fprintf(&b, "key %q { algorithm %s; secret %q; };\n", opts.KeyName, opts.KeyAlgorithm, opts.KeySecret)
			allow = fmt.Sprintf("key %q;", opts.KeyName)
		}
		fmt.Fprintf(&b, "options {\n  directory %q;\n  pid-file %q;\n  session-keyfile %q;\n", dir, filepath.Join(dir, "named.pid"), filepath.Join(dir, "session.key"))
		fmt.Fprintf(&b, "  managed-keys-directory %q;\n", dir)
		fmt.Fprintf(&b, "  listen-on port %d { 127.0.0.1; };\n  listen-on-v6 { none; };\n", port)
		fmt.Fprintf(&b, "  recursion no;\n  dnssec-validation no;\n  notify explicit;\n  notify-delay 0;\n  allow-transfer { %s };\n", allow)
		if opts.NotifyTo.IsValid() {
			fmt.Fprintf(&b, "  also-notify { %s port %d", opts.NotifyTo.Addr(), opts.NotifyTo.Port())
			if opts.KeyName != "" {
				fmt.Fprintf(&b, " key %q", opts.KeyName)
			}
			fmt.Fprintf(&b, "; };\n")
		}
		fmt.Fprintf(&b, "};\n")
		for _, z := range zones {
			fmt.Fprintf(&b, "zone %q { type primary; file %q; ixfr-from-differences yes; max-ixfr-ratio unlimited; };\n", z.Origin, z.Path)
		}
		if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
			t.Fatalf("write named.conf: %v", err)
		}
		if out, err := runCheck(check, conf); err != nil {
			t.Fatalf("named-checkconf %s: %v\n%s\n%s", conf, err, out, b.String())
		}
		return []string{"-g", "-c", conf}
	})
	return &BIND{Server: srv, rndc: rndc, rndcConf: rndcConf, zones: zones}
}
