package rrl

import (
	"net/netip"
	"testing"
	"time"

	"github.com/xdpdns/xdpdns/zonecompiler/engine"
)

const sec = int64(time.Second)

// run sends n responses of one bucket evenly over d starting at t0 and
// counts the decisions.
func run(l *Limiter, client string, c Class, name uint64, t0 int64, n int, d time.Duration) map[Decision]int {
	out := map[Decision]int{}
	a := netip.MustParseAddr(client)
	for i := 0; i < n; i++ {
		out[l.Decide(a, c, name, t0+int64(i)*int64(d)/int64(n))]++
	}
	return out
}

func TestOff(t *testing.T) {
	if New(Config{Rate: 0}) != nil {
		t.Fatal("rate 0 must turn limiting off (nil Limiter)")
	}
}

// TestRate: a client within the rate is never limited; a flood gets a
// burst of Rate, then nothing but slips while it goes on, and the bucket
// recovers once the flood stops and the window has passed.
func TestRate(t *testing.T) {
	l := New(Config{Rate: 100, Slip: 2, Window: 5 * time.Second})
	if got := run(l, "192.0.2.1", ClassAnswer, 1, 0, 500, 10*time.Second); got[Send] != 500 {
		t.Fatalf("50 responses/s at rate 100: %v, want all sent", got)
	}
	// 10000/s for 2 s: a burst of 100 (the bucket was full), then the
	// flood keeps it in debt.
	got := run(l, "198.51.100.7", ClassAnswer, 1, 20*sec, 20000, 2*time.Second)
	if got[Send] < 100 || got[Send] > 110 {
		t.Errorf("flood: %d sent, want the burst of ~100 (rate 100)", got[Send])
	}
	if got[Slip] < got[Drop]-1 || got[Slip] > got[Drop]+1 {
		t.Errorf("slip 2: %d slipped, %d dropped: want every other one", got[Slip], got[Drop])
	}
	// Just after the flood: still in debt.
	if d := l.Decide(netip.MustParseAddr("198.51.100.8"), ClassAnswer, 1, 22*sec+sec/2); d == Send {
		t.Error("the bucket forgave the flood at once")
	}
	// A window after the flood stopped: sent again.
	if d := l.Decide(netip.MustParseAddr("198.51.100.8"), ClassAnswer, 1, 28*sec); d != Send {
		t.Errorf("a window after the flood: %v, want Send", d)
	}
}

// TestBuckets: buckets are per client prefix, class and name; errors
// share one bucket per prefix whatever the name.
func TestBuckets(t *testing.T) {
	l := New(Config{Rate: 10, Slip: 0, Prefix4: 24, Prefix6: 56})
	exhaust := func(client string, c Class, name uint64) {
		run(l, client, c, name, 0, 100, 10*time.Millisecond)
	}
	exhaust("192.0.2.1", ClassReferral, 7)
	for _, tc := range []struct {
		client string
		class  Class
		name   uint64
		want   Decision
	}{
		{"192.0.2.200", ClassReferral, 7, Drop},      // same /24
		{"192.0.3.1", ClassReferral, 7, Send},        // another /24
		{"192.0.2.1", ClassReferral, 8, Send},        // another delegation
		{"192.0.2.1", ClassNXDomain, 7, Send},        // another class
		{"::ffff:192.0.2.9", ClassReferral, 7, Drop}, // IPv4-mapped is IPv4
	} {
		if d := l.Decide(netip.MustParseAddr(tc.client), tc.class, tc.name, 50*int64(time.Millisecond)); d != tc.want {
			t.Errorf("%s %v %d: %v, want %v", tc.client, tc.class, tc.name, d, tc.want)
		}
	}
	exhaust("2001:db8:1:100::1", ClassError, 1)
	if d := l.Decide(netip.MustParseAddr("2001:db8:1:1ff::9"), ClassError, 99, 50*int64(time.Millisecond)); d != Drop {
		t.Errorf("errors from the same /56 under another name: %v, want Drop", d)
	}
	if d := l.Decide(netip.MustParseAddr("2001:db8:1:200::1"), ClassError, 1, 50*int64(time.Millisecond)); d != Send {
		t.Errorf("errors from another /56: %v, want Send", d)
	}
}

func TestExemptAndSlip(t *testing.T) {
	l := New(Config{Rate: 1, Slip: 1, Exempt: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}})
	if got := run(l, "203.0.113.9", ClassAnswer, 1, 0, 1000, time.Second); got[Exempted] != 1000 {
		t.Errorf("exempt client: %v, want all exempted", got)
	}
	if got := run(l, "192.0.2.1", ClassAnswer, 1, 0, 1000, time.Second); got[Send] != 1 || got[Slip] != 999 {
		t.Errorf("slip 1: %v, want 1 sent and every other one truncated", got)
	}
}

// TestTableEviction: more buckets than the table holds evict the least
// recently used; nothing breaks.
func TestTableEviction(t *testing.T) {
	l := New(Config{Rate: 1, Slip: 0, TableSize: 64})
	for i := 0; i < 10000; i++ {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1})
		if d := l.Decide(a, ClassAnswer, 1, int64(i)); d != Send {
			t.Fatalf("client %d's first response: %v", i, d)
		}
	}
}

func TestClassOf(t *testing.T) {
	for k, want := range map[engine.Kind]Class{
		engine.KindAnswer: ClassAnswer, engine.KindCNAME: ClassAnswer, engine.KindWildcard: ClassAnswer,
		engine.KindChaos: ClassAnswer, engine.KindNoData: ClassNoData, engine.KindReferral: ClassReferral,
		engine.KindNXDomain: ClassNXDomain, engine.KindRefused: ClassError, engine.KindError: ClassError,
	} {
		if got := ClassOf(k); got != want {
			t.Errorf("ClassOf(%v) = %d, want %d", k, got, want)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, c := range []Config{{Rate: -1}, {Slip: 101}, {Prefix4: 33}, {Prefix6: 129}, {Window: time.Millisecond}} {
		if c.Check() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if err := Default().Check(); err != nil {
		t.Error(err)
	}
}
