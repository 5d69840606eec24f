package xdp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Shape of the generated TLD zone: the same as bench/cmd/genzone (and the
// userspace benchmark), so that figures compare.
const (
	Origin     = "tld."
	glueEvery  = 10  // one delegation in glueEvery has in-bailiwick glue
	dsEvery    = 5   // one delegation in dsEvery has a DS record
	providers  = 500 // out-of-zone name server operators
	ApexHosts  = 50  // hostK.nic.tld. A, answered authoritatively
	signTimout = 30 * time.Minute
)

// WriteZone writes the TLD zone with n delegations dK.tld. (K from 0 to
// n-1): two NS each, in-bailiwick name servers with A (and AAAA on ns1)
// glue for K%10 == 0, out-of-zone providers otherwise, a DS for K%5 == 0.
// bench/cmd/genzone writes its tld.zone with this too.
func WriteZone(w io.Writer, n int) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	fmt.Fprintf(bw, "$ORIGIN %s\n$TTL 86400\n", Origin)
	fmt.Fprintf(bw, "@ IN SOA ns1.nic.%s hostmaster.nic.%s 2024010101 7200 3600 1209600 3600\n", Origin, Origin)
	fmt.Fprintf(bw, "@ IN NS ns1.nic.%s\n@ IN NS ns2.nic.%s\n", Origin, Origin)
	fmt.Fprintf(bw, "ns1.nic IN A 192.0.2.1\nns1.nic IN AAAA 2001:db8::1\n")
	fmt.Fprintf(bw, "ns2.nic IN A 192.0.2.2\nns2.nic IN AAAA 2001:db8::2\n")
	for i := range ApexHosts {
		fmt.Fprintf(bw, "host%d.nic IN A 192.0.2.%d\n", i, 10+i)
	}
	for k := range n {
		name := fmt.Sprintf("d%d", k)
		if k%glueEvery == 0 {
			fmt.Fprintf(bw, "%s IN NS ns1.%s\n%s IN NS ns2.%s\n", name, name, name, name)
			fmt.Fprintf(bw, "ns1.%s IN A 198.51.%d.%d\n", name, (k/250)%256, 1+k%250)
			fmt.Fprintf(bw, "ns1.%s IN AAAA 2001:db8:%x:%x::1\n", name, k>>16, k&0xffff)
			fmt.Fprintf(bw, "ns2.%s IN A 203.0.%d.%d\n", name, (k/250)%256, 1+k%250)
		} else {
			p := k % providers
			fmt.Fprintf(bw, "%s IN NS ns1.prov%d.net.\n%s IN NS ns2.prov%d.net.\n", name, p, name, p)
		}
		if k%dsEvery == 0 {
			sum := sha256.Sum256([]byte(name + "." + Origin))
			fmt.Fprintf(bw, "%s IN DS %d 13 2 %s\n", name, 1000+k%60000, hex.EncodeToString(sum[:]))
		}
	}
	return bw.Flush()
}

// WriteZoneFile writes the zone with n delegations to dir/tld.zone and
// returns its path.
func WriteZoneFile(dir string, n int) (string, error) {
	path := filepath.Join(dir, "tld.zone")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := WriteZone(f, n); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}

// SignZone signs the zone file in (origin tld.) with BIND's
// dnssec-signzone: a KSK and a ZSK (ECDSAP256SHA256), NSEC3 with salt
// abcd, 0 iterations and opt-out (-3 abcd -H 0 -A), signatures valid for
// 30 years. It returns the signed file's path (in dir).
func SignZone(dir, in string) (string, error) {
	return signZone(dir, in, "keys", in+".signed", "-3", "abcd", "-H", "0", "-A")
}

// SignZoneNSEC is SignZone with NSEC denial (its own keys).
func SignZoneNSEC(dir, in string) (string, error) {
	return signZone(dir, in, "keys-nsec", in+".nsec")
}

// signZone signs in into out with keys made in dir/keydir and the denial
// arguments of dnssec-signzone.
func signZone(dir, in, keydir, out string, denial ...string) (string, error) {
	for _, tool := range []string{"dnssec-keygen", "dnssec-signzone"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Errorf("%s not found (Debian bind9-utils; make deps): %w", tool, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), signTimout)
	defer cancel()
	run := func(args ...string) error {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir = dir
		dieWithParent(cmd) // a benchmark killed mid-way takes its signer with it
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return nil
	}
	keys := filepath.Join(dir, keydir)
	if err := os.MkdirAll(keys, 0o755); err != nil {
		return "", err
	}
	if err := run("dnssec-keygen", "-q", "-a", "ECDSAP256SHA256", "-f", "KSK", "-K", keys, Origin); err != nil {
		return "", err
	}
	if err := run("dnssec-keygen", "-q", "-a", "ECDSAP256SHA256", "-K", keys, Origin); err != nil {
		return "", err
	}
	args := append([]string{"dnssec-signzone", "-q", "-S", "-K", keys, "-o", Origin, "-e", "+946080000"}, denial...)
	if err := run(append(args, "-f", out, in)...); err != nil {
		return "", err
	}
	return out, nil
}
