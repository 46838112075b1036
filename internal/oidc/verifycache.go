package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"

	"github.com/gatehouse-id/gatehouse/internal/keys"
)

// verifyCacheSize bounds the tokens a provider remembers as verified: some
// 750 bytes each with their claims, about 15 MB when full.
const verifyCacheSize = 20_000

// evictSample is how many entries a full cache looks at to make room.
const evictSample = 8

// verifyCache remembers the JWT access tokens whose signature a tenant's key
// set verified, so that a token that resource servers introspect over and
// over costs one signature verification, not one per request (R-OID-1).
//
// An entry is the token's decoded claims under the tenant and the SHA-256 of
// the token (never the token). It counts only while the token has not
// expired, the tenant's key set is still the version that verified it and
// still publishes the key (kid) that signed it: after a rotation, or once
// that key leaves the set (its retirement over, or removed), the entry
// misses and Verify decides again.
// Only tokens that verified are remembered. The cache stands for the
// signature alone: liveAccess checks the token's app, family, user and
// permissions on every request, so revocation stays immediate (R-USR-2,
// R-APP-11, R-PRM-2). The zero value is an empty cache.
type verifyCache struct {
	mu      sync.RWMutex
	entries map[verifyKey]verifiedToken
}

type verifyKey struct {
	tenant string
	sum    [sha256.Size]byte
}

type verifiedToken struct {
	claims  *accessClaims // never modified once cached
	version int64         // of the key set that verified the token
	kid     string        // of the key that signed it
}

func tokenKey(tenantID, token string) verifyKey {
	return verifyKey{tenant: tenantID, sum: sha256.Sum256([]byte(token))}
}

// get returns the claims cached under k if they are still good for the
// tenant's key set ks at now (unix seconds). The claims are shared: the
// caller must not modify them.
func (vc *verifyCache) get(k verifyKey, ks *keys.Set, now int64) (*accessClaims, bool) {
	vc.mu.RLock()
	e, ok := vc.entries[k]
	vc.mu.RUnlock()
	if !ok || now >= e.claims.Expiry || e.version != ks.Version || !publishes(ks, e.kid) {
		return nil, false
	}
	return e.claims, true
}

// put remembers a verified token; a full cache first makes room.
func (vc *verifyCache) put(k verifyKey, e verifiedToken, now int64) {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	if vc.entries == nil {
		vc.entries = make(map[verifyKey]verifiedToken)
	}
	if _, ok := vc.entries[k]; !ok && len(vc.entries) >= verifyCacheSize {
		vc.evict(now)
	}
	vc.entries[k] = e
}

// evict drops the expired entries among a few arbitrary ones (a map's
// iteration starts at a random place), or else the first of them.
func (vc *verifyCache) evict(now int64) {
	var first verifyKey
	n, dropped := 0, false
	for k, e := range vc.entries {
		if n == 0 {
			first = k
		}
		if now >= e.claims.Expiry {
			delete(vc.entries, k)
			dropped = true
		}
		if n++; n == evictSample {
			break
		}
	}
	if !dropped {
		delete(vc.entries, first)
	}
}

// publishes reports whether the key set verifies with the key kid.
func publishes(ks *keys.Set, kid string) bool {
	for _, k := range ks.Keys {
		if k.KID == kid {
			return true
		}
	}
	return false
}

// signingKID returns the kid of a compact JWS's protected header.
func signingKID(token string) (string, bool) {
	h, _, ok := strings.Cut(token, ".")
	if !ok {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return "", false
	}
	var hdr struct {
		KID string `json:"kid"`
	}
	if json.Unmarshal(b, &hdr) != nil || hdr.KID == "" {
		return "", false
	}
	return hdr.KID, true
}

// verifiedAccess returns the claims of a JWT access token that one of the
// tenant's published keys signed, from the provider's cache of verified
// tokens or else by verifying the signature. now is in unix seconds. The
// caller gets its own copy of the claims (their slices are shared and must
// not be modified). err is set only when the key set could not be loaded
// from an unreachable store.
func (p *Provider) verifiedAccess(ctx context.Context, tid, token string, now int64) (*accessClaims, bool, error) {
	ks, err := p.Keys.Get(ctx, tid)
	if err != nil {
		return nil, false, unavailable(err)
	}
	k := tokenKey(tid, token)
	if cached, ok := p.verified.get(k, ks, now); ok {
		c := *cached
		return &c, true, nil
	}
	payload, err := ks.Verify(token, keys.TypAccessToken)
	if err != nil {
		return nil, false, nil
	}
	var c accessClaims
	if json.Unmarshal(payload, &c) != nil {
		return nil, false, nil
	}
	if kid, ok := signingKID(token); ok && now < c.Expiry {
		cached := c
		k.tenant = strings.Clone(tid) // not a piece of the request's path
		p.verified.put(k, verifiedToken{claims: &cached, version: ks.Version, kid: kid}, now)
	}
	return &c, true, nil
}
