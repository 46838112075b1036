package login

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// Form tokens (double submit with an HMAC): the page carries
// HMAC(key, purpose, tenant, request ID, nonce) in a hidden input, and the
// nonce lives in a short-lived HttpOnly cookie. A forged form cannot know the
// token: it depends on the key and on a cookie other sites cannot read or,
// with the __Host- prefix, set.

const (
	csrfField     = "csrf_token"
	nonceBytes    = 16
	nonceLifetime = 3600 // seconds; renewed by every page that shows a form
)

// formKey derives the HMAC key of form tokens from the configured secret.
func formKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("gatehouse login form token v1"))
	return m.Sum(nil)
}

// formToken is the token of a form of purpose ("login", "consent") for the
// tenant's request (may be empty) and the browser's nonce.
func formToken(key []byte, purpose, tenantID, requestID, nonce string) string {
	m := hmac.New(sha256.New, key)
	for _, s := range []string{purpose, tenantID, requestID, nonce} {
		// Length-prefixed, so that no two tuples give the same input.
		var n [4]byte
		l := len(s)
		n[0], n[1], n[2], n[3] = byte(l>>24), byte(l>>16), byte(l>>8), byte(l)
		m.Write(n[:])
		m.Write([]byte(s))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validToken reports, in constant time for a given length, whether token is
// the token of the form for that nonce. An empty or malformed nonce never
// verifies.
func validToken(key []byte, token, purpose, tenantID, requestID, nonce string) bool {
	if !validNonce(nonce) || len(token) != base64.RawURLEncoding.EncodedLen(sha256.Size) {
		return false
	}
	want := formToken(key, purpose, tenantID, requestID, nonce)
	return hmac.Equal([]byte(token), []byte(want))
}

func newNonce() string {
	b := make([]byte, nonceBytes)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func validNonce(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(nonceBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

// nonce returns the browser's form nonce, setting a new one when it has
// none, and renewing the cookie's lifetime either way.
func (p *Pages) nonce(w http.ResponseWriter, r *http.Request) string {
	name := p.nonceCookieName()
	v := ""
	if c, err := r.Cookie(name); err == nil && validNonce(c.Value) {
		v = c.Value
	} else {
		v = newNonce()
	}
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: v, Path: "/", MaxAge: nonceLifetime,
		Secure: p.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	return v
}

// checkForm verifies the form token of a POST against the nonce cookie.
func (p *Pages) checkForm(r *http.Request, purpose, tenantID, requestID string) bool {
	c, err := r.Cookie(p.nonceCookieName())
	if err != nil {
		return false
	}
	return validToken(p.csrfKey, r.PostForm.Get(csrfField), purpose, tenantID, requestID, c.Value)
}

func (p *Pages) nonceCookieName() string {
	if p.secure {
		return "__Host-gatehouse-csrf"
	}
	return "gatehouse-csrf"
}
