package oidc

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/oauth"
)

// Assertion limits: how far in the future an assertion may expire, and the
// clock skew allowed.
const (
	maxAssertionLife = time.Hour
	assertionSkew    = 60 * time.Second
)

type assertionClaims struct {
	Iss string          `json:"iss"`
	Sub string          `json:"sub"`
	Aud json.RawMessage `json:"aud"`
	Exp int64           `json:"exp"`
	Nbf int64           `json:"nbf"`
	Iat int64           `json:"iat"`
	JTI string          `json:"jti"`
	// Scope is the scope claim some clients (golang.org/x/oauth2/jwt, the
	// Google convention) put in the assertion instead of the form.
	Scope string `json:"scope"`
}

func (c *assertionClaims) audiences() []string {
	var one string
	if json.Unmarshal(c.Aud, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(c.Aud, &many)
	return many
}

// verifyAssertion checks a JWT made by client (RFC 7523 §3): signed by one of
// its registered keys, iss = client ID, aud = the issuer or the token
// endpoint, unexpired, not too long-lived, and its jti never seen before
// (OpenID Connect Core §9 requires a jti for client authentication).
// fail builds the error to return (invalid_client for client
// authentication, invalid_grant for the JWT bearer grant).
func (p *Provider) verifyAssertion(ctx context.Context, tid string, client *app.App, raw string, requireJTI bool, fail func(string) *oauth.Error) (*assertionClaims, error) {
	if client.JWKS == nil || len(raw) > oauth.MaxAssertionBytes {
		return nil, fail("the application has no registered keys for assertions")
	}
	algs := make([]jose.SignatureAlgorithm, len(app.AssertionAlgs))
	for i, a := range app.AssertionAlgs {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	jws, err := jose.ParseSigned(raw, algs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, fail("the assertion is not a signed JWT")
	}
	h := jws.Signatures[0].Header
	keys := client.JWKS.Key(h.KeyID)
	if h.KeyID == "" && len(client.JWKS.Keys) == 1 {
		keys = client.JWKS.Keys
	}
	var payload []byte
	for _, k := range keys {
		if k.Algorithm != "" && k.Algorithm != h.Algorithm {
			continue
		}
		if payload, err = jws.Verify(k); err == nil {
			break
		}
	}
	if payload == nil {
		return nil, fail("the assertion's signature does not match a registered key")
	}
	var c assertionClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fail("the assertion's claims are malformed")
	}
	now := p.Now()
	iss := p.issuer(tid)
	// Times are compared in Unix seconds: time.Unix overflows for claims
	// near the int64 limits, and a far-future nbf would read as past.
	switch {
	case c.Iss != client.ClientID:
		return nil, fail("the assertion's iss must be the client ID")
	case !slices.ContainsFunc(c.audiences(), func(a string) bool { return a == iss || a == iss+PathToken }):
		return nil, fail("the assertion's aud must be the issuer or the token endpoint")
	case c.Exp == 0 || c.Exp < now.Add(-assertionSkew).Unix():
		return nil, fail("the assertion is expired")
	case c.Exp > now.Add(maxAssertionLife).Unix():
		return nil, fail("the assertion expires too far in the future (at most 1 hour)")
	case c.Nbf != 0 && c.Nbf > now.Add(assertionSkew).Unix():
		return nil, fail("the assertion is not valid yet")
	case c.JTI == "" && requireJTI || len(c.JTI) > 256:
		return nil, fail("the assertion needs a jti")
	}
	// A JWT bearer assertion without a jti (RFC 7523 §3 makes it optional)
	// is remembered by the hash of its signed claims, not of raw: the same
	// JWS has other spellings (whitespace, non-canonical base64, JSON
	// serialization, another ECDSA signature) that must not work again.
	replayKey := c.JTI
	if replayKey == "" {
		replayKey = "sha256:" + grant.Hash(string(payload))
	}
	if err := p.Grants.UseJTI(ctx, tid, client.ClientID, replayKey, time.Unix(c.Exp, 0).Add(assertionSkew)); err != nil {
		if derrors.Is(err, derrors.Conflict) {
			return nil, fail("the assertion was already used (replayed jti)")
		}
		return nil, err
	}
	return &c, nil
}

// clientAssertionFail is the error of private_key_jwt client authentication.
func clientAssertionFail(string) *oauth.Error {
	return oauth.InvalidClient("client authentication failed")
}

// jwtBearer is the JWT bearer grant (RFC 7523 §2.1, R-OID-5): the client
// presents an assertion about a user, signed by one of its keys. The subject
// is the user's ID or the pipe-separated form
// {version}|{identityProviderId}|{username}|... whose third part is the
// username.
func (p *Provider) jwtBearer(ctx context.Context, req *tokenRequest) (*TokenResponse, error) {
	raw := req.Form.Get("assertion")
	if raw == "" {
		return nil, oauth.InvalidRequest("assertion is required")
	}
	c, err := p.verifyAssertion(ctx, req.TenantID, req.Client, raw, false, oauth.InvalidGrant)
	if err != nil {
		return nil, err
	}
	u, err := p.Users.ActiveUser(ctx, req.TenantID, c.Sub)
	if derrors.Is(err, derrors.NotFound) {
		if parts := strings.Split(c.Sub, "|"); len(parts) >= 3 && parts[2] != "" {
			u, err = p.Users.ActiveUserByLogin(ctx, req.TenantID, parts[2])
		}
	}
	if err != nil {
		if derrors.KindOf(err) != derrors.Internal {
			return nil, oauth.InvalidGrant("the assertion's subject is not an active user of this tenant")
		}
		return nil, err
	}
	scope := req.Form.Get("scope")
	if scope == "" {
		scope = c.Scope
	}
	scopes, oe := oauth.SplitScope(scope)
	if oe != nil {
		return nil, oe
	}
	for _, s := range scopes {
		if s == "offline_access" || !slices.Contains(app.StandardScopes, s) && !slices.Contains(req.Client.Scopes, s) {
			return nil, oauth.InvalidScope("scope " + strconvQuote(s) + " is not allowed for this grant")
		}
	}
	f := newFamily(req, u.ID, "", scopes, req.Now)
	resp, _, err := p.userTokens(ctx, req, userGrant{Family: f, User: u})
	if err != nil {
		return nil, err
	}
	if err := p.Grants.CreateFamily(ctx, req.TenantID, f, nil); err != nil {
		return nil, err
	}
	return resp, nil
}
