package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// R-CLM-1..3, R-ROL-1, R-APP-10: output-claim settings shape the ID token,
// UserInfo and introspection; a user without a required claim is not sent to
// the app.
func TestOutputClaims(t *testing.T) {
	f := newFlow(t, options{})
	ctx := context.Background()
	const emailURI = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
	r := f.inst.api(t, f.admin, "POST", "/admin/v1/tenants/acme/apps", map[string]any{
		"name": "hr", "type": "web", "first_party": true, "redirect_uris": []string{"https://hr.example.com/cb"},
		"claims": []map[string]any{
			{"name": "email", "available": true, "in_token": true, "map_to": emailURI},
			{"name": "given_name", "available": true},
			{"name": "roles", "available": true, "in_token": true, "required": true},
			{"name": "permissions", "available": true, "in_token": true},
		},
	})
	if r.Status != 201 {
		t.Fatalf("create app: %d %s", r.Status, r.Raw)
	}
	hr := createdApp{ClientID: r.Body["client_id"].(string), ClientSecret: r.Body["client_secret"].(string)}
	rs := f.inst.createApp(t, "acme", "--type", "s2s", "--name", "rs")
	cfg := f.oauthConfig(hr, "https://hr.example.com/cb", "openid", "email")

	// Alice has no role for the app yet: the login ends on a page that names
	// the missing claim, and no code reaches the app (R-CLM-2).
	b := newBrowser(t)
	p := b.follow(cfg.AuthCodeURL("s"), f.inst.URL)
	if p.Status == 200 && strings.HasSuffix(p.URL.Path, "/login") {
		p = b.submitFirst(p, map[string][]string{"username": {"alice"}, "password": {"correct horse battery"}}, f.inst.URL)
	}
	if p.Status != 403 || !strings.Contains(p.Body, "roles") || p.Location != "" {
		t.Fatalf("missing required claim: %d %q %.300s", p.Status, p.Location, p.Body)
	}

	// With a custom "failed" URL the user lands there instead (R-APP-10).
	r = f.inst.api(t, f.admin, "GET", "/admin/v1/tenants/acme/apps/"+hr.ClientID, nil)
	appDoc := r.Body
	appDoc["logon_result_urls"] = map[string]any{"failed": "https://hr.example.com/no-access"}
	for _, k := range []string{"endpoints", "created_at", "updated_at"} {
		delete(appDoc, k)
	}
	if r := f.inst.api(t, f.admin, "PUT", "/admin/v1/tenants/acme/apps/"+hr.ClientID, appDoc); r.Status != 200 {
		t.Fatalf("update: %d %s", r.Status, r.Raw)
	}
	p = b.follow(cfg.AuthCodeURL("s"), f.inst.URL)
	if p.Status != 303 || p.Location != "https://hr.example.com/no-access" {
		t.Fatalf("custom failed URL: %d %q", p.Status, p.Location)
	}

	// A role with a permission of the app: now she gets in.
	if r := f.inst.api(t, f.admin, "POST", "/admin/v1/tenants/acme/apps/"+hr.ClientID+"/permissions", map[string]any{"name": "view_payroll"}); r.Status != 201 {
		t.Fatal(r.Raw)
	}
	if r := f.inst.api(t, f.admin, "POST", "/admin/v1/tenants/acme/roles", map[string]any{"name": "hr_staff", "permissions": []map[string]string{{"client_id": hr.ClientID, "permission": "view_payroll"}}}); r.Status != 201 {
		t.Fatal(r.Raw)
	}
	if r := f.inst.api(t, f.admin, "PUT", "/admin/v1/tenants/acme/users/"+f.userID+"/roles", map[string]any{"roles": []string{"hr_staff"}}); r.Status != 200 {
		t.Fatalf("assign role: %d %s", r.Status, r.Raw)
	}
	q := b.clientRedirect(b.follow(cfg.AuthCodeURL("s"), f.inst.URL), f.inst.URL)
	tok, err := cfg.Exchange(ctx, q.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := f.provider.Verifier(&oidc.Config{ClientID: hr.ClientID}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := idt.Claims(&got); err != nil {
		t.Fatal(err)
	}
	if got[emailURI] != "alice@example.com" || got["email"] != nil || got["given_name"] != nil || !hasString(got["roles"], "hr_staff") || !hasString(got["permissions"], "view_payroll") {
		t.Fatalf("ID token claims: %v", got)
	}
	ui := map[string]any{}
	info, err := f.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	if err := info.Claims(&ui); err != nil || ui[emailURI] != "alice@example.com" || ui["given_name"] != nil {
		t.Fatalf("userinfo (available and in token, R-CLM-3): %v %v", ui, err)
	}
	in := introspect(t, f, rs, tok.AccessToken)
	if in["active"] != true || in["given_name"] != "Alice" || in[emailURI] != "alice@example.com" {
		t.Fatalf("introspection (available claims, R-CLM-3): %v", in)
	}
	// R-PRM-2: deleting the permission revokes the tokens that carry it.
	if r := f.inst.api(t, f.admin, "DELETE", "/admin/v1/tenants/acme/apps/"+hr.ClientID+"/permissions/view_payroll", nil); r.Status != 204 {
		t.Fatal(r.Raw)
	}
	if in := introspect(t, f, rs, tok.AccessToken); in["active"] != false {
		t.Fatalf("a token carrying a deleted permission is still active: %v", in)
	}
}

func hasString(v any, want string) bool {
	list, _ := v.([]any)
	for _, x := range list {
		if x == want {
			return true
		}
	}
	return false
}
