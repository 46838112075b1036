package login

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/audit"
	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
	"github.com/gatehouse-id/gatehouse/internal/ui"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// Users is what the pages need of the user directory (user.Service).
type Users interface {
	// Authenticate checks a login (username or email) and password; an
	// unknown user or a wrong password is Unauthenticated, a blocked user
	// Forbidden.
	Authenticate(ctx context.Context, tenantID, login, password string) (*user.User, error)
	// ActiveUser loads a user that exists and is not blocked.
	ActiveUser(ctx context.Context, tenantID, id string) (*user.User, error)
}

// Apps looks up the application of an authorization request.
type Apps interface {
	GetApp(ctx context.Context, tenantID, clientID string) (*app.App, error)
}

// Store is what the pages keep: authorization requests (read only),
// sessions, consents and the brute-force counters.
type Store interface {
	GetRequest(ctx context.Context, tenantID, id string) (*grant.Request, error)
	CreateSession(ctx context.Context, tenantID string, s *grant.Session) error
	GetSession(ctx context.Context, tenantID, hash string) (*grant.Session, error)
	DeleteSession(ctx context.Context, tenantID, hash string) error
	SaveConsent(ctx context.Context, tenantID string, c *grant.Consent) error
	GetConsent(ctx context.Context, tenantID, userID, clientID string) (*grant.Consent, error)
	FailureStore
}

// Pages serves the login and consent pages of every tenant and keeps the
// SSO session. Set the fields, then call Register; do not copy a Pages.
type Pages struct {
	// PublicURL is the server's public URL (no trailing slash): pages link
	// and redirect to absolute URLs under it, and its scheme and host decide
	// the cookie mode (see CookieName).
	PublicURL string
	Users     Users
	Store     Store
	Apps      Apps
	Now       func() time.Time
	Log       *slog.Logger
	// Audit, when set, records sign-ins in the audit log (audit.Queue's
	// Record: it never waits).
	Audit func(*audit.Event)
	// SessionLifetime is how long an SSO session lasts; 0: 12 hours.
	SessionLifetime time.Duration
	// Limiter protects the login form; nil: a Limiter with the defaults
	// over Store.
	Limiter *Limiter
	// CSRFKey is the secret the form tokens are derived from. Every replica
	// must have the same. Empty: a random key of this process (forms then
	// fail across replicas and restarts).
	CSRFKey []byte
	// Themes returns a tenant's theme; nil: ui.DefaultTheme for every
	// tenant. The theme is sanitized before use.
	Themes func(ctx context.Context, tenantID string) ui.Theme
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed for the client address (brute-force protection).
	TrustedProxies []netip.Prefix

	once    sync.Once
	secure  bool
	csrfKey []byte
	limiter *Limiter
	cop     *http.CrossOriginProtection
}

// maxFormBytes bounds the body of the forms.
const maxFormBytes = 16 << 10

// Messages the pages show. The failed-login message is the same for every
// cause, so that it tells nobody whether a user exists or is blocked.
const (
	MsgBadLogin = "The username or password is incorrect."
	msgLocked   = "There were too many failed sign-in attempts with this username. Try again later, or ask your administrator to unlock it."
	msgWait     = "There were too many failed sign-in attempts. Wait %s, then try again."
)

// LoginURL is the login page of the tenant, continuing the authorization
// request requestID (none when empty).
func LoginURL(publicURL, tenantID, requestID string) string {
	return pageURL(publicURL, tenantID, "/login", requestID)
}

// ConsentURL is the consent page of the tenant for the request requestID.
func ConsentURL(publicURL, tenantID, requestID string) string {
	return pageURL(publicURL, tenantID, "/consent", requestID)
}

// resumeURL is where the protocol endpoint that parked req continues it:
// the authorization endpoint, or the SAML or WS-Federation endpoint.
func resumeURL(publicURL, tenantID string, req *grant.Request) string {
	path := "/oauth/authorize/resume"
	switch req.Protocol {
	case grant.ProtocolSAML:
		path = "/saml/resume"
	case grant.ProtocolWSFed:
		path = "/wsfed/resume"
	}
	return pageURL(publicURL, tenantID, path, req.ID)
}

func pageURL(publicURL, tenantID, path, requestID string) string {
	u := strings.TrimRight(publicURL, "/") + "/t/" + url.PathEscape(tenantID) + path
	if requestID != "" {
		u += "?request=" + url.QueryEscape(requestID)
	}
	return u
}

func (p *Pages) init() {
	p.once.Do(func() {
		p.secure = secureContext(p.PublicURL)
		if !p.secure {
			p.log().Warn("the public URL is plain http on a host that is not loopback: session cookies are sent without Secure and without the __Host- prefix; use https outside development", "public_url", p.PublicURL)
		}
		secret := p.CSRFKey
		if len(secret) == 0 {
			secret = make([]byte, 32)
			if _, err := rand.Read(secret); err != nil {
				panic("crypto/rand failed: " + err.Error())
			}
		}
		p.csrfKey = formKey(secret)
		p.limiter = p.Limiter
		if p.limiter == nil {
			p.limiter = &Limiter{Store: p.Store, Now: p.Now, Log: p.Log}
		}
		p.cop = http.NewCrossOriginProtection()
		if u, err := url.Parse(p.PublicURL); err == nil && u.Host != "" {
			// Behind a proxy that rewrites Host, the public origin is still ours.
			_ = p.cop.AddTrustedOrigin(u.Scheme + "://" + u.Host)
		}
		p.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.message(w, r, r.PathValue("tenant"), http.StatusForbidden, "This form cannot be accepted",
				"It was sent from another site. Go back to the sign-in page and try again.", true)
		}))
	})
}

// secureContext reports whether browsers treat the public URL as a secure
// context: https, or http on a loopback host (localhost, *.localhost,
// 127.0.0.0/8, [::1]), where Secure cookies work.
func secureContext(publicURL string) bool {
	u, err := url.Parse(publicURL)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		h := strings.ToLower(u.Hostname())
		if h == "localhost" || strings.HasSuffix(h, ".localhost") {
			return true
		}
		a, err := netip.ParseAddr(h)
		return err == nil && a.IsLoopback()
	}
	return false
}

func (p *Pages) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

func (p *Pages) log() *slog.Logger {
	if p.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Log
}

// Register adds the pages' routes to mux.
func (p *Pages) Register(mux *http.ServeMux) {
	p.init()
	mux.HandleFunc("GET /t/{tenant}/login", p.loginPage)
	mux.Handle("POST /t/{tenant}/login", p.form(p.loginPost))
	mux.HandleFunc("GET /t/{tenant}/consent", p.consentPage)
	mux.Handle("POST /t/{tenant}/consent", p.form(p.consentPost))
	mux.HandleFunc("GET /t/{tenant}/static/{file}", p.static)
}

// form wraps a POST handler: cross-origin protection, a bounded body, the
// form parsed once.
func (p *Pages) form(h http.HandlerFunc) http.Handler {
	return p.cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tid := r.PathValue("tenant")
		if tenant.ValidateName(tid) != nil {
			p.notFound(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			status := http.StatusBadRequest
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				status = http.StatusRequestEntityTooLarge
			}
			p.message(w, r, tid, status, "The form cannot be read", "Go back to the sign-in page and try again.", true)
			return
		}
		h(w, r)
	}))
}

// request loads the authorization request named by ?request= and its app.
// It writes the error page (400, never a redirect) when either is unknown
// or the request expired, and returns ok=false.
func (p *Pages) request(w http.ResponseWriter, r *http.Request, tid, id string) (*grant.Request, *app.App, bool) {
	ctx := r.Context()
	bad := func() (*grant.Request, *app.App, bool) {
		p.message(w, r, tid, http.StatusBadRequest, "This sign-in request has expired",
			"Go back to the application and sign in again.", true)
		return nil, nil, false
	}
	if id == "" || len(id) > 128 {
		return bad()
	}
	req, err := p.Store.GetRequest(ctx, tid, id)
	if err != nil {
		if derrors.Is(err, derrors.NotFound) {
			return bad()
		}
		p.serverError(w, r, tid, nil, err)
		return nil, nil, false
	}
	if !p.now().Before(req.ExpiresAt) {
		return bad()
	}
	req.ID = id
	client, err := p.Apps.GetApp(ctx, tid, req.ClientID)
	if err != nil {
		if derrors.Is(err, derrors.NotFound) {
			return bad()
		}
		p.serverError(w, r, tid, nil, err)
		return nil, nil, false
	}
	return req, client, true
}

// loginPage shows the sign-in form, or "you are signed in" to a browser
// with a session that came without a request.
func (p *Pages) loginPage(w http.ResponseWriter, r *http.Request) {
	tid := r.PathValue("tenant")
	if tenant.ValidateName(tid) != nil {
		p.notFound(w, r)
		return
	}
	q := r.URL.Query()
	var (
		req    *grant.Request
		client *app.App
	)
	if q.Has("request") {
		var ok bool
		if req, client, ok = p.request(w, r, tid, q.Get("request")); !ok {
			return
		}
	} else {
		_, u, err := p.Session(r, tid)
		switch {
		case err == nil:
			p.message(w, r, tid, http.StatusOK, "You are signed in", "You are signed in as "+u.Username+".", false)
			return
		case !derrors.Is(err, derrors.NotFound):
			p.serverError(w, r, tid, nil, err)
			return
		}
	}
	page := p.loginForm(w, r, tid, req, client)
	if req != nil {
		page.Username = req.LoginHint
	}
	p.render(w, r, http.StatusOK, "login", page, page.Theme)
}

// loginForm is the sign-in form's page, with a form token.
func (p *Pages) loginForm(w http.ResponseWriter, r *http.Request, tid string, req *grant.Request, client *app.App) ui.LoginPage {
	theme := p.theme(r.Context(), tid)
	id := ""
	if req != nil {
		id = req.ID
	}
	page := ui.LoginPage{
		Page:      p.page(tid, theme.Texts.LoginTitle, theme),
		Action:    LoginURL(p.PublicURL, tid, id),
		CSRFToken: formToken(p.csrfKey, "login", tid, id, p.nonce(w, r)),
	}
	if client != nil {
		page.AppName = client.Name
	}
	return page
}

// loginPost checks the form and signs the user in.
func (p *Pages) loginPost(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tid := r.PathValue("tenant")
	id := r.URL.Query().Get("request")
	if !p.checkForm(r, "login", tid, id) {
		p.formExpired(w, r, tid)
		return
	}
	var (
		req    *grant.Request
		client *app.App
	)
	if id != "" {
		var ok bool
		if req, client, ok = p.request(w, r, tid, id); !ok {
			return
		}
	}
	login := strings.TrimSpace(r.PostForm.Get("username"))
	password := r.PostForm.Get("password")
	page := p.loginForm(w, r, tid, req, client)
	if len(r.PostForm["username"]) > 1 || len(r.PostForm["password"]) > 1 {
		// As the token endpoint refuses a repeated parameter (RFC 6749
		// §3.2): which copy counts must never be ambiguous.
		page.Error = "The form was sent with a field twice. Sign in again."
		p.render(w, r, http.StatusBadRequest, "login", page, page.Theme)
		return
	}
	page.Username = login
	if login == "" {
		page.UsernameError = "Enter your username or email."
	}
	if password == "" {
		page.PasswordError = "Enter your password."
	}
	if page.UsernameError != "" || page.PasswordError != "" {
		p.render(w, r, http.StatusBadRequest, "login", page, page.Theme)
		return
	}
	ip := ClientIP(r, p.TrustedProxies)
	attempt, wait, locked, err := p.limiter.Check(ctx, tid, login, ip)
	if err != nil {
		p.serverError(w, r, tid, client, err)
		return
	}
	if locked || wait > 0 {
		page.Error = msgLocked
		if !locked {
			secs := int((wait + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			page.Error = fmt.Sprintf(msgWait, plural(secs, "second"))
		}
		p.log().InfoContext(ctx, "login refused: too many failures", "tenant", tid, "account", attempt.Pseudonym(), "client_ip", ip, "locked", locked)
		p.record(w, tid, "login.refused", attempt.Pseudonym(), client)
		p.render(w, r, http.StatusTooManyRequests, "login", page, page.Theme)
		return
	}
	defer attempt.Done()
	u, err := p.Users.Authenticate(ctx, tid, login, password)
	if err != nil {
		if !derrors.Is(err, derrors.Unauthenticated) && !derrors.Is(err, derrors.Forbidden) {
			p.serverError(w, r, tid, client, err)
			return
		}
		// No such tenant: nobody can sign in, and there is nothing to count.
		if err := attempt.Fail(ctx); err != nil && !derrors.Is(err, derrors.NotFound) {
			p.log().ErrorContext(ctx, "cannot record a failed login", "tenant", tid, "error", err)
		}
		p.log().InfoContext(ctx, "login failed", "tenant", tid, "account", attempt.Pseudonym(), "client_ip", ip)
		p.record(w, tid, "login.failed", attempt.Pseudonym(), client)
		page.Error = MsgBadLogin
		p.render(w, r, http.StatusOK, "login", page, page.Theme)
		return
	}
	if err := attempt.Succeed(ctx); err != nil {
		p.log().ErrorContext(ctx, "cannot reset the failed-login count", "tenant", tid, "error", err)
	}
	s, err := p.startSession(w, r, tid, u)
	if err != nil {
		p.serverError(w, r, tid, client, err)
		return
	}
	attrs := []any{"tenant", tid, "user_id", u.ID, "sid", s.SID, "client_ip", ip}
	if client != nil {
		attrs = append(attrs, "client_id", client.ClientID)
	}
	p.log().InfoContext(ctx, "login succeeded", attrs...)
	p.record(w, tid, "login.succeeded", u.ID, client)
	if req != nil {
		p.redirect(w, r, resumeURL(p.PublicURL, tid, req))
		return
	}
	p.redirect(w, r, LoginURL(p.PublicURL, tid, ""))
}

// record puts a sign-in's security event in the audit log (R-ADM-4): the
// user's ID when it succeeded, else the account's pseudonym (as in the
// logs), and the app it was for.
func (p *Pages) record(w http.ResponseWriter, tid, action, actor string, client *app.App) {
	if p.Audit == nil {
		return
	}
	e := &audit.Event{TenantID: tid, Actor: actor, Action: action, RequestID: w.Header().Get("X-Request-Id")}
	if client != nil {
		e.Target = "apps/" + client.ClientID
	}
	p.Audit(e)
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// consentPage asks the signed-in user to allow the request's app access.
func (p *Pages) consentPage(w http.ResponseWriter, r *http.Request) {
	tid := r.PathValue("tenant")
	if tenant.ValidateName(tid) != nil {
		p.notFound(w, r)
		return
	}
	req, client, ok := p.request(w, r, tid, r.URL.Query().Get("request"))
	if !ok {
		return
	}
	_, u, err := p.Session(r, tid)
	if err != nil {
		if derrors.Is(err, derrors.NotFound) {
			p.redirect(w, r, LoginURL(p.PublicURL, tid, req.ID))
			return
		}
		p.serverError(w, r, tid, client, err)
		return
	}
	theme := p.theme(r.Context(), tid)
	page := ui.ConsentPage{
		Page:       p.page(tid, theme.Texts.ConsentTitle, theme),
		Action:     ConsentURL(p.PublicURL, tid, req.ID),
		CSRFToken:  formToken(p.csrfKey, "consent", tid, req.ID, p.nonce(w, r)),
		AppName:    client.Name,
		AppLogo:    client.Logo,
		AppWebsite: website(client.WebsiteURL),
		Username:   u.Username,
		Scopes:     DescribeScopes(req.Scope),
	}
	p.render(w, r, http.StatusOK, "consent", page, theme)
}

// consentPost records the user's decision and continues the request.
func (p *Pages) consentPost(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tid := r.PathValue("tenant")
	id := r.URL.Query().Get("request")
	if !p.checkForm(r, "consent", tid, id) {
		p.formExpired(w, r, tid)
		return
	}
	req, client, ok := p.request(w, r, tid, id)
	if !ok {
		return
	}
	sess, u, err := p.Session(r, tid)
	if err != nil {
		if derrors.Is(err, derrors.NotFound) {
			p.redirect(w, r, LoginURL(p.PublicURL, tid, req.ID))
			return
		}
		p.serverError(w, r, tid, client, err)
		return
	}
	switch r.PostForm.Get("decision") {
	case "allow":
		// The session is kept with the consent: under the tenant's
		// "session" consent policy it holds only there.
		c := &grant.Consent{UserID: u.ID, ClientID: client.ClientID, SID: sess.SID, Scope: req.Scope, CreatedAt: p.now()}
		if err := p.Store.SaveConsent(ctx, tid, c); err != nil {
			p.serverError(w, r, tid, client, err)
			return
		}
		p.log().InfoContext(ctx, "consent given", "tenant", tid, "user_id", u.ID, "client_id", client.ClientID)
		p.redirect(w, r, resumeURL(p.PublicURL, tid, req))
	case "deny":
		p.log().InfoContext(ctx, "consent denied", "tenant", tid, "user_id", u.ID, "client_id", client.ClientID)
		p.redirect(w, r, resumeURL(p.PublicURL, tid, req)+"&error=access_denied")
	default:
		p.message(w, r, tid, http.StatusBadRequest, "Choose Allow or Deny", "Go back to the previous page and choose one of the buttons.", true)
	}
}

// website is the app's website URL if it is an http(s) URL (the registry
// checks it; the page does not rely on that).
func website(u string) string {
	if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
		return u
	}
	return ""
}

// scopeWords are the standard scopes in plain words (OpenID Connect Core
// §5.4, §11).
var scopeWords = map[string]string{
	"openid":         "Confirm who you are",
	"profile":        "See your name and username",
	"email":          "See your email address",
	"offline_access": "Stay connected while you are not using it",
}

// DescribeScopes puts scopes in plain words for the consent page: the
// standard ones described, custom ones named.
func DescribeScopes(scopes []string) []ui.Scope {
	out := make([]ui.Scope, 0, len(scopes))
	for _, s := range scopes {
		if d, ok := scopeWords[s]; ok {
			out = append(out, ui.Scope{Name: s, Description: d})
			continue
		}
		out = append(out, ui.Scope{Description: "Access “" + s + "”"})
	}
	return out
}

// static serves the stylesheet and the tenant's theme stylesheet.
func (p *Pages) static(w http.ResponseWriter, r *http.Request) {
	tid := r.PathValue("tenant")
	if tenant.ValidateName(tid) != nil {
		http.NotFound(w, r)
		return
	}
	var css []byte
	var version string
	switch f := r.PathValue("file"); f {
	case "theme.css":
		t := p.theme(r.Context(), tid)
		css, version = t.CSS(), t.CSSVersion()
	default:
		var ok bool
		if css, version, ok = ui.Stylesheet(f); !ok {
			http.NotFound(w, r)
			return
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.URL.Query().Get("v") == version {
		h.Set("Cache-Control", "public, max-age=86400")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	_, _ = w.Write(css)
}

// theme returns the tenant's sanitized theme.
func (p *Pages) theme(ctx context.Context, tid string) ui.Theme {
	if p.Themes == nil {
		return ui.DefaultTheme()
	}
	return p.Themes(ctx, tid).Sanitize()
}

// page is the frame of every page.
func (p *Pages) page(tid, title string, theme ui.Theme) ui.Page {
	_, v, _ := ui.Stylesheet(ui.StylesheetName)
	base := strings.TrimRight(p.PublicURL, "/") + "/t/" + url.PathEscape(tid) + "/static/"
	return ui.Page{
		Lang:          "en",
		Title:         title,
		Theme:         theme,
		StylesheetURL: base + ui.StylesheetName + "?v=" + v,
		ThemeURL:      base + "theme.css?v=" + theme.CSSVersion(),
	}
}

// headers are the security headers of every page and redirect.
func headers(w http.ResponseWriter, theme ui.Theme) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	img := "'self' data:"
	if o := theme.LogoOrigin(); o != "" {
		img += " " + o
	}
	// No form-action: browsers apply it to the redirects that follow a
	// form's submission, and the login form ends at the app's redirect URI.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src "+img+"; base-uri 'none'; frame-ancestors 'none'")
}

func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, name string, data any, theme ui.Theme) {
	headers(w, theme)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := ui.Render(w, name, data); err != nil {
		p.log().ErrorContext(r.Context(), "cannot render page", "page", name, "error", err)
	}
}

func (p *Pages) redirect(w http.ResponseWriter, r *http.Request, target string) {
	headers(w, ui.Theme{})
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// Message shows a page with a heading and a text in the tenant's theme: for
// the protocol packages' errors that cannot go back to the app (R-CLM-2).
func (p *Pages) Message(w http.ResponseWriter, r *http.Request, tenantID string, status int, heading, text string) {
	p.init()
	p.message(w, r, tenantID, status, heading, text, status >= 400)
}

func (p *Pages) message(w http.ResponseWriter, r *http.Request, tid string, status int, heading, text string, alert bool) {
	theme := ui.DefaultTheme()
	if tenant.ValidateName(tid) == nil {
		theme = p.theme(r.Context(), tid)
	} else {
		tid = tenant.System
	}
	page := ui.MessagePage{Page: p.page(tid, heading, theme), Heading: heading, Text: text, Alert: alert}
	p.render(w, r, status, "message", page, theme)
}

func (p *Pages) notFound(w http.ResponseWriter, r *http.Request) {
	p.message(w, r, "", http.StatusNotFound, "Page not found", "Check the address, or go back to the application.", true)
}

func (p *Pages) formExpired(w http.ResponseWriter, r *http.Request, tid string) {
	p.message(w, r, tid, http.StatusForbidden, "This form has expired",
		"For your security, forms work only for a while and only on this site. Go back, reload the page and try again.", true)
}

// serverError logs err and shows the built-in error page, or sends the
// browser to the app's custom "error" page when it has one (R-APP-10).
func (p *Pages) serverError(w http.ResponseWriter, r *http.Request, tid string, client *app.App, err error) {
	p.log().ErrorContext(r.Context(), "login page failed", "tenant", tid, "error", err)
	if client != nil && client.LogonResultURLs != nil && client.LogonResultURLs.Error != "" {
		p.redirect(w, r, client.LogonResultURLs.Error)
		return
	}
	if derrors.Unavailable(err) {
		p.message(w, r, tid, http.StatusServiceUnavailable, "Sign-in is temporarily unavailable", "Please try again in a moment.", true)
		return
	}
	p.message(w, r, tid, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.", true)
}
