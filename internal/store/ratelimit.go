package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// RateCounter is ratelimit.Counter over PostgreSQL: every replica counts in
// the same rows (R-INT-5). One statement per request: an upsert that adds
// one only while the window has room. (SQLite serves one process:
// ratelimit.Local counts there.)
type RateCounter struct{ DB *DB }

// Take implements ratelimit.Counter.
func (c RateCounter) Take(ctx context.Context, key string, start time.Time, limit int) (bool, error) {
	if c.DB.dialect != Postgres {
		return false, errors.New("store: RateCounter is for PostgreSQL; one SQLite process counts with ratelimit.Local")
	}
	var used int
	err := c.DB.w.QueryRowContext(ctx, c.DB.q(`INSERT INTO rate_windows (key, start, used) VALUES (?, ?, 1)
ON CONFLICT (key, start) DO UPDATE SET used = rate_windows.used + 1 WHERE rate_windows.used < ?
RETURNING used`), key, start.UnixMilli(), limit).Scan(&used)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// DeleteRateWindows deletes up to limit windows that started before
// before.
func (d *DB) DeleteRateWindows(ctx context.Context, before time.Time, limit int) (int64, error) {
	res, err := d.grantExec(ctx, "DELETE FROM rate_windows WHERE (key, start) IN (SELECT key, start FROM rate_windows WHERE start < ? ORDER BY start LIMIT ?)", before.UnixMilli(), limit)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
