// Package tenant holds the tenant model and its rules (R-TEN-1..4).
//
// A tenant is an isolated organisation. Its name is its key: it is immutable,
// unique and part of the issuer URL ({public URL}/t/{name}).
package tenant

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/text"
)

// System is the tenant that exists from the first start and issues the admin
// API's tokens (R-ADM-1).
const System = "system"

// Signing algorithms a tenant may choose (R-OID-7).
const (
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
)

// Consent policies: how long a user's consent to a third-party app holds
// (R-OID-9, R-OID-10).
const (
	// ConsentRemember keeps a consent until it is revoked: the default.
	ConsentRemember = "remember"
	// ConsentSession keeps a consent for the SSO session it was given in:
	// every new session asks again.
	ConsentSession = "session"
)

// Tenant is an isolated organisation.
type Tenant struct {
	Name          string    `json:"name"`
	DisplayName   string    `json:"display_name"`
	SigningAlg    string    `json:"signing_alg"`
	ConsentPolicy string    `json:"consent_policy"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Page selects a slice of a list ordered by a key: items after Cursor, at
// most Limit of them.
type Page struct {
	Cursor string
	Limit  int
}

// NewPage clamps limit to [1, 500], 100 by default.
func NewPage(cursor string, limit int) Page {
	if limit <= 0 {
		limit = 100
	}
	if limit > 500 {
		limit = 500
	}
	return Page{Cursor: cursor, Limit: limit}
}

// Plus1 asks for one item more than the page holds, to learn whether a next
// page exists.
func (p Page) Plus1() Page { return Page{Cursor: p.Cursor, Limit: p.Limit + 1} }

// Store persists tenants. Deleting a tenant removes everything it owns.
type Store interface {
	CreateTenant(ctx context.Context, t *Tenant) error
	GetTenant(ctx context.Context, name string) (*Tenant, error)
	UpdateTenant(ctx context.Context, t *Tenant) error
	ListTenants(ctx context.Context, p Page) ([]*Tenant, error)
	DeleteTenant(ctx context.Context, name string) error
}

// MaxNameLen is the longest tenant name (a DNS label).
const MaxNameLen = 63

// ValidateName enforces R-TEN-2: 1–63 characters of lower-case letters, digits
// and '-', not starting or ending with '-'.
func ValidateName(name string) error {
	if name == "" {
		return derrors.Invalidf("name", "is required")
	}
	if len(name) > MaxNameLen {
		return derrors.Invalidf("name", "must be at most %d characters", MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return derrors.Invalidf("name", "may contain only lower-case letters, digits and '-'")
		}
	}
	if name[0] == '-' || name[len(name)-1] == '-' {
		return derrors.Invalidf("name", "must not start or end with '-'")
	}
	return nil
}

// MaxDisplayNameLen bounds the display name.
const MaxDisplayNameLen = 200

// Validate checks every field of t and fills defaults.
func (t *Tenant) Validate() error {
	if err := ValidateName(t.Name); err != nil {
		return err
	}
	if t.DisplayName == "" {
		t.DisplayName = t.Name
	}
	if !utf8.ValidString(t.DisplayName) || utf8.RuneCountInString(t.DisplayName) > MaxDisplayNameLen {
		return derrors.Invalidf("display_name", "must be valid text of at most %d characters", MaxDisplayNameLen)
	}
	if err := text.Line(t.DisplayName); err != nil {
		return derrors.Invalidf("display_name", "%v", err)
	}
	switch t.SigningAlg {
	case "":
		t.SigningAlg = AlgRS256
	case AlgRS256, AlgES256, AlgEdDSA:
	default:
		return derrors.Invalidf("signing_alg", "must be one of RS256, ES256, EdDSA")
	}
	switch t.ConsentPolicy {
	case "":
		t.ConsentPolicy = ConsentRemember
	case ConsentRemember, ConsentSession:
	default:
		return derrors.Invalidf("consent_policy", "must be remember or session")
	}
	return nil
}
