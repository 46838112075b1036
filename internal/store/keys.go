package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/keys"
)

// keyAAD binds a sealed private key to its tenant and kid.
func keyAAD(tenantID, kid string) []byte { return []byte("signing_keys\x00" + tenantID + "\x00" + kid) }

// ListKeys loads and unseals a tenant's keys with the set's version.
func (d *DB) ListKeys(ctx context.Context, tenantID string) ([]*keys.Key, int64, error) {
	ver, err := d.KeysVersion(ctx, tenantID)
	if err != nil {
		return nil, 0, err
	}
	rows, err := d.rows(ctx, nil, "SELECT kid, alg, state, key_use, private_sealed, cert_der, created_at, retire_at FROM signing_keys WHERE tenant_id = ? ORDER BY created_at", tenantID)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*keys.Key
	for rows.Next() {
		var k keys.Key
		var sealed string
		var c, r int64
		if err := rows.Scan(&k.KID, &k.Alg, &k.State, &k.Use, &sealed, &k.CertDER, &c, &r); err != nil {
			return nil, 0, err
		}
		if k.Private, err = d.seal.Open(sealed, keyAAD(tenantID, k.KID)); err != nil {
			return nil, 0, errors.New("store: cannot unseal a signing key: is this the master key the database was created with?")
		}
		k.CreatedAt, k.RetireAt = fromMicros(c), fromMicros(r)
		out = append(out, &k)
	}
	return out, ver, rows.Err()
}

// KeysVersion returns the tenant's key-set version.
func (d *DB) KeysVersion(ctx context.Context, tenantID string) (int64, error) {
	var v int64
	err := d.row(ctx, nil, "SELECT keys_version FROM tenants WHERE name = ?", tenantID).Scan(&v)
	return v, notFoundIfNoRows(err, "tenant %q not found", tenantID)
}

// SaveKeys upserts and removes keys if the set is still at version expect,
// and bumps the version; otherwise it is a Conflict.
func (d *DB) SaveKeys(ctx context.Context, tenantID string, expect int64, upsert []*keys.Key, remove []string) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		res, err := d.exec(ctx, tx, "UPDATE tenants SET keys_version = keys_version + 1 WHERE name = ? AND keys_version = ?", tenantID, expect)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			// Inside the transaction: on PostgreSQL the read pool is the
			// write pool, and a second connection per waiting writer can
			// exhaust it.
			var v int64
			err := d.row(ctx, tx, "SELECT keys_version FROM tenants WHERE name = ?", tenantID).Scan(&v)
			if err != nil {
				return notFoundIfNoRows(err, "tenant %q not found", tenantID)
			}
			return derrors.Conflictf("keys", "the key set changed")
		}
		for _, kid := range remove {
			if _, err := d.exec(ctx, tx, "DELETE FROM signing_keys WHERE tenant_id = ? AND kid = ?", tenantID, kid); err != nil {
				return err
			}
		}
		for _, k := range upsert {
			sealed, err := d.seal.Seal(k.Private, keyAAD(tenantID, k.KID))
			if err != nil {
				return err
			}
			_, err = d.exec(ctx, tx, `INSERT INTO signing_keys (tenant_id, kid, alg, state, key_use, private_sealed, cert_der, created_at, retire_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (tenant_id, kid) DO UPDATE SET state = excluded.state, retire_at = excluded.retire_at`,
				tenantID, k.KID, k.Alg, k.State, k.Use, sealed, k.CertDER, micros(k.CreatedAt), micros(k.RetireAt))
			if err != nil {
				return err
			}
		}
		return nil
	})
}
