package oidc

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/keys"
)

// endSession is RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0):
// it ends the tenant's SSO session and returns to a post_logout_redirect_uri
// registered for the app named by client_id or id_token_hint (R-APP-6,
// R-OID-10). An unregistered URI is never followed.
func (p *Provider) endSession(w http.ResponseWriter, r *http.Request) {
	ctx, tid := r.Context(), r.PathValue("tenant")
	params, err := authParams(w, r)
	if err != nil {
		p.authPage(w, r, http.StatusBadRequest, "The sign-out request is malformed.", err.Error())
		return
	}
	clientID := params.Get("client_id")
	if hint := params.Get("id_token_hint"); hint != "" {
		aud, ok := p.idTokenAudience(r, tid, hint)
		if !ok || (clientID != "" && clientID != aud) {
			p.authPage(w, r, http.StatusBadRequest, "The sign-out request cannot be accepted.", "id_token_hint is not an ID token of this tenant for this client.")
			return
		}
		clientID = aud
	}
	target := params.Get("post_logout_redirect_uri")
	var client *app.App
	if clientID != "" {
		if client, err = p.Apps.Store.GetApp(ctx, tid, clientID); err != nil {
			p.authPage(w, r, http.StatusBadRequest, "The sign-out request cannot be accepted.", "client_id is not a registered application of this tenant.")
			return
		}
	}
	if target != "" && (client == nil || !app.MatchRedirectURI(client.PostLogoutRedirectURIs, target, client.Type)) {
		p.authPage(w, r, http.StatusBadRequest, "The sign-out request cannot be accepted.", "post_logout_redirect_uri is not registered for this application.")
		return
	}
	ended, err := p.Sessions.EndSession(w, r, tid)
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	q := url.Values{}
	if s := params.Get("state"); s != "" && len(s) <= maxStateLen {
		q.Set("state", s)
	}
	if ended != nil {
		p.LogoutSession(ctx, tid, ended)
		// The session's SAML apps are told in the browser first; they
		// come back to the target.
		if p.FrontChannelLogout != nil && p.FrontChannelLogout(w, r, tid, ended.SID, withQuery(target, q)) {
			return
		}
	}
	if target == "" {
		p.authPage(w, r, http.StatusOK, "You are signed out.", "You can close this window.")
		return
	}
	p.redirectTo(w, r, target, q)
}

// idTokenAudience verifies an ID token of the tenant (expired ones too: a
// logout often comes after expiry) and returns its audience.
func (p *Provider) idTokenAudience(r *http.Request, tid, token string) (string, bool) {
	ks, err := p.Keys.Get(r.Context(), tid)
	if err != nil {
		return "", false
	}
	payload, err := ks.Verify(token, keys.TypJWT)
	if err != nil {
		return "", false
	}
	var c struct {
		Iss string `json:"iss"`
		Aud string `json:"aud"`
	}
	if json.Unmarshal(payload, &c) != nil || c.Iss != p.issuer(tid) || c.Aud == "" {
		return "", false
	}
	return c.Aud, true
}
