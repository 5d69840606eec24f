package main

import (
	"bytes"
	"strings"
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
