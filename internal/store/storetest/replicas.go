package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/store"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// Replicas opens two stores on one database (two replicas) whose caches
// live for at most maxAge without word from the database, and a raw handle
// on it; the second is opened after the first is migrated. listener is the
// application_name of their cache listeners' connections, told apart from
// those of other tests on the same database.
type Replicas func(t *testing.T, maxAge time.Duration) (a, b *store.DB, raw Raw, listener string)

// RunReplicas runs the cache-coherence tests of stores that replicas share
// (PostgreSQL): what one replica writes, the other's cache drops as soon as
// the write commits, and a cache that cannot hear the database is not used.
func RunReplicas(t *testing.T, open Replicas) {
	t.Run("ClientChangeReachesOtherReplica", func(t *testing.T) { testClientChangeReachesOtherReplica(t, open) })
	t.Run("UserChangeReachesOtherReplica", func(t *testing.T) { testUserChangeReachesOtherReplica(t, open) })
	t.Run("HandEditSeenWithinMaxAge", func(t *testing.T) { testHandEditSeenWithinMaxAge(t, open) })
	t.Run("LostListenerTurnsCacheOff", func(t *testing.T) { testLostListenerTurnsCacheOff(t, open) })
}

// waitCached waits until every store uses its cache (its listener listens).
func waitCached(t *testing.T, dbs ...*store.DB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, db := range dbs {
		for !db.Cached() {
			if time.Now().After(deadline) {
				t.Fatal("the store's cache listener did not start listening within 10s")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// settle waits for the notifications of the writes so far to be delivered
// (they arrive within milliseconds), so that a lookup cached after it is
// not dropped by one of them.
func settle() { time.Sleep(250 * time.Millisecond) }

// eventually polls cond every millisecond for up to within and reports how
// long it took to hold.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not seen within %v", what, within)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// handEditSecret changes the app's one secret behind the stores' backs (no
// notification), as an operator's SQL would.
func handEditSecret(t *testing.T, raw Raw, tenantID, clientID, hash string) {
	t.Helper()
	res, err := raw.DB.ExecContext(t.Context(), "UPDATE app_secrets SET hash = $1 WHERE tenant_id = $2 AND client_id = $3", hash, tenantID, clientID)
	must(t, err)
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("hand edit changed %d secrets, want 1", n)
	}
}

func secretHash(t *testing.T, db *store.DB, tenantID, clientID string) string {
	t.Helper()
	_, secrets, err := db.GetClient(t.Context(), tenantID, clientID)
	must(t, err)
	if len(secrets) != 1 {
		t.Fatalf("GetClient: %d secrets, want 1", len(secrets))
	}
	return secrets[0].Hash
}

func testClientChangeReachesOtherReplica(t *testing.T, open Replicas) {
	a, b, raw, _ := open(t, time.Minute)
	waitCached(t, a, b)
	ctx := t.Context()
	mkTenant(t, a, "acme")
	cl, s := mkApp(t, a, "acme", "web")
	settle()
	if got := secretHash(t, b, "acme", cl.ClientID); got != s.Hash {
		t.Fatalf("replica b reads secret hash %q, want %q", got, s.Hash)
	}
	// b serves the app from its cache: a change behind its back (no
	// notification) is not seen, so the steps below test the notification.
	handEditSecret(t, raw, "acme", cl.ClientID, "edited-by-hand")
	if got := secretHash(t, b, "acme", cl.ClientID); got != s.Hash {
		t.Fatalf("replica b reads %q right after a hand edit, want its cached %q (is the cache on?)", got, s.Hash)
	}

	// A rotation on replica a (the old secret removed) reaches b's cache
	// when it commits, long before the minute of maxAge.
	next := newSecret("rotated", time.Time{})
	must(t, a.RotateSecret(ctx, "acme", cl.ClientID, next, time.Time{}))
	took := eventually(t, 5*time.Second, "rotated secret on replica b", func() bool { return secretHash(t, b, "acme", cl.ClientID) == "rotated" })
	t.Logf("replica b saw the rotation %v after it committed on a", took)

	// A deleted app is refused by b as soon as the delete commits.
	must(t, a.DeleteApp(ctx, "acme", cl.ClientID))
	took = eventually(t, 5*time.Second, "deleted app refused on replica b", func() bool {
		_, _, err := b.GetClient(ctx, "acme", cl.ClientID)
		return err != nil
	})
	t.Logf("replica b refused the deleted app %v after the delete committed", took)
	if _, _, err := a.GetClient(ctx, "acme", cl.ClientID); err == nil {
		t.Fatal("replica a, which deleted the app, still finds it")
	}
}

func testUserChangeReachesOtherReplica(t *testing.T, open Replicas) {
	a, b, _, _ := open(t, time.Minute)
	waitCached(t, a, b)
	ctx := t.Context()
	mkTenant(t, a, "acme")
	cl, _ := mkApp(t, a, "acme", "web")
	u := mkUser(t, a, "acme", "alice")
	p := mkPerm(t, a, "acme", cl.ClientID, "read", 0)
	mkRole(t, a, "acme", "reader", user.Grant{ClientID: cl.ClientID, Permission: p.Name})
	settle()
	got, err := b.GetUser(ctx, "acme", u.ID)
	must(t, err)
	if got.State != user.Active {
		t.Fatalf("replica b: state %q, want active", got.State)
	}
	_, perms, err := b.Access(ctx, "acme", u.ID, cl.ClientID)
	must(t, err)
	if len(perms) != 0 {
		t.Fatalf("replica b: permissions %v before the role is assigned, want none", perms)
	}

	must(t, a.SetState(ctx, "acme", u.ID, user.Blocked, at(time.Hour)))
	eventually(t, 5*time.Second, "blocked user on replica b (R-USR-2)", func() bool {
		got, err := b.GetUser(ctx, "acme", u.ID)
		must(t, err)
		return got.State == user.Blocked
	})
	must(t, a.AssignRole(ctx, "acme", u.ID, "reader"))
	eventually(t, 5*time.Second, "assigned role's permission on replica b (R-PRM-2)", func() bool {
		_, perms, err := b.Access(ctx, "acme", u.ID, cl.ClientID)
		must(t, err)
		return len(perms) == 1 && perms[0] == "read"
	})
}

func testHandEditSeenWithinMaxAge(t *testing.T, open Replicas) {
	const maxAge = 200 * time.Millisecond
	a, b, raw, _ := open(t, maxAge)
	waitCached(t, a, b)
	mkTenant(t, a, "acme")
	cl, _ := mkApp(t, a, "acme", "web")
	settle()
	secretHash(t, b, "acme", cl.ClientID)
	handEditSecret(t, raw, "acme", cl.ClientID, "edited-by-hand")
	took := eventually(t, 10*maxAge, "hand edit on replica b", func() bool { return secretHash(t, b, "acme", cl.ClientID) == "edited-by-hand" })
	t.Logf("replica b saw a hand edit after %v (max age %v)", took, maxAge)
}

func testLostListenerTurnsCacheOff(t *testing.T, open Replicas) {
	a, b, raw, listener := open(t, time.Minute)
	waitCached(t, a, b)
	ctx := t.Context()
	mkTenant(t, a, "acme")
	cl, s := mkApp(t, a, "acme", "web")
	secretHash(t, b, "acme", cl.ClientID)

	// Kill both cache listeners' backends: notifications sent now are lost.
	var n int
	must(t, raw.DB.QueryRowContext(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()", listener).Scan(&n))
	if n != 2 {
		t.Fatalf("terminated %d cache listeners named %q, want 2", n, listener)
	}
	// While b cannot hear the database, it reads it: a hand edit is seen.
	handEditSecret(t, raw, "acme", cl.ClientID, "edited-by-hand")
	eventually(t, 5*time.Second, "hand edit on replica b after its listener died", func() bool {
		return secretHash(t, b, "acme", cl.ClientID) == "edited-by-hand"
	})
	// The listener comes back by itself, and caching with it.
	waitCached(t, b)
	must(t, a.RotateSecret(ctx, "acme", cl.ClientID, newSecret(s.Hash, time.Time{}), time.Time{}))
	eventually(t, 5*time.Second, "rotation on replica b after its listener came back", func() bool {
		return secretHash(t, b, "acme", cl.ClientID) == s.Hash
	})
}
