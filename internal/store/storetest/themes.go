package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/store"
	"github.com/gatehouse-id/gatehouse/internal/ui"
)

// RunThemes is the conformance suite of the tenants' login-page themes
// (R-OID-9): GetTheme, SaveTheme and DeleteTheme, one theme per tenant,
// isolated between tenants (R-TEN-1) and removed with the tenant (R-TEN-3).
func RunThemes(t *testing.T, open func(t *testing.T) *store.DB) {
	acme := ui.Theme{
		ProductName: "Acme ID — Ünïcode ✓", LogoURL: "https://cdn.acme.example/logo.png?v=2",
		PrimaryColor: "#ffcc00", BackgroundColor: "#101010",
		Texts: ui.Texts{LoginTitle: "Welcome", LoginIntro: `Use your "Acme" account <b>not</b> HTML`, ConsentTitle: "Share?", Footer: "Help: 555-0100"},
	}
	setup := func(t *testing.T) *store.DB {
		db := open(t)
		mkTenant(t, db, "acme")
		return db
	}
	get := func(t *testing.T, db *store.DB, tenantID string) (ui.Theme, time.Time) {
		t.Helper()
		th, at, err := db.GetTheme(t.Context(), tenantID)
		must(t, err)
		return th, at
	}

	t.Run("Themes/SaveGet_R-OID-9", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		_, _, err := db.GetTheme(t.Context(), "acme")
		wantErr(t, "GetTheme(no theme yet)", err, derrors.NotFound, "")
		must(t, db.SaveTheme(t.Context(), "acme", acme, at(0)))
		th, when := get(t, db, "acme")
		diff(t, "theme", acme, th)
		if !when.Equal(at(0)) {
			t.Errorf("updated_at %v, want %v", when, at(0))
		}
		// Saving again replaces the whole theme: what is left out is empty.
		must(t, db.SaveTheme(t.Context(), "acme", ui.Theme{PrimaryColor: "#000000"}, at(time.Hour)))
		th, when = get(t, db, "acme")
		diff(t, "replaced theme", ui.Theme{PrimaryColor: "#000000"}, th)
		if !when.Equal(at(time.Hour)) {
			t.Errorf("updated_at after the second save %v, want %v", when, at(time.Hour))
		}
	})

	t.Run("Themes/Delete", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		must(t, db.SaveTheme(t.Context(), "acme", acme, at(0)))
		must(t, db.DeleteTheme(t.Context(), "acme"))
		_, _, err := db.GetTheme(t.Context(), "acme")
		wantErr(t, "GetTheme(after delete)", err, derrors.NotFound, "")
		must(t, db.DeleteTheme(t.Context(), "acme")) // nothing there: no error
		must(t, db.SaveTheme(t.Context(), "acme", acme, at(time.Minute)))
		if th, _ := get(t, db, "acme"); th != acme {
			t.Errorf("a theme saved after a delete: %+v", th)
		}
	})

	t.Run("Themes/MissingTenant", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		wantErr(t, "SaveTheme(missing tenant)", db.SaveTheme(t.Context(), "nope", acme, at(0)), derrors.NotFound, "")
		_, _, err := db.GetTheme(t.Context(), "nope")
		wantErr(t, "GetTheme(missing tenant)", err, derrors.NotFound, "")
	})

	t.Run("Themes/TenantIsolation_R-TEN-1", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		mkTenant(t, db, "other")
		must(t, db.SaveTheme(t.Context(), "acme", acme, at(0)))
		_, _, err := db.GetTheme(t.Context(), "other")
		wantErr(t, "GetTheme(other tenant)", err, derrors.NotFound, "")
		must(t, db.SaveTheme(t.Context(), "other", ui.Theme{ProductName: "Other"}, at(time.Second)))
		must(t, db.DeleteTheme(t.Context(), "other"))
		if th, when := get(t, db, "acme"); th != acme || !when.Equal(at(0)) {
			t.Errorf("another tenant's save and delete changed acme's theme: %+v %v", th, when)
		}
	})

	t.Run("Themes/DeleteTenantCascades_R-TEN-3", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		must(t, db.SaveTheme(t.Context(), "acme", acme, at(0)))
		must(t, db.DeleteTenant(t.Context(), "acme"))
		mkTenant(t, db, "acme")
		_, _, err := db.GetTheme(t.Context(), "acme")
		wantErr(t, "GetTheme(recreated tenant)", err, derrors.NotFound, "")
	})

	// Replicas saving at once: every save succeeds (an upsert, never a
	// duplicate-key error) and one of them is the theme in the end.
	t.Run("Themes/ConcurrentSaves", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		const n = 8
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- db.SaveTheme(t.Context(), "acme", ui.Theme{ProductName: fmt.Sprint("replica ", i)}, at(time.Duration(i)*time.Second))
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			must(t, err)
		}
		th, when := get(t, db, "acme")
		var i int
		if _, err := fmt.Sscanf(th.ProductName, "replica %d", &i); err != nil || i < 0 || i >= n || !when.Equal(at(time.Duration(i)*time.Second)) {
			t.Errorf("after concurrent saves: %+v at %v", th, when)
		}
	})
}
