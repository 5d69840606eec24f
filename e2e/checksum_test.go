//go:build linux

package e2e

import (
	"fmt"
	"github.com/xdpdns/xdpdns/internal/testsupport/netnstest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xdpdns/xdpdns/interop/interoptest"
)

// TestChecksums proves that the client's kernel accepted every reply,
// from XDP and from userspace alike: every query asked with dig over
// IPv4 and IPv6 gets its answer, a packet socket on the client veth sees
// every reply with a correct, non-zero UDP checksum (and a correct IPv4
// header checksum), and the client namespace's Udp InCsumErrors and
// Udp6InCsumErrors stay 0.
func TestChecksums(t *testing.T) {
	const rounds = 3
	r := NewRig(t)
	zs := interoptest.PrepareZones(t, interoptest.NSEC3)
	for _, mode := range []string{"native", "generic"} {
		t.Run(mode, func(t *testing.T) {
			d := StartServer(t, bins, r, zs.Zones(), mode)
			snmpBefore := readSNMP(t, r.Cli)
			statsBefore := d.Stats(t)
			frames := capture(t, r.Cli, r.CliIface, func() {
				for range rounds {
					for _, srv := range []netip.Addr{r.SrvV4, r.SrvV6} {
						for _, c := range xdpCases {
							l := c.l
							l.Port = 53
							rep, err := Dig.Query(r.Cli, srv, l)
							if err != nil {
								t.Fatal(err)
							}
							if err := c.want.check(rep); err != nil {
								t.Errorf("%s over %v: %v", c.name, srv, err)
							}
						}
					}
				}
			})
			delta := Diff(statsBefore, d.Stats(t))
			snmpAfter := readSNMP(t, r.Cli)

			// A frame the kernel flags CHECKSUM_PARTIAL (CSUMNOTREADY)
			// may hold only the pseudo-header sum in its UDP checksum:
			// the server's kernel leaves it to veth's checksum offload,
			// and the client trusts the flag. Every XDP reply must carry a
			// full checksum; flagged frames whose field does not verify
			// can only be the userspace replies.
			replies := map[bool]int{} // by IPv4
			full, partial := 0, 0
			for _, f := range frames {
				if f.Outgoing || !f.UDP || f.SrcPort != 53 {
					continue
				}
				replies[f.Src.Is4()]++
				switch {
				case f.IPChecksumOK && f.UDPChecksumOK:
					full++
				case f.CsumPartial:
					partial++
				default:
					t.Errorf("reply %v -> %v: IP checksum ok %v, UDP checksum %#04x ok %v", f.Src, f.Dst, f.IPChecksumOK, f.UDPChecksum, f.UDPChecksumOK)
				}
			}
			want := rounds * len(xdpCases)
			if replies[true] != want || replies[false] != want {
				t.Errorf("captured %d IPv4 and %d IPv6 replies, want %d each", replies[true], replies[false], want)
			}
			xdp := delta.Sum("xdp.answer.")
			t.Logf("%s: %d replies from XDP, %d from userspace; captured %d with a full checksum, %d partial; counters %v",
				mode, xdp, delta.Sum("udp."), full, partial, delta)
			if xdp == 0 || (mode == "generic" && xdp != uint64(2*want)) {
				t.Errorf("%s: %d replies came from XDP", mode, xdp)
			}
			if user := delta.Sum("udp."); uint64(full) < xdp || uint64(partial) > user {
				t.Errorf("%d replies with a full checksum, %d with a partial one; %d came from XDP, %d from userspace", full, partial, xdp, user)
			}
			for _, k := range []string{"Udp.InCsumErrors", "Udp6.InCsumErrors", "Udp.InErrors", "Udp6.InErrors"} {
				if snmpAfter[k] != snmpBefore[k] {
					t.Errorf("%s rose from %d to %d", k, snmpBefore[k], snmpAfter[k])
				}
			}
			for _, k := range []string{"Udp.InDatagrams", "Udp6.InDatagrams"} {
				if got := snmpAfter[k] - snmpBefore[k]; got < uint64(want) {
					t.Errorf("%s rose by %d, want at least %d", k, got, want)
				}
			}
		})
	}
}

// capture records the frames iface in ns sees while fn runs.
func capture(t *testing.T, ns, iface string, fn func()) []Frame {
	t.Helper()
	ps, err := OpenPacketSocket(ns, iface)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	var (
		mu     sync.Mutex
		frames []Frame
		stop   = make(chan struct{})
		done   = make(chan error, 1)
	)
	go func() {
		for {
			f, err := ps.Recv(time.Now().Add(100 * time.Millisecond))
			select {
			case <-stop:
				if err == errTimeout {
					done <- nil
					return
				}
			default:
			}
			if err == errTimeout {
				continue
			}
			if err != nil {
				done <- err
				return
			}
			mu.Lock()
			frames = append(frames, f)
			mu.Unlock()
		}
	}()
	fn()
	close(stop) // the reader drains until the socket is quiet
	if err := <-done; err != nil {
		t.Fatalf("capture: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	return frames
}

// readSNMP reads the UDP counters of namespace ns from /proc/net/snmp
// ("Udp.InCsumErrors") and /proc/net/snmp6 ("Udp6.InCsumErrors").
func readSNMP(t *testing.T, ns string) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	// snmp: a header line of names and a line of values per protocol.
	lines := strings.Split(netnstest.MustRun(t, ns, "cat", "/proc/net/snmp"), "\n")
	for i := 0; i+1 < len(lines); i++ {
		names, vals := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) == 0 || names[0] != "Udp:" || len(vals) != len(names) || vals[0] != "Udp:" {
			continue
		}
		for j := 1; j < len(names); j++ {
			out["Udp."+names[j]] = parseCount(t, vals[j])
		}
		break
	}
	// snmp6: "Udp6InCsumErrors 0" lines.
	for _, line := range strings.Split(netnstest.MustRun(t, ns, "cat", "/proc/net/snmp6"), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && strings.HasPrefix(f[0], "Udp6") {
			out["Udp6."+strings.TrimPrefix(f[0], "Udp6")] = parseCount(t, f[1])
		}
	}
	for _, k := range []string{"Udp.InCsumErrors", "Udp6.InCsumErrors"} {
		if _, ok := out[k]; !ok {
			t.Fatalf("no %s in the client namespace's SNMP counters", k)
		}
	}
	return out
}

func parseCount(t *testing.T, s string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatal(fmt.Errorf("SNMP counter %q: %w", s, err))
	}
	return v
}
