// Package ratelimit keeps request rates of integrations (R-INT-5) in fixed
// windows aligned to the clock (each second or minute since the epoch), the
// way upstream systems count them: at most N requests are let through per
// window, across every replica when the Counter is shared (PostgreSQL).
//
// A request let through near the end of a window could reach the upstream
// after the window turned and count there with the next window's N. So a
// request in the last Margin of a window is counted in the next one and
// held until that window begins: what one window lets through leaves
// within it.
package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Counter counts a key's requests per window.
type Counter interface {
	// Take counts one request of key in the window that starts at start,
	// if fewer than limit were counted there; it reports whether it did.
	Take(ctx context.Context, key string, start time.Time, limit int) (bool, error)
}

// Margin is the end of a window whose requests count in the next one.
const Margin = 50 * time.Millisecond

// Limiter applies limits over a Counter.
type Limiter struct {
	Counter Counter
	Now     func() time.Time
	// Sleep waits for d or until ctx ends (time.Sleep when nil).
	Sleep func(ctx context.Context, d time.Duration) error
}

// Decision is the outcome of Wait.
type Decision struct {
	// Allowed: the request may go now.
	Allowed bool
	// RetryAfter: when it was refused, how long until the next window.
	RetryAfter time.Duration
}

// Wait lets one request of key through under limit per window, waiting for
// a later window up to maxWait (0: no wait: refuse at once).
func (l *Limiter) Wait(ctx context.Context, key string, limit int, window, maxWait time.Duration) (Decision, error) {
	deadline := l.Now().Add(maxWait)
	for {
		now := l.Now()
		start := now.Add(Margin).Truncate(window)
		ok, err := l.Counter.Take(ctx, key, start, limit)
		if err != nil {
			return Decision{}, err
		}
		if ok {
			// Counted in a window that has not begun yet (the margin):
			// go when it does.
			if d := start.Sub(now); d > 0 {
				if err := l.sleep(ctx, d); err != nil {
					return Decision{}, err
				}
			}
			return Decision{Allowed: true}, nil
		}
		next := start.Add(window)
		if next.After(deadline) {
			return Decision{RetryAfter: next.Sub(now)}, nil
		}
		if err := l.sleep(ctx, next.Sub(now)); err != nil {
			return Decision{}, err
		}
	}
}

func (l *Limiter) sleep(ctx context.Context, d time.Duration) error {
	if l.Sleep != nil {
		return l.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Local is a Counter of this process alone (one replica: SQLite).
type Local struct {
	mu      sync.Mutex
	windows map[localKey]int
	swept   time.Time
}

type localKey struct {
	key   string
	start int64
}

// Take implements Counter.
func (c *Local) Take(_ context.Context, key string, start time.Time, limit int) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.windows == nil {
		c.windows = map[localKey]int{}
	}
	// Windows that ended over a minute before this one are dropped.
	if start.Sub(c.swept) > time.Minute {
		cut := start.Add(-2 * time.Minute).UnixMilli()
		for k := range c.windows {
			if k.start < cut {
				delete(c.windows, k)
			}
		}
		c.swept = start
	}
	k := localKey{key, start.UnixMilli()}
	if c.windows[k] >= limit {
		return false, nil
	}
	c.windows[k]++
	return true, nil
}
