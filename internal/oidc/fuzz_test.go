package oidc_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/oauth"
)

// otherKeyPEM is a key nobody registered.
const otherKeyPEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgr6rt8enxeK8HIbus
MerDHwqm4EQjgmpaDcMfxGhXbzShRANCAATEOBGR4yOSVnqZfoeeaAju4HmmlxyX
KmILWUSoKCW0gxDoXvRvo690IfkJAT9QozTWVGMAtJVEMQ5fCwHZOt+L
-----END PRIVATE KEY-----`

// apps lists the env's apps by client ID.
func (e *authEnv) apps() map[string]testApp {
	m := map[string]testApp{}
	for _, a := range []testApp{e.web, e.web2, e.partner, e.strict, e.spa, e.native, e.implicit, e.pwOnly, e.s2s, e.webKeyed} {
		m[a.ClientID] = a
	}
	return m
}

// authErrorCodes are the error codes the authorization endpoint may send
// to a client (RFC 6749 §4.1.2.1, OpenID Connect Core §3.1.2.6).
var authErrorCodes = []string{
	"invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type", "invalid_scope",
	"server_error", "temporarily_unavailable", "login_required", "consent_required", "interaction_required",
	"account_selection_required", "request_not_supported", "request_uri_not_supported",
}

// FuzzAuthorizeRequest sends arbitrary query strings to the authorization
// endpoint, with and without alice's session: it never panics, never
// answers 5xx, and redirects only to a URI registered for the client_id of
// the request (for a native app's loopback URI, on any port) or to the
// tenant's login and consent pages (R-OID-2, R-OID-8). A redirect to the
// client carries iss and either a code (only with a session) or an RFC
// error; it echoes state exactly when the request had a valid one.
func FuzzAuthorizeRequest(f *testing.F) {
	e := newAuthEnv(f)
	session := e.login(f)
	apps := e.apps()

	pkce := []string{"code_challenge", pkceChallenge, "code_challenge_method", "S256"}
	base := func(a testApp, redirect string, kv ...string) string {
		return query(append([]string{"client_id", a.ClientID, "redirect_uri", redirect, "response_type", "code", "state", "st"}, kv...)...)
	}
	seeds := []string{
		base(e.web, e.web.RedirectURIs[0], "scope", "openid profile api", "nonce", "n"),
		base(e.web, e.web.RedirectURIs[1]),
		base(e.web, e.web.RedirectURIs[0], "prompt", "none"),
		base(e.web, e.web.RedirectURIs[0], "prompt", "login", "max_age", "0"),
		base(e.web, e.web.RedirectURIs[0], "prompt", "none login"),
		base(e.web, e.web.RedirectURIs[0], "max_age", "abc"),
		base(e.web, e.web.RedirectURIs[0], "response_mode", "fragment"),
		base(e.web, e.web.RedirectURIs[0], "request", "x.y.z"),
		base(e.web, e.web.RedirectURIs[0], "scope", "openid admin"),
		base(e.web, e.web.RedirectURIs[0], "scope", "openid\"\\é\x00"),
		base(e.web, e.web.RedirectURIs[0], "prompt", "\x01é\"\\"),
		base(e.web, e.web.RedirectURIs[0], "state", "again"),
		base(e.web, e.web.RedirectURIs[0]+"/"),
		base(e.web, "https://app.example.com@evil.example.com/callback"),
		base(e.web, "//evil.example.com/callback"),
		base(e.web, "https://evil.example.com/callback"),
		base(e.web, "https://app.example.com/cb2?x=1&redirect=https://evil.example.com"),
		base(e.web, "https://app.example.com/callback#frag"),
		base(e.web, "javascript:alert(1)"),
		base(e.partner, e.partner.RedirectURIs[0], "scope", "openid"),
		base(e.partner, e.partner.RedirectURIs[0], "prompt", "none"),
		base(e.partner, e.partner.RedirectURIs[0], "prompt", "consent"),
		base(e.strict, e.strict.RedirectURIs[0]),
		base(e.strict, e.strict.RedirectURIs[0], pkce...),
		base(e.spa, e.spa.RedirectURIs[0], pkce...),
		base(e.spa, e.spa.RedirectURIs[0], "code_challenge", pkceChallenge, "code_challenge_method", "plain"),
		base(e.spa, e.spa.RedirectURIs[0], "code_challenge", "short", "code_challenge_method", "S256"),
		base(e.spa, e.spa.RedirectURIs[0]),
		base(e.native, "http://127.0.0.1:8080/callback", pkce...),
		base(e.native, "http://127.0.0.1/callback", pkce...),
		base(e.native, "http://[::1]:8080/callback", pkce...),
		base(e.native, "http://localhost:8080/callback", pkce...),
		base(e.native, "http://127.0.0.1:8080@evil.example.com/callback", pkce...),
		base(e.native, "http://127.0.0.%31:8080/callback", pkce...),
		base(e.native, "http://127.0.0.1:99999/callback", pkce...),
		base(e.native, "http://127.0.0.1:8080/callback?x=1", pkce...),
		base(e.native, "com.example.app:/cb", pkce...),
		base(e.native, "com.example.app://evil.example.com/cb", pkce...),
		base(e.implicit, e.implicit.RedirectURIs[0]),
		query("client_id", e.implicit.ClientID, "redirect_uri", e.implicit.RedirectURIs[0], "response_type", "token", "state", "st"),
		query("client_id", e.implicit.ClientID, "redirect_uri", e.implicit.RedirectURIs[0], "response_type", "id_token token", "scope", "openid profile", "nonce", "n", "state", "st"),
		query("client_id", e.implicit.ClientID, "redirect_uri", e.implicit.RedirectURIs[0], "response_type", "token id_token", "scope", "openid", "nonce", "n", "prompt", "none"),
		query("client_id", e.implicit.ClientID, "redirect_uri", e.implicit.RedirectURIs[0], "response_type", "id_token", "scope", "openid"),
		query("client_id", e.implicit.ClientID, "redirect_uri", e.implicit.RedirectURIs[0], "response_type", "token", "response_mode", "query"),
		query("client_id", e.implicit.ClientID, "redirect_uri", e.implicit.RedirectURIs[0], "response_type", "code token"),
		query("client_id", e.web.ClientID, "redirect_uri", e.web.RedirectURIs[1], "response_type", "token", "state", "st"),
		query("client_id", e.native.ClientID, "redirect_uri", "http://127.0.0.1:9/callback", "response_type", "token", "state", "st"),
		base(e.pwOnly, "https://app.example.com/callback"),
		base(e.s2s, "https://app.example.com/callback"),
		query("client_id", e.web.ClientID, "redirect_uri", e.web.RedirectURIs[0], "response_type", "token"),
		query("client_id", e.web.ClientID, "redirect_uri", e.web.RedirectURIs[0], "response_type", "code", "state", strings.Repeat("s", 1025)),
		query("client_id", e.web.ClientID, "redirect_uri", e.web.RedirectURIs[0], "response_type", "code", "state", strings.Repeat("s", 1024)),
		query("client_id", e.web.ClientID, "redirect_uri", e.web.RedirectURIs[0]),
		query("client_id", "unknown", "redirect_uri", e.web.RedirectURIs[0], "response_type", "code"),
		query("redirect_uri", e.web.RedirectURIs[0], "response_type", "code"),
		"client_id=" + e.web.ClientID + "&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback&response_type=code&state=%zz",
		"client_id=" + e.web.ClientID + ";redirect_uri=https://app.example.com/callback",
		"client_id=" + e.web.ClientID + "&client_id=" + e.spa.ClientID,
		"",
		"%",
		"&&&=&=",
	}
	for _, s := range seeds {
		f.Add(s, false)
		f.Add(s, true)
	}

	f.Fuzz(func(t *testing.T, raw string, withSession bool) {
		var cookies []*http.Cookie
		if withSession {
			cookies = session
		}
		w := e.authorize(testTenant, raw, cookies...)
		checkAuthorize(t, apps, raw, withSession, w)
	})
}

// checkAuthorize checks an answer of the authorization endpoint to the
// query raw.
func checkAuthorize(t *testing.T, apps map[string]testApp, raw string, withSession bool, w *httptest.ResponseRecorder) {
	t.Helper()
	loc := w.Header().Get("Location")
	if w.Code >= 500 {
		t.Fatalf("status %d for %q\n%s", w.Code, raw, w.Body)
	}
	if w.Code != http.StatusSeeOther {
		if w.Code < 400 || loc != "" {
			t.Fatalf("status %d with Location %q for %q", w.Code, loc, raw)
		}
		return
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("unparsable Location %q: %v", loc, err)
	}
	q, err := url.ParseQuery(raw)
	if err != nil || len(raw) > 16<<10 {
		t.Fatalf("a malformed or oversized request was redirected to %q", loc)
	}
	for k, v := range q {
		if len(v) > 1 {
			t.Fatalf("a request with %s repeated was redirected to %q", k, loc)
		}
	}
	prompt := strings.Fields(q.Get("prompt"))
	if u.Scheme == "https" && u.Host == "id.example.com" && u.User == nil && (u.Path == "/t/acme/login" || u.Path == "/t/acme/consent") {
		if u.Query().Get("request") == "" || u.Query().Has("code") || u.Query().Has("error") {
			t.Fatalf("odd redirect to a page: %q", loc)
		}
		if slices.Contains(prompt, "none") {
			t.Fatalf("prompt=none was sent to a page: %q", loc)
		}
		return
	}
	a, ok := apps[q.Get("client_id")]
	if !ok {
		t.Fatalf("redirect to %q for the unknown client %q", loc, q.Get("client_id"))
	}
	if !registered(a, u) {
		t.Fatalf("open redirect: %q is not a registered redirect URI of %s (%v); request %q", loc, a.Name, a.RedirectURIs, raw)
	}
	// Implicit response types answer in the fragment (OAuth 2.0 Multiple
	// Response Types §5), everything else in the query.
	rt := strings.Fields(q.Get("response_type"))
	implicit := !slices.Contains(rt, "code") && (slices.Contains(rt, "token") || slices.Contains(rt, "id_token"))
	lq := u.Query()
	if strings.Contains(loc, "#") {
		if !implicit {
			t.Fatalf("redirect with a fragment for response_type %q: %q", q.Get("response_type"), loc)
		}
		for _, k := range []string{"code", "error", "iss", "state", "access_token", "id_token"} {
			if lq.Has(k) {
				t.Fatalf("an implicit answer with %s in the query: %q", k, loc)
			}
		}
		if lq, err = url.ParseQuery(u.EscapedFragment()); err != nil {
			t.Fatalf("fragment of %q: %v", loc, err)
		}
		if lq.Get("error") == "" && (!a.AllowsGrant(app.GrantImplicit) || !a.DeveloperMode || !withSession) {
			t.Fatalf("tokens for %s (implicit %v, session %v): %q", a.Name, a.AllowsGrant(app.GrantImplicit), withSession, loc)
		}
		if lq.Has("code") || lq.Has("refresh_token") {
			t.Fatalf("an implicit answer with a code or refresh token: %q", loc)
		}
		if lq.Get("error") == "" && lq.Get("access_token") == "" && lq.Get("id_token") == "" {
			t.Fatalf("an implicit answer without tokens or error: %q", loc)
		}
	} else if lq.Has("access_token") || lq.Has("id_token") {
		t.Fatalf("tokens in the query: %q", loc)
	}
	if got := lq.Get("iss"); got != testIssuer {
		t.Fatalf("iss = %q in %q", got, loc)
	}
	code, errCode := lq.Get("code"), lq.Get("error")
	switch {
	case code != "" && errCode != "":
		t.Fatalf("both code and error in %q", loc)
	case code == "" && errCode == "" && !implicit:
		t.Fatalf("neither code nor error in %q", loc)
	case code != "" && !withSession:
		t.Fatalf("a code without a session: %q", loc)
	case errCode != "" && !slices.Contains(authErrorCodes, errCode):
		t.Fatalf("unknown error %q in %q", errCode, loc)
	}
	if d := lq.Get("error_description"); !validErrorDescription(d) {
		t.Fatalf("error_description %q has characters RFC 6749 §4.1.2.1 forbids", d)
	}
	st := q.Get("state")
	valid := st != "" && len(st) <= 1024
	switch {
	case lq.Has("state") && !valid:
		t.Fatalf("state %q echoed for the request's invalid state %q", lq.Get("state"), st)
	case valid && lq.Get("state") != st:
		t.Fatalf("state = %q, want %q", lq.Get("state"), st)
	}
}

// registered reports whether u goes to one of the app's registered redirect
// URIs: same scheme, host and path; for a native app's http loopback URI,
// any port.
func registered(a testApp, u *url.URL) bool {
	if u.User != nil {
		return false
	}
	for _, r := range a.RedirectURIs {
		ru, err := url.Parse(r)
		if err != nil {
			continue
		}
		if u.Scheme != ru.Scheme || u.Path != ru.Path || u.Opaque != ru.Opaque {
			continue
		}
		if u.Host == ru.Host {
			return true
		}
		if a.Type == app.Native && ru.Scheme == "http" && app.IsLoopbackHost(ru.Hostname()) && u.Hostname() == ru.Hostname() {
			return true
		}
	}
	return false
}

// signJWT signs claims as a compact JWS with key (kid in the header when
// not empty).
func signJWT(tb testing.TB, key any, alg jose.SignatureAlgorithm, kid string, claims any) string {
	tb.Helper()
	sk := jose.SigningKey{Algorithm: alg, Key: key}
	if kid != "" {
		sk.Key = jose.JSONWebKey{Key: key, KeyID: kid}
	}
	sg, err := jose.NewSigner(sk, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		tb.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		tb.Fatal(err)
	}
	jws, err := sg.Sign(payload)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// b64 encodes s as in a compact JWS.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// assertionSeeds are assertions about alice (bearer) or the s2s client
// itself (client): one good, one good without a jti, and broken copies.
func assertionSeeds(tb testing.TB, e *authEnv, client bool) []string {
	tb.Helper()
	now := e.clock.Now().Unix()
	iss := e.s2s.ClientID
	sub := "1|local|alice|x"
	if client {
		sub = iss
	}
	n := 0
	claims := func(kv ...any) map[string]any {
		n++
		m := map[string]any{"iss": iss, "sub": sub, "aud": testIssuer + "/oauth/token", "exp": now + 300, "iat": now, "jti": "seed-" + strconv.Itoa(n)}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	key := e.s2sKey
	other := parseECKey(tb, otherKeyPEM)
	good := signJWT(tb, key, jose.ES256, "k1", claims())
	noJTI := signJWT(tb, key, jose.ES256, "k1", claims("jti", nil))
	parts := strings.Split(good, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	flipped := slices.Clone(sig)
	flipped[0] ^= 0x80
	flippedLast := slices.Clone(sig)
	flippedLast[len(sig)-1] ^= 1
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	_ = json.Unmarshal(payload, &m)
	tampered := func(k string, v any) string {
		c := map[string]any{}
		for k, v := range m {
			c[k] = v
		}
		c[k] = v
		p, _ := json.Marshal(c)
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(p) + "." + parts[2]
	}
	// The last character of an 86-character ES256 signature carries 4
	// bits that decoders ignore.
	nonCanonical := noJTI[:len(noJTI)-1] + string(noJTI[len(noJTI)-1]^1)
	jsonJWS := func(s string) string {
		p := strings.Split(s, ".")
		return `{"protected":"` + p[0] + `","payload":"` + p[1] + `","signature":"` + p[2] + `"}`
	}
	seeds := []string{
		good,
		noJTI,
		// The same assertion again, in other spellings.
		noJTI[:20] + "\n" + noJTI[20:],
		noJTI[:20] + " " + noJTI[20:],
		" " + noJTI,
		noJTI + "\r\n",
		nonCanonical,
		jsonJWS(noJTI),
		// Other good ones.
		signJWT(tb, key, jose.ES256, "k1", claims("aud", []string{"https://else.example.com", testIssuer})),
		signJWT(tb, key, jose.ES256, "", claims()),
		signJWT(tb, key, jose.ES256, "k1", claims("pad", strings.Repeat("p", 5000))),
		// Broken signatures and keys.
		parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(flipped),
		parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(flippedLast),
		parts[0] + "." + parts[1] + ".",
		parts[0] + "." + parts[1],
		b64(`{"alg":"none","typ":"JWT"}`) + "." + parts[1] + ".",
		b64(`{"alg":"none","kid":"k1"}`) + "." + parts[1] + "." + parts[2],
		b64(`{"alg":"HS256","kid":"k1"}`) + "." + parts[1] + "." + parts[2],
		b64(`{"alg":"ES384","kid":"k1"}`) + "." + parts[1] + "." + parts[2],
		b64(`{"alg":"ES256","kid":"nope"}`) + "." + parts[1] + "." + parts[2],
		b64(`{"alg":"ES256","kid":"k1","crit":["exp"]}`) + "." + parts[1] + "." + parts[2],
		b64(`{"alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}}`) + "." + parts[1] + "." + parts[2],
		signJWT(tb, other, jose.ES256, "k1", claims()),
		signJWT(tb, other, jose.ES256, "", claims()),
		signJWT(tb, []byte("a shared secret of at least 32 bytes!!"), jose.HS256, "k1", claims()),
		// The signature of good over other claims.
		tampered("iss", e.web.ClientID),
		tampered("sub", e.s2s.ClientID),
		tampered("aud", testIssuer),
		tampered("exp", now+3000),
		// Well signed, wrong claims.
		signJWT(tb, key, jose.ES256, "k1", claims("iss", e.web.ClientID)),
		signJWT(tb, key, jose.ES256, "k1", claims("iss", e.webKeyed.ClientID)),
		signJWT(tb, key, jose.ES256, "k1", claims("iss", nil)),
		signJWT(tb, key, jose.ES256, "k1", claims("aud", "https://id.example.com/t/other")),
		signJWT(tb, key, jose.ES256, "k1", claims("aud", []string{})),
		signJWT(tb, key, jose.ES256, "k1", claims("aud", map[string]any{"x": 1})),
		signJWT(tb, key, jose.ES256, "k1", claims("exp", now-120)),
		signJWT(tb, key, jose.ES256, "k1", claims("exp", now+7200)),
		signJWT(tb, key, jose.ES256, "k1", claims("exp", nil)),
		signJWT(tb, key, jose.ES256, "k1", claims("exp", int64(math.MaxInt64))),
		signJWT(tb, key, jose.ES256, "k1", claims("exp", int64(math.MinInt64))),
		signJWT(tb, key, jose.ES256, "k1", claims("exp", 1e300)),
		signJWT(tb, key, jose.ES256, "k1", claims("exp", "soon")),
		signJWT(tb, key, jose.ES256, "k1", claims("nbf", now+600)),
		signJWT(tb, key, jose.ES256, "k1", claims("nbf", int64(math.MaxInt64))),
		signJWT(tb, key, jose.ES256, "k1", claims("jti", strings.Repeat("j", 300))),
		signJWT(tb, key, jose.ES256, "k1", claims("jti", 7)),
		signJWT(tb, key, jose.ES256, "k1", claims("sub", "nobody")),
		signJWT(tb, key, jose.ES256, "k1", claims("sub", "||")),
		signJWT(tb, key, jose.ES256, "k1", claims("sub", "1|local|alice@example.com")),
		signJWT(tb, key, jose.ES256, "k1", claims("sub", nil)),
		signJWT(tb, key, jose.ES256, "k1", claims("scope", "openid admin")),
		signJWT(tb, key, jose.ES256, "k1", claims("scope", "offline_access")),
		signJWT(tb, key, jose.ES256, "k1", "not an object"),
		// Huge and malformed.
		signJWT(tb, key, jose.ES256, "k1", claims("pad", strings.Repeat("p", 9000))),
		parts[0] + "." + b64(strings.Repeat("x", 70000)) + "." + parts[2],
		"", ".", "..", "a.b.c", "a.b.c.d", "e30.e30.e30", "{}", `{"payload":"e30","signatures":[]}`,
		b64(`{"alg":"ES256"}`) + "." + b64(`{"iss":"`+iss+`","sub":"`+sub+`"`) + "." + parts[2],
	}
	if !client {
		// Valid only in the process that made the env: user IDs are random.
		seeds = append(seeds, signJWT(tb, key, jose.ES256, "k1", claims("sub", e.user.ID)))
	}
	return seeds
}

// validAssertion decides, independently of the provider, whether the
// provider may accept raw: signed with the s2s app's key, for the s2s app,
// at this issuer, unexpired and not too long-lived; about alice (bearer) or
// with sub = the client and a jti (client). It returns the key under which
// the assertion may be used once.
func validAssertion(e *authEnv, raw string, client bool) (string, bool) {
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return "", false
	}
	payload, err := jws.Verify(&e.s2sKey.PublicKey)
	if err != nil {
		return "", false
	}
	var c struct {
		Iss, Sub, JTI string
		Aud           any
		Exp, Nbf      float64
	}
	if json.Unmarshal(payload, &c) != nil {
		return "", false
	}
	var auds []any
	switch a := c.Aud.(type) {
	case string:
		auds = []any{a}
	case []any:
		auds = a
	}
	now := float64(e.clock.Now().Unix())
	switch {
	case c.Iss != e.s2s.ClientID,
		!slices.Contains(auds, any(testIssuer)) && !slices.Contains(auds, any(testIssuer+"/oauth/token")),
		c.Exp == 0 || c.Exp+60 < now || c.Exp > now+3600,
		c.Nbf > now+60:
		return "", false
	}
	if client {
		if c.Sub != e.s2s.ClientID || c.JTI == "" {
			return "", false
		}
	} else {
		parts := strings.Split(c.Sub, "|")
		if c.Sub != e.user.ID && (len(parts) < 3 || !strings.EqualFold(parts[2], "alice") && !strings.EqualFold(parts[2], "alice@example.com")) {
			return "", false
		}
	}
	if c.JTI != "" {
		return "jti:" + c.JTI, true
	}
	sum := sha256.Sum256(payload)
	return "claims:" + string(sum[:]), true
}

// checkTokenError checks an error response of the token endpoint (RFC 6749
// §5.2).
func checkTokenError(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	var doc struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || doc.Error == "" {
		t.Fatalf("%d without an RFC 6749 error document: %s", w.Code, w.Body)
	}
	switch {
	case w.Code == http.StatusUnauthorized && (doc.Error != "invalid_client" || w.Header().Get("WWW-Authenticate") == ""):
		t.Fatalf("401 must be invalid_client with WWW-Authenticate: %s %q", w.Body, w.Header().Get("WWW-Authenticate"))
	case w.Code == http.StatusBadRequest && doc.Error == "invalid_client":
		t.Fatalf("invalid_client with 400: %s", w.Body)
	case !validErrorDescription(doc.Description):
		t.Fatalf("error_description %q has characters RFC 6749 §5.2 forbids", doc.Description)
	}
}

// FuzzJWTAssertion sends arbitrary assertions to the JWT bearer grant (RFC
// 7523, R-OID-5) of an s2s app with a registered ES256 key, with no client
// authentication (the assertion's iss names the client), with the app's
// secret (Basic or in the form), or as an app without keys: it never
// panics, never answers 5xx, and answers 200 only to an assertion the app's
// key signed, with good claims, and only once.
func FuzzJWTAssertion(f *testing.F) {
	e := newAuthEnv(f)
	for _, s := range assertionSeeds(f, e, false) {
		for mode := range uint8(4) {
			f.Add(s, mode)
		}
	}
	used := map[string]bool{}
	f.Fuzz(func(t *testing.T, assertion string, mode uint8) {
		form := url.Values{"grant_type": {app.GrantJWTBearer}, "assertion": {assertion}}
		var id, secret string
		switch mode % 4 {
		case 1:
			id, secret = e.s2s.ClientID, e.s2s.Secret
		case 2:
			form.Set("client_id", e.s2s.ClientID)
			form.Set("client_secret", e.s2s.Secret)
		case 3:
			id, secret = e.webKeyed.ClientID, e.webKeyed.Secret
		}
		w := e.token(form, id, secret)
		switch w.Code {
		case http.StatusOK:
			key, ok := validAssertion(e, assertion, false)
			if !ok || mode%4 == 3 {
				t.Fatalf("accepted (mode %d): %q\n%s", mode%4, assertion, w.Body)
			}
			if used[key] {
				t.Fatalf("accepted again (mode %d), a replay: %q", mode%4, assertion)
			}
			used[key] = true
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge:
			checkTokenError(t, w)
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	})
}

// FuzzClientAssertion sends arbitrary client_assertion and
// client_assertion_type values (private_key_jwt, RFC 7523 §2.2, OpenID
// Connect Core §9, R-OID-4) with the client credentials grant: it never
// panics, never answers 5xx, answers 401 invalid_client or 400 to anything
// the s2s app's key did not sign with good claims, and accepts a jti once.
func FuzzClientAssertion(f *testing.F) {
	e := newAuthEnv(f)
	types := []string{oauth.ClientAssertionType, "", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer", oauth.ClientAssertionType + " "}
	for _, s := range assertionSeeds(f, e, true) {
		for i, typ := range types {
			f.Add(s, typ, i%2 == 0)
		}
	}
	used := map[string]bool{}
	f.Fuzz(func(t *testing.T, assertion, typ string, withClientID bool) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_assertion": {assertion}}
		if typ != "" {
			form.Set("client_assertion_type", typ)
		}
		if withClientID {
			form.Set("client_id", e.s2s.ClientID)
		}
		w := e.token(form, "", "")
		switch w.Code {
		case http.StatusOK:
			key, ok := validAssertion(e, assertion, true)
			if !ok || typ != oauth.ClientAssertionType {
				t.Fatalf("accepted (type %q): %q\n%s", typ, assertion, w.Body)
			}
			if used[key] {
				t.Fatalf("accepted again, a replay: %q", assertion)
			}
			used[key] = true
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge:
			checkTokenError(t, w)
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	})
}

// TestAssertionRespelled: a JWT bearer assertion without a jti works once
// (R-OID-5), whatever its spelling: whitespace, which the JWS parser
// strips, or the JSON serialization of the same signature, is the same
// assertion. And an nbf at the int64 limit is not valid yet.
func TestAssertionRespelled(t *testing.T) {
	e := newAuthEnv(t)
	now := e.clock.Now().Unix()
	claims := map[string]any{"iss": e.s2s.ClientID, "sub": e.user.ID, "aud": testIssuer, "exp": now + 300, "iat": now}
	a := signJWT(t, e.s2sKey, jose.ES256, "k1", claims)
	p := strings.Split(a, ".")
	bearer := func(assertion string) *httptest.ResponseRecorder {
		return e.token(url.Values{"grant_type": {app.GrantJWTBearer}, "assertion": {assertion}}, e.s2s.ClientID, e.s2s.Secret)
	}
	if w := bearer(a); w.Code != http.StatusOK {
		t.Fatalf("first use: %d %s", w.Code, w.Body)
	}
	for _, again := range []string{
		a,
		p[0] + ".\n" + p[1] + "." + p[2],
		" " + a + "\r\n",
		`{"protected":"` + p[0] + `","payload":"` + p[1] + `","signature":"` + p[2] + `"}`,
		signJWT(t, e.s2sKey, jose.ES256, "k1", claims), // a new ECDSA signature of the same claims
	} {
		if w := bearer(again); w.Code != http.StatusBadRequest || tokenError(t, w) != "invalid_grant" {
			t.Errorf("used again as %q: %d %s, want 400 invalid_grant", again, w.Code, w.Body)
		}
	}

	claims["nbf"] = int64(math.MaxInt64)
	if w := bearer(signJWT(t, e.s2sKey, jose.ES256, "k1", claims)); w.Code != http.StatusBadRequest || tokenError(t, w) != "invalid_grant" {
		t.Errorf("nbf at the int64 limit: %d %s, want 400 invalid_grant", w.Code, w.Body)
	}
}
