package ratelimit

import (
	"context"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves; Sleep moves it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return nil
}

// R-INT-5: at most N per epoch window; reject says when the next window
// begins; wait goes in a later window, up to its bound; a request in the
// last Margin of a window counts in, and waits for, the next one.
func TestLimiter(t *testing.T) {
	base := time.Unix(1_000_020, 0) // a whole minute
	for _, tc := range []struct {
		name            string
		at              time.Duration // into the window
		window, maxWait time.Duration
		taken           int // requests before, in the window of "at"
		wantAllowed     bool
		wantRetry       time.Duration
		wantSlept       time.Duration
	}{
		{"room", 100 * time.Millisecond, time.Second, 0, 4, true, 0, 0},
		{"full, reject", 100 * time.Millisecond, time.Second, 0, 5, false, 900 * time.Millisecond, 0},
		{"full, wait to the next second", 300 * time.Millisecond, time.Second, 5 * time.Second, 5, true, 0, 700 * time.Millisecond},
		{"full, wait bound too short", 300 * time.Millisecond, time.Second, 500 * time.Millisecond, 5, false, 700 * time.Millisecond, 0},
		{"in the margin: next window, held", 970 * time.Millisecond, time.Second, 0, 0, true, 0, 30 * time.Millisecond},
		{"minute window", 30 * time.Second, time.Minute, 0, 5, false, 30 * time.Second, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{now: base.Add(tc.at)}
			c := &Local{}
			start := base
			if tc.at >= tc.window-Margin {
				start = base.Add(tc.window)
			}
			for range tc.taken {
				if ok, _ := c.Take(context.Background(), "k", start, 5); !ok {
					t.Fatal("setup: refused")
				}
			}
			l := &Limiter{Counter: c, Now: clk.Now, Sleep: clk.Sleep}
			d, err := l.Wait(context.Background(), "k", 5, tc.window, tc.maxWait)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != tc.wantAllowed || d.RetryAfter != tc.wantRetry {
				t.Errorf("got %+v, want allowed %v retry %v", d, tc.wantAllowed, tc.wantRetry)
			}
			if slept := clk.Now().Sub(base.Add(tc.at)); slept != tc.wantSlept {
				t.Errorf("slept %v, want %v", slept, tc.wantSlept)
			}
		})
	}
}

// R-INT-5: keys are counted apart, and old windows are dropped.
func TestLocalKeysAndSweep(t *testing.T) {
	c := &Local{}
	w := time.Unix(1_000_000, 0)
	for _, k := range []string{"a", "b"} {
		for i := range 3 {
			if ok, _ := c.Take(context.Background(), k, w, 2); ok != (i < 2) {
				t.Errorf("%s #%d: %v", k, i, ok)
			}
		}
	}
	if ok, _ := c.Take(context.Background(), "a", w.Add(time.Hour), 2); !ok || len(c.windows) != 1 {
		t.Errorf("after an hour: %v, %d windows kept", ok, len(c.windows))
	}
}
