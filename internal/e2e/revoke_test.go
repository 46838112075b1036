package e2e

import (
	"context"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse-id/gatehouse/internal/config"
)

// R-OID-1, RFC 7009: a revoked access token is inactive at once, whatever
// grant issued it, as a relying party on golang.org/x/oauth2 and go-oidc
// sees it: introspection answers active=false and UserInfo 401.
func TestRevokedAccessTokens(t *testing.T) {
	f := newFlow(t, options{})
	ctx := context.Background()
	rs := f.inst.createApp(t, "acme", "--type", "s2s", "--name", "rs")

	// Client credentials, JWT access token: no family stands for it.
	svc := f.inst.createApp(t, "acme", "--type", "s2s", "--name", "svc", "--scope", "api")
	cc := clientcredentials.Config{ClientID: svc.ClientID, ClientSecret: svc.ClientSecret, TokenURL: f.issuer + "/oauth/token"}
	keep, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gone, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if in := introspect(t, f, rs, gone.AccessToken); in["active"] != true {
		t.Fatalf("a fresh client-credentials token: %v", in)
	}
	// Only the client the token was issued to may revoke it (§2.1).
	postForm(t, f.issuer+"/oauth/revoke", url.Values{"token": {gone.AccessToken}}, rs.ClientID, rs.ClientSecret)
	if in := introspect(t, f, rs, gone.AccessToken); in["active"] != true {
		t.Fatal("another client revoked the token")
	}
	if r := postForm(t, f.issuer+"/oauth/revoke", url.Values{"token": {gone.AccessToken}, "token_type_hint": {"access_token"}}, svc.ClientID, svc.ClientSecret); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Raw)
	}
	if in := introspect(t, f, rs, gone.AccessToken); in["active"] != false {
		t.Fatalf("a revoked client-credentials JWT is still active: %v", in)
	}
	if in := introspect(t, f, rs, keep.AccessToken); in["active"] != true {
		t.Fatalf("revoking one token revoked its sibling: %v", in)
	}
	// Revoking it again is still 200 (§2.2).
	if r := postForm(t, f.issuer+"/oauth/revoke", url.Values{"token": {gone.AccessToken}}, svc.ClientID, svc.ClientSecret); r.Status != 200 {
		t.Fatalf("second revoke: %d", r.Status)
	}

	// A user's JWT access token: UserInfo through go-oidc fails at once.
	web := f.inst.createApp(t, "acme", "--type", "web", "--name", "portal", "--redirect-uri", "https://portal.example.com/cb", "--first-party")
	tok, _ := f.codeFlow(t, f.oauthConfig(web, "https://portal.example.com/cb", "openid", "email"), newBrowser(t), "")
	if _, err := f.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
		t.Fatalf("userinfo before revocation: %v", err)
	}
	if r := postForm(t, f.issuer+"/oauth/revoke", url.Values{"token": {tok.AccessToken}}, web.ClientID, web.ClientSecret); r.Status != 200 {
		t.Fatalf("revoke: %d", r.Status)
	}
	if info, err := f.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
		t.Fatalf("userinfo answered for a revoked token: %+v", info)
	}
	if in := introspect(t, f, rs, tok.AccessToken); in["active"] != false {
		t.Fatalf("a revoked user token is still active: %v", in)
	}
}

// R-RUN-2, R-OID-1: a client-credentials JWT revoked on one replica is
// refused by the replica that revoked it at once and by the other within
// --revocation-refresh-interval, also after the other restarts.
func TestRevocationAcrossReplicas(t *testing.T) {
	dsn := postgresURL(t)
	key := newMasterKey()
	one := start(t, options{database: dsn, masterKey: key})
	samePublicURL := func(c *config.Config) { c.PublicURL = one.URL }
	two := start(t, options{database: dsn, masterKey: key, dataDir: one.DataDir, mutate: samePublicURL})
	one.createTenant(t, "shared", "ES256")
	svc := one.createApp(t, "shared", "--type", "s2s", "--name", "svc")
	rs := one.createApp(t, "shared", "--type", "s2s", "--name", "rs")
	active := func(inst *instance, tok string) bool {
		t.Helper()
		r := postForm(t, inst.URL+"/t/shared/oauth/introspect", url.Values{"token": {tok}}, rs.ClientID, rs.ClientSecret)
		if r.Status != 200 {
			t.Fatalf("introspect: %d %s", r.Status, r.Raw)
		}
		return r.Body["active"] == true
	}
	tok := tokenFor(t, one.URL+"/t/shared/oauth/token", svc.ClientID, svc.ClientSecret, nil)
	// Replica two has read the revocations before this one.
	if !active(two, tok) || !active(one, tok) {
		t.Fatal("a fresh token is inactive")
	}
	if r := postForm(t, one.URL+"/t/shared/oauth/revoke", url.Values{"token": {tok}}, svc.ClientID, svc.ClientSecret); r.Status != 200 {
		t.Fatalf("revoke: %d", r.Status)
	}
	if active(one, tok) {
		t.Fatal("the replica that revoked the token still finds it active")
	}
	began := time.Now()
	for active(two, tok) {
		// The default interval is 1 s; allow for a slow machine.
		if time.Since(began) > 5*time.Second {
			t.Fatal("the other replica still finds the revoked token active after 5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("revocation seen by the other replica after %v", time.Since(began).Round(time.Millisecond))
	// A replica started after the revocation loads it from the store.
	three := start(t, options{database: dsn, masterKey: key, dataDir: one.DataDir, mutate: samePublicURL})
	if active(three, tok) {
		t.Fatal("a replica started after the revocation finds the token active")
	}
}
