// Package app is the application registry (R-APP-1..13, R-PRM-1, R-SML-2,
// R-WSF-1): application types and protocols, the grant matrix, client IDs and
// secrets, redirect-URI rules, token lifetimes, permissions, export/import.
package app

import (
	"context"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-id/gatehouse/internal/tenant"
)

// Type is the kind of application (R-APP-1).
type Type string

// Application types.
const (
	SPA    Type = "spa"
	Web    Type = "web"
	Native Type = "native"
	S2S    Type = "s2s"
)

// Protocol is how an application talks to Gatehouse (R-APP-2).
type Protocol string

// Protocols.
const (
	OIDC  Protocol = "oidc"
	SAML  Protocol = "saml"
	WSFed Protocol = "wsfed"
)

// Grant types (RFC 6749 §4, RFC 7523 §2.1).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
	GrantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	GrantImplicit          = "implicit"
)

// Access token formats (R-OID-7).
const (
	TokenJWT    = "jwt"
	TokenOpaque = "opaque"
)

// App is a registered application. Secrets live beside it (Secret), never in it.
type App struct {
	ClientID               string     `json:"client_id,omitempty"`
	Name                   string     `json:"name"`
	Description            string     `json:"description,omitempty"`
	Type                   Type       `json:"type"`
	Protocol               Protocol   `json:"protocol"`
	WebsiteURL             string     `json:"website_url,omitempty"`
	Logo                   []byte     `json:"logo,omitempty"`
	AdditionalInfo         string     `json:"additional_info,omitempty"`
	FirstParty             bool       `json:"first_party"`
	RedirectURIs           []string   `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs []string   `json:"post_logout_redirect_uris,omitempty"`
	GrantTypes             []string   `json:"grant_types,omitempty"`
	Scopes                 []string   `json:"scopes,omitempty"`
	Audiences              []string   `json:"audiences,omitempty"`
	AccessTokenLifetime    Duration   `json:"access_token_lifetime"`
	IDTokenLifetime        Duration   `json:"id_token_lifetime"`
	RefreshTokenLifetime   Duration   `json:"refresh_token_lifetime"`
	AccessTokenFormat      string     `json:"access_token_format,omitempty"`
	ForcePKCE              bool       `json:"force_pkce,omitempty"`
	DeveloperMode          bool       `json:"developer_mode,omitempty"`
	LogonResultURLs        *LogonURLs `json:"logon_result_urls,omitempty"`
	// Claims are the app's output-claim settings (R-CLM-1); none means
	// the OpenID Connect defaults by scope.
	Claims []ClaimSetting `json:"claims,omitempty"`
	// IDTokenEncryptionCert, when set, makes ID tokens JWEs encrypted to
	// this certificate's RSA key (RSA-OAEP-256 + A256GCM, R-OID-7).
	IDTokenEncryptionCert string `json:"id_token_encryption_certificate,omitempty"`
	// BackchannelLogoutURI receives a logout token when a session that
	// signed in to the app ends (OpenID Connect Back-Channel Logout 1.0).
	BackchannelLogoutURI string `json:"backchannel_logout_uri,omitempty"`
	// JWKS holds the app's public keys, for private_key_jwt client
	// authentication and JWT bearer assertions (R-OID-4, R-OID-5).
	JWKS      *jose.JSONWebKeySet `json:"jwks,omitempty"`
	SAML      *SAMLSettings       `json:"saml,omitempty"`
	WSFed     *WSFedSettings      `json:"wsfed,omitempty"`
	CreatedAt time.Time           `json:"created_at,omitzero"`
	UpdatedAt time.Time           `json:"updated_at,omitzero"`
}

// ClaimSetting configures one standard claim for an app (R-CLM-1).
type ClaimSetting struct {
	Name      string `json:"name"`
	Available bool   `json:"available"`
	Required  bool   `json:"required,omitempty"`
	InToken   bool   `json:"in_token,omitempty"`
	// MapTo renames the claim in tokens and assertions, for example email →
	// http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress.
	MapTo string `json:"map_to,omitempty"`
}

// OutputName is the name the claim goes out under.
func (c ClaimSetting) OutputName() string {
	if c.MapTo != "" {
		return c.MapTo
	}
	return c.Name
}

// StandardClaims are the claims an app can be configured to receive (R-CLM-1).
var StandardClaims = []string{"sub", "name", "given_name", "family_name", "email", "email_verified",
	"preferred_username", "groups", "roles", "permissions"}

// LogonURLs are the custom logon result pages of R-APP-10.
type LogonURLs struct {
	AccessDenied string `json:"access_denied,omitempty"`
	Failed       string `json:"failed,omitempty"`
	Error        string `json:"error,omitempty"`
}

// SAMLSettings are the service-provider settings of a SAML app (R-SML-2).
type SAMLSettings struct {
	EntityID            string   `json:"entity_id"`
	ACSURLs             []string `json:"acs_urls"`
	Subject             string   `json:"subject,omitempty"`
	Certificate         string   `json:"certificate,omitempty"`
	HashAlgorithm       string   `json:"hash_algorithm,omitempty"`
	EncryptAssertion    bool     `json:"encrypt_assertion,omitempty"`
	EncryptionAlgorithm string   `json:"encryption_algorithm,omitempty"`
	SLOURL              string   `json:"slo_url,omitempty"`
	SLOBinding          string   `json:"slo_binding,omitempty"`
}

// WSFedSettings are the relying-party settings of a WS-Federation app (R-WSF-1).
type WSFedSettings struct {
	Realm         string   `json:"realm"`
	ReplyURLs     []string `json:"reply_urls"`
	Certificate   string   `json:"certificate,omitempty"`
	HashAlgorithm string   `json:"hash_algorithm,omitempty"`
}

// Secret is one stored client secret: only its hash (R-APP-5).
type Secret struct {
	ID        string
	Hash      string
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
}

// Valid reports whether the secret may be used at now.
func (s *Secret) Valid(now time.Time) bool {
	return s.ExpiresAt.IsZero() || now.Before(s.ExpiresAt)
}

// Confidential reports whether the app authenticates with a client secret.
func (a *App) Confidential() bool {
	return a.Type == S2S || a.Type == Web && a.Protocol == OIDC
}

// AllowsGrant reports whether grant is in the app's list (R-APP-8).
func (a *App) AllowsGrant(grant string) bool {
	for _, g := range a.GrantTypes {
		if g == grant {
			return true
		}
	}
	return false
}

// Permission is a named right within one app (R-PRM-1).
type Permission struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	UpdatedAt   time.Time `json:"updated_at,omitzero"`
}

// Store persists applications, their secrets and permissions. Every method is
// scoped to one tenant; limits are enforced inside the write transaction.
type Store interface {
	CreateApp(ctx context.Context, tenantID string, a *App, s *Secret, maxApps int) error
	GetApp(ctx context.Context, tenantID, clientID string) (*App, error)
	// GetClient loads an app and its secrets in one round trip: the token
	// endpoint's lookup.
	GetClient(ctx context.Context, tenantID, clientID string) (*App, []Secret, error)
	ListApps(ctx context.Context, tenantID string, p tenant.Page) ([]*App, error)
	UpdateApp(ctx context.Context, tenantID string, a *App) error
	DeleteApp(ctx context.Context, tenantID, clientID string) error
	// RotateSecret adds s and makes every other secret of the app expire at
	// oldExpiry at the latest (or removes them when oldExpiry is zero).
	RotateSecret(ctx context.Context, tenantID, clientID string, s *Secret, oldExpiry time.Time) error

	CreatePermission(ctx context.Context, tenantID, clientID string, p *Permission, maxPerms int) error
	GetPermission(ctx context.Context, tenantID, clientID, name string) (*Permission, error)
	// ListPermissions lists an app's permissions, last modified first.
	ListPermissions(ctx context.Context, tenantID, clientID string) ([]*Permission, error)
	UpdatePermission(ctx context.Context, tenantID, clientID, name string, p *Permission) error
	DeletePermission(ctx context.Context, tenantID, clientID, name string) error
}
