package oidc_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/login"
	"github.com/gatehouse-id/gatehouse/internal/oidc"
	"github.com/gatehouse-id/gatehouse/internal/store"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// The provider and pages of these tests are wired as internal/server wires
// them: the real SQLite store, app.Service, user.Service and login.Pages as
// the SSO session.

const (
	testPublicURL = "https://id.example.com"
	testTenant    = "acme"
	testIssuer    = testPublicURL + "/t/" + testTenant
	testPassword  = "correct horse battery staple"
	codeLifetime  = 60 * time.Second
)

// fixedIDs gives each app created through app.Service a client ID made of
// its name, so that the apps have the same IDs in every process: the seed
// inputs of a fuzz target, made in one process, name the same apps in the
// fuzzing workers.
type fixedIDs struct{ *store.DB }

func (s fixedIDs) CreateApp(ctx context.Context, tenantID string, a *app.App, sec *app.Secret, maxApps int) error {
	a.ClientID = (strings.ToLower(a.Name) + strings.Repeat("0", app.ClientIDLength))[:app.ClientIDLength]
	return s.DB.CreateApp(ctx, tenantID, a, sec, maxApps)
}

// s2sKeyPEM is the s2s app's assertion key, fixed for the same reason.
const s2sKeyPEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgctfO7vvZ79kIsMAN
l5aNWiJckiIE6KEXPAkmabHano+hRANCAAQexA81RyAs9RIFA9vEFEWxFUBV28Zo
H8GJrr8V8DiaSUGDYGQnRjlactsMdwzbDmMOn8LGWUDPEIPbar0Vs327
-----END PRIVATE KEY-----`

func parseECKey(tb testing.TB, pemText string) *ecdsa.PrivateKey {
	tb.Helper()
	b, _ := pem.Decode([]byte(pemText))
	if b == nil {
		tb.Fatal("no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	return k.(*ecdsa.PrivateKey)
}

// testApp is a registered app and its secret (confidential apps only).
type testApp struct {
	*app.App
	Secret string
}

// authEnv is a provider with the login pages on one mux, over a real SQLite
// store with the tenants acme and other, apps of every type in acme and
// the user alice.
type authEnv struct {
	db       *store.DB
	clock    *oidc.TestClock
	provider *oidc.Provider
	pages    *login.Pages
	mux      *http.ServeMux
	user     *user.User

	web      testApp // first-party web app
	web2     testApp // another first-party web app
	partner  testApp // third-party web app (needs consent)
	strict   testApp // web app with force_pkce
	spa      testApp
	native   testApp
	implicit testApp // web app whose grants lack authorization_code
	pwOnly   testApp // web app with the password grant only: no redirect URIs
	s2s      testApp // s2s app with an ES256 key for assertions
	s2sKey   *ecdsa.PrivateKey
	webKeyed testApp // web app with the JWT bearer grant and no keys
}

func newAuthEnv(tb testing.TB) *authEnv {
	tb.Helper()
	ctx := context.Background()
	clock := oidc.NewTestClock(time.Now().Truncate(time.Second))
	b := oidc.NewTestBase(tb, oidc.BaseOptions{Tenants: []string{testTenant, "other"}, Now: clock.Now,
		AppStore: func(db *store.DB) app.Store { return fixedIDs{db} }})
	db, ring, apps, km := b.DB, b.Ring, b.Apps, b.Keys
	e := &authEnv{db: db, clock: clock}
	mkApp := func(a *app.App) testApp {
		tb.Helper()
		c, secret := b.MkApp(tb, testTenant, a)
		return testApp{App: c, Secret: secret}
	}
	e.web = mkApp(&app.App{Name: "web", Type: app.Web, FirstParty: true, Scopes: []string{"api"},
		RedirectURIs: []string{"https://app.example.com/callback", "https://app.example.com/cb2?x=1"}, RefreshTokenLifetime: -1})
	e.web2 = mkApp(&app.App{Name: "web2", Type: app.Web, FirstParty: true,
		RedirectURIs: []string{"https://app.example.com/callback"}, RefreshTokenLifetime: -1})
	e.partner = mkApp(&app.App{Name: "partner", Type: app.Web, FirstParty: false,
		RedirectURIs: []string{"https://partner.example.com/callback"}, RefreshTokenLifetime: -1})
	e.strict = mkApp(&app.App{Name: "strict", Type: app.Web, FirstParty: true, ForcePKCE: true,
		RedirectURIs: []string{"https://strict.example.com/callback"}, RefreshTokenLifetime: -1})
	e.spa = mkApp(&app.App{Name: "spa", Type: app.SPA, FirstParty: true,
		RedirectURIs: []string{"https://spa.example.com/cb"}, RefreshTokenLifetime: -1})
	e.native = mkApp(&app.App{Name: "native", Type: app.Native, FirstParty: true,
		RedirectURIs: []string{"http://127.0.0.1/callback", "com.example.app:/cb"}, RefreshTokenLifetime: -1})
	e.implicit = mkApp(&app.App{Name: "implicit", Type: app.Web, FirstParty: true, DeveloperMode: true,
		GrantTypes: []string{app.GrantImplicit}, RedirectURIs: []string{"https://dev.example.com/cb"}})
	e.pwOnly = mkApp(&app.App{Name: "pwonly", Type: app.Web, FirstParty: true, GrantTypes: []string{app.GrantPassword}})
	e.webKeyed = mkApp(&app.App{Name: "webjwt", Type: app.Web, FirstParty: true,
		GrantTypes: []string{app.GrantAuthorizationCode, app.GrantJWTBearer}, RedirectURIs: []string{"https://jwt.example.com/cb"}})
	e.s2sKey = parseECKey(tb, s2sKeyPEM)
	e.s2s = mkApp(&app.App{Name: "svc", Type: app.S2S, Scopes: []string{"api"},
		GrantTypes: []string{app.GrantClientCredentials, app.GrantJWTBearer},
		JWKS:       &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &e.s2sKey.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}})

	// Small argon2id parameters: the race detector makes the default ones slow.
	users := &user.Service{Store: db, Now: e.clock.Now, Params: user.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}
	var err error
	if e.user, err = users.Create(ctx, testTenant, &user.User{Username: "alice", Email: "alice@example.com", State: user.Active}, testPassword); err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	limiter := &login.Limiter{Store: db, Now: e.clock.Now, Log: log, LockoutThreshold: -1, LockoutDuration: -1}
	e.pages = &login.Pages{
		PublicURL: testPublicURL, Users: users, Store: db, Apps: db, Now: e.clock.Now, Log: log,
		Limiter: limiter, CSRFKey: []byte("test form key"),
	}
	e.provider = &oidc.Provider{
		PublicURL: testPublicURL, Apps: apps, Keys: km, Grants: db, Tenants: db, Users: oidc.TestDirectory{Service: users},
		Sessions: e.pages, Seal: ring, Throttle: limiter, Now: e.clock.Now, Log: log,
		Metrics:      oidc.NewMetrics(prometheus.NewRegistry()),
		CodeLifetime: codeLifetime, RequestLifetime: 30 * time.Minute, RefreshGrace: 5 * time.Second,
	}
	e.mux = http.NewServeMux()
	e.pages.Register(e.mux)
	e.provider.Register(e.mux)
	return e
}

// serve sends r to the mux with the cookies.
func (e *authEnv) serve(r *http.Request, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	for _, c := range cookies {
		r.AddCookie(c)
	}
	r.RemoteAddr = "192.0.2.1:1234"
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, r)
	return w
}

// authorize sends GET /t/{tenant}/oauth/authorize with the raw query.
func (e *authEnv) authorize(tenantID, rawQuery string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/t/"+tenantID+"/oauth/authorize", nil)
	r.URL.RawQuery = rawQuery
	r.RequestURI = r.URL.RequestURI()
	return e.serve(r, cookies...)
}

// token posts form to the token endpoint, with Basic credentials when id is
// not empty.
func (e *authEnv) token(form url.Values, id, secret string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/t/"+testTenant+"/oauth/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return e.serve(r)
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// login signs alice in through the real login page and returns the
// browser's cookies (session and form nonce).
func (e *authEnv) login(tb testing.TB) []*http.Cookie {
	tb.Helper()
	cookies, _ := e.signIn(tb, nil, "/t/"+testTenant+"/login")
	return cookies
}

// signIn fills in the login form at page (a path, with ?request= when it
// continues an authorization request) as alice, with the browser's cookies.
// It returns the cookies after the sign-in and where the browser is sent.
func (e *authEnv) signIn(tb testing.TB, cookies []*http.Cookie, page string) ([]*http.Cookie, string) {
	tb.Helper()
	jar := map[string]*http.Cookie{}
	keep := func(w *httptest.ResponseRecorder) {
		for _, c := range w.Result().Cookies() {
			jar[c.Name] = &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	all := func() []*http.Cookie {
		var out []*http.Cookie
		for _, c := range jar {
			out = append(out, c)
		}
		return out
	}
	for _, c := range cookies {
		jar[c.Name] = c
	}
	w := e.serve(httptest.NewRequest(http.MethodGet, page, nil), all()...)
	m := csrfInput.FindStringSubmatch(w.Body.String())
	if w.Code != http.StatusOK || m == nil {
		tb.Fatalf("login page: %d\n%s", w.Code, w.Body)
	}
	keep(w)
	form := url.Values{"csrf_token": {m[1]}, "username": {"alice"}, "password": {testPassword}}
	r := httptest.NewRequest(http.MethodPost, page, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", testPublicURL)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	w = e.serve(r, all()...)
	if w.Code != http.StatusSeeOther {
		tb.Fatalf("login: %d\n%s", w.Code, w.Body)
	}
	keep(w)
	if jar[e.pages.CookieName(testTenant)] == nil {
		tb.Fatalf("login set no session cookie: %v", w.Result().Cookies())
	}
	return all(), w.Header().Get("Location")
}

// pkce is a fixed verifier and its S256 challenge (RFC 7636 appendix B).
const (
	pkceVerifier  = "dBjftJeZ4CVP-mJ0kYrq0z7PJjyEXVH5G7Bs5Y4qW7gN8RMN3k2OhgR0-6C8V8Hz"
	pkceChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URXbZJX3KFLBAw"
)

// query builds a raw query from pairs, in order (repeats allowed).
func query(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(kv[i]) + "=" + url.QueryEscape(kv[i+1]))
	}
	return b.String()
}

// codeFor runs the authorization request with alice's session and returns
// the code the client receives.
func (e *authEnv) codeFor(t *testing.T, cookies []*http.Cookie, a testApp, extra ...string) string {
	t.Helper()
	q := append([]string{"client_id", a.ClientID, "redirect_uri", a.RedirectURIs[0], "response_type", "code", "scope", "openid"}, extra...)
	w := e.authorize(testTenant, query(q...), cookies...)
	loc, err := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusSeeOther || err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: %d %q\n%s", w.Code, w.Header().Get("Location"), w.Body)
	}
	return loc.Query().Get("code")
}

// tokenError decodes an RFC 6749 §5.2 error response.
func tokenError(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var doc struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatalf("%d: not JSON: %s", w.Code, w.Body)
	}
	return doc.Error
}

// TestAuthorizeErrors: what a client sees for each faulty authorization
// request (RFC 6749 §4.1.2.1, OpenID Connect Core §3.1.2.6, RFC 9207,
// R-OID-2, R-OID-8). Before the client and redirect URI are known good the
// answer is an error page, never a redirect; after, a redirect to the
// registered URI with error, state and iss.
func TestAuthorizeErrors(t *testing.T) {
	e := newAuthEnv(t)
	session := e.login(t)
	// alice consented to the partner app for openid, a second after she
	// signed in; the requests come a second later.
	e.clock.Advance(time.Second)
	if err := e.db.SaveConsent(t.Context(), testTenant, &grant.Consent{UserID: e.user.ID, ClientID: e.partner.ClientID, Scope: []string{"openid"}, CreatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	web, spa, native := e.web, e.spa, e.native
	good := func(a testApp, kv ...string) string {
		return query(append([]string{"client_id", a.ClientID, "redirect_uri", a.RedirectURIs[0], "response_type", "code", "state", "xyz"}, kv...)...)
	}
	pkce := []string{"code_challenge", pkceChallenge, "code_challenge_method", "S256"}

	tests := []struct {
		name    string
		tenant  string // default acme
		method  string // default GET
		query   string
		session bool
		// A page: status 400 and no Location.
		page bool
		// Otherwise a 303 to redirect (default: the app's first URI) whose
		// query has error (empty: a code) and state as given.
		redirect string
		err      string
		state    string
		// fragment: the answer is in the fragment (implicit response
		// types), not the query.
		fragment bool
		// toPage: a 303 to this page of the tenant ("login", "consent").
		toPage string
	}{
		// Unknown client or redirect URI: an error page, never a redirect.
		{name: "no client_id", query: query("redirect_uri", web.RedirectURIs[0], "response_type", "code", "state", "xyz"), page: true},
		{name: "empty client_id", query: query("client_id", "", "redirect_uri", web.RedirectURIs[0], "response_type", "code"), page: true},
		{name: "unknown client_id", query: query("client_id", "nosuchclient0000", "redirect_uri", web.RedirectURIs[0], "response_type", "code"), page: true},
		{name: "huge client_id", query: query("client_id", strings.Repeat("a", 300), "redirect_uri", web.RedirectURIs[0], "response_type", "code"), page: true},
		{name: "client of another tenant", tenant: "other", query: good(web), page: true},
		{name: "unknown tenant", tenant: "nosuch", query: good(web), page: true},
		{name: "no redirect_uri", query: query("client_id", web.ClientID, "response_type", "code", "state", "xyz"), page: true},
		{name: "empty redirect_uri", query: query("client_id", web.ClientID, "redirect_uri", "", "response_type", "code"), page: true},
		{name: "unregistered redirect_uri", query: query("client_id", web.ClientID, "redirect_uri", "https://evil.example.com/callback", "response_type", "code"), page: true},
		{name: "redirect_uri of another app", query: query("client_id", web.ClientID, "redirect_uri", e.partner.RedirectURIs[0], "response_type", "code"), page: true},
		{name: "redirect_uri trailing slash", query: query("client_id", web.ClientID, "redirect_uri", web.RedirectURIs[0]+"/", "response_type", "code"), page: true},
		{name: "redirect_uri upper-case host", query: query("client_id", web.ClientID, "redirect_uri", "https://APP.example.com/callback", "response_type", "code"), page: true},
		{name: "redirect_uri extra query", query: query("client_id", web.ClientID, "redirect_uri", web.RedirectURIs[0]+"?next=https://evil.example.com", "response_type", "code"), page: true},
		{name: "redirect_uri dropped query", query: query("client_id", web.ClientID, "redirect_uri", "https://app.example.com/cb2", "response_type", "code"), page: true},
		{name: "redirect_uri fragment", query: query("client_id", web.ClientID, "redirect_uri", web.RedirectURIs[0]+"#x", "response_type", "code"), page: true},
		{name: "redirect_uri userinfo", query: query("client_id", web.ClientID, "redirect_uri", "https://app.example.com@evil.example.com/callback", "response_type", "code"), page: true},
		{name: "redirect_uri other port", query: query("client_id", web.ClientID, "redirect_uri", "https://app.example.com:8443/callback", "response_type", "code"), page: true},
		{name: "redirect_uri http downgrade", query: query("client_id", web.ClientID, "redirect_uri", "http://app.example.com/callback", "response_type", "code"), page: true},
		{name: "redirect_uri dot segment", query: query("client_id", web.ClientID, "redirect_uri", "https://app.example.com/x/../callback", "response_type", "code"), page: true},
		{name: "redirect_uri escaped path", query: query("client_id", web.ClientID, "redirect_uri", "https://app.example.com/%63allback", "response_type", "code"), page: true},
		{name: "spa other port", query: query("client_id", spa.ClientID, "redirect_uri", "https://spa.example.com:444/cb", "response_type", "code"), page: true},
		{name: "native loopback other path", query: query("client_id", native.ClientID, "redirect_uri", "http://127.0.0.1:5000/other", "response_type", "code"), page: true},
		{name: "native loopback other host", query: query("client_id", native.ClientID, "redirect_uri", "http://localhost:5000/callback", "response_type", "code"), page: true},
		{name: "native loopback userinfo", query: query("client_id", native.ClientID, "redirect_uri", "http://evil@127.0.0.1:5000/callback", "response_type", "code"), page: true},
		{name: "native loopback fragment", query: query("client_id", native.ClientID, "redirect_uri", "http://127.0.0.1:5000/callback#x", "response_type", "code"), page: true},
		{name: "native custom scheme other path", query: query("client_id", native.ClientID, "redirect_uri", "com.example.app:/other", "response_type", "code"), page: true},
		{name: "app without redirect URIs", query: query("client_id", e.pwOnly.ClientID, "redirect_uri", web.RedirectURIs[0], "response_type", "code"), page: true},
		{name: "s2s app", query: query("client_id", e.s2s.ClientID, "redirect_uri", web.RedirectURIs[0], "response_type", "code"), page: true},
		{name: "repeated client_id", query: good(web, "client_id", web.ClientID), page: true},
		{name: "repeated redirect_uri", query: good(web, "redirect_uri", web.RedirectURIs[0]), page: true},
		{name: "repeated state", query: good(web, "state", "other"), page: true},
		{name: "repeated scope", query: good(web, "scope", "openid", "scope", "openid"), page: true},
		{name: "malformed query", query: good(web) + "&%zz=1", page: true},
		{name: "semicolon in query", query: good(web) + ";scope=openid", page: true},
		{name: "query too long", query: good(web, "nonce", strings.Repeat("n", 17<<10)), page: true},

		// Good client and redirect URI: errors go back to the client.
		{name: "missing response_type", query: query("client_id", web.ClientID, "redirect_uri", web.RedirectURIs[0], "state", "xyz"), err: "invalid_request", state: "xyz"},
		{name: "response_type=token, not developer mode", query: query("client_id", web.ClientID, "redirect_uri", web.RedirectURIs[0], "response_type", "token", "state", "xyz"), fragment: true, err: "unauthorized_client", state: "xyz"},
		{name: "response_type=token id_token, not developer mode", query: query("client_id", web.ClientID, "redirect_uri", web.RedirectURIs[0], "response_type", "token id_token", "nonce", "n", "scope", "openid", "state", "xyz"), fragment: true, err: "unauthorized_client", state: "xyz"},
		{name: "response_type=token response_mode=query", query: query("client_id", e.implicit.ClientID, "redirect_uri", e.implicit.RedirectURIs[0], "response_type", "token", "response_mode", "query", "state", "xyz"), fragment: true, err: "invalid_request", state: "xyz"},
		{name: "response_type=id_token without nonce", query: query("client_id", e.implicit.ClientID, "redirect_uri", e.implicit.RedirectURIs[0], "response_type", "id_token", "scope", "openid", "state", "xyz"), fragment: true, err: "invalid_request", state: "xyz"},
		{name: "response_type=token prompt=none without session", query: query("client_id", e.implicit.ClientID, "redirect_uri", e.implicit.RedirectURIs[0], "response_type", "token", "prompt", "none", "state", "xyz"), fragment: true, err: "login_required", state: "xyz"},
		{name: "response_type=unknown", query: query("client_id", web.ClientID, "redirect_uri", web.RedirectURIs[0], "response_type", "magic", "state", "xyz"), err: "unsupported_response_type", state: "xyz"},
		{name: "response_type=code id_token", query: query("client_id", web.ClientID, "redirect_uri", web.RedirectURIs[0], "response_type", "code id_token", "state", "xyz"), err: "unsupported_response_type", state: "xyz"},
		{name: "response_mode=fragment", query: good(web, "response_mode", "fragment"), err: "invalid_request", state: "xyz"},
		{name: "response_mode=form_post", query: good(web, "response_mode", "form_post"), err: "invalid_request", state: "xyz"},
		{name: "app without authorization_code", query: good(e.implicit), err: "unauthorized_client", state: "xyz"},
		{name: "scope not allowed", query: good(web, "scope", "openid admin"), err: "invalid_scope", state: "xyz"},
		{name: "scope of another app", query: good(e.partner, "scope", "openid api"), err: "invalid_scope", state: "xyz"},
		{name: "scope repeated within", query: good(web, "scope", "openid openid"), err: "invalid_scope", state: "xyz"},
		{name: "scope empty token", query: good(web, "scope", "openid  api"), err: "invalid_scope", state: "xyz"},
		{name: "spa without PKCE", query: good(spa), err: "invalid_request", state: "xyz"},
		{name: "native without PKCE", query: good(native), err: "invalid_request", state: "xyz"},
		{name: "force_pkce web without PKCE", query: good(e.strict), err: "invalid_request", state: "xyz"},
		{name: "plain PKCE", query: good(spa, "code_challenge", pkceChallenge, "code_challenge_method", "plain"), err: "invalid_request", state: "xyz"},
		{name: "PKCE without method", query: good(spa, "code_challenge", pkceChallenge), err: "invalid_request", state: "xyz"},
		{name: "PKCE method without challenge", query: good(web, "code_challenge_method", "S256"), err: "invalid_request", state: "xyz"},
		{name: "code_challenge too short", query: good(spa, "code_challenge", pkceChallenge[:42], "code_challenge_method", "S256"), err: "invalid_request", state: "xyz"},
		{name: "code_challenge too long", query: good(spa, "code_challenge", pkceChallenge+"A", "code_challenge_method", "S256"), err: "invalid_request", state: "xyz"},
		{name: "code_challenge bad characters", query: good(spa, "code_challenge", "+"+pkceChallenge[1:], "code_challenge_method", "S256"), err: "invalid_request", state: "xyz"},
		{name: "code_challenge padded", query: good(spa, "code_challenge", pkceChallenge[:42]+"=", "code_challenge_method", "S256"), err: "invalid_request", state: "xyz"},
		{name: "prompt=none without session", query: good(web, "prompt", "none"), err: "login_required", state: "xyz"},
		{name: "prompt=none third-party without consent", query: good(e.partner, "scope", "openid email", "prompt", "none"), session: true, err: "consent_required", state: "xyz"},
		{name: "prompt=none login", query: good(web, "prompt", "none login"), session: true, err: "invalid_request", state: "xyz"},
		{name: "prompt unknown", query: good(web, "prompt", "always"), err: "invalid_request", state: "xyz"},
		{name: "max_age=abc", query: good(web, "max_age", "abc"), err: "invalid_request", state: "xyz"},
		{name: "max_age negative", query: good(web, "max_age", "-1"), err: "invalid_request", state: "xyz"},
		{name: "max_age huge", query: good(web, "max_age", "99999999999999999999"), err: "invalid_request", state: "xyz"},
		{name: "nonce too long", query: good(web, "nonce", strings.Repeat("n", 513)), err: "invalid_request", state: "xyz"},
		{name: "login_hint too long", query: good(web, "login_hint", strings.Repeat("h", 257)), err: "invalid_request", state: "xyz"},
		{name: "request object", query: good(web, "request", "eyJhbGciOiJub25lIn0.e30."), err: "request_not_supported", state: "xyz"},
		{name: "request_uri", query: good(web, "request_uri", "https://app.example.com/req"), err: "request_not_supported", state: "xyz"},
		{name: "state too long is not echoed", query: query("client_id", web.ClientID, "redirect_uri", web.RedirectURIs[0], "response_type", "code", "state", strings.Repeat("s", 1025)), err: "invalid_request", state: ""},
		{name: "no state, none echoed", query: query("client_id", web.ClientID, "redirect_uri", web.RedirectURIs[0], "response_type", "code id_token"), err: "unsupported_response_type", state: ""},
		{name: "state with odd characters echoed", query: query("client_id", web.ClientID, "redirect_uri", web.RedirectURIs[0], "response_type", "code id_token", "state", "a b&c=d/é"), err: "unsupported_response_type", state: "a b&c=d/é"},
		{name: "registered query kept", query: query("client_id", web.ClientID, "redirect_uri", web.RedirectURIs[1], "response_type", "code id_token", "state", "xyz"), redirect: web.RedirectURIs[1], err: "unsupported_response_type", state: "xyz"},
		{name: "native custom scheme error", query: query("client_id", native.ClientID, "redirect_uri", "com.example.app:/cb", "response_type", "code", "state", "xyz"), redirect: "com.example.app:/cb", err: "invalid_request", state: "xyz"},
		{name: "native loopback any port error", query: query("client_id", native.ClientID, "redirect_uri", "http://127.0.0.1:51234/callback", "response_type", "code", "state", "xyz"), redirect: "http://127.0.0.1:51234/callback", err: "invalid_request", state: "xyz"},
		{name: "POST form error", method: http.MethodPost, query: good(web, "response_mode", "fragment"), err: "invalid_request", state: "xyz"},
		{name: "POST repeated parameter", method: http.MethodPost, query: good(web, "state", "again"), page: true},

		// Good requests, for contrast.
		{name: "good, no session: login page", query: good(web, "scope", "openid api"), toPage: "login"},
		{name: "good spa with PKCE: login page", query: good(spa, pkce...), toPage: "login"},
		{name: "native loopback any port: login page", query: query(append([]string{"client_id", native.ClientID, "redirect_uri", "http://127.0.0.1:51234/callback", "response_type", "code"}, pkce...)...), toPage: "login"},
		{name: "good with session: code and state", query: good(web, "scope", "openid"), session: true, err: "", state: "xyz"},
		{name: "good without state: code, no state", query: query("client_id", web.ClientID, "redirect_uri", web.RedirectURIs[0], "response_type", "code"), session: true, err: "", state: ""},
		{name: "implicit, developer mode, with session: tokens in the fragment", query: query("client_id", e.implicit.ClientID, "redirect_uri", e.implicit.RedirectURIs[0], "response_type", "id_token token", "scope", "openid", "nonce", "n", "state", "xyz"), session: true, fragment: true, err: "", state: "xyz"},
		{name: "prompt=none with session: code", query: good(web, "prompt", "none"), session: true, err: "", state: "xyz"},
		{name: "prompt=login with session: login page", query: good(web, "prompt", "login"), session: true, toPage: "login"},
		{name: "max_age=0 with session: login page", query: good(web, "max_age", "0"), session: true, toPage: "login"},
		{name: "max_age=60 with recent session: code", query: good(web, "max_age", "60"), session: true, err: "", state: "xyz"},
		{name: "third-party with consent: code", query: good(e.partner, "scope", "openid"), session: true, err: "", state: "xyz"},
		{name: "third-party, scope beyond consent: consent page", query: good(e.partner, "scope", "openid email"), session: true, toPage: "consent"},
		{name: "prompt=consent with consent: consent page", query: good(e.partner, "scope", "openid", "prompt", "consent"), session: true, toPage: "consent"},
		{name: "prompt=none third-party with consent: code", query: good(e.partner, "scope", "openid", "prompt", "none"), session: true, err: "", state: "xyz"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tid := tc.tenant
			if tid == "" {
				tid = testTenant
			}
			var cookies []*http.Cookie
			if tc.session {
				cookies = session
			}
			var w *httptest.ResponseRecorder
			if tc.method == http.MethodPost {
				r := httptest.NewRequest(http.MethodPost, "/t/"+tid+"/oauth/authorize", strings.NewReader(tc.query))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				w = e.serve(r, cookies...)
			} else {
				w = e.authorize(tid, tc.query, cookies...)
			}
			loc := w.Header().Get("Location")
			if tc.page {
				if w.Code != http.StatusBadRequest || loc != "" {
					t.Fatalf("got %d Location %q, want 400 and no Location\n%s", w.Code, loc, w.Body)
				}
				if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("Content-Type %q, want an HTML page", ct)
				}
				return
			}
			if w.Code != http.StatusSeeOther {
				t.Fatalf("got %d, want 303\n%s", w.Code, w.Body)
			}
			u, err := url.Parse(loc)
			if err != nil {
				t.Fatal(err)
			}
			if tc.toPage != "" {
				if got, want := u.Scheme+"://"+u.Host+u.Path, testIssuer+"/"+tc.toPage; got != want || u.Query().Get("request") == "" {
					t.Fatalf("Location %q, want %s?request=…", loc, want)
				}
				return
			}
			want := tc.redirect
			if want == "" {
				want = strings.SplitN(tc.query, "redirect_uri=", 2)[1]
				want, _ = url.QueryUnescape(strings.SplitN(want, "&", 2)[0])
			}
			wantURL, _ := url.Parse(want)
			if u.Scheme != wantURL.Scheme || u.Host != wantURL.Host || u.Path != wantURL.Path || u.Opaque != wantURL.Opaque {
				t.Fatalf("redirected to %q, want %q", loc, want)
			}
			q := u.Query()
			for k, v := range wantURL.Query() {
				if q.Get(k) != v[0] {
					t.Errorf("the registered URI's %s=%s was lost: %q", k, v[0], loc)
				}
			}
			if tc.fragment {
				if len(q) != len(wantURL.Query()) {
					t.Errorf("an implicit answer has parameters in the query: %q", loc)
				}
				if q, err = url.ParseQuery(u.EscapedFragment()); err != nil {
					t.Fatalf("fragment of %q: %v", loc, err)
				}
			} else if u.Fragment != "" {
				t.Errorf("a code flow answer with a fragment: %q", loc)
			}
			if got := q.Get("error"); got != tc.err {
				t.Errorf("error = %q (%s), want %q", got, q.Get("error_description"), tc.err)
			}
			switch {
			case tc.err == "" && tc.fragment && q.Get("access_token") == "" && q.Get("id_token") == "":
				t.Errorf("no token in %q", loc)
			case tc.err == "" && !tc.fragment && q.Get("code") == "":
				t.Errorf("no code in %q", loc)
			case tc.fragment && q.Has("code"):
				t.Errorf("a code in an implicit answer: %q", loc)
			}
			if tc.err != "" && q.Has("code") {
				t.Errorf("an error redirect carries a code: %q", loc)
			}
			if got := q.Get("state"); got != tc.state || q.Has("state") != (tc.state != "") {
				t.Errorf("state = %q (present %v), want %q", got, q.Has("state"), tc.state)
			}
			// RFC 9207: the issuer identifies the authorization server.
			if got := q.Get("iss"); got != testIssuer {
				t.Errorf("iss = %q, want %q", got, testIssuer)
			}
			if d := q.Get("error_description"); !validErrorDescription(d) {
				t.Errorf("error_description %q has characters RFC 6749 §4.1.2.1 forbids", d)
			}
			if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
		})
	}
}

// validErrorDescription reports whether s is made of the characters RFC
// 6749 §4.1.2.1 and §5.2 allow in error_description: %x20-21 / %x23-5B /
// %x5D-7E.
func validErrorDescription(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}

// TestAuthorizationCodeLifetime: a code redeemed after its lifetime is
// invalid_grant (R-OID-2: at most 60 s); within it, it works once.
func TestAuthorizationCodeLifetime(t *testing.T) {
	e := newAuthEnv(t)
	session := e.login(t)
	redeem := func(code string) *httptest.ResponseRecorder {
		return e.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.web.RedirectURIs[0]}}, e.web.ClientID, e.web.Secret)
	}

	fresh := e.codeFor(t, session, e.web)
	e.clock.Advance(codeLifetime - time.Second)
	if w := redeem(fresh); w.Code != http.StatusOK {
		t.Fatalf("a code 59 s old: %d %s", w.Code, w.Body)
	}

	old := e.codeFor(t, session, e.web)
	e.clock.Advance(codeLifetime + time.Second)
	w := redeem(old)
	if w.Code != http.StatusBadRequest || tokenError(t, w) != "invalid_grant" {
		t.Fatalf("an expired code: %d %s, want 400 invalid_grant", w.Code, w.Body)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
}

// TestCodeRevokedWithItsGrant: the code's token family is made with it, so
// a logout (the session's families revoked) between the authorization and
// the exchange makes the code invalid_grant (R-OID-2, R-OID-10), and the
// tokens of a good exchange belong to the code's family.
func TestCodeRevokedWithItsGrant(t *testing.T) {
	e := newAuthEnv(t)
	session := e.login(t)
	redeem := func(code string) *httptest.ResponseRecorder {
		return e.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.web.RedirectURIs[0]}}, e.web.ClientID, e.web.Secret)
	}
	ctx := context.Background()
	hash := func(code string) string { return grant.Hash(code) }

	code := e.codeFor(t, session, e.web)
	c, err := e.db.GetCode(ctx, testTenant, hash(code))
	if err != nil || c.FamilyID == "" {
		t.Fatalf("the stored code has no family: %+v %v", c, err)
	}
	fams, err := e.db.SessionFamilies(ctx, testTenant, c.SID)
	if err != nil || len(fams) != 1 || fams[0].ID != c.FamilyID {
		t.Fatalf("session families %v %v, want the code's", fams, err)
	}
	if err := e.db.RevokeFamily(ctx, testTenant, c.FamilyID, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if w := redeem(code); w.Code != http.StatusBadRequest || tokenError(t, w) != "invalid_grant" {
		t.Fatalf("the code of a revoked grant: %d %s, want 400 invalid_grant", w.Code, w.Body)
	}

	code = e.codeFor(t, session, e.web)
	c, err = e.db.GetCode(ctx, testTenant, hash(code))
	if err != nil {
		t.Fatal(err)
	}
	w := redeem(code)
	if w.Code != http.StatusOK {
		t.Fatalf("exchange: %d %s", w.Code, w.Body)
	}
	var tok struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &tok); err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken != "" {
		rt, err := e.db.GetRefresh(ctx, testTenant, grant.Hash(tok.RefreshToken))
		if err != nil || rt.FamilyID != c.FamilyID {
			t.Fatalf("the refresh token's family: %+v %v, want %s", rt, err, c.FamilyID)
		}
	}
}

// TestAuthorizationCodeBoundToClient: a code issued to one client is
// invalid_grant for another, even one with the same redirect URI and valid
// credentials of its own (RFC 6749 §4.1.3); a public client cannot redeem a
// confidential client's code by naming it without its secret.
func TestAuthorizationCodeBoundToClient(t *testing.T) {
	e := newAuthEnv(t)
	session := e.login(t)
	form := func(code string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.web.RedirectURIs[0]}}
	}

	code := e.codeFor(t, session, e.web)
	w := e.token(form(code), e.web2.ClientID, e.web2.Secret)
	if w.Code != http.StatusBadRequest || tokenError(t, w) != "invalid_grant" {
		t.Fatalf("another client's secret: %d %s, want 400 invalid_grant", w.Code, w.Body)
	}
	// Issue 8 §7: the other client did not burn it; its own client redeems
	// it, and a replay by the other client after that revokes nothing.
	if w = e.token(form(code), e.web.ClientID, e.web.Secret); w.Code != http.StatusOK {
		t.Fatalf("the code after another client presented it: %d %s, want 200", w.Code, w.Body)
	}
	if w = e.token(form(code), e.web2.ClientID, e.web2.Secret); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "invalid or expired") {
		t.Fatalf("a used code at another client: %d %s, want 400 as for an unknown code", w.Code, w.Body)
	}
	c, err := e.db.GetCode(t.Context(), testTenant, grant.Hash(code))
	if err != nil {
		t.Fatal(err)
	}
	if f, err := e.db.GetFamily(t.Context(), testTenant, c.FamilyID); err != nil || f.Revoked() {
		t.Fatalf("another client's replay revoked the grant: %+v %v", f, err)
	}
	// Its own client's replay still revokes the grant (R-OID-2).
	if w = e.token(form(code), e.web.ClientID, e.web.Secret); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "already used") {
		t.Fatalf("replay by its own client: %d %s", w.Code, w.Body)
	}
	if f, err := e.db.GetFamily(t.Context(), testTenant, c.FamilyID); err != nil || !f.Revoked() {
		t.Fatalf("its own client's replay did not revoke the grant: %+v %v", f, err)
	}

	code = e.codeFor(t, session, e.web)
	w = e.token(form(code), e.web.ClientID, e.web2.Secret)
	if w.Code != http.StatusUnauthorized || tokenError(t, w) != "invalid_client" || w.Header().Get("WWW-Authenticate") == "" {
		t.Fatalf("the client's id with another secret: %d %s %q, want 401 invalid_client with WWW-Authenticate", w.Code, w.Body, w.Header().Get("WWW-Authenticate"))
	}

	f := form(code)
	f.Set("client_id", e.web.ClientID)
	if w = e.token(f, "", ""); w.Code != http.StatusUnauthorized || tokenError(t, w) != "invalid_client" {
		t.Fatalf("the client's id without a secret: %d %s, want 401 invalid_client", w.Code, w.Body)
	}

	// A public client's code, redeemed by another public client.
	spaCode := e.codeFor(t, session, e.spa, "code_challenge", pkceChallenge, "code_challenge_method", "S256")
	f = url.Values{"grant_type": {"authorization_code"}, "code": {spaCode}, "redirect_uri": {e.spa.RedirectURIs[0]},
		"code_verifier": {pkceVerifier}, "client_id": {e.native.ClientID}}
	if w = e.token(f, "", ""); w.Code != http.StatusBadRequest || tokenError(t, w) != "invalid_grant" {
		t.Fatalf("a spa's code at a native client: %d %s, want 400 invalid_grant", w.Code, w.Body)
	}

	// The code is still good for its own client after the failures that
	// never got past client authentication.
	if w = e.token(form(code), e.web.ClientID, e.web.Secret); w.Code != http.StatusOK {
		t.Fatalf("the right client: %d %s", w.Code, w.Body)
	}
}

// TestPromptLoginAndConsent: prompt=login makes a signed-in user sign in
// again and prompt=consent asks a consent already given again (OpenID
// Connect Core §3.1.2.1, R-OID-10); after that the request ends with a code,
// not in a loop.
func TestPromptLoginAndConsent(t *testing.T) {
	e := newAuthEnv(t)
	cookies := e.login(t)
	e.clock.Advance(time.Minute)
	path := func(loc string) string { return strings.TrimPrefix(loc, testPublicURL) }
	code := func(w *httptest.ResponseRecorder, a testApp) {
		t.Helper()
		loc, err := url.Parse(w.Header().Get("Location"))
		if w.Code != http.StatusSeeOther || err != nil || !strings.HasPrefix(loc.String(), a.RedirectURIs[0]+"?") || loc.Query().Get("code") == "" || loc.Query().Get("state") != "s1" {
			t.Fatalf("want a code for %s: %d %q", a.Name, w.Code, w.Header().Get("Location"))
		}
	}

	w := e.authorize(testTenant, query("client_id", e.web.ClientID, "redirect_uri", e.web.RedirectURIs[0], "response_type", "code", "state", "s1", "prompt", "login"), cookies...)
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), testIssuer+"/login?request=") {
		t.Fatalf("prompt=login with a session: %d %q, want the login page", w.Code, w.Header().Get("Location"))
	}
	e.clock.Advance(time.Second)
	cookies, next := e.signIn(t, cookies, path(w.Header().Get("Location")))
	if !strings.HasPrefix(next, testIssuer+"/oauth/authorize/resume?request=") {
		t.Fatalf("after sign-in: %q, want resume", next)
	}
	code(e.serve(httptest.NewRequest(http.MethodGet, path(next), nil), cookies...), e.web)

	// Consent once, then prompt=consent asks again.
	for _, prompt := range []string{"", "consent"} {
		e.clock.Advance(time.Second)
		q := []string{"client_id", e.partner.ClientID, "redirect_uri", e.partner.RedirectURIs[0], "response_type", "code", "state", "s1", "scope", "openid"}
		if prompt != "" {
			q = append(q, "prompt", prompt)
		}
		w = e.authorize(testTenant, query(q...), cookies...)
		if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), testIssuer+"/consent?request=") {
			t.Fatalf("prompt=%q: %d %q, want the consent page", prompt, w.Code, w.Header().Get("Location"))
		}
		page := path(w.Header().Get("Location"))
		w = e.serve(httptest.NewRequest(http.MethodGet, page, nil), cookies...)
		m := csrfInput.FindStringSubmatch(w.Body.String())
		if w.Code != http.StatusOK || m == nil {
			t.Fatalf("consent page: %d\n%s", w.Code, w.Body)
		}
		e.clock.Advance(time.Second)
		r := httptest.NewRequest(http.MethodPost, page, strings.NewReader(url.Values{"csrf_token": {m[1]}, "decision": {"allow"}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		w = e.serve(r, cookies...)
		next := w.Header().Get("Location")
		if w.Code != http.StatusSeeOther || !strings.HasPrefix(next, testIssuer+"/oauth/authorize/resume?request=") {
			t.Fatalf("consent post: %d %q\n%s", w.Code, next, w.Body)
		}
		code(e.serve(httptest.NewRequest(http.MethodGet, path(next), nil), cookies...), e.partner)
	}

	// Consent given: without prompt, straight to a code.
	e.clock.Advance(time.Second)
	code(e.authorize(testTenant, query("client_id", e.partner.ClientID, "redirect_uri", e.partner.RedirectURIs[0], "response_type", "code", "state", "s1", "scope", "openid"), cookies...), e.partner)
}

// TestConsentPolicySession: under a tenant's "session" consent policy a
// consent holds in the SSO session it was given in and is asked again in a
// new one (prompt=none: consent_required); under "remember" it holds in
// every session (R-OID-9, R-OID-10).
func TestConsentPolicySession(t *testing.T) {
	e := newAuthEnv(t)
	path := func(loc string) string { return strings.TrimPrefix(loc, testPublicURL) }
	partner := func(extra ...string) string {
		return query(append([]string{"client_id", e.partner.ClientID, "redirect_uri", e.partner.RedirectURIs[0], "response_type", "code", "state", "s1", "scope", "openid"}, extra...)...)
	}
	outcome := func(w *httptest.ResponseRecorder) string {
		t.Helper()
		loc := w.Header().Get("Location")
		switch {
		case w.Code != http.StatusSeeOther:
			t.Fatalf("authorize: %d %s", w.Code, w.Body)
		case strings.HasPrefix(loc, testIssuer+"/consent?request="):
			return "consent page"
		case strings.HasPrefix(loc, e.partner.RedirectURIs[0]+"?"):
			u, _ := url.Parse(loc)
			if u.Query().Get("code") != "" {
				return "code"
			}
			return u.Query().Get("error")
		}
		t.Fatalf("authorize: redirect to %q", loc)
		return ""
	}
	setPolicy := func(policy string) {
		t.Helper()
		tn, err := e.db.GetTenant(t.Context(), testTenant)
		if err != nil {
			t.Fatal(err)
		}
		tn.ConsentPolicy = policy
		if err := e.db.UpdateTenant(t.Context(), tn); err != nil {
			t.Fatal(err)
		}
	}

	first := e.login(t)
	e.clock.Advance(time.Second)
	w := e.authorize(testTenant, partner(), first...)
	if got := outcome(w); got != "consent page" {
		t.Fatalf("first request: %s, want the consent page", got)
	}
	page := path(w.Header().Get("Location"))
	w = e.serve(httptest.NewRequest(http.MethodGet, page, nil), first...)
	m := csrfInput.FindStringSubmatch(w.Body.String())
	if w.Code != http.StatusOK || m == nil {
		t.Fatalf("consent page: %d\n%s", w.Code, w.Body)
	}
	r := httptest.NewRequest(http.MethodPost, page, strings.NewReader(url.Values{"csrf_token": {m[1]}, "decision": {"allow"}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	w = e.serve(r, first...)
	if got := outcome(e.serve(httptest.NewRequest(http.MethodGet, path(w.Header().Get("Location")), nil), first...)); got != "code" {
		t.Fatalf("after allowing: %s, want a code", got)
	}

	e.clock.Advance(time.Second)
	second := e.login(t)
	e.clock.Advance(time.Second)
	if got := outcome(e.authorize(testTenant, partner(), second...)); got != "code" {
		t.Errorf("remember policy, new session: %s, want a code", got)
	}

	setPolicy(tenant.ConsentSession)
	for _, tc := range []struct {
		name    string
		cookies []*http.Cookie
		extra   []string
		want    string
	}{
		{"same session", first, nil, "code"},
		{"same session, prompt=none", first, []string{"prompt", "none"}, "code"},
		{"new session", second, nil, "consent page"},
		{"new session, prompt=none", second, []string{"prompt", "none"}, "consent_required"},
	} {
		if got := outcome(e.authorize(testTenant, partner(tc.extra...), tc.cookies...)); got != tc.want {
			t.Errorf("session policy, %s: %s, want %s", tc.name, got, tc.want)
		}
	}

	setPolicy(tenant.ConsentRemember)
	if got := outcome(e.authorize(testTenant, partner(), second...)); got != "code" {
		t.Errorf("back to remember, new session: %s, want a code", got)
	}
}
