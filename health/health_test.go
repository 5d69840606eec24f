package health

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// toggle is a check whose result the test sets.
type toggle struct{ fail atomic.Bool }

func (tg *toggle) check(name string) Check {
	return Check{Name: name, Run: func(context.Context) error {
		if tg.fail.Load() {
			return errors.New("down")
		}
		return nil
	}}
}

func TestRiseAndFall(t *testing.T) {
	var a, b toggle
	var changes []bool
	rounds := 0
	m := New(Config{Rise: 3, Fall: 2, OnChange: func(h bool) { changes = append(changes, h) }, AfterRound: func(bool) { rounds++ }},
		a.check("a"), b.check("b"))
	ctx := context.Background()
	if m.Healthy() {
		t.Fatal("starts healthy")
	}
	step := func(wantHealthy bool, wantPasses, wantFails int) {
		t.Helper()
		m.Round(ctx)
		st := m.Status()
		if st.Healthy != wantHealthy || st.Passes != wantPasses || st.Fails != wantFails {
			t.Fatalf("after round %d: %+v, want healthy=%v passes=%d fails=%d", st.Rounds, st, wantHealthy, wantPasses, wantFails)
		}
	}
	step(false, 1, 0)
	step(false, 2, 0)
	b.fail.Store(true) // a failure resets the rise count
	step(false, 0, 1)
	b.fail.Store(false)
	step(false, 1, 0)
	step(false, 2, 0)
	before := time.Now()
	step(true, 3, 0)
	if st := m.Status(); st.Since.Before(before) {
		t.Errorf("transition time %v not updated", st.Since)
	}
	step(true, 4, 0)
	a.fail.Store(true)
	step(true, 0, 1)
	if st := m.Status(); st.Checks[0].Error != "a: down" || st.Checks[1].Error != "" || st.Checks[0].Name != "a" {
		t.Errorf("check errors: %+v", st.Checks)
	}
	a.fail.Store(false)
	step(true, 1, 0) // one failure is not enough, and a pass resets it
	a.fail.Store(true)
	step(true, 0, 1)
	step(false, 0, 2)
	step(false, 0, 3)
	if len(changes) != 2 || !changes[0] || changes[1] {
		t.Errorf("OnChange calls %v, want [true false]", changes)
	}
	if rounds != 12 {
		t.Errorf("AfterRound called %d times, want 12", rounds)
	}
}

func TestTimeoutAndPanic(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	m := New(Config{Interval: 50 * time.Millisecond, Timeout: 20 * time.Millisecond, Rise: 1},
		// Ignores its context: the Monitor must not wait for it.
		Check{Name: "slow", Run: func(ctx context.Context) error { <-release; return nil }},
		Check{Name: "panics", Run: func(context.Context) error { panic("boom") }})
	start := time.Now()
	err := m.Round(context.Background())
	if took := time.Since(start); took > time.Second {
		t.Fatalf("round took %v", took)
	}
	st := m.Status()
	if err == nil || st.Checks[0].Error != "slow: timed out" || !strings.Contains(st.Checks[1].Error, "panic: boom") || st.Healthy {
		t.Errorf("err %v, status %+v", err, st)
	}
}

func TestDefaults(t *testing.T) {
	c := New(Config{}).Config()
	if c.Interval != time.Second || c.Rise != 3 || c.Fall != 2 || c.Timeout != time.Second {
		t.Errorf("defaults %+v", c)
	}
}

// TestRunning starts the Monitor with a short interval and waits (bounded)
// for the transitions the checks drive.
func TestRunning(t *testing.T) {
	var tg toggle
	ch := make(chan bool, 4)
	var mu sync.Mutex
	m := New(Config{Interval: 5 * time.Millisecond, Rise: 2, Fall: 2, OnChange: func(h bool) { ch <- h }}, tg.check("x"))
	m.Start(context.Background())
	defer m.Stop()
	wait := func(want bool) {
		t.Helper()
		select {
		case h := <-ch:
			if h != want {
				t.Fatalf("OnChange(%v), want %v", h, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no transition to %v: %+v", want, m.Status())
		}
	}
	wait(true)
	mu.Lock()
	tg.fail.Store(true)
	mu.Unlock()
	wait(false)
	m.Stop()
	n := m.Status().Rounds
	time.Sleep(20 * time.Millisecond)
	if m.Status().Rounds != n {
		t.Error("rounds after Stop")
	}
	m.Stop() // twice is fine
}

func TestStopWithoutStart(t *testing.T) {
	New(Config{}).Stop()
}
