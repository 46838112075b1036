package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// A browser app (spa) can read the token endpoint's answers from its own
// origin, and only from there; public documents are readable by all.
func TestCORS(t *testing.T) {
	f := newFlow(t, options{})
	spa := f.inst.createApp(t, "acme", "--type", "spa", "--name", "front", "--redirect-uri", "https://app.example.com/cb", "--first-party")
	do := func(method, path, origin string, body url.Values) *http.Response {
		t.Helper()
		var req *http.Request
		if body != nil {
			req, _ = http.NewRequest(method, f.issuer+path, strings.NewReader(body.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req, _ = http.NewRequest(method, f.issuer+path, nil)
		}
		req.Header.Set("Origin", origin)
		if method == "OPTIONS" {
			req.Header.Set("Access-Control-Request-Method", "POST")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := do("GET", "/.well-known/openid-configuration", "https://anything.example", nil); r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("discovery: %v", r.Header)
	}
	if r := do("OPTIONS", "/oauth/token", "https://app.example.com", nil); r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("preflight: %d %v", r.StatusCode, r.Header)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {spa.ClientID}, "code": {"nope"}, "redirect_uri": {"https://app.example.com/cb"}}
	if r := do("POST", "/oauth/token", "https://app.example.com", form); r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("token from the app's origin: %d %v", r.StatusCode, r.Header)
	}
	if r := do("POST", "/oauth/token", "https://evil.example.com", form); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("token from another origin is readable: %v", r.Header)
	}
}

// R-USR-2: unblocking a user lets them sign in again but does not bring back
// what was issued before the block.
func TestUnblockDoesNotReviveGrants(t *testing.T) {
	f := newFlow(t, options{})
	ctx := context.Background()
	web := f.inst.createApp(t, "acme", "--type", "web", "--name", "portal", "--redirect-uri", "https://portal.example.com/cb", "--first-party")
	rs := f.inst.createApp(t, "acme", "--type", "s2s", "--name", "rs")
	cfg := f.oauthConfig(web, "https://portal.example.com/cb", "openid", "offline_access")
	old, _ := f.codeFlow(t, cfg, newBrowser(t), "")
	for _, op := range []string{"block", "unblock"} {
		if r := f.inst.api(t, f.admin, "POST", "/admin/v1/tenants/acme/users/"+f.userID+"/"+op, nil); r.Status != 200 {
			t.Fatalf("%s: %d %s", op, r.Status, r.Raw)
		}
	}
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: old.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("refresh token from before the block: %v", err)
	}
	if in := introspect(t, f, rs, old.AccessToken); in["active"] != false {
		t.Fatalf("access token from before the block: %v", in)
	}
	fresh, _ := f.codeFlow(t, cfg, newBrowser(t), "")
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: fresh.RefreshToken}).Token(); err != nil {
		t.Fatalf("a new sign-in after the unblock: %v", err)
	}
}
