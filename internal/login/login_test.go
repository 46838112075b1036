package login_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/login"
	"github.com/gatehouse-id/gatehouse/internal/store"
	"github.com/gatehouse-id/gatehouse/internal/ui"
)

// checkPageHeaders: every page is not cached, not framed, and allows no
// script (R-OID-9).
func checkPageHeaders(t *testing.T, res *response) {
	t.Helper()
	h := res.Header
	if got := h.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if got := h.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("X-Frame-Options = %q, want DENY", got)
	}
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q allows scripts or inline code", csp)
	}
	if strings.Contains(strings.ToLower(res.Body), "<script") {
		t.Error("the page has a script")
	}
}

// TestLoginFormContract: the form password managers and test tools rely on
// (issue 3), accessible (labels, lang), with the login_hint pre-filled.
func TestLoginFormContract(t *testing.T) {
	e := newEnv(t)
	req := e.request(t, "acme", e.thirdParty, func(r *grant.Request) { r.LoginHint = "alice@example.com" })
	b := e.browser()
	res := b.get(t, "/t/acme/login?request="+url.QueryEscape(req.ID))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d\n%s", res.StatusCode, res.Body)
	}
	checkPageHeaders(t, res)
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	els := parseHTML(t, res.Body)
	if html := one(t, els, "html"); html.Attrs["lang"] != "en" {
		t.Errorf("<html lang=%q>", html.Attrs["lang"])
	}
	form := one(t, els, "form", "method", "post")
	if want := login.LoginURL(publicURL, "acme", req.ID); form.Attrs["action"] != want {
		t.Errorf("form action %q, want %q", form.Attrs["action"], want)
	}
	username := one(t, els, "input", "name", "username", "autocomplete", "username")
	if username.Attrs["value"] != "alice@example.com" {
		t.Errorf("username not pre-filled with login_hint: %q", username.Attrs["value"])
	}
	pw := one(t, els, "input", "name", "password", "type", "password", "autocomplete", "current-password")
	if _, ok := pw.Attrs["autofocus"]; !ok {
		t.Error("with the username known, the password input should take the focus")
	}
	one(t, els, "button", "type", "submit")
	for _, in := range []element{username, pw} {
		one(t, els, "label", "for", in.Attrs["id"])
	}
	if tok := one(t, els, "input", "type", "hidden", "name", "csrf_token"); len(tok.Attrs["value"]) < 40 {
		t.Errorf("csrf token %q", tok.Attrs["value"])
	}
	if !strings.Contains(res.Body, "Partner_Portal") {
		t.Error("the page does not name the application")
	}
	// The nonce cookie of the form token: HttpOnly, __Host-.
	nc := setCookie(res, "__Host-gatehouse-csrf")
	if nc == nil || !nc.HttpOnly || !nc.Secure || nc.Path != "/" || nc.SameSite != http.SameSiteLaxMode || nc.MaxAge <= 0 || nc.MaxAge > 3600 {
		t.Errorf("nonce cookie %+v", nc)
	}
	// The stylesheets the page links are served.
	for _, l := range find(els, "link", "rel", "stylesheet") {
		css := b.get(t, path(l.Attrs["href"]))
		if css.StatusCode != http.StatusOK || css.Header.Get("Content-Type") != "text/css; charset=utf-8" || !strings.Contains(css.Header.Get("Cache-Control"), "max-age") {
			t.Errorf("GET %s: %d %v", l.Attrs["href"], css.StatusCode, css.Header)
		}
	}
}

// TestLoginSuccess: a session cookie (__Host-, Secure, HttpOnly, SameSite=Lax)
// whose hash names a stored session, then 303 to the authorization
// endpoint's resume URL (R-OID-10).
func TestLoginSuccess(t *testing.T) {
	e := newEnv(t)
	req := e.request(t, "acme", e.thirdParty)
	b := e.browser()
	res := b.login(t, "/t/acme/login?request="+req.ID, "Alice", password)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d\n%s", res.StatusCode, res.Body)
	}
	if got, want := res.Header.Get("Location"), publicURL+"/t/acme/oauth/authorize/resume?request="+url.QueryEscape(req.ID); got != want {
		t.Errorf("Location %q, want %q", got, want)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Error("redirect is cacheable")
	}
	c := setCookie(res, "__Host-gatehouse-acme")
	if c == nil {
		t.Fatalf("no session cookie in %v", res.Header["Set-Cookie"])
	}
	if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
		t.Errorf("cookie attributes %+v", c)
	}
	if len(c.Value) != 43 {
		t.Errorf("cookie value %q is not a 256-bit secret", c.Value)
	}
	now := e.clock.Now()
	s, err := e.db.GetSession(t.Context(), "acme", grant.Hash(c.Value))
	if err != nil {
		t.Fatalf("no stored session for the cookie's hash: %v", err)
	}
	if s.UserID != e.alice.ID || !s.AuthTime.Equal(now) || !s.ExpiresAt.Equal(now.Add(8*time.Hour)) || s.SID == "" {
		t.Errorf("session %+v", s)
	}
	if _, err := e.db.GetSession(t.Context(), "acme", c.Value); err == nil {
		t.Error("the secret itself is stored")
	}
	if c.MaxAge != int((8 * time.Hour).Seconds()) {
		t.Errorf("cookie Max-Age %d", c.MaxAge)
	}
	// Session reads it back, only in its tenant.
	hr := cookieRequest(c)
	gs, u, err := e.pages.Session(hr, "acme")
	if err != nil || gs.SID != s.SID || u.ID != e.alice.ID {
		t.Fatalf("Session: %+v %+v %v", gs, u, err)
	}
	if _, _, err := e.pages.Session(hr, "other"); !derrors.Is(err, derrors.NotFound) {
		t.Errorf("Session of another tenant: %v, want NotFound (R-TEN-1)", err)
	}
	// A second login replaces the session: the old row is gone.
	req2 := e.request(t, "acme", e.thirdParty, func(r *grant.Request) { r.Prompt = []string{"login"} })
	res = b.login(t, "/t/acme/login?request="+req2.ID, "alice", password)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("second login: %d", res.StatusCode)
	}
	if _, err := e.db.GetSession(t.Context(), "acme", grant.Hash(c.Value)); !derrors.Is(err, derrors.NotFound) {
		t.Errorf("the previous session survives a new login: %v", err)
	}
	if c2 := b.sessionCookie("acme"); c2 == nil || c2.Value == c.Value {
		t.Error("a new login kept the old session secret")
	}
	if !strings.Contains(e.logs.String(), `"msg":"login succeeded"`) || strings.Contains(e.logs.String(), password) {
		t.Error("login success not logged, or the password is in the log")
	}
}

func cookieRequest(cs ...*http.Cookie) *http.Request {
	r, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, publicURL+"/", nil)
	for _, c := range cs {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return r
}

// TestLoginWithoutRequest: plain sign-in, then a "you are signed in" page.
func TestLoginWithoutRequest(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	res := b.login(t, "/t/acme/login", "alice", password)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != publicURL+"/t/acme/login" {
		t.Fatalf("status %d, Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	res = b.get(t, "/t/acme/login")
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, "You are signed in as alice.") {
		t.Fatalf("status %d\n%s", res.StatusCode, res.Body)
	}
	checkPageHeaders(t, res)
	if len(find(parseHTML(t, res.Body), "form")) != 0 {
		t.Error("the signed-in page shows a form")
	}
}

var csrfValue = regexp.MustCompile(`name="csrf_token" value="[^"]*"`)

// TestFailedLoginsLookAlike: a wrong password, an unknown user and a blocked
// user with the right password get the same page and status: one generic
// message, no session (R-USR-2; never whether the user exists).
func TestFailedLoginsLookAlike(t *testing.T) {
	e := newEnv(t)
	if _, err := e.users.Block(t.Context(), "acme", e.bob.ID); err != nil {
		t.Fatal(err)
	}
	req := e.request(t, "acme", e.thirdParty)
	page := "/t/acme/login?request=" + req.ID
	cases := []struct{ name, username, password string }{
		{"wrong password", "alice", "not the password"},
		{"unknown user", "mallory", password},
		{"blocked user, right password", "bob", password},
	}
	var first *response
	for _, c := range cases {
		b := e.browser()
		res := b.login(t, page, c.username, c.password)
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", c.name, res.StatusCode)
		}
		if !strings.Contains(res.Body, login.MsgBadLogin) {
			t.Errorf("%s: no generic message", c.name)
		}
		if len(b.cookies) != 1 || b.sessionCookie("acme") != nil {
			t.Errorf("%s: cookies %v", c.name, b.cookies)
		}
		checkPageHeaders(t, res)
		els := parseHTML(t, res.Body)
		one(t, els, "p", "id", "form-error", "role", "alert")
		for _, name := range []string{"username", "password"} {
			in := one(t, els, "input", "name", name)
			if in.Attrs["aria-describedby"] != "form-error" || in.Attrs["aria-invalid"] != "true" {
				t.Errorf("%s: input %s not tied to the error: %v", c.name, name, in.Attrs)
			}
		}
		if strings.Contains(res.Body, c.password) {
			t.Errorf("%s: the password is echoed", c.name)
		}
		// Same page but for the echoed username and the form token.
		norm := strings.ReplaceAll(csrfValue.ReplaceAllString(res.Body, ""), `value="`+c.username+`"`, `value="X"`)
		if first == nil {
			first = &response{Response: res.Response, Body: norm}
		} else if norm != first.Body {
			t.Errorf("%s: the page differs from %s:\n%s\n----\n%s", c.name, cases[0].name, norm, first.Body)
		}
	}
	n, err := countSessions(e)
	if err != nil || n != 0 {
		t.Errorf("%d sessions after failed logins (%v)", n, err)
	}
}

func countSessions(e *env) (int, error) {
	// The store has no list of sessions; a raw count is enough here.
	var n int
	err := e.rawDB().QueryRow("SELECT count(*) FROM sessions").Scan(&n)
	return n, err
}

// TestBlockedUserSession: blocking ends the user's SSO session at once
// (R-USR-2): Session no longer reports it, and the consent page sends the
// browser back to the login page.
func TestBlockedUserSession(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	if res := b.login(t, "/t/acme/login", "alice", password); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", res.StatusCode)
	}
	c := b.sessionCookie("acme")
	if _, _, err := e.pages.Session(cookieRequest(c), "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.users.Block(t.Context(), "acme", e.alice.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.pages.Session(cookieRequest(c), "acme"); !derrors.Is(err, derrors.NotFound) {
		t.Fatalf("Session of a blocked user: %v, want NotFound", err)
	}
	req := e.request(t, "acme", e.thirdParty)
	res := b.get(t, "/t/acme/consent?request="+req.ID)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != login.LoginURL(publicURL, "acme", req.ID) {
		t.Errorf("consent page for a blocked user's session: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res := b.login(t, "/t/acme/login", "alice", password); res.StatusCode != http.StatusOK || !strings.Contains(res.Body, login.MsgBadLogin) {
		t.Errorf("a blocked user logs in: %d", res.StatusCode)
	}
	// Unblocking does not revive the old session; the user signs in again.
	e.clock.Advance(time.Second)
	if _, err := e.users.Unblock(t.Context(), "acme", e.alice.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.pages.Session(cookieRequest(c), "acme"); !derrors.Is(err, derrors.NotFound) {
		t.Fatalf("Session from before the block, after unblock: %v, want NotFound", err)
	}
	if res := b.login(t, "/t/acme/login", "alice", password); res.StatusCode != http.StatusSeeOther {
		t.Errorf("after unblock: %d", res.StatusCode)
	}
}

// TestSessionExpiry: a session past its lifetime is not valid.
func TestSessionExpiry(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login(t, "/t/acme/login", "alice", password)
	c := b.sessionCookie("acme")
	e.clock.Advance(8*time.Hour - time.Second)
	if _, _, err := e.pages.Session(cookieRequest(c), "acme"); err != nil {
		t.Fatalf("just before expiry: %v", err)
	}
	e.clock.Advance(time.Second)
	if _, _, err := e.pages.Session(cookieRequest(c), "acme"); !derrors.Is(err, derrors.NotFound) {
		t.Fatalf("at expiry: %v", err)
	}
	for _, v := range []string{"", "short", strings.Repeat("A", 43), strings.Repeat("%", 43)} {
		if _, _, err := e.pages.Session(cookieRequest(&http.Cookie{Name: c.Name, Value: v}), "acme"); !derrors.Is(err, derrors.NotFound) {
			t.Errorf("cookie %q: %v", v, err)
		}
	}
}

// TestEndSession: the row is deleted, the cookie expired, the session
// returned; without a session, nil.
func TestEndSession(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login(t, "/t/acme/login", "alice", password)
	c := b.sessionCookie("acme")
	rec := newRecorder()
	s, err := e.pages.EndSession(rec, cookieRequest(c), "acme")
	if err != nil || s == nil || s.UserID != e.alice.ID {
		t.Fatalf("EndSession: %+v %v", s, err)
	}
	gone := setCookie(&response{Response: rec.Result()}, "__Host-gatehouse-acme")
	if gone == nil || gone.MaxAge >= 0 || gone.Value != "" {
		t.Errorf("cookie not expired: %+v", gone)
	}
	if _, err := e.db.GetSession(t.Context(), "acme", grant.Hash(c.Value)); !derrors.Is(err, derrors.NotFound) {
		t.Errorf("session row survives: %v", err)
	}
	if _, _, err := e.pages.Session(cookieRequest(c), "acme"); !derrors.Is(err, derrors.NotFound) {
		t.Errorf("Session after EndSession: %v", err)
	}
	s, err = e.pages.EndSession(newRecorder(), cookieRequest(c), "acme")
	if err != nil || s != nil {
		t.Errorf("second EndSession: %+v %v", s, err)
	}
}

// TestCSRF: a form post without a valid token is refused with 403 and
// changes nothing: no session, no consent.
func TestCSRF(t *testing.T) {
	e := newEnv(t)
	req := e.request(t, "acme", e.thirdParty)
	other := e.request(t, "acme", e.thirdParty)
	page := "/t/acme/login?request=" + req.ID
	b := e.browser()
	res := b.get(t, page)
	valid := formValues(t, res.Body)
	// A token of another request and of another browser's nonce.
	otherTok := formValues(t, b.get(t, "/t/acme/login?request="+other.ID).Body).Get("csrf_token")
	b2 := e.browser()
	strangerTok := formValues(t, b2.get(t, page).Body).Get("csrf_token")

	creds := func(tok string) url.Values {
		v := url.Values{"username": {"alice"}, "password": {password}}
		if tok != "" {
			v.Set("csrf_token", tok)
		}
		return v
	}
	for _, c := range []struct {
		name   string
		b      *browser
		form   url.Values
		target string
	}{
		{"no token", b, creds(""), page},
		{"forged token", b, creds(strings.Repeat("A", 43)), page},
		{"token of another request", b, creds(otherTok), page},
		{"token of another browser", b, creds(strangerTok), page},
		{"token without the nonce cookie", e.browser(), creds(valid.Get("csrf_token")), page},
		{"token of another tenant's form", b, creds(valid.Get("csrf_token")), "/t/other/login?request=" + req.ID},
		{"login token on the consent form", b, url.Values{"csrf_token": {valid.Get("csrf_token")}, "decision": {"allow"}}, "/t/acme/consent?request=" + req.ID},
	} {
		res := c.b.post(t, c.target, c.form)
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", c.name, res.StatusCode)
		}
		if !strings.Contains(res.Body, "This form has expired") {
			t.Errorf("%s: page does not say why", c.name)
		}
		checkPageHeaders(t, res)
		if c.b.sessionCookie("acme") != nil || setCookie(res, "__Host-gatehouse-acme") != nil {
			t.Errorf("%s: a session cookie was set", c.name)
		}
	}
	if n, _ := countSessions(e); n != 0 {
		t.Fatalf("%d sessions created by refused posts", n)
	}
	// The valid token works.
	if res := b.post(t, page, creds(valid.Get("csrf_token"))); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("valid token: %d\n%s", res.StatusCode, res.Body)
	}
	// A consent post without a token saves no consent.
	res = b.post(t, "/t/acme/consent?request="+req.ID, url.Values{"decision": {"allow"}})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("consent without token: %d", res.StatusCode)
	}
	if _, err := e.db.GetConsent(t.Context(), "acme", e.alice.ID, e.thirdParty.ClientID); !derrors.Is(err, derrors.NotFound) {
		t.Errorf("consent saved without a token: %v", err)
	}
}

// TestCrossOrigin: a cross-site post is refused by http.CrossOriginProtection
// even with a valid token (Sec-Fetch-Site, or Origin for older browsers).
func TestCrossOrigin(t *testing.T) {
	e := newEnv(t)
	page := "/t/acme/login"
	for _, c := range []struct {
		name    string
		headers map[string]string
	}{
		{"Sec-Fetch-Site: cross-site", map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"Sec-Fetch-Site: same-site", map[string]string{"Sec-Fetch-Site": "same-site"}},
		{"foreign Origin", map[string]string{"Sec-Fetch-Site": "", "Origin": "https://evil.example"}},
	} {
		b := e.browser()
		form := formValues(t, b.get(t, page).Body)
		form.Set("username", "alice")
		form.Set("password", password)
		req := newFormRequest(page, form)
		for k, v := range c.headers {
			req.Header.Set(k, v)
		}
		res := b.do(t, req)
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", c.name, res.StatusCode)
		}
		if !strings.Contains(res.Body, "sent from another site") {
			t.Errorf("%s: page does not say why", c.name)
		}
		checkPageHeaders(t, res)
		if b.sessionCookie("acme") != nil {
			t.Errorf("%s: session cookie set", c.name)
		}
	}
	if n, _ := countSessions(e); n != 0 {
		t.Fatalf("%d sessions created by cross-origin posts", n)
	}
	// The public origin itself is fine, even when a proxy changed Host.
	b := e.browser()
	form := formValues(t, b.get(t, page).Body)
	form.Set("username", "alice")
	form.Set("password", password)
	req := newFormRequest(page, form)
	req.Host = "backend.internal:8080"
	req.Header.Set("Origin", publicURL)
	req.Header.Del("Sec-Fetch-Site")
	if res := b.do(t, req); res.StatusCode != http.StatusSeeOther {
		t.Errorf("post from the public origin: %d", res.StatusCode)
	}
}

// TestConsent: the page names the app and the scopes in plain words; allow
// saves the consent and resumes, deny resumes with error=access_denied; no
// session sends the browser to the login page with the same request.
func TestConsent(t *testing.T) {
	e := newEnv(t)
	req := e.request(t, "acme", e.thirdParty, func(r *grant.Request) {
		r.Scope = []string{"openid", "email", "offline_access", "invoices:read"}
	})
	consent := "/t/acme/consent?request=" + req.ID
	b := e.browser()
	res := b.get(t, consent)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != login.LoginURL(publicURL, "acme", req.ID) {
		t.Fatalf("without a session: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	b.login(t, "/t/acme/login?request="+req.ID, "alice", password)
	res = b.get(t, consent)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("consent page: %d\n%s", res.StatusCode, res.Body)
	}
	checkPageHeaders(t, res)
	for _, want := range []string{"Partner_Portal", "See your email address", "Stay connected while you are not using it", "Confirm who you are", "invoices:read", "alice"} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	els := parseHTML(t, res.Body)
	one(t, els, "button", "type", "submit", "name", "decision", "value", "allow")
	one(t, els, "button", "type", "submit", "name", "decision", "value", "deny")
	if f := one(t, els, "form", "method", "post"); f.Attrs["action"] != login.ConsentURL(publicURL, "acme", req.ID) {
		t.Errorf("form action %q", f.Attrs["action"])
	}
	form := formValues(t, res.Body)

	// Deny: no consent, back to the endpoint with the error.
	form.Set("decision", "deny")
	res = b.post(t, consent, form)
	resume := publicURL + "/t/acme/oauth/authorize/resume?request=" + url.QueryEscape(req.ID)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != resume+"&error=access_denied" {
		t.Fatalf("deny: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if _, err := e.db.GetConsent(t.Context(), "acme", e.alice.ID, e.thirdParty.ClientID); !derrors.Is(err, derrors.NotFound) {
		t.Fatalf("deny saved a consent: %v", err)
	}
	// Neither allow nor deny.
	form.Set("decision", "maybe")
	if res = b.post(t, consent, form); res.StatusCode != http.StatusBadRequest {
		t.Errorf("decision=maybe: %d", res.StatusCode)
	}
	// Allow: the consent holds the request's scopes.
	form.Set("decision", "allow")
	res = b.post(t, consent, form)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != resume {
		t.Fatalf("allow: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	c, err := e.db.GetConsent(t.Context(), "acme", e.alice.ID, e.thirdParty.ClientID)
	if err != nil || strings.Join(c.Scope, " ") != "openid email offline_access invoices:read" || !c.CreatedAt.Equal(e.clock.Now()) {
		t.Fatalf("consent %+v %v", c, err)
	}
	// A post without a session goes to the login page and saves nothing.
	anon := e.browser()
	anon.cookies["__Host-gatehouse-csrf"] = b.cookies["__Host-gatehouse-csrf"]
	if err := e.db.SaveConsent(t.Context(), "acme", &grant.Consent{UserID: e.alice.ID, ClientID: e.thirdParty.ClientID, Scope: []string{"openid"}, CreatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	res = anon.post(t, consent, form)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != login.LoginURL(publicURL, "acme", req.ID) {
		t.Fatalf("consent post without a session: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if c, _ := e.db.GetConsent(t.Context(), "acme", e.alice.ID, e.thirdParty.ClientID); strings.Join(c.Scope, " ") != "openid" {
		t.Errorf("consent changed without a session: %v", c.Scope)
	}
}

// TestUnknownRequest: an unknown, expired or foreign request ID gets an
// error page (400), never a redirect.
func TestUnknownRequest(t *testing.T) {
	e := newEnv(t)
	expired := e.request(t, "acme", e.thirdParty, func(r *grant.Request) { r.ExpiresAt = r.CreatedAt.Add(time.Minute) })
	foreign := e.request(t, "other", mkApp(t, e.db, "other", "Elsewhere", false))
	e.clock.Advance(time.Minute)
	b := e.browser()
	b.login(t, "/t/acme/login", "alice", password)
	for _, id := range []string{"", "nope", expired.ID, foreign.ID, strings.Repeat("x", 500)} {
		for _, p := range []string{"/t/acme/login?request=", "/t/acme/consent?request="} {
			res := b.get(t, p+url.QueryEscape(id))
			if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" {
				t.Errorf("GET %s%q: %d %q", p, id, res.StatusCode, res.Header.Get("Location"))
			}
			if !strings.Contains(res.Body, "This sign-in request has expired") {
				t.Errorf("GET %s%q: page does not say why", p, id)
			}
			checkPageHeaders(t, res)
		}
	}
	// The token of the request-less form does not fit a request.
	anon := e.browser()
	form := formValues(t, anon.get(t, "/t/acme/login").Body)
	form.Set("username", "alice")
	form.Set("password", password)
	if res := anon.post(t, "/t/acme/login?request=nope", form); res.StatusCode != http.StatusForbidden {
		t.Errorf("token of the request-less form used for a request: %d", res.StatusCode)
	}
}

// TestEscaping: what the request carries (login_hint, scopes) is text, never
// markup.
func TestEscaping(t *testing.T) {
	e := newEnv(t)
	const evil = `"><script>alert(1)</script><b x="`
	req := e.request(t, "acme", e.thirdParty, func(r *grant.Request) {
		r.LoginHint = evil
		r.Scope = []string{"openid", "<script>alert(2)</script>"}
	})
	b := e.browser()
	res := b.get(t, "/t/acme/login?request="+req.ID)
	if strings.Contains(res.Body, "<script>") || strings.Contains(res.Body, "<b x") {
		t.Fatalf("login_hint is not escaped:\n%s", res.Body)
	}
	if u := one(t, parseHTML(t, res.Body), "input", "name", "username"); u.Attrs["value"] != evil {
		t.Errorf("username value %q, want the hint as text", u.Attrs["value"])
	}
	b.login(t, "/t/acme/login?request="+req.ID, "alice", password)
	res = b.get(t, "/t/acme/consent?request="+req.ID)
	if res.StatusCode != http.StatusOK || strings.Contains(res.Body, "<script>") || !strings.Contains(res.Body, "&lt;script&gt;alert(2)&lt;/script&gt;") {
		t.Fatalf("scope is not escaped: %d\n%s", res.StatusCode, res.Body)
	}
}

// TestFormValidation: empty fields are named, tied to their input, and not
// counted as failed logins.
func TestFormValidation(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	for range 5 {
		res := b.login(t, "/t/acme/login", "  ", "")
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d", res.StatusCode)
		}
		els := parseHTML(t, res.Body)
		one(t, els, "input", "name", "username", "aria-describedby", "username-error", "aria-invalid", "true")
		one(t, els, "input", "name", "password", "aria-describedby", "password-error", "aria-invalid", "true")
		one(t, els, "p", "id", "username-error")
		one(t, els, "p", "id", "password-error")
	}
	if res := b.login(t, "/t/acme/login", "alice", password); res.StatusCode != http.StatusSeeOther {
		t.Errorf("empty submissions counted as failures: %d", res.StatusCode)
	}
}

// TestRepeatedField: a login form with username or password twice is
// refused, as the token endpoint refuses a repeated parameter, and signs
// nobody in (issue 8 §7).
func TestRepeatedField(t *testing.T) {
	e := newEnv(t)
	for _, field := range []string{"username", "password"} {
		b := e.browser()
		form := formValues(t, b.get(t, "/t/acme/login").Body)
		form.Set("username", "alice")
		form.Set("password", password)
		form.Add(field, "mallory")
		res := b.post(t, "/t/acme/login", form)
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s twice: status %d, want 400", field, res.StatusCode)
		}
		if b.sessionCookie("acme") != nil {
			t.Errorf("%s twice: session created", field)
		}
	}
}

// TestBodyLimit: a form body over 16 KiB is refused and changes nothing.
func TestBodyLimit(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	form := formValues(t, b.get(t, "/t/acme/login").Body)
	form.Set("username", "alice")
	form.Set("password", password)
	form.Set("padding", strings.Repeat("x", 17<<10))
	res := b.post(t, "/t/acme/login", form)
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", res.StatusCode)
	}
	if b.sessionCookie("acme") != nil {
		t.Error("session created")
	}
}

// TestInsecureCookieMode: on plain http with a non-loopback host the cookie
// loses Secure and the __Host- prefix, with a warning logged once; loopback
// hosts are secure contexts and keep both.
func TestInsecureCookieMode(t *testing.T) {
	for _, c := range []struct {
		publicURL string
		name      string
		secure    bool
	}{
		{"http://id.example.com", "gatehouse-acme", false},
		{"http://10.0.0.5:8080", "gatehouse-acme", false},
		{"http://localhost:8080", "__Host-gatehouse-acme", true},
		{"http://127.0.0.1:8080", "__Host-gatehouse-acme", true},
		{"http://[::1]:8080", "__Host-gatehouse-acme", true},
		{"http://id.localhost", "__Host-gatehouse-acme", true},
		{"https://id.example.com", "__Host-gatehouse-acme", true},
	} {
		t.Run(c.publicURL, func(t *testing.T) {
			e := newEnv(t, func(p *login.Pages) { p.PublicURL = c.publicURL })
			b := e.browser()
			form := formValues(t, b.get(t, "/t/acme/login").Body)
			form.Set("username", "alice")
			form.Set("password", password)
			res := b.do(t, newFormRequest("/t/acme/login", form))
			ck := setCookie(res, c.name)
			if res.StatusCode != http.StatusSeeOther || ck == nil || ck.Secure != c.secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
				t.Fatalf("status %d, cookie %+v in %v", res.StatusCode, ck, res.Header["Set-Cookie"])
			}
			if got := e.pages.CookieName("acme"); got != c.name {
				t.Errorf("CookieName %q", got)
			}
			b.get(t, "/t/acme/login")
			warnings := strings.Count(e.logs.String(), "plain http")
			if c.secure && warnings != 0 || !c.secure && warnings != 1 {
				t.Errorf("%d warnings about plain http", warnings)
			}
		})
	}
}

// TestTheme: a tenant's theme reaches the page and its stylesheet; invalid
// colours never reach CSS.
func TestTheme(t *testing.T) {
	e := newEnv(t, func(p *login.Pages) {
		p.Themes = func(_ context.Context, tenantID string) ui.Theme {
			if tenantID != "acme" {
				return ui.Theme{}
			}
			return ui.Theme{
				ProductName: "Acme ID", LogoURL: "https://cdn.acme.example/logo.png",
				PrimaryColor: "#FFCC00", BackgroundColor: "red;}body{display:none",
				Texts: ui.Texts{LoginTitle: "Welcome to Acme", Footer: "Need help? Call 555-0100."},
			}
		}
	})
	b := e.browser()
	res := b.get(t, "/t/acme/login")
	for _, want := range []string{"Acme ID", "Welcome to Acme", "Need help? Call 555-0100.", `src="https://cdn.acme.example/logo.png"`} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data: https://cdn.acme.example;") {
		t.Errorf("CSP %q does not allow the logo's origin", csp)
	}
	css := b.get(t, "/t/acme/static/theme.css")
	if css.Body != ":root{--gh-primary:#ffcc00;--gh-on-primary:#000000;--gh-background:#f3f4f6}\n" {
		t.Errorf("theme.css = %q", css.Body)
	}
	if other := b.get(t, "/t/other/static/theme.css"); !strings.Contains(other.Body, ui.DefaultPrimaryColor) {
		t.Errorf("default theme.css = %q", other.Body)
	}
	if res := b.get(t, "/t/acme/static/nope.css"); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown static file: %d", res.StatusCode)
	}
}

// TestBadTenant: a path that is not a tenant name is a 404 page.
func TestBadTenant(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	for _, p := range []string{"/t/Not_A_Tenant/login", "/t/-x/consent?request=1"} {
		if res := b.get(t, p); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d", p, res.StatusCode)
		}
	}
	// A well-formed name of no tenant: the form works, nobody signs in.
	res := b.login(t, "/t/ghost/login", "alice", password)
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, login.MsgBadLogin) {
		t.Errorf("login to a missing tenant: %d", res.StatusCode)
	}
}

// failingStore is the real store with CreateSession failing: a database
// error in the middle of a login.
type failingStore struct {
	*store.DB
}

func (failingStore) CreateSession(context.Context, string, *grant.Session) error {
	return errors.New("disk on fire")
}

// TestServerError: a server error shows the built-in error page, or, during
// a request of an app with a custom "error" logon result URL, sends the
// browser there (R-APP-10). The cause is logged, not shown.
func TestServerError(t *testing.T) {
	e := newEnv(t, func(p *login.Pages) { p.Store = failingStore{p.Store.(*store.DB)} })
	withURL := mkApp(t, e.db, "acme", "Custom_Pages", false)
	withURL.LogonResultURLs = &app.LogonURLs{Error: "https://partner.example.com/oops"}
	if err := e.db.UpdateApp(t.Context(), "acme", withURL); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	res := b.login(t, "/t/acme/login?request="+e.request(t, "acme", e.thirdParty).ID, "alice", password)
	if res.StatusCode != http.StatusInternalServerError || strings.Contains(res.Body, "disk on fire") || !strings.Contains(res.Body, "Something went wrong") {
		t.Errorf("built-in error page: %d\n%s", res.StatusCode, res.Body)
	}
	res = b.login(t, "/t/acme/login?request="+e.request(t, "acme", withURL).ID, "alice", password)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "https://partner.example.com/oops" {
		t.Errorf("custom error URL: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if !strings.Contains(e.logs.String(), "disk on fire") {
		t.Error("the cause is not logged")
	}
}
