package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
)

const appCols = "client_id, settings, created_at, updated_at"

// The settings column holds the whole App as JSON; name, type and protocol
// are also columns for uniqueness and listing.
func appSettings(a *app.App) (string, error) {
	b, err := json.Marshal(a)
	return string(b), err
}

// entityID is the value of the entity_id column: the SP entity ID of a SAML
// app, the realm of a WS-Federation app, NULL for the others.
func entityID(a *app.App) any {
	switch {
	case a.Protocol == app.SAML && a.SAML != nil:
		return a.SAML.EntityID
	case a.Protocol == app.WSFed && a.WSFed != nil:
		return a.WSFed.Realm
	}
	return nil
}

func scanApp(row interface{ Scan(...any) error }) (*app.App, error) {
	var clientID, settings string
	var c, u int64
	if err := row.Scan(&clientID, &settings, &c, &u); err != nil {
		return nil, err
	}
	var a app.App
	if err := json.Unmarshal([]byte(settings), &a); err != nil {
		return nil, err
	}
	a.ClientID, a.CreatedAt, a.UpdatedAt = clientID, fromMicros(c), fromMicros(u)
	return &a, nil
}

func appConflict(err error, a *app.App) error {
	c, ok := uniqueViolation(err)
	if !ok {
		return err
	}
	// Only the (tenant_id, name) constraint mentions "name" (PostgreSQL
	// apps_name_key, SQLite "apps.tenant_id, apps.name"); the others, the
	// primary key (tenant_id, client_id) included, are client ID clashes.
	switch {
	case strings.Contains(c, "entity_id") && a.Protocol == app.WSFed:
		return derrors.Conflictf("wsfed.realm", "another WS-Federation application of this tenant has this realm")
	case strings.Contains(c, "entity_id"):
		return derrors.Conflictf("saml.entity_id", "another SAML application of this tenant has this entity ID")
	case strings.Contains(c, "name"):
		return derrors.Conflictf("name", "an application named %q already exists in this tenant", a.Name)
	}
	return derrors.Conflictf("client_id", "client ID already in use")
}

// CreateApp inserts a and its first secret, refusing to go past maxApps
// applications in the tenant (R-TEN-4).
func (d *DB) CreateApp(ctx context.Context, tenantID string, a *app.App, s *app.Secret, maxApps int) error {
	settings, err := appSettings(a)
	if err != nil {
		return err
	}
	return d.tx(ctx, func(tx *sql.Tx) error {
		if err := d.lockTenant(ctx, tx, tenantID); err != nil {
			return err
		}
		var n int
		if err := d.row(ctx, tx, "SELECT COUNT(*) FROM apps WHERE tenant_id = ?", tenantID).Scan(&n); err != nil {
			return err
		}
		if n >= maxApps {
			return derrors.Limitf("applications", "the tenant has reached its limit of %d applications (limit max_apps_per_tenant)", maxApps)
		}
		_, err := d.exec(ctx, tx, "INSERT INTO apps (tenant_id, client_id, name, type, protocol, entity_id, settings, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			tenantID, a.ClientID, a.Name, string(a.Type), string(a.Protocol), entityID(a), settings, micros(a.CreatedAt), micros(a.UpdatedAt))
		if err != nil {
			return appConflict(err, a)
		}
		if s != nil {
			return d.insertSecret(ctx, tx, tenantID, a.ClientID, s)
		}
		return nil
	})
}

func (d *DB) insertSecret(ctx context.Context, tx *sql.Tx, tenantID, clientID string, s *app.Secret) error {
	_, err := d.exec(ctx, tx, "INSERT INTO app_secrets (tenant_id, client_id, id, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
		tenantID, clientID, s.ID, s.Hash, micros(s.CreatedAt), micros(s.ExpiresAt))
	return err
}

// GetApp loads one app of the tenant.
func (d *DB) GetApp(ctx context.Context, tenantID, clientID string) (*app.App, error) {
	a, err := scanApp(d.row(ctx, nil, "SELECT "+appCols+" FROM apps WHERE tenant_id = ? AND client_id = ?", tenantID, clientID))
	if err != nil {
		return nil, notFoundIfNoRows(err, "application %q not found", clientID)
	}
	return a, nil
}

// GetClient loads an app with its secrets in one query: the token
// endpoint's lookup. The returned App is shared and must not be modified.
func (d *DB) GetClient(ctx context.Context, tenantID, clientID string) (*app.App, []app.Secret, error) {
	if !d.Cached() {
		return d.getClient(ctx, tenantID, clientID)
	}
	cc, gen, ok := d.clients.get(tenantID, clientID)
	if ok {
		return cc.app, cc.secrets, nil
	}
	a, secrets, err := d.getClient(ctx, tenantID, clientID)
	if err == nil {
		d.clients.put(tenantID, clientID, gen, cachedClient{app: a, secrets: secrets})
	}
	return a, secrets, err
}

func (d *DB) getClient(ctx context.Context, tenantID, clientID string) (*app.App, []app.Secret, error) {
	rows, err := d.rows(ctx, nil, `SELECT a.settings, a.created_at, a.updated_at, s.id, s.hash, s.created_at, s.expires_at
FROM apps a LEFT JOIN app_secrets s ON s.tenant_id = a.tenant_id AND s.client_id = a.client_id
WHERE a.tenant_id = ? AND a.client_id = ?`, tenantID, clientID)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var a *app.App
	var secrets []app.Secret
	for rows.Next() {
		var settings sql.RawBytes
		var c, u int64
		var sid, hash sql.NullString
		var sc, se sql.NullInt64
		if err := rows.Scan(&settings, &c, &u, &sid, &hash, &sc, &se); err != nil {
			return nil, nil, err
		}
		if a == nil {
			a, err = d.cachedDecode(clientID, c, u, settings, func(b []byte) (*app.App, error) {
				var x app.App
				if err := json.Unmarshal(b, &x); err != nil {
					return nil, err
				}
				x.ClientID, x.CreatedAt, x.UpdatedAt = clientID, fromMicros(c), fromMicros(u)
				return &x, nil
			})
			if err != nil {
				return nil, nil, err
			}
		}
		if sid.Valid {
			secrets = append(secrets, app.Secret{ID: sid.String, Hash: hash.String, CreatedAt: fromMicros(sc.Int64), ExpiresAt: fromMicros(se.Int64)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	if a == nil {
		return nil, nil, derrors.NotFoundf("application %q not found", clientID)
	}
	return a, secrets, nil
}

// AppByEntityID loads the app of the tenant with the given protocol (SAML
// or WS-Federation) and SP entity ID or realm.
func (d *DB) AppByEntityID(ctx context.Context, tenantID string, protocol app.Protocol, id string) (*app.App, error) {
	a, err := scanApp(d.row(ctx, nil, "SELECT "+appCols+" FROM apps WHERE tenant_id = ? AND protocol = ? AND entity_id = ?", tenantID, string(protocol), id))
	if err != nil {
		return nil, notFoundIfNoRows(err, "no %s application with this entity ID", protocol)
	}
	return a, nil
}

// ListApps lists a tenant's apps by name after the cursor.
func (d *DB) ListApps(ctx context.Context, tenantID string, p tenant.Page) ([]*app.App, error) {
	rows, err := d.rows(ctx, nil, "SELECT "+appCols+" FROM apps WHERE tenant_id = ? AND name > ? ORDER BY name LIMIT ?", tenantID, p.Cursor, p.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*app.App
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// UpdateApp replaces the stored app.
func (d *DB) UpdateApp(ctx context.Context, tenantID string, a *app.App) error {
	defer d.clients.invalidate()
	settings, err := appSettings(a)
	if err != nil {
		return err
	}
	res, err := d.exec(ctx, nil, "UPDATE apps SET name = ?, protocol = ?, entity_id = ?, settings = ?, updated_at = ? WHERE tenant_id = ? AND client_id = ?",
		a.Name, string(a.Protocol), entityID(a), settings, micros(a.UpdatedAt), tenantID, a.ClientID)
	if err != nil {
		return appConflict(err, a)
	}
	return rowsOrNotFound(res, nil, "application %q not found", a.ClientID)
}

// DeleteApp removes the app with its secrets and permissions.
func (d *DB) DeleteApp(ctx context.Context, tenantID, clientID string) error {
	defer d.clients.invalidate()
	res, err := d.exec(ctx, nil, "DELETE FROM apps WHERE tenant_id = ? AND client_id = ?", tenantID, clientID)
	return rowsOrNotFound(res, err, "application %q not found", clientID)
}

// RotateSecret adds s; the app's other secrets expire at oldExpiry at the
// latest, or are removed when oldExpiry is zero.
func (d *DB) RotateSecret(ctx context.Context, tenantID, clientID string, s *app.Secret, oldExpiry time.Time) error {
	defer d.clients.invalidate()
	return d.tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := d.row(ctx, tx, "SELECT 1 FROM apps WHERE tenant_id = ? AND client_id = ?", tenantID, clientID).Scan(&one)
		if err != nil {
			return notFoundIfNoRows(err, "application %q not found", clientID)
		}
		if oldExpiry.IsZero() {
			_, err = d.exec(ctx, tx, "DELETE FROM app_secrets WHERE tenant_id = ? AND client_id = ?", tenantID, clientID)
		} else {
			exp := micros(oldExpiry)
			_, err = d.exec(ctx, tx, "UPDATE app_secrets SET expires_at = ? WHERE tenant_id = ? AND client_id = ? AND (expires_at = 0 OR expires_at > ?)",
				exp, tenantID, clientID, exp)
		}
		if err != nil {
			return err
		}
		return d.insertSecret(ctx, tx, tenantID, clientID, s)
	})
}
