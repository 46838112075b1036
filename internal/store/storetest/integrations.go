package storetest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/integration"
	"github.com/gatehouse-id/gatehouse/internal/store"
)

func sampleIntegration(tenantID, name string) *integration.Integration {
	return &integration.Integration{
		TenantID: tenantID, Name: name, BaseURL: "https://tickets.example.com/api",
		ServiceAuth: integration.Auth{Method: integration.MethodAPIKey, In: "header", Name: "X-API-Key", Key: "k-" + name},
		ActionAuth: &integration.Auth{Method: integration.MethodOAuth2, GrantType: integration.GrantAuthorizationCode, ClientID: "c",
			ClientSecret: "cs-" + name, AuthorizationURL: "https://as.example.com/authorize", TokenURL: "https://as.example.com/token", HeaderPrefix: "Bearer"},
		RateLimit: &integration.RateLimit{Requests: 5, Per: integration.PerSecond, Policy: integration.PolicyReject},
		CreatedAt: at(0), UpdatedAt: at(0),
	}
}

// RunIntegrations is the conformance suite of HTTP integrations and icons
// (issue 11, R-INT-1, R-INT-7): create with secrets, get them back,
// conflicts, list by cursor, update, delete, icons offered and removed,
// tenant isolation (R-TEN-1) and cascade with the tenant (R-TEN-3).
func RunIntegrations(t *testing.T, open func(t *testing.T) *store.DB) {
	t.Run("Integrations/CRUD_R-INT-1", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		mkTenant(t, db, "acme")
		mkTenant(t, db, "other")
		i := sampleIntegration("acme", "tickets")
		must(t, db.CreateIntegration(t.Context(), i))
		wantErr(t, "CreateIntegration(again)", db.CreateIntegration(t.Context(), sampleIntegration("acme", "tickets")), derrors.Conflict, "name")
		wantErr(t, "CreateIntegration(no tenant)", db.CreateIntegration(t.Context(), sampleIntegration("nope", "tickets")), derrors.NotFound, "")
		must(t, db.CreateIntegration(t.Context(), sampleIntegration("other", "tickets")))

		got, err := db.GetIntegration(t.Context(), "acme", "tickets")
		must(t, err)
		if got.ServiceAuth.Key != "k-tickets" || got.ActionAuth == nil || got.ActionAuth.ClientSecret != "cs-tickets" || got.RateLimit.Requests != 5 ||
			got.BaseURL != i.BaseURL || !got.CreatedAt.Equal(at(0)) || got.TenantID != "acme" {
			t.Fatalf("GetIntegration: %+v", got)
		}
		_, err = db.GetIntegration(t.Context(), "acme", "nope")
		wantErr(t, "GetIntegration(nope)", err, derrors.NotFound, "")

		got.BaseURL = "https://tickets2.example.com"
		got.ServiceAuth.Key = "rotated"
		got.UpdatedAt = at(day)
		must(t, db.UpdateIntegration(t.Context(), got))
		again, err := db.GetIntegration(t.Context(), "acme", "tickets")
		must(t, err)
		if again.BaseURL != got.BaseURL || again.ServiceAuth.Key != "rotated" || !again.UpdatedAt.Equal(at(day)) || !again.CreatedAt.Equal(at(0)) {
			t.Errorf("after update: %+v", again)
		}
		if o, err := db.GetIntegration(t.Context(), "other", "tickets"); err != nil || o.ServiceAuth.Key != "k-tickets" {
			t.Errorf("the other tenant's integration changed: %v %+v", err, o)
		}
		wantErr(t, "UpdateIntegration(nope)", db.UpdateIntegration(t.Context(), sampleIntegration("acme", "nope")), derrors.NotFound, "")

		for _, n := range []string{"a", "b", "c", "d"} {
			must(t, db.CreateIntegration(t.Context(), sampleIntegration("acme", n)))
		}
		var names []string
		after := ""
		for {
			l, err := db.ListIntegrations(t.Context(), "acme", after, 2)
			must(t, err)
			if len(l) == 0 {
				break
			}
			for _, x := range l {
				names = append(names, x.Name)
			}
			after = l[len(l)-1].Name
		}
		if fmt.Sprint(names) != "[a b c d tickets]" {
			t.Errorf("list by cursor: %v", names)
		}
		must(t, db.DeleteIntegration(t.Context(), "acme", "a"))
		wantErr(t, "DeleteIntegration(again)", db.DeleteIntegration(t.Context(), "acme", "a"), derrors.NotFound, "")
		must(t, db.DeleteTenant(t.Context(), "other"))
		_, err = db.GetIntegration(t.Context(), "other", "tickets")
		wantErr(t, "GetIntegration(deleted tenant)", err, derrors.NotFound, "")
	})

	t.Run("Integrations/Tokens_R-INT-2", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		mkTenant(t, db, "acme")
		must(t, db.CreateIntegration(t.Context(), sampleIntegration("acme", "tickets")))
		_, err := db.GetIntegrationToken(t.Context(), "acme", "tickets", "")
		wantErr(t, "GetIntegrationToken(none)", err, derrors.NotFound, "")
		must(t, db.SaveIntegrationToken(t.Context(), "acme", "tickets", "", []byte(`{"access_token":"svc"}`), at(0)))
		must(t, db.SaveIntegrationToken(t.Context(), "acme", "tickets", "user-1", []byte(`{"access_token":"u1"}`), at(0)))
		must(t, db.SaveIntegrationToken(t.Context(), "acme", "tickets", "", []byte(`{"access_token":"svc2"}`), at(day)))
		if b, err := db.GetIntegrationToken(t.Context(), "acme", "tickets", ""); err != nil || string(b) != `{"access_token":"svc2"}` {
			t.Errorf("service token: %s %v", b, err)
		}
		wantErr(t, "SaveIntegrationToken(no integration)", db.SaveIntegrationToken(t.Context(), "acme", "nope", "", []byte("{}"), at(0)), derrors.NotFound, "")
		must(t, db.DeleteIntegrationTokens(t.Context(), "acme", "tickets", true, false))
		if _, err := db.GetIntegrationToken(t.Context(), "acme", "tickets", ""); !derrors.Is(err, derrors.NotFound) {
			t.Errorf("the service token after deleting it: %v", err)
		}
		if b, err := db.GetIntegrationToken(t.Context(), "acme", "tickets", "user-1"); err != nil || string(b) != `{"access_token":"u1"}` {
			t.Errorf("a user's token went with the service token: %s %v", b, err)
		}
		// UpdateIntegrationToken serialises: 8 racing updates each see the
		// one before (a refresh token is spent once).
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := db.UpdateIntegrationToken(context.Background(), "acme", "tickets", "spent", func(stored []byte) ([]byte, error) {
					return append(stored, 'x'), nil
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if b, err := db.GetIntegrationToken(t.Context(), "acme", "tickets", "spent"); err != nil || string(b) != "xxxxxxxx" {
			t.Errorf("after 8 racing updates: %q %v, want 8 x", b, err)
		}
		if b, err := db.UpdateIntegrationToken(t.Context(), "acme", "tickets", "spent", func([]byte) ([]byte, error) { return nil, nil }); err != nil || string(b) != "xxxxxxxx" {
			t.Errorf("an update that keeps the token: %q %v", b, err)
		}
		// A user's tokens go with the user.
		u := mkUser(t, db, "acme", "bob")
		must(t, db.SaveIntegrationToken(t.Context(), "acme", "tickets", u.ID, []byte(`{"access_token":"bob"}`), at(0)))
		must(t, db.DeleteUser(t.Context(), "acme", u.ID))
		if _, err := db.GetIntegrationToken(t.Context(), "acme", "tickets", u.ID); !derrors.Is(err, derrors.NotFound) {
			t.Errorf("a deleted user's token: %v", err)
		}
		must(t, db.DeleteIntegration(t.Context(), "acme", "tickets"))
		must(t, db.CreateIntegration(t.Context(), sampleIntegration("acme", "tickets")))
		if _, err := db.GetIntegrationToken(t.Context(), "acme", "tickets", "user-1"); !derrors.Is(err, derrors.NotFound) {
			t.Errorf("a token outlived its integration: %v", err)
		}
	})

	t.Run("Integrations/Icons_R-INT-7", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		mkTenant(t, db, "acme")
		mkTenant(t, db, "other")
		png := []byte("\x89PNG fake bytes: the store keeps what it is given")
		ic := &integration.Icon{TenantID: "acme", ID: integration.IconID(png), PNG: png, CreatedAt: at(0)}
		must(t, db.SaveIcon(t.Context(), ic))
		must(t, db.SaveIcon(t.Context(), ic))
		got, err := db.GetIcon(t.Context(), "acme", ic.ID)
		must(t, err)
		if !bytes.Equal(got.PNG, png) || got.Removed || !got.CreatedAt.Equal(at(0)) {
			t.Fatalf("GetIcon: %+v", got)
		}
		_, err = db.GetIcon(t.Context(), "other", ic.ID)
		wantErr(t, "GetIcon(other tenant)", err, derrors.NotFound, "")
		l, err := db.ListIcons(t.Context(), "acme")
		must(t, err)
		if len(l) != 1 || l[0].ID != ic.ID || l[0].PNG != nil {
			t.Errorf("ListIcons: %+v", l)
		}
		must(t, db.RemoveIcon(t.Context(), "acme", ic.ID))
		wantErr(t, "RemoveIcon(again)", db.RemoveIcon(t.Context(), "acme", ic.ID), derrors.NotFound, "")
		if l, _ := db.ListIcons(t.Context(), "acme"); len(l) != 0 {
			t.Errorf("a removed icon is still offered: %+v", l)
		}
		if got, err := db.GetIcon(t.Context(), "acme", ic.ID); err != nil || !got.Removed || !bytes.Equal(got.PNG, png) {
			t.Errorf("a removed icon is gone for the integrations that use it: %v %+v", err, got)
		}
		must(t, db.SaveIcon(t.Context(), ic))
		if l, _ := db.ListIcons(t.Context(), "acme"); len(l) != 1 {
			t.Errorf("an icon added again is not offered again: %+v", l)
		}
		wantErr(t, "SaveIcon(no tenant)", db.SaveIcon(t.Context(), &integration.Icon{TenantID: "nope", ID: ic.ID, PNG: png}), derrors.NotFound, "")
	})
}

// RunIntegrationsRaw checks that integration secrets are sealed at rest:
// no secret is in the database's bytes, and a sealed value moved to
// another row does not open there.
func RunIntegrationsRaw(t *testing.T, open func(t *testing.T) (*store.DB, Raw)) {
	t.Run("Integrations/SealedAtRest", func(t *testing.T) {
		t.Parallel()
		db, raw := open(t)
		mkTenant(t, db, "acme")
		i := sampleIntegration("acme", "tickets")
		i.ServiceAuth.Key = "api-key-SECRET-0123456789"
		i.ActionAuth.ClientSecret = "client-SECRET-9876543210"
		must(t, db.CreateIntegration(t.Context(), i))
		must(t, db.CreateIntegration(t.Context(), sampleIntegration("acme", "other")))
		var cfg, sealed string
		must(t, raw.DB.QueryRow("SELECT config, secrets FROM integrations WHERE name = 'tickets'").Scan(&cfg, &sealed))
		for _, s := range []string{i.ServiceAuth.Key, i.ActionAuth.ClientSecret} {
			if strings.Contains(cfg, s) || strings.Contains(sealed, s) {
				t.Errorf("secret %q is readable in the row", s)
			}
		}
		for _, f := range raw.Files {
			b, err := os.ReadFile(f)
			if err == nil && (bytes.Contains(b, []byte(i.ServiceAuth.Key)) || bytes.Contains(b, []byte(i.ActionAuth.ClientSecret))) {
				t.Errorf("a secret is in the bytes of %s", f)
			}
		}
		if len(raw.Files) > 0 {
			// The raw handle on SQLite is read-only: the move below runs
			// on PostgreSQL.
			return
		}
		if strings.ContainsAny(sealed, "'\\") {
			t.Fatalf("a sealed value with a quote: %q", sealed)
		}
		if _, err := raw.DB.Exec("UPDATE integrations SET secrets = '" + sealed + "' WHERE name = 'other'"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.GetIntegration(t.Context(), "acme", "other"); err == nil {
			t.Error("secrets sealed for one integration opened in another's row")
		}
	})
}
