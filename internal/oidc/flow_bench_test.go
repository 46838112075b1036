package oidc_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/login"
	"github.com/gatehouse-id/gatehouse/internal/oidc"
	"github.com/gatehouse-id/gatehouse/internal/store"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// The user-flow benchmarks (docs/performance.md): code exchange, refresh,
// introspection and the whole login flow, in process, over one mux with the
// provider and the real login pages wired as internal/server wires them, on
// a real SQLite store. Names here start with flowBench/fb so that they do not
// collide with the package's other test files.

const (
	fbPublicURL = "http://127.0.0.1" // loopback: a secure context, as in production behind https
	fbTenant    = "bench"
	fbIssuer    = fbPublicURL + "/t/" + fbTenant
	fbRedirect  = "https://app.example.com/cb"
	fbUsername  = "alice"
	fbPassword  = "correct horse battery staple"
	fbScope     = "openid offline_access api"
	fbRemote    = "192.0.2.10:40000"
)

// PKCE S256 pair of every authorization request here (RFC 7636 §4.2).
var fbVerifier, fbChallenge = func() (string, string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	s := sha256.Sum256([]byte(v))
	return v, base64.RawURLEncoding.EncodeToString(s[:])
}()

// fbClient is a registered app and its secret.
type fbClient struct {
	*app.App
	Secret string
}

// flowBench is tenant bench (ES256) with a confidential first-party web app,
// an s2s resource server that introspects, an s2s client_credentials app
// with the scope api, the same web and s2s apps with opaque access tokens,
// and the user alice with a password.
type flowBench struct {
	db         *store.DB
	mux        *http.ServeMux
	pages      *login.Pages
	user       *user.User
	web, webO  fbClient // webO: access_token_format opaque
	rs, cc, cO fbClient // cO: access_token_format opaque
}

// newFlowBench builds the fixture; params are the argon2id parameters of
// the password hashes (user.DefaultParams for the benchmarks). Besides
// alice it makes the users alice0 … alice<logins-1> with the same password,
// one per concurrent login: the brute-force limiter counts an attempt as
// failed until its password is checked, so it throttles concurrent logins
// of one username.
func newFlowBench(tb testing.TB, params user.Params, logins int) *flowBench {
	tb.Helper()
	ctx := context.Background()
	b := oidc.NewTestBase(tb, oidc.BaseOptions{Tenants: []string{fbTenant}})
	db, ring, apps, km := b.DB, b.Ring, b.Apps, b.Keys
	mkApp := func(a *app.App) fbClient {
		tb.Helper()
		c, secret := b.MkApp(tb, fbTenant, a)
		return fbClient{c, secret}
	}
	f := &flowBench{db: db}
	// Defaults as `gatehouse app create --type web --first-party --scope api`
	// makes them: authorization_code + refresh_token, 720 h refresh tokens
	// (RefreshTokenLifetime -1: the default).
	web := func(name, format string) *app.App {
		return &app.App{Name: name, Type: app.Web, FirstParty: true, Scopes: []string{"api"}, RedirectURIs: []string{fbRedirect},
			RefreshTokenLifetime: -1, AccessTokenFormat: format}
	}
	f.web = mkApp(web("web", app.TokenJWT))
	f.webO = mkApp(web("webo", app.TokenOpaque))
	f.rs = mkApp(&app.App{Name: "rs", Type: app.S2S})
	f.cc = mkApp(&app.App{Name: "svc", Type: app.S2S, Scopes: []string{"api"}})
	f.cO = mkApp(&app.App{Name: "svco", Type: app.S2S, Scopes: []string{"api"}, AccessTokenFormat: app.TokenOpaque})

	users := &user.Service{Store: db, Now: time.Now, Params: params}
	var err error
	if f.user, err = users.Create(ctx, fbTenant, &user.User{Username: fbUsername, Email: "alice@example.com", State: user.Active}, fbPassword); err != nil {
		tb.Fatal(err)
	}
	for i := range logins {
		name := fbUsername + strconv.Itoa(i)
		if _, err := users.Create(ctx, fbTenant, &user.User{Username: name, Email: name + "@example.com", State: user.Active}, fbPassword); err != nil {
			tb.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// As server.loginPages and server.routes, with the default settings.
	limiter := &login.Limiter{Store: db, Now: time.Now, Log: log, LockoutThreshold: 10, LockoutDuration: 15 * time.Minute}
	f.pages = &login.Pages{
		PublicURL: fbPublicURL, Users: users, Store: db, Apps: db, Now: time.Now, Log: log,
		SessionLifetime: 12 * time.Hour, Limiter: limiter,
		CSRFKey: []byte(ring.HashSecret("gatehouse login form key")),
	}
	p := &oidc.Provider{
		PublicURL: fbPublicURL, Apps: apps, Keys: km, Grants: db, Tenants: db, Users: oidc.TestDirectory{Service: users},
		Sessions: f.pages, Seal: ring, Throttle: limiter, ClientIP: func(r *http.Request) string { return login.ClientIP(r, nil) },
		Now: time.Now, Log: log, Metrics: oidc.NewMetrics(prometheus.NewRegistry()),
		CodeLifetime: time.Minute, RequestLifetime: 30 * time.Minute, RefreshGrace: 5 * time.Second,
	}
	f.mux = http.NewServeMux()
	f.pages.Register(f.mux)
	p.Register(f.mux)
	return f
}

// fbJar is a browser's cookies (name → value; one host, one path).
type fbJar map[string]string

func (j fbJar) keep(w *httptest.ResponseRecorder) {
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(j, c.Name)
		} else {
			j[c.Name] = c.Value
		}
	}
}

// serve sends r with the jar's cookies (jar may be nil) and keeps the
// cookies of the answer.
func (f *flowBench) serve(r *http.Request, jar fbJar) *httptest.ResponseRecorder {
	for k, v := range jar {
		r.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	r.RemoteAddr = fbRemote
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, r)
	if jar != nil {
		jar.keep(w)
	}
	return w
}

func (f *flowBench) post(path string, form url.Values, id, secret string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, fbPublicURL+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return f.serve(r, nil)
}

// token posts to the token endpoint as the web app (client_secret_basic).
func (f *flowBench) token(form url.Values) *httptest.ResponseRecorder { return f.tokenAs(f.web, form) }

func (f *flowBench) tokenAs(c fbClient, form url.Values) *httptest.ResponseRecorder {
	return f.post("/t/"+fbTenant+oidc.PathToken, form, c.ClientID, c.Secret)
}

// ccToken is a client_credentials access token of c.
func (f *flowBench) ccToken(tb testing.TB, c fbClient) string {
	tb.Helper()
	return fbDecode(tb, f.tokenAs(c, url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}})).AccessToken
}

func (f *flowBench) codeForm(code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {fbRedirect}, "code_verifier": {fbVerifier}}
}

type fbTokens struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
}

func fbDecode(tb testing.TB, w *httptest.ResponseRecorder) fbTokens {
	tb.Helper()
	var t fbTokens
	if w.Code != http.StatusOK {
		tb.Fatalf("token endpoint: %d %s", w.Code, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &t); err != nil || t.AccessToken == "" {
		tb.Fatalf("token endpoint: %v %s", err, w.Body)
	}
	return t
}

// newCode stores a fresh authorization code of the web app as the
// authorization endpoint makes it after a login, and returns its value.
func (f *flowBench) newCode(tb testing.TB) string { return f.newCodeFor(tb, f.web) }

func (f *flowBench) newCodeFor(tb testing.TB, c fbClient) string {
	code := grant.NewOrderedSecret()
	now := time.Now()
	sid := grant.NewOrderedID()
	fam := &grant.Family{
		ID: grant.NewOrderedID(), ClientID: c.ClientID, UserID: f.user.ID, SID: sid, Scope: strings.Fields(fbScope),
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Minute + c.RefreshTokenLifetime.D()),
	}
	err := f.db.CreateCode(context.Background(), fbTenant, &grant.Code{
		Hash: grant.Hash(code), ClientID: c.ClientID, UserID: f.user.ID, SID: sid,
		RedirectURI: fbRedirect, Scope: strings.Fields(fbScope), Nonce: "n", CodeChallenge: fbChallenge,
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Minute), FamilyID: fam.ID,
	}, fam)
	if err != nil {
		tb.Fatal(err)
	}
	return code
}

// grantTokens exchanges a fresh code of c: the tokens of a new user grant.
func (f *flowBench) grantTokens(tb testing.TB, c fbClient) fbTokens {
	tb.Helper()
	t := fbDecode(tb, f.tokenAs(c, f.codeForm(f.newCodeFor(tb, c))))
	if t.RefreshToken == "" || t.IDToken == "" {
		tb.Fatalf("want an ID token and a refresh token: %+v", t)
	}
	return t
}

var (
	fbFormAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	fbHidden     = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
)

// loginFlow is one whole login of a new browser, as internal/e2e drives it
// over HTTP: GET authorize → 303 to the login page → GET it → POST the form
// (its hidden fields, username, password; Origin and Sec-Fetch-Site as a
// browser sends them) → 303 to resume → 303 to the redirect URI with the
// code → the code exchange, signing in as username. It returns the token
// endpoint's answer, or an error for a step that went wrong (it may run on
// any goroutine).
func (f *flowBench) loginFlow(username string) (*httptest.ResponseRecorder, error) {
	jar := fbJar{}
	q := url.Values{
		"client_id": {f.web.ClientID}, "redirect_uri": {fbRedirect}, "response_type": {"code"}, "scope": {fbScope},
		"state": {"s"}, "nonce": {"n"}, "code_challenge": {fbChallenge}, "code_challenge_method": {"S256"},
	}
	w := f.serve(httptest.NewRequest(http.MethodGet, fbIssuer+oidc.PathAuthorization+"?"+q.Encode(), nil), jar)
	loc := w.Header().Get("Location")
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc, fbIssuer+"/login?request=") {
		return nil, fmt.Errorf("authorize: %d %q %s", w.Code, loc, w.Body)
	}
	w = f.serve(httptest.NewRequest(http.MethodGet, loc, nil), jar)
	body := w.Body.String()
	m := fbFormAction.FindStringSubmatch(body)
	if w.Code != http.StatusOK || m == nil {
		return nil, fmt.Errorf("login page: %d %s", w.Code, body)
	}
	form := url.Values{"username": {username}, "password": {fbPassword}}
	for _, h := range fbHidden.FindAllStringSubmatch(body, -1) {
		form.Set(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
	}
	r := httptest.NewRequest(http.MethodPost, html.UnescapeString(m[1]), strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", fbPublicURL)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	w = f.serve(r, jar)
	loc = w.Header().Get("Location")
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc, fbIssuer+oidc.PathAuthorization+"/resume?") {
		return nil, fmt.Errorf("login POST: %d %q %s", w.Code, loc, w.Body)
	}
	w = f.serve(httptest.NewRequest(http.MethodGet, loc, nil), jar)
	loc = w.Header().Get("Location")
	u, err := url.Parse(loc)
	if w.Code != http.StatusSeeOther || err != nil || !strings.HasPrefix(loc, fbRedirect+"?") || u.Query().Get("code") == "" {
		return nil, fmt.Errorf("resume: %d %q %s", w.Code, loc, w.Body)
	}
	return f.token(f.codeForm(u.Query().Get("code"))), nil
}

// fbSmallParams keep the fixture test fast under the race detector; the
// benchmarks use the real cost (user.DefaultParams).
var fbSmallParams = user.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// TestFlowBenchFixture runs each benchmarked operation once.
func TestFlowBenchFixture(t *testing.T) {
	f := newFlowBench(t, fbSmallParams, 0)
	w, err := f.loginFlow(fbUsername)
	if err != nil {
		t.Fatal(err)
	}
	tok := fbDecode(t, w)
	if tok.IDToken == "" || tok.RefreshToken == "" {
		t.Fatalf("login flow: want an ID token and a refresh token: %+v", tok)
	}
	next := fbDecode(t, f.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}))
	if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken || next.IDToken == "" {
		t.Fatalf("refresh did not rotate: %+v", next)
	}
	for _, c := range f.introspectionCases(t) {
		w := f.introspect(c.token, c.hint)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"active":true`) {
			t.Fatalf("introspect %s: %d %s", c.name, w.Code, w.Body)
		}
		if jwt := strings.Count(c.token, ".") == 2; jwt != strings.HasSuffix(c.name, "_jwt") {
			t.Fatalf("%s: token %.40s…", c.name, c.token)
		}
	}
}

type fbIntrospection struct{ name, token, hint string }

// introspectionCases are the tokens BenchmarkIntrospection introspects.
func (f *flowBench) introspectionCases(tb testing.TB) []fbIntrospection {
	g, gO := f.grantTokens(tb, f.web), f.grantTokens(tb, f.webO)
	return []fbIntrospection{
		{"user_access_jwt", g.AccessToken, ""},
		{"user_access_opaque", gO.AccessToken, ""},
		{"client_credentials_jwt", f.ccToken(tb, f.cc), ""},
		{"client_credentials_opaque", f.ccToken(tb, f.cO), ""},
		{"refresh_token", g.RefreshToken, "refresh_token"},
	}
}

func (f *flowBench) introspect(token, hint string) *httptest.ResponseRecorder {
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	return f.post("/t/"+fbTenant+oidc.PathIntrospection, form, f.rs.ClientID, f.rs.Secret)
}

// BenchmarkCodeExchange measures the token request of the authorization
// code grant alone: client authentication, redeeming the code (a write),
// PKCE, the user and their access, an ES256 access token and ID token, and
// storing the new token family with its refresh token. Each code is stored
// beforehand, outside the timer.
func BenchmarkCodeExchange(b *testing.B) {
	f := newFlowBench(b, user.DefaultParams(), 0)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		form := f.codeForm(f.newCode(b))
		b.StartTimer()
		w := f.token(form)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkRefresh rotates one refresh token per iteration, each the one
// the previous iteration got: find the token and its family, check the user,
// sign an access token and an ID token, seal the answer for the grace window
// and store the rotation.
func BenchmarkRefresh(b *testing.B) {
	f := newFlowBench(b, user.DefaultParams(), 0)
	rt := f.grantTokens(b, f.web).RefreshToken
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		w := f.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		b.StopTimer()
		next := fbDecode(b, w).RefreshToken
		if next == "" || next == rt {
			b.Fatalf("no rotation: %s", w.Body)
		}
		rt = next
		b.StartTimer()
	}
}

// BenchmarkIntrospection introspects, as a confidential resource server:
// a user grant's access token, JWT (ES256 verification, then its app,
// family and user are looked up, so revocation is immediate) and opaque (its
// row instead of the signature), a client_credentials access token, JWT
// (verification and its app) and opaque, and a refresh token (its row,
// family and user).
func BenchmarkIntrospection(b *testing.B) {
	f := newFlowBench(b, user.DefaultParams(), 0)
	for _, c := range f.introspectionCases(b) {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w := f.introspect(c.token, c.hint)
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"active":true`) {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkLoginFlow is the whole login without a browser, one new browser
// per iteration: authorize → login page → POST username and password
// (argon2id, user.DefaultParams) → resume → code → token exchange. Serial
// runs it on one goroutine (ns/op: one login's latency, mostly the password
// hash); Parallel on GOMAXPROCS goroutines (ns/op: wall time per login of
// the whole process, so logins/s per core = 1e9 / (ns/op × GOMAXPROCS));
// CheapHash is Serial with argon2id at m=64 KiB, t=1: what a login costs
// besides the password hash.
func BenchmarkLoginFlow(b *testing.B) {
	serial := func(f *flowBench) func(b *testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w, err := f.loginFlow(fbUsername)
				if err != nil {
					b.Fatal(err)
				}
				if w.Code != http.StatusOK {
					b.Fatalf("token: %d %s", w.Code, w.Body)
				}
			}
		}
	}
	f := newFlowBench(b, user.DefaultParams(), runtime.GOMAXPROCS(0))
	b.Run("Serial", serial(f))
	b.Run("Parallel", func(b *testing.B) {
		b.ReportAllocs()
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			// RunParallel starts GOMAXPROCS goroutines: one user each.
			username := fbUsername + strconv.Itoa(int(next.Add(1)-1)%runtime.GOMAXPROCS(0))
			for pb.Next() {
				w, err := f.loginFlow(username)
				if err == nil && w.Code != http.StatusOK {
					err = fmt.Errorf("token: %d %s", w.Code, w.Body)
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("CheapHash", serial(newFlowBench(b, fbSmallParams, 0)))
}

// BenchmarkPasswordVerify is the argon2id check of one login (parse the PHC
// string, derive with user.DefaultParams, compare): the bound on logins per
// second per core that BenchmarkLoginFlow is compared with.
func BenchmarkPasswordVerify(b *testing.B) {
	h, err := user.HashPassword(fbPassword, user.DefaultParams())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := user.VerifyPassword(h, fbPassword, user.DefaultParams()); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
