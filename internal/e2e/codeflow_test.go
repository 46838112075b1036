package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

type flowFixture struct {
	inst     *instance
	issuer   string
	provider *oidc.Provider
	admin    string
	userID   string
}

// newFlow starts a server with tenant acme (ES256) and user alice.
func newFlow(t *testing.T, o options) *flowFixture {
	t.Helper()
	inst := start(t, o)
	issuer := inst.createTenant(t, "acme", "ES256")
	admin := inst.adminToken(t)
	r := inst.api(t, admin, "POST", "/admin/v1/tenants/acme/users", map[string]any{
		"username": "alice", "email": "alice@example.com", "email_verified": true,
		"given_name": "Alice", "family_name": "Liddell", "password": "correct horse battery",
	})
	if r.Status != 201 {
		t.Fatalf("create user: %d %s", r.Status, r.Raw)
	}
	p, err := oidc.NewProvider(context.Background(), issuer)
	if err != nil {
		t.Fatal(err)
	}
	return &flowFixture{inst: inst, issuer: issuer, provider: p, admin: admin, userID: r.Body["id"].(string)}
}

func (f *flowFixture) oauthConfig(a createdApp, redirect string, scopes ...string) *oauth2.Config {
	return &oauth2.Config{ClientID: a.ClientID, ClientSecret: a.ClientSecret, Endpoint: f.provider.Endpoint(), RedirectURL: redirect, Scopes: scopes}
}

// codeFlow logs alice in through the login page and exchanges the code
// with x/oauth2, PKCE S256 included; go-oidc verifies the ID token.
func (f *flowFixture) codeFlow(t *testing.T, cfg *oauth2.Config, b *browser, consent string) (*oauth2.Token, *oidc.IDToken) {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	state, nonce := "st-"+oauth2.GenerateVerifier()[:8], "n-"+oauth2.GenerateVerifier()[:8]
	authURL := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
	q := b.login(authURL, f.inst.URL, "alice", "correct horse battery", consent)
	if q.Get("state") != state || q.Get("iss") != f.issuer || q.Get("code") == "" {
		t.Fatalf("redirect back: %v", q)
	}
	tok, err := cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := f.provider.Verifier(&oidc.Config{ClientID: cfg.ClientID}).Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if idt.Nonce != nonce || idt.Subject != f.userID {
		t.Fatalf("ID token nonce %q sub %q", idt.Nonce, idt.Subject)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	return tok, idt
}

// R-OID-2, R-OID-3, R-OID-1, R-CLM-3: the code flow with PKCE for each app
// type, refresh with rotation, userinfo, introspection before and after
// revocation, and logout; real client libraries as the peer.
func TestCodeFlow(t *testing.T) {
	f := newFlow(t, options{})
	ctx := context.Background()
	spa := f.inst.createApp(t, "acme", "--type", "spa", "--name", "front", "--redirect-uri", "http://127.0.0.1:9/spa", "--first-party")
	native := f.inst.createApp(t, "acme", "--type", "native", "--name", "phone", "--redirect-uri", "http://127.0.0.1/native", "--first-party")
	web := f.inst.createApp(t, "acme", "--type", "web", "--name", "portal", "--redirect-uri", "https://portal.example.com/cb",
		"--post-logout-redirect-uri", "https://portal.example.com/bye")
	api := f.inst.createApp(t, "acme", "--type", "s2s", "--name", "api")

	t.Run("spa", func(t *testing.T) {
		cfg := f.oauthConfig(spa, "http://127.0.0.1:9/spa", "openid", "profile", "email", "offline_access")
		cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		tok, idt := f.codeFlow(t, cfg, newBrowser(t), "")
		var claims struct {
			Email, Name, PreferredUsername string
			EmailVerified                  bool `json:"email_verified"`
		}
		if err := idt.Claims(&claims); err != nil || claims.Email != "alice@example.com" {
			t.Fatalf("claims %+v %v", claims, err)
		}
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token with offline_access (R-OID-3)")
		}
		ui, err := f.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil || ui.Subject != f.userID || ui.Email != "alice@example.com" {
			t.Fatalf("userinfo: %+v %v", ui, err)
		}
	})
	t.Run("native loopback any port", func(t *testing.T) {
		cfg := f.oauthConfig(native, "http://127.0.0.1:53117/native", "openid")
		cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		tok, _ := f.codeFlow(t, cfg, newBrowser(t), "")
		if tok.RefreshToken != "" {
			t.Fatal("a refresh token without offline_access")
		}
	})
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		t.Run("web third-party with consent", func(t *testing.T) {
			b := newBrowser(t)
			cfg := f.oauthConfig(web, "https://portal.example.com/cb", "openid", "offline_access")
			cfg.Endpoint.AuthStyle = style
			consent := "allow"
			if style == oauth2.AuthStyleInParams {
				consent = "" // remembered from the first run (R-OID-9)
			}
			tok, _ := f.codeFlow(t, cfg, b, consent)

			// Refresh with rotation (R-OID-3).
			next, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			if err != nil || next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken {
				t.Fatalf("refresh: %+v %v", next, err)
			}
			// Introspection by the resource server, then revocation by the client.
			in := introspect(t, f, api, next.AccessToken)
			if in["active"] != true || in["sub"] != f.userID || in["client_id"] != web.ClientID {
				t.Fatalf("introspection: %v", in)
			}
			r := postForm(t, f.issuer+"/oauth/revoke", url.Values{"token": {next.RefreshToken}}, web.ClientID, web.ClientSecret)
			if r.Status != 200 {
				t.Fatalf("revoke: %d %s", r.Status, r.Raw)
			}
			if in := introspect(t, f, api, next.AccessToken); in["active"] != false {
				t.Fatalf("access token still active after its family was revoked: %v", in)
			}
			if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: next.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
				t.Fatalf("refresh after revocation: %v", err)
			}
		})
	}
	t.Run("logout", func(t *testing.T) {
		b := newBrowser(t)
		cfg := f.oauthConfig(web, "https://portal.example.com/cb", "openid")
		_, idt := f.codeFlow(t, cfg, b, "")
		_ = idt
		p := b.get(f.issuer + "/oauth/logout?client_id=" + web.ClientID + "&post_logout_redirect_uri=" + url.QueryEscape("https://portal.example.com/bye") + "&state=x")
		if p.Status != http.StatusSeeOther || p.Location != "https://portal.example.com/bye?state=x" {
			t.Fatalf("logout: %d %q", p.Status, p.Location)
		}
		// The session is gone: prompt=none now says login_required.
		q := b.clientRedirect(b.follow(cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none")), f.inst.URL), f.inst.URL)
		if q.Get("error") != "login_required" {
			t.Fatalf("prompt=none after logout: %v", q)
		}
		// An unregistered post-logout URI is never followed.
		p = b.get(f.issuer + "/oauth/logout?client_id=" + web.ClientID + "&post_logout_redirect_uri=" + url.QueryEscape("https://evil.example.com/"))
		if p.Status != 400 {
			t.Fatalf("unregistered post-logout URI: %d %q", p.Status, p.Location)
		}
	})
}

func introspect(t *testing.T, f *flowFixture, rs createdApp, token string) map[string]any {
	t.Helper()
	r := postForm(t, f.issuer+"/oauth/introspect", url.Values{"token": {token}}, rs.ClientID, rs.ClientSecret)
	if r.Status != 200 {
		t.Fatalf("introspect: %d %s", r.Status, r.Raw)
	}
	return r.Body
}

func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}

// R-OID-2, R-OID-8: negative cases of the code flow get their RFC errors.
func TestCodeFlowErrors(t *testing.T) {
	f := newFlow(t, options{})
	ctx := context.Background()
	spa := f.inst.createApp(t, "acme", "--type", "spa", "--name", "front", "--redirect-uri", "https://app.example.com/cb", "--first-party")
	web := f.inst.createApp(t, "acme", "--type", "web", "--name", "portal", "--redirect-uri", "https://portal.example.com/cb", "--first-party")
	b := newBrowser(t)
	code := func(cfg *oauth2.Config, opts ...oauth2.AuthCodeOption) url.Values {
		t.Helper()
		return b.login(cfg.AuthCodeURL("s", opts...), f.inst.URL, "alice", "correct horse battery", "")
	}
	spaCfg := f.oauthConfig(spa, "https://app.example.com/cb", "openid")
	spaCfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	webCfg := f.oauthConfig(web, "https://portal.example.com/cb", "openid", "offline_access")
	verifier := oauth2.GenerateVerifier()

	t.Run("wrong PKCE verifier", func(t *testing.T) {
		q := code(spaCfg, oauth2.S256ChallengeOption(verifier))
		_, err := spaCfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
		if !isOAuthError(err, "invalid_grant") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("missing PKCE verifier", func(t *testing.T) {
		q := code(spaCfg, oauth2.S256ChallengeOption(verifier))
		if _, err := spaCfg.Exchange(ctx, q.Get("code")); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("spa without PKCE", func(t *testing.T) {
		q := b.clientRedirect(b.follow(spaCfg.AuthCodeURL("s"), f.inst.URL), f.inst.URL)
		if q.Get("error") != "invalid_request" || q.Get("state") != "s" {
			t.Fatalf("got %v", q)
		}
	})
	t.Run("plain PKCE", func(t *testing.T) {
		u := spaCfg.AuthCodeURL("s", oauth2.SetAuthURLParam("code_challenge", verifier), oauth2.SetAuthURLParam("code_challenge_method", "plain"))
		q := b.clientRedirect(b.follow(u, f.inst.URL), f.inst.URL)
		if q.Get("error") != "invalid_request" {
			t.Fatalf("got %v", q)
		}
	})
	t.Run("reused code revokes what it issued", func(t *testing.T) {
		q := code(webCfg)
		tok, err := webCfg.Exchange(ctx, q.Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := webCfg.Exchange(ctx, q.Get("code")); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("second exchange: %v", err)
		}
		if _, err := webCfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("refresh token of a replayed code still works: %v", err)
		}
	})
	t.Run("wrong redirect URI at the token endpoint", func(t *testing.T) {
		q := code(webCfg)
		other := *webCfg
		other.RedirectURL = "https://portal.example.com/other"
		if _, err := other.Exchange(ctx, q.Get("code")); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("unregistered redirect URI at authorize: error page, no redirect", func(t *testing.T) {
		bad := *webCfg
		bad.RedirectURL = "https://evil.example.com/cb"
		p := b.get(bad.AuthCodeURL("s"))
		if p.Status != 400 || p.Location != "" {
			t.Fatalf("got %d %q", p.Status, p.Location)
		}
	})
	t.Run("scope not allowed", func(t *testing.T) {
		bad := *webCfg
		bad.Scopes = []string{"openid", "admin"}
		q := b.clientRedirect(b.follow(bad.AuthCodeURL("s"), f.inst.URL), f.inst.URL)
		if q.Get("error") != "invalid_scope" {
			t.Fatalf("got %v", q)
		}
	})
	t.Run("code of tenant A at tenant B", func(t *testing.T) {
		f.inst.createTenant(t, "other", "ES256")
		q := code(webCfg)
		other := *webCfg
		other.Endpoint.TokenURL = strings.Replace(webCfg.Endpoint.TokenURL, "/t/acme/", "/t/other/", 1)
		if _, err := other.Exchange(ctx, q.Get("code")); !isOAuthError(err, "invalid_client") && !isOAuthError(err, "invalid_grant") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("rotated refresh token reused after the grace window revokes the family", func(t *testing.T) {
		q := code(webCfg)
		tok, err := webCfg.Exchange(ctx, q.Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		next, err := webCfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(1200 * time.Millisecond) // the test server's grace is 1 s
		if _, err := webCfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("reuse: %v", err)
		}
		if _, err := webCfg.TokenSource(ctx, &oauth2.Token{RefreshToken: next.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("the family was not revoked: %v", err)
		}
	})
	t.Run("blocked user", func(t *testing.T) {
		q := code(webCfg)
		tok, err := webCfg.Exchange(ctx, q.Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		if r := f.inst.api(t, f.admin, "POST", "/admin/v1/tenants/acme/users/"+f.userID+"/block", nil); r.Status != 200 {
			t.Fatalf("block: %d %s", r.Status, r.Raw)
		}
		defer f.inst.api(t, f.admin, "POST", "/admin/v1/tenants/acme/users/"+f.userID+"/unblock", nil)
		if _, err := webCfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("refresh of a blocked user (R-USR-2): %v", err)
		}
	})
}

// R-OID-3: two concurrent refreshes with the same token inside the grace
// window both succeed with the same new token pair, on SQLite and PostgreSQL.
func TestConcurrentRefresh(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			o := options{}
			if db == "postgres" {
				o.database = postgresURL(t)
			}
			f := newFlow(t, o)
			web := f.inst.createApp(t, "acme", "--type", "web", "--name", "portal", "--redirect-uri", "https://portal.example.com/cb", "--first-party")
			cfg := f.oauthConfig(web, "https://portal.example.com/cb", "openid", "offline_access")
			b := newBrowser(t)
			q := b.login(cfg.AuthCodeURL("s"), f.inst.URL, "alice", "correct horse battery", "")
			tok, err := cfg.Exchange(context.Background(), q.Get("code"))
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			results := make([]apiResult, 4)
			for i := range results {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i] = postForm(t, cfg.Endpoint.TokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, web.ClientID, web.ClientSecret)
				}()
			}
			wg.Wait()
			for i, r := range results {
				if r.Status != 200 {
					t.Fatalf("refresh %d: %d %s", i, r.Status, r.Raw)
				}
				if r.Body["refresh_token"] != results[0].Body["refresh_token"] || r.Body["access_token"] != results[0].Body["access_token"] {
					t.Fatalf("refresh %d got another token pair", i)
				}
			}
			// The new refresh token works: nobody was logged out.
			var next struct {
				RefreshToken string `json:"refresh_token"`
			}
			b2, _ := json.Marshal(results[0].Body)
			_ = json.Unmarshal(b2, &next)
			if _, err := cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: next.RefreshToken}).Token(); err != nil {
				t.Fatalf("the new refresh token: %v", err)
			}
		})
	}
}
