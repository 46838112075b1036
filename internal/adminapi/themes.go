package adminapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/ui"
)

// ThemeStore keeps the theme of each tenant's login and consent pages
// (R-OID-9): store.DB. A tenant without a theme is NotFound on GetTheme.
type ThemeStore interface {
	GetTheme(ctx context.Context, tenantID string) (ui.Theme, time.Time, error)
	SaveTheme(ctx context.Context, tenantID string, t ui.Theme, at time.Time) error
	DeleteTheme(ctx context.Context, tenantID string) error
}

// ThemeView is a tenant's theme: the values saved (empty ones mean the
// default), whether there is a saved theme at all, and the theme the pages
// are drawn with.
type ThemeView struct {
	ui.Theme
	Custom    bool       `json:"custom"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
	Effective ui.Theme   `json:"effective"`
}

func themeView(t ui.Theme, at time.Time, custom bool) ThemeView {
	v := ThemeView{Theme: t, Custom: custom, Effective: t.Sanitize()}
	if custom {
		v.UpdatedAt = &at
	}
	return v
}

// validateTheme checks an administrator's theme by ui.Theme's rules
// (colours #rrggbb, an https logo URL, bounded one-line texts) and
// normalises it; the error names the body field.
func validateTheme(t *ui.Theme) error {
	var fe *ui.FieldError
	if err := t.Validate(); errors.As(err, &fe) {
		return derrors.Invalidf(fe.Field, "%s", fe.Reason)
	} else if err != nil {
		return err
	}
	return nil
}

func (a *API) getTheme(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	t, at, err := a.Themes.GetTheme(r.Context(), tid)
	switch {
	case derrors.Is(err, derrors.NotFound):
		return writeJSON(w, http.StatusOK, themeView(ui.Theme{}, time.Time{}, false))
	case err != nil:
		return err
	}
	return writeJSON(w, http.StatusOK, themeView(t, at, true))
}

// putTheme replaces the tenant's theme; fields left out or empty take the
// default.
func (a *API) putTheme(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	var t ui.Theme
	if err := decode(w, r, &t); err != nil {
		return err
	}
	if err := validateTheme(&t); err != nil {
		return err
	}
	at := a.Now().UTC().Truncate(time.Microsecond)
	if err := a.Themes.SaveTheme(r.Context(), tid, t, at); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, themeView(t, at, true))
}

// deleteTheme goes back to the default theme; without a theme it does
// nothing and succeeds.
func (a *API) deleteTheme(w http.ResponseWriter, r *http.Request) error {
	tid, err := a.ctxTenant(r.Context(), r)
	if err != nil {
		return err
	}
	if err := a.Themes.DeleteTheme(r.Context(), tid); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
