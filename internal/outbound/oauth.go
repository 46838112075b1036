package outbound

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/sync/singleflight"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/integration"
)

// TokenStore keeps integrations' OAuth tokens, sealed, shared by every
// replica: the service account's under subject "".
type TokenStore interface {
	SaveIntegrationToken(ctx context.Context, tenantID, name, subject string, token []byte, at time.Time) error
	// UpdateIntegrationToken reads the subject's token, lets next make a
	// new one (nil: keep it) and stores it, under a lock every replica
	// respects; it returns the token in force.
	UpdateIntegrationToken(ctx context.Context, tenantID, name, subject string, next func(stored []byte) ([]byte, error)) ([]byte, error)
}

// Sealer seals the state of an authorization (the master key ring).
type Sealer interface {
	Seal(plaintext, aad []byte) (string, error)
	Open(sealed string, aad []byte) ([]byte, error)
}

// Token refresh and sign-in bounds.
const (
	// refreshAhead: a token this close to its expiry is renewed first.
	refreshAhead = 30 * time.Second
	// stateLifetime bounds an authorization from its URL to the callback.
	stateLifetime = 10 * time.Minute
)

// tokens caches the OAuth tokens of this process in front of the store.
type tokens struct {
	mu     sync.Mutex
	byKey  map[string]*oauth2.Token
	flight singleflight.Group
}

func tokenKey(ig *integration.Integration, subject string) string {
	return ig.TenantID + "\x00" + ig.Name + "\x00" + ig.UpdatedAt.String() + "\x00" + subject
}

func fresh(t *oauth2.Token) bool {
	return t != nil && t.AccessToken != "" && (t.Expiry.IsZero() || time.Until(t.Expiry) > refreshAhead)
}

// oauthHints say in plain words what to check for each RFC 6749 §5.2 error
// of the upstream's authorization server (R-INT-6, seed 000).
var oauthHints = map[string]string{
	"invalid_request":        "the token request is missing a parameter or has one the server does not support: check the grant type and the extra token parameters",
	"invalid_client":         "the client was not recognised: check the client ID and secret, and how the server wants them sent",
	"invalid_grant":          "the grant was refused: check the username and password, or sign in with the service account again (the refresh token may be expired or revoked)",
	"unauthorized_client":    "this client may not use this grant type at the server: allow it there, or choose another grant type",
	"unsupported_grant_type": "the server does not support this grant type: choose one it supports",
	"invalid_scope":          "the scope is unknown to the server or more than the client may have: check the scope",
}

func (s *Service) oauthClient(ig *integration.Integration) *http.Client {
	hc := &http.Client{Transport: s.verified, Timeout: 30 * time.Second}
	if ig.OnPremises && ig.AcceptUnverifiedTLS {
		hc.Transport = s.unverified
	}
	return hc
}

func oauthConfig(a *integration.Auth, redirect string) *oauth2.Config {
	var scopes []string
	if a.Scope != "" {
		scopes = strings.Fields(a.Scope)
	}
	return &oauth2.Config{ClientID: a.ClientID, ClientSecret: a.ClientSecret, RedirectURL: redirect, Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: a.AuthorizationURL, TokenURL: a.TokenURL}}
}

// oauthToken is an access token of subject ("" for the service account
// with ig.ServiceAuth, a user ID for service actions with ig.ActionAuth):
// from this process's cache, else the store's, else a new one (client
// credentials, password) or a refreshed one (authorization code), written
// back to the store for every replica. stale, when set, is a token the
// upstream refused: it is renewed even if it looks fresh.
func (s *Service) oauthToken(ctx context.Context, ig *integration.Integration, subject, stale string) (string, *problem) {
	a := &ig.ServiceAuth
	if subject != "" {
		a = ig.ActionAuth
	}
	key := tokenKey(ig, subject)
	s.tokens.mu.Lock()
	if s.tokens.byKey == nil {
		s.tokens.byKey = map[string]*oauth2.Token{}
	}
	tok := s.tokens.byKey[key]
	s.tokens.mu.Unlock()
	if fresh(tok) && tok.AccessToken != stale {
		return tok.AccessToken, nil
	}
	v, err, _ := s.tokens.flight.Do(key, func() (any, error) {
		// Under the lock another replica's fresh token is found, not
		// fetched again: a refresh token is spent once.
		b, err := s.Tokens.UpdateIntegrationToken(context.WithoutCancel(ctx), ig.TenantID, ig.Name, subject, func(raw []byte) ([]byte, error) {
			var stored *oauth2.Token
			if raw != nil {
				stored = new(oauth2.Token)
				if err := json.Unmarshal(raw, stored); err != nil {
					return nil, err
				}
			}
			if fresh(stored) && stored.AccessToken != stale {
				return nil, nil
			}
			t, err := s.newToken(ctx, ig, a, stored)
			if err != nil {
				return nil, err
			}
			if t.RefreshToken == "" && stored != nil {
				t.RefreshToken = stored.RefreshToken
			}
			return json.Marshal(t)
		})
		if err != nil {
			return nil, err
		}
		var t oauth2.Token
		return &t, json.Unmarshal(b, &t)
	})
	if err != nil {
		p := oauthProblem(err)
		if subject != "" && errors.Is(err, errNotSignedIn) {
			p = s.authorizationRequired(ig, subject)
		}
		return "", p
	}
	t := v.(*oauth2.Token)
	s.tokens.mu.Lock()
	if len(s.tokens.byKey) >= 10000 {
		clear(s.tokens.byKey)
	}
	s.tokens.byKey[key] = t
	s.tokens.mu.Unlock()
	return t.AccessToken, nil
}

// errNotSignedIn: an authorization-code integration whose service account
// has not signed in (or whose refresh token is gone).
var errNotSignedIn = errors.New("the service account has not signed in")

// newToken asks the authorization server of a for a token: client
// credentials or password afresh, or a refresh of stored (authorization
// code).
func (s *Service) newToken(ctx context.Context, ig *integration.Integration, a *integration.Auth, stored *oauth2.Token) (*oauth2.Token, error) {
	tctx := context.WithValue(ctx, oauth2.HTTPClient, s.oauthClient(ig))
	switch a.GrantType {
	case integration.GrantClientCredentials:
		cfg := oauthConfig(a, "")
		cc := clientcredentials.Config{ClientID: a.ClientID, ClientSecret: a.ClientSecret, TokenURL: a.TokenURL, Scopes: cfg.Scopes, EndpointParams: params(a.TokenParams)}
		return cc.Token(tctx)
	case integration.GrantPassword:
		return oauthConfig(a, "").PasswordCredentialsToken(tctx, a.Username, a.Password)
	case integration.GrantAuthorizationCode:
		if stored == nil || stored.RefreshToken == "" {
			return nil, errNotSignedIn
		}
		cfg := oauthConfig(a, "")
		if a.RefreshURL != "" {
			cfg.Endpoint.TokenURL = a.RefreshURL
		}
		return cfg.TokenSource(tctx, &oauth2.Token{RefreshToken: stored.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
	}
	// The implicit grant (developer-mode service actions) has no
	// refresh: the user authorizes again (seed 000).
	return nil, errNotSignedIn
}

// oauthProblem reports a failed token request with the RFC 6749 code and a
// hint (R-INT-6).
func oauthProblem(err error) *problem {
	var re *oauth2.RetrieveError
	switch {
	case errors.Is(err, errNotSignedIn):
		return &problem{Status: http.StatusServiceUnavailable, Error: "not_signed_in", Detail: "the integration's service account has not signed in",
			Hint: "an admin signs in once with the service account: gatehouse integration authorize NAME"}
	case errors.As(err, &re) && re.ErrorCode != "":
		hint := oauthHints[re.ErrorCode]
		if hint == "" {
			hint = "the authorization server refused the token request"
		}
		return &problem{Status: http.StatusBadGateway, Error: re.ErrorCode, Detail: "the integration's authorization server said: " + re.ErrorCode + " " + re.ErrorDescription, Hint: hint}
	case derrors.Unavailable(err):
		return &problem{Status: http.StatusServiceUnavailable, Error: "temporarily_unavailable", Detail: "try again shortly"}
	}
	return &problem{Status: http.StatusBadGateway, Error: "upstream_oauth_failed", Detail: "no access token from the integration's authorization server",
		Hint: "check the token URL and that the server answers OAuth 2.0 token requests; " + hintOf(err)}
}

func params(m map[string]string) map[string][]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = []string{v}
	}
	return out
}

// CallbackPath is the path of the OAuth callback of a tenant's
// integrations: register {public}/t/{tenant}/integrations/callback as the
// redirect URI at the system's authorization server.
const CallbackPath = "/integrations/callback"

// authState is what an authorization carries through the browser, sealed.
type authState struct {
	Tenant   string `json:"t"`
	Name     string `json:"n"`
	Subject  string `json:"s"`
	Verifier string `json:"v"`
	Expires  int64  `json:"e"`
}

var stateAAD = []byte("gatehouse integration authorization state")

// AuthorizeURL is where an admin signs in once with the service account
// of an authorization-code integration (R-INT-2): the authorization
// server's page, with PKCE and a sealed state, coming back to the tenant's
// integration callback.
func (s *Service) AuthorizeURL(ig *integration.Integration) (string, error) {
	a := &ig.ServiceAuth
	if a.Method != integration.MethodOAuth2 || a.GrantType != integration.GrantAuthorizationCode {
		return "", derrors.Invalidf("service_auth.grant_type", "only an OAuth 2.0 authorization code integration signs in with its service account")
	}
	return s.authorizeURL(ig, a, "")
}

// authorizationRequired is the answer to a user's service action before
// that user authorized the integration: where to do it, once (R-INT-3).
func (s *Service) authorizationRequired(ig *integration.Integration, userID string) *problem {
	u, err := s.authorizeURL(ig, ig.ActionAuth, userID)
	if err != nil {
		return &problem{Status: http.StatusServiceUnavailable, Error: "temporarily_unavailable", Detail: "try again shortly"}
	}
	return &problem{Status: http.StatusForbidden, Error: "authorization_required", AuthorizationURL: u,
		Detail: "this service action acts as you at " + hostOf(ig.BaseURL) + ", and you have not authorized it yet",
		Hint:   "open authorization_url in your browser, signed in to Gatehouse, and authorize once; then call again"}
}

// authorizeURL is the authorization server's page for subject with a.
func (s *Service) authorizeURL(ig *integration.Integration, a *integration.Auth, subject string) (string, error) {
	st := authState{Tenant: ig.TenantID, Name: ig.Name, Subject: subject, Verifier: oauth2.GenerateVerifier(), Expires: time.Now().Add(stateLifetime).Unix()}
	b, _ := json.Marshal(st)
	sealed, err := s.Seal.Seal(b, stateAAD)
	if err != nil {
		return "", err
	}
	if a.GrantType == integration.GrantImplicit {
		// Developer mode: the token comes back in the URL fragment, which
		// the callback page's script posts back (callbackScript).
		return oauthConfig(a, s.CallbackURL(ig.TenantID)).AuthCodeURL(sealed, oauth2.SetAuthURLParam("response_type", "token")), nil
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(st.Verifier), oauth2.AccessTypeOffline}
	if strings.Contains(" "+a.Scope+" ", " offline_access ") {
		// OpenID Connect Core §11: offline_access is granted with
		// prompt=consent.
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "consent"))
	}
	return oauthConfig(a, s.CallbackURL(ig.TenantID)).AuthCodeURL(sealed, opts...), nil
}

// CallbackURL is the redirect URI of a tenant's integrations.
func (s *Service) CallbackURL(tenantID string) string {
	return s.PublicURL + "/t/" + tenantID + CallbackPath
}

var callbackPage = template.Must(template.New("cb").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body><main><h1>{{.Title}}</h1><p>{{.Text}}</p></main></body></html>
`))

func page(w http.ResponseWriter, status int, title, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = callbackPage.Execute(w, struct{ Title, Text string }{title, text})
}

// callback completes a service account's sign-in, or a user's
// authorization of service actions: the code is exchanged (with the PKCE
// verifier of the sealed state) and the tokens stored for every replica. A
// user's authorization completes only in that user's browser (its Gatehouse
// session): else a link made for one user could store another's upstream
// account under the first.
func (s *Service) callback(w http.ResponseWriter, r *http.Request) {
	s.init()
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		// The implicit grant's fragment, posted by callbackScript.
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			page(w, http.StatusBadRequest, "This sign-in cannot be completed", "The answer is not well formed.")
			return
		}
		q = r.PostForm
	} else if !q.Has("state") {
		// Perhaps an implicit answer in the fragment, which only the
		// browser sees: the script posts it back.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; form-action 'self'; frame-ancestors 'none'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signing in</title>` +
			`<script src="callback.js"></script></head><body><main><h1>Signing in…</h1>` +
			`<noscript><p>This sign-in needs JavaScript to pass the answer on.</p></noscript></main></body></html>`))
		return
	}
	raw, err := s.Seal.Open(q.Get("state"), stateAAD)
	var st authState
	if err != nil || json.Unmarshal(raw, &st) != nil || st.Tenant != r.PathValue("tenant") || time.Now().Unix() > st.Expires {
		page(w, http.StatusBadRequest, "This sign-in cannot be completed", "It expired or did not start here. Start it again from Gatehouse.")
		return
	}
	if e := q.Get("error"); e != "" {
		page(w, http.StatusBadRequest, "The sign-in was not completed", "The authorization server said: "+e+" "+q.Get("error_description"))
		return
	}
	ctx := r.Context()
	ig, err := s.Integrations.Get(ctx, st.Tenant, st.Name)
	if err != nil {
		page(w, http.StatusNotFound, "This integration is gone", "The integration "+st.Name+" no longer exists.")
		return
	}
	a := &ig.ServiceAuth
	if st.Subject != "" {
		_, u, err := s.Sessions.Session(r, st.Tenant)
		if err != nil || u.ID != st.Subject || ig.ActionAuth == nil {
			page(w, http.StatusForbidden, "This authorization is not yours", "Sign in to Gatehouse as the user who asked for it, then start again from the application.")
			return
		}
		a = ig.ActionAuth
	}
	var tok *oauth2.Token
	if a.GrantType == integration.GrantImplicit {
		if r.Method != http.MethodPost || q.Get("access_token") == "" || len(q.Get("access_token")) > 8192 {
			page(w, http.StatusBadRequest, "This sign-in cannot be completed", "The answer holds no access token.")
			return
		}
		tok = &oauth2.Token{AccessToken: q.Get("access_token"), TokenType: q.Get("token_type")}
		if n, err := strconv.Atoi(q.Get("expires_in")); err == nil && n > 0 {
			tok.Expiry = time.Now().Add(time.Duration(n) * time.Second)
		} else {
			tok.Expiry = time.Now().Add(time.Hour)
		}
	} else {
		tctx := context.WithValue(ctx, oauth2.HTTPClient, s.oauthClient(ig))
		tok, err = oauthConfig(a, s.CallbackURL(st.Tenant)).Exchange(tctx, q.Get("code"), oauth2.VerifierOption(st.Verifier))
		if err != nil {
			p := oauthProblem(err)
			page(w, http.StatusBadGateway, "The sign-in was not completed", p.Detail+": "+p.Hint)
			return
		}
	}
	b, _ := json.Marshal(tok)
	if err := s.Tokens.SaveIntegrationToken(ctx, st.Tenant, st.Name, st.Subject, b, time.Now()); err != nil {
		s.Log.ErrorContext(ctx, "integration sign-in: token not saved", "tenant", st.Tenant, "integration", st.Name, "error", err)
		page(w, http.StatusServiceUnavailable, "The sign-in was not completed", "Try again in a moment.")
		return
	}
	s.tokens.mu.Lock()
	delete(s.tokens.byKey, tokenKey(ig, st.Subject))
	s.tokens.mu.Unlock()
	page(w, http.StatusOK, "Signed in", "The integration "+st.Name+" now calls "+hostOf(ig.BaseURL)+" as this account. You can close this window.")
}

// callbackScript posts an implicit grant's answer, which arrives in the URL
// fragment, back to the callback as a form (no inline script: it is served
// as a file of its own), and drops the fragment from the address bar.
const callbackScript = `"use strict";
(function () {
  var p = new URLSearchParams(location.hash.slice(1));
  history.replaceState(null, "", location.pathname);
  if (!p.has("state")) { return; }
  document.addEventListener("DOMContentLoaded", function () {
    var f = document.createElement("form");
    f.method = "POST";
    f.action = location.pathname;
    ["access_token", "token_type", "expires_in", "state", "error", "error_description"].forEach(function (k) {
      if (p.has(k)) {
        var i = document.createElement("input");
        i.type = "hidden"; i.name = k; i.value = p.get(k);
        f.appendChild(i);
      }
    });
    document.body.appendChild(f);
    f.submit();
  });
})();
`

func serveCallbackScript(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write([]byte(callbackScript))
}

func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Host
	}
	return u
}
