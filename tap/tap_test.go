//go:build linux

package tap_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	"github.com/miekg/dns"
	"google.golang.org/protobuf/proto"

	"github.com/xdpdns/xdpdns/config"
	"github.com/xdpdns/xdpdns/internal/testsupport/daemontest"
	"github.com/xdpdns/xdpdns/loader"
)

// TestDnstapBothPaths runs a daemon writing dnstap to a file, with a real
// XDP hot path sampling every answer: one query answered in userspace
// (over UDP) and one through the XDP program (BPF_PROG_TEST_RUN) must each
// give an AUTH_QUERY and an AUTH_RESPONSE message with the client's
// address and port, the wire bytes, and the path that answered; the file
// is read back with golang-dnstap's reader and with Debian's dnstap-ldns.
func TestDnstapBothPaths(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tap.fstrm")
	d, _ := daemontest.StartExample(t, func(c *config.Config) { c.DnstapFile = file }, nil)
	hp := daemontest.HotPathWith(t, d, func(o *loader.Options) { o.TapSample, o.TapRate = 1, 1000 })
	if err := hp.Tap(d.Tap()); err != nil {
		t.Fatal(err)
	}
	// Userspace: a real UDP query.
	m := new(dns.Msg).SetQuestion("www.example.com.", dns.TypeA)
	if _, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(m, d.Addrs()[0].String()); err != nil {
		t.Fatal(err)
	}
	// XDP: a query through the program.
	q, err := new(dns.Msg).SetQuestion("example.com.", dns.TypeSOA).Pack()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hp.SelfTest(q); err != nil {
		t.Fatalf("self-test: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, _ := hp.Counters()
		if c["tap.sampled"] >= 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the reader hands the sample on
	if err := d.Close(); err != nil {  // flushes and closes the file
		t.Fatal(err)
	}

	in, err := dnstap.NewFrameStreamInputFromFilename(file)
	if err != nil {
		t.Fatal(err)
	}
	frames := make(chan []byte, 64)
	go func() { in.ReadInto(frames); close(frames) }()
	type seen struct{ query, response bool }
	paths := map[string]*seen{}
	for b := range frames {
		var dt dnstap.Dnstap
		if err := proto.Unmarshal(b, &dt); err != nil {
			t.Fatalf("a frame does not decode: %v", err)
		}
		path := strings.TrimPrefix(string(dt.GetExtra()), "path=")
		msg := dt.GetMessage()
		if paths[path] == nil {
			paths[path] = &seen{}
		}
		if len(msg.GetQueryAddress()) == 0 || msg.GetQueryPort() == 0 || msg.GetResponsePort() == 0 {
			t.Errorf("%s %s: addresses/ports missing: %v", path, msg.GetType(), msg)
		}
		var wire []byte
		switch msg.GetType() {
		case dnstap.Message_AUTH_QUERY:
			paths[path].query = true
			wire = msg.GetQueryMessage()
		case dnstap.Message_AUTH_RESPONSE:
			paths[path].response = true
			wire = msg.GetResponseMessage()
		}
		dm := new(dns.Msg)
		if err := dm.Unpack(wire); err != nil || len(dm.Question) != 1 {
			t.Errorf("%s %s: the wire bytes do not parse: %v", path, msg.GetType(), err)
		}
	}
	for _, p := range []string{"userspace", "xdp"} {
		if s := paths[p]; s == nil || !s.query || !s.response {
			t.Errorf("path %s: query and response messages %+v; all seen: %v", p, s, paths)
		}
	}
	if bin, err := exec.LookPath("dnstap-ldns"); err == nil {
		out, err := exec.Command(bin, "-r", file, "-y").CombinedOutput()
		text := string(out)
		if err != nil || strings.Count(text, "AUTH_RESPONSE") < 2 || !strings.Contains(text, "198.18.0.254") || !strings.Contains(text, "127.0.0.1") {
			t.Errorf("dnstap-ldns -r: %v; want both answers, the XDP client 198.18.0.254 and the userspace client 127.0.0.1:\n%s", err, text)
		}
	} else {
		t.Logf("dnstap-ldns not installed (make deps installs it): read with golang-dnstap only")
	}
}
