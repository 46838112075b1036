package oidc

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/oauth"
)

// authorizationCode is the authorization code grant (RFC 6749 §4.1.3, RFC
// 7636 §4.5, OpenID Connect Core §3.1.3). The pipeline has authenticated the
// client (or identified a public one) and checked it may use this grant.
func (p *Provider) authorizationCode(ctx context.Context, req *tokenRequest) (*TokenResponse, error) {
	code := req.Form.Get("code")
	if code == "" {
		return nil, oauth.InvalidRequest("code is required")
	}
	c, err := p.Grants.RedeemCode(ctx, req.TenantID, grant.Hash(code), req.Now)
	if errors.Is(err, grant.ErrReused) {
		// RFC 6749 §4.1.2: a code used twice revokes what the first use
		// issued (R-OID-2).
		if c.FamilyID != "" {
			if rerr := p.Grants.RevokeFamily(ctx, req.TenantID, c.FamilyID, req.Now); rerr != nil {
				return nil, rerr
			}
		}
		return nil, oauth.InvalidGrant("the authorization code was already used")
	}
	if derrors.Is(err, derrors.NotFound) {
		return nil, oauth.InvalidGrant("the authorization code is invalid or expired")
	}
	if err != nil {
		return nil, err
	}
	// RFC 6749 §4.1.3: the code was issued to this client, for this
	// redirect_uri, exactly.
	if c.ClientID != req.Client.ClientID {
		return nil, oauth.InvalidGrant("the authorization code was issued to another client")
	}
	if req.Form.Get("redirect_uri") != c.RedirectURI {
		return nil, oauth.InvalidGrant("redirect_uri does not match the authorization request")
	}
	verifier := req.Form.Get("code_verifier")
	switch {
	case c.CodeChallenge != "" && !verifyPKCE(c.CodeChallenge, verifier):
		return nil, oauth.InvalidGrant("code_verifier does not match the code_challenge")
	case c.CodeChallenge == "" && verifier != "":
		return nil, oauth.InvalidGrant("code_verifier sent, but the authorization request had no code_challenge")
	}
	u, err := p.Users.ActiveUser(ctx, req.TenantID, c.UserID)
	if err != nil {
		if derrors.KindOf(err) != derrors.Internal {
			return nil, oauth.InvalidGrant("the user cannot sign in")
		}
		return nil, err
	}
	refresh := refreshAllowed(req.Client, c.Scope)
	f := newFamily(req, u.ID, c.SID, c.Scope, c.AuthTime)
	resp, rt, err := p.userTokens(ctx, req, userGrant{Family: f, User: u, Nonce: c.Nonce, Refresh: refresh})
	if err != nil {
		return nil, err
	}
	r := p.maybeRefresh(req, f, rt)
	if err := p.Grants.CreateFamily(ctx, req.TenantID, f, r); err != nil {
		return nil, err
	}
	if err := p.Grants.SetCodeFamily(ctx, req.TenantID, c.Hash, f.ID); err != nil {
		return nil, err
	}
	return resp, nil
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
		ID: grant.NewID(), ClientID: req.Client.ClientID, UserID: userID, SID: sid, Scope: scope,
		AuthTime: authTime, CreatedAt: req.Now, ExpiresAt: req.Now.Add(req.Client.AccessTokenLifetime.D()),
	}
}
