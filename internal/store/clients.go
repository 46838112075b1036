package store

import (
	"sync"

	"github.com/gatehouse-id/gatehouse/internal/app"
)

// clientCache holds whole client lookups (app and secrets).
//
// An SQLite database belongs to one Gatehouse process (Open takes an
// exclusive lock on it), so every write to apps, secrets or tenants passes
// through this DB value, which drops the cache: a change is seen by the next
// request, exactly as without the cache. On PostgreSQL replicas write behind
// each other's backs; there the cache is used only while the listener of
// coherence.go hears every replica's writes as they commit.
//
// A lookup that raced with a write must not store what it read: the
// generation counter, bumped by every invalidation, tells.
type clientCache struct {
	mu      sync.RWMutex
	gen     uint64
	clients map[string]cachedClient
}

type cachedClient struct {
	app     *app.App
	secrets []app.Secret
}

func clientKey(tenantID, clientID string) string { return tenantID + "\x00" + clientID }

func (c *clientCache) get(tenantID, clientID string) (cachedClient, uint64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	cc, ok := c.clients[clientKey(tenantID, clientID)]
	return cc, c.gen, ok
}

// put stores a lookup made at generation gen, unless a write came since.
func (c *clientCache) put(tenantID, clientID string, gen uint64, cc cachedClient) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.clients == nil || len(c.clients) >= maxCachedApps {
		c.clients = make(map[string]cachedClient)
	}
	c.clients[clientKey(tenantID, clientID)] = cc
}

// invalidate drops every cached client; writes call it after they finish.
func (c *clientCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.clients = nil
}
