package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// Users and roles (R-USR-1, R-USR-2, R-ROL-1, R-PRM-2). Usernames and emails
// are unique per tenant on their lower-cased copies. Role grants reference
// permissions by foreign key, so deleting a permission or its app removes the
// grant and renaming a permission renames it (ON DELETE / ON UPDATE CASCADE).

const userCols = "id, username, email, email_verified, given_name, family_name, groups_json, state, blocked_at, password_hash, password_changed_at, created_at, updated_at"

func scanUser(row interface{ Scan(...any) error }) (*user.User, error) {
	var u user.User
	var groups, state string
	var blocked, pwChanged, c, m int64
	if err := row.Scan(&u.ID, &u.Username, &u.Email, &u.EmailVerified, &u.GivenName, &u.FamilyName, &groups, &state,
		&blocked, &u.PasswordHash, &pwChanged, &c, &m); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(groups), &u.Groups); err != nil {
		return nil, err
	}
	if len(u.Groups) == 0 {
		u.Groups = nil
	}
	u.State = user.State(state)
	u.BlockedAt, u.PasswordChangedAt, u.CreatedAt, u.UpdatedAt = fromMicros(blocked), fromMicros(pwChanged), fromMicros(c), fromMicros(m)
	return &u, nil
}

func groupsJSON(groups []string) (string, error) {
	if len(groups) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(groups)
	return string(b), err
}

// foreignKeyViolation reports whether err is a foreign-key violation.
func foreignKeyViolation(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23503"
	}
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

func userConflict(err error, u *user.User) error {
	c, ok := uniqueViolation(err)
	if !ok {
		return err
	}
	// PostgreSQL names the constraint (users_username_key, users_email_key);
	// SQLite the columns ("users.tenant_id, users.username_lower").
	switch {
	case strings.Contains(c, "username"):
		return derrors.Conflictf("username", "a user named %q already exists in this tenant", u.Username)
	case strings.Contains(c, "email"):
		return derrors.Conflictf("email", "a user with the email %q already exists in this tenant", u.Email)
	}
	return derrors.Conflictf("id", "user ID already in use")
}

// CreateUser inserts u. A missing tenant is NotFound.
func (d *DB) CreateUser(ctx context.Context, tenantID string, u *user.User) error {
	groups, err := groupsJSON(u.Groups)
	if err != nil {
		return err
	}
	_, err = d.exec(ctx, nil, `INSERT INTO users (tenant_id, id, username, username_lower, email, email_lower, email_verified,
given_name, family_name, groups_json, state, blocked_at, password_hash, password_changed_at, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		tenantID, u.ID, u.Username, user.Fold(u.Username), u.Email, user.Fold(u.Email), u.EmailVerified,
		u.GivenName, u.FamilyName, groups, string(u.State), micros(u.BlockedAt), u.PasswordHash, micros(u.PasswordChangedAt),
		micros(u.CreatedAt), micros(u.UpdatedAt))
	if foreignKeyViolation(err) {
		return derrors.NotFoundf("tenant %q not found", tenantID)
	}
	if err != nil {
		return userConflict(err, u)
	}
	return nil
}

// GetUser loads one user of the tenant, through the user cache.
func (d *DB) GetUser(ctx context.Context, tenantID, id string) (*user.User, error) {
	var gen uint64
	cached := d.Cached()
	if cached {
		u, g, ok := d.users.user(tenantID, id)
		if ok {
			return u, nil
		}
		gen = g
	}
	u, err := scanUser(d.row(ctx, nil, "SELECT "+userCols+" FROM users WHERE tenant_id = ? AND id = ?", tenantID, id))
	if err != nil {
		return nil, notFoundIfNoRows(err, "user %q not found", id)
	}
	if cached {
		d.users.putUser(gen, u, tenantID)
	}
	return u, nil
}

// GetUserByLogin finds the user whose username or, failing that, email is
// login, case-insensitively.
func (d *DB) GetUserByLogin(ctx context.Context, tenantID, login string) (*user.User, error) {
	k := user.Fold(login)
	u, err := scanUser(d.row(ctx, nil, "SELECT "+userCols+` FROM users
WHERE tenant_id = ? AND (username_lower = ? OR email_lower = ?)
ORDER BY CASE WHEN username_lower = ? THEN 0 ELSE 1 END LIMIT 1`, tenantID, k, k, k))
	if err != nil {
		return nil, notFoundIfNoRows(err, "user not found")
	}
	return u, nil
}

// ListUsers lists a tenant's users by lower-cased username after the cursor.
func (d *DB) ListUsers(ctx context.Context, tenantID string, p tenant.Page) ([]*user.User, error) {
	rows, err := d.rows(ctx, nil, "SELECT "+userCols+" FROM users WHERE tenant_id = ? AND username_lower > ? ORDER BY username_lower LIMIT ?",
		tenantID, p.Cursor, p.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*user.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// UpdateUser replaces the user's profile fields.
func (d *DB) UpdateUser(ctx context.Context, tenantID string, u *user.User) error {
	groups, err := groupsJSON(u.Groups)
	if err != nil {
		return err
	}
	res, err := d.exec(ctx, nil, `UPDATE users SET username = ?, username_lower = ?, email = ?, email_lower = ?, email_verified = ?,
given_name = ?, family_name = ?, groups_json = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
		u.Username, user.Fold(u.Username), u.Email, user.Fold(u.Email), u.EmailVerified,
		u.GivenName, u.FamilyName, groups, micros(u.UpdatedAt), tenantID, u.ID)
	if err != nil {
		return userConflict(err, u)
	}
	return rowsOrNotFound(res, nil, "user %q not found", u.ID)
}

// SetPassword stores a new password hash.
func (d *DB) SetPassword(ctx context.Context, tenantID, id, hash string, at time.Time) error {
	res, err := d.exec(ctx, nil, "UPDATE users SET password_hash = ?, password_changed_at = ? WHERE tenant_id = ? AND id = ?",
		hash, micros(at), tenantID, id)
	return rowsOrNotFound(res, err, "user %q not found", id)
}

// RehashPassword replaces oldHash with newHash, unless the hash changed
// meanwhile.
func (d *DB) RehashPassword(ctx context.Context, tenantID, id, oldHash, newHash string) error {
	_, err := d.exec(ctx, nil, "UPDATE users SET password_hash = ? WHERE tenant_id = ? AND id = ? AND password_hash = ?",
		newHash, tenantID, id, oldHash)
	return err
}

// SetState blocks or unblocks a user. Blocking an active user records at as
// blocked_at; blocking a blocked user keeps the first time; unblocking keeps
// blocked_at as the time of the last block (R-USR-2).
func (d *DB) SetState(ctx context.Context, tenantID, id string, s user.State, at time.Time) error {
	var res sql.Result
	var err error
	switch s {
	case user.Blocked:
		res, err = d.exec(ctx, nil, `UPDATE users SET blocked_at = CASE WHEN state = 'blocked' THEN blocked_at ELSE ? END,
state = 'blocked', updated_at = ? WHERE tenant_id = ? AND id = ?`, micros(at), micros(at), tenantID, id)
	case user.Active:
		res, err = d.exec(ctx, nil, "UPDATE users SET state = 'active', updated_at = ? WHERE tenant_id = ? AND id = ?", micros(at), tenantID, id)
	default:
		return derrors.Invalidf("state", "must be active or blocked")
	}
	return rowsOrNotFound(res, err, "user %q not found", id)
}

// DeleteUser removes a user and, by cascade, its role assignments.
func (d *DB) DeleteUser(ctx context.Context, tenantID, id string) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		res, err := d.exec(ctx, tx, "DELETE FROM users WHERE tenant_id = ? AND id = ?", tenantID, id)
		if err := rowsOrNotFound(res, err, "user %q not found", id); err != nil {
			return err
		}
		// The user's own credentials at integrations' systems (service
		// actions, R-INT-3) go with the user.
		_, err = d.exec(ctx, tx, "DELETE FROM integration_tokens WHERE tenant_id = ? AND subject = ?", tenantID, id)
		return err
	})
}

const roleCols = "name, description, created_at, updated_at"

func scanRole(row interface{ Scan(...any) error }) (*user.Role, error) {
	var r user.Role
	var c, u int64
	if err := row.Scan(&r.Name, &r.Description, &c, &u); err != nil {
		return nil, err
	}
	r.CreatedAt, r.UpdatedAt = fromMicros(c), fromMicros(u)
	r.Permissions = []user.Grant{}
	return &r, nil
}

func roleConflict(err error, name string) error {
	if _, ok := uniqueViolation(err); ok {
		return derrors.Conflictf("name", "a role named %q already exists in this tenant", name)
	}
	return err
}

// insertGrants adds the role's grants; a permission that does not exist in
// the tenant is Invalid on "permissions".
func (d *DB) insertGrants(ctx context.Context, tx *sql.Tx, tenantID, role string, grants []user.Grant) error {
	for _, g := range grants {
		_, err := d.exec(ctx, tx, "INSERT INTO role_permissions (tenant_id, role_name, client_id, permission) VALUES (?, ?, ?, ?)",
			tenantID, role, g.ClientID, g.Permission)
		if foreignKeyViolation(err) {
			return derrors.Invalidf("permissions", "application %q has no permission %q in this tenant", g.ClientID, g.Permission)
		}
		if _, ok := uniqueViolation(err); ok {
			return derrors.Invalidf("permissions", "%s:%s is listed twice", g.ClientID, g.Permission)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// CreateRole inserts r with its grants.
func (d *DB) CreateRole(ctx context.Context, tenantID string, r *user.Role) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		_, err := d.exec(ctx, tx, "INSERT INTO roles (tenant_id, "+roleCols+") VALUES (?, ?, ?, ?, ?)",
			tenantID, r.Name, r.Description, micros(r.CreatedAt), micros(r.UpdatedAt))
		if foreignKeyViolation(err) {
			return derrors.NotFoundf("tenant %q not found", tenantID)
		}
		if err != nil {
			return roleConflict(err, r.Name)
		}
		return d.insertGrants(ctx, tx, tenantID, r.Name, r.Permissions)
	})
}

// GetRole loads a role with its grants, ordered by client ID and permission.
func (d *DB) GetRole(ctx context.Context, tenantID, name string) (*user.Role, error) {
	r, err := scanRole(d.row(ctx, nil, "SELECT "+roleCols+" FROM roles WHERE tenant_id = ? AND name = ?", tenantID, name))
	if err != nil {
		return nil, notFoundIfNoRows(err, "role %q not found", name)
	}
	rows, err := d.rows(ctx, nil, "SELECT client_id, permission FROM role_permissions WHERE tenant_id = ? AND role_name = ? ORDER BY client_id, permission", tenantID, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var g user.Grant
		if err := rows.Scan(&g.ClientID, &g.Permission); err != nil {
			return nil, err
		}
		r.Permissions = append(r.Permissions, g)
	}
	return r, rows.Err()
}

// ListRoles lists roles by name after the cursor, with their grants (two
// queries: the roles, then the grants of the page's name range).
func (d *DB) ListRoles(ctx context.Context, tenantID string, p tenant.Page) ([]*user.Role, error) {
	rows, err := d.rows(ctx, nil, "SELECT "+roleCols+" FROM roles WHERE tenant_id = ? AND name > ? ORDER BY name LIMIT ?", tenantID, p.Cursor, p.Limit)
	if err != nil {
		return nil, err
	}
	var out []*user.Role
	byName := map[string]*user.Role{}
	for rows.Next() {
		r, err := scanRole(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, r)
		byName[r.Name] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	grows, err := d.rows(ctx, nil, `SELECT role_name, client_id, permission FROM role_permissions
WHERE tenant_id = ? AND role_name > ? AND role_name <= ? ORDER BY role_name, client_id, permission`, tenantID, p.Cursor, out[len(out)-1].Name)
	if err != nil {
		return nil, err
	}
	defer grows.Close()
	for grows.Next() {
		var role string
		var g user.Grant
		if err := grows.Scan(&role, &g.ClientID, &g.Permission); err != nil {
			return nil, err
		}
		if r := byName[role]; r != nil {
			r.Permissions = append(r.Permissions, g)
		}
	}
	return out, grows.Err()
}

// UpdateRole replaces the role called name with r; a rename carries the
// grants and assignments along (ON UPDATE CASCADE).
func (d *DB) UpdateRole(ctx context.Context, tenantID, name string, r *user.Role) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		res, err := d.exec(ctx, tx, "UPDATE roles SET name = ?, description = ?, updated_at = ? WHERE tenant_id = ? AND name = ?",
			r.Name, r.Description, micros(r.UpdatedAt), tenantID, name)
		if err != nil {
			return roleConflict(err, r.Name)
		}
		if err := rowsOrNotFound(res, nil, "role %q not found", name); err != nil {
			return err
		}
		if _, err := d.exec(ctx, tx, "DELETE FROM role_permissions WHERE tenant_id = ? AND role_name = ?", tenantID, r.Name); err != nil {
			return err
		}
		return d.insertGrants(ctx, tx, tenantID, r.Name, r.Permissions)
	})
}

// DeleteRole removes a role; its grants and assignments go with it.
func (d *DB) DeleteRole(ctx context.Context, tenantID, name string) error {
	res, err := d.exec(ctx, nil, "DELETE FROM roles WHERE tenant_id = ? AND name = ?", tenantID, name)
	return rowsOrNotFound(res, err, "role %q not found", name)
}

func (d *DB) userExists(ctx context.Context, db *sql.Tx, tenantID, id string) error {
	var one int
	err := d.row(ctx, db, "SELECT 1 FROM users WHERE tenant_id = ? AND id = ?", tenantID, id).Scan(&one)
	return notFoundIfNoRows(err, "user %q not found", id)
}

// UserRoles lists the names of the user's roles, sorted.
func (d *DB) UserRoles(ctx context.Context, tenantID, userID string) ([]string, error) {
	if err := d.userExists(ctx, nil, tenantID, userID); err != nil {
		return nil, err
	}
	rows, err := d.rows(ctx, nil, "SELECT role_name FROM user_roles WHERE tenant_id = ? AND user_id = ? ORDER BY role_name", tenantID, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// SetUserRoles replaces the user's roles; a role that does not exist is
// Invalid on "roles" and changes nothing.
func (d *DB) SetUserRoles(ctx context.Context, tenantID, userID string, roles []string) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		if err := d.userExists(ctx, tx, tenantID, userID); err != nil {
			return err
		}
		if _, err := d.exec(ctx, tx, "DELETE FROM user_roles WHERE tenant_id = ? AND user_id = ?", tenantID, userID); err != nil {
			return err
		}
		for _, r := range roles {
			_, err := d.exec(ctx, tx, "INSERT INTO user_roles (tenant_id, user_id, role_name) VALUES (?, ?, ?)", tenantID, userID, r)
			if foreignKeyViolation(err) {
				return derrors.Invalidf("roles", "role %q does not exist in this tenant", r)
			}
			if _, ok := uniqueViolation(err); ok {
				return derrors.Invalidf("roles", "%q is listed twice", r)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// AssignRole adds one role to the user; assigning it again is a no-op.
func (d *DB) AssignRole(ctx context.Context, tenantID, userID, role string) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		if err := d.userExists(ctx, tx, tenantID, userID); err != nil {
			return err
		}
		_, err := d.exec(ctx, tx, "INSERT INTO user_roles (tenant_id, user_id, role_name) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", tenantID, userID, role)
		if foreignKeyViolation(err) {
			return derrors.NotFoundf("role %q not found", role)
		}
		return err
	})
}

// UnassignRole takes one role from the user.
func (d *DB) UnassignRole(ctx context.Context, tenantID, userID, role string) error {
	res, err := d.exec(ctx, nil, "DELETE FROM user_roles WHERE tenant_id = ? AND user_id = ? AND role_name = ?", tenantID, userID, role)
	if err := rowsOrNotFound(res, err, "user %q does not have the role %q", userID, role); err != nil {
		if derrors.Is(err, derrors.NotFound) {
			if uerr := d.userExists(ctx, nil, tenantID, userID); uerr != nil {
				return uerr
			}
		}
		return err
	}
	return nil
}

// Access returns the user's roles that grant a permission of the app, and
// those permissions (R-ROL-1): one indexed query (through the
// user cache), as it runs for every token issued to a user. The user's row anchors it, so that a user without
// access (one row of NULLs) is told from no user at all (no row).
func (d *DB) Access(ctx context.Context, tenantID, userID, clientID string) ([]string, []string, error) {
	if !d.Cached() {
		return d.access(ctx, tenantID, userID, clientID)
	}
	roles, perms, gen, ok := d.users.accessOf(tenantID, userID, clientID)
	if ok {
		return roles, perms, nil
	}
	roles, perms, err := d.access(ctx, tenantID, userID, clientID)
	if err == nil {
		d.users.putAccess(gen, tenantID, userID, clientID, roles, perms)
	}
	return roles, perms, err
}

func (d *DB) access(ctx context.Context, tenantID, userID, clientID string) ([]string, []string, error) {
	rows, err := d.rows(ctx, nil, `SELECT ur.role_name, rp.permission FROM users u
LEFT JOIN (user_roles ur JOIN role_permissions rp ON rp.tenant_id = ur.tenant_id AND rp.role_name = ur.role_name AND rp.client_id = ?)
ON ur.tenant_id = u.tenant_id AND ur.user_id = u.id
WHERE u.tenant_id = ? AND u.id = ?`, clientID, tenantID, userID)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	roles, perms := []string{}, []string{}
	found := false
	for rows.Next() {
		var r, p sql.NullString
		if err := rows.Scan(&r, &p); err != nil {
			return nil, nil, err
		}
		found = true
		if r.Valid && p.Valid {
			roles, perms = append(roles, r.String), append(perms, p.String)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	if !found {
		return nil, nil, derrors.NotFoundf("user %q not found", userID)
	}
	slices.Sort(roles)
	slices.Sort(perms)
	return slices.Compact(roles), slices.Compact(perms), nil
}

var _ user.Store = (*DB)(nil)
