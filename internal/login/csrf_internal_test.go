package login

import (
	"strings"
	"testing"
)

// FuzzFormToken: token verification never panics, and only the token made
// for exactly (purpose, tenant, request, nonce) verifies.
func FuzzFormToken(f *testing.F) {
	key := formKey([]byte("fuzz key"))
	nonce := "AAAAAAAAAAAAAAAAAAAAAA"
	f.Add("login", "acme", "req1", nonce, formToken(key, "login", "acme", "req1", nonce))
	f.Add("consent", "acme", "", nonce, formToken(key, "login", "acme", "", nonce))
	f.Add("login", "acme", "req1", "", "")
	f.Add("login", "ac", "mereq1", nonce, formToken(key, "login", "acme", "req1", nonce))
	f.Add("login", "acme", "req1", nonce+"=", strings.Repeat("A", 43))
	f.Fuzz(func(t *testing.T, purpose, tenantID, requestID, nonce, token string) {
		ok := validToken(key, token, purpose, tenantID, requestID, nonce)
		want := validNonce(nonce) && token == formToken(key, purpose, tenantID, requestID, nonce)
		if ok != want {
			t.Fatalf("validToken(%q, %q, %q, %q, %q) = %v, want %v", token, purpose, tenantID, requestID, nonce, ok, want)
		}
		if validNonce(nonce) {
			good := formToken(key, purpose, tenantID, requestID, nonce)
			if !validToken(key, good, purpose, tenantID, requestID, nonce) {
				t.Fatal("a minted token does not verify")
			}
			if validToken(key, good, purpose, tenantID, requestID+"x", nonce) || validToken(key, good, purpose, tenantID+"x", requestID, nonce) {
				t.Fatal("a token verifies for another request or tenant")
			}
			if validToken(formKey([]byte("other key")), good, purpose, tenantID, requestID, nonce) {
				t.Fatal("a token verifies under another key")
			}
		}
	})
}

func TestSecureContext(t *testing.T) {
	for u, want := range map[string]bool{
		"https://id.example.com":  true,
		"http://localhost:8080":   true,
		"http://LOCALHOST":        true,
		"http://a.localhost":      true,
		"http://127.0.0.1:1":      true,
		"http://127.1.2.3":        true,
		"http://[::1]:8080":       true,
		"http://id.example.com":   false,
		"http://localhost.evil":   false,
		"http://10.0.0.1":         false,
		"ftp://localhost":         false,
		"::not a url":             false,
		"http://127.0.0.1.nip.io": false,
	} {
		if got := secureContext(u); got != want {
			t.Errorf("secureContext(%q) = %v, want %v", u, got, want)
		}
	}
}
