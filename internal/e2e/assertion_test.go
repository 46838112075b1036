package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2/clientcredentials"
	jwtgrant "golang.org/x/oauth2/jwt"
)

// signAssertion makes a JWT with go-jose, as a client library would.
func signAssertion(t *testing.T, key any, alg jose.SignatureAlgorithm, kid string, claims any) string {
	t.Helper()
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.Signed(sg).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// R-OID-4 private_key_jwt and R-OID-5 JWT bearer, with keys registered per
// app and golang.org/x/oauth2/jwt as the JWT bearer client.
func TestAssertions(t *testing.T) {
	f := newFlow(t, options{})
	ctx := context.Background()
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	jwks := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &ecKey.PublicKey, KeyID: "ec1", Algorithm: "ES256", Use: "sig"},
		{Key: &rsaKey.PublicKey, KeyID: "rsa1", Algorithm: "RS256", Use: "sig"},
	}}
	r := f.inst.api(t, f.admin, "POST", "/admin/v1/tenants/acme/apps", map[string]any{
		"name": "batch", "type": "s2s", "scopes": []string{"reports"}, "jwks": jwks,
		"grant_types": []string{"client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer"},
	})
	if r.Status != 201 {
		t.Fatalf("create app: %d %s", r.Status, r.Raw)
	}
	clientID := r.Body["client_id"].(string)
	tokenURL := f.issuer + "/oauth/token"

	t.Run("private key registered is refused", func(t *testing.T) {
		priv := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: ecKey, KeyID: "x"}}}
		r := f.inst.api(t, f.admin, "POST", "/admin/v1/tenants/acme/apps", map[string]any{"name": "bad", "type": "s2s", "jwks": priv})
		if r.Status != 400 || r.Body["field"] != "jwks" {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
	})

	assertion := func(kid string, key any, alg jose.SignatureAlgorithm, mutate func(*jwt.Claims)) string {
		c := jwt.Claims{Issuer: clientID, Subject: clientID, Audience: jwt.Audience{tokenURL}, ID: oauth2Verifier(),
			Expiry: jwt.NewNumericDate(time.Now().Add(2 * time.Minute)), IssuedAt: jwt.NewNumericDate(time.Now())}
		if mutate != nil {
			mutate(&c)
		}
		return signAssertion(t, key, alg, kid, c)
	}
	ccForm := func(a string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}
	}
	t.Run("private_key_jwt", func(t *testing.T) {
		for _, k := range []struct {
			kid string
			key any
			alg jose.SignatureAlgorithm
		}{{"ec1", ecKey, jose.ES256}, {"rsa1", rsaKey, jose.RS256}} {
			a := assertion(k.kid, k.key, k.alg, nil)
			res := postForm(t, tokenURL, ccForm(a), "", "")
			if res.Status != 200 {
				t.Fatalf("%s: %d %s", k.kid, res.Status, res.Raw)
			}
			// The same assertion again: replayed jti (R-OID-5).
			if res := postForm(t, tokenURL, ccForm(a), "", ""); res.Status != 401 || res.Body["error"] != "invalid_client" {
				t.Fatalf("replay: %d %s", res.Status, res.Raw)
			}
		}
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		for name, a := range map[string]string{
			"unknown key":  assertion("ec1", other, jose.ES256, nil),
			"wrong issuer": assertion("ec1", ecKey, jose.ES256, func(c *jwt.Claims) { c.Issuer = "someone" }),
			"wrong aud":    assertion("ec1", ecKey, jose.ES256, func(c *jwt.Claims) { c.Audience = jwt.Audience{"https://elsewhere"} }),
			"expired":      assertion("ec1", ecKey, jose.ES256, func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(time.Now().Add(-5 * time.Minute)) }),
			"too long":     assertion("ec1", ecKey, jose.ES256, func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(time.Now().Add(3 * time.Hour)) }),
			"no jti":       assertion("ec1", ecKey, jose.ES256, func(c *jwt.Claims) { c.ID = "" }),
			"alg none":     "eyJhbGciOiJub25lIn0.eyJzdWIiOiIiLCJpc3MiOiIifQ.",
		} {
			if res := postForm(t, tokenURL, ccForm(a), "", ""); res.Status != 401 || res.Body["error"] != "invalid_client" {
				t.Errorf("%s: %d %s", name, res.Status, res.Raw)
			}
		}
	})

	t.Run("JWT bearer with x/oauth2/jwt", func(t *testing.T) {
		der, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
		cfg := &jwtgrant.Config{
			Email: clientID, Subject: f.userID, PrivateKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
			PrivateKeyID: "rsa1", TokenURL: tokenURL, Scopes: []string{"openid", "reports"},
		}
		tok, err := cfg.TokenSource(ctx).Token()
		if err != nil {
			t.Fatalf("JWT bearer: %v", err)
		}
		idt, err := f.provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(ctx, tok.Extra("id_token").(string))
		if err != nil || idt.Subject != f.userID {
			t.Fatalf("ID token: %v", err)
		}
		// x/oauth2/jwt sends no jti; within the same second it makes the
		// very same (deterministic RS256) assertion, which is a replay.
		if _, err := cfg.TokenSource(ctx).Token(); !jwtGrantError(err, "invalid_grant") {
			t.Fatalf("identical assertion: %v", err)
		}
		time.Sleep(1100 * time.Millisecond)
		if _, err := cfg.TokenSource(ctx).Token(); err != nil {
			t.Fatalf("a new assertion: %v", err)
		}
		time.Sleep(1100 * time.Millisecond)
		// The seeds' pipe-separated subject names the user by username.
		cfg.Subject = "1|local|alice|x"
		if _, err := cfg.TokenSource(ctx).Token(); err != nil {
			t.Fatalf("pipe subject: %v", err)
		}
		cfg.Subject = "1|local|nobody|x"
		if _, err := cfg.TokenSource(ctx).Token(); !jwtGrantError(err, "invalid_grant") {
			t.Fatalf("unknown user: %v", err)
		}
	})

	t.Run("the app's secret works too", func(t *testing.T) {
		cc := clientcredentials.Config{ClientID: clientID, ClientSecret: r.Body["client_secret"].(string), TokenURL: tokenURL}
		if _, err := cc.Token(ctx); err != nil {
			t.Fatalf("secret: %v", err)
		}
	})
}

// jwtGrantError: x/oauth2/jwt reports the server's error as text.
func jwtGrantError(err error, code string) bool {
	return err != nil && (isOAuthError(err, code) || strings.Contains(err.Error(), `"error":"`+code+`"`))
}

func oauth2Verifier() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
