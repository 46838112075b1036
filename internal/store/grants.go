package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/grant"
)

func joinScope(s []string) string { return strings.Join(s, " ") }

func splitScope(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, " ")
}

// CreateRequest stores a pending authorization request.
func (d *DB) CreateRequest(ctx context.Context, tenantID string, r *grant.Request) error {
	params, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = d.grantExec(ctx, "INSERT INTO auth_requests (tenant_id, id, client_id, params, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
		tenantID, r.ID, r.ClientID, string(params), micros(r.CreatedAt), micros(r.ExpiresAt))
	return err
}

// GetRequest loads a pending authorization request.
func (d *DB) GetRequest(ctx context.Context, tenantID, id string) (*grant.Request, error) {
	var params string
	var c, e int64
	err := d.row(ctx, nil, "SELECT params, created_at, expires_at FROM auth_requests WHERE tenant_id = ? AND id = ?", tenantID, id).Scan(&params, &c, &e)
	if err != nil {
		return nil, notFoundIfNoRows(err, "authorization request not found")
	}
	var r grant.Request
	if err := json.Unmarshal([]byte(params), &r); err != nil {
		return nil, err
	}
	r.ID, r.CreatedAt, r.ExpiresAt = id, fromMicros(c), fromMicros(e)
	return &r, nil
}

// DeleteRequest removes a pending authorization request.
func (d *DB) DeleteRequest(ctx context.Context, tenantID, id string) error {
	_, err := d.grantExec(ctx, "DELETE FROM auth_requests WHERE tenant_id = ? AND id = ?", tenantID, id)
	return err
}

// CreateSession stores an SSO session.
func (d *DB) CreateSession(ctx context.Context, tenantID string, s *grant.Session) error {
	_, err := d.grantExec(ctx, "INSERT INTO sessions (tenant_id, hash, sid, user_id, auth_time, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		tenantID, s.Hash, s.SID, s.UserID, micros(s.AuthTime), micros(s.CreatedAt), micros(s.ExpiresAt))
	return err
}

// GetSession loads an SSO session by its cookie hash.
func (d *DB) GetSession(ctx context.Context, tenantID, hash string) (*grant.Session, error) {
	s := grant.Session{Hash: hash}
	var a, c, e int64
	err := d.row(ctx, nil, "SELECT sid, user_id, auth_time, created_at, expires_at FROM sessions WHERE tenant_id = ? AND hash = ?", tenantID, hash).
		Scan(&s.SID, &s.UserID, &a, &c, &e)
	if err != nil {
		return nil, notFoundIfNoRows(err, "session not found")
	}
	s.AuthTime, s.CreatedAt, s.ExpiresAt = fromMicros(a), fromMicros(c), fromMicros(e)
	return &s, nil
}

// DeleteSession ends an SSO session.
func (d *DB) DeleteSession(ctx context.Context, tenantID, hash string) error {
	_, err := d.grantExec(ctx, "DELETE FROM sessions WHERE tenant_id = ? AND hash = ?", tenantID, hash)
	return err
}

// CreateCode stores an authorization code and, if f is not nil, its family.
func (d *DB) CreateCode(ctx context.Context, tenantID string, c *grant.Code, f *grant.Family) error {
	return d.grantTx(ctx, func(tx *sql.Tx) error {
		if f != nil {
			if err := d.insertFamily(ctx, tx, tenantID, f, nil); err != nil {
				return err
			}
		}
		_, err := d.exec(ctx, tx, `INSERT INTO auth_codes (tenant_id, hash, client_id, user_id, sid, redirect_uri, scope, nonce, code_challenge, auth_time, created_at, expires_at, family_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			tenantID, c.Hash, c.ClientID, c.UserID, c.SID, c.RedirectURI, joinScope(c.Scope), c.Nonce, c.CodeChallenge, micros(c.AuthTime), micros(c.CreatedAt), micros(c.ExpiresAt), c.FamilyID)
		return err
	})
}

func (d *DB) getCode(ctx context.Context, tx *sql.Tx, tenantID, hash string) (*grant.Code, error) {
	c := grant.Code{Hash: hash}
	var scope string
	var a, cr, e, u int64
	var revoked sql.NullInt64
	err := d.row(ctx, tx, `SELECT c.client_id, c.user_id, c.sid, c.redirect_uri, c.scope, c.nonce, c.code_challenge, c.auth_time, c.created_at, c.expires_at, c.used_at, c.family_id, f.revoked_at
FROM auth_codes c LEFT JOIN token_families f ON f.tenant_id = c.tenant_id AND f.id = c.family_id
WHERE c.tenant_id = ? AND c.hash = ?`, tenantID, hash).
		Scan(&c.ClientID, &c.UserID, &c.SID, &c.RedirectURI, &scope, &c.Nonce, &c.CodeChallenge, &a, &cr, &e, &u, &c.FamilyID, &revoked)
	if err != nil {
		return nil, notFoundIfNoRows(err, "authorization code not found")
	}
	c.Scope = splitScope(scope)
	c.AuthTime, c.CreatedAt, c.ExpiresAt, c.UsedAt = fromMicros(a), fromMicros(cr), fromMicros(e), fromMicros(u)
	c.Revoked = c.FamilyID != "" && (!revoked.Valid || revoked.Int64 != 0)
	return &c, nil
}

// GetCode loads an authorization code, whether used or expired or not.
func (d *DB) GetCode(ctx context.Context, tenantID, hash string) (*grant.Code, error) {
	return d.getCode(ctx, nil, tenantID, hash)
}

// RedeemCode marks the code used, once, and stores what the exchange
// creates in the same transaction: the UPDATE's WHERE makes the first
// redemption win even when two race.
func (d *DB) RedeemCode(ctx context.Context, tenantID, hash string, now time.Time, f *grant.Family, r *grant.Refresh) (string, error) {
	var first string
	err := d.grantTx(ctx, func(tx *sql.Tx) error {
		query, args := "UPDATE auth_codes SET used_at = ? WHERE tenant_id = ? AND hash = ? AND used_at = 0 AND expires_at > ?", []any{micros(now), tenantID, hash, micros(now)}
		if f != nil {
			query, args = "UPDATE auth_codes SET used_at = ?, family_id = ? WHERE tenant_id = ? AND hash = ? AND used_at = 0 AND expires_at > ?", []any{micros(now), f.ID, tenantID, hash, micros(now)}
		}
		res, err := d.exec(ctx, tx, query, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			c, err := d.getCode(ctx, tx, tenantID, hash)
			if err != nil {
				return err
			}
			if c.UsedAt.IsZero() {
				return derrors.NotFoundf("authorization code expired")
			}
			first = c.FamilyID
			return grant.ErrReused
		}
		if f != nil {
			return d.insertFamily(ctx, tx, tenantID, f, r)
		}
		if r == nil {
			return nil
		}
		// The family was made with the code to outlive its refresh
		// token; each rotation extends it (RotateRefresh).
		return d.insertRefresh(ctx, tx, tenantID, r)
	})
	return first, err
}

// CreateFamily stores a token family and its first refresh token, if any.
func (d *DB) CreateFamily(ctx context.Context, tenantID string, f *grant.Family, r *grant.Refresh) error {
	return d.grantTx(ctx, func(tx *sql.Tx) error { return d.insertFamily(ctx, tx, tenantID, f, r) })
}

func (d *DB) insertFamily(ctx context.Context, tx *sql.Tx, tenantID string, f *grant.Family, r *grant.Refresh) error {
	_, err := d.exec(ctx, tx, `INSERT INTO token_families (tenant_id, id, client_id, user_id, sid, scope, auth_time, created_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		tenantID, f.ID, f.ClientID, f.UserID, f.SID, joinScope(f.Scope), micros(f.AuthTime), micros(f.CreatedAt), micros(f.ExpiresAt))
	if err != nil || r == nil {
		return err
	}
	return d.insertRefresh(ctx, tx, tenantID, r)
}

func (d *DB) insertRefresh(ctx context.Context, tx *sql.Tx, tenantID string, r *grant.Refresh) error {
	_, err := d.exec(ctx, tx, "INSERT INTO refresh_tokens (tenant_id, hash, family_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
		tenantID, r.Hash, r.FamilyID, micros(r.CreatedAt), micros(r.ExpiresAt))
	return err
}

// GetFamily loads a token family.
func (d *DB) GetFamily(ctx context.Context, tenantID, id string) (*grant.Family, error) {
	f := grant.Family{ID: id}
	var scope string
	var a, c, e, rv int64
	err := d.row(ctx, nil, "SELECT client_id, user_id, sid, scope, auth_time, created_at, expires_at, revoked_at FROM token_families WHERE tenant_id = ? AND id = ?", tenantID, id).
		Scan(&f.ClientID, &f.UserID, &f.SID, &scope, &a, &c, &e, &rv)
	if err != nil {
		return nil, notFoundIfNoRows(err, "token family not found")
	}
	f.Scope = splitScope(scope)
	f.AuthTime, f.CreatedAt, f.ExpiresAt, f.RevokedAt = fromMicros(a), fromMicros(c), fromMicros(e), fromMicros(rv)
	return &f, nil
}

// SessionFamilies lists the unrevoked token families made in an SSO session.
func (d *DB) SessionFamilies(ctx context.Context, tenantID, sid string) ([]*grant.Family, error) {
	rows, err := d.rows(ctx, nil, "SELECT id, client_id, user_id, scope, auth_time, created_at, expires_at FROM token_families WHERE tenant_id = ? AND sid = ? AND revoked_at = 0", tenantID, sid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*grant.Family
	for rows.Next() {
		f := grant.Family{SID: sid}
		var scope string
		var a, c, e int64
		if err := rows.Scan(&f.ID, &f.ClientID, &f.UserID, &scope, &a, &c, &e); err != nil {
			return nil, err
		}
		f.Scope = splitScope(scope)
		f.AuthTime, f.CreatedAt, f.ExpiresAt = fromMicros(a), fromMicros(c), fromMicros(e)
		out = append(out, &f)
	}
	return out, rows.Err()
}

// RevokeFamily revokes every token of a family.
func (d *DB) RevokeFamily(ctx context.Context, tenantID, id string, at time.Time) error {
	_, err := d.grantExec(ctx, "UPDATE token_families SET revoked_at = ? WHERE tenant_id = ? AND id = ? AND revoked_at = 0", micros(at), tenantID, id)
	return err
}

func (d *DB) getRefresh(ctx context.Context, q *sql.Tx, tenantID, hash string) (*grant.Refresh, error) {
	r := grant.Refresh{Hash: hash}
	var c, e, rot int64
	err := d.row(ctx, q, "SELECT family_id, created_at, expires_at, rotated_at, next_sealed FROM refresh_tokens WHERE tenant_id = ? AND hash = ?", tenantID, hash).
		Scan(&r.FamilyID, &c, &e, &rot, &r.NextSealed)
	if err != nil {
		return nil, notFoundIfNoRows(err, "refresh token not found")
	}
	r.CreatedAt, r.ExpiresAt, r.RotatedAt = fromMicros(c), fromMicros(e), fromMicros(rot)
	return &r, nil
}

// GetRefresh loads a refresh token by its hash.
func (d *DB) GetRefresh(ctx context.Context, tenantID, hash string) (*grant.Refresh, error) {
	return d.getRefresh(ctx, nil, tenantID, hash)
}

// GetRefreshFamily loads a refresh token and its family in one query.
func (d *DB) GetRefreshFamily(ctx context.Context, tenantID, hash string) (*grant.Refresh, *grant.Family, error) {
	r := grant.Refresh{Hash: hash}
	var f grant.Family
	var scope string
	var rc, re, rot, a, fc, fe, rv int64
	err := d.row(ctx, nil, `SELECT r.family_id, r.created_at, r.expires_at, r.rotated_at, r.next_sealed,
f.client_id, f.user_id, f.sid, f.scope, f.auth_time, f.created_at, f.expires_at, f.revoked_at
FROM refresh_tokens r JOIN token_families f ON f.tenant_id = r.tenant_id AND f.id = r.family_id
WHERE r.tenant_id = ? AND r.hash = ?`, tenantID, hash).
		Scan(&r.FamilyID, &rc, &re, &rot, &r.NextSealed, &f.ClientID, &f.UserID, &f.SID, &scope, &a, &fc, &fe, &rv)
	if err != nil {
		return nil, nil, notFoundIfNoRows(err, "refresh token not found")
	}
	r.CreatedAt, r.ExpiresAt, r.RotatedAt = fromMicros(rc), fromMicros(re), fromMicros(rot)
	f.ID, f.Scope = r.FamilyID, splitScope(scope)
	f.AuthTime, f.CreatedAt, f.ExpiresAt, f.RevokedAt = fromMicros(a), fromMicros(fc), fromMicros(fe), fromMicros(rv)
	return &r, &f, nil
}

// RotateRefresh exchanges old for next exactly once; the family's expiry
// stays past its newest token's. The stored old row comes back only with
// ErrReused.
func (d *DB) RotateRefresh(ctx context.Context, tenantID, oldHash string, now time.Time, nextSealed string, next *grant.Refresh) (*grant.Refresh, error) {
	if d.dialect == Postgres {
		return d.rotateRefreshPG(ctx, tenantID, oldHash, now, nextSealed, next)
	}
	var out *grant.Refresh
	err := d.grantTx(ctx, func(tx *sql.Tx) error {
		res, err := d.exec(ctx, tx, "UPDATE refresh_tokens SET rotated_at = ?, next_sealed = ? WHERE tenant_id = ? AND hash = ? AND rotated_at = 0",
			micros(now), nextSealed, tenantID, oldHash)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			if out, err = d.getRefresh(ctx, tx, tenantID, oldHash); err != nil {
				return err
			}
			return grant.ErrReused
		}
		if err := d.insertRefresh(ctx, tx, tenantID, next); err != nil {
			return err
		}
		return d.extendFamily(ctx, tx, tenantID, next)
	})
	if errors.Is(err, grant.ErrReused) {
		return out, err
	}
	return nil, err
}

// rotateRefreshPG is RotateRefresh in one statement, so one round trip and
// one implicit transaction: the data-modifying CTEs of a statement commit
// or fail together, and insert and extend only when the old token's row was
// still unrotated (the UPDATE's row lock decides a race between replicas).
func (d *DB) rotateRefreshPG(ctx context.Context, tenantID, oldHash string, now time.Time, nextSealed string, next *grant.Refresh) (*grant.Refresh, error) {
	var n int
	err := d.w.QueryRowContext(ctx, `WITH old AS (
  UPDATE refresh_tokens SET rotated_at = $1, next_sealed = $2 WHERE tenant_id = $3 AND hash = $4 AND rotated_at = 0 RETURNING 1
), ins AS (
  INSERT INTO refresh_tokens (tenant_id, hash, family_id, created_at, expires_at) SELECT $3, $5, $6, $7, $8 FROM old
), fam AS (
  UPDATE token_families SET expires_at = $9 WHERE tenant_id = $3 AND id = $6 AND expires_at < $8 AND EXISTS (SELECT 1 FROM old)
)
SELECT count(*) FROM old`,
		micros(now), nextSealed, tenantID, oldHash,
		next.Hash, next.FamilyID, micros(next.CreatedAt), micros(next.ExpiresAt),
		micros(next.ExpiresAt.Add(next.ExpiresAt.Sub(next.CreatedAt)/2))).Scan(&n)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		out, err := d.getRefresh(ctx, nil, tenantID, oldHash)
		if err != nil {
			return nil, err
		}
		return out, grant.ErrReused
	}
	return nil, nil
}

// extendFamily keeps r's family alive at least as long as r: past r's
// expiry by half r's lifetime at a time, so that most new tokens leave the
// family's row (and its expiry index) alone.
func (d *DB) extendFamily(ctx context.Context, tx *sql.Tx, tenantID string, r *grant.Refresh) error {
	_, err := d.exec(ctx, tx, "UPDATE token_families SET expires_at = ? WHERE tenant_id = ? AND id = ? AND expires_at < ?",
		micros(r.ExpiresAt.Add(r.ExpiresAt.Sub(r.CreatedAt)/2)), tenantID, r.FamilyID, micros(r.ExpiresAt))
	return err
}

// UseJTI records an assertion's jti for its client until expires; a jti seen
// before is a Conflict (replay).
func (d *DB) UseJTI(ctx context.Context, tenantID, clientID, jti string, expires time.Time) error {
	_, err := d.grantExec(ctx, "INSERT INTO assertion_jtis (tenant_id, id, expires_at) VALUES (?, ?, ?)",
		tenantID, grant.Hash(clientID+"\x00"+jti), micros(expires))
	if _, ok := uniqueViolation(err); ok {
		return derrors.Conflictf("jti", "the assertion was already used")
	}
	return err
}

// RevokeToken records a revoked access token's jti until it expires.
func (d *DB) RevokeToken(ctx context.Context, tenantID, jti string, expires, at time.Time) error {
	_, err := d.grantExec(ctx, "INSERT INTO revoked_tokens (tenant_id, id, expires_at, revoked_at) VALUES (?, ?, ?, ?) ON CONFLICT (tenant_id, id) DO NOTHING",
		tenantID, jti, micros(expires), micros(at))
	return err
}

// RevokedTokens lists the revoked tokens of every tenant recorded at or after
// since that are unexpired at now.
func (d *DB) RevokedTokens(ctx context.Context, since, now time.Time) ([]grant.RevokedToken, error) {
	rows, err := d.rows(ctx, nil, "SELECT tenant_id, id, expires_at, revoked_at FROM revoked_tokens WHERE revoked_at >= ? AND expires_at > ?", micros(since), micros(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []grant.RevokedToken
	for rows.Next() {
		var r grant.RevokedToken
		var exp, at int64
		if err := rows.Scan(&r.TenantID, &r.JTI, &exp, &at); err != nil {
			return nil, err
		}
		r.ExpiresAt, r.RevokedAt = fromMicros(exp), fromMicros(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// SaveAccessToken stores an opaque access token's hash with its claims.
func (d *DB) SaveAccessToken(ctx context.Context, tenantID, hash, clientID string, claims []byte, expires time.Time) error {
	_, err := d.grantExec(ctx, "INSERT INTO access_tokens (tenant_id, hash, client_id, claims, expires_at) VALUES (?, ?, ?, ?, ?)",
		tenantID, hash, clientID, string(claims), micros(expires))
	return err
}

// GetAccessToken loads an opaque access token's claims by its hash.
func (d *DB) GetAccessToken(ctx context.Context, tenantID, hash string) ([]byte, error) {
	var claims string
	err := d.row(ctx, nil, "SELECT claims FROM access_tokens WHERE tenant_id = ? AND hash = ?", tenantID, hash).Scan(&claims)
	if err != nil {
		return nil, notFoundIfNoRows(err, "access token not found")
	}
	return []byte(claims), nil
}

// DeleteAccessToken removes an opaque access token (revocation).
func (d *DB) DeleteAccessToken(ctx context.Context, tenantID, hash string) error {
	_, err := d.grantExec(ctx, "DELETE FROM access_tokens WHERE tenant_id = ? AND hash = ?", tenantID, hash)
	return err
}

// GetConsent loads the consent a user gave an app.
func (d *DB) GetConsent(ctx context.Context, tenantID, userID, clientID string) (*grant.Consent, error) {
	c := grant.Consent{UserID: userID, ClientID: clientID}
	var scope string
	var at int64
	err := d.row(ctx, nil, "SELECT sid, scope, created_at FROM consents WHERE tenant_id = ? AND user_id = ? AND client_id = ?", tenantID, userID, clientID).Scan(&c.SID, &scope, &at)
	if err != nil {
		return nil, notFoundIfNoRows(err, "consent not found")
	}
	c.Scope, c.CreatedAt = splitScope(scope), fromMicros(at)
	return &c, nil
}

// SaveConsent stores or replaces a consent.
func (d *DB) SaveConsent(ctx context.Context, tenantID string, c *grant.Consent) error {
	_, err := d.grantExec(ctx, `INSERT INTO consents (tenant_id, user_id, client_id, sid, scope, created_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (tenant_id, user_id, client_id) DO UPDATE SET sid = excluded.sid, scope = excluded.scope, created_at = excluded.created_at`,
		tenantID, c.UserID, c.ClientID, c.SID, joinScope(c.Scope), micros(c.CreatedAt))
	return err
}

// ListConsents lists a user's consents ordered by client ID (the primary
// key's prefix).
func (d *DB) ListConsents(ctx context.Context, tenantID, userID string) ([]*grant.Consent, error) {
	rows, err := d.rows(ctx, nil, "SELECT client_id, sid, scope, created_at FROM consents WHERE tenant_id = ? AND user_id = ? ORDER BY client_id", tenantID, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*grant.Consent{}
	for rows.Next() {
		c := grant.Consent{UserID: userID}
		var scope string
		var at int64
		if err := rows.Scan(&c.ClientID, &c.SID, &scope, &at); err != nil {
			return nil, err
		}
		c.Scope, c.CreatedAt = splitScope(scope), fromMicros(at)
		out = append(out, &c)
	}
	return out, rows.Err()
}

// RevokeConsent deletes the consent and revokes the user's token families
// of the app in one transaction, so that no grant outlives the consent.
func (d *DB) RevokeConsent(ctx context.Context, tenantID, userID, clientID string, at time.Time) (int64, error) {
	var n int64
	err := d.grantTx(ctx, func(tx *sql.Tx) error {
		res, err := d.exec(ctx, tx, "DELETE FROM consents WHERE tenant_id = ? AND user_id = ? AND client_id = ?", tenantID, userID, clientID)
		if err := rowsOrNotFound(res, err, "consent not found"); err != nil {
			return err
		}
		res, err = d.exec(ctx, tx, "UPDATE token_families SET revoked_at = ? WHERE tenant_id = ? AND user_id = ? AND client_id = ? AND revoked_at = 0",
			micros(at), tenantID, userID, clientID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// expiringTables are the tables the janitor sweeps, children first.
var expiringTables = []string{"refresh_tokens", "auth_codes", "auth_requests", "sessions", "token_families", "assertion_jtis", "access_tokens", "revoked_tokens", "saml_participants"}

// DeleteExpired deletes up to limit expired rows per table, oldest first,
// and the families of codes that expired unused.
func (d *DB) DeleteExpired(ctx context.Context, now time.Time, limit int) (int64, error) {
	var total int64
	for _, t := range expiringTables {
		var n int64
		var err error
		if t == "auth_codes" {
			n, err = d.deleteExpiredCodes(ctx, now, limit)
		} else {
			n, err = d.deleteExpiredRows(ctx, t, now, limit)
		}
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// deleteExpiredRows deletes up to limit expired rows of table t. The
// subquery bounds each sweep so that a backlog never holds the write lock
// for long; the janitor comes back for the rest.
func (d *DB) deleteExpiredRows(ctx context.Context, t string, now time.Time, limit int) (int64, error) {
	res, err := d.grantExec(ctx, "DELETE FROM "+t+" WHERE (tenant_id, "+pk2(t)+") IN (SELECT tenant_id, "+pk2(t)+" FROM "+t+" WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)",
		micros(now), limit)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// deleteExpiredCodes deletes up to limit expired codes and, in the same
// transaction, the family of each that expired unused: a code's family is
// made with the code and lives as long as the tokens it may get, so an
// abandoned authorization would otherwise leave it behind for weeks. The
// families go one by one by their key, from what the DELETE returns.
func (d *DB) deleteExpiredCodes(ctx context.Context, now time.Time, limit int) (int64, error) {
	var n int64
	err := d.grantTx(ctx, func(tx *sql.Tx) error {
		rows, err := d.rows(ctx, tx, `DELETE FROM auth_codes WHERE (tenant_id, hash) IN (SELECT tenant_id, hash FROM auth_codes WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)
RETURNING tenant_id, family_id, used_at`, micros(now), limit)
		if err != nil {
			return err
		}
		type family struct{ tenantID, id string }
		var abandoned []family
		for rows.Next() {
			var f family
			var used int64
			if err := rows.Scan(&f.tenantID, &f.id, &used); err != nil {
				rows.Close()
				return err
			}
			n++
			if used == 0 && f.id != "" {
				abandoned = append(abandoned, f)
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for _, f := range abandoned {
			res, err := d.exec(ctx, tx, "DELETE FROM token_families WHERE tenant_id = ? AND id = ?", f.tenantID, f.id)
			if err != nil {
				return err
			}
			m, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += m
		}
		return nil
	})
	return n, err
}

// pk2 is the second primary-key column of an expiring table.
func pk2(table string) string {
	switch table {
	case "refresh_tokens", "auth_codes", "sessions", "access_tokens":
		return "hash"
	case "saml_participants":
		// Every participant of a session expires with it.
		return "sid"
	default:
		return "id"
	}
}

// AddParticipant records that a SAML app signed in with an SSO session
// (again: the NameID is replaced).
func (d *DB) AddParticipant(ctx context.Context, tenantID string, p *grant.Participant) error {
	_, err := d.grantExec(ctx, `INSERT INTO saml_participants (tenant_id, sid, client_id, name_id, name_id_format, expires_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (tenant_id, sid, client_id) DO UPDATE SET name_id = excluded.name_id, name_id_format = excluded.name_id_format, expires_at = excluded.expires_at`,
		tenantID, p.SID, p.ClientID, p.NameID, p.NameIDFormat, micros(p.ExpiresAt))
	return err
}

// Participants lists the SAML apps of an SSO session.
func (d *DB) Participants(ctx context.Context, tenantID, sid string) ([]grant.Participant, error) {
	rows, err := d.rows(ctx, nil, "SELECT client_id, name_id, name_id_format, expires_at FROM saml_participants WHERE tenant_id = ? AND sid = ? ORDER BY client_id", tenantID, sid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []grant.Participant
	for rows.Next() {
		p := grant.Participant{SID: sid}
		var e int64
		if err := rows.Scan(&p.ClientID, &p.NameID, &p.NameIDFormat, &e); err != nil {
			return nil, err
		}
		p.ExpiresAt = fromMicros(e)
		out = append(out, p)
	}
	return out, rows.Err()
}

// EndSessionBySID deletes an SSO session found by its sid, with its
// participants, and returns it (NotFound when there is none).
func (d *DB) EndSessionBySID(ctx context.Context, tenantID, sid string) (*grant.Session, error) {
	s := grant.Session{SID: sid}
	var a, c, e int64
	err := d.row(ctx, nil, "SELECT hash, user_id, auth_time, created_at, expires_at FROM sessions WHERE tenant_id = ? AND sid = ?", tenantID, sid).
		Scan(&s.Hash, &s.UserID, &a, &c, &e)
	if err != nil {
		return nil, notFoundIfNoRows(err, "session not found")
	}
	s.AuthTime, s.CreatedAt, s.ExpiresAt = fromMicros(a), fromMicros(c), fromMicros(e)
	if _, err := d.grantExec(ctx, "DELETE FROM sessions WHERE tenant_id = ? AND sid = ?", tenantID, sid); err != nil {
		return nil, err
	}
	return &s, nil
}

// DeleteParticipants forgets the SAML apps of an ended session.
func (d *DB) DeleteParticipants(ctx context.Context, tenantID, sid string) error {
	_, err := d.grantExec(ctx, "DELETE FROM saml_participants WHERE tenant_id = ? AND sid = ?", tenantID, sid)
	return err
}
