// Package oidc serves the OAuth 2.0 / OpenID Connect endpoints of each tenant
// (R-OID-1, R-OID-8): discovery, JWKS and the token endpoint, built as one
// pipeline with one small handler per grant (ARCHITECTURE §3).
//
// RFCs: 6749 (OAuth 2.0), 9068 (JWT access tokens), 8414 / OpenID Connect
// Discovery 1.0 (metadata), 7517 (JWK).
package oidc

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/audit"
	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/keys"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// Paths under a tenant's issuer.
const (
	PathDiscovery     = "/.well-known/openid-configuration"
	PathJWKS          = "/jwks"
	PathToken         = "/oauth/token"
	PathAuthorization = "/oauth/authorize"
	PathUserInfo      = "/oauth/userinfo"
	PathIntrospection = "/oauth/introspect"
	PathRevocation    = "/oauth/revoke"
	PathEndSession    = "/oauth/logout"
	PathCertificate   = "/certificate.pem"
)

// Issuer returns the issuer URL of a tenant.
func Issuer(publicURL, tenantID string) string { return publicURL + "/t/" + tenantID }

// Provider serves every tenant's endpoints.
type Provider struct {
	// Audit, when set, records security events at grant level (R-ADM-4):
	// a grant issued, revoked, or revoked for a reused code or refresh
	// token (audit.Queue's Record: it never waits).
	Audit     func(*audit.Event)
	PublicURL string
	Apps      *app.Service
	Keys      *keys.Manager
	Grants    grant.Store
	// Tenants tells each tenant's consent policy (R-OID-10).
	Tenants  Tenants
	Users    Users
	Sessions Sessions
	// FrontChannelLogout, when set, takes over the browser after a logout
	// ended session sid, to tell the session's apps of other protocols
	// (SAML single logout), and sends it to returnTo after; false when it
	// had nothing to do.
	FrontChannelLogout func(w http.ResponseWriter, r *http.Request, tenantID, sid, returnTo string) bool
	Seal               Sealer
	Throttle           Throttle
	// HTTPClient makes the back-channel logout calls (nil: a default with a
	// 5 s timeout that follows no redirects).
	HTTPClient *http.Client
	// ClientIP is the address brute-force protection counts a request
	// against (the login package's rule, with its trusted proxies).
	ClientIP func(*http.Request) string
	Now      func() time.Time
	Log      *slog.Logger
	Metrics  *Metrics

	// CodeLifetime bounds authorization codes (R-OID-2: at most 60 s).
	CodeLifetime time.Duration
	// RequestLifetime bounds how long a user may take on the login page.
	RequestLifetime time.Duration
	// RefreshGrace is how long a rotated refresh token still gets the same
	// answer, for a client's concurrent retry (R-OID-3).
	RefreshGrace time.Duration

	// RevokedRefreshInterval is how often a replica reads the access tokens
	// other replicas revoked (0: never after the first load, for a single
	// process on SQLite).
	RevokedRefreshInterval time.Duration

	handlers map[string]grantFunc
	// verified remembers the access tokens whose signature was verified.
	verified verifyCache
	// revokedSet is this replica's copy of the revoked jtis.
	revokedSet revokedTokens
}

// Tenants looks up a tenant's settings.
type Tenants interface {
	GetTenant(ctx context.Context, name string) (*tenant.Tenant, error)
}

// Users is what the provider needs of the user directory.
type Users interface {
	ActiveUser(ctx context.Context, tenantID, userID string) (*user.User, error)
	ActiveUserByLogin(ctx context.Context, tenantID, login string) (*user.User, error)
	Authenticate(ctx context.Context, tenantID, login, password string) (*user.User, error)
	Access(ctx context.Context, tenantID, userID, clientID string) (roles, permissions []string, err error)
}

// Sealer encrypts what must be kept but not read by the database's readers:
// the answer to a refresh, kept for the grace window.
type Sealer interface {
	Seal(plaintext, aad []byte) (string, error)
	Open(sealed string, aad []byte) ([]byte, error)
}

// Metrics counts token requests by grant and outcome.
type Metrics struct {
	Tokens *prometheus.CounterVec
}

// NewMetrics registers the provider's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{Tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_token_requests_total",
		Help: "Token endpoint requests by grant type and result (ok or the RFC 6749 error code).",
	}, []string{"grant_type", "result"})}
	reg.MustRegister(m.Tokens)
	return m
}

// record puts a security event in the audit log, if there is one.
func (p *Provider) record(tid, action, userID, clientID, summary string) {
	if p.Audit == nil {
		return
	}
	actor := userID
	if actor == "" {
		actor = clientID
	}
	p.Audit(&audit.Event{TenantID: tid, Actor: actor, Action: action, Target: "apps/" + clientID, Summary: summary})
}

// Register adds the provider's routes to mux.
func (p *Provider) Register(mux *http.ServeMux) {
	p.handlers = map[string]grantFunc{
		app.GrantClientCredentials: p.clientCredentials,
		app.GrantAuthorizationCode: p.authorizationCode,
		app.GrantRefreshToken:      p.refreshToken,
		app.GrantJWTBearer:         p.jwtBearer,
		app.GrantPassword:          p.password,
	}
	mux.HandleFunc("GET /t/{tenant}"+PathAuthorization, p.authorize)
	mux.HandleFunc("POST /t/{tenant}"+PathAuthorization, p.authorize)
	mux.HandleFunc("GET /t/{tenant}"+PathAuthorization+"/resume", p.resume)
	mux.HandleFunc("POST /t/{tenant}"+PathIntrospection, p.introspect)
	mux.HandleFunc("POST /t/{tenant}"+PathRevocation, p.revoke)
	mux.HandleFunc("GET /t/{tenant}"+PathUserInfo, p.userinfo)
	mux.HandleFunc("POST /t/{tenant}"+PathUserInfo, p.userinfo)
	mux.HandleFunc("GET /t/{tenant}"+PathEndSession, p.endSession)
	mux.HandleFunc("POST /t/{tenant}"+PathEndSession, p.endSession)
	mux.HandleFunc("GET /t/{tenant}"+PathDiscovery, corsPublic(p.discovery))
	mux.HandleFunc("GET /t/{tenant}"+PathJWKS, corsPublic(p.jwks))
	mux.HandleFunc("GET /t/{tenant}"+PathCertificate, corsPublic(p.certificate))
	for _, path := range []string{PathToken, PathRevocation, PathUserInfo} {
		mux.HandleFunc("OPTIONS /t/{tenant}"+path, preflight)
	}
	mux.HandleFunc("POST /t/{tenant}"+PathToken, p.token)
}

func (p *Provider) issuer(tenantID string) string { return Issuer(p.PublicURL, tenantID) }

// keySet loads the tenant's keys; a missing tenant is reported as found=false.
func (p *Provider) keySet(ctx context.Context, w http.ResponseWriter, tenantID string) (*keys.Set, bool) {
	ks, err := p.Keys.Get(ctx, tenantID)
	if err != nil {
		p.fail(ctx, w, err)
		return nil, false
	}
	return ks, true
}
