package adminapi

import (
	"net/http"
	"time"
)

// KeyView is a signing key's public description: never its private part.
type KeyView struct {
	KID            string     `json:"kid"`
	Alg            string     `json:"alg"`
	State          string     `json:"state"`
	CreatedAt      time.Time  `json:"created_at"`
	RetireAt       *time.Time `json:"retire_at,omitempty"`
	CertificatePEM string     `json:"certificate_pem"`
}

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	ks, err := a.Keys.Get(r.Context(), tid)
	if err != nil {
		return err
	}
	out := make([]KeyView, 0, len(ks.Keys))
	for _, k := range ks.Keys {
		v := KeyView{KID: k.KID, Alg: k.Alg, State: k.State, CreatedAt: k.CreatedAt, CertificatePEM: k.CertPEM()}
		if !k.RetireAt.IsZero() {
			t := k.RetireAt
			v.RetireAt = &t
		}
		out = append(out, v)
	}
	return writeJSON(w, http.StatusOK, List[KeyView]{Items: out})
}

func (a *API) rotateKeys(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	t, err := a.Tenants.GetTenant(r.Context(), tid)
	if err != nil {
		return err
	}
	if err := a.Keys.Rotate(r.Context(), tid, t.SigningAlg); err != nil {
		return err
	}
	return a.listKeys(w, r)
}

// certificate serves the active signer certificate as a PEM download (R-APP-12).
func (a *API) certificate(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	ks, err := a.Keys.Get(r.Context(), tid)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Disposition", `attachment; filename="`+tid+`-signing.pem"`)
	_, err = w.Write([]byte(ks.Active().CertPEM()))
	return err
}
