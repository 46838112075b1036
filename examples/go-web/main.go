// Command go-web is a small server-side web app (a Gatehouse "web" app) that
// signs its users in with the authorization code flow and PKCE, using
// golang.org/x/oauth2 and github.com/coreos/go-oidc/v3. It shows the ID token
// claims, refreshes the tokens and logs out through Gatehouse's end_session
// endpoint. The tokens stay on the server; the browser only gets a session
// cookie (this is also the backend-for-frontend pattern for browser apps).
//
// Register it (see examples/README.md) and run:
//
//	ISSUER=http://localhost:8080/t/acme CLIENT_ID=... CLIENT_SECRET=... go run ./examples/go-web
//
// then open http://localhost:5555/.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"html/template"
	"log"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// session is what the app keeps per browser, in memory.
type session struct {
	State, Nonce, Verifier string // of the login in progress
	Token                  *oauth2.Token
	RawIDToken             string
	Claims                 map[string]any
}

type webApp struct {
	cfg        oauth2.Config
	verifier   *oidc.IDTokenVerifier
	endSession string
	revocation string
	home       string // the post-logout redirect URI

	mu       sync.Mutex
	sessions map[string]*session
}

func main() {
	ctx := context.Background()
	issuer := env("ISSUER", "http://localhost:8080/t/acme")
	base := env("APP_URL", "http://localhost:5555")
	provider, err := oidc.NewProvider(ctx, issuer) // reads {issuer}/.well-known/openid-configuration
	if err != nil {
		log.Fatalf("discovery: %v", err)
	}
	var md struct {
		EndSession string `json:"end_session_endpoint"`
		Revocation string `json:"revocation_endpoint"`
	}
	if err := provider.Claims(&md); err != nil {
		log.Fatal(err)
	}
	a := &webApp{
		cfg: oauth2.Config{
			ClientID:     os.Getenv("CLIENT_ID"),
			ClientSecret: os.Getenv("CLIENT_SECRET"),
			Endpoint:     provider.Endpoint(), // client_secret_basic by default
			RedirectURL:  base + "/callback",
			Scopes:       []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess},
		},
		verifier:   provider.Verifier(&oidc.Config{ClientID: os.Getenv("CLIENT_ID")}),
		endSession: md.EndSession,
		revocation: md.Revocation,
		home:       base + "/",
		sessions:   map[string]*session{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.index)
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET /callback", a.callback)
	mux.HandleFunc("POST /refresh", a.refresh)
	mux.HandleFunc("POST /logout", a.logout)
	listen := env("LISTEN", "127.0.0.1:5555")
	log.Printf("go-web: open %s/ (listening on %s, issuer %s)", base, listen, issuer)
	log.Fatal(http.ListenAndServe(listen, mux))
}

// login starts the code flow: state, nonce and a PKCE verifier per attempt.
func (a *webApp) login(w http.ResponseWriter, r *http.Request) {
	s := a.session(w, r)
	a.mu.Lock()
	s.State, s.Nonce, s.Verifier = rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	authURL := a.cfg.AuthCodeURL(s.State, oidc.Nonce(s.Nonce), oauth2.S256ChallengeOption(s.Verifier))
	a.mu.Unlock()
	http.Redirect(w, r, authURL, http.StatusFound)
}

// callback is the redirect URI: Gatehouse sends code, state and iss here, or
// error and error_description.
func (a *webApp) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s := a.session(w, r)
	a.mu.Lock()
	state, nonce, verifier := s.State, s.Nonce, s.Verifier
	s.State, s.Nonce, s.Verifier = "", "", ""
	a.mu.Unlock()
	switch {
	case state == "" || q.Get("state") != state:
		http.Error(w, "unexpected state: start again at /login", http.StatusBadRequest)
		return
	case q.Get("error") != "":
		http.Error(w, "sign-in failed: "+q.Get("error")+": "+q.Get("error_description"), http.StatusForbidden)
		return
	}
	tok, err := a.cfg.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		http.Error(w, "code exchange: "+err.Error(), http.StatusBadGateway)
		return
	}
	if err := a.keep(r.Context(), s, tok, nonce); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, "/", http.StatusFound)
}

// keep verifies the ID token of a token response and stores the tokens.
func (a *webApp) keep(ctx context.Context, s *session, tok *oauth2.Token, nonce string) error {
	raw, _ := tok.Extra("id_token").(string)
	idt, err := a.verifier.Verify(ctx, raw) // signature, iss, aud, exp
	if err != nil {
		return err
	}
	if nonce != "" && idt.Nonce != nonce {
		return errors.New("ID token nonce mismatch")
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil { // at_hash
		return err
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return err
	}
	a.mu.Lock()
	s.Token, s.RawIDToken, s.Claims = tok, raw, claims
	a.mu.Unlock()
	return nil
}

// refresh exchanges the refresh token. Gatehouse rotates it: the response
// carries a new one, and the old one must not be used again.
func (a *webApp) refresh(w http.ResponseWriter, r *http.Request) {
	s := a.session(w, r)
	a.mu.Lock()
	old := s.Token
	a.mu.Unlock()
	if old == nil || old.RefreshToken == "" {
		http.Error(w, "no refresh token (was offline_access granted?)", http.StatusBadRequest)
		return
	}
	tok, err := a.cfg.TokenSource(r.Context(), &oauth2.Token{RefreshToken: old.RefreshToken}).Token()
	if err != nil {
		// invalid_grant: expired, revoked, reused, or the user was blocked.
		a.forget(s)
		http.Error(w, "refresh failed, sign in again: "+err.Error(), http.StatusUnauthorized)
		return
	}
	if err := a.keep(r.Context(), s, tok, ""); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout revokes the refresh token family, forgets the local session and
// ends the Gatehouse SSO session (RP-initiated logout). Ending the session
// also revokes what it issued, but only while it is live: revoking first
// covers an SSO session that has already expired.
func (a *webApp) logout(w http.ResponseWriter, r *http.Request) {
	s := a.session(w, r)
	a.mu.Lock()
	tok, idToken := s.Token, s.RawIDToken
	a.mu.Unlock()
	a.forget(s)
	if tok != nil && tok.RefreshToken != "" {
		form := url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, a.revocation, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(a.cfg.ClientID), url.QueryEscape(a.cfg.ClientSecret))
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	q := url.Values{"post_logout_redirect_uri": {a.home}, "client_id": {a.cfg.ClientID}}
	if idToken != "" {
		q.Set("id_token_hint", idToken)
	}
	http.Redirect(w, r, a.endSession+"?"+q.Encode(), http.StatusSeeOther)
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>go-web</title></head><body>
{{if .}}<h1>Signed in</h1>
<p>User ID (sub): {{index .Claims "sub"}}{{with index .Claims "preferred_username"}}, username {{.}}{{end}}</p>
<p>Access token expires {{.Token.Expiry.Format "15:04:05"}}; refresh token: {{if .Token.RefreshToken}}yes{{else}}no{{end}}.</p>
<h2>ID token claims</h2><pre>{{.JSON}}</pre>
<form method="post" action="/refresh"><button type="submit">Refresh tokens</button></form>
<form method="post" action="/logout"><button type="submit">Log out</button></form>
{{else}}<h1>Not signed in</h1><p><a href="/login">Log in with Gatehouse</a></p>{{end}}
</body></html>`))

func (a *webApp) index(w http.ResponseWriter, r *http.Request) {
	s := a.session(w, r)
	a.mu.Lock()
	defer a.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	if s.Token == nil {
		_ = page.Execute(w, nil)
		return
	}
	b, _ := json.MarshalIndent(s.Claims, "", "  ")
	_ = page.Execute(w, struct {
		*session
		JSON string
	}{s, string(b)})
}

// session returns the browser's session, creating one (and its cookie).
func (a *webApp) session(w http.ResponseWriter, r *http.Request) *session {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, err := r.Cookie("go_web_session"); err == nil && a.sessions[c.Value] != nil {
		return a.sessions[c.Value]
	}
	id := rand.Text()
	a.sessions[id] = &session{}
	http.SetCookie(w, &http.Cookie{Name: "go_web_session", Value: id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: int((12 * time.Hour).Seconds())})
	return a.sessions[id]
}

func (a *webApp) forget(s *session) {
	a.mu.Lock()
	*s = session{}
	a.mu.Unlock()
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
