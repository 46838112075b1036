package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/keys"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// idClaims are the claims of an ID token (OpenID Connect Core §2, §5.1).
type idClaims struct {
	Issuer            string   `json:"iss"`
	Subject           string   `json:"sub"`
	Audience          string   `json:"aud"`
	Expiry            int64    `json:"exp"`
	IssuedAt          int64    `json:"iat"`
	AuthTime          int64    `json:"auth_time"`
	Nonce             string   `json:"nonce,omitempty"`
	SID               string   `json:"sid,omitempty"`
	AZP               string   `json:"azp"`
	AtHash            string   `json:"at_hash,omitempty"`
	Name              string   `json:"name,omitempty"`
	GivenName         string   `json:"given_name,omitempty"`
	FamilyName        string   `json:"family_name,omitempty"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
	Email             string   `json:"email,omitempty"`
	EmailVerified     *bool    `json:"email_verified,omitempty"`
	Groups            []string `json:"groups,omitempty"`
	Roles             []string `json:"roles,omitempty"`
	Permissions       []string `json:"permissions,omitempty"`
}

// userGrant is what a user-flow token response is made from.
type userGrant struct {
	Family  *grant.Family
	User    *user.User
	Nonce   string
	Refresh bool // issue a refresh token
}

// refreshAllowed reports whether a grant with these scopes gets a refresh
// token (R-OID-3, R-APP-7): offline_access, the refresh grant, a lifetime.
func refreshAllowed(c *app.App, scopes []string) bool {
	return slices.Contains(scopes, "offline_access") && c.AllowsGrant(app.GrantRefreshToken) && c.RefreshTokenLifetime > 0
}

// userTokens mints the access token, ID token (with the openid scope) and
// refresh token (plain text; its hash goes to the store) of a user grant.
func (p *Provider) userTokens(ctx context.Context, req *tokenRequest, g userGrant) (*TokenResponse, string, error) {
	f, u := g.Family, g.User
	roles, perms, err := p.Users.Access(ctx, req.TenantID, u.ID, req.Client.ClientID)
	if err != nil {
		return nil, "", err
	}
	aud := req.Client.Audiences
	if len(aud) == 0 {
		aud = []string{req.Issuer}
	}
	scope := strings.Join(f.Scope, " ")
	at, exp, err := p.signAccess(req, &accessClaims{
		Subject: u.ID, Audience: aud, Scope: scope, AuthTime: f.AuthTime.Unix(), SID: f.SID,
		Roles: roles, Permissions: perms, Family: f.ID,
	})
	if err != nil {
		return nil, "", err
	}
	resp := &TokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: exp, Scope: scope}
	if slices.Contains(f.Scope, "openid") {
		c := idClaims{
			Issuer: req.Issuer, Subject: u.ID, Audience: req.Client.ClientID, AZP: req.Client.ClientID,
			IssuedAt: req.Now.Unix(), Expiry: req.Now.Add(req.Client.IDTokenLifetime.D()).Unix(),
			AuthTime: f.AuthTime.Unix(), Nonce: g.Nonce, SID: f.SID, AtHash: atHash(req.Keys.Active().Alg, at),
			Roles: roles, Permissions: perms,
		}
		if slices.Contains(f.Scope, "profile") {
			c.Name = strings.TrimSpace(u.GivenName + " " + u.FamilyName)
			c.GivenName, c.FamilyName, c.PreferredUsername = u.GivenName, u.FamilyName, u.Username
			c.Groups = u.Groups
		}
		if slices.Contains(f.Scope, "email") {
			v := u.EmailVerified
			c.Email, c.EmailVerified = u.Email, &v
		}
		payload, err := json.Marshal(&c)
		if err != nil {
			return nil, "", err
		}
		if resp.IDToken, err = req.Keys.Sign(keys.TypJWT, payload); err != nil {
			return nil, "", err
		}
	}
	var refresh string
	if g.Refresh {
		refresh = grant.NewSecret()
		resp.RefreshToken = refresh
	}
	return resp, refresh, nil
}

// atHash is the at_hash of OpenID Connect Core §3.1.3.6: the left half of the
// hash that the ID token's algorithm uses.
func atHash(alg, accessToken string) string {
	var sum []byte
	if alg == tenant.AlgEdDSA {
		s := sha512.Sum512([]byte(accessToken))
		sum = s[:]
	} else {
		s := sha256.Sum256([]byte(accessToken))
		sum = s[:]
	}
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}
