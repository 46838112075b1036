package oidc_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/keys"
	"github.com/gatehouse-id/gatehouse/internal/seal"
	"github.com/gatehouse-id/gatehouse/internal/store"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
)

// testBase is what every provider test of this package builds alike: a
// real SQLite store under a random master key, tenants with their signing
// keys, and the app service. Each fixture wires its own provider on it.
type testBase struct {
	db   *store.DB
	ring *seal.Ring
	keys *keys.Manager
	apps *app.Service
}

type baseOptions struct {
	tenants []string
	alg     string           // default ES256
	now     func() time.Time // the app service's clock; default time.Now
	// appStore wraps the store for the app service (fixedIDs); default db.
	appStore func(*store.DB) app.Store
}

func newTestBase(tb testing.TB, o baseOptions) *testBase {
	tb.Helper()
	ctx := context.Background()
	mk := make([]byte, 32)
	if _, err := rand.Read(mk); err != nil {
		tb.Fatal(err)
	}
	ring, err := seal.NewRing(mk)
	if err != nil {
		tb.Fatal(err)
	}
	db, err := store.Open(ctx, store.Options{Path: filepath.Join(tb.TempDir(), "g.db"), Seal: ring})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	if o.alg == "" {
		o.alg = tenant.AlgES256
	}
	if o.now == nil {
		o.now = time.Now
	}
	b := &testBase{db: db, ring: ring, keys: &keys.Manager{Store: db, Now: time.Now, RefreshInterval: 5 * time.Second, RetireAfter: time.Hour}}
	now := o.now()
	for _, name := range o.tenants {
		if err := db.CreateTenant(ctx, &tenant.Tenant{Name: name, DisplayName: name, SigningAlg: o.alg, CreatedAt: now, UpdatedAt: now}); err != nil {
			tb.Fatal(err)
		}
		if err := b.keys.Init(ctx, name, o.alg); err != nil {
			tb.Fatal(err)
		}
	}
	var as app.Store = db
	if o.appStore != nil {
		as = o.appStore(db)
	}
	b.apps = &app.Service{Store: as, Hasher: ring, Limits: app.DefaultLimits, Now: o.now}
	return b
}

// mkApp registers a in the tenant and returns it with its secret.
func (b *testBase) mkApp(tb testing.TB, tenantID string, a *app.App) (*app.App, string) {
	tb.Helper()
	c, err := b.apps.Create(context.Background(), tenantID, a, app.SecretOptions{})
	if err != nil {
		tb.Fatalf("create app %s: %v", a.Name, err)
	}
	return c.App, c.ClientSecret
}
