// Package storetest is the conformance suite that every database backend of
// package store runs: the same behaviour, checked the same way, on SQLite and
// on PostgreSQL.
//
// Run covers every method of tenant.Store, app.Store and keys.Store (and
// keys.Manager on top of the real store); RunRaw looks under the store with
// raw SQL and, for SQLite, the database files: secrets at rest (R-KEY-4) and
// tenant deletion leaving no rows behind (R-TEN-3).
//
// Requirement ids (R-TEN-1, R-APP-4, ...) are in the test names and comments.
package storetest

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/keys"
	"github.com/gatehouse-id/gatehouse/internal/store"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
)

type suiteTest struct {
	name string
	fn   func(t *testing.T, db *store.DB)
}

// Run runs the conformance suite against the stores open returns. open must
// return a new, empty, migrated store that no other test shares, and close it
// in t.Cleanup. The subtests run in parallel: open is called concurrently.
func Run(t *testing.T, open func(t *testing.T) *store.DB) {
	tests := []suiteTest{
		// Tenants (R-TEN).
		{"Tenant/CreateGet_R-TEN-2", testTenantCreateGet},
		{"Tenant/DuplicateName_R-TEN-2", testTenantDuplicateName},
		{"Tenant/Update", testTenantUpdate},
		{"Tenant/ListPages", testTenantList},
		{"Tenant/Delete", testTenantDelete},
		{"Tenant/DeleteCascades_R-TEN-3", testTenantDeleteCascades},
		// Applications (R-APP, R-TEN-4).
		{"App/CreateGetClient", testAppCreateGet},
		{"App/SettingsRoundTrip_R-APP-3_R-APP-7_R-SML-2", testAppSettingsRoundTrip},
		{"App/DuplicateName_R-APP-3", testAppDuplicateName},
		{"App/DuplicateClientID_R-APP-4", testAppDuplicateClientID},
		{"App/Limit_R-TEN-4", testAppLimit},
		{"App/MissingTenant", testAppMissingTenant},
		{"App/ListPages", testAppList},
		{"App/Update", testAppUpdate},
		{"App/Delete_R-APP-11", testAppDelete},
		{"App/RotateSecret_R-APP-5", testRotateSecret},
		{"App/ByEntityID_R-SML-2_R-WSF-1", testAppByEntityID},
		// Permissions (R-PRM-1, R-TEN-4).
		{"Permission/CreateGet_R-PRM-1", testPermCreateGet},
		{"Permission/ListLastModifiedFirst_R-PRM-1", testPermList},
		{"Permission/Update_R-PRM-1", testPermUpdate},
		{"Permission/Limit_R-TEN-4", testPermLimit},
		{"Permission/Delete", testPermDelete},
		// Signing keys (R-KEY).
		{"Keys/SaveList_R-KEY-4", testKeysSaveList},
		{"Keys/StaleVersion", testKeysStaleVersion},
		{"Keys/ConcurrentSave", testKeysConcurrentSave},
		{"Keys/MissingTenant", testKeysMissingTenant},
		{"Keys/ManagerInit_R-KEY-1", testManagerInit},
		{"Keys/ManagerConcurrentInit_R-RUN-2", testManagerConcurrentInit},
		{"Keys/ManagerRotate_R-KEY-2", testManagerRotate},
		{"Keys/SAMLLine_R-SML-1", testManagerSAMLLine},
		// Tenant isolation, one test per entity (R-TEN-1).
		{"Isolation/Apps_R-TEN-1", testIsolationApps},
		{"Isolation/Permissions_R-TEN-1", testIsolationPermissions},
		{"Isolation/Keys_R-TEN-1", testIsolationKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// ---------------------------------------------------------------------------
// Helpers and fixtures.

// at is the suite's clock: a fixed instant plus d, at the microsecond
// precision the store keeps.
func at(d time.Duration) time.Time {
	return time.Date(2031, time.March, 14, 15, 9, 26, 535897000, time.UTC).Add(d)
}

const day = 24 * time.Hour

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func kindName(k derrors.Kind) string {
	switch k {
	case derrors.Internal:
		return "Internal"
	case derrors.Invalid:
		return "Invalid"
	case derrors.NotFound:
		return "NotFound"
	case derrors.Conflict:
		return "Conflict"
	case derrors.Forbidden:
		return "Forbidden"
	case derrors.Unauthenticated:
		return "Unauthenticated"
	case derrors.LimitExceeded:
		return "LimitExceeded"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// wantErr checks that err is a derrors error of kind (and of field, unless
// field is empty).
func wantErr(t *testing.T, op string, err error, kind derrors.Kind, field string) {
	t.Helper()
	var de *derrors.Error
	switch {
	case err == nil:
		t.Errorf("%s: no error, want %s", op, kindName(kind))
	case derrors.KindOf(err) != kind:
		t.Errorf("%s: error %q is %s, want %s", op, err, kindName(derrors.KindOf(err)), kindName(kind))
	case field != "" && errors.As(err, &de) && de.Field != field:
		t.Errorf("%s: error %q names field %q, want %q", op, err, de.Field, field)
	}
}

func diff(t *testing.T, what string, want, got any, opts ...cmp.Option) {
	t.Helper()
	if d := cmp.Diff(want, got, opts...); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

var (
	sortSecrets = cmpopts.SortSlices(func(a, b app.Secret) bool { return a.ID < b.ID })
	sortKeys    = cmpopts.SortSlices(func(a, b *keys.Key) bool { return a.KID < b.KID })
)

func mkTenant(t *testing.T, db *store.DB, name string) *tenant.Tenant {
	t.Helper()
	tn := &tenant.Tenant{Name: name, DisplayName: "Tenant " + name, SigningAlg: tenant.AlgES256, ConsentPolicy: tenant.ConsentRemember, CreatedAt: at(0), UpdatedAt: at(0)}
	must(t, db.CreateTenant(t.Context(), tn))
	return tn
}

// webApp is a confidential OIDC app with every default filled in.
func webApp(name string) *app.App {
	return &app.App{
		ClientID:             app.RandomString(app.ClientIDLength),
		Name:                 name,
		Type:                 app.Web,
		Protocol:             app.OIDC,
		RedirectURIs:         []string{"https://app.example.com/callback"},
		GrantTypes:           []string{app.GrantAuthorizationCode, app.GrantRefreshToken},
		AccessTokenLifetime:  app.Duration(time.Hour),
		IDTokenLifetime:      app.Duration(time.Hour),
		RefreshTokenLifetime: app.Duration(30 * day),
		AccessTokenFormat:    app.TokenJWT,
		CreatedAt:            at(0),
		UpdatedAt:            at(0),
	}
}

func newSecret(hash string, expires time.Time) *app.Secret {
	return &app.Secret{ID: app.RandomString(12), Hash: hash, CreatedAt: at(0), ExpiresAt: expires}
}

// cloneApp deep-copies a, so that a want value cannot change with the store's
// argument.
func cloneApp(t *testing.T, a *app.App) *app.App {
	t.Helper()
	b, err := json.Marshal(a)
	must(t, err)
	var c app.App
	must(t, json.Unmarshal(b, &c))
	return &c
}

// mkApp creates a web app with one secret in tenantID.
func mkApp(t *testing.T, db *store.DB, tenantID, name string) (*app.App, *app.Secret) {
	t.Helper()
	a, s := webApp(name), newSecret("hash-of-"+name, time.Time{})
	must(t, db.CreateApp(t.Context(), tenantID, a, s, 100))
	return cloneApp(t, a), s
}

// R-SML-2, R-WSF-1: a SAML app is found by its SP entity ID, a WS-Fed app by
// its realm, each unique per tenant and protocol; updates move the index.
func testAppByEntityID(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	mkTenant(t, db, "other")
	samlApp := func(name, entity string) *app.App {
		a := webApp(name)
		a.Protocol, a.RedirectURIs, a.GrantTypes = app.SAML, nil, nil
		a.SAML = &app.SAMLSettings{EntityID: entity, ACSURLs: []string{"https://sp.example.com/acs"}}
		return a
	}
	sp := samlApp("sp", "https://sp.example.com")
	must(t, db.CreateApp(ctx, "acme", sp, nil, 100))
	got, err := db.AppByEntityID(ctx, "acme", app.SAML, "https://sp.example.com")
	must(t, err)
	if got.ClientID != sp.ClientID {
		t.Errorf("AppByEntityID: %s, want %s", got.ClientID, sp.ClientID)
	}
	_, err = db.AppByEntityID(ctx, "other", app.SAML, "https://sp.example.com")
	wantErr(t, "AppByEntityID in another tenant", err, derrors.NotFound, "")
	_, err = db.AppByEntityID(ctx, "acme", app.WSFed, "https://sp.example.com")
	wantErr(t, "AppByEntityID of another protocol", err, derrors.NotFound, "")

	err = db.CreateApp(ctx, "acme", samlApp("sp2", "https://sp.example.com"), nil, 100)
	wantErr(t, "a second SAML app with the entity ID", err, derrors.Conflict, "saml.entity_id")
	must(t, db.CreateApp(ctx, "other", samlApp("sp", "https://sp.example.com"), nil, 100))
	rp := webApp("rp")
	rp.Protocol, rp.RedirectURIs, rp.GrantTypes = app.WSFed, nil, nil
	rp.WSFed = &app.WSFedSettings{Realm: "https://sp.example.com", ReplyURLs: []string{"https://sp.example.com/wsfed"}}
	must(t, db.CreateApp(ctx, "acme", rp, nil, 100))
	got, err = db.AppByEntityID(ctx, "acme", app.WSFed, "https://sp.example.com")
	must(t, err)
	if got.ClientID != rp.ClientID {
		t.Errorf("AppByEntityID(wsfed): %s, want %s", got.ClientID, rp.ClientID)
	}

	sp.SAML.EntityID = "https://sp.example.com/v2"
	must(t, db.UpdateApp(ctx, "acme", sp))
	_, err = db.AppByEntityID(ctx, "acme", app.SAML, "https://sp.example.com")
	wantErr(t, "AppByEntityID of the old entity ID", err, derrors.NotFound, "")
	got, err = db.AppByEntityID(ctx, "acme", app.SAML, "https://sp.example.com/v2")
	must(t, err)
	if got.ClientID != sp.ClientID {
		t.Errorf("AppByEntityID after update: %s", got.ClientID)
	}
	must(t, db.CreateApp(ctx, "acme", samlApp("sp3", "https://sp.example.com"), nil, 100))
}

func mkPerm(t *testing.T, db *store.DB, tenantID, clientID, name string, updated time.Duration) *app.Permission {
	t.Helper()
	p := &app.Permission{Name: name, Description: "may " + name, CreatedAt: at(0), UpdatedAt: at(updated)}
	must(t, db.CreatePermission(t.Context(), tenantID, clientID, p, 50))
	c := *p
	return &c
}

func secretsOf(t *testing.T, db *store.DB, tenantID, clientID string) []app.Secret {
	t.Helper()
	_, s, err := db.GetClient(t.Context(), tenantID, clientID)
	must(t, err)
	return s
}

// collectPages pages through a list with limit, following the cursor (the
// last name of each page) until a short page, and returns the pages.
func collectPages(t *testing.T, limit int, list func(p tenant.Page) ([]string, error)) [][]string {
	t.Helper()
	var pages [][]string
	cursor := ""
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatal("pagination does not end")
		}
		names, err := list(tenant.NewPage(cursor, limit))
		must(t, err)
		if len(names) > limit {
			t.Fatalf("page %d has %d items, limit %d", i, len(names), limit)
		}
		pages = append(pages, names)
		if len(names) < limit {
			return pages
		}
		cursor = names[len(names)-1]
	}
}

// wantPages splits sorted names into pages of limit, with the empty page a
// client reads last when the list ends on a page boundary.
func wantPages(names []string, limit int) [][]string {
	sorted := slices.Sorted(slices.Values(names))
	var pages [][]string
	for len(sorted) >= limit {
		pages = append(pages, sorted[:limit])
		sorted = sorted[limit:]
	}
	return append(pages, sorted)
}

func tenantNames(ts []*tenant.Tenant) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func appNames(as []*app.App) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Name)
	}
	return out
}

func permNames(ps []*app.Permission) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

// run runs fn in n goroutines at once and returns their errors.
func run(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// countErrs counts successes and errors of kind, and reports any other error.
func countErrs(t *testing.T, errs []error, kind derrors.Kind) (ok, ofKind int) {
	t.Helper()
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case derrors.KindOf(err) == kind:
			ofKind++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	return ok, ofKind
}

// timeout bounds a test that could deadlock, so that it fails instead.
func timeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// ---------------------------------------------------------------------------
// Tenants.

func testTenantCreateGet(t *testing.T, db *store.DB) {
	ctx := t.Context()
	for _, want := range []*tenant.Tenant{
		{Name: "acme-corp", DisplayName: "Acme Corporation — Zürich ✓", SigningAlg: tenant.AlgEdDSA, ConsentPolicy: tenant.ConsentSession, CreatedAt: at(0), UpdatedAt: at(time.Second)},
		{Name: "a", DisplayName: "a", SigningAlg: tenant.AlgRS256, CreatedAt: at(-day), UpdatedAt: at(-day)},
		{Name: strings.Repeat("x1-", 20) + "end", DisplayName: "sixty-three", SigningAlg: tenant.AlgES256, CreatedAt: at(0), UpdatedAt: at(0)},
	} {
		must(t, db.CreateTenant(ctx, want))
		got, err := db.GetTenant(ctx, want.Name)
		must(t, err)
		diff(t, "GetTenant("+want.Name+")", want, got)
	}
	_, err := db.GetTenant(ctx, "missing")
	wantErr(t, "GetTenant(missing)", err, derrors.NotFound, "")
}

func testTenantDuplicateName(t *testing.T, db *store.DB) {
	ctx := t.Context()
	first := mkTenant(t, db, "acme")
	err := db.CreateTenant(ctx, &tenant.Tenant{Name: "acme", DisplayName: "Impostor", SigningAlg: tenant.AlgRS256, CreatedAt: at(time.Hour), UpdatedAt: at(time.Hour)})
	wantErr(t, "CreateTenant(duplicate)", err, derrors.Conflict, "name")
	got, err := db.GetTenant(ctx, "acme")
	must(t, err)
	diff(t, "tenant after a refused duplicate", first, got)
}

func testTenantUpdate(t *testing.T, db *store.DB) {
	ctx := t.Context()
	orig := mkTenant(t, db, "acme")
	other := mkTenant(t, db, "globex")

	upd := &tenant.Tenant{Name: "acme", DisplayName: "Acme, renamed", SigningAlg: tenant.AlgRS256, ConsentPolicy: tenant.ConsentSession, CreatedAt: at(99 * time.Hour), UpdatedAt: at(time.Hour)}
	must(t, db.UpdateTenant(ctx, upd))
	got, err := db.GetTenant(ctx, "acme")
	must(t, err)
	want := &tenant.Tenant{Name: "acme", DisplayName: "Acme, renamed", SigningAlg: tenant.AlgRS256, ConsentPolicy: tenant.ConsentSession, CreatedAt: orig.CreatedAt, UpdatedAt: at(time.Hour)}
	diff(t, "tenant after UpdateTenant (creation time kept)", want, got)

	gotOther, err := db.GetTenant(ctx, "globex")
	must(t, err)
	diff(t, "other tenant after UpdateTenant", other, gotOther)

	err = db.UpdateTenant(ctx, &tenant.Tenant{Name: "missing", DisplayName: "x", SigningAlg: tenant.AlgRS256, UpdatedAt: at(0)})
	wantErr(t, "UpdateTenant(missing)", err, derrors.NotFound, "")
	_, err = db.GetTenant(ctx, "missing")
	wantErr(t, "GetTenant after UpdateTenant(missing)", err, derrors.NotFound, "")
}

func testTenantList(t *testing.T, db *store.DB) {
	ctx := t.Context()
	// Whatever a fresh store holds (a future migration may seed a tenant)
	// is listed too.
	pre, err := db.ListTenants(ctx, tenant.NewPage("", 500))
	must(t, err)
	names := tenantNames(pre)
	for _, n := range []string{"mike", "alpha", "x-ray", "bravo", "a1", "a10", "a2", "zulu-9", "0-first"} {
		mkTenant(t, db, n)
		names = append(names, n)
	}
	all, err := db.ListTenants(ctx, tenant.NewPage("", 500))
	must(t, err)
	for _, tn := range all {
		if tn.DisplayName == "" || tn.CreatedAt.IsZero() {
			t.Errorf("ListTenants returned an incomplete tenant: %+v", tn)
		}
	}
	for _, limit := range []int{1, 2, 3, len(names), len(names) + 1, 100} {
		t.Run(fmt.Sprint("limit=", limit), func(t *testing.T) {
			got := collectPages(t, limit, func(p tenant.Page) ([]string, error) {
				ts, err := db.ListTenants(ctx, p)
				return tenantNames(ts), err
			})
			diff(t, "tenant pages", wantPages(names, limit), got, cmpopts.EquateEmpty())
		})
	}
	// A cursor that is not a tenant name still starts after it.
	got, err := db.ListTenants(ctx, tenant.NewPage("b", 500))
	must(t, err)
	var after []string
	for _, n := range slices.Sorted(slices.Values(names)) {
		if n > "b" {
			after = append(after, n)
		}
	}
	diff(t, "ListTenants after cursor b", after, tenantNames(got))
}

func testTenantDelete(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	keep := mkTenant(t, db, "globex")
	must(t, db.DeleteTenant(ctx, "acme"))
	_, err := db.GetTenant(ctx, "acme")
	wantErr(t, "GetTenant(deleted)", err, derrors.NotFound, "")
	wantErr(t, "DeleteTenant(deleted)", db.DeleteTenant(ctx, "acme"), derrors.NotFound, "")
	wantErr(t, "DeleteTenant(missing)", db.DeleteTenant(ctx, "missing"), derrors.NotFound, "")
	got, err := db.GetTenant(ctx, "globex")
	must(t, err)
	diff(t, "other tenant after DeleteTenant", keep, got)
	// The name is free again.
	mkTenant(t, db, "acme")
}

// R-TEN-3: deleting a tenant removes everything it owns.
func testTenantDeleteCascades(t *testing.T, db *store.DB) {
	ctx := t.Context()
	type owned struct {
		apps []*app.App
		kids []string
	}
	fill := func(tenantID string) owned {
		var o owned
		for _, name := range []string{"portal", "backend"} {
			a, _ := mkApp(t, db, tenantID, name)
			must(t, db.RotateSecret(ctx, tenantID, a.ClientID, newSecret("rotated", time.Time{}), at(time.Hour)))
			mkPerm(t, db, tenantID, a.ClientID, "read", 0)
			mkPerm(t, db, tenantID, a.ClientID, "write", 0)
			o.apps = append(o.apps, a)
		}
		k, err := keys.Generate(tenantID, tenant.AlgES256, at(0))
		must(t, err)
		k.State = keys.StateActive
		must(t, db.SaveKeys(ctx, tenantID, 0, []*keys.Key{k}, nil))
		o.kids = append(o.kids, k.KID)
		return o
	}
	mkTenant(t, db, "doomed")
	mkTenant(t, db, "kept")
	doomed, kept := fill("doomed"), fill("kept")

	must(t, db.DeleteTenant(ctx, "doomed"))

	for _, a := range doomed.apps {
		_, err := db.GetApp(ctx, "doomed", a.ClientID)
		wantErr(t, "GetApp in a deleted tenant", err, derrors.NotFound, "")
		_, _, err = db.GetClient(ctx, "doomed", a.ClientID)
		wantErr(t, "GetClient in a deleted tenant", err, derrors.NotFound, "")
		_, err = db.GetPermission(ctx, "doomed", a.ClientID, "read")
		wantErr(t, "GetPermission in a deleted tenant", err, derrors.NotFound, "")
	}
	_, _, err := db.ListKeys(ctx, "doomed")
	wantErr(t, "ListKeys of a deleted tenant", err, derrors.NotFound, "")
	_, err = db.KeysVersion(ctx, "doomed")
	wantErr(t, "KeysVersion of a deleted tenant", err, derrors.NotFound, "")
	wantErr(t, "CreateApp in a deleted tenant", db.CreateApp(ctx, "doomed", webApp("late"), nil, 10), derrors.NotFound, "")

	// Recreated under the same name, the tenant starts empty: no apps, no
	// keys, no permissions, no secrets; the old client IDs are free again
	// (they are unique across the installation, R-APP-4).
	mkTenant(t, db, "doomed")
	apps, err := db.ListApps(ctx, "doomed", tenant.NewPage("", 100))
	must(t, err)
	diff(t, "apps of a recreated tenant", []string(nil), appNames(apps), cmpopts.EquateEmpty())
	ks, ver, err := db.ListKeys(ctx, "doomed")
	must(t, err)
	if len(ks) != 0 || ver != 0 {
		t.Errorf("recreated tenant has %d keys at version %d, want none at 0", len(ks), ver)
	}
	for _, a := range doomed.apps {
		perms, err := db.ListPermissions(ctx, "doomed", a.ClientID)
		must(t, err)
		diff(t, "permissions of a deleted app", []string(nil), permNames(perms), cmpopts.EquateEmpty())
		again := webApp(a.Name)
		again.ClientID = a.ClientID
		must(t, db.CreateApp(ctx, "doomed", again, nil, 10))
		diff(t, "secrets of a recreated app", []app.Secret(nil), secretsOf(t, db, "doomed", a.ClientID), cmpopts.EquateEmpty())
		perms, err = db.ListPermissions(ctx, "doomed", a.ClientID)
		must(t, err)
		diff(t, "permissions of a recreated app", []string(nil), permNames(perms), cmpopts.EquateEmpty())
	}

	// The other tenant keeps everything.
	for _, a := range kept.apps {
		got, err := db.GetApp(ctx, "kept", a.ClientID)
		must(t, err)
		diff(t, "kept app", a, got)
		if n := len(secretsOf(t, db, "kept", a.ClientID)); n != 2 {
			t.Errorf("kept app has %d secrets, want 2", n)
		}
		perms, err := db.ListPermissions(ctx, "kept", a.ClientID)
		must(t, err)
		diff(t, "kept permissions", []string{"read", "write"}, permNames(perms))
	}
	ks, _, err = db.ListKeys(ctx, "kept")
	must(t, err)
	if len(ks) != 1 || ks[0].KID != kept.kids[0] {
		t.Errorf("kept tenant's keys changed: %v", ks)
	}
}

// ---------------------------------------------------------------------------
// Applications.

func testAppCreateGet(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")

	a, s := webApp("portal"), newSecret("hash-1", at(90*day))
	want := cloneApp(t, a)
	must(t, db.CreateApp(ctx, "acme", a, s, 10))
	got, err := db.GetApp(ctx, "acme", a.ClientID)
	must(t, err)
	diff(t, "GetApp", want, got)
	gotApp, gotSecrets, err := db.GetClient(ctx, "acme", a.ClientID)
	must(t, err)
	diff(t, "GetClient app", want, gotApp)
	diff(t, "GetClient secrets", []app.Secret{*s}, gotSecrets)

	// A public app has no secret.
	spa := &app.App{ClientID: app.RandomString(16), Name: "spa", Type: app.SPA, Protocol: app.OIDC,
		RedirectURIs: []string{"https://spa.example.com/"}, CreatedAt: at(0), UpdatedAt: at(0)}
	wantSPA := cloneApp(t, spa)
	must(t, db.CreateApp(ctx, "acme", spa, nil, 10))
	gotApp, gotSecrets, err = db.GetClient(ctx, "acme", spa.ClientID)
	must(t, err)
	diff(t, "GetClient(spa) app", wantSPA, gotApp)
	if len(gotSecrets) != 0 {
		t.Errorf("GetClient(spa) secrets = %v, want none", gotSecrets)
	}

	_, err = db.GetApp(ctx, "acme", "missing")
	wantErr(t, "GetApp(missing)", err, derrors.NotFound, "")
	_, _, err = db.GetClient(ctx, "acme", "missing")
	wantErr(t, "GetClient(missing)", err, derrors.NotFound, "")
	_, err = db.GetApp(ctx, "no-such-tenant", a.ClientID)
	wantErr(t, "GetApp(missing tenant)", err, derrors.NotFound, "")
}

// The whole app survives storage: SAML and WS-Fed settings, logo bytes,
// lifetimes, flags (R-APP-3, R-APP-7, R-APP-10, R-SML-2, R-WSF-1).
func testAppSettingsRoundTrip(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	logo := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x80\x00\x00\x00\x80\x08\x06\x00\x00\x00\xc3>a\xcb\"'\\\xff\xfe")
	cert := "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUZm9vYmFy\n-----END CERTIFICATE-----\n"
	tests := []struct {
		name string
		app  *app.App
	}{
		{"web oidc with every field", &app.App{
			Name: "portal_full", Description: "Portail d'accès — ünïcødé ✓ \"quoted\"", Type: app.Web, Protocol: app.OIDC,
			WebsiteURL: "https://portal.example.com/about?x=1&y=2", Logo: logo,
			AdditionalInfo: "line one\nline two\t<b>not html</b>", FirstParty: true,
			RedirectURIs:           []string{"https://portal.example.com/cb", "http://127.0.0.1:8080/cb"},
			PostLogoutRedirectURIs: []string{"https://portal.example.com/bye"},
			GrantTypes:             []string{app.GrantAuthorizationCode, app.GrantRefreshToken, app.GrantPassword, app.GrantJWTBearer, app.GrantImplicit},
			Scopes:                 []string{"read:all", "write", "urn:example:scope"},
			Audiences:              []string{"https://api.example.com", "urn:billing"},
			AccessTokenLifetime:    app.Duration(15 * time.Minute),
			IDTokenLifetime:        app.Duration(1440 * time.Minute),
			RefreshTokenLifetime:   app.Duration(365 * day),
			AccessTokenFormat:      app.TokenOpaque,
			ForcePKCE:              true,
			DeveloperMode:          true,
			LogonResultURLs:        &app.LogonURLs{AccessDenied: "https://portal.example.com/denied", Failed: "https://portal.example.com/failed", Error: "https://portal.example.com/error"},
		}},
		{"web saml", &app.App{
			Name: "payroll_saml", Type: app.Web, Protocol: app.SAML, Logo: logo, FirstParty: false,
			SAML: &app.SAMLSettings{
				EntityID: "urn:payroll:sp", ACSURLs: []string{"https://payroll.example.com/saml/acs", "https://payroll.example.com/saml/acs2"},
				Subject: "user_id", Certificate: cert, HashAlgorithm: "sha512", EncryptAssertion: true,
				EncryptionAlgorithm: "aes256-gcm", SLOURL: "https://payroll.example.com/saml/slo", SLOBinding: "HTTP-POST",
			},
		}},
		{"web wsfed", &app.App{
			Name: "sharepoint", Type: app.Web, Protocol: app.WSFed,
			WSFed: &app.WSFedSettings{Realm: "urn:sharepoint:example", ReplyURLs: []string{"https://sp.example.com/_trust/"}, Certificate: cert, HashAlgorithm: "sha256"},
		}},
		{"native with no refresh tokens", &app.App{
			Name: "mobile", Type: app.Native, Protocol: app.OIDC,
			RedirectURIs:        []string{"com.example.app:/oauth2redirect", "http://127.0.0.1/cb"},
			GrantTypes:          []string{app.GrantAuthorizationCode, app.GrantRefreshToken},
			AccessTokenLifetime: app.Duration(time.Minute), IDTokenLifetime: app.Duration(time.Minute), RefreshTokenLifetime: 0,
			AccessTokenFormat: app.TokenJWT,
		}},
		{"s2s", &app.App{
			Name: "nightly_job", Type: app.S2S, Protocol: app.OIDC,
			GrantTypes:          []string{app.GrantClientCredentials, app.GrantJWTBearer},
			Scopes:              []string{"reports.read"},
			AccessTokenLifetime: app.Duration(5 * time.Minute), IDTokenLifetime: app.Duration(60 * time.Minute),
			AccessTokenFormat: app.TokenJWT,
		}},
		{"minimal spa", &app.App{Name: "s", Type: app.SPA, Protocol: app.OIDC, RedirectURIs: []string{"https://s.example/"}}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.app
			a.ClientID = app.RandomString(app.ClientIDLength)
			a.CreatedAt, a.UpdatedAt = at(time.Duration(i)*time.Second), at(time.Duration(i)*time.Minute)
			want := cloneApp(t, a)
			must(t, db.CreateApp(ctx, "acme", a, newSecret("h", time.Time{}), 100))

			got, err := db.GetApp(ctx, "acme", a.ClientID)
			must(t, err)
			diff(t, "GetApp", want, got)
			gotClient, _, err := db.GetClient(ctx, "acme", a.ClientID)
			must(t, err)
			diff(t, "GetClient", want, gotClient)
			list, err := db.ListApps(ctx, "acme", tenant.NewPage("", 500))
			must(t, err)
			idx := slices.IndexFunc(list, func(x *app.App) bool { return x.ClientID == a.ClientID })
			if idx < 0 {
				t.Fatalf("ListApps does not contain %s", a.Name)
			}
			diff(t, "ListApps entry", want, list[idx])

			// And through UpdateApp.
			upd := cloneApp(t, want)
			upd.Description = "updated ✓"
			upd.Logo = append(slices.Clone(logo), 0, 1, 2)
			upd.UpdatedAt = at(day)
			wantUpd := cloneApp(t, upd)
			must(t, db.UpdateApp(ctx, "acme", upd))
			got, err = db.GetApp(ctx, "acme", a.ClientID)
			must(t, err)
			diff(t, "GetApp after UpdateApp", wantUpd, got)
		})
	}
}

// R-APP-3: the name is unique in the tenant, not across tenants.
func testAppDuplicateName(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	mkTenant(t, db, "globex")
	orig, origSecret := mkApp(t, db, "acme", "portal")

	dup := webApp("portal")
	err := db.CreateApp(ctx, "acme", dup, newSecret("dup", time.Time{}), 10)
	wantErr(t, "CreateApp(same name, same tenant)", err, derrors.Conflict, "name")
	_, err = db.GetApp(ctx, "acme", dup.ClientID)
	wantErr(t, "GetApp(refused duplicate)", err, derrors.NotFound, "")
	got, secrets, err := db.GetClient(ctx, "acme", orig.ClientID)
	must(t, err)
	diff(t, "original app after a refused duplicate", orig, got)
	diff(t, "original secrets after a refused duplicate", []app.Secret{*origSecret}, secrets)

	// Another tenant may use the name.
	mkApp(t, db, "globex", "portal")
}

// R-APP-4: a client ID is unique across the whole installation.
func testAppDuplicateClientID(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	mkTenant(t, db, "globex")
	orig, origSecret := mkApp(t, db, "acme", "portal")
	for _, tenantID := range []string{"acme", "globex"} {
		t.Run("tenant="+tenantID, func(t *testing.T) {
			dup := webApp("other_" + strings.ReplaceAll(tenantID, "-", "_"))
			dup.ClientID = orig.ClientID
			err := db.CreateApp(ctx, tenantID, dup, newSecret("dup", time.Time{}), 10)
			wantErr(t, "CreateApp(taken client_id)", err, derrors.Conflict, "client_id")
			got, secrets, err := db.GetClient(ctx, "acme", orig.ClientID)
			must(t, err)
			diff(t, "original app", orig, got)
			diff(t, "original secrets", []app.Secret{*origSecret}, secrets)
			// Nothing of the refused app was kept: its name is free.
			mkApp(t, db, tenantID, dup.Name)
		})
	}
}

// R-TEN-4: at most maxApps applications per tenant, checked in the write
// transaction.
func testAppLimit(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	mkTenant(t, db, "globex")
	const limit = 2
	var ids []string
	for _, name := range []string{"one", "two"} {
		a := webApp(name)
		must(t, db.CreateApp(ctx, "acme", a, nil, limit))
		ids = append(ids, a.ClientID)
	}
	third := webApp("three")
	err := db.CreateApp(ctx, "acme", third, newSecret("h", time.Time{}), limit)
	wantErr(t, "CreateApp past the limit", err, derrors.LimitExceeded, "")
	_, err = db.GetApp(ctx, "acme", third.ClientID)
	wantErr(t, "GetApp(refused app)", err, derrors.NotFound, "")

	// The limit is per tenant.
	for _, name := range []string{"one", "two"} {
		must(t, db.CreateApp(ctx, "globex", webApp(name), nil, limit))
	}
	// Deleting an app frees a place.
	must(t, db.DeleteApp(ctx, "acme", ids[0]))
	must(t, db.CreateApp(ctx, "acme", third, nil, limit))
	wantErr(t, "CreateApp past the limit again", db.CreateApp(ctx, "acme", webApp("four"), nil, limit), derrors.LimitExceeded, "")

	// Concurrent creates never overshoot.
	t.Run("concurrent", func(t *testing.T) {
		ctx := timeout(t)
		mkTenant(t, db, "rush")
		const n, max = 8, 3
		errs := run(n, func(i int) error {
			return db.CreateApp(ctx, "rush", webApp(fmt.Sprint("app_", i)), newSecret("h", time.Time{}), max)
		})
		ok, limited := countErrs(t, errs, derrors.LimitExceeded)
		if ok != max || limited != n-max {
			t.Errorf("%d concurrent creates with limit %d: %d succeeded, %d hit the limit; want %d and %d", n, max, ok, limited, max, n-max)
		}
		list, err := db.ListApps(ctx, "rush", tenant.NewPage("", 100))
		must(t, err)
		if len(list) != max {
			t.Errorf("tenant has %d apps, want %d", len(list), max)
		}
	})
}

func testAppMissingTenant(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := webApp("portal")
	err := db.CreateApp(ctx, "missing", a, newSecret("h", time.Time{}), 10)
	wantErr(t, "CreateApp(missing tenant)", err, derrors.NotFound, "")
	mkTenant(t, db, "missing")
	list, err := db.ListApps(ctx, "missing", tenant.NewPage("", 100))
	must(t, err)
	if len(list) != 0 {
		t.Errorf("ListApps = %v, want none", appNames(list))
	}
	// Nothing was kept of the refused app: its client ID is free.
	must(t, db.CreateApp(ctx, "missing", a, nil, 10))
}

func testAppList(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	mkTenant(t, db, "globex")
	names := []string{"alpha", "Beta", "beta_2", "Zulu", "_under", "a1", "a10", "a2", "Alpha"}
	want := map[string]*app.App{}
	for _, n := range names {
		a, _ := mkApp(t, db, "acme", n)
		want[n] = a
	}
	mkApp(t, db, "globex", "aardvark") // another tenant's app is never listed

	all, err := db.ListApps(ctx, "acme", tenant.NewPage("", 500))
	must(t, err)
	for _, a := range all {
		diff(t, "listed app "+a.Name, want[a.Name], a)
	}
	for _, limit := range []int{1, 2, 4, len(names), 100} {
		t.Run(fmt.Sprint("limit=", limit), func(t *testing.T) {
			got := collectPages(t, limit, func(p tenant.Page) ([]string, error) {
				as, err := db.ListApps(ctx, "acme", p)
				return appNames(as), err
			})
			// Names are ordered bytewise, upper case before '_' before lower case.
			diff(t, "app pages", wantPages(names, limit), got, cmpopts.EquateEmpty())
		})
	}
	got, err := db.ListApps(ctx, "acme", tenant.NewPage("b", 100))
	must(t, err)
	diff(t, "ListApps after cursor b", []string{"beta_2"}, appNames(got))
	mkTenant(t, db, "empty-tenant")
	got, err = db.ListApps(ctx, "empty-tenant", tenant.NewPage("", 100))
	must(t, err)
	diff(t, "ListApps of a tenant without apps", []string(nil), appNames(got), cmpopts.EquateEmpty())
}

func testAppUpdate(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	a, s := mkApp(t, db, "acme", "portal")
	other, _ := mkApp(t, db, "acme", "other")

	upd := cloneApp(t, a)
	upd.Name = "portal_v2"
	upd.Description = "now with a description"
	upd.RedirectURIs = []string{"https://v2.example.com/cb", "https://v2.example.com/cb2"}
	upd.Scopes = []string{"extra"}
	upd.AccessTokenLifetime = app.Duration(10 * time.Minute)
	upd.LogonResultURLs = &app.LogonURLs{Failed: "https://v2.example.com/failed"}
	upd.CreatedAt = at(99 * day) // the creation time never changes
	upd.UpdatedAt = at(time.Hour)
	want := cloneApp(t, upd)
	want.CreatedAt = a.CreatedAt
	must(t, db.UpdateApp(ctx, "acme", upd))
	got, secrets, err := db.GetClient(ctx, "acme", a.ClientID)
	must(t, err)
	diff(t, "app after UpdateApp", want, got)
	diff(t, "secrets after UpdateApp", []app.Secret{*s}, secrets)

	// The old name is free; a taken name is refused.
	mkApp(t, db, "acme", "portal")
	clash := cloneApp(t, want)
	clash.Name = "other"
	clash.UpdatedAt = at(2 * time.Hour)
	wantErr(t, "UpdateApp onto a taken name", db.UpdateApp(ctx, "acme", clash), derrors.Conflict, "name")
	got, err = db.GetApp(ctx, "acme", a.ClientID)
	must(t, err)
	diff(t, "app after a refused rename", want, got)
	gotOther, err := db.GetApp(ctx, "acme", other.ClientID)
	must(t, err)
	diff(t, "other app after a refused rename", other, gotOther)

	// GetClient (the token endpoint's read, which may cache) sees every
	// update at once, even one that leaves UpdatedAt unchanged (a frozen
	// clock, two updates in one microsecond).
	_, _, err = db.GetClient(ctx, "acme", a.ClientID)
	must(t, err)
	same := cloneApp(t, want)
	same.RedirectURIs = []string{"https://only-this.example.com/cb"}
	same.GrantTypes = []string{app.GrantAuthorizationCode}
	wantSame := cloneApp(t, same)
	must(t, db.UpdateApp(ctx, "acme", same))
	gotClient, _, err := db.GetClient(ctx, "acme", a.ClientID)
	must(t, err)
	diff(t, "GetClient after an update with the same UpdatedAt", wantSame, gotClient)
	got, err = db.GetApp(ctx, "acme", a.ClientID)
	must(t, err)
	diff(t, "GetApp after an update with the same UpdatedAt", wantSame, got)

	missing := webApp("ghost")
	wantErr(t, "UpdateApp(missing)", db.UpdateApp(ctx, "acme", missing), derrors.NotFound, "")
	_, err = db.GetApp(ctx, "acme", missing.ClientID)
	wantErr(t, "GetApp after UpdateApp(missing)", err, derrors.NotFound, "")
}

// R-APP-11: deleting an app removes it with its secrets and permissions.
func testAppDelete(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	a, _ := mkApp(t, db, "acme", "portal")
	mkPerm(t, db, "acme", a.ClientID, "read", 0)
	mkPerm(t, db, "acme", a.ClientID, "write", 0)
	keep, keepSecret := mkApp(t, db, "acme", "keep")
	keepPerm := mkPerm(t, db, "acme", keep.ClientID, "read", 0)

	_, _, err := db.GetClient(ctx, "acme", a.ClientID) // warm any cache
	must(t, err)
	must(t, db.DeleteApp(ctx, "acme", a.ClientID))
	_, err = db.GetApp(ctx, "acme", a.ClientID)
	wantErr(t, "GetApp(deleted)", err, derrors.NotFound, "")
	_, _, err = db.GetClient(ctx, "acme", a.ClientID)
	wantErr(t, "GetClient(deleted)", err, derrors.NotFound, "")
	_, err = db.GetPermission(ctx, "acme", a.ClientID, "read")
	wantErr(t, "GetPermission of a deleted app", err, derrors.NotFound, "")
	perms, err := db.ListPermissions(ctx, "acme", a.ClientID)
	must(t, err)
	diff(t, "permissions of a deleted app", []string(nil), permNames(perms), cmpopts.EquateEmpty())
	wantErr(t, "DeleteApp(deleted)", db.DeleteApp(ctx, "acme", a.ClientID), derrors.NotFound, "")
	wantErr(t, "DeleteApp(missing)", db.DeleteApp(ctx, "acme", "missing"), derrors.NotFound, "")

	// An app recreated with the same ID, name and times inherits nothing.
	again := webApp("portal")
	again.ClientID = a.ClientID
	again.Type, again.GrantTypes = app.S2S, []string{app.GrantClientCredentials}
	again.RedirectURIs = nil
	wantAgain := cloneApp(t, again)
	s := newSecret("fresh", time.Time{})
	must(t, db.CreateApp(ctx, "acme", again, s, 10))
	gotAgain, secrets, err := db.GetClient(ctx, "acme", a.ClientID)
	must(t, err)
	diff(t, "recreated app", wantAgain, gotAgain)
	diff(t, "secrets of a recreated app", []app.Secret{*s}, secrets)
	perms, err = db.ListPermissions(ctx, "acme", a.ClientID)
	must(t, err)
	diff(t, "permissions of a recreated app", []string(nil), permNames(perms), cmpopts.EquateEmpty())

	// The other app keeps everything.
	got, secrets, err := db.GetClient(ctx, "acme", keep.ClientID)
	must(t, err)
	diff(t, "kept app", keep, got)
	diff(t, "kept secrets", []app.Secret{*keepSecret}, secrets)
	gotPerm, err := db.GetPermission(ctx, "acme", keep.ClientID, "read")
	must(t, err)
	diff(t, "kept permission", keepPerm, gotPerm)
}

// R-APP-5: rotation keeps the previous secrets for a grace period (none by
// default), and never extends an expiry.
func testRotateSecret(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	never := time.Time{}
	tests := []struct {
		name                 string
		oldExpiry, newExpiry time.Time
		// want are the expiries of the three old secrets after rotation
		// (which expired at +1h, +72h and never); nil: they are removed.
		want []time.Time
	}{
		{"zero oldExpiry removes every old secret", never, never, nil},
		{"zero oldExpiry, new secret with an expiry", never, at(30 * day), nil},
		{"oldExpiry caps later expiries and never extends earlier ones", at(24 * time.Hour), at(90 * day), []time.Time{at(time.Hour), at(24 * time.Hour), at(24 * time.Hour)}},
		{"oldExpiry after every expiry caps only the secret that never expired", at(100 * day), never, []time.Time{at(time.Hour), at(72 * time.Hour), at(100 * day)}},
		{"oldExpiry before every expiry caps all", at(time.Minute), never, []time.Time{at(time.Minute), at(time.Minute), at(time.Minute)}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := webApp(fmt.Sprint("app_", i))
			// Three old secrets: +1h, then +72h (grace +100h touches nothing),
			// then one that never expires (grace +200h touches nothing).
			s1 := newSecret("h1", at(time.Hour))
			must(t, db.CreateApp(ctx, "acme", a, s1, 100))
			s2 := newSecret("h2", at(72*time.Hour))
			must(t, db.RotateSecret(ctx, "acme", a.ClientID, s2, at(100*time.Hour)))
			s3 := newSecret("h3", never)
			must(t, db.RotateSecret(ctx, "acme", a.ClientID, s3, at(200*time.Hour)))
			diff(t, "secrets before the rotation", []app.Secret{*s1, *s2, *s3}, secretsOf(t, db, "acme", a.ClientID), sortSecrets)

			fresh := newSecret("fresh", tc.newExpiry)
			fresh.CreatedAt = at(time.Minute)
			must(t, db.RotateSecret(ctx, "acme", a.ClientID, fresh, tc.oldExpiry))
			want := []app.Secret{*fresh}
			for j, s := range []*app.Secret{s1, s2, s3} {
				if tc.want != nil {
					w := *s
					w.ExpiresAt = tc.want[j]
					want = append(want, w)
				}
			}
			diff(t, "secrets after the rotation", want, secretsOf(t, db, "acme", a.ClientID), sortSecrets)
		})
	}
	wantErr(t, "RotateSecret(missing app)", db.RotateSecret(ctx, "acme", "missing", newSecret("h", never), never), derrors.NotFound, "")
	wantErr(t, "RotateSecret(missing tenant)", db.RotateSecret(ctx, "missing", "missing", newSecret("h", never), at(time.Hour)), derrors.NotFound, "")
}

// ---------------------------------------------------------------------------
// Permissions.

func testPermCreateGet(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	a, _ := mkApp(t, db, "acme", "portal")
	b, _ := mkApp(t, db, "acme", "other")
	want := &app.Permission{Name: strings.Repeat("p", app.MaxPermissionNameLen), Description: strings.Repeat("d ✓", 40), CreatedAt: at(0), UpdatedAt: at(time.Second)}
	p := *want
	must(t, db.CreatePermission(ctx, "acme", a.ClientID, &p, 50))
	got, err := db.GetPermission(ctx, "acme", a.ClientID, want.Name)
	must(t, err)
	diff(t, "GetPermission", want, got)
	noDesc := &app.Permission{Name: "read", CreatedAt: at(0), UpdatedAt: at(0)}
	must(t, db.CreatePermission(ctx, "acme", a.ClientID, noDesc, 50))
	got, err = db.GetPermission(ctx, "acme", a.ClientID, "read")
	must(t, err)
	diff(t, "GetPermission(no description)", noDesc, got)

	dup := &app.Permission{Name: "read", Description: "again", CreatedAt: at(time.Hour), UpdatedAt: at(time.Hour)}
	wantErr(t, "CreatePermission(duplicate)", db.CreatePermission(ctx, "acme", a.ClientID, dup, 50), derrors.Conflict, "name")
	got, err = db.GetPermission(ctx, "acme", a.ClientID, "read")
	must(t, err)
	diff(t, "permission after a refused duplicate", noDesc, got)
	// The name is unique in the app only.
	must(t, db.CreatePermission(ctx, "acme", b.ClientID, dup, 50))

	wantErr(t, "CreatePermission(missing app)", db.CreatePermission(ctx, "acme", "missing", &app.Permission{Name: "x", CreatedAt: at(0), UpdatedAt: at(0)}, 50), derrors.NotFound, "")
	wantErr(t, "CreatePermission(missing tenant)", db.CreatePermission(ctx, "missing", a.ClientID, &app.Permission{Name: "x", CreatedAt: at(0), UpdatedAt: at(0)}, 50), derrors.NotFound, "")
	_, err = db.GetPermission(ctx, "acme", a.ClientID, "missing")
	wantErr(t, "GetPermission(missing)", err, derrors.NotFound, "")
	_, err = db.GetPermission(ctx, "acme", "missing", "read")
	wantErr(t, "GetPermission(missing app)", err, derrors.NotFound, "")
}

// R-PRM-1: listed by last modified first (then by name).
func testPermList(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	a, _ := mkApp(t, db, "acme", "portal")
	b, _ := mkApp(t, db, "acme", "other")
	empty, err := db.ListPermissions(ctx, "acme", a.ClientID)
	must(t, err)
	diff(t, "permissions of an app without any", []string(nil), permNames(empty), cmpopts.EquateEmpty())

	pa := mkPerm(t, db, "acme", a.ClientID, "a_perm", 3*time.Second)
	pb := mkPerm(t, db, "acme", a.ClientID, "b_perm", 1*time.Second)
	pc := mkPerm(t, db, "acme", a.ClientID, "c_perm", 2*time.Second)
	pd := mkPerm(t, db, "acme", a.ClientID, "d_perm", 2*time.Second)
	mkPerm(t, db, "acme", b.ClientID, "z_other_app", 99*time.Second)
	got, err := db.ListPermissions(ctx, "acme", a.ClientID)
	must(t, err)
	diff(t, "ListPermissions", []*app.Permission{pa, pc, pd, pb}, got)

	// Editing a permission moves it to the top.
	upd := &app.Permission{Name: "b_perm", Description: "edited", CreatedAt: pb.CreatedAt, UpdatedAt: at(10 * time.Second)}
	must(t, db.UpdatePermission(ctx, "acme", a.ClientID, "b_perm", upd))
	got, err = db.ListPermissions(ctx, "acme", a.ClientID)
	must(t, err)
	diff(t, "ListPermissions after an edit", []*app.Permission{upd, pa, pc, pd}, got)
}

// R-PRM-1: name and description can be edited; a rename keeps the name unique.
func testPermUpdate(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	a, _ := mkApp(t, db, "acme", "portal")
	read := mkPerm(t, db, "acme", a.ClientID, "read", 0)
	write := mkPerm(t, db, "acme", a.ClientID, "write", 0)

	upd := &app.Permission{Name: "read_all", Description: "read everything", CreatedAt: at(99 * day), UpdatedAt: at(time.Hour)}
	must(t, db.UpdatePermission(ctx, "acme", a.ClientID, "read", upd))
	_, err := db.GetPermission(ctx, "acme", a.ClientID, "read")
	wantErr(t, "GetPermission(old name)", err, derrors.NotFound, "")
	got, err := db.GetPermission(ctx, "acme", a.ClientID, "read_all")
	must(t, err)
	want := &app.Permission{Name: "read_all", Description: "read everything", CreatedAt: read.CreatedAt, UpdatedAt: at(time.Hour)}
	diff(t, "renamed permission (creation time kept)", want, got)

	// Description only.
	desc := &app.Permission{Name: "write", Description: "", CreatedAt: write.CreatedAt, UpdatedAt: at(2 * time.Hour)}
	must(t, db.UpdatePermission(ctx, "acme", a.ClientID, "write", desc))
	got, err = db.GetPermission(ctx, "acme", a.ClientID, "write")
	must(t, err)
	diff(t, "re-described permission", desc, got)

	clash := &app.Permission{Name: "write", Description: "clash", CreatedAt: at(0), UpdatedAt: at(3 * time.Hour)}
	wantErr(t, "UpdatePermission onto a taken name", db.UpdatePermission(ctx, "acme", a.ClientID, "read_all", clash), derrors.Conflict, "name")
	all, err := db.ListPermissions(ctx, "acme", a.ClientID)
	must(t, err)
	diff(t, "permissions after a refused rename", []*app.Permission{desc, want}, all)

	wantErr(t, "UpdatePermission(missing)", db.UpdatePermission(ctx, "acme", a.ClientID, "missing", &app.Permission{Name: "missing", UpdatedAt: at(0)}), derrors.NotFound, "")
	wantErr(t, "UpdatePermission(missing app)", db.UpdatePermission(ctx, "acme", "missing", "write", &app.Permission{Name: "write", UpdatedAt: at(0)}), derrors.NotFound, "")
}

// R-TEN-4: at most maxPerms permissions per app.
func testPermLimit(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	a, _ := mkApp(t, db, "acme", "portal")
	b, _ := mkApp(t, db, "acme", "other")
	const limit = 2
	newPerm := func(name string) *app.Permission {
		return &app.Permission{Name: name, CreatedAt: at(0), UpdatedAt: at(0)}
	}
	must(t, db.CreatePermission(ctx, "acme", a.ClientID, newPerm("one"), limit))
	must(t, db.CreatePermission(ctx, "acme", a.ClientID, newPerm("two"), limit))
	wantErr(t, "CreatePermission past the limit", db.CreatePermission(ctx, "acme", a.ClientID, newPerm("three"), limit), derrors.LimitExceeded, "")
	_, err := db.GetPermission(ctx, "acme", a.ClientID, "three")
	wantErr(t, "GetPermission(refused)", err, derrors.NotFound, "")
	// Per app.
	must(t, db.CreatePermission(ctx, "acme", b.ClientID, newPerm("one"), limit))
	must(t, db.CreatePermission(ctx, "acme", b.ClientID, newPerm("two"), limit))
	// Deleting frees a place.
	must(t, db.DeletePermission(ctx, "acme", a.ClientID, "one"))
	must(t, db.CreatePermission(ctx, "acme", a.ClientID, newPerm("three"), limit))

	t.Run("concurrent", func(t *testing.T) {
		ctx := timeout(t)
		c, _ := mkApp(t, db, "acme", "rush")
		const n = 8
		errs := run(n, func(i int) error {
			return db.CreatePermission(ctx, "acme", c.ClientID, newPerm(fmt.Sprint("p", i)), limit)
		})
		ok, limited := countErrs(t, errs, derrors.LimitExceeded)
		if ok != limit || limited != n-limit {
			t.Errorf("%d concurrent creates with limit %d: %d succeeded, %d hit the limit", n, limit, ok, limited)
		}
	})
}

func testPermDelete(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	a, _ := mkApp(t, db, "acme", "portal")
	b, _ := mkApp(t, db, "acme", "other")
	mkPerm(t, db, "acme", a.ClientID, "read", 0)
	write := mkPerm(t, db, "acme", a.ClientID, "write", 0)
	otherRead := mkPerm(t, db, "acme", b.ClientID, "read", 0)

	must(t, db.DeletePermission(ctx, "acme", a.ClientID, "read"))
	_, err := db.GetPermission(ctx, "acme", a.ClientID, "read")
	wantErr(t, "GetPermission(deleted)", err, derrors.NotFound, "")
	wantErr(t, "DeletePermission(deleted)", db.DeletePermission(ctx, "acme", a.ClientID, "read"), derrors.NotFound, "")
	wantErr(t, "DeletePermission(missing app)", db.DeletePermission(ctx, "acme", "missing", "write"), derrors.NotFound, "")
	all, err := db.ListPermissions(ctx, "acme", a.ClientID)
	must(t, err)
	diff(t, "permissions left", []*app.Permission{write}, all)
	got, err := db.GetPermission(ctx, "acme", b.ClientID, "read")
	must(t, err)
	diff(t, "same-named permission of another app", otherRead, got)

	// The permissions of a deleted app are gone.
	must(t, db.DeleteApp(ctx, "acme", a.ClientID))
	_, err = db.GetPermission(ctx, "acme", a.ClientID, "write")
	wantErr(t, "GetPermission of a deleted app", err, derrors.NotFound, "")
	all, err = db.ListPermissions(ctx, "acme", a.ClientID)
	must(t, err)
	diff(t, "permissions of a deleted app", []string(nil), permNames(all), cmpopts.EquateEmpty())
}

// ---------------------------------------------------------------------------
// Signing keys.

func genKey(t *testing.T, tenantID, alg, state string) *keys.Key {
	t.Helper()
	k, err := keys.Generate(tenantID, alg, at(0))
	must(t, err)
	k.State = state
	return k
}

func cloneKeys(ks ...*keys.Key) []*keys.Key {
	var out []*keys.Key
	for _, k := range ks {
		c := *k
		c.Private, c.CertDER = slices.Clone(k.Private), slices.Clone(k.CertDER)
		out = append(out, &c)
	}
	return out
}

func listKeys(t *testing.T, db *store.DB, tenantID string) ([]*keys.Key, int64) {
	t.Helper()
	ks, ver, err := db.ListKeys(t.Context(), tenantID)
	must(t, err)
	return ks, ver
}

// R-KEY-4: the private key comes back unsealed and byte-equal.
func testKeysSaveList(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	ks, ver := listKeys(t, db, "acme")
	if len(ks) != 0 || ver != 0 {
		t.Fatalf("a new tenant has %d keys at version %d, want none at 0", len(ks), ver)
	}

	active := genKey(t, "acme", tenant.AlgES256, keys.StateActive)
	next := genKey(t, "acme", tenant.AlgEdDSA, keys.StateNext)
	next.CreatedAt = at(time.Second)
	want := cloneKeys(active, next)
	must(t, db.SaveKeys(ctx, "acme", 0, []*keys.Key{active, next}, nil))
	got, ver := listKeys(t, db, "acme")
	diff(t, "ListKeys after the first save", want, got, sortKeys)
	if ver != 1 {
		t.Errorf("version after the first save = %d, want 1", ver)
	}
	if v, err := db.KeysVersion(ctx, "acme"); err != nil || v != 1 {
		t.Errorf("KeysVersion = %d, %v; want 1", v, err)
	}
	for _, k := range got {
		if _, err := k.Signer(); err != nil {
			t.Errorf("stored key %s does not parse: %v", k.KID, err)
		}
	}

	// Upsert changes state and retirement; remove drops a key.
	retired := cloneKeys(active)[0]
	retired.State, retired.RetireAt = keys.StateRetired, at(2*time.Hour)
	promoted := cloneKeys(next)[0]
	promoted.State = keys.StateActive
	third := genKey(t, "acme", tenant.AlgES256, keys.StateNext)
	must(t, db.SaveKeys(ctx, "acme", 1, cloneKeys(retired, promoted, third), nil))
	got, ver = listKeys(t, db, "acme")
	diff(t, "ListKeys after an upsert", cloneKeys(retired, promoted, third), got, sortKeys)
	if ver != 2 {
		t.Errorf("version after the second save = %d, want 2", ver)
	}
	must(t, db.SaveKeys(ctx, "acme", 2, nil, []string{retired.KID, "no-such-kid"}))
	got, ver = listKeys(t, db, "acme")
	diff(t, "ListKeys after a removal", cloneKeys(promoted, third), got, sortKeys)
	if ver != 3 {
		t.Errorf("version after the third save = %d, want 3", ver)
	}
	// An empty save still bumps the version (it is how a writer claims it).
	must(t, db.SaveKeys(ctx, "acme", 3, nil, nil))
	if _, ver = listKeys(t, db, "acme"); ver != 4 {
		t.Errorf("version after an empty save = %d, want 4", ver)
	}
}

func testKeysStaleVersion(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	k1 := genKey(t, "acme", tenant.AlgES256, keys.StateActive)
	must(t, db.SaveKeys(ctx, "acme", 0, cloneKeys(k1), nil))
	for _, expect := range []int64{0, 2, -1} {
		changed := cloneKeys(k1)[0]
		changed.State = keys.StateRetired
		err := db.SaveKeys(ctx, "acme", expect, []*keys.Key{changed, genKey(t, "acme", tenant.AlgES256, keys.StateNext)}, nil)
		wantErr(t, fmt.Sprintf("SaveKeys(expect %d, stored 1)", expect), err, derrors.Conflict, "")
		err = db.SaveKeys(ctx, "acme", expect, nil, []string{k1.KID})
		wantErr(t, fmt.Sprintf("SaveKeys(expect %d, remove)", expect), err, derrors.Conflict, "")
	}
	got, ver := listKeys(t, db, "acme")
	diff(t, "keys after refused saves", cloneKeys(k1), got, sortKeys)
	if ver != 1 {
		t.Errorf("version after refused saves = %d, want 1", ver)
	}
}

// Optimistic concurrency: of writers that read the same version, exactly one
// wins. More writers than connections must not starve the pool.
func testKeysConcurrentSave(t *testing.T, db *store.DB) {
	ctx := timeout(t)
	mkTenant(t, db, "acme")
	const n = 12
	ks := make([]*keys.Key, n)
	for i := range ks {
		ks[i] = genKey(t, "acme", tenant.AlgES256, keys.StateActive)
	}
	errs := run(n, func(i int) error { return db.SaveKeys(ctx, "acme", 0, []*keys.Key{ks[i]}, nil) })
	ok, conflicts := countErrs(t, errs, derrors.Conflict)
	if ok != 1 || conflicts != n-1 {
		t.Fatalf("%d concurrent saves at version 0: %d succeeded, %d conflicts; want 1 and %d", n, ok, conflicts, n-1)
	}
	winner := ks[slices.IndexFunc(errs, func(err error) bool { return err == nil })]
	got, ver := listKeys(t, db, "acme")
	diff(t, "keys after concurrent saves", cloneKeys(winner), got, sortKeys)
	if ver != 1 {
		t.Errorf("version = %d, want 1", ver)
	}
}

func testKeysMissingTenant(t *testing.T, db *store.DB) {
	ctx := t.Context()
	_, _, err := db.ListKeys(ctx, "missing")
	wantErr(t, "ListKeys(missing tenant)", err, derrors.NotFound, "")
	_, err = db.KeysVersion(ctx, "missing")
	wantErr(t, "KeysVersion(missing tenant)", err, derrors.NotFound, "")
	err = db.SaveKeys(ctx, "missing", 0, []*keys.Key{genKey(t, "missing", tenant.AlgES256, keys.StateActive)}, nil)
	wantErr(t, "SaveKeys(missing tenant)", err, derrors.NotFound, "")
	mkTenant(t, db, "missing")
	if ks, ver := listKeys(t, db, "missing"); len(ks) != 0 || ver != 0 {
		t.Errorf("after a refused save the tenant has %d keys at version %d", len(ks), ver)
	}
}

// clock is a settable time source for keys.Manager.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// jwksKIDs parses a JWKS and returns its key IDs in order, checking that it
// holds only public keys with certificates (R-KEY-1, R-KEY-4).
func jwksKIDs(t *testing.T, b []byte) []string {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatalf("JWKS does not parse: %v\n%s", err, b)
	}
	var out []string
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Errorf("JWKS publishes a private key (kid %s)", k.KeyID)
		}
		if len(k.Certificates) == 0 {
			t.Errorf("JWKS key %s has no x5c", k.KeyID)
		}
		out = append(out, k.KeyID)
	}
	return out
}

func kidsByState(ks []*keys.Key) map[string][]string {
	out := map[string][]string{}
	for _, k := range ks {
		out[k.State] = append(out[k.State], k.KID)
	}
	for _, v := range out {
		slices.Sort(v)
	}
	return out
}

// R-KEY-1: Init gives a tenant an active and a next key, both published.
func testManagerInit(t *testing.T, db *store.DB) {
	// RS256 (slow to generate under -race) is stored by SecretsAtRest; the
	// store treats every algorithm's key as bytes.
	for _, alg := range []string{tenant.AlgES256, tenant.AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			ctx := t.Context()
			name := "t-" + strings.ToLower(alg)
			mkTenant(t, db, name)
			clk := &clock{now: at(0)}
			m := &keys.Manager{Store: db, Now: clk.Now, RetireAfter: time.Hour}
			must(t, m.Init(ctx, name, alg))
			ks, ver := listKeys(t, db, name)
			byState := kidsByState(ks)
			if len(ks) != 2 || len(byState[keys.StateActive]) != 1 || len(byState[keys.StateNext]) != 1 || ver != 1 {
				t.Fatalf("after Init: %d keys %v at version %d; want one active and one next at 1", len(ks), byState, ver)
			}
			for _, k := range ks {
				if k.Alg != alg {
					t.Errorf("key %s has alg %s, want %s", k.KID, k.Alg, alg)
				}
			}
			// Init on a tenant with keys does nothing.
			must(t, m.Init(ctx, name, alg))
			again, ver := listKeys(t, db, name)
			diff(t, "keys after a second Init", ks, again, sortKeys)
			if ver != 1 {
				t.Errorf("version after a second Init = %d, want 1", ver)
			}

			set, err := m.Get(ctx, name)
			must(t, err)
			if set.Active() == nil || set.Active().KID != byState[keys.StateActive][0] {
				t.Fatalf("Get: active key %v, want %s", set.Active(), byState[keys.StateActive][0])
			}
			diff(t, "JWKS kids (active first)", []string{byState[keys.StateActive][0], byState[keys.StateNext][0]}, jwksKIDs(t, set.JWKS))
			tok, err := set.Sign(keys.TypJWT, []byte(`{"sub":"alice"}`))
			must(t, err)
			payload, err := set.Verify(tok, keys.TypJWT)
			must(t, err)
			diff(t, "verified payload", `{"sub":"alice"}`, string(payload))
		})
	}
}

// R-RUN-2: replicas that start together initialise one key set.
func testManagerConcurrentInit(t *testing.T, db *store.DB) {
	ctx := timeout(t)
	mkTenant(t, db, "acme")
	clk := &clock{now: at(0)}
	errs := run(4, func(int) error {
		m := &keys.Manager{Store: db, Now: clk.Now, RetireAfter: time.Hour}
		return m.Init(ctx, "acme", tenant.AlgES256)
	})
	for _, err := range errs {
		must(t, err)
	}
	ks, ver := listKeys(t, db, "acme")
	if byState := kidsByState(ks); len(ks) != 2 || len(byState[keys.StateActive]) != 1 || ver != 1 {
		t.Errorf("after concurrent Init: %d keys %v at version %d; want one active and one next at 1", len(ks), byState, ver)
	}
}

// R-KEY-2: rotation without downtime, seen by another replica.
func testManagerRotate(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	clk := &clock{now: at(0)}
	const retireAfter = 2 * time.Hour
	m1 := &keys.Manager{Store: db, Now: clk.Now, RefreshInterval: 0, RetireAfter: retireAfter}
	// m2 is another replica sharing the store.
	m2 := &keys.Manager{Store: db, Now: clk.Now, RefreshInterval: 0, RetireAfter: retireAfter}
	must(t, m1.Init(ctx, "acme", tenant.AlgES256))
	before, _ := listKeys(t, db, "acme")
	st := kidsByState(before)
	oldActive, oldNext := st[keys.StateActive][0], st[keys.StateNext][0]

	s2, err := m2.Get(ctx, "acme")
	must(t, err)
	tok, err := s2.Sign(keys.TypAccessToken, []byte(`{"sub":"bob"}`))
	must(t, err)

	clk.Advance(time.Minute)
	rotatedAt := clk.Now()
	must(t, m1.Rotate(ctx, "acme", tenant.AlgES256))
	after, ver := listKeys(t, db, "acme")
	st = kidsByState(after)
	if len(after) != 3 || len(st[keys.StateNext]) != 1 || ver != 2 {
		t.Fatalf("after Rotate: %d keys %v at version %d; want active, next and retired at 2", len(after), st, ver)
	}
	newNext := st[keys.StateNext][0]
	diff(t, "keys by state after Rotate", map[string][]string{
		keys.StateActive:  {oldNext},
		keys.StateRetired: {oldActive},
		keys.StateNext:    {newNext},
	}, st)
	for _, k := range after {
		if k.KID == oldActive && !k.RetireAt.Equal(rotatedAt.Add(retireAfter)) {
			t.Errorf("retired key RetireAt = %v, want %v", k.RetireAt, rotatedAt.Add(retireAfter))
		}
	}

	// The other replica sees the rotation at once (RefreshInterval 0).
	s2, err = m2.Get(ctx, "acme")
	must(t, err)
	if s2.Version != 2 || s2.Active().KID != oldNext {
		t.Errorf("replica: version %d active %s; want 2 and %s", s2.Version, s2.Active().KID, oldNext)
	}
	diff(t, "replica JWKS after Rotate", []string{oldNext, newNext, oldActive}, jwksKIDs(t, s2.JWKS))
	if _, err := s2.Verify(tok, keys.TypAccessToken); err != nil {
		t.Errorf("a token signed before the rotation no longer verifies: %v", err)
	}
	fresh, err := s2.Sign(keys.TypJWT, []byte(`{}`))
	must(t, err)
	if _, err := s2.Verify(fresh, keys.TypJWT); err != nil {
		t.Errorf("a token signed with the new active key does not verify: %v", err)
	}

	// Past RetireAt the retired key leaves the JWKS, on both replicas.
	clk.Advance(retireAfter)
	for i, m := range []*keys.Manager{m1, m2} {
		s, err := m.Get(ctx, "acme")
		must(t, err)
		diff(t, fmt.Sprintf("replica %d JWKS past RetireAt", i+1), []string{oldNext, newNext}, jwksKIDs(t, s.JWKS))
		_, err = s.Verify(tok, keys.TypAccessToken)
		wantErr(t, "Verify(token of a retired key)", err, derrors.Unauthenticated, "")
	}

	// The next rotation removes it from the store.
	must(t, m2.Rotate(ctx, "acme", tenant.AlgES256))
	final, ver := listKeys(t, db, "acme")
	st = kidsByState(final)
	if ver != 3 || len(final) != 3 || slices.ContainsFunc(final, func(k *keys.Key) bool { return k.KID == oldActive }) {
		t.Errorf("after the second Rotate: keys %v at version %d; want 3 keys without %s at 3", st, ver, oldActive)
	}
	diff(t, "active and retired after the second Rotate", []string{newNext, oldNext}, []string{st[keys.StateActive][0], st[keys.StateRetired][0]})
	s1, err := m1.Get(ctx, "acme")
	must(t, err)
	if s1.Active().KID != newNext {
		t.Errorf("replica 1 active = %s after replica 2 rotated, want %s", s1.Active().KID, newNext)
	}
}

// R-SML-1, R-KEY-2: a tenant whose token keys are ES256 gets an RSA key line
// for SAML on first use (once, even from two replicas at once), kept out of
// the JWKS, rotated with the token keys; the SAML signer verifies nothing
// that claims to be a token.
func testManagerSAMLLine(t *testing.T, db *store.DB) {
	ctx := timeout(t)
	mkTenant(t, db, "acme")
	clk := &clock{now: at(0)}
	m1 := &keys.Manager{Store: db, Now: clk.Now, RetireAfter: time.Hour}
	m2 := &keys.Manager{Store: db, Now: clk.Now, RetireAfter: time.Hour}
	must(t, m1.Init(ctx, "acme", tenant.AlgES256))
	set, err := m1.Get(ctx, "acme")
	must(t, err)
	if _, _, ok := set.SAMLSigner(); ok {
		t.Fatal("an ES256 tenant has a SAML signer before SAML was used")
	}
	jwks := jwksKIDs(t, set.JWKS)
	sets := make([]*keys.Set, 2)
	errs := run(2, func(i int) error {
		var err error
		sets[i], err = []*keys.Manager{m1, m2}[i].SAML(ctx, "acme")
		return err
	})
	for _, err := range errs {
		must(t, err)
	}
	ks, _ := listKeys(t, db, "acme")
	var line []*keys.Key
	for _, k := range ks {
		if k.Use == keys.UseSAML {
			line = append(line, k)
		}
	}
	if len(line) != 2 || line[0].Alg != tenant.AlgRS256 || line[1].Alg != tenant.AlgRS256 {
		t.Fatalf("SAML line: %d keys %v; want one RS256 active and next", len(line), kidsByState(line))
	}
	byState := kidsByState(line)
	for i, s := range sets {
		k, _, ok := s.SAMLSigner()
		if !ok || k.KID != byState[keys.StateActive][0] || len(s.SAMLKeys) != 2 || s.SAMLKeys[1].KID != byState[keys.StateNext][0] {
			t.Errorf("replica %d: SAML signer %v, keys %d; want %v", i+1, k, len(s.SAMLKeys), byState)
		}
		diff(t, "JWKS with a SAML line", jwks, jwksKIDs(t, s.JWKS))
	}

	must(t, m1.Rotate(ctx, "acme", tenant.AlgES256))
	s, err := m2.SAML(ctx, "acme")
	must(t, err)
	k, _, _ := s.SAMLSigner()
	if k.KID != byState[keys.StateNext][0] || s.SAMLKeys[1].State != keys.StateNext || s.SAMLKeys[1].Alg != tenant.AlgRS256 {
		t.Errorf("after Rotate: SAML active %s (want the old next %s), then %s %s", k.KID, byState[keys.StateNext][0], s.SAMLKeys[1].State, s.SAMLKeys[1].Alg)
	}
	if got := len(jwksKIDs(t, s.JWKS)); got != 3 {
		t.Errorf("JWKS after Rotate has %d keys, want 3 token keys", got)
	}
}

// ---------------------------------------------------------------------------
// Tenant isolation (R-TEN-1): tenant B can neither see nor touch A's data.

func testIsolationApps(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "tenant-a")
	mkTenant(t, db, "tenant-b")
	a, aSecret := mkApp(t, db, "tenant-a", "portal")
	mkApp(t, db, "tenant-b", "mine")
	const b = "tenant-b"

	_, err := db.GetApp(ctx, b, a.ClientID)
	wantErr(t, "B GetApp(A's app)", err, derrors.NotFound, "")
	_, _, err = db.GetClient(ctx, b, a.ClientID)
	wantErr(t, "B GetClient(A's app)", err, derrors.NotFound, "")
	list, err := db.ListApps(ctx, b, tenant.NewPage("", 500))
	must(t, err)
	diff(t, "B ListApps", []string{"mine"}, appNames(list))

	hijack := cloneApp(t, a)
	hijack.Name, hijack.RedirectURIs, hijack.UpdatedAt = "hijacked", []string{"https://evil.example/cb"}, at(time.Hour)
	wantErr(t, "B UpdateApp(A's app)", db.UpdateApp(ctx, b, hijack), derrors.NotFound, "")
	wantErr(t, "B DeleteApp(A's app)", db.DeleteApp(ctx, b, a.ClientID), derrors.NotFound, "")
	wantErr(t, "B RotateSecret(A's app)", db.RotateSecret(ctx, b, a.ClientID, newSecret("evil", time.Time{}), time.Time{}), derrors.NotFound, "")
	wantErr(t, "B RotateSecret(A's app) with grace", db.RotateSecret(ctx, b, a.ClientID, newSecret("evil", time.Time{}), at(time.Minute)), derrors.NotFound, "")
	// B cannot take over A's client ID either.
	steal := webApp("stolen")
	steal.ClientID = a.ClientID
	wantErr(t, "B CreateApp(A's client ID)", db.CreateApp(ctx, b, steal, newSecret("evil", time.Time{}), 10), derrors.Conflict, "client_id")

	got, secrets, err := db.GetClient(ctx, "tenant-a", a.ClientID)
	must(t, err)
	diff(t, "A's app after B's attempts", a, got)
	diff(t, "A's secrets after B's attempts", []app.Secret{*aSecret}, secrets)
	list, err = db.ListApps(ctx, "tenant-a", tenant.NewPage("", 500))
	must(t, err)
	diff(t, "A ListApps", []string{"portal"}, appNames(list))
}

func testIsolationPermissions(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "tenant-a")
	mkTenant(t, db, "tenant-b")
	a, _ := mkApp(t, db, "tenant-a", "portal")
	bApp, _ := mkApp(t, db, "tenant-b", "portal")
	aRead := mkPerm(t, db, "tenant-a", a.ClientID, "read", 0)
	bRead := mkPerm(t, db, "tenant-b", bApp.ClientID, "read", 0)
	const b = "tenant-b"

	_, err := db.GetPermission(ctx, b, a.ClientID, "read")
	wantErr(t, "B GetPermission(A's)", err, derrors.NotFound, "")
	list, err := db.ListPermissions(ctx, b, a.ClientID)
	must(t, err)
	diff(t, "B ListPermissions(A's app)", []string(nil), permNames(list), cmpopts.EquateEmpty())
	wantErr(t, "B CreatePermission(A's app)", db.CreatePermission(ctx, b, a.ClientID, &app.Permission{Name: "planted", CreatedAt: at(0), UpdatedAt: at(0)}, 50), derrors.NotFound, "")
	wantErr(t, "B UpdatePermission(A's)", db.UpdatePermission(ctx, b, a.ClientID, "read", &app.Permission{Name: "owned", Description: "evil", UpdatedAt: at(time.Hour)}), derrors.NotFound, "")
	wantErr(t, "B DeletePermission(A's)", db.DeletePermission(ctx, b, a.ClientID, "read"), derrors.NotFound, "")
	// Nor through B's own app ID under A's tenant name the other way round.
	_, err = db.GetPermission(ctx, "tenant-a", bApp.ClientID, "read")
	wantErr(t, "A GetPermission(B's)", err, derrors.NotFound, "")

	list, err = db.ListPermissions(ctx, "tenant-a", a.ClientID)
	must(t, err)
	diff(t, "A's permissions after B's attempts", []*app.Permission{aRead}, list)
	list, err = db.ListPermissions(ctx, b, bApp.ClientID)
	must(t, err)
	diff(t, "B's own permissions", []*app.Permission{bRead}, list)
}

func testIsolationKeys(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "tenant-a")
	mkTenant(t, db, "tenant-b")
	clk := &clock{now: at(0)}
	m := &keys.Manager{Store: db, Now: clk.Now, RetireAfter: time.Hour}
	must(t, m.Init(ctx, "tenant-a", tenant.AlgES256))
	must(t, m.Init(ctx, "tenant-b", tenant.AlgES256))
	aKeys, aVer := listKeys(t, db, "tenant-a")
	bKeys, bVer := listKeys(t, db, "tenant-b")
	var aKIDs, bKIDs []string
	for _, k := range aKeys {
		aKIDs = append(aKIDs, k.KID)
	}
	for _, k := range bKeys {
		bKIDs = append(bKIDs, k.KID)
		if slices.Contains(aKIDs, k.KID) {
			t.Errorf("B lists A's key %s", k.KID)
		}
	}
	aActive := kidsByState(aKeys)[keys.StateActive][0]

	// B's writes naming A's key IDs touch only B's set: removing them, and
	// storing a key of B's own under A's active kid.
	must(t, db.SaveKeys(ctx, "tenant-b", bVer, nil, aKIDs))
	impostor := genKey(t, "tenant-b", tenant.AlgES256, keys.StateNext)
	impostor.KID = aActive
	must(t, db.SaveKeys(ctx, "tenant-b", bVer+1, []*keys.Key{impostor}, nil))

	gotA, verA := listKeys(t, db, "tenant-a")
	diff(t, "A's keys after B's writes", aKeys, gotA, sortKeys)
	if verA != aVer {
		t.Errorf("A's key version moved from %d to %d", aVer, verA)
	}
	gotB, _ := listKeys(t, db, "tenant-b")
	diff(t, "B's keys", append(cloneKeys(bKeys...), impostor), gotB, sortKeys)

	setA, err := m.Get(ctx, "tenant-a")
	must(t, err)
	setB, err := m.Get(ctx, "tenant-b")
	must(t, err)
	diff(t, "A's JWKS", []string{aActive, kidsByState(aKeys)[keys.StateNext][0]}, jwksKIDs(t, setA.JWKS))
	for _, kid := range jwksKIDs(t, setB.JWKS) {
		if slices.Contains(aKIDs, kid) && kid != aActive {
			t.Errorf("B's JWKS publishes A's key %s", kid)
		}
	}
	// A token signed by A does not verify with B's set, even though B holds
	// a key under the same kid, and the other way round.
	tokA, err := setA.Sign(keys.TypJWT, []byte(`{"iss":"a"}`))
	must(t, err)
	_, err = setB.Verify(tokA, keys.TypJWT)
	wantErr(t, "B verifies A's token", err, derrors.Unauthenticated, "")
	tokB, err := setB.Sign(keys.TypJWT, []byte(`{"iss":"b"}`))
	must(t, err)
	_, err = setA.Verify(tokB, keys.TypJWT)
	wantErr(t, "A verifies B's token", err, derrors.Unauthenticated, "")
}

// ---------------------------------------------------------------------------
// Under the store.

// Raw gives RunRaw a view under the store.
type Raw struct {
	// DB is a separate handle on the same database (and schema) as the store.
	DB *sql.DB
	// Files are the files that hold the database: for SQLite the database
	// file and its -wal and -shm files. Empty for a database server.
	Files []string
	// Hasher is the store's sealer as a client-secret hasher (seal.Ring).
	Hasher app.Hasher
}

// RunRaw runs the tests that read under the store with raw SQL (and the
// database files where there are some). open is as for Run, and also returns
// the raw view.
func RunRaw(t *testing.T, open func(t *testing.T) (*store.DB, Raw)) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, db *store.DB, raw Raw)
	}{
		{"SecretsAtRest_R-KEY-4_R-APP-5", testSecretsAtRest},
		{"DeleteTenantLeavesNoRows_R-TEN-3", testDeleteLeavesNoRows},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, raw := open(t)
			tc.fn(t, db, raw)
		})
	}
}

// table is every row of one table, each column's value as bytes.
type table struct {
	name string
	rows [][][]byte
}

func (tb table) bytes() []byte {
	var b []byte
	for _, r := range tb.rows {
		for _, v := range r {
			b = append(append(b, v...), 0)
		}
	}
	return b
}

// dumpTables reads every row of every table through raw SQL.
func dumpTables(t *testing.T, db *sql.DB, dialect store.Dialect) []table {
	t.Helper()
	ctx := t.Context()
	q := "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
	if dialect == store.Postgres {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
	}
	rows, err := db.QueryContext(ctx, q)
	must(t, err)
	var names []string
	for rows.Next() {
		var n string
		must(t, rows.Scan(&n))
		names = append(names, n)
	}
	must(t, rows.Err())
	rows.Close()
	for _, want := range []string{"tenants", "apps", "app_secrets", "permissions", "signing_keys"} {
		if !slices.Contains(names, want) {
			t.Fatalf("raw view lists tables %v: no %s (wrong database or schema?)", names, want)
		}
	}
	var out []table
	for _, n := range names {
		rows, err := db.QueryContext(ctx, `SELECT * FROM "`+n+`"`)
		must(t, err)
		cols, err := rows.Columns()
		must(t, err)
		tb := table{name: n}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			must(t, rows.Scan(ptrs...))
			row := make([][]byte, len(cols))
			for i, v := range vals {
				switch v := v.(type) {
				case nil:
				case []byte:
					row[i] = slices.Clone(v)
				case string:
					row[i] = []byte(v)
				default:
					row[i] = fmt.Append(nil, v)
				}
			}
			tb.rows = append(tb.rows, row)
		}
		must(t, rows.Err())
		rows.Close()
		out = append(out, tb)
	}
	return out
}

// needle is a secret that must never be stored, in one encoding.
type needle struct {
	what string
	b    []byte
}

// encodings returns b raw and in the text encodings a careless writer might
// use.
func encodings(what string, b []byte) []needle {
	out := []needle{
		{what + " (raw)", b},
		{what + " (hex)", []byte(hex.EncodeToString(b))},
		{what + " (HEX)", []byte(strings.ToUpper(hex.EncodeToString(b)))},
		{what + " (base64)", []byte(base64.StdEncoding.EncodeToString(b))},
		{what + " (base64url)", []byte(base64.RawURLEncoding.EncodeToString(b))},
	}
	return out
}

// keyNeedles are a private key's PKCS#8 DER and its secret part, raw and
// encoded, and the PEM lines of the DER.
func keyNeedles(t *testing.T, k *keys.Key) []needle {
	t.Helper()
	var out []needle
	what := fmt.Sprintf("private key %s (%s)", k.KID, k.Alg)
	out = append(out, encodings("PKCS#8 DER of "+what, k.Private)...)
	p, err := x509.ParsePKCS8PrivateKey(k.Private)
	must(t, err)
	switch p := p.(type) {
	case *rsa.PrivateKey:
		out = append(out, encodings("RSA private exponent of "+what, p.D.Bytes())...)
		out = append(out, encodings("RSA prime of "+what, p.Primes[0].Bytes())...)
	case *ecdsa.PrivateKey:
		d, err := p.Bytes()
		must(t, err)
		out = append(out, encodings("ECDSA scalar of "+what, d)...)
	case ed25519.PrivateKey:
		out = append(out, encodings("Ed25519 seed of "+what, p.Seed())...)
	default:
		t.Fatalf("unexpected key type %T", p)
	}
	block := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k.Private})
	for _, line := range strings.Split(string(block), "\n") {
		if len(line) >= 40 && !strings.HasPrefix(line, "-----") {
			out = append(out, needle{"PEM line of " + what, []byte(line)})
		}
	}
	return out
}

// R-KEY-4 and R-APP-5: no private key and no client secret is stored in
// plain, in any table, nor (SQLite) in the database file or its WAL.
func testSecretsAtRest(t *testing.T, db *store.DB, raw Raw) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	mkTenant(t, db, "globex")

	// Keys of every algorithm, saved directly and through the Manager.
	direct := []*keys.Key{
		genKey(t, "acme", tenant.AlgRS256, keys.StateActive),
		genKey(t, "acme", tenant.AlgES256, keys.StateNext),
		genKey(t, "acme", tenant.AlgEdDSA, keys.StateRetired),
	}
	direct[2].RetireAt = at(time.Hour)
	must(t, db.SaveKeys(ctx, "acme", 0, cloneKeys(direct...), nil))
	m := &keys.Manager{Store: db, Now: func() time.Time { return at(0) }, RetireAfter: time.Hour}
	must(t, m.Init(ctx, "globex", tenant.AlgEdDSA))
	must(t, m.Rotate(ctx, "globex", tenant.AlgEdDSA))
	acmeKeys, _ := listKeys(t, db, "acme")
	globexKeys, _ := listKeys(t, db, "globex")
	allKeys := append(acmeKeys, globexKeys...)
	diff(t, "acme keys", direct, acmeKeys, sortKeys)
	if len(allKeys) != 6 {
		t.Fatalf("%d keys stored, want 6", len(allKeys))
	}

	// Client secrets: one stored directly as the ring's hash of a known
	// secret, others made by the registry service on create and rotate.
	known := "known-" + app.RandomString(24)
	a, s := webApp("portal"), newSecret(raw.Hasher.HashSecret(known), time.Time{})
	must(t, db.CreateApp(ctx, "acme", a, s, 100))
	svc := &app.Service{Store: db, Hasher: raw.Hasher, Limits: app.DefaultLimits, Now: func() time.Time { return at(0) }}
	c1, err := svc.Create(ctx, "globex", &app.App{Name: "nightly_job", Type: app.S2S}, app.SecretOptions{})
	must(t, err)
	c2, err := svc.RotateSecret(ctx, "globex", c1.App.ClientID, app.SecretOptions{Grace: time.Hour})
	must(t, err)
	c3, err := svc.Create(ctx, "acme", &app.App{Name: "web", Type: app.Web, RedirectURIs: []string{"https://web.example.com/cb"}}, app.SecretOptions{ExpiresAt: at(30 * day)})
	must(t, err)
	plains := []string{known, c1.ClientSecret, c2.ClientSecret, c3.ClientSecret}
	for _, p := range plains[1:] {
		if p == "" {
			t.Fatal("the service returned no client secret")
		}
	}
	// The stored hashes verify (so what we look for is what was stored).
	for _, c := range []struct{ tenant, id, secret string }{
		{"acme", a.ClientID, known},
		{"globex", c1.App.ClientID, c1.ClientSecret},
		{"globex", c1.App.ClientID, c2.ClientSecret},
		{"acme", c3.App.ClientID, c3.ClientSecret},
	} {
		if _, err := svc.Authenticate(ctx, c.tenant, c.id, c.secret); err != nil {
			t.Errorf("Authenticate(%s, %s): %v", c.tenant, c.id, err)
		}
	}

	var needles []needle
	for _, k := range allKeys {
		needles = append(needles, keyNeedles(t, k)...)
	}
	for i, p := range plains {
		needles = append(needles, needle{fmt.Sprintf("plaintext client secret %d", i+1), []byte(p)})
	}
	// Probes that must be found, proving the reads see the data.
	probes := []needle{{"the known secret's hash", []byte(s.Hash)}, {"a key id", []byte(allKeys[0].KID)}}

	tables := dumpTables(t, raw.DB, db.Dialect())
	var everything []byte
	for _, tb := range tables {
		b := tb.bytes()
		everything = append(everything, b...)
		for _, n := range needles {
			if containsBytes(b, n.b) {
				t.Errorf("table %s holds the %s", tb.name, n.what)
			}
		}
	}
	for _, p := range probes {
		if !containsBytes(everything, p.b) {
			t.Errorf("raw rows do not hold %s: the raw view does not see the store's data", p.what)
		}
	}
	for _, k := range allKeys {
		if !containsBytes(everything, k.CertDER) {
			t.Errorf("raw rows do not hold the certificate of key %s (public, stored in plain)", k.KID)
		}
	}

	if len(raw.Files) == 0 {
		return
	}
	checkFiles := func(when string, probe bool) {
		t.Helper()
		var all []byte
		for _, f := range raw.Files {
			b, err := os.ReadFile(f)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			must(t, err)
			all = append(all, b...)
			for _, n := range needles {
				if containsBytes(b, n.b) {
					t.Errorf("%s: file %s holds the %s", when, f, n.what)
				}
			}
		}
		if _, err := os.Stat(raw.Files[0]); err != nil {
			t.Errorf("%s: database file: %v", when, err)
		}
		if probe && !containsBytes(all, probes[0].b) {
			t.Errorf("%s: the database files do not hold %s: wrong files?", when, probes[0].what)
		}
	}
	checkFiles("while open (with the WAL)", true)
	// Closing checkpoints the WAL into the database file.
	must(t, raw.DB.Close())
	must(t, db.Close())
	checkFiles("after close", true)
}

func containsBytes(haystack, n []byte) bool {
	return len(n) > 0 && strings.Contains(string(haystack), string(n))
}

// R-TEN-3: after DeleteTenant no row anywhere still holds the tenant's name,
// its apps' client IDs or its key IDs; the other tenant's rows are intact.
func testDeleteLeavesNoRows(t *testing.T, db *store.DB, raw Raw) {
	ctx := t.Context()
	type ids struct{ values []string }
	fill := func(tenantID string) ids {
		mkTenant(t, db, tenantID)
		o := ids{values: []string{tenantID}}
		for _, n := range []string{"portal", "backend"} {
			a, _ := mkApp(t, db, tenantID, n)
			must(t, db.RotateSecret(ctx, tenantID, a.ClientID, newSecret("rotated", time.Time{}), at(time.Hour)))
			mkPerm(t, db, tenantID, a.ClientID, "read", 0)
			o.values = append(o.values, a.ClientID)
		}
		m := &keys.Manager{Store: db, Now: func() time.Time { return at(0) }, RetireAfter: time.Hour}
		must(t, m.Init(ctx, tenantID, tenant.AlgES256))
		ks, _ := listKeys(t, db, tenantID)
		for _, k := range ks {
			o.values = append(o.values, k.KID)
		}
		return o
	}
	doomed := fill("doomed-tenant-7f3a")
	kept := fill("kept-tenant-19c2")
	holds := func(tables []table, v string) []string {
		var where []string
		for _, tb := range tables {
			for _, r := range tb.rows {
				for _, col := range r {
					if string(col) == v {
						where = append(where, tb.name)
					}
				}
			}
		}
		return where
	}
	before := dumpTables(t, raw.DB, db.Dialect())
	for _, v := range doomed.values {
		if len(holds(before, v)) == 0 {
			t.Fatalf("before the delete no row holds %q: the raw view does not see the store's data", v)
		}
	}

	must(t, db.DeleteTenant(ctx, "doomed-tenant-7f3a"))
	after := dumpTables(t, raw.DB, db.Dialect())
	for _, v := range doomed.values {
		if where := holds(after, v); len(where) > 0 {
			t.Errorf("after DeleteTenant, rows of %v still hold %q", where, v)
		}
	}
	for _, v := range kept.values {
		if diff := cmp.Diff(holds(before, v), holds(after, v)); diff != "" {
			t.Errorf("the other tenant's rows holding %q changed (-before +after):\n%s", v, diff)
		}
	}
}
