package claims

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

func TestRelease(t *testing.T) {
	alice := Subject{
		User:  &user.User{ID: "u1", Username: "alice", Email: "alice@example.com", EmailVerified: true, GivenName: "Alice", FamilyName: "Liddell", Groups: []string{"staff"}},
		Roles: []string{"reader"}, Permissions: []string{"read"},
	}
	bare := Subject{User: &user.User{ID: "u2", Username: "bob", Email: "bob@example.com"}}
	const emailURI = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
	configured := &app.App{Claims: []app.ClaimSetting{
		{Name: "email", Available: true, InToken: true, MapTo: emailURI},
		{Name: "given_name", Available: true},
		{Name: "roles", Available: true, InToken: true, Required: true},
	}}
	cases := []struct {
		name      string
		app       *app.App
		subj      Subject
		scopes    []string
		token     map[string]any
		available map[string]any
		missing   string
	}{
		{
			name: "defaults follow the scopes (OIDC Core §5.4)", app: &app.App{}, subj: alice, scopes: []string{"openid", "email"},
			token:     map[string]any{"email": "alice@example.com", "email_verified": true, "roles": []string{"reader"}, "permissions": []string{"read"}},
			available: map[string]any{"email": "alice@example.com", "email_verified": true, "roles": []string{"reader"}, "permissions": []string{"read"}},
		},
		{
			name: "profile scope", app: &app.App{}, subj: bare, scopes: []string{"openid", "profile"},
			token:     map[string]any{"preferred_username": "bob"},
			available: map[string]any{"preferred_username": "bob"},
		},
		{
			name: "settings: mapped, available-only, required (R-CLM-1)", app: configured, subj: alice, scopes: []string{"openid"},
			token:     map[string]any{emailURI: "alice@example.com", "roles": []string{"reader"}},
			available: map[string]any{emailURI: "alice@example.com", "given_name": "Alice", "roles": []string{"reader"}},
		},
		{
			name: "required roles missing (R-CLM-2)", app: configured, subj: bare, scopes: []string{"openid"},
			token:     map[string]any{emailURI: "bob@example.com"},
			available: map[string]any{emailURI: "bob@example.com"},
			missing:   "roles",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.token, Token(tc.app, tc.subj, tc.scopes)); d != "" {
				t.Errorf("Token (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.available, Available(tc.app, tc.subj, tc.scopes)); d != "" {
				t.Errorf("Available (-want +got):\n%s", d)
			}
			if got := Missing(tc.app, tc.subj); got != tc.missing {
				t.Errorf("Missing = %q, want %q", got, tc.missing)
			}
		})
	}
}
