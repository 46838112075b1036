package adminapi

import (
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/oidc"
)

// AppEndpoints are the URLs an app needs (R-APP-12).
type AppEndpoints struct {
	Issuer         string `json:"issuer"`
	Discovery      string `json:"discovery_url"`
	Authorization  string `json:"authorization_endpoint,omitempty"`
	Token          string `json:"token_endpoint,omitempty"`
	UserInfo       string `json:"userinfo_endpoint,omitempty"`
	JWKS           string `json:"jwks_uri"`
	EndSession     string `json:"end_session_endpoint,omitempty"`
	CertificatePEM string `json:"certificate_pem_url"`
	SAMLMetadata   string `json:"saml_metadata_url,omitempty"`
	SAMLSSO        string `json:"saml_sso_url,omitempty"`
	SAMLSLO        string `json:"saml_slo_url,omitempty"`
	SAMLEntityID   string `json:"saml_entity_id,omitempty"`
	SAMLIdPInit    string `json:"saml_idp_init_url,omitempty"`
	WSFed          string `json:"wsfed_url,omitempty"`
	WSFedMetadata  string `json:"wsfed_metadata_url,omitempty"`
}

// AppView is an app with its endpoints and, right after creation or
// rotation, its client secret (shown this once).
type AppView struct {
	*app.App
	ClientSecret    string       `json:"client_secret,omitempty"`
	SecretExpiresAt *time.Time   `json:"client_secret_expires_at,omitempty"`
	Endpoints       AppEndpoints `json:"endpoints"`
}

func (a *API) appView(tid string, ap *app.App) AppView {
	md := oidc.Endpoints(a.PublicURL, tid)
	e := AppEndpoints{
		Issuer: md.Issuer, Discovery: md.Issuer + oidc.PathDiscovery, JWKS: md.JWKSURI,
		CertificatePEM: md.Issuer + oidc.PathCertificate,
	}
	switch ap.Protocol {
	case app.SAML:
		e.SAMLMetadata = md.Issuer + "/saml/metadata"
		e.SAMLSSO = md.Issuer + "/saml/sso"
		e.SAMLSLO = md.Issuer + "/saml/slo"
		e.SAMLEntityID = md.Issuer
		e.SAMLIdPInit = md.Issuer + "/saml/idp-init?sp=" + url.QueryEscape(ap.SAML.EntityID)
		// The SAML signer: the token signer when it is RSA, else the
		// tenant's SAML key.
		e.CertificatePEM = md.Issuer + "/saml/certificate.pem"
	case app.WSFed:
		e.WSFed = md.Issuer + "/wsfed"
		e.WSFedMetadata = md.Issuer + "/wsfed/metadata"
		e.CertificatePEM = md.Issuer + "/saml/certificate.pem"
	default:
		e.Token = md.TokenEndpoint
		if ap.Type != app.S2S {
			e.Authorization, e.UserInfo, e.EndSession = md.AuthorizationEndpoint, md.UserInfoEndpoint, md.EndSessionEndpoint
		}
	}
	return AppView{App: ap, Endpoints: e}
}

func (a *API) createdView(tid string, c *app.Created) AppView {
	v := a.appView(tid, c.App)
	v.ClientSecret = c.ClientSecret
	if !c.SecretExpiresAt.IsZero() {
		t := c.SecretExpiresAt
		v.SecretExpiresAt = &t
	}
	return v
}

// AppInput is the body of app create: the app plus secret options.
type AppInput struct {
	app.App
	SecretExpiresAt *time.Time `json:"client_secret_expires_at,omitempty"`
}

func (a *API) createApp(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	in := AppInput{App: app.App{RefreshTokenLifetime: -1}}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	var so app.SecretOptions
	if in.SecretExpiresAt != nil {
		so.ExpiresAt = *in.SecretExpiresAt
	}
	if !in.CreatedAt.IsZero() || !in.UpdatedAt.IsZero() {
		return derrors.Invalidf("created_at", "is set by the server")
	}
	c, err := a.Apps.Create(r.Context(), tid, &in.App, so)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, a.createdView(tid, c))
}

func (a *API) getApp(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	ap, err := a.Apps.Store.GetApp(r.Context(), tid, r.PathValue("client_id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.appView(tid, ap))
}

func (a *API) listApps(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	p, err := pageFrom(r)
	if err != nil {
		return err
	}
	apps, err := a.Apps.Store.ListApps(r.Context(), tid, p.Plus1())
	if err != nil {
		return err
	}
	apps, next := page(apps, p, func(ap *app.App) string { return ap.Name })
	views := make([]AppView, len(apps))
	for i, ap := range apps {
		views[i] = a.appView(tid, ap)
	}
	return writeJSON(w, http.StatusOK, List[AppView]{Items: views, NextCursor: next})
}

// updateApp replaces the app's settings (PUT semantics: absent fields take
// their defaults). client_id in the body, if any, must match the path.
func (a *API) updateApp(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	cid := r.PathValue("client_id")
	in := app.App{RefreshTokenLifetime: -1}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.ClientID != "" && in.ClientID != cid {
		return derrors.Invalidf("client_id", "cannot be changed")
	}
	in.ClientID = cid
	ap, err := a.Apps.Update(r.Context(), tid, &in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.appView(tid, ap))
}

// deleteApp needs ?confirm= with the client ID or the app's name (R-APP-11).
func (a *API) deleteApp(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	cid := r.PathValue("client_id")
	ap, err := a.Apps.Store.GetApp(r.Context(), tid, cid)
	if err != nil {
		return err
	}
	if c := r.URL.Query().Get("confirm"); c == "" || (c != cid && c != ap.Name) {
		return derrors.Invalidf("confirm", "deleting an application is irreversible: repeat its name or client ID to confirm")
	}
	if err := a.Apps.Store.DeleteApp(r.Context(), tid, cid); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// RotateInput is the body of a secret rotation.
type RotateInput struct {
	GracePeriod app.Duration `json:"grace_period"`
	ExpiresAt   *time.Time   `json:"client_secret_expires_at,omitempty"`
}

func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	var in RotateInput
	if err := decodeOptional(w, r, &in); err != nil {
		return err
	}
	so := app.SecretOptions{Grace: in.GracePeriod.D()}
	if in.ExpiresAt != nil {
		so.ExpiresAt = *in.ExpiresAt
	}
	c, err := a.Apps.RotateSecret(r.Context(), tid, r.PathValue("client_id"), so)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.createdView(tid, c))
}

func (a *API) exportApp(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	e, err := a.Apps.Export(r.Context(), tid, r.PathValue("client_id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, e)
}

func (a *API) importApp(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	// An export without refresh_token_lifetime gets the default, as on create.
	e := app.Export{App: &app.App{RefreshTokenLifetime: -1}}
	if err := decode(w, r, &e); err != nil {
		return err
	}
	name := r.URL.Query().Get("name")
	c, err := a.Apps.Import(r.Context(), tid, &e, name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, a.createdView(tid, c))
}

func (a *API) appOf(r *http.Request) (tid, cid string, err error) {
	tid, err = a.ctxTenant(r.Context(), r)
	if err != nil {
		return "", "", err
	}
	cid = r.PathValue("client_id")
	if _, err := a.Apps.Store.GetApp(r.Context(), tid, cid); err != nil {
		return "", "", err
	}
	return tid, cid, nil
}

func (a *API) listPermissions(w http.ResponseWriter, r *http.Request) error {
	tid, cid, err := a.appOf(r)
	if err != nil {
		return err
	}
	ps, err := a.Apps.Store.ListPermissions(r.Context(), tid, cid)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, List[*app.Permission]{Items: ps})
}

func (a *API) createPermission(w http.ResponseWriter, r *http.Request) error {
	tid, cid, err := a.appOf(r)
	if err != nil {
		return err
	}
	var in app.Permission
	if err := decode(w, r, &in); err != nil {
		return err
	}
	p, err := a.Apps.CreatePermission(r.Context(), tid, cid, &in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, p)
}

func (a *API) getPermission(w http.ResponseWriter, r *http.Request) error {
	tid, cid, err := a.appOf(r)
	if err != nil {
		return err
	}
	p, err := a.Apps.Store.GetPermission(r.Context(), tid, cid, r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (a *API) updatePermission(w http.ResponseWriter, r *http.Request) error {
	tid, cid, err := a.appOf(r)
	if err != nil {
		return err
	}
	// PATCH: absent fields keep their values.
	var in struct {
		Name        *string `json:"name"`
		Description *string `json:"description"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	name := r.PathValue("name")
	cur, err := a.Apps.Store.GetPermission(r.Context(), tid, cid, name)
	if err != nil {
		return err
	}
	up := app.Permission{Name: cur.Name, Description: cur.Description}
	if in.Name != nil {
		up.Name = *in.Name
	}
	if in.Description != nil {
		up.Description = *in.Description
	}
	p, err := a.Apps.UpdatePermission(r.Context(), tid, cid, name, &up)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (a *API) deletePermission(w http.ResponseWriter, r *http.Request) error {
	tid, cid, err := a.appOf(r)
	if err != nil {
		return err
	}
	if err := a.Apps.Store.DeletePermission(r.Context(), tid, cid, r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
