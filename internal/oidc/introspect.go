package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/claims"
	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/oauth"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// authenticatedClient parses a form POST and authenticates its client, as
// the token endpoint does; introspection and revocation need it.
func (p *Provider) authenticatedClient(w http.ResponseWriter, r *http.Request) (map[string][]string, *app.App, error) {
	form, oe := oauth.ParseForm(w, r)
	if oe != nil {
		return nil, nil, oe
	}
	auth, oe := oauth.ExtractClient(r, form)
	if oe != nil {
		return nil, nil, oe
	}
	client, err := p.authenticate(r.Context(), r.PathValue("tenant"), auth)
	if err != nil {
		return nil, nil, err
	}
	allowOrigin(w, r, client)
	return form, client, nil
}

func (p *Provider) writeOAuthError(w http.ResponseWriter, r *http.Request, err error) {
	var oe *oauth.Error
	if !errors.As(err, &oe) {
		p.Log.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "error", err)
		oe = failure(err)
	}
	oauth.WriteError(w, oe)
}

// failure is the OAuth error for an unexpected err: 503 when the database
// is unreachable, which a client may retry, else 500.
func failure(err error) *oauth.Error {
	if derrors.Unavailable(err) {
		return oauth.TemporarilyUnavailable()
	}
	return oauth.ServerError()
}

func writeNoStoreJSON(w http.ResponseWriter, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	_ = json.NewEncoder(w).Encode(v)
}

// liveAccess verifies a JWT access token of the tenant (its signature once
// per token and key: verifyCache) and checks, at this moment, that nothing
// revoked it: its app still exists, its family (user grant) is not revoked,
// its user is active (R-USR-2, R-APP-11, R-PRM-2). err is set only when
// the store could not answer (derrors.Unavailable): the caller answers 503
// rather than call a live token dead.
func (p *Provider) liveAccess(ctx context.Context, tid, token string) (_ *accessClaims, _ *app.App, _ *user.User, live bool, err error) {
	now := p.Now().Unix()
	var c *accessClaims
	if strings.HasPrefix(token, OpaquePrefix) {
		payload, err := p.Grants.GetAccessToken(ctx, tid, grant.Hash(token))
		if err != nil {
			return nil, nil, nil, false, unavailable(err)
		}
		c = new(accessClaims)
		if json.Unmarshal(payload, c) != nil {
			return nil, nil, nil, false, nil
		}
	} else {
		// Only the signature may come from the cache: everything below is
		// checked on every request.
		var ok bool
		if c, ok, err = p.verifiedAccess(ctx, tid, token, now); !ok {
			return nil, nil, nil, false, err
		}
	}
	if c.Issuer != p.issuer(tid) || now >= c.Expiry || now < c.NotBef-60 {
		return nil, nil, nil, false, nil
	}
	// GetClient, not GetApp: the token endpoint's lookup, cached where the
	// cache is coherent (SQLite), and the app is all we need of it.
	a, _, err := p.Apps.Store.GetClient(ctx, tid, c.ClientID)
	if err != nil {
		return nil, nil, nil, false, unavailable(err)
	}
	if c.Family == "" {
		// No family stands for the token: a revoked JWT is known by its jti
		// (an opaque one is deleted).
		if !strings.HasPrefix(token, OpaquePrefix) {
			revoked, err := p.revoked(ctx, tid, c.JTI)
			if err != nil || revoked {
				return nil, nil, nil, false, unavailable(err)
			}
		}
		return c, a, nil, true, nil
	}
	f, err := p.Grants.GetFamily(ctx, tid, c.Family)
	if err != nil || f.Revoked() {
		return nil, nil, nil, false, unavailable(err)
	}
	u, err := p.Users.ActiveUser(ctx, tid, c.Subject)
	if err != nil || grantedBeforeBlock(f.CreatedAt, u) {
		return nil, nil, nil, false, unavailable(err)
	}
	// Permissions deleted since issuance revoke the tokens that carry them
	// (R-PRM-2): the token is live only while its permissions still exist.
	if len(c.Permissions) > 0 {
		_, perms, err := p.Users.Access(ctx, tid, u.ID, c.ClientID)
		if err != nil {
			return nil, nil, nil, false, unavailable(err)
		}
		for _, perm := range c.Permissions {
			if !slices.Contains(perms, perm) {
				return nil, nil, nil, false, nil
			}
		}
	}
	return c, a, u, true, nil
}

// unavailable keeps err when the store could not answer, and drops any
// other (a token not found, a user blocked: the token is simply not live).
func unavailable(err error) error {
	if derrors.Unavailable(err) {
		return err
	}
	return nil
}

// introspect is the introspection endpoint (RFC 7662). The caller is an
// authenticated client of the tenant (a resource server).
func (p *Provider) introspect(w http.ResponseWriter, r *http.Request) {
	form, client, err := p.authenticatedClient(w, r)
	if err == nil && !client.Confidential() {
		// RFC 7662 §2.1: the endpoint needs authorization; a public
		// client proves nothing.
		err = oauth.InvalidClient("introspection needs an authenticated (confidential) client")
	}
	if err != nil {
		p.writeOAuthError(w, r, err)
		return
	}
	tok := firstOf(form, "token")
	if tok == "" {
		oauth.WriteError(w, oauth.InvalidRequest("token is required"))
		return
	}
	ctx, tid := r.Context(), r.PathValue("tenant")
	resp := map[string]any{"active": false}
	hint := firstOf(form, "token_type_hint")
	if hint != "refresh_token" && (strings.Count(tok, ".") == 2 || strings.HasPrefix(tok, OpaquePrefix)) {
		c, a, u, ok, err := p.liveAccess(ctx, tid, tok)
		if err != nil {
			p.writeOAuthError(w, r, err)
			return
		}
		if ok {
			resp = map[string]any{
				"active": true, "token_type": "Bearer", "scope": c.Scope, "client_id": c.ClientID, "sub": c.Subject,
				"iss": c.Issuer, "aud": c.Audience, "exp": c.Expiry, "iat": c.IssuedAt, "nbf": c.NotBef, "jti": c.JTI,
			}
			if u != nil {
				// R-CLM-3: active plus the claims available to the app.
				for k, v := range claims.Available(a, claims.Subject{User: u, Roles: c.Roles, Permissions: c.Permissions}, strings.Fields(c.Scope)) {
					if _, taken := resp[k]; !taken {
						resp[k] = v
					}
				}
				resp["username"] = u.Username
				if c.SID != "" {
					resp["sid"] = c.SID
				}
			}
		}
	} else if rt, f, ok := p.liveRefresh(ctx, tid, tok); ok {
		resp = map[string]any{
			"active": true, "token_type": "refresh_token", "scope": strings.Join(f.Scope, " "), "client_id": f.ClientID,
			"sub": f.UserID, "iss": p.issuer(tid), "exp": rt.ExpiresAt.Unix(), "iat": rt.CreatedAt.Unix(),
		}
	}
	writeNoStoreJSON(w, resp)
}

// liveRefresh finds an unrotated, unexpired refresh token of a live family
// whose user is active.
func (p *Provider) liveRefresh(ctx context.Context, tid, token string) (*grant.Refresh, *grant.Family, bool) {
	rt, f, err := p.Grants.GetRefreshFamily(ctx, tid, grant.Hash(token))
	if err != nil || !rt.RotatedAt.IsZero() || !p.Now().Before(rt.ExpiresAt) || f.Revoked() {
		return nil, nil, false
	}
	if u, err := p.Users.ActiveUser(ctx, tid, f.UserID); err != nil || grantedBeforeBlock(f.CreatedAt, u) {
		return nil, nil, false
	}
	return rt, f, true
}

// revoke is the revocation endpoint (RFC 7009): a refresh token or an access
// token of a user grant revokes its whole family; any other access token is
// revoked alone. The answer is 200 whether
// or not the token was known (§2.2).
func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	form, client, err := p.authenticatedClient(w, r)
	if err != nil {
		p.writeOAuthError(w, r, err)
		return
	}
	tok := firstOf(form, "token")
	if tok == "" {
		oauth.WriteError(w, oauth.InvalidRequest("token is required"))
		return
	}
	ctx, tid := r.Context(), r.PathValue("tenant")
	family := ""
	if rt, err := p.Grants.GetRefresh(ctx, tid, grant.Hash(tok)); err == nil {
		family = rt.FamilyID
	} else if !derrors.Is(err, derrors.NotFound) {
		p.writeOAuthError(w, r, err)
		return
	} else if c, _, _, ok, err := p.liveAccess(ctx, tid, tok); err != nil {
		p.writeOAuthError(w, r, err)
		return
	} else if ok {
		family = c.Family
		if family == "" && c.ClientID == client.ClientID {
			// No family stands for the token (client credentials, JWT
			// bearer): an opaque one is deleted, a JWT's jti is kept as
			// revoked until the token expires.
			if err := p.revokeUnfamilied(ctx, tid, tok, c); err != nil {
				p.writeOAuthError(w, r, err)
				return
			}
		}
	}
	if family != "" {
		f, err := p.Grants.GetFamily(ctx, tid, family)
		// §2.1: only the client the token was issued to may revoke it.
		if err == nil && f.ClientID == client.ClientID {
			if err := p.Grants.RevokeFamily(ctx, tid, family, p.Now()); err != nil {
				p.writeOAuthError(w, r, err)
				return
			}
			p.record(tid, "grant.revoked", f.UserID, client.ClientID, "revoked by its client (RFC 7009)")
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// revokeUnfamilied revokes an access token that belongs to no family.
func (p *Provider) revokeUnfamilied(ctx context.Context, tid, tok string, c *accessClaims) error {
	if strings.HasPrefix(tok, OpaquePrefix) {
		return p.Grants.DeleteAccessToken(ctx, tid, grant.Hash(tok))
	}
	if err := p.Grants.RevokeToken(ctx, tid, c.JTI, time.Unix(c.Expiry, 0), p.Now()); err != nil {
		return err
	}
	p.rememberRevoked(tid, c.JTI, c.Expiry)
	return nil
}

// userinfo is the UserInfo endpoint (OpenID Connect Core §5.3): the claims
// the access token's scopes allow (R-CLM-3).
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	tok, ok := oauth.BearerToken(r.Header.Get("Authorization"))
	if !ok || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
		http.Error(w, "a bearer access token is required", http.StatusUnauthorized)
		return
	}
	c, a, u, live, err := p.liveAccess(r.Context(), r.PathValue("tenant"), tok)
	if err != nil {
		p.Log.ErrorContext(r.Context(), "userinfo failed", "error", err)
		http.Error(w, "the server is temporarily unavailable; try again shortly", http.StatusServiceUnavailable)
		return
	}
	if !live || u == nil || !slices.Contains(strings.Fields(c.Scope), "openid") {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse", error="invalid_token"`)
		http.Error(w, "the access token is invalid, expired, revoked or lacks the openid scope", http.StatusUnauthorized)
		return
	}
	allowOrigin(w, r, a)
	subj := claims.Subject{User: u, Roles: c.Roles, Permissions: c.Permissions}
	out := claims.Token(a, subj, strings.Fields(c.Scope))
	out["sub"] = u.ID
	writeNoStoreJSON(w, out)
}

// grantedBeforeBlock reports whether a grant predates the user's last block:
// unblocking a user lets them sign in again, but does not bring back what
// was issued before the block (R-USR-2).
func grantedBeforeBlock(created time.Time, u *user.User) bool {
	return !u.BlockedAt.IsZero() && created.Before(u.BlockedAt)
}

func firstOf(form map[string][]string, k string) string {
	if v := form[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Access is what a live access token of a tenant carries, for the server's
// other features (integration calls): the client, the user (empty for a
// client's own token) and the scopes.
type Access struct {
	ClientID, UserID string
	Scopes           []string
}

// VerifyAccess checks a bearer access token of the tenant as introspection
// does, live at this moment (R-USR-2, R-APP-11). ok is false for a token
// that is not live; err is set only when the store could not answer.
func (p *Provider) VerifyAccess(ctx context.Context, tid, token string) (*Access, bool, error) {
	if token == "" || len(token) > 8192 {
		return nil, false, nil
	}
	c, _, u, ok, err := p.liveAccess(ctx, tid, token)
	if !ok {
		return nil, false, err
	}
	a := &Access{ClientID: c.ClientID, Scopes: strings.Fields(c.Scope)}
	if u != nil {
		a.UserID = u.ID
	}
	return a, true, nil
}
