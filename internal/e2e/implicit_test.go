package e2e

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// R-APP-8: the implicit flow exists only for developer-mode apps; tokens
// come back in the fragment, never a refresh token.
func TestImplicitDeveloperMode(t *testing.T) {
	f := newFlow(t, options{})
	ctx := context.Background()
	dev := f.inst.createApp(t, "acme", "--type", "spa", "--name", "playground", "--redirect-uri", "http://localhost:3000/cb",
		"--first-party", "--developer-mode", "--grant-type", "authorization_code", "--grant-type", "implicit")
	prod := f.inst.createApp(t, "acme", "--type", "spa", "--name", "prod", "--redirect-uri", "https://app.example.com/cb", "--first-party")
	b := newBrowser(t)
	authURL := func(clientID, redirect, rt string, extra url.Values) string {
		q := url.Values{"client_id": {clientID}, "redirect_uri": {redirect}, "response_type": {rt}, "scope": {"openid email"}, "state": {"st"}, "nonce": {"n1"}}
		for k, v := range extra {
			q[k] = v
		}
		return f.issuer + "/oauth/authorize?" + q.Encode()
	}
	fragment := func(p page) url.Values {
		t.Helper()
		if p.Status/100 != 3 {
			t.Fatalf("no redirect: %d %.200s", p.Status, p.Body)
		}
		loc, err := url.Parse(p.Location)
		if err != nil || loc.RawQuery != "" {
			t.Fatalf("tokens or errors must not be in the query: %q", p.Location)
		}
		v, err := url.ParseQuery(loc.Fragment)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	// Sign in once (code flow page), then ask for tokens.
	p := b.follow(authURL(dev.ClientID, "http://localhost:3000/cb", "id_token token", nil), f.inst.URL)
	if p.Status == 200 && strings.HasSuffix(p.URL.Path, "/login") {
		p = b.submitFirst(p, url.Values{"username": {"alice"}, "password": {"correct horse battery"}}, f.inst.URL)
	}
	v := fragment(p)
	if v.Get("state") != "st" || v.Get("access_token") == "" || v.Get("id_token") == "" || v.Get("refresh_token") != "" {
		t.Fatalf("implicit response: %v", v)
	}
	idt, err := f.provider.Verifier(&oidc.Config{ClientID: dev.ClientID}).Verify(ctx, v.Get("id_token"))
	if err != nil || idt.Nonce != "n1" {
		t.Fatalf("ID token: %v", err)
	}
	if err := idt.VerifyAccessToken(v.Get("access_token")); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	if info, err := f.provider.UserInfo(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: v.Get("access_token")})); err != nil || info.Subject != f.userID {
		t.Fatalf("userinfo: %v", err)
	}
	// id_token alone: no access token, no at_hash.
	v = fragment(b.follow(authURL(dev.ClientID, "http://localhost:3000/cb", "id_token", nil), f.inst.URL))
	if v.Get("access_token") != "" || v.Get("id_token") == "" {
		t.Fatalf("id_token response: %v", v)
	}
	// An id_token response needs a nonce.
	v = fragment(b.follow(authURL(dev.ClientID, "http://localhost:3000/cb", "id_token", url.Values{"nonce": {""}}), f.inst.URL))
	if v.Get("error") != "invalid_request" {
		t.Fatalf("no nonce: %v", v)
	}
	// Without developer mode: unauthorized_client, in the fragment.
	v = fragment(b.follow(authURL(prod.ClientID, "https://app.example.com/cb", "token", nil), f.inst.URL))
	if v.Get("error") != "unauthorized_client" || v.Get("state") != "st" {
		t.Fatalf("production app: %v", v)
	}
	// Developer mode cannot be set without the flag (R-APP-8).
	_, errs, code := f.inst.cli(t, "app", "create", "--tenant", "acme", "--type", "spa", "--name", "sneaky", "--redirect-uri", "https://x.example.com/cb", "--grant-type", "authorization_code", "--grant-type", "implicit")
	if code == 0 || !strings.Contains(errs, "developer_mode") {
		t.Fatalf("implicit without developer mode: %d %s", code, errs)
	}
}
