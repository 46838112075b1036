package store

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/store/migrations"
)

// Migration 00009 rebuilds the grant tables WITHOUT ROWID on SQLite: what
// was stored before is there after, and the foreign keys still cascade.
func TestSQLiteGrantTablesRebuild(t *testing.T) {
	d := openSQLiteAt(t, 8)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, q := range []string{
		"INSERT INTO tenants (name, display_name, signing_alg, created_at, updated_at) VALUES ('acme', 'acme', 'RS256', 1, 1)",
		"INSERT INTO apps (tenant_id, client_id, name, type, protocol, settings, created_at, updated_at) VALUES ('acme', 'c1', 'portal', 'web', 'oidc', '{}', 1, 1)",
		"INSERT INTO users (tenant_id, id, username, username_lower, email, email_lower, email_verified, password_hash, state, created_at, updated_at) VALUES ('acme', 'u1', 'alice', 'alice', 'a@example.com', 'a@example.com', 0, '', 'active', 1, 1)",
	} {
		if _, err := d.w.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	fam := &grant.Family{ID: "f1", ClientID: "c1", UserID: "u1", SID: "s1", Scope: []string{"openid"}, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	r := &grant.Refresh{Hash: "r1", FamilyID: "f1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := d.CreateFamily(ctx, "acme", fam, r); err != nil {
		t.Fatal(err)
	}
	code := &grant.Code{Hash: "k1", ClientID: "c1", UserID: "u1", SID: "s1", RedirectURI: "https://a/cb", Scope: []string{"openid"}, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := d.CreateCode(ctx, "acme", code, nil); err != nil {
		t.Fatal(err)
	}

	if err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var sql string
	if err := d.row(ctx, nil, "SELECT sql FROM sqlite_schema WHERE name = 'refresh_tokens'").Scan(&sql); err != nil {
		t.Fatal(err)
	}
	if want := "REFERENCES \"token_families\""; !strings.Contains(sql, "WITHOUT ROWID") || !strings.Contains(sql, want) {
		t.Fatalf("refresh_tokens after the rebuild: %s", sql)
	}
	if got, err := d.GetFamily(ctx, "acme", "f1"); err != nil || got.SID != "s1" {
		t.Fatalf("family after the rebuild: %+v %v", got, err)
	}
	if got, err := d.GetCode(ctx, "acme", "k1"); err != nil || got.RedirectURI != "https://a/cb" {
		t.Fatalf("code after the rebuild: %+v %v", got, err)
	}
	if _, err := d.GetRefresh(ctx, "acme", "r1"); err != nil {
		t.Fatalf("refresh token after the rebuild: %v", err)
	}
	// Deleting the user cascades to the family, and on to its refresh token.
	if _, err := d.exec(ctx, nil, "DELETE FROM users WHERE tenant_id = 'acme' AND id = 'u1'"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.GetRefresh(ctx, "acme", "r1"); !derrors.Is(err, derrors.NotFound) {
		t.Fatalf("refresh token after its user went: %v", err)
	}
}

// openSQLiteAt is an SQLite store migrated up to version only.
func openSQLiteAt(t *testing.T, version int64) *DB {
	t.Helper()
	d := openSQLiteUnmigrated(t)
	fsys, err := fs.Sub(migrations.SQLite, "sqlite")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(database.DialectSQLite3, d.w, fsys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(context.Background(), version); err != nil {
		t.Fatal(err)
	}
	return d
}
