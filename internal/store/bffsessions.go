package store

import (
	"context"
	"time"
)

// The token-management service's server-side sessions (issue 10,
// session.store): one row per signed-in browser of one service, keyed by the
// SHA-256 of the session ID its cookie holds, and no secret. A service sees
// only its own rows (service is its public URL).

// BFFSession is one row.
type BFFSession struct {
	ID      string
	Subject string
	Domain  string
	Issuer  string
	Created time.Time
	Expires time.Time
}

// CreateBFFSession records a new session of service.
func (d *DB) CreateBFFSession(ctx context.Context, service string, s BFFSession) error {
	_, err := d.grantExec(ctx, `INSERT INTO bff_sessions (service, id, subject, domain, issuer, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		service, s.ID, s.Subject, s.Domain, s.Issuer, micros(s.Created), micros(s.Expires))
	return err
}

// BFFSessionLive reports whether service's session id exists and has not
// expired at now.
func (d *DB) BFFSessionLive(ctx context.Context, service, id string, now time.Time) (bool, error) {
	var n int
	err := d.row(ctx, nil, "SELECT COUNT(*) FROM bff_sessions WHERE service = ? AND id = ? AND expires_at > ?", service, id, micros(now)).Scan(&n)
	return n > 0, err
}

// ExtendBFFSession moves a live session's expiry (the sliding idle
// timeout); a session that is gone stays gone.
func (d *DB) ExtendBFFSession(ctx context.Context, service, id string, expires time.Time) error {
	_, err := d.grantExec(ctx, "UPDATE bff_sessions SET expires_at = ? WHERE service = ? AND id = ?", micros(expires), service, id)
	return err
}

// DeleteBFFSessions deletes service's sessions: the one with id when id is
// not empty, else every session of subject when subject is not empty, else
// all of them. It returns how many it deleted.
func (d *DB) DeleteBFFSessions(ctx context.Context, service, id, subject string) (int64, error) {
	q, args := "DELETE FROM bff_sessions WHERE service = ?", []any{service}
	switch {
	case id != "":
		q, args = q+" AND id = ?", append(args, id)
	case subject != "":
		q, args = q+" AND subject = ?", append(args, subject)
	}
	res, err := d.grantExec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ListBFFSessions lists service's live sessions at now (of subject alone
// when it is not empty), newest first, at most limit.
func (d *DB) ListBFFSessions(ctx context.Context, service, subject string, now time.Time, limit int) ([]BFFSession, error) {
	q, args := "SELECT id, subject, domain, issuer, created_at, expires_at FROM bff_sessions WHERE service = ? AND expires_at > ?", []any{service, micros(now)}
	if subject != "" {
		q, args = q+" AND subject = ?", append(args, subject)
	}
	rows, err := d.rows(ctx, nil, q+" ORDER BY created_at DESC, id LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []BFFSession
	for rows.Next() {
		var s BFFSession
		var created, expires int64
		if err := rows.Scan(&s.ID, &s.Subject, &s.Domain, &s.Issuer, &created, &expires); err != nil {
			return nil, err
		}
		s.Created, s.Expires = fromMicros(created), fromMicros(expires)
		out = append(out, s)
	}
	return out, rows.Err()
}

// DeleteExpiredBFFSessions deletes up to limit of service's sessions past
// their expiry at now.
func (d *DB) DeleteExpiredBFFSessions(ctx context.Context, service string, now time.Time, limit int) (int64, error) {
	res, err := d.grantExec(ctx, "DELETE FROM bff_sessions WHERE service = ? AND id IN (SELECT id FROM bff_sessions WHERE service = ? AND expires_at <= ? ORDER BY expires_at LIMIT ?)",
		service, service, micros(now), limit)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
