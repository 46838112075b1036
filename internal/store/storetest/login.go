package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/login"
	"github.com/gatehouse-id/gatehouse/internal/store"
)

// RunLogin is the conformance suite of the brute-force counters
// (login.FailureStore) and of login.Limiter on the real store: the counts
// that every replica shares (R-OID-6, R-OID-9, R-RUN-2).
func RunLogin(t *testing.T, open func(t *testing.T) *store.DB) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	setup := func(t *testing.T) *store.DB {
		db := open(t)
		mkTenant(t, db, "acme")
		return db
	}
	get := func(t *testing.T, db *store.DB, tenantID, subject string) (int, time.Time) {
		t.Helper()
		n, last, err := db.GetLoginFailures(t.Context(), tenantID, subject)
		must(t, err)
		return n, last
	}
	swap := func(t *testing.T, db *store.DB, tenantID, subject string, oldN int, oldAt time.Time, n int, at time.Time) bool {
		t.Helper()
		ok, err := db.SwapLoginFailures(t.Context(), tenantID, subject, oldN, oldAt, n, at, at.Add(time.Hour))
		must(t, err)
		return ok
	}

	t.Run("Login/CompareAndSwap", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		if n, last := get(t, db, "acme", "login:x"); n != 0 || !last.IsZero() {
			t.Fatalf("empty: %d %v", n, last)
		}
		if !swap(t, db, "acme", "login:x", 0, time.Time{}, 1, now) {
			t.Fatal("first insert did not swap")
		}
		if swap(t, db, "acme", "login:x", 0, time.Time{}, 1, now) {
			t.Fatal("a second insert of the same subject swapped")
		}
		if n, last := get(t, db, "acme", "login:x"); n != 1 || !last.Equal(now) {
			t.Fatalf("after insert: %d %v, want 1 %v", n, last, now)
		}
		if swap(t, db, "acme", "login:x", 1, now.Add(-time.Second), 2, now) {
			t.Fatal("swapped from a stale time")
		}
		if swap(t, db, "acme", "login:x", 2, now, 3, now) {
			t.Fatal("swapped from a stale count")
		}
		later := now.Add(1500 * time.Microsecond)
		if !swap(t, db, "acme", "login:x", 1, now, 2, later) {
			t.Fatal("swap from the current row failed")
		}
		if n, last := get(t, db, "acme", "login:x"); n != 2 || !last.Equal(later) {
			t.Fatalf("after swap: %d %v", n, last)
		}
		must(t, db.DeleteLoginFailures(t.Context(), "acme", "login:x"))
		if n, _ := get(t, db, "acme", "login:x"); n != 0 {
			t.Fatalf("after delete: %d", n)
		}
		must(t, db.DeleteLoginFailures(t.Context(), "acme", "login:x"))
	})

	t.Run("Login/ConcurrentIncrements", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		const workers, each = 8, 5
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; {
					n, last, err := db.GetLoginFailures(t.Context(), "acme", "ip:192.0.2.1")
					if err != nil {
						errs <- err
						return
					}
					at := now.Add(time.Duration(w*each+i+1) * time.Millisecond)
					ok, err := db.SwapLoginFailures(t.Context(), "acme", "ip:192.0.2.1", n, last, n+1, at, at.Add(time.Hour))
					if err != nil {
						errs <- err
						return
					}
					if ok {
						i++
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if n, _ := get(t, db, "acme", "ip:192.0.2.1"); n != workers*each {
			t.Fatalf("count %d after %d increments: a swap was lost", n, workers*each)
		}
	})

	t.Run("Login/TenantIsolation_R-TEN-1", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		mkTenant(t, db, "other")
		swap(t, db, "acme", "login:x", 0, time.Time{}, 5, now)
		if n, _ := get(t, db, "other", "login:x"); n != 0 {
			t.Fatalf("other tenant sees %d failures", n)
		}
		if !swap(t, db, "other", "login:x", 0, time.Time{}, 1, now) {
			t.Fatal("other tenant cannot count the same subject")
		}
		must(t, db.DeleteLoginFailures(t.Context(), "other", "login:x"))
		if n, _ := get(t, db, "acme", "login:x"); n != 5 {
			t.Fatalf("delete in another tenant changed acme's count to %d", n)
		}
	})

	t.Run("Login/MissingTenant", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		_, err := db.SwapLoginFailures(t.Context(), "nope", "login:x", 0, time.Time{}, 1, now, now.Add(time.Hour))
		wantErr(t, "SwapLoginFailures(missing tenant)", err, derrors.NotFound, "")
	})

	t.Run("Login/DeleteExpired", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		for i, exp := range []time.Duration{-3 * time.Hour, -2 * time.Hour, -time.Hour, time.Hour} {
			ok, err := db.SwapLoginFailures(t.Context(), "acme", "ip:10.0.0."+string(rune('1'+i)), 0, time.Time{}, 1, now.Add(exp-time.Hour), now.Add(exp))
			must(t, err)
			if !ok {
				t.Fatal("insert did not swap")
			}
		}
		n, err := db.DeleteExpiredLoginFailures(t.Context(), now, 2)
		must(t, err)
		if n != 2 {
			t.Fatalf("first sweep deleted %d, want 2 (the limit)", n)
		}
		n, err = db.DeleteExpiredLoginFailures(t.Context(), now, 2)
		must(t, err)
		if n != 1 {
			t.Fatalf("second sweep deleted %d, want 1", n)
		}
		if c, _ := get(t, db, "acme", "ip:10.0.0.4"); c != 1 {
			t.Fatal("the unexpired row was deleted")
		}
		if c, _ := get(t, db, "acme", "ip:10.0.0.1"); c != 0 {
			t.Fatal("the oldest expired row is still there")
		}
	})

	t.Run("Login/DeleteTenantCascades_R-TEN-3", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		swap(t, db, "acme", "login:x", 0, time.Time{}, 5, now)
		must(t, db.DeleteTenant(t.Context(), "acme"))
		mkTenant(t, db, "acme")
		if n, _ := get(t, db, "acme", "login:x"); n != 0 {
			t.Fatalf("a recreated tenant inherits %d failures", n)
		}
	})

	// The limiter on the real store: parallel guesses for one login cannot
	// all pass between Check and Fail (each Check counts its attempt), on
	// both dialects; a second limiter (another replica) sees the same state.
	t.Run("Login/LimiterParallelChecks", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		clock := func() time.Time { return now }
		l := &login.Limiter{Store: db, Now: clock, Free: 3}
		const n = 16
		var wg sync.WaitGroup
		allowed := make(chan bool, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				wait, locked, err := l.Check(t.Context(), "acme", "alice", "")
				if err != nil {
					t.Error(err)
					return
				}
				allowed <- wait == 0 && !locked
			}()
		}
		wg.Wait()
		close(allowed)
		got := 0
		for ok := range allowed {
			if ok {
				got++
			}
		}
		if got != 3 {
			t.Fatalf("%d of %d parallel attempts allowed, want 3 (the free ones)", got, n)
		}
		replica := &login.Limiter{Store: db, Now: clock, Free: 3}
		if wait, _, err := replica.Check(t.Context(), "acme", "ALICE", ""); err != nil || wait != time.Second {
			t.Fatalf("another replica: wait %v, %v; want 1s", wait, err)
		}
		must(t, replica.Unlock(t.Context(), "acme", "alice"))
		if wait, locked, err := l.Check(t.Context(), "acme", "alice", ""); err != nil || wait != 0 || locked {
			t.Fatalf("after Unlock on another replica: wait %v locked %v %v", wait, locked, err)
		}
	})
}
