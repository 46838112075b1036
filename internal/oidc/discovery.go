package oidc

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
)

// Metadata is the discovery document (OpenID Connect Discovery 1.0 §3,
// RFC 8414 §2). Only what is served is advertised.
type Metadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	UserInfoEndpoint                  string   `json:"userinfo_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	TokenEndpointAuthSigningAlgs      []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	IntrospectionAuthMethods          []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationAuthMethods             []string `json:"revocation_endpoint_auth_methods_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
	PromptValuesSupported             []string `json:"prompt_values_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	AuthorizationResponseISS          bool     `json:"authorization_response_iss_parameter_supported"`
	BackchannelLogout                 bool     `json:"backchannel_logout_supported"`
	BackchannelLogoutSession          bool     `json:"backchannel_logout_session_supported"`
}

// Endpoints lists a tenant's endpoint URLs (R-APP-12).
func Endpoints(publicURL, tenantID string) Metadata {
	iss := Issuer(publicURL, tenantID)
	return Metadata{
		Issuer:                            iss,
		AuthorizationEndpoint:             iss + PathAuthorization,
		TokenEndpoint:                     iss + PathToken,
		UserInfoEndpoint:                  iss + PathUserInfo,
		JWKSURI:                           iss + PathJWKS,
		IntrospectionEndpoint:             iss + PathIntrospection,
		RevocationEndpoint:                iss + PathRevocation,
		EndSessionEndpoint:                iss + PathEndSession,
		ScopesSupported:                   []string{"openid", "profile", "email", "offline_access"},
		ResponseTypesSupported:            []string{"code", "token", "id_token", "id_token token"},
		GrantTypesSupported:               []string{"authorization_code", "refresh_token", "client_credentials", "password", "urn:ietf:params:oauth:grant-type:jwt-bearer"},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  []string{tenant.AlgRS256, tenant.AlgES256, tenant.AlgEdDSA},
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		TokenEndpointAuthSigningAlgs:      []string{"RS256", "ES256", "EdDSA"},
		CodeChallengeMethodsSupported:     []string{"S256"},
		IntrospectionAuthMethods:          []string{"client_secret_basic", "client_secret_post", "private_key_jwt"},
		RevocationAuthMethods:             []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		ClaimsSupported: []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "sid", "name", "given_name", "family_name",
			"preferred_username", "email", "email_verified", "groups", "roles", "permissions"},
		PromptValuesSupported:    []string{"none", "login", "consent"},
		ResponseModesSupported:   []string{"query", "fragment"},
		AuthorizationResponseISS: true,
		BackchannelLogout:        true,
		BackchannelLogoutSession: true,
	}
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	tid := r.PathValue("tenant")
	ks, ok := p.keySet(r.Context(), w, tid)
	if !ok {
		return
	}
	md := Endpoints(p.PublicURL, tid)
	// The tenant signs with one algorithm at a time (R-OID-7); during an
	// algorithm change the next key's is listed too.
	md.IDTokenSigningAlgValuesSupported = nil
	for _, k := range ks.Keys {
		if !slices.Contains(md.IDTokenSigningAlgValuesSupported, k.Alg) {
			md.IDTokenSigningAlgValuesSupported = append(md.IDTokenSigningAlgValuesSupported, k.Alg)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_ = json.NewEncoder(w).Encode(md)
}

func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	ks, ok := p.keySet(r.Context(), w, r.PathValue("tenant"))
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	// Short caching: a rotation publishes the next key well ahead of use.
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(ks.JWKS)
}

// certificate serves the active signer certificate as a PEM download
// (R-APP-12): public, like the JWKS.
func (p *Provider) certificate(w http.ResponseWriter, r *http.Request) {
	tid := r.PathValue("tenant")
	ks, ok := p.keySet(r.Context(), w, tid)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Disposition", `attachment; filename="`+tid+`-signing.pem"`)
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write([]byte(ks.Active().CertPEM()))
}

// fail writes a JSON error for a non-OAuth endpoint failure.
func (p *Provider) fail(ctx context.Context, w http.ResponseWriter, err error) {
	status := derrors.StatusOf(err)
	msg := http.StatusText(status)
	if status == http.StatusNotFound {
		msg = "no such tenant"
	} else if status >= 500 {
		p.Log.ErrorContext(ctx, "request failed", "error", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
