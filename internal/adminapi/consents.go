package adminapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/grant"
)

// A user's consents to third-party apps (R-OID-9): listed, and revoked with
// the grants made under them.

// ConsentStore keeps the consents users gave apps (the grant store).
type ConsentStore interface {
	ListConsents(ctx context.Context, tenantID, userID string) ([]*grant.Consent, error)
	RevokeConsent(ctx context.Context, tenantID, userID, clientID string, at time.Time) (int64, error)
}

// ConsentView is a consent as the API shows it.
type ConsentView struct {
	ClientID  string    `json:"client_id"`
	AppName   string    `json:"app_name"`
	Scopes    []string  `json:"scopes"`
	GrantedAt time.Time `json:"granted_at"`
}

// ConsentRevocation is the answer to a revocation: the consent is gone and
// so are the grants (token families) made under it.
type ConsentRevocation struct {
	ClientID      string `json:"client_id"`
	RevokedGrants int64  `json:"revoked_grants"`
}

// listConsents lists the apps a user consented to, by client ID.
func (a *API) listConsents(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	tid, err := a.ctxTenant(ctx, r)
	if err != nil {
		return err
	}
	uid := r.PathValue("user_id")
	if _, err := a.Users.Store.GetUser(ctx, tid, uid); err != nil {
		return err
	}
	cs, err := a.Consents.ListConsents(ctx, tid, uid)
	if err != nil {
		return err
	}
	views := make([]ConsentView, 0, len(cs))
	for _, c := range cs {
		ap, err := a.Apps.Store.GetApp(ctx, tid, c.ClientID)
		if derrors.Is(err, derrors.NotFound) {
			// Deleted since the list was read: its consents went with it.
			continue
		}
		if err != nil {
			return err
		}
		scopes := c.Scope
		if scopes == nil {
			scopes = []string{}
		}
		views = append(views, ConsentView{ClientID: c.ClientID, AppName: ap.Name, Scopes: scopes, GrantedAt: c.CreatedAt.UTC()})
	}
	return writeJSON(w, http.StatusOK, List[ConsentView]{Items: views})
}

// revokeConsent withdraws a user's consent to an app: the next sign-in to
// it asks again, and the app's refresh and access tokens for the user stop
// working at once.
func (a *API) revokeConsent(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	tid, err := a.ctxTenant(ctx, r)
	if err != nil {
		return err
	}
	uid, cid := r.PathValue("user_id"), r.PathValue("client_id")
	if _, err := a.Users.Store.GetUser(ctx, tid, uid); err != nil {
		return err
	}
	n, err := a.Consents.RevokeConsent(ctx, tid, uid, cid, a.Now())
	if derrors.Is(err, derrors.NotFound) {
		return derrors.NotFoundf("user %s has no consent to application %s", uid, cid)
	}
	if err != nil {
		return err
	}
	a.Log.InfoContext(ctx, "consent revoked", "tenant", tid, "user_id", uid, "client_id", cid, "revoked_grants", n)
	return writeJSON(w, http.StatusOK, ConsentRevocation{ClientID: cid, RevokedGrants: n})
}
