package user

import (
	"context"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/tenant"
)

// State is whether a user may log in (R-USR-1, R-USR-2).
type State string

// User states.
const (
	Active  State = "active"
	Blocked State = "blocked"
)

// User is a person of a tenant. The password hash never leaves the server:
// it is not part of the JSON form.
type User struct {
	ID            string   `json:"id"`
	Username      string   `json:"username"`
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	GivenName     string   `json:"given_name,omitempty"`
	FamilyName    string   `json:"family_name,omitempty"`
	Groups        []string `json:"groups,omitempty"`
	State         State    `json:"state"`
	// BlockedAt is when the user was last blocked. It stays set after an
	// unblock, so that what was issued before the block can be told apart
	// from what was issued after it (R-USR-2).
	BlockedAt         time.Time `json:"blocked_at,omitzero"`
	PasswordHash      string    `json:"-"`
	PasswordChangedAt time.Time `json:"password_changed_at,omitzero"`
	CreatedAt         time.Time `json:"created_at,omitzero"`
	UpdatedAt         time.Time `json:"updated_at,omitzero"`
}

// HasPassword reports whether the user has a password to log in with.
func (u *User) HasPassword() bool { return u.PasswordHash != "" }

// Grant names one permission of one app of the tenant.
type Grant struct {
	ClientID   string `json:"client_id"`
	Permission string `json:"permission"`
}

// Role bundles permissions of one or more apps of a tenant; roles are
// assigned to users (R-ROL-1).
type Role struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Permissions []Grant   `json:"permissions"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	UpdatedAt   time.Time `json:"updated_at,omitzero"`
}

// Store persists users and roles. Every method is scoped to one tenant.
//
// Uniqueness of usernames and emails is case-insensitive and enforced by the
// store (a Conflict naming "username" or "email"); a clash of generated IDs
// is a Conflict naming "id". A grant of a permission that does not exist is
// Invalid naming "permissions"; an unknown role in an assignment is Invalid
// naming "roles".
type Store interface {
	CreateUser(ctx context.Context, tenantID string, u *User) error
	GetUser(ctx context.Context, tenantID, id string) (*User, error)
	// GetUserByLogin finds a user by username or email, case-insensitively.
	GetUserByLogin(ctx context.Context, tenantID, login string) (*User, error)
	// ListUsers lists users by lower-cased username after the cursor.
	ListUsers(ctx context.Context, tenantID string, p tenant.Page) ([]*User, error)
	// UpdateUser replaces the profile: username, email, email_verified,
	// names, groups and updated_at. State and password are left alone.
	UpdateUser(ctx context.Context, tenantID string, u *User) error
	SetPassword(ctx context.Context, tenantID, id, hash string, at time.Time) error
	// RehashPassword replaces the hash only while it is still oldHash (a
	// concurrent password change wins); it is no error when it is not.
	RehashPassword(ctx context.Context, tenantID, id, oldHash, newHash string) error
	// SetState blocks or unblocks; blocking records at as BlockedAt.
	SetState(ctx context.Context, tenantID, id string, s State, at time.Time) error
	DeleteUser(ctx context.Context, tenantID, id string) error

	CreateRole(ctx context.Context, tenantID string, r *Role) error
	GetRole(ctx context.Context, tenantID, name string) (*Role, error)
	// ListRoles lists roles by name after the cursor.
	ListRoles(ctx context.Context, tenantID string, p tenant.Page) ([]*Role, error)
	// UpdateRole replaces the role called name with r (which may rename it;
	// assignments follow).
	UpdateRole(ctx context.Context, tenantID, name string, r *Role) error
	DeleteRole(ctx context.Context, tenantID, name string) error

	// UserRoles lists the names of a user's roles, sorted.
	UserRoles(ctx context.Context, tenantID, userID string) ([]string, error)
	// SetUserRoles replaces the user's roles with roles.
	SetUserRoles(ctx context.Context, tenantID, userID string, roles []string) error
	AssignRole(ctx context.Context, tenantID, userID, role string) error
	UnassignRole(ctx context.Context, tenantID, userID, role string) error
	// Access returns the user's roles that grant a permission of the app
	// clientID and those permissions, each sorted and without repeats.
	Access(ctx context.Context, tenantID, userID, clientID string) (roles, permissions []string, err error)
}
