package server

import (
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// TestSteerByCPU: with one UDP socket per CPU, a query received on CPU c
// is read from socket c. On loopback the receive runs on the sending CPU,
// so the test sends from a thread pinned to each CPU in turn.
func TestSteerByCPU(t *testing.T) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	ncpu := set.Count()
	if ncpu < 2 {
		t.Skip("steering by CPU needs at least 2 CPUs to show")
	}
	for cpu := 0; cpu < ncpu; cpu++ {
		if !set.IsSet(cpu) {
			t.Skipf("the test process may not run on CPU %d: steering does not apply", cpu)
		}
	}
	ts := startServer(t, func(c *Config) { c.UDPSockets = ncpu })
	q := packQuery(t, 1, "www.example.com.", dns.TypeA)
	const perCPU = 20
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer unix.SchedSetaffinity(0, &set)
	for cpu := 0; cpu < ncpu; cpu++ {
		var one unix.CPUSet
		one.Set(cpu)
		if err := unix.SchedSetaffinity(0, &one); err != nil {
			t.Fatal(err)
		}
		before := make([]uint64, len(ts.udp))
		for i, u := range ts.udp {
			before[i] = u.received.Load()
		}
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(ts.Addrs()[0]))
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		for i := 0; i < perCPU; i++ {
			c.Write(q)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Read(buf); err != nil {
				t.Fatalf("CPU %d: %v", cpu, err)
			}
		}
		c.Close()
		for i, u := range ts.udp {
			got := u.received.Load() - before[i]
			want := uint64(0)
			if i == cpu {
				want = perCPU
			}
			if got != want {
				t.Errorf("queries sent from CPU %d: socket %d read %d, want %d", cpu, i, got, want)
			}
		}
	}
}
