package store

import (
	"sync"

	"github.com/gatehouse-id/gatehouse/internal/app"
)

// cache holds whole client lookups (app and secrets), by tenant and client ID.
//
// An SQLite database belongs to one Gatehouse process (Open takes an
// exclusive lock on it), so every write to apps, secrets or tenants passes
// through this DB value, which drops the cache: a change is seen by the next
// request, exactly as without the cache. On PostgreSQL replicas write behind
// each other's backs; there the cache is used only while the listener of
// coherence.go hears every replica's writes as they commit.
//
// A lookup that raced with a write must not store what it read: the
// generation counter, bumped by every invalidation, tells. The same cache
// holds the integrations (integrations.go), with the same rule.
type cache[V any] struct {
	mu  sync.RWMutex
	gen uint64
	m   map[string]V
}

type cachedClient struct {
	app     *app.App
	secrets []app.Secret
}

func cacheKey(tenantID, id string) string { return tenantID + "\x00" + id }

func (c *cache[V]) get(tenantID, id string) (V, uint64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.m[cacheKey(tenantID, id)]
	return v, c.gen, ok
}

// put stores a lookup made at generation gen, unless a write came since.
func (c *cache[V]) put(tenantID, id string, gen uint64, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil || len(c.m) >= maxCachedApps {
		c.m = make(map[string]V)
	}
	c.m[cacheKey(tenantID, id)] = v
}

// invalidate drops every cached entry; writes call it after they finish.
func (c *cache[V]) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.m = nil
}
