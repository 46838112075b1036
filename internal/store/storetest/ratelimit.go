package storetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/store"
)

// RunRateCounter is the conformance suite of the shared rate-limit counter
// (R-INT-5, PostgreSQL): exactly limit takes succeed per key and window
// however many race for them, windows and keys are apart, and the sweep
// deletes old windows only.
func RunRateCounter(t *testing.T, open func(t *testing.T) *store.DB) {
	t.Run("RateCounter/Concurrent_R-INT-5", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		c := store.RateCounter{DB: db}
		w := time.UnixMilli(1_000_000_000)
		var ok atomic.Int64
		var wg sync.WaitGroup
		for range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := c.Take(context.Background(), "acme/tickets", w, 5)
				if err != nil {
					t.Error(err)
				}
				if got {
					ok.Add(1)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 5 {
			t.Fatalf("%d of 40 concurrent takes succeeded, want 5", ok.Load())
		}
		for _, tc := range []struct {
			key   string
			start time.Time
		}{{"acme/tickets", w.Add(time.Second)}, {"acme/other", w}} {
			if got, err := c.Take(t.Context(), tc.key, tc.start, 5); err != nil || !got {
				t.Errorf("%s at %v: %v %v", tc.key, tc.start, got, err)
			}
		}
		n, err := db.DeleteRateWindows(t.Context(), w.Add(time.Second), 100)
		must(t, err)
		if n != 2 {
			t.Errorf("sweep before the second window: %d rows, want 2", n)
		}
		if got, _ := c.Take(t.Context(), "acme/tickets", w.Add(time.Second), 1); got {
			t.Error("the second window was swept or reset")
		}
	})
}
