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
	"github.com/gatehouse-id/gatehouse/internal/keys"
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
	PublicURL string
	Apps      *app.Service
	Keys      *keys.Manager
	Now       func() time.Time
	Log       *slog.Logger
	Metrics   *Metrics

	grants map[string]grantFunc
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

// Register adds the provider's routes to mux.
func (p *Provider) Register(mux *http.ServeMux) {
	p.grants = map[string]grantFunc{
		app.GrantClientCredentials: p.clientCredentials,
	}
	mux.HandleFunc("GET /t/{tenant}"+PathDiscovery, p.discovery)
	mux.HandleFunc("GET /t/{tenant}"+PathJWKS, p.jwks)
	mux.HandleFunc("GET /t/{tenant}"+PathCertificate, p.certificate)
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
