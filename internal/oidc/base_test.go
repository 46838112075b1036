package oidc

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/keys"
	"github.com/gatehouse-id/gatehouse/internal/seal"
	"github.com/gatehouse-id/gatehouse/internal/store"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// TestBase is what every provider test of this package builds alike: a
// real SQLite store under a random master key, tenants with their signing
// keys, and the app service. Each fixture wires its own provider on it. It
// is exported for the package's external tests (oidc_test) and exists in
// test builds only.
type TestBase struct {
	DB   *store.DB
	Ring *seal.Ring
	Keys *keys.Manager
	Apps *app.Service
}

// BaseOptions configure NewTestBase; the zero value is ES256, time.Now.
type BaseOptions struct {
	Tenants []string
	Alg     string           // default ES256
	Now     func() time.Time // the tenants' and the app service's clock; default time.Now
	KeysNow func() time.Time // the key manager's clock; default time.Now
	// RetireAfter is how long a rotated-out key stays published; default 1 h.
	RetireAfter time.Duration
	// AppStore wraps the store for the app service; default the store.
	AppStore func(*store.DB) app.Store
}

// NewTestBase builds the base, closing the store when the test ends.
func NewTestBase(tb testing.TB, o BaseOptions) *TestBase {
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
	if o.Alg == "" {
		o.Alg = tenant.AlgES256
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.KeysNow == nil {
		o.KeysNow = time.Now
	}
	if o.RetireAfter == 0 {
		o.RetireAfter = time.Hour
	}
	b := &TestBase{DB: db, Ring: ring, Keys: &keys.Manager{Store: db, Now: o.KeysNow, RefreshInterval: 5 * time.Second, RetireAfter: o.RetireAfter}}
	now := o.Now()
	for _, name := range o.Tenants {
		if err := db.CreateTenant(ctx, &tenant.Tenant{Name: name, DisplayName: name, SigningAlg: o.Alg, CreatedAt: now, UpdatedAt: now}); err != nil {
			tb.Fatal(err)
		}
		if err := b.Keys.Init(ctx, name, o.Alg); err != nil {
			tb.Fatal(err)
		}
	}
	var as app.Store = db
	if o.AppStore != nil {
		as = o.AppStore(db)
	}
	b.Apps = &app.Service{Store: as, Hasher: ring, Limits: app.DefaultLimits, Now: o.Now}
	return b
}

// MkApp registers a in the tenant and returns it with its secret.
func (b *TestBase) MkApp(tb testing.TB, tenantID string, a *app.App) (*app.App, string) {
	tb.Helper()
	c, err := b.Apps.Create(context.Background(), tenantID, a, app.SecretOptions{})
	if err != nil {
		tb.Fatalf("create app %s: %v", a.Name, err)
	}
	return c.App, c.ClientSecret
}

// TestClock is a settable time source.
type TestClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewTestClock is a clock at t.
func NewTestClock(t time.Time) *TestClock { return &TestClock{t: t} }

// Now is the clock's time.
func (c *TestClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *TestClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestDirectory adds ActiveUserByLogin to user.Service, as the server's
// directory does.
type TestDirectory struct{ *user.Service }

// ActiveUserByLogin finds an active user by username or email.
func (d TestDirectory) ActiveUserByLogin(ctx context.Context, tenantID, login string) (*user.User, error) {
	u, err := d.Store.GetUserByLogin(ctx, tenantID, login)
	if err != nil {
		return nil, err
	}
	return d.ActiveUser(ctx, tenantID, u.ID)
}
