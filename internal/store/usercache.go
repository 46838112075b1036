package store

import (
	"slices"
	"sync"

	"github.com/gatehouse-id/gatehouse/internal/user"
)

// userCache holds users and their access per app (GetUser, Access), with
// the same rule as the client cache (clients.go): on SQLite one process owns the database, so
// every write passes through this DB; on PostgreSQL the listener of
// coherence.go drops it when another replica's write commits.
//
// Coherence is safe by default: every write transaction (DB.tx, DB.exec)
// drops the cache when it returns, except the writes of the grant tables
// (codes, families, refresh tokens, sessions, requests, login failures),
// which go through grantTx and grantExec and cannot change a user, a role
// or a permission. A block, a role change or a deleted permission is
// therefore seen by the next request, as without the cache (R-USR-2,
// R-PRM-2). A lookup that raced with a write does not store what it read:
// the generation counter, bumped by every invalidation, tells.
type userCache struct {
	mu     sync.RWMutex
	gen    uint64
	users  map[string]user.User
	access map[string]accessEntry
}

type accessEntry struct{ roles, perms []string }

func userKey(tenantID, userID string) string { return tenantID + "\x00" + userID }

func accessKey(tenantID, userID, clientID string) string {
	return tenantID + "\x00" + userID + "\x00" + clientID
}

// user returns a copy of the cached user, and the generation to store a
// fresh lookup at.
func (c *userCache) user(tenantID, userID string) (*user.User, uint64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	u, ok := c.users[userKey(tenantID, userID)]
	if !ok {
		return nil, c.gen, false
	}
	u.Groups = slices.Clone(u.Groups)
	return &u, c.gen, true
}

func (c *userCache) putUser(gen uint64, u *user.User, tenantID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.users == nil || len(c.users) >= maxCachedApps {
		c.users = make(map[string]user.User)
	}
	v := *u
	v.Groups = slices.Clone(u.Groups)
	c.users[userKey(tenantID, u.ID)] = v
}

func (c *userCache) accessOf(tenantID, userID, clientID string) ([]string, []string, uint64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	a, ok := c.access[accessKey(tenantID, userID, clientID)]
	if !ok {
		return nil, nil, c.gen, false
	}
	return slices.Clone(a.roles), slices.Clone(a.perms), c.gen, true
}

func (c *userCache) putAccess(gen uint64, tenantID, userID, clientID string, roles, perms []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.access == nil || len(c.access) >= maxCachedApps {
		c.access = make(map[string]accessEntry)
	}
	c.access[accessKey(tenantID, userID, clientID)] = accessEntry{slices.Clone(roles), slices.Clone(perms)}
}

// invalidate drops every cached user and access; writes call it when they
// return.
func (c *userCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.users, c.access = nil, nil
}
