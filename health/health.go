// Package health runs named checks on an interval and keeps a
// rise/fall state machine over their results: the node starts unhealthy,
// becomes healthy after Rise consecutive rounds in which every check
// passed, and unhealthy again after Fall consecutive rounds in which any
// check failed. The daemon announces its anycast prefixes only while the
// Monitor says healthy.
package health

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultInterval = time.Second
	DefaultRise     = 3
	DefaultFall     = 2
)

// Check is one named health check. Run returns nil when the check passes;
// it must honour ctx, which carries the per-check timeout.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Config configures a Monitor. Zero values take the defaults.
type Config struct {
	// Interval is the time between the starts of two rounds.
	Interval time.Duration
	// Timeout bounds each check of a round; 0 means Interval.
	Timeout time.Duration
	// Rise is the number of consecutive passing rounds that make an
	// unhealthy node healthy.
	Rise int
	// Fall is the number of consecutive failing rounds that make a
	// healthy node unhealthy.
	Fall int
	// OnChange, if set, is called (from the Monitor's goroutine, never
	// concurrently with itself) on every transition, with the new state.
	OnChange func(healthy bool)
	// AfterRound, if set, is called (from the Monitor's goroutine) after
	// every counted round, after OnChange, with the state then: a place
	// to retry acting on the state when acting on a transition failed.
	AfterRound func(healthy bool)
}

func (c Config) withDefaults() Config {
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout <= 0 {
		c.Timeout = c.Interval
	}
	if c.Rise <= 0 {
		c.Rise = DefaultRise
	}
	if c.Fall <= 0 {
		c.Fall = DefaultFall
	}
	return c
}

// CheckStatus is the last result of one check.
type CheckStatus struct {
	Name string `json:"name"`
	// Error is the last run's error; "" when it passed.
	Error string `json:"error,omitempty"`
	// At is when the last run finished.
	At time.Time `json:"at"`
}

// Status is a snapshot of a Monitor.
type Status struct {
	Healthy bool `json:"healthy"`
	// Passes and Fails count the consecutive passing and failing rounds
	// up to the last one; one of them is always zero.
	Passes int `json:"passes"`
	Fails  int `json:"fails"`
	// Rounds counts the rounds run.
	Rounds uint64 `json:"rounds"`
	// Since is the time of the last transition (the Monitor's creation
	// before the first).
	Since  time.Time     `json:"since"`
	Checks []CheckStatus `json:"checks"`
}

// Monitor runs checks and tracks the health state.
type Monitor struct {
	cfg    Config
	checks []Check

	mu sync.Mutex
	st Status

	stopOnce sync.Once
	cancel   context.CancelFunc
	done     chan struct{}
}

// New returns a Monitor for checks; it starts unhealthy and runs nothing
// until Start.
func New(cfg Config, checks ...Check) *Monitor {
	cfg = cfg.withDefaults()
	m := &Monitor{cfg: cfg, checks: checks, done: make(chan struct{})}
	m.st.Since = time.Now()
	m.st.Checks = make([]CheckStatus, len(checks))
	for i, c := range checks {
		m.st.Checks[i].Name = c.Name
	}
	return m
}

// Config returns the Monitor's configuration with its defaults filled in.
func (m *Monitor) Config() Config { return m.cfg }

// Start runs the first round at once, then one every Interval, until
// Stop or ctx ends. Call it once.
func (m *Monitor) Start(ctx context.Context) {
	ctx, m.cancel = context.WithCancel(ctx)
	go m.loop(ctx)
}

// Stop ends the rounds and waits for the one in progress, if any.
func (m *Monitor) Stop() {
	m.stopOnce.Do(func() {
		if m.cancel == nil {
			close(m.done)
			return
		}
		m.cancel()
		<-m.done
	})
}

func (m *Monitor) loop(ctx context.Context) {
	defer close(m.done)
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		m.Round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Round runs every check once, concurrently, each bounded by Timeout,
// and applies the result to the state machine. Start calls it on the
// interval; tests may call it directly instead of starting the Monitor.
// It returns the round's first error (nil when every check passed). A
// round cut short by ctx is not counted.
func (m *Monitor) Round(ctx context.Context) error {
	errs := make([]error, len(m.checks))
	ends := make([]time.Time, len(m.checks))
	var wg sync.WaitGroup
	for i, c := range m.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
			defer cancel()
			errs[i] = runCheck(cctx, c)
			ends[i] = time.Now()
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var first error
	for _, err := range errs {
		if err != nil {
			first = err
			break
		}
	}
	m.mu.Lock()
	st := &m.st
	st.Rounds++
	for i, err := range errs {
		st.Checks[i].At = ends[i]
		st.Checks[i].Error = ""
		if err != nil {
			st.Checks[i].Error = err.Error()
		}
	}
	changed := false
	if first == nil {
		st.Passes++
		st.Fails = 0
		if !st.Healthy && st.Passes >= m.cfg.Rise {
			st.Healthy, changed = true, true
		}
	} else {
		st.Fails++
		st.Passes = 0
		if st.Healthy && st.Fails >= m.cfg.Fall {
			st.Healthy, changed = false, true
		}
	}
	healthy := st.Healthy
	if changed {
		st.Since = time.Now()
	}
	m.mu.Unlock()
	if changed && m.cfg.OnChange != nil {
		m.cfg.OnChange(healthy)
	}
	if m.cfg.AfterRound != nil {
		m.cfg.AfterRound(healthy)
	}
	return first
}

// runCheck runs c, turning a panic into an error and a check that
// overruns its deadline into the deadline's error.
func runCheck(ctx context.Context, c Check) (err error) {
	res := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				res <- fmt.Errorf("panic: %v", r)
			}
		}()
		res <- c.Run(ctx)
	}()
	select {
	case err = <-res:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = errors.New("timed out")
		}
		return fmt.Errorf("%s: %w", c.Name, err)
	}
	return nil
}

// Healthy reports the current state.
func (m *Monitor) Healthy() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st.Healthy
}

// Status returns a snapshot of the state.
func (m *Monitor) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.st
	st.Checks = append([]CheckStatus(nil), m.st.Checks...)
	return st
}
