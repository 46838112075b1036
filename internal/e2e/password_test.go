package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// R-OID-6: the password grant, only for apps that enable it, honouring
// blocked users and brute-force protection; x/oauth2 as the client.
func TestPasswordGrant(t *testing.T) {
	f := newFlow(t, options{})
	ctx := context.Background()
	web := f.inst.createApp(t, "acme", "--type", "web", "--name", "legacy", "--redirect-uri", "https://legacy.example.com/cb", "--first-party",
		"--grant-type", "authorization_code", "--grant-type", "refresh_token", "--grant-type", "password")
	// issue 8 §7: a third-party app cannot collect passwords.
	if _, stderr, code := f.inst.cli(t, "app", "create", "--tenant", "acme", "--type", "web", "--name", "partner", "--redirect-uri", "https://partner.example.com/cb",
		"--grant-type", "authorization_code", "--grant-type", "password"); code == 0 || !strings.Contains(stderr, "only for first-party apps") {
		t.Fatalf("third-party app with the password grant: exit %d %s", code, stderr)
	}
	plain := f.inst.createApp(t, "acme", "--type", "web", "--name", "portal", "--redirect-uri", "https://portal.example.com/cb")
	cfg := f.oauthConfig(web, "", "openid", "offline_access")

	tok, err := cfg.PasswordCredentialsToken(ctx, "alice", "correct horse battery")
	if err != nil {
		t.Fatalf("password grant: %v", err)
	}
	idt, err := f.provider.Verifier(&oidc.Config{ClientID: web.ClientID}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil || idt.Subject != f.userID || tok.RefreshToken == "" {
		t.Fatalf("tokens: %v %q", err, tok.RefreshToken)
	}
	// By email too, any case.
	if _, err := cfg.PasswordCredentialsToken(ctx, "ALICE@example.com", "correct horse battery"); err != nil {
		t.Fatalf("by email: %v", err)
	}
	if _, err := f.oauthConfig(plain, "").PasswordCredentialsToken(ctx, "alice", "correct horse battery"); !isOAuthError(err, "unauthorized_client") {
		t.Fatalf("an app without the grant: %v", err)
	}

	// Wrong password and unknown user read the same.
	var descs []string
	for _, u := range []string{"alice", "nobody"} {
		_, err := cfg.PasswordCredentialsToken(ctx, u, "wrong")
		var re *oauth2.RetrieveError
		if !isOAuthError(err, "invalid_grant") || !asRetrieve(err, &re) {
			t.Fatalf("%s: %v", u, err)
		}
		descs = append(descs, re.ErrorDescription)
	}
	if descs[0] != descs[1] {
		t.Fatalf("unknown and known users are told apart: %q vs %q", descs[0], descs[1])
	}
	// Brute force: after a few failures even the right password must wait.
	for i := 0; i < 4; i++ {
		_, _ = cfg.PasswordCredentialsToken(ctx, "alice", "wrong")
	}
	_, err = cfg.PasswordCredentialsToken(ctx, "alice", "correct horse battery")
	var re *oauth2.RetrieveError
	if !asRetrieve(err, &re) || re.ErrorCode != "invalid_grant" || !strings.Contains(re.ErrorDescription, "try again") {
		t.Fatalf("after failures: %v", err)
	}
	// Issue 8 §7: the account waits whichever name it is given.
	for _, name := range []string{"alice@example.com", "ALICE"} {
		if _, err := cfg.PasswordCredentialsToken(ctx, name, "correct horse battery"); !asRetrieve(err, &re) || !strings.Contains(re.ErrorDescription, "try again") {
			t.Fatalf("the account's other name %q passed the delay: %v", name, err)
		}
	}
	// An admin lifts it.
	if r := f.inst.api(t, f.admin, "POST", "/admin/v1/tenants/acme/users/"+f.userID+"/unlock", nil); r.Status != 204 {
		t.Fatalf("unlock: %d %s", r.Status, r.Raw)
	}
	if _, err := cfg.PasswordCredentialsToken(ctx, "alice", "correct horse battery"); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	// A blocked user cannot (R-USR-2).
	if r := f.inst.api(t, f.admin, "POST", "/admin/v1/tenants/acme/users/"+f.userID+"/block", nil); r.Status != 200 {
		t.Fatal(r.Raw)
	}
	if _, err := cfg.PasswordCredentialsToken(ctx, "alice", "correct horse battery"); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("blocked user: %v", err)
	}
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("blocked user's refresh: %v", err)
	}
	if in := introspect(t, f, f.inst.createApp(t, "acme", "--type", "s2s", "--name", "rs"), tok.AccessToken); in["active"] != false {
		t.Fatalf("a blocked user's access token is active for introspection: %v", in)
	}
}

func asRetrieve(err error, re **oauth2.RetrieveError) bool { return errors.As(err, re) }
