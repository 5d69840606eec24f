package control_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/daemon"
	"github.com/xdpdns/xdpdns/internal/testsupport"
	"github.com/xdpdns/xdpdns/internal/testsupport/daemontest"
	"github.com/xdpdns/xdpdns/zonecompiler/zone"
)

const netZone = `$ORIGIN example.net.
$TTL 3600
@   IN SOA ns1 hostmaster 7 7200 3600 1209600 300
@   IN NS  ns1
ns1 IN A   198.51.100.1
www IN A   198.51.100.10
`

// env is a real daemon serving example.com and example.net from files
// in a temporary directory, with its control socket there too.
type env struct {
	d        *daemon.Daemon
	dir      string
	com, net string // zone file paths
	sock     string
	c        *control.Client
}

// write writes text to path.
func write(t *testing.T, path, text string) {
	t.Helper()
	testsupport.WriteFile(t, filepath.Dir(path), filepath.Base(path), text)
}

// startEnv starts the daemon; the control socket goes in a directory
// that does not exist yet, to check that it is created.
func startEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{dir: dir, com: filepath.Join(dir, "com.zone"), net: filepath.Join(dir, "net.zone"), sock: filepath.Join(dir, "run", "ctl.sock")}
	write(t, e.com, testsupport.ExampleCom)
	write(t, e.net, netZone)
	cfg := testsupport.Config(t, e.sock, []zone.Spec{{Origin: "example.com", File: e.com}, {Origin: "example.net.", File: e.net}}, nil)
	d := daemontest.Start(t, cfg, nil)
	e.d = d
	e.c = &control.Client{Path: e.sock}
	return e
}

// exchange asks the daemon one question over UDP or TCP.
func (e *env) exchange(t *testing.T, name string, qtype uint16, network string) *dns.Msg {
	t.Helper()
	m := new(dns.Msg).SetQuestion(name, qtype)
	r, _, err := (&dns.Client{Net: network, Timeout: 5 * time.Second}).Exchange(m, e.d.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// addr returns the A record the daemon gives for name over UDP.
func (e *env) addr(t *testing.T, name string) string {
	t.Helper()
	r := e.exchange(t, name, dns.TypeA, "udp")
	if len(r.Answer) != 1 {
		t.Fatalf("%s: no answer: %v", name, r)
	}
	return r.Answer[0].(*dns.A).A.String()
}

// raw sends text on a fresh connection and returns the response line.
func raw(t *testing.T, sock string, text string) map[string]any {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if len(text) > 4096 {
		go c.Write([]byte(text)) // may fail once the server has answered and closed
	} else {
		// A write error is fine: the server may have answered already
		// (too many connections); the response is still there to read.
		c.Write([]byte(text))
		if !strings.HasSuffix(text, "\n") {
			c.(*net.UnixConn).CloseWrite()
		}
	}
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		t.Fatalf("reading the response to %.40q: %v", text, err)
	}
	var resp map[string]any
	if err := json.Unmarshal(line, &resp); err != nil {
		t.Fatalf("response %q: %v", line, err)
	}
	return resp
}

func TestReloadAllAndOne(t *testing.T) {
	e := startEnv(t)
	res, err := e.c.Reload("")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Zones) != 2 || res.Zones[0].Origin != "example.com." || res.Zones[0].Serial != 1 || res.Zones[0].File != e.com ||
		res.Zones[0].Records != 4 || res.Zones[1].Origin != "example.net." || res.Zones[1].Serial != 7 || res.Generation != nil {
		t.Fatalf("reload all: %+v", res)
	}
	before, err := e.c.Status()
	if err != nil {
		t.Fatal(err)
	}

	// Change both files, reload only example.com: example.net keeps its
	// old version.
	time.Sleep(10 * time.Millisecond) // so that load times differ
	write(t, e.com, strings.NewReplacer(" 1 7200", " 2 7200", "192.0.2.10", "192.0.2.20").Replace(testsupport.ExampleCom))
	write(t, e.net, strings.Replace(netZone, "198.51.100.10", "198.51.100.20", 1))
	res, err = e.c.Reload("EXAMPLE.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Zones) != 1 || res.Zones[0].Origin != "example.com." || res.Zones[0].Serial != 2 {
		t.Fatalf("reload example.com: %+v", res)
	}
	if got := e.addr(t, "www.example.com."); got != "192.0.2.20" {
		t.Errorf("example.com after its reload: %s", got)
	}
	if got := e.addr(t, "www.example.net."); got != "198.51.100.10" {
		t.Errorf("example.net after example.com's reload: %s, want the old 198.51.100.10", got)
	}
	after, err := e.c.Status()
	if err != nil {
		t.Fatal(err)
	}
	if after.Zones[0].Serial != 2 || !after.Zones[0].LoadedAt.After(before.Zones[0].LoadedAt) {
		t.Errorf("example.com status after reload: %+v (before %+v)", after.Zones[0], before.Zones[0])
	}
	if !after.Zones[1].LoadedAt.Equal(before.Zones[1].LoadedAt) {
		t.Errorf("example.net load time moved: %v -> %v", before.Zones[1].LoadedAt, after.Zones[1].LoadedAt)
	}

	if _, err := e.c.Reload("example.org"); err == nil || err.Error() != "zone example.org is not configured" {
		t.Errorf("reload of an unknown zone: %v", err)
	}
}

func TestReloadBrokenZoneKeepsServing(t *testing.T) {
	e := startEnv(t)
	if got := e.addr(t, "www.example.com."); got != "192.0.2.10" {
		t.Fatalf("before: %s", got)
	}
	write(t, e.com, strings.Replace(testsupport.ExampleCom, "192.0.2.10", "192.0.2.999", 1))
	for _, z := range []string{"example.com.", ""} {
		_, err := e.c.Reload(z)
		var ce *control.Error
		if !errors.As(err, &ce) || !strings.HasPrefix(ce.Msg, e.com+":6: ") {
			t.Fatalf("reload %q of a broken zone: %v, want %s:6: reason", z, err, e.com)
		}
		if got := e.addr(t, "www.example.com."); got != "192.0.2.10" {
			t.Errorf("after failed reload %q: %s, want the old 192.0.2.10", z, got)
		}
	}
	// A zone failing the checks (CNAME beside other data) is refused too.
	write(t, e.com, testsupport.ExampleCom+"www IN CNAME ns1\n")
	if _, err := e.c.Reload("example.com"); err == nil || !strings.HasPrefix(err.Error(), e.com+":7: ") {
		t.Fatalf("reload of a zone failing checks: %v", err)
	}
	if got := e.addr(t, "www.example.com."); got != "192.0.2.10" {
		t.Errorf("after failed reload: %s", got)
	}
	st, err := e.c.Status()
	if err != nil || st.Zones[0].Serial != 1 {
		t.Errorf("status after failed reloads: %+v %v", st, err)
	}
}

func TestStatus(t *testing.T) {
	e := startEnv(t)
	st, err := e.c.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Version == "" || st.Started.IsZero() || time.Since(st.Started) > time.Minute || st.UptimeSeconds < 0 {
		t.Errorf("version/uptime: %+v", st)
	}
	if len(st.Listen) != 1 || st.Listen[0] != e.d.Addrs()[0].String() {
		t.Errorf("listen %v, want %v", st.Listen, e.d.Addrs())
	}
	if st.XDP != nil {
		t.Errorf("xdp %+v with XDP off", st.XDP)
	}
	if len(st.Zones) != 2 {
		t.Fatalf("zones %+v", st.Zones)
	}
	z := st.Zones[1]
	if z.Origin != "example.net." || z.Serial != 7 || z.File != e.net || z.Records != 4 || z.Warnings != 0 || z.Signed || z.NSEC3 || z.LoadedAt.IsZero() {
		t.Errorf("example.net status %+v", z)
	}
	// The raw JSON has the documented field names, and no xdp key.
	resp := raw(t, e.sock, `{"cmd":"status"}`+"\n")
	res, _ := resp["result"].(map[string]any)
	if resp["ok"] != true || res == nil || res["version"] == nil || res["uptime_seconds"] == nil || res["zones"] == nil {
		t.Errorf("raw status %v", resp)
	}
	if _, ok := res["xdp"]; ok {
		t.Errorf("raw status has an xdp key with XDP off: %v", res)
	}
}

func TestStatsCount(t *testing.T) {
	e := startEnv(t)
	before, err := e.c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if before.XDP != nil || before.XDPError != "" {
		t.Errorf("xdp counters with XDP off: %+v", before)
	}
	for _, k := range []string{"answer", "nxdomain", "nodata", "referral", "refused", "error", "dropped"} {
		if _, ok := before.Queries["udp"][k]; !ok {
			t.Errorf("no udp %q counter: %v", k, before.Queries)
		}
	}
	e.addr(t, "www.example.com.")
	e.addr(t, "www.example.net.")
	if r := e.exchange(t, "nope.example.com.", dns.TypeA, "udp"); r.Rcode != dns.RcodeNameError {
		t.Fatalf("nope: %v", r)
	}
	if r := e.exchange(t, "www.example.org.", dns.TypeA, "udp"); r.Rcode != dns.RcodeRefused {
		t.Fatalf("out of zone: %v", r)
	}
	e.exchange(t, "www.example.com.", dns.TypeAAAA, "tcp")
	after, err := e.c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		transport, kind string
		delta           uint64
	}{{"udp", "answer", 2}, {"udp", "nxdomain", 1}, {"udp", "refused", 1}, {"tcp", "nodata", 1}, {"tcp", "answer", 0}, {"udp", "dropped", 0}} {
		if got := after.Queries[c.transport][c.kind] - before.Queries[c.transport][c.kind]; got != c.delta {
			t.Errorf("%s %s moved by %d, want %d", c.transport, c.kind, got, c.delta)
		}
	}
}

func TestGarbage(t *testing.T) {
	e := startEnv(t)
	for _, c := range []struct{ in, want string }{
		{"hello\n", "bad request"},
		{"\x00\xff\xfe\x01garbage\n", "bad request"},
		{"", "empty request"},
		{"\n", "bad request"},
		{`{"cmd":"frobnicate"}` + "\n", `unknown command "frobnicate"`},
		{`{"zone":"example.com"}` + "\n", `no "cmd"`},
		{`{"cmd":"status","zone":"example.com"}` + "\n", "status takes no zone"},
		{`{"cmd":"status","extra":1}` + "\n", "unknown field"},
		{`{"cmd":"status"} {"cmd":"stats"}` + "\n", "more than one JSON value"},
		{`{"cmd":["reload"]}` + "\n", "bad request"},
		{`{"cmd":"status"}`, ""}, // no newline, ended by EOF: fine
		{strings.Repeat("x", 70<<10), "request larger than 65536 bytes"},
		{strings.Repeat(" ", 64<<10+1) + "\n", "request larger than 65536 bytes"},
	} {
		resp := raw(t, e.sock, c.in)
		if c.want == "" {
			if resp["ok"] != true {
				t.Errorf("%.40q: %v", c.in, resp)
			}
			continue
		}
		msg, _ := resp["error"].(string)
		if resp["ok"] != false || !strings.Contains(msg, c.want) {
			t.Errorf("%.40q: %v, want an error with %q", c.in, resp, c.want)
		}
	}
	// Exactly the limit is accepted.
	pad := `{"cmd":"status"}`
	if resp := raw(t, e.sock, pad+strings.Repeat(" ", 64<<10-len(pad))+"\n"); resp["ok"] != true {
		t.Errorf("request of exactly 64 KiB: %v", resp)
	}
	// Still alive.
	if _, err := e.c.Status(); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentClients(t *testing.T) {
	e := startEnv(t)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				var err error
				switch (i + j) % 3 {
				case 0:
					// With 8 clients, more than the 4 reload slots may ask
					// at once: the refused ones try again later, as told.
					for try := 0; try < 100; try++ {
						if _, err = e.c.Reload(""); err == nil || !strings.Contains(err.Error(), "reloads are already waiting") {
							break
						}
						time.Sleep(10 * time.Millisecond)
					}
				case 1:
					_, err = e.c.Status()
				case 2:
					_, err = e.c.Stats()
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	// Queries keep being answered meanwhile.
	for i := 0; i < 20; i++ {
		e.addr(t, "www.example.com.")
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestLimits runs a control server with small limits over the real
// daemon: connections beyond MaxConns are refused, idle ones time out.
func TestLimits(t *testing.T) {
	e := startEnv(t)
	sock := filepath.Join(e.dir, "limits.sock")
	s, err := control.Listen(control.Config{Path: sock, MaxConns: 2, Timeout: 300 * time.Millisecond}, e.d.Handler())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var idle []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	time.Sleep(50 * time.Millisecond) // let the server take both
	if resp := raw(t, sock, `{"cmd":"status"}`+"\n"); resp["ok"] != false || !strings.Contains(resp["error"].(string), "too many") {
		t.Errorf("third connection: %v", resp)
	}
	var ce *control.Error
	if _, err := (&control.Client{Path: sock}).Status(); !errors.As(err, &ce) || !strings.Contains(ce.Msg, "too many") {
		t.Errorf("client over the limit: %v", err)
	}
	// The idle ones are told they timed out, which frees their slots.
	for _, c := range idle {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.Contains(line, "timed out reading the request") {
			t.Errorf("idle connection: %q %v", line, err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := (&control.Client{Path: sock}).Status(); err != nil {
		t.Errorf("after the idle connections went: %v", err)
	}
}

func TestSocketLifecycle(t *testing.T) {
	e := startEnv(t)
	fi, err := os.Lstat(e.sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	if di, err := os.Stat(filepath.Dir(e.sock)); err != nil || di.Mode().Perm() != 0o750 {
		t.Errorf("socket directory: %v %v, want 0750", di.Mode(), err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(e.sock)); len(ents) != 1 {
		t.Errorf("socket directory holds %v, want only the socket", ents)
	}
	// A second server on a live socket is refused and leaves it alone.
	if _, err := control.Listen(control.Config{Path: e.sock}, e.d.Handler()); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second server on a live socket: %v", err)
	}
	if _, err := e.c.Status(); err != nil {
		t.Fatalf("after the refused second server: %v", err)
	}

	if err := e.d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(e.sock); !os.IsNotExist(err) {
		t.Errorf("socket left after Close: %v", err)
	}
	if _, err := e.c.Status(); !errors.Is(err, control.ErrNotRunning) {
		t.Errorf("status with the daemon stopped: %v, want ErrNotRunning", err)
	}

	// A stale socket (its server gone without removing it) is replaced.
	stale := filepath.Join(e.dir, "stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	if _, err := (&control.Client{Path: stale}).Status(); !errors.Is(err, control.ErrNotRunning) {
		t.Errorf("status on a stale socket: %v, want ErrNotRunning", err)
	}
	s, err := control.Listen(control.Config{Path: stale}, e.d.Handler())
	if err != nil {
		t.Fatalf("over a stale socket: %v", err)
	}
	if _, err := (&control.Client{Path: stale}).Status(); err != nil {
		t.Errorf("status after replacing a stale socket: %v", err)
	}
	s.Close()
	s.Close() // twice is fine
	if _, err := os.Lstat(stale); !os.IsNotExist(err) {
		t.Errorf("socket left after Close: %v", err)
	}

	// A file that is not a socket is never removed.
	plain := filepath.Join(e.dir, "plain")
	write(t, plain, "keep me")
	if _, err := control.Listen(control.Config{Path: plain}, e.d.Handler()); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("over a regular file: %v", err)
	}
	if b, _ := os.ReadFile(plain); string(b) != "keep me" {
		t.Error("the regular file was touched")
	}
}

func TestStopOnContextCancel(t *testing.T) {
	cfg := testsupport.ExampleConfig(t, nil)
	d, err := daemon.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Lstat(cfg.Control); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("control socket still there after the context was cancelled")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
