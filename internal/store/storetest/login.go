package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/login"
	"github.com/gatehouse-id/gatehouse/internal/store"
	"github.com/gatehouse-id/gatehouse/internal/user"
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
	// add records one failure at `at` with a 1-hour reset and a lockout at
	// 5 that lasts 30 minutes.
	add := func(t *testing.T, db *store.DB, tenantID, subject string, at time.Time) int {
		t.Helper()
		n, err := db.AddLoginFailure(t.Context(), tenantID, subject, user.LoginFailure{
			At: at, StaleBefore: at.Add(-time.Hour), ExpiresAt: at.Add(time.Hour),
			LockAt: 5, LockOverBefore: at.Add(-30 * time.Minute), LockExpiresAt: at.Add(2 * time.Hour),
		})
		must(t, err)
		return n
	}
	t.Run("Login/AtomicIncrement", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		if n, last := get(t, db, "acme", "login:x"); n != 0 || !last.IsZero() {
			t.Fatalf("empty: %d %v", n, last)
		}
		for i := 1; i <= 3; i++ {
			at := now.Add(time.Duration(i) * time.Minute)
			if n := add(t, db, "acme", "login:x", at); n != i {
				t.Fatalf("failure %d counted as %d", i, n)
			}
			if n, last := get(t, db, "acme", "login:x"); n != i || !last.Equal(at) {
				t.Fatalf("after failure %d: %d %v", i, n, last)
			}
		}
		// Stale (the last failure an hour ago or more): it starts again.
		if n := add(t, db, "acme", "login:x", now.Add(3*time.Minute+time.Hour)); n != 1 {
			t.Fatalf("a failure after the reset counted as %d, want 1", n)
		}
		must(t, db.DeleteLoginFailures(t.Context(), "acme", "login:x"))
		if n, _ := get(t, db, "acme", "login:x"); n != 0 {
			t.Fatalf("after delete: %d", n)
		}
		must(t, db.DeleteLoginFailures(t.Context(), "acme", "login:x"))
	})

	t.Run("Login/Lockout", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		for i := 1; i <= 5; i++ {
			add(t, db, "acme", "login:x", now)
		}
		// A lockout does not go stale with the reset time, only when over.
		if n := add(t, db, "acme", "login:x", now.Add(29*time.Minute)); n != 6 {
			t.Fatalf("a failure during the lockout counted as %d, want 6", n)
		}
		if n := add(t, db, "acme", "login:x", now.Add(59*time.Minute+time.Second)); n != 1 {
			t.Fatalf("a failure after the lockout counted as %d, want 1", n)
		}
	})

	t.Run("Login/Expiry", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		add(t, db, "acme", "login:counted", now)
		for range 5 {
			add(t, db, "acme", "login:locked", now)
		}
		sweep := func(at time.Time, want int64) {
			t.Helper()
			n, err := db.DeleteExpiredLoginFailures(t.Context(), at, 10)
			must(t, err)
			if n != want {
				t.Fatalf("sweep at %v deleted %d rows, want %d", at.Sub(now), n, want)
			}
		}
		sweep(now.Add(time.Hour-time.Microsecond), 0)
		sweep(now.Add(time.Hour), 1) // a count: its reset time
		if n, _ := get(t, db, "acme", "login:locked"); n != 5 {
			t.Fatalf("the lockout went with the count: %d", n)
		}
		sweep(now.Add(2*time.Hour-time.Microsecond), 0)
		sweep(now.Add(2*time.Hour), 1) // a lockout: its own expiry
	})

	t.Run("Login/ConcurrentIncrements", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		const workers, each = 8, 5
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					add(t, db, "acme", "ip:192.0.2.1", now.Add(time.Duration(w*each+i+1)*time.Millisecond))
				}
			}()
		}
		wg.Wait()
		if n, _ := get(t, db, "acme", "ip:192.0.2.1"); n != workers*each {
			t.Fatalf("count %d after %d increments: a failure was lost", n, workers*each)
		}
	})

	t.Run("Login/TenantIsolation_R-TEN-1", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		mkTenant(t, db, "other")
		for range 5 {
			add(t, db, "acme", "login:x", now)
		}
		if n, _ := get(t, db, "other", "login:x"); n != 0 {
			t.Fatalf("other tenant sees %d failures", n)
		}
		if n := add(t, db, "other", "login:x", now); n != 1 {
			t.Fatalf("other tenant counts the same subject from %d", n)
		}
		must(t, db.DeleteLoginFailures(t.Context(), "other", "login:x"))
		if n, _ := get(t, db, "acme", "login:x"); n != 5 {
			t.Fatalf("delete in another tenant changed acme's count to %d", n)
		}
	})

	t.Run("Login/MissingTenant", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		_, err := db.AddLoginFailure(t.Context(), "nope", "login:x", user.LoginFailure{At: now, ExpiresAt: now.Add(time.Hour)})
		wantErr(t, "AddLoginFailure(missing tenant)", err, derrors.NotFound, "")
	})

	t.Run("Login/DeleteExpired", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		for i, exp := range []time.Duration{-3 * time.Hour, -2 * time.Hour, -time.Hour, time.Hour} {
			_, err := db.AddLoginFailure(t.Context(), "acme", "ip:10.0.0."+string(rune('1'+i)), user.LoginFailure{At: now.Add(exp - time.Hour), ExpiresAt: now.Add(exp)})
			must(t, err)
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
		add(t, db, "acme", "login:x", now)
		must(t, db.DeleteTenant(t.Context(), "acme"))
		mkTenant(t, db, "acme")
		if n, _ := get(t, db, "acme", "login:x"); n != 0 {
			t.Fatalf("a recreated tenant inherits %d failures", n)
		}
	})

	// The limiter on the real store, on both dialects: parallel wrong
	// guesses for one account are checked no more than its free failures at
	// once, and then refused; a correct sign-in never counts; a second
	// limiter (another replica) sees the same state, whichever name of the
	// account it is given.
	t.Run("Login/LimiterParallelChecks", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		u := mkUser(t, db, "acme", "alice")
		clock := func() time.Time { return now }
		l := &login.Limiter{Store: db, Now: clock, Free: 3, Key: []byte("k")}
		const n = 16
		var wg sync.WaitGroup
		var checked atomic.Int32
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a, wait, locked, err := l.Check(t.Context(), "acme", "alice", "192.0.2.1")
				if err != nil {
					t.Error(err)
					return
				}
				defer a.Done()
				if wait == 0 && !locked {
					checked.Add(1)
					if err := a.Fail(t.Context()); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		if got := checked.Load(); got != 3 {
			t.Fatalf("%d of %d parallel wrong guesses were checked, want 3 (the free ones)", got, n)
		}
		replica := &login.Limiter{Store: db, Now: clock, Free: 3, Key: []byte("k")}
		if _, wait, _, err := replica.Check(t.Context(), "acme", u.Email, ""); err != nil || wait != time.Second {
			t.Fatalf("another replica, by email: wait %v, %v; want 1s", wait, err)
		}
		must(t, replica.UnlockUser(t.Context(), "acme", u.ID))
		a, wait, locked, err := l.Check(t.Context(), "acme", "ALICE", "")
		if err != nil || wait != 0 || locked {
			t.Fatalf("after UnlockUser on another replica: wait %v locked %v %v", wait, locked, err)
		}
		a.Done()
		// The address's 3 failures still count (IPFree 20): no delay yet.
		if ip, _ := get(t, db, "acme", login.IPSubject("192.0.2.1")); ip != 3 {
			t.Fatalf("the address counts %d failures, want 3", ip)
		}
	})
}
