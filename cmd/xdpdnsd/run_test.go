package main

import (
	"bufio"
	"bytes"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/internal/testsupport"
	"github.com/xdpdns/xdpdns/loader"
)

// syncBuffer is a buffer safe for the daemon's concurrent logging.
type syncBuffer = testsupport.LogBuffer

// runResult is the outcome of run in the background.
type runResult struct {
	code   int
	stderr *syncBuffer
}

// startRun runs the daemon in-process; it returns the address from the
// ready line, the signal channel and a channel with the result.
func startRun(t *testing.T, args ...string) (string, *syncBuffer, chan<- os.Signal, <-chan runResult) {
	t.Helper()
	pr, pw := io.Pipe()
	sigs := make(chan os.Signal, 1)
	res := make(chan runResult, 1)
	stderr := &syncBuffer{}
	go func() {
		code := run(args, pw, stderr, sigs)
		pw.Close()
		res <- runResult{code, stderr}
	}()
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(pr).ReadString('\n')
		lines <- line
		io.Copy(io.Discard, pr)
	}()
	select {
	case line := <-lines:
		const prefix = "xdpdnsd: serving 1 zones on "
		if !strings.HasPrefix(line, prefix) {
			t.Fatalf("ready line %q; stderr:\n%s", line, stderr)
		}
		return strings.TrimSpace(strings.TrimPrefix(line, prefix)), stderr, sigs, res
	case <-time.After(5 * time.Second):
		t.Fatalf("no ready line; stderr:\n%s", stderr)
	}
	return "", nil, nil, nil
}

// waitLog waits until the daemon's log contains text.
func waitLog(t *testing.T, log *syncBuffer, text string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(log.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("log never showed %q:\n%s", text, log)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// query asks addr one question over UDP.
func query(t *testing.T, addr, name string, qtype, class uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg).SetQuestion(name, qtype)
	m.Question[0].Qclass = class
	r, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(m, addr)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRunServesReloadsAndStops(t *testing.T) {
	dir := t.TempDir()
	testsupport.WriteFile(t, dir, "example.com.zone", testsupport.ExampleCom)
	conf := testsupport.WriteFile(t, dir, "xdpdnsd.conf", "listen 127.0.0.1:0\nzone example.com example.com.zone\nidentity from-file\n")
	ctl := filepath.Join(dir, "control.sock")
	addr, log, sigs, res := startRun(t, "-c", conf, "--identity", "from-flag", "--log-level", "debug", "--control", ctl)

	if r := query(t, addr, "www.example.com.", dns.TypeA, dns.ClassINET); len(r.Answer) != 1 {
		t.Fatalf("no answer: %v", r)
	}
	r := query(t, addr, "id.server.", dns.TypeTXT, dns.ClassCHAOS)
	if len(r.Answer) != 1 || r.Answer[0].(*dns.TXT).Txt[0] != "from-flag" {
		t.Errorf("id.server: %v, want the flag's identity", r.Answer)
	}

	// SIGHUP with a broken zone keeps the old one.
	testsupport.WriteFile(t, dir, "example.com.zone", strings.Replace(testsupport.ExampleCom, "192.0.2.10", "not-an-address", 1))
	sigs <- syscall.SIGHUP
	waitLog(t, log, "reload failed")
	if r := query(t, addr, "www.example.com.", dns.TypeA, dns.ClassINET); len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.10" {
		t.Fatalf("after a failed reload: %v", r)
	}
	// SIGHUP with a fixed zone takes the new one.
	testsupport.WriteFile(t, dir, "example.com.zone", strings.Replace(testsupport.ExampleCom, "192.0.2.10", "192.0.2.20", 1))
	sigs <- syscall.SIGHUP
	waitLog(t, log, "msg=reloaded")
	if r := query(t, addr, "www.example.com.", dns.TypeA, dns.ClassINET); len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.20" {
		t.Fatalf("after a reload: %v", r)
	}

	// The control socket reloads too.
	testsupport.WriteFile(t, dir, "example.com.zone", strings.Replace(testsupport.ExampleCom, "192.0.2.10", "192.0.2.30", 1))
	if _, err := (&control.Client{Path: ctl}).Reload("example.com"); err != nil {
		t.Fatalf("reload over the control socket: %v", err)
	}
	if r := query(t, addr, "www.example.com.", dns.TypeA, dns.ClassINET); len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.30" {
		t.Fatalf("after a control reload: %v", r)
	}

	start := time.Now()
	sigs <- syscall.SIGTERM
	select {
	case rr := <-res:
		if rr.code != 0 {
			t.Errorf("exit code %d; stderr:\n%s", rr.code, rr.stderr)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("stop took %v", took)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("daemon did not stop on SIGTERM")
	}
	if _, err := os.Lstat(ctl); !os.IsNotExist(err) {
		t.Errorf("control socket left after stop: %v", err)
	}
}

func TestRunWithoutControlSocket(t *testing.T) {
	dir := t.TempDir()
	zf := testsupport.WriteFile(t, dir, "example.com.zone", testsupport.ExampleCom)
	_, _, sigs, res := startRun(t, "--listen", "127.0.0.1:0", "--zone", "example.com="+zf, "--control", "")
	sigs <- syscall.SIGTERM
	if rr := <-res; rr.code != 0 || strings.Contains(rr.stderr.String(), "control socket") {
		t.Errorf("exit %d; stderr:\n%s", rr.code, rr.stderr)
	}
}

func TestRunStartupErrors(t *testing.T) {
	dir := t.TempDir()
	bad := testsupport.WriteFile(t, dir, "bad.zone", testsupport.ExampleCom+"www IN CNAME ns1\n")
	good := testsupport.WriteFile(t, dir, "good.zone", testsupport.ExampleCom)
	badConf := testsupport.WriteFile(t, dir, "bad.conf", "listen 127.0.0.1:0\n\nlisten-all yes\n")
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"zone fails checks", []string{"--listen", "127.0.0.1:0", "--zone", "example.com=" + bad}, exitError, bad + ":7: CNAME"},
		{"missing zone file", []string{"--listen", "127.0.0.1:0", "--zone", "example.com=" + filepath.Join(dir, "none")}, exitError, "no such file"},
		{"config unknown key", []string{"-c", badConf}, exitError, badConf + `:3: unknown key "listen-all"`},
		{"missing config", []string{"-c", filepath.Join(dir, "none.conf")}, exitError, "no such file"},
		{"bad zone flag", []string{"--zone", "example.com"}, exitUsage, "ORIGIN=FILE"},
		{"bad nsid", []string{"--nsid", "hex:xyz"}, exitUsage, "nsid"},
		{"bad listen", []string{"--listen", "localhost"}, exitUsage, "IP:PORT"},
		{"unknown flag", []string{"--frobnicate"}, exitUsage, "frobnicate"},
		{"stray argument", []string{"--zone", "example.com=" + good, "extra"}, exitUsage, "unexpected arguments"},
		{"bad log level", []string{"--log-level", "loud"}, exitUsage, "log-level"},
		{"duplicate zone", []string{"--zone", "example.com=" + good, "--zone", "EXAMPLE.com.=" + good}, exitError, "twice"},
		{"bad xdp mode", []string{"--xdp", "eth0:fast"}, exitUsage, "want native, generic or auto"},
		{"bad xdp iface", []string{"--xdp", "a/b"}, exitUsage, "bad interface name"},
		{"duplicate xdp", []string{"--xdp", "eth0", "--xdp", "eth0:native", "--control", ""}, exitError, "xdp interface eth0 given twice"},
		{"control not a socket", []string{"--listen", "127.0.0.1:0", "--zone", "example.com=" + good, "--control", good}, exitError, "is not a socket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			code := run(tc.args, &stdout, &stderr, nil)
			if code != tc.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.code, &stderr)
			}
			if !strings.Contains(stderr.String(), tc.msg) {
				t.Errorf("stderr lacks %q:\n%s", tc.msg, &stderr)
			}
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	var stdout, stderr syncBuffer
	if code := run([]string{"-h"}, &stdout, &stderr, nil); code != exitOK {
		t.Errorf("-h: exit %d", code)
	}
	if !strings.Contains(stderr.String(), "-axfr-allow") {
		t.Errorf("usage lacks flags:\n%s", &stderr)
	}
}

func TestFlagsOverrideFile(t *testing.T) {
	dir := t.TempDir()
	conf := testsupport.WriteFile(t, dir, "x.conf", "listen 127.0.0.1:53\nidentity file\naxfr-allow 10.0.0.0/8\nudp-size 1400\nzone a.example a.zone\n")
	o, err := parseFlags([]string{"-c", conf, "--listen", "[::1]:53", "--identity", "flag", "--axfr-allow", "192.0.2.1",
		"--hide-version", "--nsid", "hex:ff", "--zone", "b.example=/z/b", "--tcp-max-conns", "9",
		"--control", "/tmp/x.sock", "--xdp", "eth0:native", "--xdp", "eth1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c, err := buildConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Listen, []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:53"), netip.MustParseAddrPort("[::1]:53")}) || c.Identity != "flag" || len(c.AXFRAllow) != 2 ||
		c.UDPSize != 1400 || !c.HideVersion || !bytes.Equal(c.NSID, []byte{0xff}) || len(c.Zones) != 2 ||
		c.Zones[0].File != filepath.Join(dir, "a.zone") || c.Zones[1].File != "/z/b" || c.TCPMaxConns != 9 ||
		c.Control != "/tmp/x.sock" || !reflect.DeepEqual(c.XDP, []config.XDPAttach{{Iface: "eth0", Mode: loader.ModeNative}, {Iface: "eth1", Mode: loader.ModeAuto}}) {
		t.Errorf("merged config: %+v", c)
	}
	// Without any listen setting the default applies.
	o, _ = parseFlags(nil, io.Discard)
	if c, err = buildConfig(o); err != nil || !reflect.DeepEqual(c.Listen, []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:5353")}) {
		t.Errorf("default listen: %v %v", c.Listen, err)
	}
}
