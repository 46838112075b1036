package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/ui"
)

// The theme of a tenant's login and consent pages (R-OID-9): one row per
// tenant that has one, holding the ui.Theme as JSON. The store keeps what
// it is given; the admin API validates a theme before saving it, and the
// pages sanitize what they read.

// GetTheme returns the tenant's saved theme and when it was saved. A tenant
// without a theme (or no such tenant) is NotFound: its pages use the
// default theme.
func (d *DB) GetTheme(ctx context.Context, tenantID string) (ui.Theme, time.Time, error) {
	var (
		raw string
		at  int64
	)
	err := d.row(ctx, nil, "SELECT theme, updated_at FROM tenant_themes WHERE tenant_id = ?", tenantID).Scan(&raw, &at)
	if err != nil {
		return ui.Theme{}, time.Time{}, notFoundIfNoRows(err, "tenant %q has no theme", tenantID)
	}
	var t ui.Theme
	if err := json.Unmarshal([]byte(raw), &t); err != nil {
		return ui.Theme{}, time.Time{}, fmt.Errorf("store: theme of tenant %q: %w", tenantID, err)
	}
	return t, fromMicros(at), nil
}

// SaveTheme sets (or replaces) the tenant's theme, saved at the time at. A
// missing tenant is NotFound.
func (d *DB) SaveTheme(ctx context.Context, tenantID string, t ui.Theme, at time.Time) error {
	raw, err := json.Marshal(t)
	if err != nil {
		return err
	}
	_, err = d.exec(ctx, nil, `INSERT INTO tenant_themes (tenant_id, theme, updated_at) VALUES (?, ?, ?)
ON CONFLICT (tenant_id) DO UPDATE SET theme = excluded.theme, updated_at = excluded.updated_at`, tenantID, string(raw), micros(at))
	if foreignKeyViolation(err) {
		return derrors.NotFoundf("tenant %q not found", tenantID)
	}
	return err
}

// DeleteTheme removes the tenant's theme, so that its pages use the default
// again. Deleting a theme that is not there is no error.
func (d *DB) DeleteTheme(ctx context.Context, tenantID string) error {
	_, err := d.exec(ctx, nil, "DELETE FROM tenant_themes WHERE tenant_id = ?", tenantID)
	return err
}
