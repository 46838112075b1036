package oidc

import (
	"context"
	"sync"
	"time"
)

// revokedMargin is how far back a refresh reads before its previous one: a
// revocation is stamped with its replica's clock before its transaction
// commits, so a row can appear a little older than the look that missed it.
// Reading a row twice is harmless.
const revokedMargin = 30 * time.Second

// revokedPrune is how often the copy drops the entries of expired tokens.
const revokedPrune = time.Minute

// revokedTokens is a replica's copy of the revoked access tokens that no
// family stands for (client credentials, JWT bearer: RFC 7009, R-OID-1),
// by tenant and jti. Revocation writes through to it, so the replica that
// revoked refuses the token at once; the others read what was revoked since
// their last look at most every Provider.RevokedRefreshInterval, the rule
// the key sets follow (keys.Manager.RefreshInterval). Interval 0 (one
// process on SQLite) never reads again after the first load. Entries leave when their token expires,
// so the copy is bounded by the tokens revoked within one access-token
// lifetime.
type revokedTokens struct {
	mu      sync.RWMutex
	entries map[revokedKey]int64 // expiry, Unix seconds
	loaded  bool
	checked time.Time // when the last refresh started
	pruned  time.Time
	// refresh serializes the refreshes, so one request per interval pays
	// for the read while the others wait for its answer.
	refresh sync.Mutex
}

type revokedKey struct{ tenant, jti string }

// revoked reports whether the token (tenant, jti) was revoked, reading what
// other replicas revoked first when the copy is older than the interval.
// An error (the store did not answer) is reported so that the caller fails
// closed.
func (p *Provider) revoked(ctx context.Context, tid, jti string) (bool, error) {
	r := &p.revokedSet
	now := p.Now()
	r.mu.RLock()
	fresh := r.loaded && (p.RevokedRefreshInterval == 0 || now.Sub(r.checked) < p.RevokedRefreshInterval)
	_, hit := r.entries[revokedKey{tid, jti}]
	r.mu.RUnlock()
	if fresh || hit {
		return hit, nil
	}
	if err := p.refreshRevoked(ctx, now); err != nil {
		return false, err
	}
	r.mu.RLock()
	_, hit = r.entries[revokedKey{tid, jti}]
	r.mu.RUnlock()
	return hit, nil
}

// refreshRevoked reads the revocations recorded since the last look (all of
// them the first time), unless another request did while this one waited.
func (p *Provider) refreshRevoked(ctx context.Context, now time.Time) error {
	r := &p.revokedSet
	r.refresh.Lock()
	defer r.refresh.Unlock()
	r.mu.RLock()
	loaded, checked := r.loaded, r.checked
	r.mu.RUnlock()
	if loaded && (p.RevokedRefreshInterval == 0 || now.Sub(checked) < p.RevokedRefreshInterval) {
		return nil
	}
	var since time.Time
	if loaded {
		since = checked.Add(-revokedMargin)
	}
	rows, err := p.Grants.RevokedTokens(ctx, since, now)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.entries == nil {
		r.entries = make(map[revokedKey]int64, len(rows))
	}
	for _, row := range rows {
		r.entries[revokedKey{row.TenantID, row.JTI}] = row.ExpiresAt.Unix()
	}
	r.loaded, r.checked = true, now
	r.pruneLocked(now)
	return nil
}

// rememberRevoked adds a token this replica revoked, after the store recorded it.
func (p *Provider) rememberRevoked(tid, jti string, expiry int64) {
	r := &p.revokedSet
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.entries == nil {
		r.entries = make(map[revokedKey]int64)
	}
	r.entries[revokedKey{tid, jti}] = expiry
	r.pruneLocked(p.Now())
}

// pruneLocked drops the entries of expired tokens, at most once a
// revokedPrune; r.mu is held for writing.
func (r *revokedTokens) pruneLocked(now time.Time) {
	if now.Sub(r.pruned) < revokedPrune {
		return
	}
	r.pruned = now
	for k, exp := range r.entries {
		if now.Unix() >= exp {
			delete(r.entries, k)
		}
	}
}
