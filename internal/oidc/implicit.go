package oidc

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// implicit answers an implicit request (response_type token, id_token or
// both; OpenID Connect Core §3.2) for a developer-mode app (R-APP-8): the
// tokens go in the redirect's fragment, and never a refresh token.
func (p *Provider) implicit(w http.ResponseWriter, r *http.Request, tid string, client *app.App, req *grant.Request, sess *grant.Session, u *user.User) {
	ctx := r.Context()
	ks, err := p.Keys.Get(ctx, tid)
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	now := p.Now()
	treq := &tokenRequest{TenantID: tid, Issuer: p.issuer(tid), Form: url.Values{}, Client: client, Keys: ks, Now: now}
	f := newFamily(treq, u.ID, sess.SID, req.Scope, sess.AuthTime)
	withToken := strings.Contains(req.ResponseType, "token") && req.ResponseType != "id_token"
	resp, _, err := p.userTokens(ctx, treq, userGrant{Family: f, User: u, Nonce: req.Nonce, IDOnly: !withToken})
	if err != nil {
		p.redirectError(w, r, tid, req, authErr("server_error", "the tokens could not be issued"))
		return
	}
	if err := p.Grants.CreateFamily(ctx, tid, f, nil); err != nil {
		p.serverError(w, r, err)
		return
	}
	q := url.Values{"iss": {p.issuer(tid)}}
	if withToken {
		q.Set("access_token", resp.AccessToken)
		q.Set("token_type", "Bearer")
		q.Set("expires_in", strconv.FormatInt(resp.ExpiresIn, 10))
		q.Set("scope", resp.Scope)
	}
	if strings.Contains(req.ResponseType, "id_token") && resp.IDToken != "" {
		q.Set("id_token", resp.IDToken)
	}
	if req.State != "" {
		q.Set("state", req.State)
	}
	p.redirectFragment(w, r, req.RedirectURI, q)
}
