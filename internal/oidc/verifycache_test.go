package oidc

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/keys"
	"github.com/gatehouse-id/gatehouse/internal/store"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// The cache of verified access tokens, inside the package so that the tests
// can see its entries; the provider is wired over a real SQLite store as
// internal/server wires it.

const (
	vcPublicURL = "https://id.example.com"
	vcTenant    = "acme"
	vcRedirect  = "https://app.example.com/cb"
)

type vcApp struct {
	*app.App
	Secret string
}

// vcEnv is tenant acme (ES256) with a first-party web app, an s2s app with
// the client_credentials grant, a resource server that introspects and the
// user alice. The provider and the services
// run on clock, the key manager on keyClock: moving the keys' time alone
// retires a rotated-out key while the tokens it signed are still unexpired
// for the provider.
type vcEnv struct {
	db       *store.DB
	p        *Provider
	mux      *http.ServeMux
	clock    *TestClock
	keyClock *TestClock
	users    *user.Service
	user     *user.User
	web, svc vcApp
	rs       vcApp
}

func newVCEnv(tb testing.TB) *vcEnv {
	tb.Helper()
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	clock, keyClock := NewTestClock(now), NewTestClock(now)
	b := NewTestBase(tb, BaseOptions{Tenants: []string{vcTenant}, Now: clock.Now, KeysNow: keyClock.Now, RetireAfter: 2 * time.Hour})
	db, ring, apps, km := b.DB, b.Ring, b.Apps, b.Keys
	e := &vcEnv{db: db, clock: clock, keyClock: keyClock}
	mkApp := func(a *app.App) vcApp {
		tb.Helper()
		c, secret := b.MkApp(tb, vcTenant, a)
		return vcApp{c, secret}
	}
	e.web = mkApp(&app.App{Name: "web", Type: app.Web, FirstParty: true, Scopes: []string{"api"}, RedirectURIs: []string{vcRedirect}})
	e.svc = mkApp(&app.App{Name: "svc", Type: app.S2S, Scopes: []string{"api"}})
	e.rs = mkApp(&app.App{Name: "rs", Type: app.S2S})
	// Small argon2id parameters: the race detector makes the default ones slow.
	e.users = &user.Service{Store: db, Now: e.clock.Now, Params: user.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}
	var err error
	if e.user, err = e.users.Create(ctx, vcTenant, &user.User{Username: "alice", Email: "alice@example.com", State: user.Active}, "correct horse battery staple"); err != nil {
		tb.Fatal(err)
	}
	e.p = &Provider{
		PublicURL: vcPublicURL, Apps: apps, Keys: km, Grants: db, Tenants: db, Users: TestDirectory{e.users}, Seal: ring,
		Now: e.clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(prometheus.NewRegistry()),
		CodeLifetime: time.Minute, RequestLifetime: 30 * time.Minute, RefreshGrace: 5 * time.Second,
	}
	e.mux = http.NewServeMux()
	e.p.Register(e.mux)
	return e
}

func (e *vcEnv) post(path string, form url.Values, c vcApp) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/t/"+vcTenant+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(url.QueryEscape(c.ClientID), url.QueryEscape(c.Secret))
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, r)
	return w
}

// accessToken is the access token of a new user grant of the web app: a
// code stored as the authorization endpoint stores it, then exchanged.
func (e *vcEnv) accessToken(tb testing.TB) string {
	tb.Helper()
	code, now := grant.NewSecret(), e.clock.Now()
	err := e.db.CreateCode(context.Background(), vcTenant, &grant.Code{
		Hash: grant.Hash(code), ClientID: e.web.ClientID, UserID: e.user.ID, SID: grant.NewID(), RedirectURI: vcRedirect,
		Scope: []string{"openid", "api"}, Nonce: "n", AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Minute),
	}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return e.token(tb, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {vcRedirect}}, e.web)
}

// clientToken is a client_credentials access token of the s2s app.
func (e *vcEnv) clientToken(tb testing.TB) string {
	tb.Helper()
	return e.token(tb, url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}}, e.svc)
}

func (e *vcEnv) token(tb testing.TB, form url.Values, c vcApp) string {
	tb.Helper()
	w := e.post(PathToken, form, c)
	var t TokenResponse
	if err := json.Unmarshal(w.Body.Bytes(), &t); err != nil || w.Code != http.StatusOK || strings.Count(t.AccessToken, ".") != 2 {
		tb.Fatalf("token endpoint: %d %s", w.Code, w.Body)
	}
	return t.AccessToken
}

// introspect asks the introspection endpoint about token as the resource
// server.
func (e *vcEnv) introspect(tb testing.TB, token string) map[string]any {
	tb.Helper()
	w := e.post(PathIntrospection, url.Values{"token": {token}}, e.rs)
	var out map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || w.Code != http.StatusOK {
		tb.Fatalf("introspect: %d %s", w.Code, w.Body)
	}
	return out
}

// cached returns the cache's claims for token as the tenant's current key
// set sees them at the provider's time.
func (e *vcEnv) cached(tb testing.TB, token string) (*accessClaims, bool) {
	tb.Helper()
	ks, err := e.p.Keys.Get(context.Background(), vcTenant)
	if err != nil {
		tb.Fatal(err)
	}
	return e.p.verified.get(tokenKey(vcTenant, token), ks, e.clock.Now().Unix())
}

func (e *vcEnv) cacheLen() int {
	e.p.verified.mu.RLock()
	defer e.p.verified.mu.RUnlock()
	return len(e.p.verified.entries)
}

func TestVerifyCacheHit(t *testing.T) {
	e := newVCEnv(t)
	tok := e.accessToken(t)
	if _, ok := e.cached(t, tok); ok {
		t.Fatal("a token nobody introspected is cached")
	}
	first := e.introspect(t, tok)
	if first["active"] != true || first["sub"] != e.user.ID || first["username"] != "alice" {
		t.Fatalf("introspection: %v", first)
	}
	got, ok := e.cached(t, tok)
	if !ok {
		t.Fatal("a verified token is not cached")
	}
	ks, err := e.p.Keys.Get(context.Background(), vcTenant)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := ks.Verify(tok, keys.TypAccessToken)
	if err != nil {
		t.Fatal(err)
	}
	var want accessClaims
	if err := json.Unmarshal(payload, &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("cached claims (-verified +cached):\n%s", diff)
	}
	// The second answer comes from the cached signature and is the same.
	if diff := cmp.Diff(first, e.introspect(t, tok)); diff != "" {
		t.Errorf("introspection from the cache (-first +second):\n%s", diff)
	}
	// The caller's claims are its own copy.
	c, _, _, ok, _ := e.p.liveAccess(context.Background(), vcTenant, tok)
	if !ok {
		t.Fatal("liveAccess: not live")
	}
	c.Subject = "someone else"
	if got, _ := e.cached(t, tok); got.Subject != e.user.ID {
		t.Errorf("a caller's change reached the cache: sub %q", got.Subject)
	}
	if n := e.cacheLen(); n != 1 {
		t.Errorf("%d entries for one token, want 1", n)
	}
}

// A token whose signature does not verify is never cached: it would let
// anyone fill the cache.
func TestVerifyCacheFailureNotCached(t *testing.T) {
	e := newVCEnv(t)
	tok := e.accessToken(t)
	// Another token's signature: well-formed, signed by us, and wrong.
	other := e.accessToken(t)
	forged := tok[:strings.LastIndex(tok, ".")] + other[strings.LastIndex(other, "."):]
	if in := e.introspect(t, forged); in["active"] != false {
		t.Fatalf("a token with another token's signature is active: %v", in)
	}
	if n := e.cacheLen(); n != 0 {
		t.Errorf("%d entries after a failed verification, want 0", n)
	}
}

func TestVerifyCacheExpired(t *testing.T) {
	e := newVCEnv(t)
	tok := e.accessToken(t)
	if in := e.introspect(t, tok); in["active"] != true {
		t.Fatalf("introspection: %v", in)
	}
	c, ok := e.cached(t, tok)
	if !ok {
		t.Fatal("not cached")
	}
	e.clock.Advance(time.Duration(c.Expiry-e.clock.Now().Unix()) * time.Second)
	if _, ok := e.cached(t, tok); ok {
		t.Error("the cache answers for a token at its exp")
	}
	if in := e.introspect(t, tok); in["active"] != false {
		t.Errorf("an expired token is active: %v", in)
	}
}

// An entry lasts no longer than the key that verified it: a rotation makes
// the token verify again, and once its key is no longer published (its
// retirement over, or removed from the store), the token is inactive even
// though it has not expired.
func TestVerifyCacheKeyRetired(t *testing.T) {
	ctx := context.Background()
	for _, how := range []string{"retirement over", "key removed"} {
		t.Run(how, func(t *testing.T) {
			e := newVCEnv(t)
			tok := e.accessToken(t)
			if in := e.introspect(t, tok); in["active"] != true {
				t.Fatalf("introspection: %v", in)
			}
			before, err := e.p.Keys.Get(ctx, vcTenant)
			if err != nil {
				t.Fatal(err)
			}
			kid := before.Active().KID
			if err := e.p.Keys.Rotate(ctx, vcTenant, tenant.AlgES256); err != nil {
				t.Fatal(err)
			}
			if _, ok := e.cached(t, tok); ok {
				t.Fatal("the entry outlived the key set version that verified it")
			}
			// Retired, the key is still published: the token verifies.
			if in := e.introspect(t, tok); in["active"] != true {
				t.Fatalf("a token of the retired key, during its retirement: %v", in)
			}
			if _, ok := e.cached(t, tok); !ok {
				t.Fatal("not cached again after the rotation")
			}
			switch how {
			case "retirement over":
				// The key set's version stays; the retired key leaves it.
				e.keyClock.Advance(e.p.Keys.RetireAfter + time.Second)
			case "key removed":
				ks, ver, err := e.db.ListKeys(ctx, vcTenant)
				if err != nil {
					t.Fatal(err)
				}
				var found bool
				for _, k := range ks {
					found = found || k.KID == kid
				}
				if !found {
					t.Fatalf("key %s is not stored", kid)
				}
				if err := e.db.SaveKeys(ctx, vcTenant, ver, nil, []string{kid}); err != nil {
					t.Fatal(err)
				}
				e.keyClock.Advance(e.p.Keys.RefreshInterval)
			}
			ks, err := e.p.Keys.Get(ctx, vcTenant)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ks.Verify(tok, keys.TypAccessToken); err == nil {
				t.Fatal("the token still verifies with the tenant's keys")
			}
			if in := e.introspect(t, tok); in["active"] != false {
				t.Errorf("a token whose key is gone is active: %v", in)
			}
		})
	}
}

// The cache stands for the signature alone: revocation is immediate.
func TestVerifyCacheRevocation(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		client bool // a client_credentials token: no family, no user
		revoke func(t *testing.T, e *vcEnv, token string)
	}{
		{"family revoked", false, func(t *testing.T, e *vcEnv, token string) {
			// The revocation endpoint, as the client that got the token.
			if w := e.post(PathRevocation, url.Values{"token": {token}}, e.web); w.Code != http.StatusOK {
				t.Fatalf("revoke: %d %s", w.Code, w.Body)
			}
		}},
		{"user blocked", false, func(t *testing.T, e *vcEnv, _ string) {
			if _, err := e.users.Block(ctx, vcTenant, e.user.ID); err != nil {
				t.Fatal(err)
			}
		}},
		{"user blocked and unblocked", false, func(t *testing.T, e *vcEnv, _ string) {
			e.clock.Advance(time.Second) // the block comes after the grant
			if _, err := e.users.Block(ctx, vcTenant, e.user.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := e.users.Unblock(ctx, vcTenant, e.user.ID); err != nil {
				t.Fatal(err)
			}
		}},
		{"app deleted", true, func(t *testing.T, e *vcEnv, _ string) {
			if err := e.db.DeleteApp(ctx, vcTenant, e.svc.ClientID); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newVCEnv(t)
			tok := e.accessToken(t)
			if c.client {
				tok = e.clientToken(t)
			}
			for range 2 {
				if in := e.introspect(t, tok); in["active"] != true {
					t.Fatalf("introspection: %v", in)
				}
			}
			c.revoke(t, e, tok)
			if _, ok := e.cached(t, tok); !ok {
				t.Fatal("the signature is no longer cached")
			}
			if in := e.introspect(t, tok); in["active"] != false {
				t.Errorf("active after %s: %v", c.name, in)
			}
		})
	}
}

// Introspection of the same tokens from several goroutines while the cache
// is filled past its bound (run with -race).
func TestVerifyCacheConcurrent(t *testing.T) {
	e := newVCEnv(t)
	toks := []string{e.accessToken(t), e.accessToken(t), e.accessToken(t)}
	ctx := context.Background()
	ks, err := e.p.Keys.Get(ctx, vcTenant)
	if err != nil {
		t.Fatal(err)
	}
	c, _, _, ok, _ := e.p.liveAccess(ctx, vcTenant, toks[0])
	if !ok {
		t.Fatal("not live")
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		now := e.clock.Now().Unix()
		for i := range verifyCacheSize + evictSample {
			e.p.verified.put(fillerKey(i), verifiedToken{claims: c, version: ks.Version, kid: ks.Active().KID}, now)
		}
	})
	for g := range 4 {
		wg.Go(func() {
			for i := range 20 {
				tok := toks[(g+i)%len(toks)]
				if c, _, _, ok, _ := e.p.liveAccess(ctx, vcTenant, tok); !ok || c.Subject != e.user.ID {
					t.Errorf("liveAccess: %v %+v", ok, c)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := e.cacheLen(); n > verifyCacheSize {
		t.Errorf("%d entries, bound %d", n, verifyCacheSize)
	}
}

func fillerKey(i int) verifyKey {
	var k verifyKey
	k.tenant = vcTenant
	k.sum[0], k.sum[1], k.sum[2], k.sum[3] = byte(i), byte(i>>8), byte(i>>16), 0xff
	return k
}

func TestVerifyCacheBound(t *testing.T) {
	var vc verifyCache
	const now = 1_000_000
	live := &accessClaims{Expiry: now + 3600}
	for i := range verifyCacheSize + 1000 {
		vc.put(fillerKey(i), verifiedToken{claims: live, kid: "k"}, now)
		if len(vc.entries) > verifyCacheSize {
			t.Fatalf("%d entries after %d puts, bound %d", len(vc.entries), i+1, verifyCacheSize)
		}
	}
	if len(vc.entries) != verifyCacheSize {
		t.Errorf("%d entries, want the bound %d", len(vc.entries), verifyCacheSize)
	}
	// A full cache of expired entries makes room with them.
	vc = verifyCache{}
	expired := &accessClaims{Expiry: now}
	for i := range verifyCacheSize {
		vc.put(fillerKey(i), verifiedToken{claims: expired, kid: "k"}, now-1)
	}
	vc.put(fillerKey(verifyCacheSize), verifiedToken{claims: live, kid: "k"}, now)
	if n := len(vc.entries); n > verifyCacheSize-1 {
		t.Errorf("%d entries after a put into a cache full of expired ones, want fewer than %d", n, verifyCacheSize)
	}
	if _, ok := vc.entries[fillerKey(verifyCacheSize)]; !ok {
		t.Error("the new entry is missing")
	}
}
