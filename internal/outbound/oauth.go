package outbound

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/sync/singleflight"

	"github.com/gatehouse-id/gatehouse/internal/integration"
)

// tokens caches the service accounts' OAuth access tokens in this process,
// by integration version, refreshed 30 s before they expire.
type tokens struct {
	mu     sync.Mutex
	byKey  map[string]*oauth2.Token
	flight singleflight.Group
}

// oauthHints say in plain words what to check for each RFC 6749 §5.2 error
// of the upstream's authorization server (R-INT-6, seed 000).
var oauthHints = map[string]string{
	"invalid_request":        "the token request is missing a parameter or has one the server does not support: check the grant type and the extra token parameters",
	"invalid_client":         "the client was not recognised: check the client ID and secret, and how the server wants them sent",
	"invalid_grant":          "the grant was refused: check the username and password, or sign in with the service account again (the refresh token may be expired or revoked)",
	"unauthorized_client":    "this client may not use this grant type at the server: allow it there, or choose another grant type",
	"unsupported_grant_type": "the server does not support this grant type: choose one it supports",
	"invalid_scope":          "the scope is unknown to the server or more than the client may have: check the scope",
}

// oauthToken is an access token of the integration's service account.
func (s *Service) oauthToken(ctx context.Context, ig *integration.Integration) (string, *problem) {
	a := ig.ServiceAuth
	if a.GrantType == integration.GrantAuthorizationCode {
		return "", &problem{Status: http.StatusNotImplemented, Error: "not_implemented",
			Detail: "the authorization code grant needs the service account's sign-in, which is not available yet; use client_credentials or password"}
	}
	key := ig.TenantID + "\x00" + ig.Name + "\x00" + ig.UpdatedAt.String()
	s.tokens.mu.Lock()
	if s.tokens.byKey == nil {
		s.tokens.byKey = map[string]*oauth2.Token{}
	}
	tok := s.tokens.byKey[key]
	s.tokens.mu.Unlock()
	if tok != nil && (tok.Expiry.IsZero() || time.Until(tok.Expiry) > 30*time.Second) {
		return tok.AccessToken, nil
	}
	v, err, _ := s.tokens.flight.Do(key, func() (any, error) {
		hc := &http.Client{Transport: s.verified, Timeout: 30 * time.Second}
		if ig.OnPremises && ig.AcceptUnverifiedTLS {
			hc.Transport = s.unverified
		}
		tctx := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, hc)
		var scopes []string
		if a.Scope != "" {
			scopes = strings.Fields(a.Scope)
		}
		var t *oauth2.Token
		var err error
		switch a.GrantType {
		case integration.GrantClientCredentials:
			cc := clientcredentials.Config{ClientID: a.ClientID, ClientSecret: a.ClientSecret, TokenURL: a.TokenURL, Scopes: scopes, EndpointParams: params(a.TokenParams)}
			t, err = cc.Token(tctx)
		case integration.GrantPassword:
			c := oauth2.Config{ClientID: a.ClientID, ClientSecret: a.ClientSecret, Endpoint: oauth2.Endpoint{TokenURL: a.TokenURL}, Scopes: scopes}
			t, err = c.PasswordCredentialsToken(tctx, a.Username, a.Password)
		}
		if err != nil {
			return nil, err
		}
		s.tokens.mu.Lock()
		for k := range s.tokens.byKey {
			if strings.HasPrefix(k, ig.TenantID+"\x00"+ig.Name+"\x00") {
				delete(s.tokens.byKey, k)
			}
		}
		s.tokens.byKey[key] = t
		s.tokens.mu.Unlock()
		return t, nil
	})
	if err != nil {
		return "", oauthProblem(err)
	}
	return v.(*oauth2.Token).AccessToken, nil
}

// oauthProblem reports a failed token request with the RFC 6749 code and a
// hint (R-INT-6).
func oauthProblem(err error) *problem {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode != "" {
		hint := oauthHints[re.ErrorCode]
		if hint == "" {
			hint = "the authorization server refused the token request"
		}
		return &problem{Status: http.StatusBadGateway, Error: re.ErrorCode, Detail: "the integration's authorization server said: " + re.ErrorCode + " " + re.ErrorDescription, Hint: hint}
	}
	return &problem{Status: http.StatusBadGateway, Error: "upstream_oauth_failed", Detail: "no access token from the integration's authorization server",
		Hint: "check the token URL and that the server answers OAuth 2.0 token requests; " + hintOf(err)}
}

func params(m map[string]string) map[string][]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = []string{v}
	}
	return out
}
