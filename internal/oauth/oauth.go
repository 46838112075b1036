// Package oauth holds RFC 6749 primitives shared by the protocol endpoints:
// the protocol Error and its codes (§5.2), form parsing with the rules of §3.2,
// and client-credential extraction (§2.3.1).
package oauth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Error codes of RFC 6749 §5.2 and §4.1.2.1.
const (
	CodeInvalidRequest       = "invalid_request"
	CodeInvalidClient        = "invalid_client"
	CodeInvalidGrant         = "invalid_grant"
	CodeUnauthorizedClient   = "unauthorized_client"
	CodeUnsupportedGrantType = "unsupported_grant_type"
	CodeInvalidScope         = "invalid_scope"
	CodeServerError          = "server_error"
	// CodeTemporarilyUnavailable is §4.1.2.1's code, also used with 503 at
	// the other endpoints when the database cannot be reached.
	CodeTemporarilyUnavailable = "temporarily_unavailable"
)

// Error is an OAuth 2.0 error response. Description is shown to the client,
// so it never carries internal details.
type Error struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	Status      int    `json:"-"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

func newErr(code string, status int, desc string) *Error {
	return &Error{Code: code, Description: desc, Status: status}
}

// InvalidRequest: a missing, repeated or malformed parameter.
func InvalidRequest(desc string) *Error { return newErr(CodeInvalidRequest, 400, desc) }

// InvalidClient: client authentication failed (RFC 6749 §5.2: 401 with
// WWW-Authenticate).
func InvalidClient(desc string) *Error { return newErr(CodeInvalidClient, 401, desc) }

// InvalidGrant: the grant or refresh token is invalid, expired or revoked.
func InvalidGrant(desc string) *Error { return newErr(CodeInvalidGrant, 400, desc) }

// UnauthorizedClient: the client may not use this grant type.
func UnauthorizedClient(desc string) *Error { return newErr(CodeUnauthorizedClient, 400, desc) }

// UnsupportedGrantType: the server does not support the grant type.
func UnsupportedGrantType(desc string) *Error { return newErr(CodeUnsupportedGrantType, 400, desc) }

// InvalidScope: the requested scope is invalid, unknown or not allowed.
func InvalidScope(desc string) *Error { return newErr(CodeInvalidScope, 400, desc) }

// ServerError: an unexpected failure; the cause is logged, never sent.
func ServerError() *Error {
	return newErr(CodeServerError, 500, "the server could not complete the request")
}

// TemporarilyUnavailable: the server cannot answer now (its database is
// unreachable); the client may retry (503, with Retry-After).
func TemporarilyUnavailable() *Error {
	return newErr(CodeTemporarilyUnavailable, 503, "the server is temporarily unavailable; try again shortly")
}

// WriteError writes e as the JSON error response of RFC 6749 §5.2.
func WriteError(w http.ResponseWriter, e *Error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if e.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Basic realm="gatehouse", error="invalid_client"`)
	}
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(e)
}

// MaxFormBytes bounds a token, introspection or revocation request body.
const MaxFormBytes = 64 << 10

// ParseForm reads an application/x-www-form-urlencoded POST body of at most
// MaxFormBytes and refuses a parameter sent more than once (RFC 6749 §3.2).
// Query parameters are ignored: credentials belong in the body.
func ParseForm(w http.ResponseWriter, r *http.Request) (url.Values, *Error) {
	if r.Method != http.MethodPost {
		return nil, InvalidRequest("the request must use POST")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, InvalidRequest("the body must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxFormBytes))
	if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
		// 413, as the login page and the admin API answer an oversized body.
		e := InvalidRequest("the body is larger than " + strconv.Itoa(MaxFormBytes) + " bytes")
		e.Status = http.StatusRequestEntityTooLarge
		return nil, e
	}
	if err != nil {
		return nil, InvalidRequest("the body could not be read")
	}
	return ParseFormBody(string(body))
}

// ParseFormBody parses an urlencoded body with the rules of ParseForm.
func ParseFormBody(body string) (url.Values, *Error) {
	form, err := url.ParseQuery(body)
	if err != nil {
		return nil, InvalidRequest("the body is not valid application/x-www-form-urlencoded")
	}
	for k, v := range form {
		if len(v) > 1 {
			return nil, InvalidRequest("parameter '" + descriptionSafe(k) + "' is repeated")
		}
	}
	return form, nil
}

// descriptionSafe cuts s to 64 bytes and replaces every byte RFC 6749
// §5.2 does not allow in error_description (outside %x20-21 / %x23-5B /
// %x5D-7E) with '?'.
func descriptionSafe(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c == '"' || c == '\\' || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// Auth methods of OpenID Connect Core §9.
const (
	AuthSecretBasic   = "client_secret_basic"
	AuthSecretPost    = "client_secret_post"
	AuthPrivateKeyJWT = "private_key_jwt"
	AuthNone          = "none"
	// AuthAssertion: no client authentication; the client is the issuer of
	// a JWT bearer grant's assertion, which the grant verifies (RFC 7523 §3.1).
	AuthAssertion = "assertion"
)

// ClientAssertionType is RFC 7523 §2.2's client_assertion_type.
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// ClientAuth is what a request says about its client.
type ClientAuth struct {
	ClientID  string
	Secret    string
	Method    string
	Assertion string // private_key_jwt: the client_assertion
}

// ExtractClient reads client credentials from the Authorization header
// (RFC 6749 §2.3.1: form-urlencoded, then Basic) or the body. Using more than
// one method is an error.
func ExtractClient(r *http.Request, form url.Values) (ClientAuth, *Error) {
	if h := r.Header.Get("Authorization"); h != "" {
		if form.Has("client_assertion") {
			return ClientAuth{}, InvalidRequest("use one client authentication method, not both")
		}
		id, secret, ok := r.BasicAuth()
		if !ok {
			return ClientAuth{}, InvalidClient("the Authorization header is not valid Basic authentication")
		}
		if form.Has("client_secret") {
			return ClientAuth{}, InvalidRequest("use one client authentication method, not both")
		}
		uid, err1 := url.QueryUnescape(id)
		usecret, err2 := url.QueryUnescape(secret)
		if err1 != nil || err2 != nil || uid == "" {
			return ClientAuth{}, InvalidClient("the Basic credentials are malformed")
		}
		if fid := form.Get("client_id"); fid != "" && fid != uid {
			return ClientAuth{}, InvalidRequest("client_id in the body differs from the authenticated client")
		}
		return ClientAuth{ClientID: uid, Secret: usecret, Method: AuthSecretBasic}, nil
	}
	if form.Has("client_assertion") || form.Has("client_assertion_type") {
		return extractAssertion(form)
	}
	id := form.Get("client_id")
	if id == "" {
		return ClientAuth{}, InvalidClient("client authentication is required")
	}
	if form.Has("client_secret") {
		return ClientAuth{ClientID: id, Secret: form.Get("client_secret"), Method: AuthSecretPost}, nil
	}
	return ClientAuth{ClientID: id, Method: AuthNone}, nil
}

// MaxScopes bounds the number of scopes in one request.
const MaxScopes = 1100

// extractAssertion reads private_key_jwt credentials (RFC 7523 §2.2, OpenID
// Connect Core §9). The client is the assertion's subject; its signature is
// checked by the caller against the client's registered keys.
func extractAssertion(form url.Values) (ClientAuth, *Error) {
	if form.Get("client_assertion_type") != ClientAssertionType {
		return ClientAuth{}, InvalidClient("client_assertion_type must be " + ClientAssertionType)
	}
	if form.Has("client_secret") {
		return ClientAuth{}, InvalidRequest("use one client authentication method, not both")
	}
	a := form.Get("client_assertion")
	sub, ok := UnverifiedClaim(a, "sub")
	if !ok || sub == "" {
		return ClientAuth{}, InvalidClient("client_assertion is not a JWT with a sub claim")
	}
	if id := form.Get("client_id"); id != "" && id != sub {
		return ClientAuth{}, InvalidRequest("client_id differs from the client_assertion's subject")
	}
	return ClientAuth{ClientID: sub, Method: AuthPrivateKeyJWT, Assertion: a}, nil
}

// MaxAssertionBytes bounds a JWT assertion.
const MaxAssertionBytes = 8 << 10

// UnverifiedClaim reads a string claim of a compact JWS without verifying
// it: only to find which key to verify it with.
func UnverifiedClaim(jwt, claim string) (string, bool) {
	if len(jwt) > MaxAssertionBytes || strings.Count(jwt, ".") != 2 {
		return "", false
	}
	parts := strings.SplitN(jwt, ".", 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	var m map[string]any
	if json.Unmarshal(payload, &m) != nil {
		return "", false
	}
	v, ok := m[claim].(string)
	return v, ok
}

// SplitScope splits a space-delimited scope parameter (RFC 6749 §3.3),
// refusing empty tokens, characters outside the scope-token syntax and
// duplicates.
func SplitScope(s string) ([]string, *Error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, " ")
	if len(parts) > MaxScopes {
		return nil, InvalidScope("the scope parameter has too many scopes")
	}
	var seen map[string]struct{}
	if len(parts) > 8 {
		seen = make(map[string]struct{}, len(parts))
	}
	for i, p := range parts {
		if p == "" {
			return nil, InvalidScope("the scope parameter has an empty scope")
		}
		for j := 0; j < len(p); j++ {
			c := p[j]
			if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
				return nil, InvalidScope("the scope parameter has a character not allowed in a scope")
			}
		}
		dup := false
		if seen != nil {
			_, dup = seen[p]
			seen[p] = struct{}{}
		} else {
			dup = slices.Contains(parts[:i], p)
		}
		if dup {
			return nil, InvalidScope("the scope parameter repeats a scope")
		}
	}
	return parts, nil
}

// BearerToken returns the token of an Authorization header value in the
// Bearer scheme (RFC 6750 §2.1). The scheme name is matched
// case-insensitively (RFC 7235 §2.1); ok is false for any other scheme or
// an empty token.
func BearerToken(header string) (token string, ok bool) {
	scheme, token, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	return token, token != ""
}
