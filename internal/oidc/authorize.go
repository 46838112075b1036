package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/claims"
	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/oauth"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// Sessions is the browser's SSO session in a tenant (the login pages).
type Sessions interface {
	Session(r *http.Request, tenantID string) (*grant.Session, *user.User, error)
	EndSession(w http.ResponseWriter, r *http.Request, tenantID string) (*grant.Session, error)
}

// Limits of authorization request parameters.
const (
	maxStateLen     = 1024
	maxNonceLen     = 512
	maxLoginHintLen = 256
	maxQueryBytes   = 16 << 10
)

// authError is an error of the authorization endpoint (RFC 6749 §4.1.2.1):
// sent to the client's redirect URI once that URI is known to be registered,
// shown on an error page before.
type authError struct {
	Code        string
	Description string
	// cause is set when the request could not be checked at all (the
	// database failed): a server error, not the request's fault.
	cause error
}

func (e *authError) Error() string { return e.Code + ": " + e.Description }

func authErr(code, desc string) *authError { return &authError{Code: code, Description: desc} }

// authorize is the authorization endpoint (RFC 6749 §3.1, OpenID Connect
// Core §3.1.2). GET reads the query; POST (Core §3.1.2.1) the form.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tid := r.PathValue("tenant")
	params, err := authParams(w, r)
	if err != nil {
		p.authPage(w, r, http.StatusBadRequest, "The sign-in request is malformed.", err.Error())
		return
	}
	req, client, aerr := p.validateAuthRequest(ctx, tid, params)
	if aerr != nil {
		if aerr.cause != nil {
			p.serverError(w, r, aerr.cause)
			return
		}
		if req == nil {
			// No registered redirect URI to send the error to (R-OID-8).
			p.authPage(w, r, http.StatusBadRequest, "The sign-in request cannot be accepted.", aerr.Description)
			return
		}
		p.redirectError(w, r, tid, req, aerr)
		return
	}
	p.decide(w, r, tid, client, req, false)
}

// resume continues a stored request after the login or consent page.
func (p *Provider) resume(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tid := r.PathValue("tenant")
	id := r.URL.Query().Get("request")
	req, err := p.Grants.GetRequest(ctx, tid, id)
	if err != nil && !derrors.Is(err, derrors.NotFound) {
		p.serverError(w, r, err)
		return
	}
	if err != nil || p.Now().After(req.ExpiresAt) {
		p.authPage(w, r, http.StatusBadRequest, "This sign-in request has expired.", "Go back to the application and start again.")
		return
	}
	req.ID = id
	client, err := p.Apps.Store.GetApp(ctx, tid, req.ClientID)
	if err != nil && !derrors.Is(err, derrors.NotFound) {
		p.serverError(w, r, err)
		return
	}
	if err != nil {
		p.authPage(w, r, http.StatusBadRequest, "The application is no longer registered.", "")
		return
	}
	if r.URL.Query().Get("error") == "access_denied" {
		_ = p.Grants.DeleteRequest(ctx, tid, id)
		if client.LogonResultURLs != nil && client.LogonResultURLs.AccessDenied != "" {
			http.Redirect(w, r, client.LogonResultURLs.AccessDenied, http.StatusSeeOther)
			return
		}
		p.redirectError(w, r, tid, req, authErr("access_denied", "the user denied the request"))
		return
	}
	p.decide(w, r, tid, client, req, true)
}

// decide sends the browser to the login page, the consent page, or back to
// the client with a code (or an error for prompt=none).
func (p *Provider) decide(w http.ResponseWriter, r *http.Request, tid string, client *app.App, req *grant.Request, stored bool) {
	ctx := r.Context()
	now := p.Now()
	if !stored {
		// A new request is made now: prompt=login and prompt=consent ask
		// for a sign-in or a consent newer than that.
		req.CreatedAt = now
	}
	sess, u, err := p.Sessions.Session(r, tid)
	if err != nil && !derrors.Is(err, derrors.NotFound) {
		p.serverError(w, r, err)
		return
	}
	needLogin := sess == nil
	if sess != nil {
		// prompt=login and max_age ask for an authentication newer than the
		// request, or than max_age seconds (Core §3.1.2.1).
		if slices.Contains(req.Prompt, "login") && sess.AuthTime.Before(req.CreatedAt) {
			needLogin = true
		}
		if req.MaxAge >= 0 && now.Sub(sess.AuthTime) > time.Duration(req.MaxAge)*time.Second {
			needLogin = true
		}
	}
	none := slices.Contains(req.Prompt, "none")
	if needLogin {
		if none {
			p.redirectError(w, r, tid, req, authErr("login_required", "the user is not signed in"))
			return
		}
		p.park(w, r, tid, req, stored, "/login")
		return
	}
	if !client.FirstParty {
		c, err := p.Grants.GetConsent(ctx, tid, u.ID, client.ClientID)
		if err != nil && !derrors.Is(err, derrors.NotFound) {
			p.serverError(w, r, err)
			return
		}
		covered := c != nil && scopesCover(c.Scope, req.Scope)
		if covered && slices.Contains(req.Prompt, "consent") && c.CreatedAt.Before(req.CreatedAt) {
			covered = false
		}
		if covered && c.SID != sess.SID {
			// A consent from another SSO session holds unless the tenant
			// asks again in every session (its consent policy).
			t, err := p.Tenants.GetTenant(ctx, tid)
			if err != nil {
				p.serverError(w, r, err)
				return
			}
			covered = t.ConsentPolicy != tenant.ConsentSession
		}
		if !covered {
			if none {
				p.redirectError(w, r, tid, req, authErr("consent_required", "the user has not consented to this application"))
				return
			}
			p.park(w, r, tid, req, stored, "/consent")
			return
		}
	}
	// R-CLM-2: a user without a claim the app requires is not sent to it.
	subj, err := p.subject(ctx, tid, client.ClientID, u)
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	if missing := claims.Missing(client, subj); missing != "" {
		if stored {
			_ = p.Grants.DeleteRequest(ctx, tid, req.ID)
		}
		if client.LogonResultURLs != nil && client.LogonResultURLs.Failed != "" {
			http.Redirect(w, r, client.LogonResultURLs.Failed, http.StatusSeeOther)
			return
		}
		p.authPage(w, r, http.StatusForbidden, "You cannot sign in to this application.",
			"Your account lacks the \""+missing+"\" claim that "+client.Name+" requires. Ask your administrator.")
		return
	}
	if req.ResponseType != "code" {
		if stored {
			_ = p.Grants.DeleteRequest(ctx, tid, req.ID)
		}
		p.implicit(w, r, tid, client, req, sess, u)
		return
	}
	code := grant.NewOrderedSecret()
	fam := codeFamily(client, u.ID, sess.SID, req.Scope, sess.AuthTime, now, p.CodeLifetime)
	err = p.Grants.CreateCode(ctx, tid, &grant.Code{
		Hash: grant.Hash(code), ClientID: client.ClientID, UserID: u.ID, SID: sess.SID,
		RedirectURI: req.RedirectURI, Scope: req.Scope, Nonce: req.Nonce, CodeChallenge: req.CodeChallenge,
		AuthTime: sess.AuthTime, CreatedAt: now, ExpiresAt: now.Add(p.CodeLifetime), FamilyID: fam.ID,
	}, fam)
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	if stored {
		_ = p.Grants.DeleteRequest(ctx, tid, req.ID)
	}
	q := url.Values{"code": {code}, "iss": {p.issuer(tid)}}
	if req.State != "" {
		q.Set("state", req.State)
	}
	p.redirectTo(w, r, req.RedirectURI, q)
}

// park stores the request (if new) and sends the browser to a page of the
// login package, which comes back to resume.
func (p *Provider) park(w http.ResponseWriter, r *http.Request, tid string, req *grant.Request, stored bool, page string) {
	if !stored {
		now := p.Now()
		req.ID = grant.NewID()
		req.CreatedAt, req.ExpiresAt = now, now.Add(p.RequestLifetime)
		if err := p.Grants.CreateRequest(r.Context(), tid, req); err != nil {
			p.serverError(w, r, err)
			return
		}
	}
	http.Redirect(w, r, p.issuer(tid)+page+"?request="+url.QueryEscape(req.ID), http.StatusSeeOther)
}

func scopesCover(granted, requested []string) bool {
	for _, s := range requested {
		if !slices.Contains(granted, s) {
			return false
		}
	}
	return true
}

// authParams reads the request's parameters, refusing repeats (RFC 6749 §3.1).
func authParams(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if r.Method == http.MethodPost {
		form, oe := oauth.ParseForm(w, r)
		if oe != nil {
			return nil, oe
		}
		return form, nil
	}
	if len(r.URL.RawQuery) > maxQueryBytes {
		return nil, errors.New("the query is too long")
	}
	form, oe := oauth.ParseFormBody(r.URL.RawQuery)
	if oe != nil {
		return nil, oe
	}
	return form, nil
}

// validateAuthRequest checks an authorization request. Until the client and
// redirect URI are known good, the returned request is nil and errors must
// not redirect (RFC 6749 §4.1.2.1).
func (p *Provider) validateAuthRequest(ctx context.Context, tid string, q url.Values) (*grant.Request, *app.App, *authError) {
	clientID := q.Get("client_id")
	if clientID == "" || len(clientID) > 256 {
		return nil, nil, authErr(oauth.CodeInvalidRequest, "client_id is missing")
	}
	client, err := p.Apps.Store.GetApp(ctx, tid, clientID)
	if err != nil && !derrors.Is(err, derrors.NotFound) {
		return nil, nil, &authError{Code: oauth.CodeServerError, cause: err}
	}
	if err != nil {
		return nil, nil, authErr(oauth.CodeInvalidRequest, "client_id is not a registered application of this tenant")
	}
	if client.Protocol != app.OIDC {
		return nil, nil, authErr(oauth.CodeInvalidRequest, "this application does not use OpenID Connect")
	}
	redirect := q.Get("redirect_uri")
	if redirect == "" || !app.MatchRedirectURI(client.RedirectURIs, redirect, client.Type) {
		return nil, nil, authErr(oauth.CodeInvalidRequest, "redirect_uri is missing or not registered for this application")
	}
	req := &grant.Request{ClientID: clientID, RedirectURI: redirect, State: q.Get("state"), MaxAge: -1}
	if len(req.State) > maxStateLen {
		req.State = ""
		return req, nil, authErr(oauth.CodeInvalidRequest, "state is too long")
	}
	if q.Has("request") || q.Has("request_uri") {
		return req, nil, authErr("request_not_supported", "request objects are not supported")
	}
	rt, implicit, ok := responseType(q.Get("response_type"))
	if implicit {
		// Tokens in a query would end up in logs and Referer headers:
		// implicit responses and their errors go in the fragment.
		req.ResponseMode = "fragment"
	}
	switch {
	case q.Get("response_type") == "":
		return req, nil, authErr(oauth.CodeInvalidRequest, "response_type is missing")
	case !ok:
		return req, nil, authErr("unsupported_response_type", "response_type must be code, or token / id_token / id_token token for developer-mode apps")
	}
	req.ResponseType = rt
	wantMode := "query"
	if implicit {
		wantMode = "fragment"
	}
	if m := q.Get("response_mode"); m != "" && m != wantMode {
		return req, nil, authErr(oauth.CodeInvalidRequest, "response_mode must be query for code and fragment for implicit responses")
	}
	switch {
	case implicit && !client.AllowsGrant(app.GrantImplicit):
		// R-APP-8: implicit only for apps with developer mode and the grant.
		return req, nil, authErr(oauth.CodeUnauthorizedClient, "the implicit flow is only for applications in developer mode")
	case !implicit && !client.AllowsGrant(app.GrantAuthorizationCode):
		return req, nil, authErr(oauth.CodeUnauthorizedClient, "this application may not use the authorization code flow")
	}
	scopes, oe := oauth.SplitScope(q.Get("scope"))
	if oe != nil {
		return req, nil, authErr(oe.Code, oe.Description)
	}
	for _, s := range scopes {
		if !slices.Contains(app.StandardScopes, s) && !slices.Contains(client.Scopes, s) {
			return req, nil, authErr(oauth.CodeInvalidScope, "scope "+strconvQuote(s)+" is not allowed for this application")
		}
	}
	req.Scope = scopes
	if !implicit {
		if err := checkPKCE(client, q, req); err != nil {
			return req, nil, err
		}
	}
	req.Nonce = q.Get("nonce")
	if len(req.Nonce) > maxNonceLen {
		return req, nil, authErr(oauth.CodeInvalidRequest, "nonce is too long")
	}
	if strings.Contains(rt, "id_token") && (req.Nonce == "" || !slices.Contains(scopes, "openid")) {
		// OpenID Connect Core §3.2.2.1: nonce is required with an ID token
		// in the response.
		return req, nil, authErr(oauth.CodeInvalidRequest, "an id_token response needs the openid scope and a nonce")
	}
	if s := q.Get("prompt"); s != "" {
		req.Prompt = strings.Fields(s)
		for _, v := range req.Prompt {
			if !slices.Contains([]string{"none", "login", "consent", "select_account"}, v) {
				return req, nil, authErr(oauth.CodeInvalidRequest, "prompt "+strconvQuote(v)+" is not supported")
			}
		}
		if slices.Contains(req.Prompt, "none") && len(req.Prompt) > 1 {
			return req, nil, authErr(oauth.CodeInvalidRequest, "prompt=none cannot be combined with other values")
		}
	}
	if s := q.Get("max_age"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 10*365*24*3600 {
			return req, nil, authErr(oauth.CodeInvalidRequest, "max_age must be a number of seconds")
		}
		req.MaxAge = n
	}
	req.LoginHint = q.Get("login_hint")
	if len(req.LoginHint) > maxLoginHintLen {
		return req, nil, authErr(oauth.CodeInvalidRequest, "login_hint is too long")
	}
	return req, client, nil
}

// responseType normalises a response_type: "code", or the implicit
// "token", "id_token", "id_token token" in any order (OAuth 2.0 Multiple
// Response Types).
func responseType(v string) (rt string, implicit, ok bool) {
	parts := strings.Fields(v)
	slices.Sort(parts)
	switch strings.Join(parts, " ") {
	case "code":
		return "code", false, true
	case "token":
		return "token", true, true
	case "id_token":
		return "id_token", true, true
	case "id_token token":
		return "id_token token", true, true
	}
	return "", false, false
}

// checkPKCE enforces RFC 7636 with S256 only (R-OID-2): required for spa and
// native apps and for web apps with force_pkce (R-APP-8).
func checkPKCE(client *app.App, q url.Values, req *grant.Request) *authError {
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	required := client.Type == app.SPA || client.Type == app.Native || client.ForcePKCE
	if challenge == "" {
		if method != "" {
			return authErr(oauth.CodeInvalidRequest, "code_challenge_method without code_challenge")
		}
		if required {
			return authErr(oauth.CodeInvalidRequest, "PKCE is required: send code_challenge with code_challenge_method=S256")
		}
		return nil
	}
	if method != "S256" {
		return authErr(oauth.CodeInvalidRequest, "code_challenge_method must be S256 (plain is not allowed)")
	}
	// RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is 43 characters.
	if len(challenge) != 43 || !isUnreserved(challenge) {
		return authErr(oauth.CodeInvalidRequest, "code_challenge is not a base64url SHA-256 value")
	}
	req.CodeChallenge, req.CodeChallengeMethod = challenge, method
	return nil
}

// isUnreserved reports whether s is made of RFC 3986 unreserved characters.
func isUnreserved(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// verifyPKCE checks a code_verifier against the stored S256 challenge.
func verifyPKCE(challenge, verifier string) bool {
	if len(verifier) < 43 || len(verifier) > 128 || !isUnreserved(verifier) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

func (p *Provider) redirectError(w http.ResponseWriter, r *http.Request, tid string, req *grant.Request, e *authError) {
	q := url.Values{"error": {e.Code}, "iss": {p.issuer(tid)}}
	if e.Description != "" {
		q.Set("error_description", e.Description)
	}
	if req.State != "" {
		q.Set("state", req.State)
	}
	if req.ResponseMode == "fragment" {
		p.redirectFragment(w, r, req.RedirectURI, q)
		return
	}
	p.redirectTo(w, r, req.RedirectURI, q)
}

// redirectFragment sends q in the fragment of a registered redirect URI.
func (p *Provider) redirectFragment(w http.ResponseWriter, r *http.Request, target string, q url.Values) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target+"#"+q.Encode(), http.StatusSeeOther)
}

// redirectTo appends q to a registered redirect URI (keeping its own query).
func (p *Provider) redirectTo(w http.ResponseWriter, r *http.Request, target string, q url.Values) {
	u := withQuery(target, q)
	if u == "" {
		p.serverError(w, r, fmt.Errorf("oidc: cannot redirect to %q", target))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// withQuery returns target with q added to its query; "" when target is
// empty or not a URL.
func withQuery(target string, q url.Values) string {
	u, err := url.Parse(target)
	if target == "" || err != nil {
		return ""
	}
	existing := u.Query()
	for k, v := range q {
		existing[k] = v
	}
	u.RawQuery = existing.Encode()
	return u.String()
}

var authPageTmpl = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title></head>
<body><main><h1>{{.Title}}</h1>{{if .Detail}}<p>{{.Detail}}</p>{{end}}</main></body></html>
`))

// authPage shows an error to the user when the client cannot be told.
func (p *Provider) authPage(w http.ResponseWriter, r *http.Request, status int, title, detail string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = authPageTmpl.Execute(w, struct{ Title, Detail string }{title, detail})
}

func (p *Provider) serverError(w http.ResponseWriter, r *http.Request, err error) {
	p.Log.ErrorContext(r.Context(), "authorization request failed", "error", err)
	if derrors.Unavailable(err) {
		p.authPage(w, r, http.StatusServiceUnavailable, "Sign-in is temporarily unavailable.", "Please try again in a moment.")
		return
	}
	p.authPage(w, r, http.StatusInternalServerError, "Something went wrong.", "Please try again in a moment.")
}
