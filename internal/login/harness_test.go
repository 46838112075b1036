package login_test

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"encoding/xml"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/login"
	"github.com/gatehouse-id/gatehouse/internal/seal"
	"github.com/gatehouse-id/gatehouse/internal/store"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// The store satisfies the pages' Store (and so the limiter's).
var _ login.Store = (*store.DB)(nil)

const (
	publicURL = "https://id.example.com"
	password  = "correct horse battery staple"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is a real SQLite store with a tenant "acme", a third-party web app
// and a first-party one, the active user alice and the user bob, and the
// pages on a mux.
type env struct {
	db         *store.DB
	path       string
	users      *user.Service
	clock      *clock
	pages      *login.Pages
	mux        *http.ServeMux
	logs       *syncBuffer
	thirdParty *app.App
	firstParty *app.App
	alice      *user.User
	bob        *user.User
	raw        *sql.DB
}

type envOption func(*login.Pages)

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	ctx := t.Context()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	ring, err := seal.NewRing(key)
	if err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(t.TempDir(), "gatehouse.db")
	db, err := store.Open(ctx, store.Options{Path: dbPath, Seal: ring})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, path: dbPath, clock: &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}, logs: &syncBuffer{}}
	t.Cleanup(func() {
		if e.raw != nil {
			_ = e.raw.Close()
		}
		_ = db.Close()
	})
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	for _, name := range []string{"acme", "other"} {
		if err := db.CreateTenant(ctx, &tenant.Tenant{Name: name, DisplayName: name, SigningAlg: tenant.AlgES256, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	e.thirdParty = mkApp(t, db, "acme", "Partner_Portal", false)
	e.firstParty = mkApp(t, db, "acme", "Intranet", true)
	// Small argon2id parameters: the race detector makes the default ones slow.
	e.users = &user.Service{Store: db, Now: e.clock.Now, Params: user.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}
	e.alice = mkUser(t, e.users, "acme", "alice")
	e.bob = mkUser(t, e.users, "acme", "bob")
	e.pages = &login.Pages{
		PublicURL:       publicURL,
		Users:           e.users,
		Store:           db,
		Apps:            db,
		Now:             e.clock.Now,
		Log:             slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		SessionLifetime: 8 * time.Hour,
		CSRFKey:         []byte("test csrf key"),
	}
	for _, o := range opts {
		o(e.pages)
	}
	e.mux = http.NewServeMux()
	e.pages.Register(e.mux)
	return e
}

func mkApp(t testing.TB, db *store.DB, tenantID, name string, firstParty bool) *app.App {
	t.Helper()
	a := &app.App{
		ClientID:             app.RandomString(app.ClientIDLength),
		Name:                 name,
		Type:                 app.Web,
		Protocol:             app.OIDC,
		FirstParty:           firstParty,
		WebsiteURL:           "https://partner.example.com",
		RedirectURIs:         []string{"https://partner.example.com/callback"},
		GrantTypes:           []string{app.GrantAuthorizationCode, app.GrantRefreshToken},
		Scopes:               []string{"invoices:read"},
		AccessTokenLifetime:  app.Duration(time.Hour),
		IDTokenLifetime:      app.Duration(time.Hour),
		RefreshTokenLifetime: app.Duration(24 * time.Hour),
		AccessTokenFormat:    app.TokenJWT,
	}
	if err := db.CreateApp(t.Context(), tenantID, a, nil, 100); err != nil {
		t.Fatal(err)
	}
	return a
}

func mkUser(t testing.TB, users *user.Service, tenantID, name string) *user.User {
	t.Helper()
	u, err := users.Create(t.Context(), tenantID, &user.User{Username: name, Email: name + "@example.com", State: user.Active}, password)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// request stores an authorization request of client, as the authorization
// endpoint does before it sends the browser to the login page.
func (e *env) request(t *testing.T, tenantID string, client *app.App, mutate ...func(*grant.Request)) *grant.Request {
	t.Helper()
	now := e.clock.Now()
	r := &grant.Request{
		ID: grant.NewID(), ClientID: client.ClientID, RedirectURI: client.RedirectURIs[0], ResponseType: "code",
		Scope: []string{"openid", "profile", "invoices:read"}, State: "st", MaxAge: -1,
		CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute),
	}
	for _, m := range mutate {
		m(r)
	}
	if err := e.db.CreateRequest(t.Context(), tenantID, r); err != nil {
		t.Fatal(err)
	}
	return r
}

// browser sends requests to the mux the way a browser would: it keeps
// cookies and marks its form posts same-origin.
type browser struct {
	e       *env
	cookies map[string]*http.Cookie
	// Header is added to every request.
	Header http.Header
}

func (e *env) browser() *browser {
	return &browser{e: e, cookies: map[string]*http.Cookie{}, Header: http.Header{}}
}

// response is a finished response with its body read.
type response struct {
	*http.Response
	Body string
}

func (b *browser) do(t *testing.T, req *http.Request) *response {
	t.Helper()
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	for k, v := range b.Header {
		req.Header[k] = v
	}
	req.RemoteAddr = "192.0.2.10:4321"
	rec := httptest.NewRecorder()
	b.e.mux.ServeHTTP(rec, req)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
			continue
		}
		b.cookies[c.Name] = &http.Cookie{Name: c.Name, Value: c.Value}
	}
	return &response{Response: res, Body: string(body)}
}

func (b *browser) get(t *testing.T, target string) *response {
	t.Helper()
	return b.do(t, httptest.NewRequest(http.MethodGet, target, nil))
}

func (b *browser) post(t *testing.T, target string, form url.Values) *response {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", publicURL)
	return b.do(t, req)
}

// login fetches the login page and submits it with the given credentials,
// as a person would.
func (b *browser) login(t *testing.T, page, username, pass string) *response {
	t.Helper()
	res := b.get(t, page)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", page, res.StatusCode, res.Body)
	}
	form := formValues(t, res.Body)
	form.Set("username", username)
	form.Set("password", pass)
	return b.post(t, formAction(t, res.Body), form)
}

// element is an HTML start tag and its attributes.
type element struct {
	Tag   string
	Attrs map[string]string
}

// parseHTML lists the elements of an HTML page, parsed with encoding/xml in
// its HTML mode (void elements, HTML entities, attributes without values).
// It fails the test on markup it cannot parse.
func parseHTML(t *testing.T, body string) []element {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(body))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	var out []element
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("parse HTML: %v\n%s", err, body)
		}
		if se, ok := tok.(xml.StartElement); ok {
			el := element{Tag: strings.ToLower(se.Name.Local), Attrs: map[string]string{}}
			for _, a := range se.Attr {
				el.Attrs[strings.ToLower(a.Name.Local)] = a.Value
			}
			out = append(out, el)
		}
	}
}

// find returns the elements with the tag and every given attribute value.
func find(els []element, tag string, attrs ...string) []element {
	var out []element
next:
	for _, el := range els {
		if el.Tag != tag {
			continue
		}
		for i := 0; i+1 < len(attrs); i += 2 {
			if v, ok := el.Attrs[attrs[i]]; !ok || v != attrs[i+1] {
				continue next
			}
		}
		out = append(out, el)
	}
	return out
}

func one(t *testing.T, els []element, tag string, attrs ...string) element {
	t.Helper()
	got := find(els, tag, attrs...)
	if len(got) != 1 {
		t.Fatalf("want exactly one <%s %v>, found %d", tag, attrs, len(got))
	}
	return got[0]
}

// formValues returns the hidden inputs of the page's form.
func formValues(t *testing.T, body string) url.Values {
	t.Helper()
	v := url.Values{}
	for _, in := range find(parseHTML(t, body), "input", "type", "hidden") {
		v.Set(in.Attrs["name"], in.Attrs["value"])
	}
	return v
}

// formAction returns the path and query of the page's form action.
func formAction(t *testing.T, body string) string {
	t.Helper()
	f := one(t, parseHTML(t, body), "form", "method", "post")
	u, err := url.Parse(f.Attrs["action"])
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

// sessionCookie returns the browser's session cookie of the tenant.
func (b *browser) sessionCookie(tenantID string) *http.Cookie {
	return b.cookies["__Host-gatehouse-"+tenantID]
}

func setCookie(res *response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func path(u string) string {
	return strings.TrimPrefix(u, publicURL)
}

// rawDB is a read-only connection to the store's file, to count rows the
// store has no list method for.
func (e *env) rawDB() *sql.DB {
	if e.raw == nil {
		db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: e.path}).EscapedPath()+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
		if err != nil {
			panic(err)
		}
		e.raw = db
	}
	return e.raw
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

// newFormRequest is a form post with no browser headers.
func newFormRequest(target string, form url.Values) *http.Request {
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

// newTLSEnv is an env whose pages run on a real TLS server on loopback, with
// the server's URL as the public URL.
func newTLSEnv(t *testing.T) (*env, *httptest.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	public := "https://" + ln.Addr().String()
	e := newEnv(t, func(p *login.Pages) { p.PublicURL = public })
	srv := httptest.NewUnstartedServer(e.mux)
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.StartTLS()
	t.Cleanup(srv.Close)
	if srv.URL != public {
		t.Fatalf("server URL %s, want %s", srv.URL, public)
	}
	return e, srv
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
