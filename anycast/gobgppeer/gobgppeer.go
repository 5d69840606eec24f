//go:build linux

// Package gobgppeer runs gobgpd as a passive BGP peer inside a network
// namespace, for the tests of the BGP speaker (anycast/) and of the daemon
// that drives it (daemon/): write its configuration, start and kill it,
// and ask it through the gobgp CLI. It is test support; nothing in the
// server imports it.
package gobgppeer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// APIPort is gobgpd's gRPC port, on the peer namespace's loopback.
const APIPort = "50051"

// Config is one gobgpd with one passive neighbour (IPv4 and IPv6 unicast,
// hold time 9 s, keepalive 3 s).
type Config struct {
	NS       string     // network namespace gobgpd runs in
	Dir      string     // where its configuration and log go
	ASN      uint32     // gobgpd's AS
	Addr     netip.Addr // gobgpd's address (also its router ID)
	Neighbor netip.Addr // the speaker under test
	PeerASN  uint32     // the speaker's AS
}

// Peer is a configured gobgpd, running or not.
type Peer struct {
	ns, conf string
	LogFile  string
	cmd      *exec.Cmd
	exited   chan struct{}
}

// New writes the configuration; Start runs gobgpd.
func New(c Config) (*Peer, error) {
	p := &Peer{ns: c.NS, conf: filepath.Join(c.Dir, "gobgpd.toml"), LogFile: filepath.Join(c.Dir, "gobgpd.log")}
	text := fmt.Sprintf(`[global.config]
  as = %d
  router-id = "%s"
  port = 179
  local-address-list = ["%s"]

[[neighbors]]
  [neighbors.config]
    neighbor-address = "%s"
    peer-as = %d
  [neighbors.transport.config]
    passive-mode = true
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
`, c.ASN, c.Addr, c.Addr, c.Neighbor, c.PeerASN)
	if err := os.WriteFile(p.conf, []byte(text), 0o644); err != nil {
		return nil, fmt.Errorf("gobgppeer: %w", err)
	}
	return p, nil
}

// Start runs gobgpd (its output appended to LogFile) and waits up to
// timeout for its API to answer.
func (p *Peer) Start(timeout time.Duration) error {
	lf, err := os.OpenFile(p.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("gobgppeer: %w", err)
	}
	cmd := exec.Command("ip", "netns", "exec", p.ns, "gobgpd", "-f", p.conf, "-t", "toml",
		"--api-hosts", "127.0.0.1:"+APIPort, "--pprof-disable", "-p")
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return fmt.Errorf("gobgppeer: start gobgpd: %w", err)
	}
	p.cmd, p.exited = cmd, make(chan struct{})
	go func() { cmd.Wait(); lf.Close(); close(p.exited) }()
	deadline := time.Now().Add(timeout)
	for {
		out, err := p.CLI("global")
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gobgppeer: gobgpd API not up after %v: %v: %s\nlog tail:\n%s", timeout, err, out, p.LogTail(3000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill stops gobgpd at once (a crash, as far as BGP is concerned) and
// waits up to 5 s for it to exit. Killing a peer not running is a no-op.
func (p *Peer) Kill() error {
	if p.cmd == nil {
		return nil
	}
	p.cmd.Process.Kill()
	p.cmd = nil
	select {
	case <-p.exited:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("gobgppeer: gobgpd did not exit")
	}
}

// CLI runs gobgp against the peer's API and returns its combined output.
func (p *Peer) CLI(args ...string) ([]byte, error) {
	a := append([]string{"netns", "exec", p.ns, "gobgp", "-u", "127.0.0.1", "-p", APIPort}, args...)
	var out bytes.Buffer
	cmd := exec.Command("ip", a...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// RIB returns the peer's global RIB for family ("ipv4" or "ipv6") as
// gobgp's JSON: prefix -> paths (empty when the RIB is).
func (p *Peer) RIB(family string) (map[string]json.RawMessage, []byte, error) {
	out, err := p.CLI("global", "rib", "-a", family, "-j")
	if err != nil {
		return nil, out, fmt.Errorf("gobgp global rib: %v: %s", err, out)
	}
	out = bytes.TrimSpace(out)
	rib := map[string]json.RawMessage{}
	if len(out) == 0 || string(out) == "null" {
		return rib, out, nil
	}
	if err := json.Unmarshal(out, &rib); err != nil {
		return nil, out, fmt.Errorf("parse %q: %v", out, err)
	}
	return rib, out, nil
}

// LogTail returns the last n bytes of gobgpd's log.
func (p *Peer) LogTail(n int) string {
	log, _ := os.ReadFile(p.LogFile)
	if len(log) > n {
		log = log[len(log)-n:]
	}
	return string(log)
}
