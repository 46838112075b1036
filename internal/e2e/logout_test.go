package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// R-OID-10: logout ends the session, revokes what it issued, and calls the
// back-channel logout URIs of the apps signed in with it.
func TestBackchannelLogout(t *testing.T) {
	f := newFlow(t, options{})
	ctx := context.Background()
	tokens := make(chan string, 4)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rp := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		tokens <- r.PostForm.Get("logout_token")
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = rp.Serve(ln) }()
	t.Cleanup(func() { rp.Close() })

	r := f.inst.api(t, f.admin, "POST", "/admin/v1/tenants/acme/apps", map[string]any{
		"name": "portal", "type": "web", "first_party": true, "redirect_uris": []string{"https://portal.example.com/cb"},
		"backchannel_logout_uri": "http://" + ln.Addr().String() + "/logout",
	})
	if r.Status != 201 {
		t.Fatalf("app: %d %s", r.Status, r.Raw)
	}
	web := createdApp{ClientID: r.Body["client_id"].(string), ClientSecret: r.Body["client_secret"].(string)}
	cfg := f.oauthConfig(web, "https://portal.example.com/cb", "openid", "offline_access")
	b := newBrowser(t)
	tok, idt := f.codeFlow(t, cfg, b, "")
	var sid struct {
		SID string `json:"sid"`
	}
	if err := idt.Claims(&sid); err != nil || sid.SID == "" {
		t.Fatalf("ID token without sid: %v", err)
	}
	if p := b.get(f.issuer + "/oauth/logout?client_id=" + web.ClientID); p.Status != 200 {
		t.Fatalf("logout: %d", p.Status)
	}
	var lt string
	select {
	case lt = <-tokens:
	case <-time.After(5 * time.Second):
		t.Fatal("no back-channel logout call")
	}
	// The logout token verifies with the tenant's keys and names the session.
	v := f.provider.Verifier(&oidc.Config{ClientID: web.ClientID})
	lidt, err := v.Verify(ctx, lt)
	if err != nil {
		t.Fatalf("logout token: %v", err)
	}
	var lc struct {
		SID    string         `json:"sid"`
		Events map[string]any `json:"events"`
		Nonce  *string        `json:"nonce"`
	}
	if err := lidt.Claims(&lc); err != nil || lc.SID != sid.SID || lc.Events["http://schemas.openid.net/event/backchannel-logout"] == nil || lc.Nonce != nil {
		t.Fatalf("logout token claims: %+v %v", lc, err)
	}
	// What the session issued is revoked.
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("refresh after logout: %v", err)
	}
}

// R-OID-7: an app with an encryption certificate gets its ID tokens as JWEs
// (RSA-OAEP-256 + A256GCM) around the signed token.
func TestEncryptedIDToken(t *testing.T) {
	f := newFlow(t, options{})
	ctx := context.Background()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "portal"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	r := f.inst.api(t, f.admin, "POST", "/admin/v1/tenants/acme/apps", map[string]any{
		"name": "secretive", "type": "web", "first_party": true, "redirect_uris": []string{"https://portal.example.com/cb"},
		"id_token_encryption_certificate": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
	})
	if r.Status != 201 {
		t.Fatalf("app: %d %s", r.Status, r.Raw)
	}
	web := createdApp{ClientID: r.Body["client_id"].(string), ClientSecret: r.Body["client_secret"].(string)}
	cfg := f.oauthConfig(web, "https://portal.example.com/cb", "openid", "email")
	q := newBrowser(t).login(cfg.AuthCodeURL("s"), f.inst.URL, "alice", "correct horse battery", "")
	tok, err := cfg.Exchange(ctx, q.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	raw := tok.Extra("id_token").(string)
	jwe, err := jose.ParseEncrypted(raw, []jose.KeyAlgorithm{jose.RSA_OAEP_256}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		t.Fatalf("the ID token is not a JWE: %v", err)
	}
	if jwe.Header.ExtraHeaders["cty"] != "JWT" {
		t.Errorf("cty = %v, want JWT", jwe.Header.ExtraHeaders["cty"])
	}
	inner, err := jwe.Decrypt(key)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := f.provider.Verifier(&oidc.Config{ClientID: web.ClientID}).Verify(ctx, string(inner))
	if err != nil || idt.Subject != f.userID {
		t.Fatalf("inner ID token: %v", err)
	}
	// A certificate without an RSA key is refused, naming the field.
	r = f.inst.api(t, f.admin, "POST", "/admin/v1/tenants/acme/apps", map[string]any{
		"name": "bad", "type": "web", "redirect_uris": []string{"https://x.example.com/cb"}, "id_token_encryption_certificate": "nope",
	})
	if r.Status != 400 || r.Body["field"] != "id_token_encryption_certificate" {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
}
