package login

import (
	"encoding/base64"
	"net/http"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// DefaultSessionLifetime is how long an SSO session lasts when Pages does
// not say.
const DefaultSessionLifetime = 12 * time.Hour

// errNoSession is the answer of Session when the browser has no valid
// session in the tenant.
var errNoSession = derrors.NotFoundf("no valid session")

// CookieName is the name of the tenant's session cookie: with the __Host-
// prefix (Secure, Path=/, no Domain: only this host can set it) unless the
// public URL is plain http on a host that is not loopback.
func (p *Pages) CookieName(tenantID string) string {
	p.init()
	return p.cookieName(tenantID)
}

func (p *Pages) cookieName(tenantID string) string {
	if p.secure {
		return "__Host-gatehouse-" + tenantID
	}
	return "gatehouse-" + tenantID
}

// validSecret reports whether s has the form of grant.NewSecret: 43
// base64url characters. Anything else is not looked up.
func validSecret(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

// Session returns the browser's current session in the tenant and its user:
// the session cookie names a stored session that has not expired, of a user
// that exists and is not blocked (R-USR-2: blocking ends every session at
// once, and unblocking does not bring them back). Without one the error is a derrors NotFound; other errors are the
// store's.
func (p *Pages) Session(r *http.Request, tenantID string) (*grant.Session, *user.User, error) {
	p.init()
	c, err := r.Cookie(p.cookieName(tenantID))
	if err != nil || !validSecret(c.Value) {
		return nil, nil, errNoSession
	}
	ctx := r.Context()
	s, err := p.Store.GetSession(ctx, tenantID, grant.Hash(c.Value))
	if err != nil {
		if derrors.Is(err, derrors.NotFound) {
			return nil, nil, errNoSession
		}
		return nil, nil, err
	}
	if !p.now().Before(s.ExpiresAt) {
		return nil, nil, errNoSession
	}
	u, err := p.Users.ActiveUser(ctx, tenantID, s.UserID)
	if err != nil {
		if derrors.Is(err, derrors.NotFound) || derrors.Is(err, derrors.Forbidden) {
			return nil, nil, errNoSession
		}
		return nil, nil, err
	}
	// A session from before a block stays ended after an unblock.
	if !u.BlockedAt.IsZero() && !s.CreatedAt.After(u.BlockedAt) {
		return nil, nil, errNoSession
	}
	return s, u, nil
}

// EndSession ends the browser's session in the tenant: it deletes the
// stored session and expires the cookie. It returns the session that ended
// (nil when there was none), so that the caller can tell the apps
// (back-channel logout, R-OID-10).
func (p *Pages) EndSession(w http.ResponseWriter, r *http.Request, tenantID string) (*grant.Session, error) {
	p.init()
	w.Header().Set("Cache-Control", "no-store")
	http.SetCookie(w, p.sessionCookie(tenantID, "", time.Time{}))
	c, err := r.Cookie(p.cookieName(tenantID))
	if err != nil || !validSecret(c.Value) {
		return nil, nil
	}
	ctx := r.Context()
	hash := grant.Hash(c.Value)
	s, err := p.Store.GetSession(ctx, tenantID, hash)
	if err != nil {
		if derrors.Is(err, derrors.NotFound) {
			return nil, nil
		}
		return nil, err
	}
	if err := p.Store.DeleteSession(ctx, tenantID, hash); err != nil {
		return nil, err
	}
	return s, nil
}

// sessionCookie is the session cookie holding secret until expires; an
// empty secret makes a cookie that deletes it.
func (p *Pages) sessionCookie(tenantID, secret string, expires time.Time) *http.Cookie {
	c := &http.Cookie{
		Name: p.cookieName(tenantID), Value: secret, Path: "/",
		Secure: p.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	}
	if secret == "" {
		c.MaxAge = -1
		return c
	}
	c.Expires = expires
	c.MaxAge = max(1, int(expires.Sub(p.now()).Seconds()))
	return c
}

// startSession creates a session of u, replacing the browser's previous one
// in the tenant (a fresh secret on every login: no session fixation).
func (p *Pages) startSession(w http.ResponseWriter, r *http.Request, tenantID string, u *user.User) (*grant.Session, error) {
	ctx := r.Context()
	if c, err := r.Cookie(p.cookieName(tenantID)); err == nil && validSecret(c.Value) {
		if err := p.Store.DeleteSession(ctx, tenantID, grant.Hash(c.Value)); err != nil && !derrors.Is(err, derrors.NotFound) {
			return nil, err
		}
	}
	now := p.now()
	secret := grant.NewSecret()
	s := &grant.Session{
		Hash: grant.Hash(secret), SID: grant.NewOrderedID(), UserID: u.ID,
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(p.sessionLifetime()),
	}
	if err := p.Store.CreateSession(ctx, tenantID, s); err != nil {
		return nil, err
	}
	http.SetCookie(w, p.sessionCookie(tenantID, secret, s.ExpiresAt))
	return s, nil
}

func (p *Pages) sessionLifetime() time.Duration {
	if p.SessionLifetime <= 0 {
		return DefaultSessionLifetime
	}
	return p.SessionLifetime
}
