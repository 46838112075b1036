package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
)

type consentList struct {
	Items []struct {
		ClientID  string   `json:"client_id"`
		AppName   string   `json:"app_name"`
		Scopes    []string `json:"scopes"`
		GrantedAt string   `json:"granted_at"`
	} `json:"items"`
}

// authorizeOutcome signs in through the login page if it is shown and
// reports where the authorization request ends: "consent page", "code", or
// the error the client gets.
func authorizeOutcome(t *testing.T, f *flowFixture, b *browser, authURL string) string {
	t.Helper()
	p := b.follow(authURL, f.inst.URL)
	if p.Status == http.StatusOK && strings.HasSuffix(p.URL.Path, "/login") {
		p = b.submitFirst(p, url.Values{"username": {"alice"}, "password": {"correct horse battery"}}, f.inst.URL)
	}
	if p.Status == http.StatusOK && strings.HasSuffix(p.URL.Path, "/consent") {
		return "consent page"
	}
	q := b.clientRedirect(p, f.inst.URL)
	if q.Get("code") != "" {
		return "code"
	}
	return q.Get("error")
}

// TestConsentRevoke (R-OID-9, R-ADM-1, R-ADM-2): alice consents to a
// third-party app; an admin lists the consent with the CLI and the API and
// revokes it; the app's refresh token, access token and unexchanged grants
// stop working at once, and alice's next sign-in to the app asks again.
func TestConsentRevoke(t *testing.T) {
	f := newFlow(t, options{})
	ctx := context.Background()
	web := f.inst.createApp(t, "acme", "--type", "web", "--name", "portal", "--redirect-uri", "https://portal.example.com/cb")
	api := f.inst.createApp(t, "acme", "--type", "s2s", "--name", "api")
	cfg := f.oauthConfig(web, "https://portal.example.com/cb", "openid", "profile", "offline_access")
	b := newBrowser(t)
	tok, _ := f.codeFlow(t, cfg, b, "allow")

	var listed consentList
	f.inst.cliJSON(t, &listed, "user", "consents", "list", "--tenant", "acme", f.userID)
	if len(listed.Items) != 1 {
		t.Fatalf("gatehouse user consents list: %+v, want one consent", listed)
	}
	got := listed.Items[0]
	if got.ClientID != web.ClientID || got.AppName != "portal" || got.GrantedAt == "" {
		t.Errorf("consent listed: %+v, want portal's", got)
	}
	if diff := cmp.Diff([]string{"openid", "profile", "offline_access"}, got.Scopes); diff != "" {
		t.Errorf("scopes listed (-want +got):\n%s", diff)
	}
	out, errs, code := f.inst.cli(t, "user", "consents", "list", "--tenant", "acme", f.userID)
	if code != 0 || !strings.Contains(out, "CLIENT_ID") || !strings.Contains(out, web.ClientID) || !strings.Contains(out, "portal") || !strings.Contains(out, "openid,profile,offline_access") {
		t.Errorf("gatehouse user consents list (text): exit %d\n%s%s", code, out, errs)
	}
	r := f.inst.api(t, f.admin, "GET", "/admin/v1/tenants/acme/users/"+f.userID+"/consents", nil)
	if items, _ := r.Body["items"].([]any); r.Status != 200 || len(items) != 1 {
		t.Fatalf("GET consents: %d %s", r.Status, r.Raw)
	}

	// Another tenant sees neither alice nor her consents.
	f.inst.createTenant(t, "globex", "")
	for _, method := range []string{"GET", "DELETE"} {
		path := "/admin/v1/tenants/globex/users/" + f.userID + "/consents"
		if method == "DELETE" {
			path += "/" + web.ClientID
		}
		if r := f.inst.api(t, f.admin, method, path, nil); r.Status != 404 {
			t.Errorf("%s %s: %d %s, want 404", method, path, r.Status, r.Raw)
		}
	}

	// Before the revocation the tokens work.
	if in := introspect(t, f, api, tok.AccessToken); in["active"] != true {
		t.Fatalf("introspection before the revocation: %v", in)
	}
	// A second sign-in in the same session (no consent page) gets a code
	// that is not yet exchanged when the consent goes.
	verifier := oauth2.GenerateVerifier()
	q := b.login(cfg.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier)), f.inst.URL, "alice", "correct horse battery", "")

	out, errs, code = f.inst.cli(t, "user", "consents", "revoke", "--tenant", "acme", f.userID, web.ClientID)
	if code != 0 || !strings.Contains(out, "consent of user "+f.userID+" to app "+web.ClientID+" revoked, with 2 grants") {
		t.Fatalf("gatehouse user consents revoke: exit %d\n%s%s", code, out, errs)
	}

	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
		t.Errorf("refresh after the consent was revoked: %v, want invalid_grant", err)
	}
	if in := introspect(t, f, api, tok.AccessToken); in["active"] != false {
		t.Errorf("access token after the consent was revoked: %v, want inactive", in)
	}
	if _, err := f.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
		t.Error("UserInfo accepted an access token whose consent was revoked")
	}
	if _, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_grant") {
		t.Errorf("exchange of a code issued before the revocation: %v, want invalid_grant", err)
	}

	listed = consentList{}
	f.inst.cliJSON(t, &listed, "user", "consents", "list", "--tenant", "acme", f.userID)
	if len(listed.Items) != 0 {
		t.Errorf("consents after the revocation: %+v, want none", listed)
	}
	// The SSO session lives on, but the app must ask again.
	if got := authorizeOutcome(t, f, b, cfg.AuthCodeURL("s3", oauth2.SetAuthURLParam("prompt", "none"))); got != "consent_required" {
		t.Errorf("prompt=none after the revocation: %s, want consent_required", got)
	}
	if got := authorizeOutcome(t, f, b, cfg.AuthCodeURL("s4")); got != "consent page" {
		t.Errorf("sign-in after the revocation: %s, want the consent page", got)
	}

	r = f.inst.api(t, f.admin, "DELETE", "/admin/v1/tenants/acme/users/"+f.userID+"/consents/"+web.ClientID, nil)
	if r.Status != 404 {
		t.Errorf("revoking a consent already revoked: %d %s, want 404", r.Status, r.Raw)
	}
	_, errs, code = f.inst.cli(t, "user", "consents", "revoke", "--tenant", "acme", f.userID, web.ClientID)
	if code == 0 || !strings.Contains(errs, "has no consent") {
		t.Errorf("gatehouse user consents revoke, again: exit %d, stderr %q", code, errs)
	}
}

// TestConsentPolicySession (R-OID-9, R-OID-10): with `gatehouse tenant
// update --consent-policy session` a consent holds in the SSO session it was
// given in, and a new session asks again; back on remember it holds in every
// session.
func TestConsentPolicySession(t *testing.T) {
	f := newFlow(t, options{})
	web := f.inst.createApp(t, "acme", "--type", "web", "--name", "portal", "--redirect-uri", "https://portal.example.com/cb")
	cfg := f.oauthConfig(web, "https://portal.example.com/cb", "openid")
	policy := func(p string) {
		t.Helper()
		var out struct {
			ConsentPolicy string `json:"consent_policy"`
		}
		f.inst.cliJSON(t, &out, "tenant", "update", "acme", "--consent-policy", p)
		if out.ConsentPolicy != p {
			t.Fatalf("tenant update --consent-policy %s: consent_policy %q", p, out.ConsentPolicy)
		}
	}

	r := f.inst.api(t, f.admin, "GET", "/admin/v1/tenants/acme", nil)
	if r.Body["consent_policy"] != "remember" {
		t.Errorf("a new tenant's consent_policy: %v, want remember", r.Body["consent_policy"])
	}
	policy("session")
	out, _, _ := f.inst.cli(t, "tenant", "get", "acme")
	if !strings.Contains(out, "consent_policy:") || !strings.Contains(out, "session") {
		t.Errorf("gatehouse tenant get: %q, want the consent policy", out)
	}
	_, errs, code := f.inst.cli(t, "tenant", "update", "acme", "--consent-policy", "never")
	if code == 0 || !strings.Contains(errs, "consent_policy") {
		t.Errorf("tenant update --consent-policy never: exit %d, stderr %q", code, errs)
	}

	first := newBrowser(t)
	f.codeFlow(t, cfg, first, "allow")
	// The same session: no consent page, prompt=none gets a code.
	f.codeFlow(t, cfg, first, "")
	if got := authorizeOutcome(t, f, first, cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none"))); got != "code" {
		t.Errorf("same session, prompt=none: %s, want a code", got)
	}

	// A new SSO session (another browser) asks again.
	second := newBrowser(t)
	if got := authorizeOutcome(t, f, second, cfg.AuthCodeURL("s")); got != "consent page" {
		t.Errorf("new session: %s, want the consent page", got)
	}
	if got := authorizeOutcome(t, f, second, cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none"))); got != "consent_required" {
		t.Errorf("new session, prompt=none: %s, want consent_required", got)
	}
	f.codeFlow(t, cfg, second, "allow")
	f.codeFlow(t, cfg, second, "")

	// Back on remember, a third session is not asked.
	policy("remember")
	f.codeFlow(t, cfg, newBrowser(t), "")
}
