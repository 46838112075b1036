package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/store"
)

// RunBFFSessions is the conformance suite of the token-management
// service's server-side sessions (issue 10, session.store): create, live at
// once and not past the expiry, the sliding expiry, revocation by session,
// by subject and all, listing, the janitor's sweep, and isolation between
// two services on one database.
func RunBFFSessions(t *testing.T, open func(t *testing.T) *store.DB) {
	const svc, other = "https://tms.example.com", "https://tms2.example.com"
	mk := func(id, sub string, created time.Duration) store.BFFSession {
		return store.BFFSession{ID: id, Subject: sub, Domain: "acme.idcloud.example.com", Issuer: "https://id.example.com/t/acme",
			Created: at(created), Expires: at(created + 20*time.Minute)}
	}
	live := func(t *testing.T, db *store.DB, service, id string, now time.Time) bool {
		t.Helper()
		ok, err := db.BFFSessionLive(t.Context(), service, id, now)
		must(t, err)
		return ok
	}
	ids := func(t *testing.T, db *store.DB, service, sub string) string {
		t.Helper()
		l, err := db.ListBFFSessions(t.Context(), service, sub, at(0), 100)
		must(t, err)
		var s []string
		for _, x := range l {
			s = append(s, x.ID)
		}
		return fmt.Sprint(s)
	}

	t.Run("BFFSessions/CreateLiveExtendExpire", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		s := mk("h1", "alice", 0)
		must(t, db.CreateBFFSession(t.Context(), svc, s))
		if err := db.CreateBFFSession(t.Context(), svc, s); err == nil {
			t.Error("a second session with the same id was accepted")
		}
		if !live(t, db, svc, "h1", at(time.Minute)) {
			t.Fatal("a new session is not live")
		}
		if live(t, db, svc, "h1", at(20*time.Minute)) || live(t, db, svc, "nope", at(0)) || live(t, db, other, "h1", at(0)) {
			t.Error("live past its expiry, under another id, or for another service")
		}
		must(t, db.ExtendBFFSession(t.Context(), svc, "h1", at(40*time.Minute)))
		if !live(t, db, svc, "h1", at(30*time.Minute)) {
			t.Error("the extended session is not live")
		}
		l, err := db.ListBFFSessions(t.Context(), svc, "", at(0), 10)
		must(t, err)
		if len(l) != 1 || l[0] != (store.BFFSession{ID: "h1", Subject: "alice", Domain: s.Domain, Issuer: s.Issuer, Created: at(0), Expires: at(40 * time.Minute)}) {
			t.Errorf("list: %+v", l)
		}
	})

	t.Run("BFFSessions/Revoke", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		for i, s := range []store.BFFSession{mk("a1", "alice", 0), mk("a2", "alice", time.Second), mk("b1", "bob", 2*time.Second), mk("c1", "carol", 3*time.Second)} {
			must(t, db.CreateBFFSession(t.Context(), svc, s))
			if i == 0 {
				must(t, db.CreateBFFSession(t.Context(), other, s))
			}
		}
		if got := ids(t, db, svc, ""); got != "[c1 b1 a2 a1]" {
			t.Fatalf("list, newest first: %s", got)
		}
		if got := ids(t, db, svc, "alice"); got != "[a2 a1]" {
			t.Fatalf("list of alice: %s", got)
		}
		n, err := db.DeleteBFFSessions(t.Context(), svc, "b1", "")
		must(t, err)
		if n != 1 || ids(t, db, svc, "") != "[c1 a2 a1]" {
			t.Errorf("revoke one: %d, left %s", n, ids(t, db, svc, ""))
		}
		n, err = db.DeleteBFFSessions(t.Context(), svc, "", "alice")
		must(t, err)
		if n != 2 || ids(t, db, svc, "") != "[c1]" {
			t.Errorf("revoke alice's: %d, left %s", n, ids(t, db, svc, ""))
		}
		n, err = db.DeleteBFFSessions(t.Context(), svc, "", "")
		must(t, err)
		if n != 1 || ids(t, db, svc, "") != "[]" {
			t.Errorf("revoke all: %d, left %s", n, ids(t, db, svc, ""))
		}
		if !live(t, db, other, "a1", at(0)) || ids(t, db, other, "") != "[a1]" {
			t.Error("revoking one service's sessions touched another's")
		}
	})

	t.Run("BFFSessions/Janitor", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		for i := range 5 {
			must(t, db.CreateBFFSession(t.Context(), svc, mk(fmt.Sprint("s", i), "alice", time.Duration(i)*time.Minute)))
		}
		must(t, db.CreateBFFSession(t.Context(), other, mk("o", "alice", 0)))
		// At 22m the sessions created at 0, 1 and 2 minutes have expired.
		n, err := db.DeleteExpiredBFFSessions(t.Context(), svc, at(22*time.Minute), 2)
		must(t, err)
		if n != 2 {
			t.Fatalf("first sweep (limit 2): %d", n)
		}
		n, err = db.DeleteExpiredBFFSessions(t.Context(), svc, at(22*time.Minute), 2)
		must(t, err)
		if n != 1 || ids(t, db, svc, "") != "[s4 s3]" {
			t.Errorf("second sweep: %d, left %s", n, ids(t, db, svc, ""))
		}
		if !live(t, db, other, "o", at(0)) {
			t.Error("the sweep of one service deleted another's session")
		}
	})
}
