package store

import (
	"context"
	"database/sql"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/derrors"
)

const permCols = "name, description, created_at, updated_at"

func scanPermission(row interface{ Scan(...any) error }) (*app.Permission, error) {
	var p app.Permission
	var c, u int64
	if err := row.Scan(&p.Name, &p.Description, &c, &u); err != nil {
		return nil, err
	}
	p.CreatedAt, p.UpdatedAt = fromMicros(c), fromMicros(u)
	return &p, nil
}

func (d *DB) lockApp(ctx context.Context, tx *sql.Tx, tenantID, clientID string) error {
	query := "SELECT 1 FROM apps WHERE tenant_id = ? AND client_id = ?"
	if d.dialect == Postgres {
		query += " FOR UPDATE"
	}
	var one int
	err := d.row(ctx, tx, query, tenantID, clientID).Scan(&one)
	return notFoundIfNoRows(err, "application %q not found", clientID)
}

// CreatePermission adds p to the app, at most maxPerms per app (R-TEN-4).
func (d *DB) CreatePermission(ctx context.Context, tenantID, clientID string, p *app.Permission, maxPerms int) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		if err := d.lockApp(ctx, tx, tenantID, clientID); err != nil {
			return err
		}
		var n int
		if err := d.row(ctx, tx, "SELECT COUNT(*) FROM permissions WHERE tenant_id = ? AND client_id = ?", tenantID, clientID).Scan(&n); err != nil {
			return err
		}
		if n >= maxPerms {
			return derrors.Limitf("permissions", "the application has reached its limit of %d permissions (limit max_permissions_per_app)", maxPerms)
		}
		_, err := d.exec(ctx, tx, "INSERT INTO permissions (tenant_id, client_id, "+permCols+") VALUES (?, ?, ?, ?, ?, ?)",
			tenantID, clientID, p.Name, p.Description, micros(p.CreatedAt), micros(p.UpdatedAt))
		if _, ok := uniqueViolation(err); ok {
			return derrors.Conflictf("name", "permission %q already exists in this application", p.Name)
		}
		return err
	})
}

// GetPermission loads one permission.
func (d *DB) GetPermission(ctx context.Context, tenantID, clientID, name string) (*app.Permission, error) {
	p, err := scanPermission(d.row(ctx, nil, "SELECT "+permCols+" FROM permissions WHERE tenant_id = ? AND client_id = ? AND name = ?", tenantID, clientID, name))
	if err != nil {
		return nil, notFoundIfNoRows(err, "permission %q not found", name)
	}
	return p, nil
}

// ListPermissions lists the app's permissions, last modified first (R-PRM-1).
func (d *DB) ListPermissions(ctx context.Context, tenantID, clientID string) ([]*app.Permission, error) {
	rows, err := d.rows(ctx, nil, "SELECT "+permCols+" FROM permissions WHERE tenant_id = ? AND client_id = ? ORDER BY updated_at DESC, name", tenantID, clientID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*app.Permission{}
	for rows.Next() {
		p, err := scanPermission(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// UpdatePermission renames or re-describes the permission called name.
func (d *DB) UpdatePermission(ctx context.Context, tenantID, clientID, name string, p *app.Permission) error {
	res, err := d.exec(ctx, nil, "UPDATE permissions SET name = ?, description = ?, updated_at = ? WHERE tenant_id = ? AND client_id = ? AND name = ?",
		p.Name, p.Description, micros(p.UpdatedAt), tenantID, clientID, name)
	if _, ok := uniqueViolation(err); ok {
		return derrors.Conflictf("name", "permission %q already exists in this application", p.Name)
	}
	return rowsOrNotFound(res, err, "permission %q not found", name)
}

// DeletePermission removes a permission.
func (d *DB) DeletePermission(ctx context.Context, tenantID, clientID, name string) error {
	res, err := d.exec(ctx, nil, "DELETE FROM permissions WHERE tenant_id = ? AND client_id = ? AND name = ?", tenantID, clientID, name)
	return rowsOrNotFound(res, err, "permission %q not found", name)
}
