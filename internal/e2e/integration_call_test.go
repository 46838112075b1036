package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse-id/gatehouse/internal/config"
)

// seen is one request as an upstream got it.
type seen struct {
	Method, Path, RawQuery, Body string
	Header                       http.Header
}

// upstream is a loopback system of record that records what reaches it
// and checks the credentials with check (nil: none needed).
type upstream struct {
	*httptest.Server
	mu    sync.Mutex
	got   []seen
	check func(r *http.Request) bool
}

func newUpstream(t *testing.T, check func(r *http.Request) bool) *upstream {
	u := &upstream{check: check}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.got = append(u.got, seen{Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Body: string(body), Header: r.Header.Clone()})
		u.mu.Unlock()
		if u.check != nil && !u.check(r) {
			w.Header().Set("WWW-Authenticate", "Basic")
			http.Error(w, "bad credentials", http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Upstream", "yes")
		w.Header().Set("Set-Cookie", "service-session=s3cr3t")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) requests() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seen(nil), u.got...)
}

func (u *upstream) last(t *testing.T) seen {
	t.Helper()
	r := u.requests()
	if len(r) == 0 {
		t.Fatal("the upstream got no request")
	}
	return r[len(r)-1]
}

// callFixture is a Gatehouse instance with tenant acme and a client whose
// tokens carry integration scopes.
type callFixture struct {
	inst          *instance
	admin         string
	client        createdApp
	read, write   string // tokens: integration:up, and integration:up + :write
	tokenEndpoint string
}

func newCallFixture(t *testing.T, mutate func(*config.Config)) *callFixture {
	f := &callFixture{inst: start(t, options{mutate: mutate})}
	issuer := f.inst.createTenant(t, "acme", "ES256")
	f.tokenEndpoint = issuer + "/oauth/token"
	f.admin = f.inst.adminToken(t)
	f.client = f.inst.createApp(t, "acme", "--type", "s2s", "--name", "caller", "--scope", "integration:up", "--scope", "integration:up:write",
		"--scope", "integration:other")
	f.read = tokenFor(t, f.tokenEndpoint, f.client.ClientID, f.client.ClientSecret, url.Values{"scope": {"integration:up"}})
	f.write = tokenFor(t, f.tokenEndpoint, f.client.ClientID, f.client.ClientSecret, url.Values{"scope": {"integration:up integration:up:write"}})
	return f
}

// integration creates (or replaces) integration name from JSON.
func (f *callFixture) integration(t *testing.T, name, body string) {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	v["name"] = name
	r := f.inst.api(t, f.admin, "PUT", "/admin/v1/tenants/acme/integrations/"+name, v)
	if r.Status == 404 {
		r = f.inst.api(t, f.admin, "POST", "/admin/v1/tenants/acme/integrations", v)
	}
	if r.Status != 200 && r.Status != 201 {
		t.Fatalf("integration %s: %d %s", name, r.Status, r.Raw)
	}
}

// call makes an integration call; path is below .../call/ as sent (raw).
func (f *callFixture) call(t *testing.T, method, name, path, token string, hdr http.Header, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.inst.URL+"/t/acme/integrations/"+name+"/call/"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == "" {
		req.Body = http.NoBody
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// Issue 11 §4, R-INT-4, R-INT-2: calls through an API-key integration reach
// the base URL + path with the key and nothing of the caller's credentials;
// status, headers (but cookies) and body come back; the caller's attempts
// to smuggle headers, escape the base URL or call without the scope fail
// and never reach the upstream.
func TestIntegrationCallAPIKey(t *testing.T) {
	f := newCallFixture(t, nil)
	up := newUpstream(t, func(r *http.Request) bool { return r.Header.Get("X-API-Key") == "k-123" })
	f.integration(t, "up", `{"base_url": "`+up.URL+`/api", "service_auth": {"method": "api_key", "in": "header", "name": "X-API-Key", "key": "k-123"}}`)

	resp, body := f.call(t, "GET", "up", "tickets/42?q=open&n=1", f.read, http.Header{
		"X-Api-Key":           {"evil"},
		"Cookie":              {"gatehouse=session"},
		"Connection":          {"X-Secret"},
		"X-Secret":            {"hop"},
		"X-Forwarded-For":     {"10.0.0.1"},
		"Proxy-Authorization": {"Basic eDp5"},
		"Accept":              {"application/json"},
	}, "")
	if resp.StatusCode != 201 || body != `{"ok":true}` || resp.Header.Get("X-Upstream") != "yes" || resp.Header.Get("Set-Cookie") != "" {
		t.Fatalf("call: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	got := up.last(t)
	if got.Path != "/api/tickets/42" || got.RawQuery != "n=1&q=open" || got.Method != "GET" || got.Header.Get("Accept") != "application/json" {
		t.Errorf("upstream got %+v", got)
	}
	for _, h := range []string{"Authorization", "Cookie", "X-Secret", "X-Forwarded-For", "Proxy-Authorization"} {
		if v := got.Header.Get(h); v != "" {
			t.Errorf("the caller's %s reached the upstream: %q", h, v)
		}
	}
	if v := got.Header.Values("X-Api-Key"); len(v) != 1 || v[0] != "k-123" {
		t.Errorf("X-API-Key at the upstream: %v, want only the integration's key", v)
	}

	// A write with its scope: method and body pass through.
	if resp, _ := f.call(t, "POST", "up", "tickets", f.write, http.Header{"Content-Type": {"application/json"}}, `{"title":"printer"}`); resp.StatusCode != 201 {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	if got := up.last(t); got.Method != "POST" || got.Body != `{"title":"printer"}` || got.Header.Get("Content-Type") != "application/json" {
		t.Errorf("POST at the upstream: %+v", got)
	}

	n := len(up.requests())
	for _, tc := range []struct {
		name, method, path, token string
		want                      int
	}{
		{"no token", "GET", "x", "", 401},
		{"a token that is not live", "GET", "x", "not-a-token", 401},
		{"write without :write", "POST", "x", f.read, 403},
		{"delete without :write", "DELETE", "x", f.read, 403},
		{"another integration's scope", "GET", "x", tokenFor(t, f.tokenEndpoint, f.client.ClientID, f.client.ClientSecret, url.Values{"scope": {"integration:other"}}), 403},
		{"no such integration", "GET", "x", f.read, 403},
		{"encoded dot segments", "GET", "%2e%2e/%2e%2e/admin", f.read, 400},
		{"encoded slash", "GET", "a%2fb", f.read, 400},
		{"encoded backslash", "GET", "a%5cb", f.read, 400},
		{"backslash", "GET", `a\b`, f.read, 400},
		{"at sign", "GET", "user@evil.example.com/x", f.read, 400},
		{"absolute URL", "GET", "http:%2f%2fevil.example.com", f.read, 400},
		{"double encoding", "GET", "%252e%252e/x", f.read, 400},
		{"NUL", "GET", "a%00b", f.read, 400},
		{"bad query", "GET", "x?a=%zz", f.read, 400},
	} {
		name := "up"
		if tc.name == "no such integration" {
			name = "nope"
		}
		resp, body := f.call(t, tc.method, name, tc.path, tc.token, nil, "")
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, body, tc.want)
		}
	}
	// Dot segments and empty ones the router cleans: redirected to the
	// clean path, never forwarded.
	for _, p := range []string{"../../../admin/v1/tenants", "a//b", "./x"} {
		if resp, _ := f.call(t, "GET", "up", p, f.read, nil, ""); resp.StatusCode < 300 || resp.StatusCode > 399 {
			t.Errorf("%s: %d, want a redirect to the clean path", p, resp.StatusCode)
		}
	}
	if got := len(up.requests()); got != n {
		t.Errorf("refused calls reached the upstream: %d more requests", got-n)
	}
}

// Issue 11, R-INT-2: Basic, Bearer with a prefix and an API key in the
// query, each checked by an upstream that verifies it.
func TestIntegrationCallMethods(t *testing.T) {
	f := newCallFixture(t, nil)
	for _, tc := range []struct {
		name, auth string
		check      func(r *http.Request) bool
	}{
		{"basic", `{"method": "basic", "username": "svc", "password": "pa:ss wörd"}`, func(r *http.Request) bool {
			u, p, ok := r.BasicAuth()
			return ok && u == "svc" && p == "pa:ss wörd"
		}},
		{"bearer", `{"method": "bearer", "token": "tok-1", "prefix": "Token"}`, func(r *http.Request) bool { return r.Header.Get("Authorization") == "Token tok-1" }},
		{"query key", `{"method": "api_key", "in": "query", "name": "api_key", "key": "q-key"}`, func(r *http.Request) bool {
			return r.URL.Query()["api_key"] != nil && len(r.URL.Query()["api_key"]) == 1 && r.URL.Query().Get("api_key") == "q-key"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, tc.check)
			f.integration(t, "up", `{"base_url": "`+up.URL+`", "service_auth": `+tc.auth+`}`)
			resp, body := f.call(t, "GET", "up", "items?api_key=caller-evil&x=1", f.read, nil, "")
			if resp.StatusCode != 201 {
				t.Fatalf("%d %s (upstream got %+v)", resp.StatusCode, body, up.last(t))
			}
			if q := up.last(t).RawQuery; !strings.Contains(q, "x=1") {
				t.Errorf("query at the upstream: %q", q)
			}
		})
	}
	// Wrong credentials: the upstream's 401 comes back as it is.
	up := newUpstream(t, func(*http.Request) bool { return false })
	f.integration(t, "up", `{"base_url": "`+up.URL+`", "service_auth": {"method": "basic", "username": "svc", "password": "x"}}`)
	if resp, body := f.call(t, "GET", "up", "x", f.read, nil, ""); resp.StatusCode != 401 || !strings.Contains(body, "bad credentials") {
		t.Errorf("the upstream's refusal: %d %q", resp.StatusCode, body)
	}
}

// Issue 11, R-INT-4: bodies are bounded both ways, an unreachable upstream
// is a 502 with a hint, and a redirect off the base URL is not followed.
func TestIntegrationCallBounds(t *testing.T) {
	f := newCallFixture(t, func(c *config.Config) {
		c.IntegrationMaxRequestBytes = 1000
		c.IntegrationMaxResponseBytes = 2000
	})
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			w.Header().Set("Content-Length", "5000")
			_, _ = w.Write([]byte(strings.Repeat("x", 5000)))
		case "/stream":
			for range 5 {
				_, _ = w.Write([]byte(strings.Repeat("x", 1000)))
				w.(http.Flusher).Flush()
			}
		case "/away":
			http.Redirect(w, r, "http://evil.example.com/steal", http.StatusFound)
		case "/inside":
			http.Redirect(w, r, "/ok", http.StatusFound)
		default:
			_, _ = w.Write([]byte("fine"))
		}
	}))
	t.Cleanup(big.Close)
	f.integration(t, "up", `{"base_url": "`+big.URL+`", "service_auth": {"method": "none"}}`)
	if resp, body := f.call(t, "POST", "up", "x", f.write, nil, strings.Repeat("a", 1001)); resp.StatusCode != 413 {
		t.Errorf("a 1001-byte body: %d %s", resp.StatusCode, body)
	}
	if resp, body := f.call(t, "POST", "up", "x", f.write, nil, strings.Repeat("a", 1000)); resp.StatusCode != 200 || body != "fine" {
		t.Errorf("a 1000-byte body: %d %s", resp.StatusCode, body)
	}
	if resp, body := f.call(t, "GET", "up", "big", f.read, nil, ""); resp.StatusCode != 502 || !strings.Contains(body, "larger than 2000") {
		t.Errorf("a 5000-byte answer: %d %.100s", resp.StatusCode, body)
	}
	// Without a length: cut once past the bound, so the caller sees a
	// broken answer, not a short one that looks whole.
	req, _ := http.NewRequest("GET", f.inst.URL+"/t/acme/integrations/up/call/stream", nil)
	req.Header.Set("Authorization", "Bearer "+f.read)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("a 5000-byte streamed answer came back whole-looking: %d, %d bytes", resp.StatusCode, len(b))
		}
	}
	if resp, _ := f.call(t, "GET", "up", "away", f.read, nil, ""); resp.StatusCode != 302 || resp.Header.Get("Location") != "http://evil.example.com/steal" {
		t.Errorf("a redirect off the base URL: %d %v (want it passed back, not followed)", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, body := f.call(t, "GET", "up", "inside", f.read, nil, ""); resp.StatusCode != 200 || body != "fine" {
		t.Errorf("a redirect within the base URL: %d %q (want it followed)", resp.StatusCode, body)
	}
	big.Close()
	if resp, body := f.call(t, "GET", "up", "x", f.read, nil, ""); resp.StatusCode != 502 || !strings.Contains(body, "upstream_unreachable") || !strings.Contains(body, "hint") {
		t.Errorf("an upstream that is down: %d %s", resp.StatusCode, body)
	}
}

// Issue 11, R-INT-2, R-INT-6: OAuth 2.0 with a Gatehouse tenant as the
// upstream's authorization server: client credentials and password grants
// get tokens the upstream verifies by introspection (one token request for
// many calls: the token is cached); a refused token request comes back as
// its RFC 6749 code with a hint.
func TestIntegrationCallOAuth(t *testing.T) {
	f := newCallFixture(t, nil)
	asIssuer := f.inst.createTenant(t, "as", "ES256")
	svc := f.inst.createApp(t, "as", "--type", "s2s", "--name", "svc", "--scope", "tickets")
	rs := f.inst.createApp(t, "as", "--type", "s2s", "--name", "tickets_api")
	web := f.inst.createApp(t, "as", "--type", "web", "--name", "svc_user", "--grant-type", "password", "--first-party")
	if r := f.inst.api(t, f.admin, "POST", "/admin/v1/tenants/as/users", map[string]any{"username": "robot", "email": "robot@example.com", "password": "robot password 1"}); r.Status != 201 {
		t.Fatalf("user: %d %s", r.Status, r.Raw)
	}
	var tokenRequests sync.Map
	counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A front of the AS's token endpoint that counts the requests.
		n, _ := tokenRequests.LoadOrStore("n", new(int))
		*(n.(*int))++
		req, _ := http.NewRequest("POST", asIssuer+"/oauth/token", r.Body)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		copyHeader(w.Header(), resp.Header)
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(counting.Close)
	introspected := func(wantClient string) func(r *http.Request) bool {
		return func(r *http.Request) bool {
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok {
				return false
			}
			in := postForm(t, asIssuer+"/oauth/introspect", url.Values{"token": {tok}}, rs.ClientID, rs.ClientSecret)
			return in.Body["active"] == true && in.Body["client_id"] == wantClient
		}
	}

	t.Run("client_credentials", func(t *testing.T) {
		up := newUpstream(t, introspected(svc.ClientID))
		f.integration(t, "up", `{"base_url": "`+up.URL+`", "service_auth": {"method": "oauth2", "grant_type": "client_credentials",
			"client_id": "`+svc.ClientID+`", "client_secret": "`+svc.ClientSecret+`", "token_url": "`+counting.URL+`", "scope": "tickets"}}`)
		tokenRequests.Store("n", new(int))
		for i := range 3 {
			if resp, body := f.call(t, "GET", "up", "x", f.read, nil, ""); resp.StatusCode != 201 {
				t.Fatalf("call %d: %d %s", i, resp.StatusCode, body)
			}
		}
		if n, _ := tokenRequests.Load("n"); *(n.(*int)) != 1 {
			t.Errorf("%d token requests for 3 calls, want 1 (cached)", *(n.(*int)))
		}
	})
	t.Run("password", func(t *testing.T) {
		up := newUpstream(t, introspected(web.ClientID))
		f.integration(t, "up", `{"base_url": "`+up.URL+`", "service_auth": {"method": "oauth2", "grant_type": "password",
			"client_id": "`+web.ClientID+`", "client_secret": "`+web.ClientSecret+`", "token_url": "`+asIssuer+`/oauth/token",
			"username": "robot", "password": "robot password 1"}}`)
		if resp, body := f.call(t, "GET", "up", "x", f.read, nil, ""); resp.StatusCode != 201 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	for _, tc := range []struct {
		name, auth, code string
	}{
		{"wrong client secret", `"grant_type": "client_credentials", "client_id": "` + svc.ClientID + `", "client_secret": "wrong", "token_url": "` + asIssuer + `/oauth/token"`, "invalid_client"},
		{"wrong password", `"grant_type": "password", "client_id": "` + web.ClientID + `", "client_secret": "` + web.ClientSecret + `", "token_url": "` + asIssuer + `/oauth/token", "username": "robot", "password": "nope"`, "invalid_grant"},
		{"unknown scope", `"grant_type": "client_credentials", "client_id": "` + svc.ClientID + `", "client_secret": "` + svc.ClientSecret + `", "token_url": "` + asIssuer + `/oauth/token", "scope": "nonexistent"`, "invalid_scope"},
		{"grant not allowed", `"grant_type": "password", "client_id": "` + svc.ClientID + `", "client_secret": "` + svc.ClientSecret + `", "token_url": "` + asIssuer + `/oauth/token", "username": "robot", "password": "robot password 1"`, "unauthorized_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, nil)
			f.integration(t, "up", `{"base_url": "`+up.URL+`", "service_auth": {"method": "oauth2", `+tc.auth+`}}`)
			resp, body := f.call(t, "GET", "up", "x", f.read, nil, "")
			var p struct{ Error, Hint string }
			_ = json.Unmarshal([]byte(body), &p)
			if resp.StatusCode != 502 || p.Error != tc.code || p.Hint == "" {
				t.Errorf("%d %s, want 502 %s with a hint", resp.StatusCode, body, tc.code)
			}
			if len(up.requests()) != 0 {
				t.Error("the call reached the upstream without a token")
			}
		})
	}
}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		dst[k] = vs
	}
}

// Issue 11 §6, R-INT-9, R-INT-6: "test connection" performs the configured
// request with the credentials and shows the outcome in plain words, the
// CLI too; an API key in the query is never shown.
func TestIntegrationTestConnection(t *testing.T) {
	f := newCallFixture(t, nil)
	up := newUpstream(t, func(r *http.Request) bool { return r.URL.Query().Get("k") == "the-key" && r.URL.Path == "/api/health" })
	f.integration(t, "up", `{"base_url": "`+up.URL+`/api", "test_request": {"path": "health"}, "service_auth": {"method": "api_key", "in": "query", "name": "k", "key": "the-key"}}`)
	out, errs, code := f.inst.cli(t, "integration", "test", "up", "--tenant", "acme", "-o", "json")
	var res map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("integration test: %d %s %s", code, out, errs)
	}
	if res["ok"] != true || res["status"] != float64(201) || res["url"] != up.URL+"/api/health?k=REDACTED" || res["body"] != `{"ok":true}` || strings.Contains(out, "the-key") {
		t.Errorf("a working integration: %s", out)
	}
	for _, tc := range []struct {
		name, body, wantError, wantHint string
	}{
		{"refused key", `{"base_url": "` + up.URL + `/api", "test_request": {"path": "health"}, "service_auth": {"method": "api_key", "in": "query", "name": "k", "key": "wrong"}}`, "upstream_refused", "credentials"},
		{"nothing listens", `{"base_url": "http://127.0.0.1:1", "service_auth": {"method": "none"}}`, "upstream_unreachable", "nothing listens"},
		{"OAuth refused", `{"base_url": "` + up.URL + `", "service_auth": {"method": "oauth2", "grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x", "token_url": "` + f.tokenEndpoint + `"}}`, "invalid_client", "client ID and secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.integration(t, "up", tc.body)
			r := f.inst.api(t, f.admin, "POST", "/admin/v1/tenants/acme/integrations/up/test", nil)
			if r.Status != 200 || r.Body["ok"] != false || r.Body["error"] != tc.wantError || !strings.Contains(fmt.Sprint(r.Body["hint"]), tc.wantHint) {
				t.Errorf("%d %s", r.Status, r.Raw)
			}
		})
	}
}

// Issue 11 acceptance, R-INT-2: an NTLM integration against an upstream
// that verifies a real NTLMv2 exchange: the call gets through with the
// right password (one handshake, then the connection stays authenticated),
// and the upstream's 401 comes back with a wrong one.
func TestIntegrationCallNTLM(t *testing.T) {
	f := newCallFixture(t, nil)
	up := newNTLMUpstream(t, "ACME", "svc", "correct-pass")
	f.integration(t, "up", `{"base_url": "`+up.URL+`/ews", "service_auth": {"method": "ntlm", "domain": "ACME", "username": "svc", "password": "correct-pass"}}`)
	for i := range 3 {
		resp, body := f.call(t, "GET", "up", "inbox?n=5", f.read, nil, "")
		if resp.StatusCode != 200 || !strings.Contains(body, `"user":"ACME\\svc"`) || !strings.Contains(body, `"path":"/ews/inbox"`) {
			t.Fatalf("call %d: %d %s", i, resp.StatusCode, body)
		}
	}
	if up.handshakes() != 1 || up.served() != 3 || up.failures() != 0 {
		t.Errorf("handshakes %d, served %d, failures %d: want 1, 3, 0 (the connection stays authenticated)", up.handshakes(), up.served(), up.failures())
	}
	f.integration(t, "up", `{"base_url": "`+up.URL+`/ews", "service_auth": {"method": "ntlm", "domain": "ACME", "username": "svc", "password": "wrong"}}`)
	if resp, body := f.call(t, "GET", "up", "inbox", f.read, nil, ""); resp.StatusCode != 401 {
		t.Errorf("a wrong password: %d %s", resp.StatusCode, body)
	}
	if up.failures() != 1 {
		t.Errorf("failures %d, want 1", up.failures())
	}
}

// Issue 11 acceptance, R-INT-2: the OAuth 2.0 authorization code grant
// with a Gatehouse tenant as the upstream's authorization server: before
// the service account signs in, calls say so; the admin signs in once
// through the callback; calls then carry its token (verified by the
// upstream with introspection); when that token is revoked the upstream's
// 401 makes Gatehouse refresh it and call again.
func TestIntegrationCallAuthorizationCode(t *testing.T) {
	f := newCallFixture(t, nil)
	asIssuer := f.inst.createTenant(t, "as", "ES256")
	rs := f.inst.createApp(t, "as", "--type", "s2s", "--name", "tickets_api")
	callback := f.inst.URL + "/t/acme/integrations/callback"
	web := f.inst.createApp(t, "as", "--type", "web", "--name", "svcapp", "--redirect-uri", callback, "--first-party")
	r := f.inst.api(t, f.admin, "POST", "/admin/v1/tenants/as/users", map[string]any{"username": "robot", "email": "robot@example.com", "password": "robot password 1"})
	if r.Status != 201 {
		t.Fatalf("user: %d %s", r.Status, r.Raw)
	}
	robot := r.Body["id"]
	var mu sync.Mutex
	var seenTokens []string
	refused := map[string]bool{} // tokens the upstream treats as expired
	up := newUpstream(t, func(r *http.Request) bool {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		mu.Lock()
		seenTokens = append(seenTokens, tok)
		no := refused[tok]
		mu.Unlock()
		if no {
			return false
		}
		in := postForm(t, asIssuer+"/oauth/introspect", url.Values{"token": {tok}}, rs.ClientID, rs.ClientSecret)
		return in.Body["active"] == true && in.Body["client_id"] == web.ClientID && in.Body["sub"] == robot
	})
	f.integration(t, "up", `{"base_url": "`+up.URL+`", "service_auth": {"method": "oauth2", "grant_type": "authorization_code",
		"client_id": "`+web.ClientID+`", "client_secret": "`+web.ClientSecret+`", "scope": "openid offline_access",
		"authorization_url": "`+asIssuer+`/oauth/authorize", "token_url": "`+asIssuer+`/oauth/token"}}`)
	if v := f.inst.api(t, f.admin, "GET", "/admin/v1/tenants/acme/integrations/up", nil); v.Body["callback_url"] != callback {
		t.Errorf("callback_url: %v, want %s", v.Body["callback_url"], callback)
	}
	if resp, body := f.call(t, "GET", "up", "x", f.read, nil, ""); resp.StatusCode != 503 || !strings.Contains(body, "not_signed_in") || !strings.Contains(body, "authorize") {
		t.Fatalf("before the sign-in: %d %s", resp.StatusCode, body)
	}

	out, errs, code := f.inst.cli(t, "integration", "authorize", "up", "--tenant", "acme", "-o", "json")
	var az struct {
		AuthorizationURL string `json:"authorization_url"`
		RedirectURI      string `json:"redirect_uri"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &az) != nil || !strings.HasPrefix(az.AuthorizationURL, asIssuer+"/oauth/authorize?") || az.RedirectURI != callback {
		t.Fatalf("integration authorize: %d %s %s", code, out, errs)
	}
	b := newBrowser(t)
	p, seen := b.drive(az.AuthorizationURL)
	if !strings.HasSuffix(p.URL.Path, "/login") {
		t.Fatalf("the sign-in did not reach the login page: %v", seen)
	}
	p = b.submit(forms(t, p)[0], map[string][]string{"username": {"robot"}, "password": {"robot password 1"}})
	next, _ := p.URL.Parse(p.Location)
	p, seen = b.drive(next.String())
	if p.Status != 200 || !strings.Contains(p.Body, "Signed in") {
		t.Fatalf("the callback: %d %.300s (%v)", p.Status, p.Body, seen)
	}
	// The state is single-purpose: a forged or stale one is refused.
	if p := b.get(callback + "?code=x&state=forged"); p.Status != 400 {
		t.Errorf("a forged state: %d", p.Status)
	}

	for i := range 2 {
		if resp, body := f.call(t, "GET", "up", "x", f.read, nil, ""); resp.StatusCode != 201 {
			t.Fatalf("call %d after the sign-in: %d %s", i, resp.StatusCode, body)
		}
	}
	// The upstream takes the token for expired: its 401 makes Gatehouse
	// refresh (the refresh token is stored) and call again, once.
	mu.Lock()
	first := seenTokens[len(seenTokens)-1]
	refused[first] = true
	mu.Unlock()
	if resp, body := f.call(t, "GET", "up", "x", f.read, nil, ""); resp.StatusCode != 201 {
		t.Fatalf("after the upstream refused the token: %d %s", resp.StatusCode, body)
	}
	mu.Lock()
	second := seenTokens[len(seenTokens)-1]
	mu.Unlock()
	if second == first {
		t.Fatal("the call after the refusal used the refused token")
	}
	// Revoking the grant at the authorization server (Gatehouse revokes
	// the whole family): the refresh is refused, and the call says so with
	// the RFC 6749 code and what to do (R-INT-6).
	mu.Lock()
	refused[second] = true
	mu.Unlock()
	if rv := postForm(t, asIssuer+"/oauth/revoke", url.Values{"token": {second}}, web.ClientID, web.ClientSecret); rv.Status != 200 {
		t.Fatalf("revoke: %d %s", rv.Status, rv.Raw)
	}
	if resp, body := f.call(t, "GET", "up", "x", f.read, nil, ""); resp.StatusCode != 502 || !strings.Contains(body, `"error":"invalid_grant"`) || !strings.Contains(body, "sign in with the service account again") {
		t.Errorf("after the grant was revoked: %d %s", resp.StatusCode, body)
	}
}

// Issue 11 §3, R-INT-3: service actions act as the user, with the user's
// own credentials at the system. Reads go with the service credentials; a
// user's first write answers where to authorize, once; the user authorizes
// in their browser (signed in to Gatehouse); writes then carry their own
// upstream token. A client's token cannot write, and a link made for one
// user does not complete in a browser without that user's session.
func TestIntegrationServiceActions(t *testing.T) {
	f := newCallFixture(t, nil)
	asIssuer := f.inst.createTenant(t, "as", "ES256")
	rs := f.inst.createApp(t, "as", "--type", "s2s", "--name", "tickets_api")
	callback := f.inst.URL + "/t/acme/integrations/callback"
	actions := f.inst.createApp(t, "as", "--type", "web", "--name", "actions", "--redirect-uri", callback, "--first-party")
	for tenant, u := range map[string]string{"as": "robot", "acme": "alice"} {
		if r := f.inst.api(t, f.admin, "POST", "/admin/v1/tenants/"+tenant+"/users", map[string]any{"username": u, "email": u + "@example.com", "password": u + " password 1"}); r.Status != 201 {
			t.Fatalf("user %s: %d %s", u, r.Status, r.Raw)
		}
	}
	up := newUpstream(t, func(r *http.Request) bool {
		if r.Method == "GET" {
			return r.Header.Get("Authorization") == ""
		}
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		in := postForm(t, asIssuer+"/oauth/introspect", url.Values{"token": {tok}}, rs.ClientID, rs.ClientSecret)
		return in.Body["active"] == true && in.Body["client_id"] == actions.ClientID && in.Body["username"] == "robot"
	})
	f.integration(t, "up", `{"base_url": "`+up.URL+`", "service_auth": {"method": "none"},
		"service_action_auth": {"method": "oauth2", "grant_type": "authorization_code", "client_id": "`+actions.ClientID+`",
		"client_secret": "`+actions.ClientSecret+`", "authorization_url": "`+asIssuer+`/oauth/authorize", "token_url": "`+asIssuer+`/oauth/token",
		"scope": "openid offline_access"}}`)

	// Alice signs in to an app of acme: her browser has a Gatehouse
	// session, her token the integration's scopes.
	portal := f.inst.createApp(t, "acme", "--type", "web", "--name", "portal", "--redirect-uri", "https://portal.example.com/cb", "--first-party",
		"--scope", "integration:up", "--scope", "integration:up:write")
	cfg := &oauth2.Config{ClientID: portal.ClientID, ClientSecret: portal.ClientSecret, RedirectURL: "https://portal.example.com/cb",
		Scopes: []string{"openid", "integration:up", "integration:up:write"}, Endpoint: oauth2.Endpoint{AuthURL: f.inst.URL + "/t/acme/oauth/authorize", TokenURL: f.tokenEndpoint}}
	b := newBrowser(t)
	q := b.login(cfg.AuthCodeURL("st"), f.inst.URL, "alice", "alice password 1", "")
	tok, err := cfg.Exchange(context.Background(), q.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	alice := tok.AccessToken

	if resp, body := f.call(t, "GET", "up", "tickets", alice, nil, ""); resp.StatusCode != 201 {
		t.Fatalf("a read with the service credentials: %d %s", resp.StatusCode, body)
	}
	if resp, body := f.call(t, "POST", "up", "tickets", f.write, nil, ""); resp.StatusCode != 403 || !strings.Contains(body, "user_required") {
		t.Errorf("a write with a client's token: %d %s", resp.StatusCode, body)
	}
	resp, body := f.call(t, "POST", "up", "tickets", alice, nil, "")
	var need struct {
		Error            string `json:"error"`
		AuthorizationURL string `json:"authorization_url"`
	}
	_ = json.Unmarshal([]byte(body), &need)
	if resp.StatusCode != 403 || need.Error != "authorization_required" || !strings.HasPrefix(need.AuthorizationURL, asIssuer+"/oauth/authorize?") {
		t.Fatalf("alice's first write: %d %s", resp.StatusCode, body)
	}
	n := len(up.requests())

	// The link in a browser without alice's Gatehouse session: refused.
	other := newBrowser(t)
	p, _ := other.drive(need.AuthorizationURL)
	p = other.submit(forms(t, p)[0], map[string][]string{"username": {"robot"}, "password": {"robot password 1"}})
	next, _ := p.URL.Parse(p.Location)
	if p, _ = other.drive(next.String()); p.Status != 403 || !strings.Contains(p.Body, "not yours") {
		t.Errorf("the link completed in another browser: %d %.200s", p.Status, p.Body)
	}
	if resp, _ := f.call(t, "POST", "up", "tickets", alice, nil, ""); resp.StatusCode != 403 {
		t.Errorf("alice can write after another browser used her link: %d", resp.StatusCode)
	}

	// In alice's own browser: authorized once, then her writes go as robot.
	p, seen := b.drive(need.AuthorizationURL)
	p = b.submit(forms(t, p)[0], map[string][]string{"username": {"robot"}, "password": {"robot password 1"}})
	next, _ = p.URL.Parse(p.Location)
	if p, seen = b.drive(next.String()); p.Status != 200 || !strings.Contains(p.Body, "Signed in") {
		t.Fatalf("alice's authorization: %d %.300s %v", p.Status, p.Body, seen)
	}
	for i := range 2 {
		if resp, body := f.call(t, "POST", "up", "tickets", alice, http.Header{"Content-Type": {"application/json"}}, `{"t":1}`); resp.StatusCode != 201 {
			t.Fatalf("alice's write %d: %d %s", i, resp.StatusCode, body)
		}
	}
	if got := len(up.requests()); got != n+2 {
		t.Errorf("%d requests reached the upstream, want %d", got-n, 2)
	}
}
