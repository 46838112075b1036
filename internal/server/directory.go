package server

import (
	"context"

	"github.com/gatehouse-id/gatehouse/internal/user"
)

// directory is the user service as the OIDC provider needs it.
type directory struct{ *user.Service }

// ActiveUserByLogin finds an active user by username or email (the JWT
// bearer grant's pipe-separated subject names users by username).
func (d directory) ActiveUserByLogin(ctx context.Context, tenantID, login string) (*user.User, error) {
	u, err := d.Store.GetUserByLogin(ctx, tenantID, login)
	if err != nil {
		return nil, err
	}
	return d.ActiveUser(ctx, tenantID, u.ID)
}
