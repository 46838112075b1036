package adminapi

import (
	"context"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/keys"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
)

// CreateTenant validates and stores a tenant and gives it its signing keys.
// A tenant whose keys cannot be made is removed again.
func CreateTenant(ctx context.Context, ts tenant.Store, km *keys.Manager, now time.Time, in TenantInput) (*tenant.Tenant, error) {
	t := &tenant.Tenant{Name: in.Name, DisplayName: in.DisplayName, SigningAlg: in.SigningAlg, ConsentPolicy: in.ConsentPolicy, CreatedAt: now.UTC(), UpdatedAt: now.UTC()}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if err := ts.CreateTenant(ctx, t); err != nil {
		return nil, err
	}
	if err := km.Init(ctx, t.Name, t.SigningAlg); err != nil {
		_ = ts.DeleteTenant(context.WithoutCancel(ctx), t.Name)
		return nil, err
	}
	return t, nil
}

// AdminAppName is the name of the admin client made on the first start.
const AdminAppName = "gatehouse_admin"

// Bootstrap makes sure the system tenant exists. When this call created it
// (the first start on an empty store), it also registers the admin client and
// returns its credentials; otherwise it returns nil.
func Bootstrap(ctx context.Context, ts tenant.Store, km *keys.Manager, apps *app.Service, now time.Time) (*app.Created, error) {
	_, err := CreateTenant(ctx, ts, km, now, TenantInput{Name: tenant.System, DisplayName: "System", SigningAlg: tenant.AlgES256})
	if derrors.Is(err, derrors.Conflict) {
		// Already there; a replica that crashed between creating the tenant
		// and its keys left a tenant without keys: finish the job.
		t, gerr := ts.GetTenant(ctx, tenant.System)
		if gerr != nil {
			return nil, gerr
		}
		return nil, km.Init(ctx, tenant.System, t.SigningAlg)
	}
	if err != nil {
		return nil, err
	}
	return apps.Create(ctx, tenant.System, &app.App{
		Name:        AdminAppName,
		Description: "The admin API client created on the first start.",
		Type:        app.S2S,
		Scopes:      []string{ScopeAdmin, ScopeRead},
		Audiences:   []string{Audience},
		FirstParty:  true,
	}, app.SecretOptions{})
}
