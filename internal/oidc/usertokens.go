package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/claims"
	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/keys"
	"github.com/gatehouse-id/gatehouse/internal/oauth"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// idClaims are the fixed claims of an ID token (OpenID Connect Core §2);
// the user's claims come from the app's output-claim settings (R-CLM-1).
type idClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	Expiry   int64  `json:"exp"`
	IssuedAt int64  `json:"iat"`
	AuthTime int64  `json:"auth_time"`
	Nonce    string `json:"nonce,omitempty"`
	SID      string `json:"sid,omitempty"`
	AZP      string `json:"azp"`
	AtHash   string `json:"at_hash,omitempty"`
}

// withClaims marshals fixed claims with the user's claims added.
func withClaims(fixed any, extra map[string]any) ([]byte, error) {
	b, err := json.Marshal(fixed)
	if err != nil || len(extra) == 0 {
		return b, err
	}
	m := map[string]any{}
	for k, v := range extra {
		m[k] = v
	}
	// The fixed claims win: settings cannot rename onto them.
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

// subject loads what an app may learn of a user: their roles and
// permissions for the app (R-ROL-1).
func (p *Provider) subject(ctx context.Context, tid, clientID string, u *user.User) (claims.Subject, error) {
	roles, perms, err := p.Users.Access(ctx, tid, u.ID, clientID)
	return claims.Subject{User: u, Roles: roles, Permissions: perms}, err
}

// userGrant is what a user-flow token response is made from.
type userGrant struct {
	Family  *grant.Family
	User    *user.User
	Nonce   string
	Refresh bool // issue a refresh token
	// IDOnly issues the ID token alone (implicit response_type=id_token):
	// no access token, so no at_hash.
	IDOnly bool
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
	subj, err := p.subject(ctx, req.TenantID, req.Client.ClientID, u)
	if err != nil {
		return nil, "", err
	}
	if missing := claims.Missing(req.Client, subj); missing != "" {
		return nil, "", oauth.InvalidGrant("the user lacks the claim " + strconvQuote(missing) + " this application requires")
	}
	aud := req.Client.Audiences
	if len(aud) == 0 {
		aud = []string{req.Issuer}
	}
	scope := strings.Join(f.Scope, " ")
	avail := claims.Available(req.Client, subj, f.Scope)
	ac := &accessClaims{Subject: u.ID, Audience: aud, Scope: scope, AuthTime: f.AuthTime.Unix(), SID: f.SID, Family: f.ID}
	if _, ok := avail[outputName(req.Client, "roles")]; ok {
		ac.Roles = subj.Roles
	}
	if _, ok := avail[outputName(req.Client, "permissions")]; ok {
		ac.Permissions = subj.Permissions
	}
	resp := &TokenResponse{TokenType: "Bearer", Scope: scope}
	if !g.IDOnly {
		if resp.AccessToken, resp.ExpiresIn, err = p.signAccess(ctx, req, ac); err != nil {
			return nil, "", err
		}
	}
	if slices.Contains(f.Scope, "openid") {
		c := idClaims{
			Issuer: req.Issuer, Subject: u.ID, Audience: req.Client.ClientID, AZP: req.Client.ClientID,
			IssuedAt: req.Now.Unix(), Expiry: req.Now.Add(req.Client.IDTokenLifetime.D()).Unix(),
			AuthTime: f.AuthTime.Unix(), Nonce: g.Nonce, SID: f.SID,
		}
		if resp.AccessToken != "" {
			c.AtHash = atHash(req.Keys.Active().Alg, resp.AccessToken)
		}
		payload, err := withClaims(&c, claims.Token(req.Client, subj, f.Scope))
		if err != nil {
			return nil, "", err
		}
		if resp.IDToken, err = req.Keys.Sign(keys.TypJWT, payload); err != nil {
			return nil, "", err
		}
		if req.Client.IDTokenEncryptionCert != "" {
			if resp.IDToken, err = encryptIDToken(req.Client.IDTokenEncryptionCert, resp.IDToken); err != nil {
				return nil, "", err
			}
		}
	}
	var refresh string
	if g.Refresh {
		refresh = grant.NewOrderedSecret()
		resp.RefreshToken = refresh
	}
	return resp, refresh, nil
}

// outputName is the name a standard claim goes out under for an app.
func outputName(a *app.App, name string) string {
	for _, c := range a.Claims {
		if c.Name == name {
			return c.OutputName()
		}
	}
	return name
}

// encryptIDToken nests a signed ID token in a JWE for the app's certificate
// (R-OID-7; OpenID Connect Core §10.2: signed, then encrypted; cty JWT).
func encryptIDToken(certPEM, signed string) (string, error) {
	pub, err := app.EncryptionKey(certPEM)
	if err != nil {
		return "", err
	}
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.RSA_OAEP_256, Key: pub},
		(&jose.EncrypterOptions{}).WithContentType("JWT").WithType("JWT"))
	if err != nil {
		return "", err
	}
	obj, err := enc.Encrypt([]byte(signed))
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
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
