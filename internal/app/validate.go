package app

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"image/png"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/text"
)

// Field limits of SPEC §2.
const (
	MaxNameLen            = 64
	MaxDescriptionLen     = 500
	MaxAdditionalInfoLen  = 2000
	MaxLogoBytes          = 80 * 1024
	MaxURILen             = 2000
	MaxRedirectURIs       = 100
	MaxScopeLen           = 200
	MaxAudiences          = 20
	MaxPermissionNameLen  = 30
	MaxPermissionDescLen  = 120
	MaxCertificateBytes   = 16 * 1024
	MinTokenLifetime      = time.Minute
	MaxTokenLifetime      = 1440 * time.Minute
	MinRefreshLifetime    = 24 * time.Hour
	MaxRefreshLifetime    = 365 * 24 * time.Hour
	DefaultAccessLifetime = 60 * time.Minute
	DefaultIDLifetime     = 60 * time.Minute
	DefaultRefreshLife    = 30 * 24 * time.Hour
)

// StandardScopes are the OpenID Connect scopes every OIDC app may request
// (R-APP-9); they are not listed among an app's custom scopes.
var StandardScopes = []string{"openid", "profile", "email", "offline_access"}

// grantMatrix lists, per type, the grants an app gets by default and the
// grants it may add (R-APP-8).
var grantMatrix = map[Type]struct{ base, optional []string }{
	SPA:    {base: []string{GrantAuthorizationCode, GrantRefreshToken}, optional: []string{GrantImplicit}},
	Native: {base: []string{GrantAuthorizationCode, GrantRefreshToken}, optional: []string{GrantImplicit}},
	Web:    {base: []string{GrantAuthorizationCode, GrantRefreshToken}, optional: []string{GrantPassword, GrantJWTBearer, GrantImplicit}},
	S2S:    {base: []string{GrantClientCredentials}, optional: []string{GrantJWTBearer}},
}

// Validate checks every field of a against SPEC §2 and fills defaults. The
// returned error names the first offending field. maxScopes is R-TEN-4's limit.
func (a *App) Validate(maxScopes int) error {
	if err := ValidateName(a.Name); err != nil {
		return err
	}
	if err := textField("description", a.Description, MaxDescriptionLen); err != nil {
		return err
	}
	if err := textField("additional_info", a.AdditionalInfo, MaxAdditionalInfoLen); err != nil {
		return err
	}
	if _, ok := grantMatrix[a.Type]; !ok {
		return derrors.Invalidf("type", "must be one of spa, web, native, s2s")
	}
	switch a.Protocol {
	case "":
		a.Protocol = OIDC
	case OIDC:
	case SAML, WSFed:
		if a.Type != Web {
			return derrors.Invalidf("protocol", "%s is only for web apps", a.Protocol)
		}
	default:
		return derrors.Invalidf("protocol", "must be one of oidc, saml, wsfed")
	}
	if a.WebsiteURL != "" {
		if err := webURL("website_url", a.WebsiteURL); err != nil {
			return err
		}
	}
	if len(a.Logo) > 0 {
		if err := ValidateLogo(a.Logo); err != nil {
			return err
		}
	}
	if err := validateClaims(a.Claims); err != nil {
		return err
	}
	if a.LogonResultURLs != nil {
		for _, f := range []struct{ name, v string }{
			{"logon_result_urls.access_denied", a.LogonResultURLs.AccessDenied},
			{"logon_result_urls.failed", a.LogonResultURLs.Failed},
			{"logon_result_urls.error", a.LogonResultURLs.Error},
		} {
			if f.v != "" {
				if err := webURL(f.name, f.v); err != nil {
					return err
				}
			}
		}
	}
	if a.Protocol == OIDC {
		if err := a.validateOIDC(maxScopes); err != nil {
			return err
		}
	} else if err := a.validateFederation(); err != nil {
		return err
	}
	return nil
}

func (a *App) validateOIDC(maxScopes int) error {
	if a.SAML != nil {
		return derrors.Invalidf("saml", "only for apps with protocol saml")
	}
	if a.WSFed != nil {
		return derrors.Invalidf("wsfed", "only for apps with protocol wsfed")
	}
	if err := a.validateGrants(); err != nil {
		return err
	}
	usesRedirects := a.AllowsGrant(GrantAuthorizationCode) || a.AllowsGrant(GrantImplicit)
	if !usesRedirects {
		if len(a.RedirectURIs) > 0 {
			return derrors.Invalidf("redirect_uris", "%s apps do not use redirects", a.Type)
		}
		if len(a.PostLogoutRedirectURIs) > 0 {
			return derrors.Invalidf("post_logout_redirect_uris", "%s apps do not use redirects", a.Type)
		}
	} else if len(a.RedirectURIs) == 0 {
		return derrors.Invalidf("redirect_uris", "at least one redirect URI is required for %s apps", a.Type)
	}
	if err := redirectList("redirect_uris", a.RedirectURIs, a.Type); err != nil {
		return err
	}
	if err := redirectList("post_logout_redirect_uris", a.PostLogoutRedirectURIs, a.Type); err != nil {
		return err
	}
	if err := a.validateScopes(maxScopes); err != nil {
		return err
	}
	if len(a.Audiences) > MaxAudiences {
		return derrors.Invalidf("audiences", "at most %d audiences", MaxAudiences)
	}
	for _, aud := range a.Audiences {
		if aud == "" || len(aud) > MaxURILen || !utf8.ValidString(aud) || strings.ContainsRune(aud, ' ') || text.Line(aud) != nil {
			return derrors.Invalidf("audiences", "%q is not a valid audience", aud)
		}
	}
	if err := validateJWKS(a.JWKS); err != nil {
		return err
	}
	if a.IDTokenEncryptionCert != "" {
		if _, err := EncryptionKey(a.IDTokenEncryptionCert); err != nil {
			return err
		}
	}
	if a.BackchannelLogoutURI != "" {
		if err := webURL("backchannel_logout_uri", a.BackchannelLogoutURI); err != nil {
			return err
		}
	}
	if a.ForcePKCE && a.Type != Web {
		return derrors.Invalidf("force_pkce", "only for web apps: PKCE is always required for spa and native apps and does not apply to s2s")
	}
	switch a.AccessTokenFormat {
	case "":
		a.AccessTokenFormat = TokenJWT
	case TokenJWT, TokenOpaque:
	default:
		return derrors.Invalidf("access_token_format", "must be jwt or opaque")
	}
	return a.validateLifetimes()
}

// reservedClaims cannot be the target of a mapping: they carry the token's
// own meaning.
var reservedClaims = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce", "azp", "at_hash", "sid", "client_id", "scope", "fam"}

// validateClaims checks output-claim settings (R-CLM-1).
func validateClaims(cs []ClaimSetting) error {
	seen := map[string]bool{}
	outs := map[string]bool{}
	for _, c := range cs {
		switch {
		case !slices.Contains(StandardClaims, c.Name):
			return derrors.Invalidf("claims", "%q is not a standard claim (one of %s)", c.Name, strings.Join(StandardClaims, ", "))
		case seen[c.Name]:
			return derrors.Invalidf("claims", "%q is listed twice", c.Name)
		case (c.Required || c.InToken) && !c.Available:
			return derrors.Invalidf("claims", "%q: a required or in-token claim must be available", c.Name)
		case c.Name == "sub" && (c.MapTo != "" || !c.Available):
			return derrors.Invalidf("claims", "sub is always available and cannot be renamed")
		case c.MapTo != "" && (len(c.MapTo) > MaxURILen || strings.ContainsAny(c.MapTo, " \"") || text.Line(c.MapTo) != nil || !utf8.ValidString(c.MapTo)):
			return derrors.Invalidf("claims", "%q: map_to must be a claim name or URI without spaces", c.Name)
		case c.MapTo != "" && slices.Contains(reservedClaims, c.MapTo):
			return derrors.Invalidf("claims", "%q: map_to %q is a reserved claim", c.Name, c.MapTo)
		case outs[c.OutputName()]:
			return derrors.Invalidf("claims", "two claims go out as %q", c.OutputName())
		}
		seen[c.Name], outs[c.OutputName()] = true, true
	}
	return nil
}

// MaxJWKSKeys bounds an app's registered keys.
const MaxJWKSKeys = 10

// AssertionAlgs are the algorithms accepted for client assertions.
var AssertionAlgs = []string{"RS256", "ES256", "EdDSA"}

// validateJWKS accepts public signing keys only, each with a unique kid.
func validateJWKS(set *jose.JSONWebKeySet) error {
	if set == nil {
		return nil
	}
	if len(set.Keys) == 0 || len(set.Keys) > MaxJWKSKeys {
		return derrors.Invalidf("jwks", "must hold 1 to %d keys", MaxJWKSKeys)
	}
	seen := map[string]bool{}
	for i := range set.Keys {
		k := &set.Keys[i]
		switch {
		case !k.Valid():
			return derrors.Invalidf("jwks", "key %d is not a valid JWK", i+1)
		case !k.IsPublic():
			return derrors.Invalidf("jwks", "key %d is a private key: register public keys only", i+1)
		case k.KeyID == "":
			return derrors.Invalidf("jwks", "key %d has no kid", i+1)
		case seen[k.KeyID]:
			return derrors.Invalidf("jwks", "kid %q is listed twice", k.KeyID)
		case k.Use != "" && k.Use != "sig":
			return derrors.Invalidf("jwks", "key %q: use must be sig", k.KeyID)
		case k.Algorithm != "" && !slices.Contains(AssertionAlgs, k.Algorithm):
			return derrors.Invalidf("jwks", "key %q: alg must be one of RS256, ES256, EdDSA", k.KeyID)
		}
		seen[k.KeyID] = true
	}
	return nil
}

func (a *App) validateGrants() error {
	m := grantMatrix[a.Type]
	if len(a.GrantTypes) == 0 {
		a.GrantTypes = slices.Clone(m.base)
	}
	seen := map[string]bool{}
	for _, g := range a.GrantTypes {
		if seen[g] {
			return derrors.Invalidf("grant_types", "%q is listed twice", g)
		}
		seen[g] = true
		if !slices.Contains(m.base, g) && !slices.Contains(m.optional, g) {
			return derrors.Invalidf("grant_types", "%q is not allowed for %s apps", g, a.Type)
		}
	}
	if a.Type == S2S && !seen[GrantClientCredentials] {
		return derrors.Invalidf("grant_types", "s2s apps need client_credentials")
	}
	if a.Type != S2S && !seen[GrantAuthorizationCode] && !seen[GrantImplicit] && !seen[GrantPassword] && !seen[GrantJWTBearer] {
		return derrors.Invalidf("grant_types", "%s apps need authorization_code", a.Type)
	}
	if seen[GrantImplicit] && !a.DeveloperMode {
		return derrors.Invalidf("grant_types", "implicit requires developer_mode")
	}
	if seen[GrantPassword] && !a.FirstParty {
		// The password grant hands the user's password to the app: only
		// an app under the organisation's control may see it (RFC 9700
		// §2.4 forbids it outright; R-APP-8 keeps it for first-party apps).
		return derrors.Invalidf("grant_types", "password is allowed only for first-party apps (first_party: true)")
	}
	return nil
}

func (a *App) validateScopes(maxScopes int) error {
	if len(a.Scopes) > maxScopes {
		return derrors.Limitf("scopes", "at most %d scopes per application (limit max_scopes_per_app)", maxScopes)
	}
	seen := make(map[string]bool, len(a.Scopes))
	for _, s := range a.Scopes {
		if err := ValidateScope(s); err != nil {
			return err
		}
		if slices.Contains(StandardScopes, s) {
			return derrors.Invalidf("scopes", "%q is a standard scope; list only custom scopes", s)
		}
		if seen[s] {
			return derrors.Invalidf("scopes", "%q is listed twice", s)
		}
		seen[s] = true
	}
	return nil
}

// ValidateScope checks one scope token against RFC 6749 §3.3:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func ValidateScope(s string) error {
	if s == "" || len(s) > MaxScopeLen {
		return derrors.Invalidf("scopes", "a scope must be 1-%d characters", MaxScopeLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return derrors.Invalidf("scopes", "%q contains a character not allowed in a scope (RFC 6749 §3.3)", s)
		}
	}
	return nil
}

func (a *App) validateLifetimes() error {
	if a.AccessTokenLifetime == 0 {
		a.AccessTokenLifetime = Duration(DefaultAccessLifetime)
	}
	if a.IDTokenLifetime == 0 {
		a.IDTokenLifetime = Duration(DefaultIDLifetime)
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"access_token_lifetime", a.AccessTokenLifetime.D()}, {"id_token_lifetime", a.IDTokenLifetime.D()}} {
		if f.d < MinTokenLifetime || f.d > MaxTokenLifetime {
			return derrors.Invalidf(f.name, "must be between 1 and 1440 minutes")
		}
		if f.d%time.Minute != 0 {
			return derrors.Invalidf(f.name, "must be a whole number of minutes")
		}
	}
	// A negative refresh lifetime is how a caller says "default": zero means
	// "no refresh tokens" (R-APP-7).
	refreshes := a.AllowsGrant(GrantRefreshToken)
	if a.RefreshTokenLifetime < 0 {
		a.RefreshTokenLifetime = 0
		if refreshes {
			a.RefreshTokenLifetime = Duration(DefaultRefreshLife)
		}
	}
	r := a.RefreshTokenLifetime.D()
	if r != 0 && !refreshes {
		return derrors.Invalidf("refresh_token_lifetime", "only for apps with the refresh_token grant; %s apps get no refresh tokens", a.Type)
	}
	if r != 0 && (r < MinRefreshLifetime || r > MaxRefreshLifetime || r%(24*time.Hour) != 0) {
		return derrors.Invalidf("refresh_token_lifetime", "must be 0 (no refresh tokens) or a whole number of days between 1 and 365")
	}
	return nil
}

func (a *App) validateFederation() error {
	if len(a.RedirectURIs) > 0 {
		return derrors.Invalidf("redirect_uris", "only for apps with protocol oidc")
	}
	if len(a.PostLogoutRedirectURIs) > 0 {
		return derrors.Invalidf("post_logout_redirect_uris", "only for apps with protocol oidc")
	}
	if len(a.GrantTypes) > 0 {
		return derrors.Invalidf("grant_types", "only for apps with protocol oidc")
	}
	if len(a.Scopes) > 0 {
		return derrors.Invalidf("scopes", "only for apps with protocol oidc")
	}
	if a.ForcePKCE || a.DeveloperMode || a.AccessTokenFormat != "" || len(a.Audiences) > 0 || a.JWKS != nil || a.IDTokenEncryptionCert != "" || a.BackchannelLogoutURI != "" {
		return derrors.Invalidf("protocol", "OAuth settings apply only to apps with protocol oidc")
	}
	a.AccessTokenLifetime, a.IDTokenLifetime, a.RefreshTokenLifetime = 0, 0, 0
	switch a.Protocol {
	case SAML:
		if a.WSFed != nil {
			return derrors.Invalidf("wsfed", "only for apps with protocol wsfed")
		}
		if a.SAML == nil {
			return derrors.Invalidf("saml", "is required for apps with protocol saml")
		}
		return a.SAML.validate()
	default:
		if a.SAML != nil {
			return derrors.Invalidf("saml", "only for apps with protocol saml")
		}
		if a.WSFed == nil {
			return derrors.Invalidf("wsfed", "is required for apps with protocol wsfed")
		}
		return a.WSFed.validate()
	}
}

func (s *SAMLSettings) validate() error {
	if s.EntityID == "" || len(s.EntityID) > MaxURILen || !utf8.ValidString(s.EntityID) || strings.ContainsAny(s.EntityID, " \t\r\n") {
		return derrors.Invalidf("saml.entity_id", "is required: a URI of at most %d characters", MaxURILen)
	}
	if len(s.ACSURLs) == 0 {
		return derrors.Invalidf("saml.acs_urls", "at least one assertion consumer service URL is required")
	}
	if len(s.ACSURLs) > MaxRedirectURIs {
		return derrors.Invalidf("saml.acs_urls", "at most %d URLs", MaxRedirectURIs)
	}
	for _, u := range s.ACSURLs {
		if err := webURL("saml.acs_urls", u); err != nil {
			return err
		}
	}
	switch s.Subject {
	case "":
		s.Subject = "user_id"
	case "user_id", "email":
	default:
		return derrors.Invalidf("saml.subject", "must be user_id or email")
	}
	if err := hashAlg("saml.hash_algorithm", &s.HashAlgorithm); err != nil {
		return err
	}
	if s.Certificate != "" {
		if err := ValidateCertificate("saml.certificate", s.Certificate); err != nil {
			return err
		}
	}
	if s.EncryptAssertion {
		if s.Certificate == "" {
			return derrors.Invalidf("saml.certificate", "is required to encrypt assertions")
		}
		switch s.EncryptionAlgorithm {
		case "":
			s.EncryptionAlgorithm = "aes256-gcm"
		case "aes256-gcm", "aes256-cbc":
		default:
			return derrors.Invalidf("saml.encryption_algorithm", "must be aes256-gcm or aes256-cbc")
		}
	} else if s.EncryptionAlgorithm != "" {
		return derrors.Invalidf("saml.encryption_algorithm", "only with encrypt_assertion")
	}
	if s.SLOURL != "" {
		if err := webURL("saml.slo_url", s.SLOURL); err != nil {
			return err
		}
		switch s.SLOBinding {
		case "":
			s.SLOBinding = "post"
		case "post", "redirect":
		default:
			return derrors.Invalidf("saml.slo_binding", "must be post or redirect")
		}
	} else if s.SLOBinding != "" {
		return derrors.Invalidf("saml.slo_binding", "only with slo_url")
	}
	return nil
}

func (w *WSFedSettings) validate() error {
	if w.Realm == "" || len(w.Realm) > MaxURILen || !utf8.ValidString(w.Realm) || strings.ContainsAny(w.Realm, " \t\r\n") {
		return derrors.Invalidf("wsfed.realm", "is required: a URI of at most %d characters", MaxURILen)
	}
	if len(w.ReplyURLs) == 0 {
		return derrors.Invalidf("wsfed.reply_urls", "at least one reply URL is required")
	}
	if len(w.ReplyURLs) > MaxRedirectURIs {
		return derrors.Invalidf("wsfed.reply_urls", "at most %d URLs", MaxRedirectURIs)
	}
	for _, u := range w.ReplyURLs {
		if err := webURL("wsfed.reply_urls", u); err != nil {
			return err
		}
	}
	if w.Certificate != "" {
		if err := ValidateCertificate("wsfed.certificate", w.Certificate); err != nil {
			return err
		}
	}
	return hashAlg("wsfed.hash_algorithm", &w.HashAlgorithm)
}

func hashAlg(field string, v *string) error {
	switch *v {
	case "":
		*v = "sha256"
	case "sha256", "sha384", "sha512":
	case "sha1":
		// Only for peers that know nothing newer: signatures use SHA-1 for
		// this app alone, and its SHA-1 signed requests are accepted.
	default:
		return derrors.Invalidf(field, "must be sha256, sha384, sha512, or sha1 for old service providers")
	}
	return nil
}

// EncryptionKey returns the RSA public key (at least 2048 bits) of an ID-token
// encryption certificate.
func EncryptionKey(pemText string) (*rsa.PublicKey, error) {
	const field = "id_token_encryption_certificate"
	if err := ValidateCertificate(field, pemText); err != nil {
		return nil, err
	}
	block, _ := pem.Decode([]byte(pemText))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, derrors.Invalidf(field, "is not a valid X.509 certificate")
	}
	k, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || k.N.BitLen() < 2048 {
		return nil, derrors.Invalidf(field, "must hold an RSA key of at least 2048 bits (RSA-OAEP-256)")
	}
	return k, nil
}

// ValidateCertificate checks that pemText holds exactly one PEM X.509
// certificate.
func ValidateCertificate(field, pemText string) error {
	if len(pemText) > MaxCertificateBytes {
		return derrors.Invalidf(field, "must be at most %d bytes", MaxCertificateBytes)
	}
	block, rest := pem.Decode([]byte(pemText))
	if block == nil || block.Type != "CERTIFICATE" {
		return derrors.Invalidf(field, "must be a PEM-encoded X.509 certificate")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return derrors.Invalidf(field, "must hold exactly one certificate")
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return derrors.Invalidf(field, "is not a valid X.509 certificate")
	}
	return nil
}

// ValidateName enforces R-APP-3: 1–64 letters, digits and underscores.
func ValidateName(name string) error {
	if name == "" {
		return derrors.Invalidf("name", "is required")
	}
	if len(name) > MaxNameLen {
		return derrors.Invalidf("name", "must be at most %d characters", MaxNameLen)
	}
	if !isWord(name) {
		return derrors.Invalidf("name", "may contain only letters, digits and underscore")
	}
	return nil
}

func isWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func textField(field, v string, max int) error {
	if !utf8.ValidString(v) {
		return derrors.Invalidf(field, "must be valid UTF-8 text")
	}
	if utf8.RuneCountInString(v) > max {
		return derrors.Invalidf(field, "must be at most %d characters", max)
	}
	if err := text.Line(v); err != nil {
		return derrors.Invalidf(field, "%v", err)
	}
	return nil
}

// ValidateLogo enforces R-APP-3: a PNG image of at most 80 KB.
func ValidateLogo(b []byte) error {
	if len(b) > MaxLogoBytes {
		return derrors.Invalidf("logo", "must be at most 80 KB")
	}
	if _, err := png.DecodeConfig(bytes.NewReader(b)); err != nil {
		return derrors.Invalidf("logo", "must be a PNG image")
	}
	return nil
}

// webURL accepts an absolute https URL, or http on a loopback host.
func webURL(field, raw string) error {
	u, err := parseAbsolute(field, raw)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !IsLoopbackHost(u.Hostname()) {
			return derrors.Invalidf(field, "%q: http is allowed only for localhost, 127.0.0.1 and [::1]; use https", raw)
		}
	default:
		return derrors.Invalidf(field, "%q must be an https URL", raw)
	}
	if u.Hostname() == "" {
		return derrors.Invalidf(field, "%q has no host", raw)
	}
	return nil
}

func parseAbsolute(field, raw string) (*url.URL, error) {
	if len(raw) > MaxURILen {
		return nil, derrors.Invalidf(field, "a URL must be at most %d characters", MaxURILen)
	}
	if !utf8.ValidString(raw) || strings.ContainsAny(raw, " \\") || text.Line(raw) != nil {
		return nil, derrors.Invalidf(field, "%q contains characters not allowed in a URL", raw)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return nil, derrors.Invalidf(field, "%q is not an absolute URL", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, derrors.Invalidf(field, "%q must not have a fragment", raw)
	}
	if u.User != nil {
		return nil, derrors.Invalidf(field, "%q must not contain user information", raw)
	}
	if strings.Contains(raw, "*") {
		return nil, derrors.Invalidf(field, "%q: wildcards are not allowed", raw)
	}
	return u, nil
}

// IsLoopbackHost reports whether host (without port or brackets) is one of
// the loopback names R-APP-6 allows over http.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback))
}

// forbiddenSchemes can run code or read local data when a browser follows them.
var forbiddenSchemes = []string{"javascript", "data", "file", "vbscript", "about", "blob", "filesystem", "view-source"}

// ValidateRedirectURI enforces R-APP-6 for one redirect or post-logout URI of
// an app of type t.
func ValidateRedirectURI(field, raw string, t Type) error {
	u, err := parseAbsolute(field, raw)
	if err != nil {
		return err
	}
	// url.Parse lower-cases the scheme: compare with what the caller wrote.
	scheme := u.Scheme
	if !strings.HasPrefix(raw, scheme+":") {
		return derrors.Invalidf(field, "%q: the scheme must be lower case", raw)
	}
	switch scheme {
	case "https", "http":
		if u.Hostname() == "" || u.Opaque != "" {
			return derrors.Invalidf(field, "%q has no host", raw)
		}
		if scheme == "http" && !IsLoopbackHost(u.Hostname()) {
			return derrors.Invalidf(field, "%q: http is allowed only for localhost, 127.0.0.1 and [::1]; use https", raw)
		}
		return nil
	}
	if slices.Contains(forbiddenSchemes, scheme) {
		return derrors.Invalidf(field, "%q: the %s scheme is not allowed", raw, scheme)
	}
	if t != Native {
		return derrors.Invalidf(field, "%q: custom schemes are allowed only for native apps", raw)
	}
	// RFC 8252 §7.1: private-use schemes are reverse domain names.
	if !strings.Contains(scheme, ".") {
		return derrors.Invalidf(field, "%q: a custom scheme must be a reverse domain name such as com.example.app (RFC 8252 §7.1)", raw)
	}
	return nil
}

func redirectList(field string, uris []string, t Type) error {
	if len(uris) > MaxRedirectURIs {
		return derrors.Invalidf(field, "at most %d URIs", MaxRedirectURIs)
	}
	seen := make(map[string]bool, len(uris))
	for _, u := range uris {
		if err := ValidateRedirectURI(field, u, t); err != nil {
			return err
		}
		if seen[u] {
			return derrors.Invalidf(field, "%q is listed twice", u)
		}
		seen[u] = true
	}
	return nil
}

// MatchRedirectURI reports whether requested matches one of the app's
// registered URIs exactly; for native apps a registered http loopback URI
// matches any port (RFC 8252 §7.3).
func MatchRedirectURI(registered []string, requested string, t Type) bool {
	for _, r := range registered {
		if r == requested {
			return true
		}
	}
	if t != Native {
		return false
	}
	req, err := url.Parse(requested)
	if err != nil || req.Scheme != "http" || !IsLoopbackHost(req.Hostname()) || req.User != nil || strings.Contains(requested, "#") {
		return false
	}
	for _, r := range registered {
		reg, err := url.Parse(r)
		if err != nil || reg.Scheme != "http" || !IsLoopbackHost(reg.Hostname()) {
			continue
		}
		if reg.Hostname() == req.Hostname() && reg.EscapedPath() == req.EscapedPath() && reg.RawQuery == req.RawQuery {
			return true
		}
	}
	return false
}

// Validate enforces R-PRM-1.
func (p *Permission) Validate() error {
	if p.Name == "" {
		return derrors.Invalidf("name", "is required")
	}
	if len(p.Name) > MaxPermissionNameLen {
		return derrors.Invalidf("name", "must be at most %d characters", MaxPermissionNameLen)
	}
	if !isWord(p.Name) {
		return derrors.Invalidf("name", "may contain only letters, digits and underscore")
	}
	return textField("description", p.Description, MaxPermissionDescLen)
}
