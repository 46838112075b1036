package oidc

import (
	"context"
	"slices"

	"github.com/gatehouse-id/gatehouse/internal/oauth"
)

// clientCredentials is the client credentials grant (RFC 6749 §4.4). Only
// confidential clients may use it (§4.4: "MUST only be used by confidential
// clients"); the pipeline has authenticated the client and checked the grant
// is allowed for its type (R-APP-8). A JWT access token is not stored: its
// signature and expiry are its state.
func (p *Provider) clientCredentials(ctx context.Context, req *tokenRequest) (*TokenResponse, error) {
	if req.Auth.Method == oauth.AuthNone {
		return nil, oauth.UnauthorizedClient("client_credentials requires an authenticated client")
	}
	scopes, oe := oauth.SplitScope(req.Form.Get("scope"))
	if oe != nil {
		return nil, oe
	}
	if len(scopes) == 0 {
		// RFC 6749 §3.3: absent scope gets the pre-defined default, here
		// every scope the app may request.
		scopes = req.Client.Scopes
	}
	for _, s := range scopes {
		if !slices.Contains(req.Client.Scopes, s) {
			return nil, oauth.InvalidScope("scope " + strconvQuote(s) + " is not allowed for this application")
		}
	}
	aud, err := audience(req)
	if err != nil {
		return nil, err
	}
	return p.issueAccessToken(ctx, req, req.Client.ClientID, aud, scopes)
}
