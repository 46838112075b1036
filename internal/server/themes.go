package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/ui"
)

// Tenant themes (R-OID-9) are read on every page and stylesheet request, so
// each replica keeps them for a few seconds: a change made through another
// replica shows within themeTTL, one made through this replica at once (the
// admin API's writes go through the cache). Tenants cost rows, not memory:
// the cache holds at most themeCacheSize tenants, tenants without a theme
// included.
const (
	themeTTL       = 5 * time.Second
	themeCacheSize = 4096
)

// themeSource is where themes are kept (store.DB).
type themeSource interface {
	GetTheme(ctx context.Context, tenantID string) (ui.Theme, time.Time, error)
	SaveTheme(ctx context.Context, tenantID string, t ui.Theme, at time.Time) error
	DeleteTheme(ctx context.Context, tenantID string) error
}

type cachedTheme struct {
	theme   ui.Theme
	expires time.Time
}

// themeCache serves login.Pages.Themes and, as an adminapi.ThemeStore,
// forgets a tenant's entry when its theme is saved or deleted.
type themeCache struct {
	themeSource
	ttl time.Duration
	max int
	now func() time.Time
	log *slog.Logger

	mu  sync.Mutex
	m   map[string]cachedTheme
	gen uint64 // counts writes, so that a load that raced with one is not kept
}

func newThemeCache(src themeSource, log *slog.Logger) *themeCache {
	return &themeCache{themeSource: src, ttl: themeTTL, max: themeCacheSize, now: time.Now, log: log, m: map[string]cachedTheme{}}
}

// Theme returns the tenant's theme, or ui.DefaultTheme when it has none.
// A database error is logged and answered with the last theme known, or
// the default: a page never fails for its looks.
func (c *themeCache) Theme(ctx context.Context, tenantID string) ui.Theme {
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[tenantID]
	gen := c.gen
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.theme
	}
	t, _, err := c.GetTheme(ctx, tenantID)
	switch {
	case derrors.Is(err, derrors.NotFound):
		t = ui.DefaultTheme()
	case err != nil:
		c.log.WarnContext(ctx, "cannot load the tenant's theme; using the last one known or the default", "tenant", tenantID, "error", err)
		if ok {
			return e.theme
		}
		return ui.DefaultTheme()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return t // a write came in meanwhile: t may be older than it
	}
	if _, present := c.m[tenantID]; !present && len(c.m) >= c.max {
		c.evict(now)
	}
	c.m[tenantID] = cachedTheme{theme: t, expires: now.Add(c.ttl)}
	return t
}

// evict makes room for one entry: it drops the expired entries, or, when
// none has expired, an arbitrary one. c.mu is held.
func (c *themeCache) evict(now time.Time) {
	for k, e := range c.m {
		if !now.Before(e.expires) {
			delete(c.m, k)
		}
	}
	for k := range c.m {
		if len(c.m) < c.max {
			return
		}
		delete(c.m, k)
	}
}

func (c *themeCache) forget(tenantID string) {
	c.mu.Lock()
	delete(c.m, tenantID)
	c.gen++
	c.mu.Unlock()
}

// SaveTheme saves through to the store and forgets the cached entry.
func (c *themeCache) SaveTheme(ctx context.Context, tenantID string, t ui.Theme, at time.Time) error {
	defer c.forget(tenantID)
	return c.themeSource.SaveTheme(ctx, tenantID, t, at)
}

// DeleteTheme deletes in the store and forgets the cached entry.
func (c *themeCache) DeleteTheme(ctx context.Context, tenantID string) error {
	defer c.forget(tenantID)
	return c.themeSource.DeleteTheme(ctx, tenantID)
}
