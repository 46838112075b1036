package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/audit"
	"github.com/gatehouse-id/gatehouse/internal/store"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
)

// RunAudit is the conformance suite of the audit log (issue 12, R-ADM-4):
// events listed newest first with every filter and the cursor; an admin
// change's pending event commits in the change's transaction, once, and
// not at all when the change fails; the retention deletes old events only.
func RunAudit(t *testing.T, open func(t *testing.T) *store.DB) {
	ev := func(i int, tenant, actor, action string) *audit.Event {
		tm := at(time.Duration(i) * time.Minute)
		return &audit.Event{ID: audit.NewID(tm), Time: tm, Kind: audit.KindAdmin, TenantID: tenant, Actor: actor, Action: action, Target: fmt.Sprint("apps/", i)}
	}
	actions := func(l []*audit.Event) string {
		var s []string
		for _, e := range l {
			s = append(s, e.Target)
		}
		return fmt.Sprint(s)
	}
	t.Run("Audit/ListFilters_R-ADM-4", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		for _, e := range []*audit.Event{ev(0, "acme", "c1", "POST /apps"), ev(1, "acme", "c2", "DELETE /apps/{client_id}"), ev(2, "beta", "c1", "POST /apps"), ev(3, "", "c1", "POST /tenants")} {
			must(t, db.AppendAuditEvent(t.Context(), e))
		}
		for _, tc := range []struct {
			name string
			f    audit.Filter
			want string
		}{
			{"all", audit.Filter{Limit: 10}, "[apps/3 apps/2 apps/1 apps/0]"},
			{"tenant", audit.Filter{TenantID: "acme", Limit: 10}, "[apps/1 apps/0]"},
			{"actor", audit.Filter{Actor: "c1", Limit: 10}, "[apps/3 apps/2 apps/0]"},
			{"action", audit.Filter{Action: "POST /apps", Limit: 10}, "[apps/2 apps/0]"},
			{"target", audit.Filter{Target: "apps/1", Limit: 10}, "[apps/1]"},
			{"since", audit.Filter{Since: at(2 * time.Minute), Limit: 10}, "[apps/3 apps/2]"},
			{"until", audit.Filter{Until: at(1 * time.Minute), Limit: 10}, "[apps/0]"},
			{"limit", audit.Filter{Limit: 2}, "[apps/3 apps/2]"},
		} {
			l, err := db.ListAuditEvents(t.Context(), tc.f)
			must(t, err)
			if got := actions(l); got != tc.want {
				t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
			}
		}
		first, err := db.ListAuditEvents(t.Context(), audit.Filter{Limit: 2})
		must(t, err)
		rest, err := db.ListAuditEvents(t.Context(), audit.Filter{Before: first[1].ID, Limit: 10})
		must(t, err)
		if got := actions(rest); got != "[apps/1 apps/0]" {
			t.Errorf("after the cursor: %s", got)
		}
		n, err := db.DeleteAuditEventsBefore(t.Context(), at(2*time.Minute), 100)
		must(t, err)
		if l, _ := db.ListAuditEvents(t.Context(), audit.Filter{Limit: 10}); n != 2 || actions(l) != "[apps/3 apps/2]" {
			t.Errorf("retention: %d deleted, left %s", n, actions(l))
		}
	})

	t.Run("Audit/CommitsWithTheChange_R-ADM-4", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		e := ev(5, "acme", "c1", "POST /tenants")
		ctx, p := audit.WithPending(context.Background(), e)
		mk := func(name string) error {
			return db.CreateTenant(ctx, &tenant.Tenant{Name: name, DisplayName: name, SigningAlg: tenant.AlgES256, ConsentPolicy: tenant.ConsentRemember, CreatedAt: at(0), UpdatedAt: at(0)})
		}
		mkTenant(t, db, "acme")
		// A change that fails (the name is taken): no event; it stays
		// pending for the next.
		if err := mk("acme"); err == nil {
			t.Fatal("a second tenant acme was created")
		}
		if l, _ := db.ListAuditEvents(t.Context(), audit.Filter{Limit: 10}); len(l) != 0 {
			t.Fatalf("a failed change left an event: %+v", l[0])
		}
		must(t, mk("beta"))
		must(t, mk("gamma"))
		l, err := db.ListAuditEvents(t.Context(), audit.Filter{Limit: 10})
		must(t, err)
		if len(l) != 1 || l[0].ID != e.ID || l[0].Actor != "c1" || !l[0].Time.Equal(e.Time) {
			t.Fatalf("events after two changes with one pending event: %+v", l)
		}
		if p.Take() != nil {
			t.Error("the event is still pending after it was written")
		}
	})
}
