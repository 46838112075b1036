package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/integration"
)

// HTTP integrations (issue 11): integration.Store. The config column holds
// the integration without secrets; the secrets column their JSON, sealed
// with the master key and bound to tenant and name, so that a sealed value
// copied to another row does not open.

// nullable is s, or NULL when empty.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func integrationAAD(tenantID, name string) []byte {
	return []byte("integrations\x00" + tenantID + "\x00" + name)
}

// integrationSecrets is the sealed part of a row.
type integrationSecrets struct {
	Service integration.Secrets  `json:"service"`
	Action  *integration.Secrets `json:"action,omitempty"`
}

// integrationRow splits i into its config JSON and sealed secrets.
func (d *DB) integrationRow(i *integration.Integration) (string, string, error) {
	sec := integrationSecrets{Service: i.ServiceAuth.Secrets()}
	pub := *i
	pub.ServiceAuth.SetSecrets(integration.Secrets{})
	pub.ServiceAuth.SecretsSet = nil
	if i.ActionAuth != nil {
		s := i.ActionAuth.Secrets()
		sec.Action = &s
		a := *i.ActionAuth
		a.SetSecrets(integration.Secrets{})
		a.SecretsSet = nil
		pub.ActionAuth = &a
	}
	cfg, err := json.Marshal(pub)
	if err != nil {
		return "", "", err
	}
	raw, err := json.Marshal(sec)
	if err != nil {
		return "", "", err
	}
	sealed, err := d.seal.Seal(raw, integrationAAD(i.TenantID, i.Name))
	return string(cfg), sealed, err
}

// CreateIntegration implements integration.Store.
func (d *DB) CreateIntegration(ctx context.Context, i *integration.Integration) error {
	cfg, sealed, err := d.integrationRow(i)
	if err != nil {
		return err
	}
	_, err = d.exec(ctx, nil, `INSERT INTO integrations (tenant_id, name, config, secrets, icon, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		i.TenantID, i.Name, cfg, sealed, nullable(i.Icon), micros(i.CreatedAt), micros(i.UpdatedAt))
	if _, dup := uniqueViolation(err); dup {
		return derrors.Conflictf("name", "integration %q already exists", i.Name)
	}
	if foreignKeyViolation(err) {
		return derrors.NotFoundf("tenant %q not found", i.TenantID)
	}
	return err
}

// scanIntegration rebuilds an integration from its row.
func (d *DB) scanIntegration(tenantID, name, cfg, sealed string, created, updated int64) (*integration.Integration, error) {
	var i integration.Integration
	if err := json.Unmarshal([]byte(cfg), &i); err != nil {
		return nil, fmt.Errorf("store: integration %q: %w", name, err)
	}
	raw, err := d.seal.Open(sealed, integrationAAD(tenantID, name))
	if err != nil {
		return nil, fmt.Errorf("store: integration %q: secrets: %w", name, err)
	}
	var sec integrationSecrets
	if err := json.Unmarshal(raw, &sec); err != nil {
		return nil, fmt.Errorf("store: integration %q: secrets: %w", name, err)
	}
	i.ServiceAuth.SetSecrets(sec.Service)
	if i.ActionAuth != nil && sec.Action != nil {
		i.ActionAuth.SetSecrets(*sec.Action)
	}
	i.TenantID, i.Name, i.CreatedAt, i.UpdatedAt = tenantID, name, fromMicros(created), fromMicros(updated)
	return &i, nil
}

// GetIntegration implements integration.Store. What it returns may be
// shared with other callers (the cache, kept as the user cache is: every
// write transaction drops it, and on PostgreSQL other replicas' writes
// too): read it, never change it.
func (d *DB) GetIntegration(ctx context.Context, tenantID, name string) (*integration.Integration, error) {
	if !d.Cached() {
		return d.getIntegration(ctx, tenantID, name)
	}
	i, gen, ok := d.integrations.get(tenantID, name)
	if ok {
		return i, nil
	}
	i, err := d.getIntegration(ctx, tenantID, name)
	if err == nil {
		d.integrations.put(tenantID, name, gen, i)
	}
	return i, err
}

func (d *DB) getIntegration(ctx context.Context, tenantID, name string) (*integration.Integration, error) {
	var cfg, sealed string
	var created, updated int64
	err := d.row(ctx, nil, "SELECT config, secrets, created_at, updated_at FROM integrations WHERE tenant_id = ? AND name = ?", tenantID, name).
		Scan(&cfg, &sealed, &created, &updated)
	if err != nil {
		return nil, notFoundIfNoRows(err, "integration %q not found", name)
	}
	return d.scanIntegration(tenantID, name, cfg, sealed, created, updated)
}

// ListIntegrations implements integration.Store.
func (d *DB) ListIntegrations(ctx context.Context, tenantID, after string, limit int) ([]*integration.Integration, error) {
	rows, err := d.rows(ctx, nil, "SELECT name, config, secrets, created_at, updated_at FROM integrations WHERE tenant_id = ? AND name > ? ORDER BY name LIMIT ?", tenantID, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*integration.Integration
	for rows.Next() {
		var name, cfg, sealed string
		var created, updated int64
		if err := rows.Scan(&name, &cfg, &sealed, &created, &updated); err != nil {
			return nil, err
		}
		i, err := d.scanIntegration(tenantID, name, cfg, sealed, created, updated)
		if err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// UpdateIntegration implements integration.Store.
func (d *DB) UpdateIntegration(ctx context.Context, i *integration.Integration) error {
	cfg, sealed, err := d.integrationRow(i)
	if err != nil {
		return err
	}
	res, err := d.exec(ctx, nil, "UPDATE integrations SET config = ?, secrets = ?, icon = ?, updated_at = ? WHERE tenant_id = ? AND name = ?",
		cfg, sealed, nullable(i.Icon), micros(i.UpdatedAt), i.TenantID, i.Name)
	return rowsOrNotFound(res, err, "integration %q not found", i.Name)
}

// DeleteIntegration implements integration.Store.
func (d *DB) DeleteIntegration(ctx context.Context, tenantID, name string) error {
	res, err := d.exec(ctx, nil, "DELETE FROM integrations WHERE tenant_id = ? AND name = ?", tenantID, name)
	return rowsOrNotFound(res, err, "integration %q not found", name)
}

// SaveIcon implements integration.Store.
func (d *DB) SaveIcon(ctx context.Context, ic *integration.Icon) error {
	_, err := d.exec(ctx, nil, `INSERT INTO integration_icons (tenant_id, id, png, removed, created_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (tenant_id, id) DO UPDATE SET removed = excluded.removed`, ic.TenantID, ic.ID, ic.PNG, false, micros(ic.CreatedAt))
	if foreignKeyViolation(err) {
		return derrors.NotFoundf("tenant %q not found", ic.TenantID)
	}
	return err
}

// GetIcon implements integration.Store.
func (d *DB) GetIcon(ctx context.Context, tenantID, id string) (*integration.Icon, error) {
	ic := &integration.Icon{TenantID: tenantID, ID: id}
	var created int64
	err := d.row(ctx, nil, "SELECT png, removed, created_at FROM integration_icons WHERE tenant_id = ? AND id = ?", tenantID, id).Scan(&ic.PNG, &ic.Removed, &created)
	if err != nil {
		return nil, notFoundIfNoRows(err, "icon %q not found", id)
	}
	ic.CreatedAt = fromMicros(created)
	return ic, nil
}

// ListIcons implements integration.Store.
func (d *DB) ListIcons(ctx context.Context, tenantID string) ([]*integration.Icon, error) {
	rows, err := d.rows(ctx, nil, "SELECT id, created_at FROM integration_icons WHERE tenant_id = ? AND removed = ? ORDER BY created_at, id", tenantID, false)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*integration.Icon
	for rows.Next() {
		ic := &integration.Icon{TenantID: tenantID}
		var created int64
		if err := rows.Scan(&ic.ID, &created); err != nil {
			return nil, err
		}
		ic.CreatedAt = fromMicros(created)
		out = append(out, ic)
	}
	return out, rows.Err()
}

// RemoveIcon implements integration.Store.
func (d *DB) RemoveIcon(ctx context.Context, tenantID, id string) error {
	res, err := d.exec(ctx, nil, "UPDATE integration_icons SET removed = ? WHERE tenant_id = ? AND id = ? AND removed = ?", true, tenantID, id, false)
	return rowsOrNotFound(res, err, "icon %q not found", id)
}

func integrationTokenAAD(tenantID, name, subject string) []byte {
	return []byte("integration_tokens\x00" + tenantID + "\x00" + name + "\x00" + subject)
}

// GetIntegrationToken returns the sealed-at-rest OAuth token of an
// integration's subject ("" for the service account, a user ID for service
// actions), opened; NotFound when there is none.
func (d *DB) GetIntegrationToken(ctx context.Context, tenantID, name, subject string) ([]byte, error) {
	var sealed string
	err := d.row(ctx, nil, "SELECT token FROM integration_tokens WHERE tenant_id = ? AND integration = ? AND subject = ?", tenantID, name, subject).Scan(&sealed)
	if err != nil {
		return nil, notFoundIfNoRows(err, "no token for integration %q", name)
	}
	return d.seal.Open(sealed, integrationTokenAAD(tenantID, name, subject))
}

// SaveIntegrationToken stores (or replaces) a subject's token, sealed; a
// missing integration is NotFound.
func (d *DB) SaveIntegrationToken(ctx context.Context, tenantID, name, subject string, token []byte, at time.Time) error {
	sealed, err := d.seal.Seal(token, integrationTokenAAD(tenantID, name, subject))
	if err != nil {
		return err
	}
	_, err = d.grantExec(ctx, `INSERT INTO integration_tokens (tenant_id, integration, subject, token, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (tenant_id, integration, subject) DO UPDATE SET token = excluded.token, updated_at = excluded.updated_at`,
		tenantID, name, subject, sealed, micros(at))
	if foreignKeyViolation(err) {
		return derrors.NotFoundf("integration %q not found", name)
	}
	return err
}

// DeleteIntegrationTokens deletes an integration's tokens: the service
// account's (service), the users' (users), or both.
func (d *DB) DeleteIntegrationTokens(ctx context.Context, tenantID, name string, service, users bool) error {
	q := "DELETE FROM integration_tokens WHERE tenant_id = ? AND integration = ?"
	switch {
	case service && users:
	case service:
		q += " AND subject = ''"
	case users:
		q += " AND subject <> ''"
	default:
		return nil
	}
	_, err := d.grantExec(ctx, q, tenantID, name)
	return err
}

// UpdateIntegrationToken reads a subject's token (nil when there is none),
// lets next decide the new one (nil: keep it) and stores that, holding a
// lock every replica respects (PostgreSQL: a transaction-scoped advisory
// lock, the read and write in that transaction; SQLite, one process: a
// mutex per token), so that two replicas never spend one
// refresh token twice. It returns the token in force afterwards.
func (d *DB) UpdateIntegrationToken(ctx context.Context, tenantID, name, subject string, next func(stored []byte) ([]byte, error)) ([]byte, error) {
	aad := integrationTokenAAD(tenantID, name, subject)
	// The names are NUL-free (tenant and integration names, user IDs);
	// PostgreSQL text cannot hold a NUL.
	lockKey := "integration_tokens/" + tenantID + "/" + name + "/" + subject
	if d.dialect != Postgres {
		mu, _ := d.tokenLocks.LoadOrStore(lockKey, new(sync.Mutex))
		mu.(*sync.Mutex).Lock()
		defer mu.(*sync.Mutex).Unlock()
		stored, err := d.GetIntegrationToken(ctx, tenantID, name, subject)
		if err != nil && !derrors.Is(err, derrors.NotFound) {
			return nil, err
		}
		b, err := next(stored)
		if err != nil || b == nil {
			return stored, err
		}
		return b, d.SaveIntegrationToken(ctx, tenantID, name, subject, b, time.Now())
	}
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", lockKey); err != nil {
		return nil, err
	}
	var stored []byte
	var sealed string
	err = tx.QueryRowContext(ctx, "SELECT token FROM integration_tokens WHERE tenant_id = $1 AND integration = $2 AND subject = $3", tenantID, name, subject).Scan(&sealed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, err
	default:
		if stored, err = d.seal.Open(sealed, aad); err != nil {
			return nil, err
		}
	}
	b, err := next(stored)
	if err != nil || b == nil {
		return stored, err
	}
	if sealed, err = d.seal.Seal(b, aad); err != nil {
		return nil, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO integration_tokens (tenant_id, integration, subject, token, updated_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (tenant_id, integration, subject) DO UPDATE SET token = excluded.token, updated_at = excluded.updated_at`,
		tenantID, name, subject, sealed, micros(time.Now()))
	if foreignKeyViolation(err) {
		return nil, derrors.NotFoundf("integration %q not found", name)
	}
	if err != nil {
		return nil, err
	}
	return b, tx.Commit()
}
