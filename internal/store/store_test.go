package store_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/seal"
	"github.com/gatehouse-id/gatehouse/internal/store"
	"github.com/gatehouse-id/gatehouse/internal/store/storetest"
)

// newRing returns a seal.Ring with a random master key.
func newRing(t *testing.T) *seal.Ring {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	r, err := seal.NewRing(key)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// openMigrated opens a store, closes it at the end of the test and migrates
// it (under mu, when not nil).
func openMigrated(t *testing.T, o store.Options, mu *sync.Mutex) *store.DB {
	t.Helper()
	ctx := t.Context()
	db, err := store.Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	if mu != nil {
		mu.Lock()
		defer mu.Unlock()
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestSQLite runs the conformance suite on the embedded database, a fresh
// file per test.
func TestSQLite(t *testing.T) {
	open := func(t *testing.T) (*store.DB, storetest.Raw) {
		ring := newRing(t)
		path := filepath.Join(t.TempDir(), "gatehouse.db")
		db := openMigrated(t, store.Options{Path: path, Seal: ring}, nil)
		if db.Dialect() != store.SQLite {
			t.Fatalf("dialect %s, want sqlite", db.Dialect())
		}
		dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=busy_timeout(10000)&_pragma=query_only(1)"
		raw, err := sql.Open("sqlite", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		return db, storetest.Raw{DB: raw, Files: []string{path, path + "-wal", path + "-shm"}, Hasher: ring}
	}
	storetest.Run(t, func(t *testing.T) *store.DB {
		db, _ := open(t)
		return db
	})
	storetest.RunRaw(t, open)
	storetest.RunGrantsRaw(t, open)
	storetest.RunUsers(t, func(t *testing.T) *store.DB {
		db, _ := open(t)
		return db
	})
	storetest.RunUsersRaw(t, open)
	storetest.RunGrants(t, func(t *testing.T) *store.DB {
		db, _ := open(t)
		return db
	})
	storetest.RunLogin(t, func(t *testing.T) *store.DB {
		db, _ := open(t)
		return db
	})
	storetest.RunThemes(t, func(t *testing.T) *store.DB {
		db, _ := open(t)
		return db
	})
	storetest.RunBFFSessions(t, func(t *testing.T) *store.DB {
		db, _ := open(t)
		return db
	})
	storetest.RunIntegrations(t, func(t *testing.T) *store.DB {
		db, _ := open(t)
		return db
	})
	storetest.RunIntegrationsRaw(t, open)
	storetest.RunAudit(t, func(t *testing.T) *store.DB {
		db, _ := open(t)
		return db
	})
}

// TestPostgres runs the conformance suite on the PostgreSQL database named by
// GATEHOUSE_TEST_POSTGRES, each test in a fresh schema that is dropped after
// it. CI must set the variable: there the test fails without it.
func TestPostgres(t *testing.T) {
	dsn := os.Getenv("GATEHOUSE_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but GATEHOUSE_TEST_POSTGRES is not set: the store conformance suite must run on PostgreSQL in CI (e.g. GATEHOUSE_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
		}
		t.Skip("!!! SKIPPING THE POSTGRESQL STORE SUITE: GATEHOUSE_TEST_POSTGRES is not set. " +
			"Set it to a DSN such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run it !!!")
	}
	base, err := url.Parse(dsn)
	if err != nil || (base.Scheme != "postgres" && base.Scheme != "postgresql") {
		t.Fatalf("GATEHOUSE_TEST_POSTGRES must be a postgres:// URL, got %q", dsn)
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if err := admin.PingContext(t.Context()); err != nil {
		t.Fatalf("GATEHOUSE_TEST_POSTGRES is set but the database is unreachable: %v", err)
	}
	// goose's migration lock is one advisory lock per database, retried
	// every 5 s: migrating one schema at a time keeps the tests fast.
	var migrate sync.Mutex

	// schemaURL makes a fresh schema, dropped after the test, and returns
	// the URL of a connection to it.
	schemaURL := func(t *testing.T) (string, string) {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			t.Fatal(err)
		}
		schema := "gatehouse_test_" + hex.EncodeToString(b[:])
		if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
			t.Fatal(err)
		}
		// Registered first, so it runs after the store is closed.
		t.Cleanup(func() {
			if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
				t.Errorf("drop schema %s: %v", schema, err)
			}
		})
		u := *base
		q := u.Query()
		q.Set("search_path", schema)
		// Durability is not under test: commits need not wait for the disk.
		q.Set("synchronous_commit", "off")
		q.Set("application_name", schema)
		u.RawQuery = q.Encode()
		return u.String(), schema
	}
	rawHandle := func(t *testing.T, dsn string, ring *seal.Ring) storetest.Raw {
		raw, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		return storetest.Raw{DB: raw, Hasher: ring}
	}
	// The conformance suite runs with the replica caches on, as served:
	// their maximum age is long enough never to hide a stale entry.
	open := func(t *testing.T) (*store.DB, storetest.Raw) {
		dsn, _ := schemaURL(t)
		ring := newRing(t)
		db := openMigrated(t, store.Options{URL: dsn, Seal: ring, CacheMaxAge: time.Minute}, &migrate)
		if db.Dialect() != store.Postgres {
			t.Fatalf("dialect %s, want postgres", db.Dialect())
		}
		return db, rawHandle(t, dsn, ring)
	}
	storetest.RunReplicas(t, func(t *testing.T, maxAge time.Duration) (*store.DB, *store.DB, storetest.Raw, string) {
		dsn, schema := schemaURL(t)
		ring := newRing(t)
		a := openMigrated(t, store.Options{URL: dsn, Seal: ring, CacheMaxAge: maxAge}, &migrate)
		b, err := store.Open(t.Context(), store.Options{URL: dsn, Seal: ring, CacheMaxAge: maxAge})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return a, b, rawHandle(t, dsn, ring), schema + " " + store.CacheListenerName
	})
	storetest.Run(t, func(t *testing.T) *store.DB {
		db, _ := open(t)
		return db
	})
	storetest.RunRaw(t, open)
	storetest.RunGrantsRaw(t, open)
	storetest.RunUsers(t, func(t *testing.T) *store.DB {
		db, _ := open(t)
		return db
	})
	storetest.RunUsersRaw(t, open)
	storetest.RunGrants(t, func(t *testing.T) *store.DB {
		db, _ := open(t)
		return db
	})
	storetest.RunLogin(t, func(t *testing.T) *store.DB {
		db, _ := open(t)
		return db
	})
	storetest.RunThemes(t, func(t *testing.T) *store.DB {
		db, _ := open(t)
		return db
	})
	storetest.RunBFFSessions(t, func(t *testing.T) *store.DB {
		db, _ := open(t)
		return db
	})
	storetest.RunIntegrations(t, func(t *testing.T) *store.DB {
		db, _ := open(t)
		return db
	})
	storetest.RunIntegrationsRaw(t, open)
	storetest.RunAudit(t, func(t *testing.T) *store.DB {
		db, _ := open(t)
		return db
	})
	storetest.RunRateCounter(t, func(t *testing.T) *store.DB {
		db, _ := open(t)
		return db
	})
}
