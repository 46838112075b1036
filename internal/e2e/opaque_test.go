package e2e

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// R-OID-7: opaque access tokens per app: a reference that introspection,
// UserInfo and revocation understand.
func TestOpaqueAccessTokens(t *testing.T) {
	f := newFlow(t, options{})
	ctx := context.Background()
	rs := f.inst.createApp(t, "acme", "--type", "s2s", "--name", "rs")
	web := f.inst.createApp(t, "acme", "--type", "web", "--name", "portal", "--redirect-uri", "https://portal.example.com/cb", "--first-party", "--access-token-format", "opaque")
	cfg := f.oauthConfig(web, "https://portal.example.com/cb", "openid", "email", "offline_access")
	tok, _ := f.codeFlow(t, cfg, newBrowser(t), "")
	if !strings.HasPrefix(tok.AccessToken, "gha_") || strings.Count(tok.AccessToken, ".") != 0 {
		t.Fatalf("not an opaque token: %q", tok.AccessToken)
	}
	if in := introspect(t, f, rs, tok.AccessToken); in["active"] != true || in["sub"] != f.userID || in["client_id"] != web.ClientID {
		t.Fatalf("introspection: %v", in)
	}
	info, err := f.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil || info.Email != "alice@example.com" {
		t.Fatalf("userinfo: %v %v", info, err)
	}
	if r := postForm(t, f.issuer+"/oauth/revoke", url.Values{"token": {tok.AccessToken}}, web.ClientID, web.ClientSecret); r.Status != 200 {
		t.Fatal(r.Raw)
	}
	if in := introspect(t, f, rs, tok.AccessToken); in["active"] != false {
		t.Fatalf("revoked opaque token: %v", in)
	}

	// Client credentials with opaque tokens.
	svc := f.inst.createApp(t, "acme", "--type", "s2s", "--name", "svc", "--scope", "api", "--access-token-format", "opaque")
	cc := clientcredentials.Config{ClientID: svc.ClientID, ClientSecret: svc.ClientSecret, TokenURL: f.issuer + "/oauth/token"}
	ct, err := cc.Token(ctx)
	if err != nil || !strings.HasPrefix(ct.AccessToken, "gha_") {
		t.Fatalf("client credentials: %v %q", err, ct.AccessToken)
	}
	if in := introspect(t, f, rs, ct.AccessToken); in["active"] != true || in["scope"] != "api" {
		t.Fatalf("introspection: %v", in)
	}
	// Another client cannot revoke it; its own client can.
	postForm(t, f.issuer+"/oauth/revoke", url.Values{"token": {ct.AccessToken}}, rs.ClientID, rs.ClientSecret)
	if in := introspect(t, f, rs, ct.AccessToken); in["active"] != true {
		t.Fatal("another client revoked the token")
	}
	postForm(t, f.issuer+"/oauth/revoke", url.Values{"token": {ct.AccessToken}}, svc.ClientID, svc.ClientSecret)
	if in := introspect(t, f, rs, ct.AccessToken); in["active"] != false {
		t.Fatal("revocation by its client failed")
	}
	// A forged reference is simply inactive.
	if in := introspect(t, f, rs, "gha_"+strings.Repeat("A", 43)); in["active"] != false {
		t.Fatal("a forged opaque token is active")
	}
}
