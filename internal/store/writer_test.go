package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/seal"
)

// openSQLite is a migrated SQLite store in the test's directory.
func openSQLite(t *testing.T) *DB {
	t.Helper()
	d := openSQLiteUnmigrated(t)
	if err := d.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return d
}

func openSQLiteUnmigrated(t *testing.T) *DB {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	ring, err := seal.NewRing(key)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Open(t.Context(), Options{Path: filepath.Join(t.TempDir(), "g.db"), Seal: ring})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func insertTenant(d *DB, name string) func(*sql.Tx) error {
	return func(tx *sql.Tx) error {
		_, err := d.exec(context.Background(), tx, "INSERT INTO tenants ("+tenantCols+") VALUES (?, ?, ?, ?, ?, ?)", name, name, "RS256", "remember", 1, 1)
		return err
	}
}

func tenantNames(t *testing.T, d *DB) string {
	t.Helper()
	rows, err := d.rows(t.Context(), nil, "SELECT name FROM tenants ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	return strings.Join(names, ",")
}

// A batch shares one transaction, but a write that fails (or panics) takes
// back only its own changes: the others commit, and each caller gets its
// own outcome.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	d := openSQLite(t)
	boom := errors.New("boom")
	ops := []*writeOp{
		{ctx: t.Context(), fn: insertTenant(d, "a")},
		{ctx: t.Context(), fn: func(tx *sql.Tx) error {
			if err := insertTenant(d, "b")(tx); err != nil {
				return err
			}
			return boom // after its insert: the insert must go
		}},
		{ctx: t.Context(), fn: insertTenant(d, "a")}, // duplicate of the first
		{ctx: t.Context(), fn: func(tx *sql.Tx) error {
			_ = insertTenant(d, "p")(tx)
			panic("bug")
		}},
		{ctx: t.Context(), fn: insertTenant(d, "c")},
	}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	ops = append(ops, &writeOp{ctx: cancelled, fn: insertTenant(d, "x")})

	errs := d.wr.commit(ops, nil)
	if len(errs) != len(ops) {
		t.Fatalf("%d errors for %d ops", len(errs), len(ops))
	}
	if errs[0] != nil || errs[4] != nil {
		t.Fatalf("the good writes failed: %v, %v", errs[0], errs[4])
	}
	if !errors.Is(errs[1], boom) {
		t.Fatalf("op 1: %v, want boom", errs[1])
	}
	if _, ok := uniqueViolation(errs[2]); !ok {
		t.Fatalf("op 2: %v, want a unique violation", errs[2])
	}
	if errs[3] == nil || !strings.Contains(errs[3].Error(), "panicked") {
		t.Fatalf("op 3: %v, want the panic as an error", errs[3])
	}
	if !errors.Is(errs[5], context.Canceled) {
		t.Fatalf("op 5: %v, want context.Canceled", errs[5])
	}
	if got := tenantNames(t, d); got != "a,c" {
		t.Fatalf("tenants %q, want a,c", got)
	}
}

// Many concurrent writers: every write that succeeds is there, and one that
// fails leaves nothing, whatever it was grouped with.
func TestGroupCommitConcurrent(t *testing.T) {
	d := openSQLite(t)
	const n = 200
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("t%03d", i/2) // pairs clash: one of each pair wins
			errs[i] = d.tx(t.Context(), insertTenant(d, name))
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		if err == nil {
			won++
			continue
		}
		if _, ok := uniqueViolation(err); !ok {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if won != n/2 {
		t.Fatalf("%d writes won, want %d", won, n/2)
	}
	var rows int
	if err := d.row(t.Context(), nil, "SELECT COUNT(*) FROM tenants").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != n/2 {
		t.Fatalf("%d tenants stored, want %d", rows, n/2)
	}
}

// After Close a write fails at once instead of waiting forever.
func TestWriteAfterClose(t *testing.T) {
	d := openSQLite(t)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.tx(t.Context(), insertTenant(d, "late")); !errors.Is(err, errClosed) {
		t.Fatalf("write after close: %v, want errClosed", err)
	}
}

// Under constant writes and reads the WAL is rewound once it is long, so
// it stays bounded instead of growing with every commit.
func TestWALStaysBounded(t *testing.T) {
	d := openSQLite(t)
	d.wr.longWAL = 64 // frames; 16384 in production
	d.wr.every = 16   // commits; 256 in production
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var n int
				_ = d.row(context.Background(), nil, "SELECT COUNT(*) FROM tenants").Scan(&n)
			}
		})
	}
	var writers sync.WaitGroup
	for w := range 4 {
		writers.Go(func() {
			for i := range 1000 {
				if err := d.tx(t.Context(), insertTenant(d, fmt.Sprintf("w%d-%04d", w, i))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	readers.Wait()
	var path string
	if err := d.row(t.Context(), nil, "SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&path); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	stats := d.WriterStats()
	// Some 1,000 commits of a few pages each: over 12 MiB
	// without rewinds.
	if st.Size() > 6<<20 {
		t.Fatalf("WAL is %d bytes after %+v", st.Size(), stats)
	}
	if stats.Restarts == 0 {
		t.Fatalf("the WAL was never rewound: %+v", stats)
	}
	t.Logf("WAL %d bytes; %+v", st.Size(), stats)
}
