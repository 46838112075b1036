package oidc

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/grant"
)

// R-OID-1, R-RUN-2: the revocation rule between replicas, on the test clock.
// Two providers share one store; the second reads revocations at most every
// RevokedRefreshInterval. A revoked client-credentials JWT is refused at
// once where it was revoked, by the other replica once its copy is older
// than the interval, and never again accepted; the copy forgets it once it
// has expired, and a store that cannot answer fails closed.
func TestRevokedJTIsAcrossProviders(t *testing.T) {
	e := newVCEnv(t)
	e.p.RevokedRefreshInterval = time.Second
	other := &Provider{
		PublicURL: e.p.PublicURL, Apps: e.p.Apps, Keys: e.p.Keys, Grants: e.p.Grants, Users: e.p.Users, Seal: e.p.Seal,
		Now: e.p.Now, Log: e.p.Log, Metrics: e.p.Metrics, CodeLifetime: time.Minute, RequestLifetime: time.Minute,
		RevokedRefreshInterval: time.Second,
	}
	ctx := context.Background()
	live := func(p *Provider, tok string) bool {
		_, _, _, ok, _ := p.liveAccess(ctx, vcTenant, tok)
		return ok
	}
	tok, kept := e.clientToken(t), e.clientToken(t)
	if !live(other, tok) {
		t.Fatal("a fresh token is not live at the other replica")
	}
	if w := e.post(PathRevocation, url.Values{"token": {tok}}, e.svc); w.Code != http.StatusOK {
		t.Fatalf("revoke: %d %s", w.Code, w.Body)
	}
	if live(e.p, tok) {
		t.Fatal("the replica that revoked the token still accepts it")
	}
	if !live(other, tok) {
		t.Fatal("the other replica read the store before its interval was over: the rule changed")
	}
	e.clock.Advance(time.Second)
	if live(other, tok) {
		t.Fatal("the other replica accepts the token after its interval")
	}
	if !live(other, kept) || !live(e.p, kept) {
		t.Fatal("the revocation of one token refused another")
	}

	// The copy forgets expired tokens (refused for their expiry anyway)
	// at its next look at the store.
	e.clock.Advance(2 * time.Hour)
	if !live(other, e.clientToken(t)) {
		t.Fatal("a new token is not live")
	}
	other.revokedSet.mu.RLock()
	n := len(other.revokedSet.entries)
	other.revokedSet.mu.RUnlock()
	if n != 0 {
		t.Fatalf("the copy keeps %d entries of expired tokens", n)
	}

	// Fails closed: a replica whose copy is stale and whose store does not
	// answer refuses the tokens no family stands for.
	other.Grants = unreadableRevocations{other.Grants}
	e.clock.Advance(time.Second)
	if live(other, e.clientToken(t)) {
		t.Fatal("a stale copy over a store that does not answer accepted a token")
	}
}

// unreadableRevocations is the real store whose revocation list cannot be
// read, as when PostgreSQL is down.
type unreadableRevocations struct{ grant.Store }

func (unreadableRevocations) RevokedTokens(context.Context, time.Time, time.Time) ([]grant.RevokedToken, error) {
	return nil, errors.New("connection refused")
}
