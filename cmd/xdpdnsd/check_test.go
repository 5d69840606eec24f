package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"syscall"
	"testing"

	"github.com/xdpdns/xdpdns/internal/testsupport"
)

// TestCheckConfig runs --check-config on a good configuration, a broken
// zone and a broken configuration file: it starts nothing, reports what
// would be served, and names FILE:LINE on errors.
func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	testsupport.WriteFile(t, dir, "example.com.zone", testsupport.ExampleCom)
	good := testsupport.WriteFile(t, dir, "good.conf", "listen 127.0.0.1:53\nzone example.com example.com.zone\n")
	var out, errOut bytes.Buffer
	// Port 53 is not bound: nothing is started.
	if code := run([]string{"-c", good, "--check-config"}, &out, &errOut, nil); code != exitOK {
		t.Fatalf("good config: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"example.com.", "xdp: ", "configuration OK"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}

	bad := testsupport.WriteFile(t, dir, "bad.zone", strings.Replace(testsupport.ExampleCom, "192.0.2.10", "192.0.2.300", 1))
	badZone := testsupport.WriteFile(t, dir, "badzone.conf", "zone example.com bad.zone\n")
	out.Reset()
	errOut.Reset()
	if code := run([]string{"-c", badZone, "--check-config"}, &out, &errOut, nil); code != exitError || !strings.Contains(errOut.String(), bad+":") {
		t.Errorf("broken zone: exit %d, stderr %q; want 1 and %s:LINE", code, errOut.String(), bad)
	}

	badConf := testsupport.WriteFile(t, dir, "bad.conf", "zone example.com example.com.zone\nudp-size lots\n")
	errOut.Reset()
	if code := run([]string{"-c", badConf, "--check-config"}, &out, &errOut, nil); code != exitError || !strings.Contains(errOut.String(), badConf+":2:") {
		t.Errorf("broken config: exit %d, stderr %q; want 1 and %s:2:", code, errOut.String(), badConf)
	}
}

// TestCLIHabits: --version, nothing to serve, --log-format.
func TestCLIHabits(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"--version"}, &out, &errOut, nil); code != exitOK || !strings.HasPrefix(out.String(), "xdpdns") {
		t.Errorf("--version: exit %d, stdout %q", code, out.String())
	}
	out.Reset()
	if code := run(nil, &out, &errOut, nil); code != exitUsage || !strings.Contains(errOut.String(), "usage: xdpdnsd") || out.Len() != 0 {
		t.Errorf("no config, no zones: exit %d, stderr %q; want 2 and the usage", code, errOut.String())
	}
	errOut.Reset()
	if code := run([]string{"--log-format", "xml", "--zone", "example.com=x"}, &out, &errOut, nil); code != exitUsage || !strings.Contains(errOut.String(), "--log-format") {
		t.Errorf("bad --log-format: exit %d, stderr %q", code, errOut.String())
	}
	// JSON logs: every line an object with time, level and msg.
	dir := t.TempDir()
	testsupport.WriteFile(t, dir, "example.com.zone", testsupport.ExampleCom)
	_, log, sigs, res := startRun(t, "--zone", "example.com="+dir+"/example.com.zone", "--listen", "127.0.0.1:0", "--control", "", "--log-format", "json")
	sigs <- syscall.SIGHUP
	waitLog(t, log, `"msg":"reload"`)
	sigs <- syscall.SIGTERM
	<-res
	if !strings.Contains(log.String(), `"msg":"reload","zone":"all","serials":"example.com.=1","duration":`) ||
		!strings.Contains(log.String(), `"result":"ok"`) {
		t.Errorf("no structured reload line:\n%s", log.String())
	}
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil || m["msg"] == nil || m["level"] == nil || m["time"] == nil {
			t.Errorf("log line %q is not a JSON object with time, level and msg (%v)", l, err)
		}
	}
	if !strings.Contains(log.String(), `"msg":"zone loaded"`) || !strings.Contains(log.String(), `"zone":"example.com."`) {
		t.Errorf("JSON log lacks the zone load:\n%s", log.String())
	}
}

// TestDuplicateZoneNamesWhere: a zone given in the file and again on the
// command line is refused naming both places.
func TestDuplicateZoneNamesWhere(t *testing.T) {
	dir := t.TempDir()
	zf := testsupport.WriteFile(t, dir, "example.com.zone", testsupport.ExampleCom)
	conf := testsupport.WriteFile(t, dir, "x.conf", "listen 127.0.0.1:0\nzone example.com example.com.zone\n")
	var out, errOut bytes.Buffer
	code := run([]string{"-c", conf, "--zone", "example.com=" + zf, "--check-config"}, &out, &errOut, nil)
	if code != exitError || !strings.Contains(errOut.String(), conf+":2 and the command line") {
		t.Errorf("exit %d, stderr %q; want both places named", code, errOut.String())
	}
}
