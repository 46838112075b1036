package integration

import (
	"context"
	"reflect"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
)

// Store keeps integrations (secrets sealed at rest) and icons.
type Store interface {
	// CreateIntegration is Conflict on a taken name, NotFound without
	// the tenant.
	CreateIntegration(ctx context.Context, i *Integration) error
	// GetIntegration returns the integration with its secrets.
	GetIntegration(ctx context.Context, tenantID, name string) (*Integration, error)
	// ListIntegrations lists by name after cursor (a name), at most limit.
	ListIntegrations(ctx context.Context, tenantID, after string, limit int) ([]*Integration, error)
	UpdateIntegration(ctx context.Context, i *Integration) error
	DeleteIntegration(ctx context.Context, tenantID, name string) error
	// SaveIcon adds an icon, or offers a removed one again.
	SaveIcon(ctx context.Context, ic *Icon) error
	GetIcon(ctx context.Context, tenantID, id string) (*Icon, error)
	// ListIcons lists the icons offered (not removed), without their bytes.
	ListIcons(ctx context.Context, tenantID string) ([]*Icon, error)
	RemoveIcon(ctx context.Context, tenantID, id string) error
	// DeleteIntegrationTokens forgets the OAuth tokens of the service
	// account (service) or of the users (users).
	DeleteIntegrationTokens(ctx context.Context, tenantID, name string, service, users bool) error
}

// Service applies the rules of integrations and icons over a Store.
type Service struct {
	Store Store
	Now   func() time.Time
}

// Export is an integration as it travels between tenants and instances
// (R-INT-8): no secret, the icon's bytes with it.
type Export struct {
	Integration Integration `json:"integration"`
	IconPNG     []byte      `json:"icon_png,omitempty"`
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// checkIcon requires a named icon to be one of the tenant's (a removed one
// too: integrations keep theirs, R-INT-7).
func (s *Service) checkIcon(ctx context.Context, i *Integration) error {
	if i.Icon == "" {
		return nil
	}
	if _, err := s.Store.GetIcon(ctx, i.TenantID, i.Icon); derrors.Is(err, derrors.NotFound) {
		return derrors.Invalidf("icon", "is not one of this tenant's icons")
	} else if err != nil {
		return err
	}
	return nil
}

// Create adds an integration to the tenant and returns the warnings of its
// validation.
func (s *Service) Create(ctx context.Context, tenantID string, i *Integration) ([]string, error) {
	i.TenantID = tenantID
	warn, err := i.Validate(true)
	if err != nil {
		return nil, err
	}
	if err := s.checkIcon(ctx, i); err != nil {
		return nil, err
	}
	i.CreatedAt = s.now()
	i.UpdatedAt = i.CreatedAt
	return warn, s.Store.CreateIntegration(ctx, i)
}

// Get returns an integration with its secrets (for calls; the API shows
// Redacted).
func (s *Service) Get(ctx context.Context, tenantID, name string) (*Integration, error) {
	if ValidateName(name) != nil {
		return nil, derrors.NotFoundf("integration %q not found", name)
	}
	return s.Store.GetIntegration(ctx, tenantID, name)
}

// List lists the tenant's integrations by name after the cursor.
func (s *Service) List(ctx context.Context, tenantID, after string, limit int) ([]*Integration, error) {
	return s.Store.ListIntegrations(ctx, tenantID, after, limit)
}

// Update replaces the integration name with i; secrets left empty keep
// their values when the method did not change.
func (s *Service) Update(ctx context.Context, tenantID, name string, i *Integration) ([]string, error) {
	old, err := s.Get(ctx, tenantID, name)
	if err != nil {
		return nil, err
	}
	if i.Name == "" {
		i.Name = name
	}
	if i.Name != name {
		return nil, derrors.Invalidf("name", "an integration cannot be renamed (export it and import it under the new name)")
	}
	i.TenantID = tenantID
	i.KeepSecrets(old)
	warn, err := i.Validate(true)
	if err != nil {
		return nil, err
	}
	if err := s.checkIcon(ctx, i); err != nil {
		return nil, err
	}
	i.CreatedAt, i.UpdatedAt = old.CreatedAt, s.now()
	if err := s.Store.UpdateIntegration(ctx, i); err != nil {
		return nil, err
	}
	// Tokens got with other OAuth settings are not this integration's:
	// forgotten (the service account signs in again after such a change).
	service := !reflect.DeepEqual(i.ServiceAuth, old.ServiceAuth)
	users := !reflect.DeepEqual(i.ActionAuth, old.ActionAuth)
	return warn, s.Store.DeleteIntegrationTokens(ctx, tenantID, name, service, users)
}

// Delete removes an integration.
func (s *Service) Delete(ctx context.Context, tenantID, name string) error {
	if ValidateName(name) != nil {
		return derrors.NotFoundf("integration %q not found", name)
	}
	return s.Store.DeleteIntegration(ctx, tenantID, name)
}

// Export returns the integration without secrets, with its icon.
func (s *Service) Export(ctx context.Context, tenantID, name string) (*Export, error) {
	i, err := s.Get(ctx, tenantID, name)
	if err != nil {
		return nil, err
	}
	r := i.Redacted()
	r.ServiceAuth.SecretsSet = nil
	if r.ActionAuth != nil {
		r.ActionAuth.SecretsSet = nil
	}
	e := &Export{Integration: r}
	if i.Icon != "" {
		ic, err := s.Store.GetIcon(ctx, tenantID, i.Icon)
		if err != nil {
			return nil, err
		}
		e.IconPNG = ic.PNG
	}
	return e, nil
}

// Import adds an exported integration to the tenant, under name when it is
// not empty; its icon joins the tenant's icons. Its secrets are empty until
// an update sets them.
func (s *Service) Import(ctx context.Context, tenantID string, e *Export, name string) ([]string, error) {
	i := e.Integration
	i.TenantID = tenantID
	if name != "" {
		i.Name = name
	}
	i.ServiceAuth.SetSecrets(Secrets{})
	if i.ActionAuth != nil {
		i.ActionAuth.SetSecrets(Secrets{})
	}
	warn, err := i.Validate(false)
	if err != nil {
		return nil, err
	}
	switch {
	case len(e.IconPNG) > 0:
		ic, err := s.AddIcon(ctx, tenantID, e.IconPNG)
		if err != nil {
			return nil, err
		}
		i.Icon = ic.ID
	case i.Icon != "":
		return nil, derrors.Invalidf("icon", "the export names an icon but does not carry it")
	}
	i.CreatedAt = s.now()
	i.UpdatedAt = i.CreatedAt
	if err := s.Store.CreateIntegration(ctx, &i); err != nil {
		return nil, err
	}
	e.Integration = i
	return warn, nil
}

// AddIcon checks an icon file (R-INT-7) and adds it to the tenant's icons.
func (s *Service) AddIcon(ctx context.Context, tenantID string, png []byte) (*Icon, error) {
	if err := ValidateIcon(png); err != nil {
		return nil, err
	}
	ic := &Icon{TenantID: tenantID, ID: IconID(png), PNG: png, CreatedAt: s.now()}
	if err := s.Store.SaveIcon(ctx, ic); err != nil {
		return nil, err
	}
	return ic, nil
}

// Icon returns an icon, removed or not.
func (s *Service) Icon(ctx context.Context, tenantID, id string) (*Icon, error) {
	if !iconIDRE.MatchString(id) {
		return nil, derrors.NotFoundf("icon %q not found", id)
	}
	return s.Store.GetIcon(ctx, tenantID, id)
}

// Icons lists the icons offered.
func (s *Service) Icons(ctx context.Context, tenantID string) ([]*Icon, error) {
	return s.Store.ListIcons(ctx, tenantID)
}

// RemoveIcon stops offering an icon; integrations that use it keep it.
func (s *Service) RemoveIcon(ctx context.Context, tenantID, id string) error {
	if !iconIDRE.MatchString(id) {
		return derrors.NotFoundf("icon %q not found", id)
	}
	return s.Store.RemoveIcon(ctx, tenantID, id)
}
