package oidc

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/keys"
	"github.com/gatehouse-id/gatehouse/internal/oauth"
)

// tokenRequest is a token request after the shared checks of the pipeline:
// the form is parsed, the client authenticated and allowed the grant.
type tokenRequest struct {
	TenantID string
	Issuer   string
	Form     url.Values
	Client   *app.App
	Auth     oauth.ClientAuth
	Keys     *keys.Set
	Now      time.Time
	IP       string // the client's address, for brute-force protection
}

// TokenResponse is the successful response of RFC 6749 §5.1.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
}

// grantFunc handles one grant type after the shared checks.
type grantFunc func(ctx context.Context, req *tokenRequest) (*TokenResponse, error)

// token is the token endpoint (RFC 6749 §3.2): one pipeline for every grant.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	grant := "unknown"
	resp, err := p.tokenPipeline(w, r, &grant)
	if err != nil {
		var oe *oauth.Error
		if !errors.As(err, &oe) {
			oe = failure(err)
			if r.Context().Err() != nil {
				// The client went away; nothing failed on our side.
				p.Log.DebugContext(r.Context(), "token request abandoned by the client", "grant_type", grant)
			} else {
				p.Log.ErrorContext(r.Context(), "token request failed", "grant_type", grant, "error", err)
			}
		}
		p.Metrics.Tokens.WithLabelValues(grant, oe.Code).Inc()
		oauth.WriteError(w, oe)
		return
	}
	p.Metrics.Tokens.WithLabelValues(grant, "ok").Inc()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// RFC 6749 §5.1: responses with tokens MUST NOT be cached.
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	_ = json.NewEncoder(w).Encode(resp)
}

func (p *Provider) tokenPipeline(w http.ResponseWriter, r *http.Request, grantLabel *string) (*TokenResponse, error) {
	ctx := r.Context()
	tid := r.PathValue("tenant")
	form, oe := oauth.ParseForm(w, r)
	if oe != nil {
		return nil, oe
	}
	gt := form.Get("grant_type")
	if gt == "" {
		return nil, oauth.InvalidRequest("grant_type is required")
	}
	handle, ok := p.handlers[gt]
	if !ok {
		return nil, oauth.UnsupportedGrantType("grant_type " + strconvQuote(gt) + " is not supported")
	}
	*grantLabel = gt
	var auth oauth.ClientAuth
	if gt == app.GrantJWTBearer && r.Header.Get("Authorization") == "" && !form.Has("client_id") && !form.Has("client_assertion") {
		// RFC 7523 §3.1: client authentication is optional for this
		// grant; the assertion's issuer is the client, and the grant
		// verifies the assertion with that client's keys.
		iss, ok := oauth.UnverifiedClaim(form.Get("assertion"), "iss")
		if !ok || iss == "" {
			return nil, oauth.InvalidGrant("assertion is missing or not a JWT with an iss claim")
		}
		auth = oauth.ClientAuth{ClientID: iss, Method: oauth.AuthAssertion}
	} else if auth, oe = oauth.ExtractClient(r, form); oe != nil {
		return nil, oe
	}
	client, err := p.authenticate(ctx, tid, auth)
	if err != nil {
		return nil, err
	}
	allowOrigin(w, r, client)
	// R-APP-8: a grant outside the app's list is unauthorized_client.
	if !client.AllowsGrant(gt) {
		return nil, oauth.UnauthorizedClient("this application may not use the " + gt + " grant")
	}
	ks, err := p.Keys.Get(ctx, tid)
	if err != nil {
		return nil, err
	}
	return handle(ctx, &tokenRequest{
		TenantID: tid, Issuer: p.issuer(tid), Form: form, Client: client, Auth: auth, Keys: ks, Now: p.Now(), IP: p.clientIP(r),
	})
}

func (p *Provider) clientIP(r *http.Request) string {
	if p.ClientIP != nil {
		return p.ClientIP(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// authenticate checks the client's credentials (RFC 6749 §2.3, OIDC Core §9).
// A confidential client must prove its secret; a public client sends only its
// client_id. Every failure is the same invalid_client.
func (p *Provider) authenticate(ctx context.Context, tenantID string, auth oauth.ClientAuth) (*app.App, error) {
	if len(auth.ClientID) > 256 || len(auth.Secret) > 1024 {
		return nil, oauth.InvalidClient("client authentication failed")
	}
	switch auth.Method {
	case oauth.AuthNone, oauth.AuthAssertion, oauth.AuthPrivateKeyJWT:
		a, err := p.Apps.Store.GetApp(ctx, tenantID, auth.ClientID)
		if derrors.Is(err, derrors.NotFound) {
			return nil, oauth.InvalidClient("client authentication failed")
		}
		if err != nil {
			return nil, err
		}
		switch {
		case auth.Method == oauth.AuthNone && a.Confidential():
			return nil, oauth.InvalidClient("client authentication failed")
		case auth.Method == oauth.AuthPrivateKeyJWT:
			// OpenID Connect Core §9: iss and sub are the client ID.
			if _, err := p.verifyAssertion(ctx, tenantID, a, auth.Assertion, true, clientAssertionFail); err != nil {
				return nil, err
			}
		}
		return a, nil
	}
	a, err := p.Apps.Authenticate(ctx, tenantID, auth.ClientID, auth.Secret)
	if derrors.Is(err, derrors.Unauthenticated) {
		return nil, oauth.InvalidClient("client authentication failed")
	}
	return a, err
}

// accessClaims are the claims of a JWT access token (RFC 9068 §2.2). The
// user-flow claims are empty for client credentials.
type accessClaims struct {
	Issuer      string   `json:"iss"`
	Subject     string   `json:"sub"`
	Audience    []string `json:"aud"`
	Expiry      int64    `json:"exp"`
	IssuedAt    int64    `json:"iat"`
	NotBef      int64    `json:"nbf"`
	JTI         string   `json:"jti"`
	ClientID    string   `json:"client_id"`
	Scope       string   `json:"scope,omitempty"`
	AuthTime    int64    `json:"auth_time,omitempty"`
	SID         string   `json:"sid,omitempty"`
	Roles       []string `json:"roles,omitempty"`
	Permissions []string `json:"permissions,omitempty"`
	// Family names the token family (grant) the token belongs to, so that
	// introspection can tell at once when it was revoked.
	Family string `json:"fam,omitempty"`
}

// signAccess completes c with the issuer, times, jti and client, and signs it.
func (p *Provider) signAccess(ctx context.Context, req *tokenRequest, c *accessClaims) (string, int64, error) {
	life := req.Client.AccessTokenLifetime.D()
	c.Issuer, c.ClientID, c.JTI = req.Issuer, req.Client.ClientID, newJTI()
	c.IssuedAt, c.NotBef, c.Expiry = req.Now.Unix(), req.Now.Unix(), req.Now.Add(life).Unix()
	payload, err := json.Marshal(c)
	if err != nil {
		return "", 0, err
	}
	if req.Client.AccessTokenFormat == app.TokenOpaque {
		// R-OID-7: an opaque token is a reference; its claims stay here.
		tok := OpaquePrefix + grant.NewSecret()
		err := p.Grants.SaveAccessToken(ctx, req.TenantID, grant.Hash(tok), c.ClientID, payload, req.Now.Add(life))
		return tok, int64(life / time.Second), err
	}
	tok, err := req.Keys.Sign(keys.TypAccessToken, payload)
	return tok, int64(life / time.Second), err
}

// OpaquePrefix starts every opaque access token, so that secret scanners
// and Gatehouse itself tell it from a JWT.
const OpaquePrefix = "gha_"

// issueAccessToken signs a JWT access token for the request's client.
func (p *Provider) issueAccessToken(ctx context.Context, req *tokenRequest, sub string, aud, scopes []string) (*TokenResponse, error) {
	scope := strings.Join(scopes, " ")
	tok, exp, err := p.signAccess(ctx, req, &accessClaims{Subject: sub, Audience: aud, Scope: scope})
	if err != nil {
		return nil, err
	}
	return &TokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: exp, Scope: scope}, nil
}

func newJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// audience picks the token's audience (RFC 8707 "resource", or "audience"):
// one of the app's registered audiences; by default all of them, or the
// issuer when the app registered none.
func audience(req *tokenRequest) ([]string, error) {
	want := req.Form.Get("resource")
	if a := req.Form.Get("audience"); a != "" {
		if want != "" && want != a {
			return nil, oauth.InvalidRequest("resource and audience differ")
		}
		want = a
	}
	if want == "" {
		if len(req.Client.Audiences) > 0 {
			return req.Client.Audiences, nil
		}
		return []string{req.Issuer}, nil
	}
	if slices.Contains(req.Client.Audiences, want) || want == req.Issuer {
		return []string{want}, nil
	}
	// RFC 8707 §2: invalid_target; RFC 6749 clients know invalid_request.
	return nil, &oauth.Error{Code: "invalid_target", Description: "the requested resource is not registered for this application", Status: http.StatusBadRequest}
}

// strconvQuote quotes a client's value for an error_description: cut to
// 100 bytes and in single quotes, with every byte that RFC 6749 §4.1.2.1 and
// §5.2 do not allow there (outside %x20-21 / %x23-5B / %x5D-7E: controls,
// '"', '\', non-ASCII) replaced by '?'.
func strconvQuote(s string) string {
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c == '"' || c == '\\' || c > 0x7e {
			b[i] = '?'
		}
	}
	return "'" + string(b) + "'"
}
