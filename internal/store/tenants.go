package store

import (
	"context"
	"database/sql"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
)

const tenantCols = "name, display_name, signing_alg, consent_policy, created_at, updated_at"

// CreateTenant inserts t; a taken name is a Conflict on "name".
func (d *DB) CreateTenant(ctx context.Context, t *tenant.Tenant) error {
	_, err := d.exec(ctx, nil, "INSERT INTO tenants ("+tenantCols+") VALUES (?, ?, ?, ?, ?, ?)",
		t.Name, t.DisplayName, t.SigningAlg, t.ConsentPolicy, micros(t.CreatedAt), micros(t.UpdatedAt))
	if _, ok := uniqueViolation(err); ok {
		return derrors.Conflictf("name", "tenant %q already exists", t.Name)
	}
	return err
}

func scanTenant(row interface{ Scan(...any) error }) (*tenant.Tenant, error) {
	var t tenant.Tenant
	var c, u int64
	if err := row.Scan(&t.Name, &t.DisplayName, &t.SigningAlg, &t.ConsentPolicy, &c, &u); err != nil {
		return nil, err
	}
	t.CreatedAt, t.UpdatedAt = fromMicros(c), fromMicros(u)
	return &t, nil
}

// GetTenant loads a tenant by name.
func (d *DB) GetTenant(ctx context.Context, name string) (*tenant.Tenant, error) {
	t, err := scanTenant(d.row(ctx, nil, "SELECT "+tenantCols+" FROM tenants WHERE name = ?", name))
	if err != nil {
		return nil, notFoundIfNoRows(err, "tenant %q not found", name)
	}
	return t, nil
}

// UpdateTenant changes the display name, signing algorithm and consent
// policy.
func (d *DB) UpdateTenant(ctx context.Context, t *tenant.Tenant) error {
	res, err := d.exec(ctx, nil, "UPDATE tenants SET display_name = ?, signing_alg = ?, consent_policy = ?, updated_at = ? WHERE name = ?",
		t.DisplayName, t.SigningAlg, t.ConsentPolicy, micros(t.UpdatedAt), t.Name)
	return rowsOrNotFound(res, err, "tenant %q not found", t.Name)
}

// ListTenants lists tenants by name after the cursor.
func (d *DB) ListTenants(ctx context.Context, p tenant.Page) ([]*tenant.Tenant, error) {
	rows, err := d.rows(ctx, nil, "SELECT "+tenantCols+" FROM tenants WHERE name > ? ORDER BY name LIMIT ?", p.Cursor, p.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*tenant.Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteTenant removes a tenant and, by cascade, everything it owns.
func (d *DB) DeleteTenant(ctx context.Context, name string) error {
	defer d.clients.invalidate()
	res, err := d.exec(ctx, nil, "DELETE FROM tenants WHERE name = ?", name)
	return rowsOrNotFound(res, err, "tenant %q not found", name)
}

func rowsOrNotFound(res sql.Result, err error, format string, args ...any) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return derrors.NotFoundf(format, args...)
	}
	return nil
}
