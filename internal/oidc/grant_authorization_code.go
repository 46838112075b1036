package oidc

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/oauth"
)

// authorizationCode is the authorization code grant (RFC 6749 §4.1.3, RFC
// 7636 §4.5, OpenID Connect Core §3.1.3). The pipeline has authenticated the
// client (or identified a public one) and checked it may use this grant.
//
// The code is read, checked and the tokens made first; then one write
// transaction uses the code up and stores the new token family, and only
// its winner answers: a concurrent second use finds the code used.
func (p *Provider) authorizationCode(ctx context.Context, req *tokenRequest) (*TokenResponse, error) {
	code := req.Form.Get("code")
	if code == "" {
		return nil, oauth.InvalidRequest("code is required")
	}
	hash := grant.Hash(code)
	c, err := p.Grants.GetCode(ctx, req.TenantID, hash)
	if derrors.Is(err, derrors.NotFound) {
		return nil, oauth.InvalidGrant("the authorization code is invalid or expired")
	}
	if err != nil {
		return nil, err
	}
	if c.ClientID != req.Client.ClientID {
		// RFC 6749 §4.1.3: the code was issued to another client. Whoever
		// holds a leaked code must not be able to burn it, nor revoke
		// what its own client got with it: refuse it untouched, as if
		// unknown.
		return nil, oauth.InvalidGrant("the authorization code is invalid or expired")
	}
	if !c.UsedAt.IsZero() {
		return nil, p.codeReused(ctx, req, c.FamilyID)
	}
	if !req.Now.Before(c.ExpiresAt) {
		return nil, oauth.InvalidGrant("the authorization code is invalid or expired")
	}
	if c.Revoked {
		// A logout (or a revocation) since the authorization ends it.
		return nil, oauth.InvalidGrant("the authorization was revoked")
	}
	resp, f, r, err := p.codeTokens(ctx, req, c)
	if err != nil {
		// A code its own client presented wrongly is used up all the
		// same: it must not be tried again (RFC 6749 §10.5).
		_, rerr := p.Grants.RedeemCode(ctx, req.TenantID, hash, req.Now, nil, nil)
		if errors.Is(rerr, grant.ErrReused) {
			return nil, p.codeReused(ctx, req, "")
		}
		return nil, err
	}
	first, err := p.Grants.RedeemCode(ctx, req.TenantID, hash, req.Now, f, r)
	switch {
	case errors.Is(err, grant.ErrReused):
		return nil, p.codeReused(ctx, req, first)
	case derrors.Is(err, derrors.NotFound):
		return nil, oauth.InvalidGrant("the authorization code is invalid or expired")
	case err != nil:
		return nil, err
	}
	p.record(req.TenantID, "grant.issued", c.UserID, req.Client.ClientID, "authorization code exchanged")
	return resp, nil
}

// codeReused answers a code used twice: what the first use issued is
// revoked (RFC 6749 §4.1.2, R-OID-2).
func (p *Provider) codeReused(ctx context.Context, req *tokenRequest, familyID string) error {
	if familyID != "" {
		if err := p.Grants.RevokeFamily(ctx, req.TenantID, familyID, req.Now); err != nil {
			return err
		}
	}
	p.record(req.TenantID, "code.reused", "", req.Client.ClientID, "an authorization code used twice: what it issued is revoked")
	return oauth.InvalidGrant("the authorization code was already used")
}

// codeTokens checks the code against the request and mints the tokens, and
// what to store with the redemption: the refresh token, and the family if
// the code has none yet.
func (p *Provider) codeTokens(ctx context.Context, req *tokenRequest, c *grant.Code) (*TokenResponse, *grant.Family, *grant.Refresh, error) {
	// RFC 6749 §4.1.3: for this redirect_uri, exactly (the caller checked
	// the client).
	if req.Form.Get("redirect_uri") != c.RedirectURI {
		return nil, nil, nil, oauth.InvalidGrant("redirect_uri does not match the authorization request")
	}
	verifier := req.Form.Get("code_verifier")
	switch {
	case c.CodeChallenge != "" && !verifyPKCE(c.CodeChallenge, verifier):
		return nil, nil, nil, oauth.InvalidGrant("code_verifier does not match the code_challenge")
	case c.CodeChallenge == "" && verifier != "":
		return nil, nil, nil, oauth.InvalidGrant("code_verifier sent, but the authorization request had no code_challenge")
	}
	u, err := p.Users.ActiveUser(ctx, req.TenantID, c.UserID)
	if err != nil {
		if derrors.KindOf(err) != derrors.Internal {
			return nil, nil, nil, oauth.InvalidGrant("the user cannot sign in")
		}
		return nil, nil, nil, err
	}
	// The family was stored with the code; a code made without one (before
	// they were) gets it now, stored with the redemption.
	f, insert := &grant.Family{
		ID: c.FamilyID, ClientID: c.ClientID, UserID: u.ID, SID: c.SID, Scope: c.Scope, AuthTime: c.AuthTime, CreatedAt: c.CreatedAt,
	}, (*grant.Family)(nil)
	if c.FamilyID == "" {
		f = newFamily(req, u.ID, c.SID, c.Scope, c.AuthTime)
		insert = f
	}
	resp, rt, err := p.userTokens(ctx, req, userGrant{Family: f, User: u, Nonce: c.Nonce, Refresh: refreshAllowed(req.Client, c.Scope)})
	if err != nil {
		return nil, nil, nil, err
	}
	return resp, insert, p.maybeRefresh(req, f, rt), nil
}

// codeFamily is the token family (the grant) a code belongs to, stored with
// the code: it lives as long as the code and then the longest-lived token
// the exchange may issue (R-OID-3; refresh rotations extend it).
func codeFamily(client *app.App, userID, sid string, scope []string, authTime, now time.Time, codeLifetime time.Duration) *grant.Family {
	life := client.AccessTokenLifetime.D()
	if refreshAllowed(client, scope) {
		life = max(life, client.RefreshTokenLifetime.D())
	}
	return &grant.Family{
		ID: grant.NewOrderedID(), ClientID: client.ClientID, UserID: userID, SID: sid, Scope: scope,
		AuthTime: authTime, CreatedAt: now, ExpiresAt: now.Add(codeLifetime + life),
	}
}

// maybeRefresh makes the stored form of a new family's refresh token, if one
// was issued, and lets the family live as long as it.
func (p *Provider) maybeRefresh(req *tokenRequest, f *grant.Family, token string) *grant.Refresh {
	if token == "" {
		return nil
	}
	r := p.newRefresh(req, f.ID, token)
	f.ExpiresAt = r.ExpiresAt
	return r
}

func (p *Provider) newRefresh(req *tokenRequest, familyID, token string) *grant.Refresh {
	return &grant.Refresh{
		Hash: grant.Hash(token), FamilyID: familyID, CreatedAt: req.Now,
		ExpiresAt: req.Now.Add(req.Client.RefreshTokenLifetime.D()),
	}
}

// newFamily starts the token family of a user grant; it lives as long as its
// access token unless a refresh token extends it.
func newFamily(req *tokenRequest, userID, sid string, scope []string, authTime time.Time) *grant.Family {
	return &grant.Family{
		ID: grant.NewOrderedID(), ClientID: req.Client.ClientID, UserID: userID, SID: sid, Scope: scope,
		AuthTime: authTime, CreatedAt: req.Now, ExpiresAt: req.Now.Add(req.Client.AccessTokenLifetime.D()),
	}
}
