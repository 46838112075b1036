package adminapi

import (
	"net/http"

	"sigs.k8s.io/yaml"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/oidc"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
)

func yamlToJSON(b []byte) ([]byte, error) { return yaml.YAMLToJSON(b) }

// TenantView is a tenant with its issuer and discovery URL.
type TenantView struct {
	*tenant.Tenant
	Issuer    string `json:"issuer"`
	Discovery string `json:"discovery_url"`
}

func (a *API) tenantView(t *tenant.Tenant) TenantView {
	iss := oidc.Issuer(a.PublicURL, t.Name)
	return TenantView{Tenant: t, Issuer: iss, Discovery: iss + oidc.PathDiscovery}
}

// TenantInput is the body of tenant create and update.
type TenantInput struct {
	Name          string `json:"name"`
	DisplayName   string `json:"display_name"`
	SigningAlg    string `json:"signing_alg"`
	ConsentPolicy string `json:"consent_policy,omitempty"`
}

func (a *API) createTenant(w http.ResponseWriter, r *http.Request) error {
	var in TenantInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	t, err := CreateTenant(r.Context(), a.Tenants, a.Keys, a.Now(), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, a.tenantView(t))
}

func (a *API) getTenant(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	t, err := a.Tenants.GetTenant(r.Context(), tid)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.tenantView(t))
}

func (a *API) updateTenant(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	var in TenantInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Name != "" && in.Name != tid {
		return derrors.Invalidf("name", "cannot be changed: it is part of the issuer URL")
	}
	t, err := a.Tenants.GetTenant(r.Context(), tid)
	if err != nil {
		return err
	}
	if in.DisplayName != "" {
		t.DisplayName = in.DisplayName
	}
	if in.SigningAlg != "" {
		t.SigningAlg = in.SigningAlg
	}
	if in.ConsentPolicy != "" {
		t.ConsentPolicy = in.ConsentPolicy
	}
	if err := t.Validate(); err != nil {
		return err
	}
	t.UpdatedAt = a.Now().UTC()
	if err := a.Tenants.UpdateTenant(r.Context(), t); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.tenantView(t))
}

func (a *API) listTenants(w http.ResponseWriter, r *http.Request) error {
	p, err := pageFrom(r)
	if err != nil {
		return err
	}
	ts, err := a.Tenants.ListTenants(r.Context(), p.Plus1())
	if err != nil {
		return err
	}
	ts, next := page(ts, p, func(t *tenant.Tenant) string { return t.Name })
	views := make([]TenantView, len(ts))
	for i, t := range ts {
		views[i] = a.tenantView(t)
	}
	return writeJSON(w, http.StatusOK, List[TenantView]{Items: views, NextCursor: next})
}

// deleteTenant needs ?confirm= with the tenant's name typed again (R-TEN-3).
func (a *API) deleteTenant(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	if tid == tenant.System {
		return derrors.Forbiddenf("the system tenant cannot be deleted")
	}
	if r.URL.Query().Get("confirm") != tid {
		return derrors.Invalidf("confirm", "type the tenant's name again to delete it and everything it owns")
	}
	if err := a.Tenants.DeleteTenant(r.Context(), tid); err != nil {
		return err
	}
	a.Keys.Forget(tid)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
