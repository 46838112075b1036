package store

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// The brute-force counters of the login pages and the password grant
// (login.Limiter): one row per (tenant, subject) with the number of failures
// and the time of the last one. The policy (delays, lockout, resets) is the
// limiter's; the store reads rows and adds failures atomically, so that
// every replica sees the same counts and no failure is lost to a race.

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

// AddLoginFailure adds one failure to subject's row in one atomic
// statement and returns the count after it: concurrent failures on every
// replica each count once, with no read-modify-write to retry. A missing
// tenant is NotFound.
func (d *DB) AddLoginFailure(ctx context.Context, tenantID, subject string, f user.LoginFailure) (int, error) {
	lockAt := f.LockAt
	if lockAt <= 0 {
		lockAt = math.MaxInt32
	}
	// restart: the row's count no longer counts.
	// A lockout restarts when it is over, a count below it when stale.
	const restart = `(CASE WHEN login_failures.failures >= ? THEN login_failures.last_at <= ? ELSE login_failures.last_at <= ? END)`
	stale, over := micros(f.StaleBefore), micros(f.LockOverBefore)
	var n int
	err := d.grantTx(ctx, func(tx *sql.Tx) error {
		return d.row(ctx, tx, `INSERT INTO login_failures (tenant_id, subject, failures, last_at, expires_at) VALUES (?, ?, 1, ?, ?)
ON CONFLICT (tenant_id, subject) DO UPDATE SET
failures = CASE WHEN `+restart+` THEN 1 ELSE login_failures.failures + 1 END,
last_at = excluded.last_at,
expires_at = CASE WHEN NOT `+restart+` AND login_failures.failures + 1 >= ? THEN ? ELSE excluded.expires_at END
RETURNING failures`,
			tenantID, subject, micros(f.At), micros(pick(lockAt <= 1, f.LockExpiresAt, f.ExpiresAt)),
			lockAt, over, stale,
			lockAt, over, stale, lockAt, micros(f.LockExpiresAt)).Scan(&n)
	})
	if foreignKeyViolation(err) {
		return 0, derrors.NotFoundf("tenant %q not found", tenantID)
	}
	return n, err
}

func pick[T any](cond bool, a, b T) T {
	if cond {
		return a
	}
	return b
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
