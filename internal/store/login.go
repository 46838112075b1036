package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
)

// The brute-force counters of the login pages and the password grant
// (login.Limiter): one row per (tenant, subject) with the number of failures
// and the time of the last one. The policy (delays, lockout, resets) is the
// limiter's; the store only reads and swaps rows atomically, so that every
// replica sees the same counts and concurrent attempts cannot slip past a
// limit between a read and a write.

// GetLoginFailures returns the failure count of subject in the tenant and
// the time of the last failure. A subject without a row has 0 failures and
// the zero time, and no error.
func (d *DB) GetLoginFailures(ctx context.Context, tenantID, subject string) (int, time.Time, error) {
	var n int
	var last int64
	err := d.row(ctx, nil, "SELECT failures, last_at FROM login_failures WHERE tenant_id = ? AND subject = ?", tenantID, subject).Scan(&n, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, err
	}
	return n, fromMicros(last), nil
}

// SwapLoginFailures sets subject's row to (count, at), kept at least until
// expiresAt, if the row still is (oldCount, oldAt) as read by
// GetLoginFailures; a zero oldAt means there is no row yet. It reports
// whether it swapped: false means that a concurrent writer changed the row
// first, and the caller reads again. A missing tenant is NotFound.
func (d *DB) SwapLoginFailures(ctx context.Context, tenantID, subject string, oldCount int, oldAt time.Time, count int, at, expiresAt time.Time) (bool, error) {
	var (
		res sql.Result
		err error
	)
	if oldAt.IsZero() {
		res, err = d.grantExec(ctx, `INSERT INTO login_failures (tenant_id, subject, failures, last_at, expires_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (tenant_id, subject) DO NOTHING`, tenantID, subject, count, micros(at), micros(expiresAt))
		if foreignKeyViolation(err) {
			return false, derrors.NotFoundf("tenant %q not found", tenantID)
		}
	} else {
		res, err = d.grantExec(ctx, `UPDATE login_failures SET failures = ?, last_at = ?, expires_at = ?
WHERE tenant_id = ? AND subject = ? AND failures = ? AND last_at = ?`,
			count, micros(at), micros(expiresAt), tenantID, subject, oldCount, micros(oldAt))
	}
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// DeleteLoginFailures forgets subject's failures: after a successful login,
// or when an admin lifts a lockout. Deleting what is not there is no error.
func (d *DB) DeleteLoginFailures(ctx context.Context, tenantID, subject string) error {
	_, err := d.grantExec(ctx, "DELETE FROM login_failures WHERE tenant_id = ? AND subject = ?", tenantID, subject)
	return err
}

// DeleteExpiredLoginFailures deletes up to limit rows past their expiry,
// oldest first, and returns how many it deleted.
func (d *DB) DeleteExpiredLoginFailures(ctx context.Context, now time.Time, limit int) (int64, error) {
	res, err := d.grantExec(ctx, `DELETE FROM login_failures WHERE (tenant_id, subject) IN
(SELECT tenant_id, subject FROM login_failures WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`, micros(now), limit)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
