package adminapi

import (
	"context"
	"net/http"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/integration"
)

// IntegrationView is an integration as the API shows it (R-INT-1): never a
// secret (secrets_set names those that are set), the URL its calls go
// through and the scopes a caller needs, and the warnings of its
// validation.
type IntegrationView struct {
	integration.Integration
	CallURL string `json:"call_url"`
	// CallbackURL is the redirect URI to register at the system's
	// authorization server (OAuth 2.0 authorization code).
	CallbackURL string   `json:"callback_url,omitempty"`
	Scopes      []string `json:"scopes"`
	Warnings    []string `json:"warnings,omitempty"`
}

func (a *API) integrationView(tid string, i *integration.Integration, warnings []string) IntegrationView {
	cb := ""
	if i.ServiceAuth.GrantType == integration.GrantAuthorizationCode || i.ActionAuth != nil {
		cb = a.PublicURL + "/t/" + tid + "/integrations/callback"
	}
	return IntegrationView{
		CallbackURL: cb,
		Integration: i.Redacted(),
		CallURL:     a.PublicURL + "/t/" + tid + "/integrations/" + i.Name + "/call/",
		Scopes:      []string{"integration:" + i.Name, "integration:" + i.Name + ":write"},
		Warnings:    warnings,
	}
}

func (a *API) listIntegrations(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	p, err := pageFrom(r)
	if err != nil {
		return err
	}
	l, err := a.Integrations.List(r.Context(), tid, p.Cursor, p.Limit+1)
	if err != nil {
		return err
	}
	l, next := page(l, p, func(i *integration.Integration) string { return i.Name })
	views := make([]IntegrationView, len(l))
	for k, i := range l {
		views[k] = a.integrationView(tid, i, nil)
	}
	return writeJSON(w, http.StatusOK, List[IntegrationView]{Items: views, NextCursor: next})
}

func (a *API) createIntegration(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	var in integration.Integration
	if err := decode(w, r, &in); err != nil {
		return err
	}
	warn, err := a.Integrations.Create(r.Context(), tid, &in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, a.integrationView(tid, &in, warn))
}

func (a *API) getIntegration(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	i, err := a.Integrations.Get(r.Context(), tid, r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.integrationView(tid, i, nil))
}

// updateIntegration replaces the integration's settings; secrets left out
// keep their values while the method stays the same.
func (a *API) updateIntegration(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	var in integration.Integration
	if err := decode(w, r, &in); err != nil {
		return err
	}
	warn, err := a.Integrations.Update(r.Context(), tid, r.PathValue("name"), &in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.integrationView(tid, &in, warn))
}

func (a *API) deleteIntegration(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	if err := a.Integrations.Delete(r.Context(), tid, r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// exportIntegration is the integration without secrets, its icon with it
// (R-INT-8).
func (a *API) exportIntegration(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	e, err := a.Integrations.Export(r.Context(), tid, r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, e)
}

// importIntegration adds an export to the tenant, under ?name= when given.
func (a *API) importIntegration(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	var e integration.Export
	if err := decode(w, r, &e); err != nil {
		return err
	}
	name := r.URL.Query().Get("name")
	warn, err := a.Integrations.Import(r.Context(), tid, &e, name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, a.integrationView(tid, &e.Integration, warn))
}

// Outbound is what the admin API asks of the integration calls
// (outbound.Service): test connection (R-INT-9), and where the service
// account of an authorization-code integration signs in (R-INT-2).
type Outbound interface {
	Test(ctx context.Context, ig *integration.Integration) integration.TestResult
	AuthorizeURL(ig *integration.Integration) (string, error)
	CallbackURL(tenantID string) string
}

// testIntegration performs the integration's test request and shows the
// outcome; 200 whatever the upstream answered (ok says whether it worked).
func (a *API) testIntegration(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	i, err := a.Integrations.Get(r.Context(), tid, r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.Outbound.Test(r.Context(), i))
}

// authorizeIntegration starts the service account's one-time sign-in of an
// authorization-code integration: open authorization_url in a browser.
func (a *API) authorizeIntegration(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	i, err := a.Integrations.Get(r.Context(), tid, r.PathValue("name"))
	if err != nil {
		return err
	}
	u, err := a.Outbound.AuthorizeURL(i)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"authorization_url": u, "redirect_uri": a.Outbound.CallbackURL(tid)})
}

// IconView is one of a tenant's icons; the PNG only when asked for one.
type IconView struct {
	ID        string `json:"id"`
	PNG       []byte `json:"png,omitempty"`
	Removed   bool   `json:"removed,omitempty"`
	CreatedAt string `json:"created_at"`
}

func iconView(ic *integration.Icon, withPNG bool) IconView {
	v := IconView{ID: ic.ID, Removed: ic.Removed, CreatedAt: ic.CreatedAt.UTC().Format("2006-01-02T15:04:05.999999Z07:00")}
	if withPNG {
		v.PNG = ic.PNG
	}
	return v
}

func (a *API) listIcons(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	l, err := a.Integrations.Icons(r.Context(), tid)
	if err != nil {
		return err
	}
	views := make([]IconView, len(l))
	for k, ic := range l {
		views[k] = iconView(ic, false)
	}
	return writeJSON(w, http.StatusOK, List[IconView]{Items: views})
}

// addIcon checks and adds an icon (R-INT-7): {"png": base64}.
func (a *API) addIcon(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	var in struct {
		PNG []byte `json:"png"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	ic, err := a.Integrations.AddIcon(r.Context(), tid, in.PNG)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, iconView(ic, false))
}

func (a *API) getIcon(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	ic, err := a.Integrations.Icon(r.Context(), tid, r.PathValue("icon_id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, iconView(ic, true))
}

// removeIcon stops offering an icon; integrations that use it keep it.
func (a *API) removeIcon(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	if err := a.Integrations.RemoveIcon(r.Context(), tid, r.PathValue("icon_id")); err != nil {
		if derrors.Is(err, derrors.NotFound) {
			return derrors.NotFoundf("icon %q is not offered", r.PathValue("icon_id"))
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
