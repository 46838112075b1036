package oidc

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/login"
	"github.com/gatehouse-id/gatehouse/internal/oauth"
)

// Throttle is brute-force protection shared with the login page: every
// replica counts the same failures (the login package's Limiter).
type Throttle interface {
	Check(ctx context.Context, tenantID, login, ip string) (a *login.Attempt, wait time.Duration, locked bool, err error)
}

// password is the resource owner password credentials grant (RFC 6749
// §4.3, R-OID-6), for web apps that enable it. It honours blocked users and
// the brute-force protection of the login page; every failure reads the
// same, whether or not the user exists.
func (p *Provider) password(ctx context.Context, req *tokenRequest) (*TokenResponse, error) {
	if !req.Client.FirstParty {
		// Apps registered before the rule of app.validateGrants: a third
		// party never collects passwords.
		return nil, oauth.UnauthorizedClient("the password grant is allowed only for first-party applications")
	}
	username, pw := req.Form.Get("username"), req.Form.Get("password")
	if username == "" || pw == "" {
		return nil, oauth.InvalidRequest("username and password are required")
	}
	scopes, oe := oauth.SplitScope(req.Form.Get("scope"))
	if oe != nil {
		return nil, oe
	}
	for _, s := range scopes {
		if !slices.Contains(req.Client.Scopes, s) && !slices.Contains([]string{"openid", "profile", "email", "offline_access"}, s) {
			return nil, oauth.InvalidScope("scope " + strconvQuote(s) + " is not allowed for this application")
		}
	}
	attempt, wait, locked, err := p.Throttle.Check(ctx, req.TenantID, username, req.IP)
	if err != nil {
		return nil, err
	}
	defer attempt.Done()
	if locked {
		return nil, oauth.InvalidGrant("too many failed attempts: the account is locked; an administrator can unlock it")
	}
	if wait > 0 {
		secs, unit := int(wait.Seconds()+0.999), "seconds"
		if secs == 1 {
			unit = "second"
		}
		return nil, oauth.InvalidGrant(fmt.Sprintf("too many failed attempts: try again in %d %s", secs, unit))
	}
	u, err := p.Users.Authenticate(ctx, req.TenantID, username, pw)
	if err != nil {
		if ferr := attempt.Fail(ctx); ferr != nil {
			return nil, ferr
		}
		return nil, oauth.InvalidGrant("the username or password is incorrect")
	}
	if err := attempt.Succeed(ctx); err != nil {
		return nil, err
	}
	f := newFamily(req, u.ID, "", scopes, req.Now)
	resp, rt, err := p.userTokens(ctx, req, userGrant{Family: f, User: u, Refresh: refreshAllowed(req.Client, scopes)})
	if err != nil {
		return nil, err
	}
	r := p.maybeRefresh(req, f, rt)
	if err := p.Grants.CreateFamily(ctx, req.TenantID, f, r); err != nil {
		return nil, err
	}
	return resp, nil
}
