package oidc

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/keys"
)

// backchannelEvent is the events member of a logout token.
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// logoutClaims are a logout token's claims (OpenID Connect Back-Channel
// Logout 1.0 §2.4): never a nonce.
type logoutClaims struct {
	Issuer   string                    `json:"iss"`
	Subject  string                    `json:"sub"`
	Audience string                    `json:"aud"`
	IssuedAt int64                     `json:"iat"`
	Expiry   int64                     `json:"exp"`
	JTI      string                    `json:"jti"`
	SID      string                    `json:"sid"`
	Events   map[string]map[string]any `json:"events"`
}

// LogoutSession revokes the token families made in an ended SSO session and
// tells the apps that registered a back-channel logout URI (R-OID-10). The
// calls run in the background, each bounded by a timeout, so a slow app
// cannot hold the user's logout.
func (p *Provider) LogoutSession(ctx context.Context, tid string, s *grant.Session) {
	fams, err := p.Grants.SessionFamilies(ctx, tid, s.SID)
	if err != nil {
		p.Log.WarnContext(ctx, "logout: cannot list the session's grants", "error", err)
		return
	}
	now := p.Now()
	notified := map[string]bool{}
	for _, f := range fams {
		if err := p.Grants.RevokeFamily(ctx, tid, f.ID, now); err != nil {
			p.Log.WarnContext(ctx, "logout: cannot revoke a grant", "error", err)
		}
		if notified[f.ClientID] {
			continue
		}
		notified[f.ClientID] = true
		a, err := p.Apps.Store.GetApp(ctx, tid, f.ClientID)
		if err != nil || a.BackchannelLogoutURI == "" {
			continue
		}
		ks, err := p.Keys.Get(ctx, tid)
		if err != nil {
			continue
		}
		payload, err := json.Marshal(&logoutClaims{
			Issuer: p.issuer(tid), Subject: s.UserID, Audience: a.ClientID, IssuedAt: now.Unix(), Expiry: now.Add(2 * time.Minute).Unix(),
			JTI: newJTI(), SID: s.SID, Events: map[string]map[string]any{backchannelEvent: {}},
		})
		if err != nil {
			continue
		}
		tok, err := ks.Sign(keys.TypLogout, payload)
		if err != nil {
			continue
		}
		go p.sendLogout(a.BackchannelLogoutURI, a.ClientID, tok)
	}
}

// sendLogout POSTs a logout token (§2.5), once, within 5 seconds.
func (p *Provider) sendLogout(uri, clientID, token string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.outbound().Do(req)
	if err != nil {
		p.Log.Warn("back-channel logout failed", "client_id", clientID, "error", err)
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		p.Log.Warn("back-channel logout refused", "client_id", clientID, "status", resp.StatusCode)
	}
}

func (p *Provider) outbound() *http.Client {
	if p.HTTPClient != nil {
		return p.HTTPClient
	}
	return &http.Client{
		Timeout: 5 * time.Second,
		// §2.5: the RP answers; a redirect is not followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
