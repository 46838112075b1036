package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/oauth"
)

// refreshToken is the refresh token grant (RFC 6749 §6) with rotation
// (R-OID-3): every use returns a new refresh token; using a rotated one
// revokes the whole family, except within the grace window, where a
// concurrent retry gets the very answer the first use got.
func (p *Provider) refreshToken(ctx context.Context, req *tokenRequest) (*TokenResponse, error) {
	rt := req.Form.Get("refresh_token")
	if rt == "" {
		return nil, oauth.InvalidRequest("refresh_token is required")
	}
	hash := grant.Hash(rt)
	old, f, err := p.Grants.GetRefreshFamily(ctx, req.TenantID, hash)
	if derrors.Is(err, derrors.NotFound) {
		return nil, oauth.InvalidGrant("the refresh token is invalid")
	}
	if err != nil {
		return nil, err
	}
	// RFC 6749 §6: the token was issued to this client.
	if f.ClientID != req.Client.ClientID {
		return nil, oauth.InvalidGrant("the refresh token was issued to another client")
	}
	if f.Revoked() {
		return nil, oauth.InvalidGrant("the refresh token was revoked")
	}
	if !old.RotatedAt.IsZero() {
		return p.replay(ctx, req, old, f)
	}
	if !req.Now.Before(old.ExpiresAt) {
		return nil, oauth.InvalidGrant("the refresh token expired")
	}
	// RFC 6749 §6: a narrower scope may be asked for, never a wider one;
	// the family (and the next refresh token) keep the original grant.
	mint := *f
	if s := req.Form.Get("scope"); s != "" {
		scopes, oe := oauth.SplitScope(s)
		if oe != nil {
			return nil, oe
		}
		for _, sc := range scopes {
			if !slices.Contains(f.Scope, sc) {
				return nil, oauth.InvalidScope("scope " + strconvQuote(sc) + " was not granted")
			}
		}
		mint.Scope = scopes
	}
	// R-USR-2: a blocked user's refresh fails from the moment of blocking.
	u, err := p.Users.ActiveUser(ctx, req.TenantID, f.UserID)
	if err != nil {
		if derrors.KindOf(err) != derrors.Internal {
			return nil, oauth.InvalidGrant("the user cannot sign in")
		}
		return nil, err
	}
	if grantedBeforeBlock(f.CreatedAt, u) {
		return nil, oauth.InvalidGrant("the user was blocked after this grant; sign in again")
	}
	resp, next, err := p.userTokens(ctx, req, userGrant{Family: &mint, User: u, Refresh: true})
	if err != nil {
		return nil, err
	}
	// R-APP-7: with the app's refresh lifetime now 0 the old token is
	// rotated out and no new one is handed over.
	if req.Client.RefreshTokenLifetime <= 0 {
		resp.RefreshToken = ""
	}
	sealed, err := p.sealAnswer(req, hash, resp)
	if err != nil {
		return nil, err
	}
	nr := p.newRefresh(req, f.ID, next)
	stored, err := p.Grants.RotateRefresh(ctx, req.TenantID, hash, req.Now, sealed, nr)
	if errors.Is(err, grant.ErrReused) {
		// A concurrent exchange of the same token won the race.
		return p.replay(ctx, req, stored, f)
	}
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// replay answers a second use of a rotated refresh token: the same answer
// within the grace window, else the family is revoked (R-OID-3).
func (p *Provider) replay(ctx context.Context, req *tokenRequest, old *grant.Refresh, f *grant.Family) (*TokenResponse, error) {
	if old.NextSealed != "" && req.Now.Sub(old.RotatedAt) <= p.RefreshGrace {
		b, err := p.Seal.Open(old.NextSealed, answerAAD(req, old.Hash))
		if err == nil {
			var resp TokenResponse
			if err := json.Unmarshal(b, &resp); err == nil {
				return &resp, nil
			}
		}
	}
	if err := p.Grants.RevokeFamily(ctx, req.TenantID, f.ID, req.Now); err != nil {
		return nil, err
	}
	p.record(req.TenantID, "refresh.reused", f.UserID, f.ClientID, "a rotated refresh token used again: the grant is revoked")
	return nil, oauth.InvalidGrant("the refresh token was already used; the session is revoked")
}

func answerAAD(req *tokenRequest, hash string) []byte {
	return []byte("refresh answer\x00" + req.TenantID + "\x00" + hash)
}

func (p *Provider) sealAnswer(req *tokenRequest, hash string, resp *TokenResponse) (string, error) {
	b, err := json.Marshal(resp)
	if err != nil {
		return "", err
	}
	return p.Seal.Seal(b, answerAAD(req, hash))
}
