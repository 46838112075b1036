// Package store implements every domain Store over database/sql, on SQLite
// (modernc.org/sqlite, the embedded default) and PostgreSQL (pgx). One code
// path serves both: queries are written with '?' placeholders and rebound
// once per dialect; times are stored as integer microseconds since the epoch.
//
// On SQLite one goroutine does every write, grouping concurrent ones into
// one transaction (writer.go), beside a pool of readers (WAL): writes never
// fail with SQLITE_BUSY among themselves and reads never wait for writes.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/integration"
	"github.com/gatehouse-id/gatehouse/internal/store/migrations"
)

// Dialect names the SQL database behind a DB.
type Dialect string

// Supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Sealer encrypts stored secrets (seal.Ring).
type Sealer interface {
	Seal(plaintext, aad []byte) (string, error)
	Open(sealed string, aad []byte) ([]byte, error)
}

// DB is the store. It is safe for concurrent use.
type DB struct {
	dialect Dialect
	w       *sql.DB // writes and transactions
	r       *sql.DB // reads
	seal    Sealer
	queries sync.Map // '?' query -> dialect query
	stmts   stmtCache
	wr      *writer // SQLite only
	hot     hot
	clients cache[cachedClient]
	// integrations: by tenant and name, shared and read-only.
	integrations cache[*integration.Integration]
	// tokenLocks: SQLite's lock per integration token (integrations.go).
	tokenLocks sync.Map
	users      userCache
	listen     *listener // PostgreSQL: keeps the caches coherent (coherence.go)
	channel    string    // PostgreSQL: the listener's channel
	ckpt       *sql.DB   // SQLite: checkpoints
	lock       *os.File  // SQLite: held while open
}

// Options configure Open.
type Options struct {
	// URL is a postgres:// or postgresql:// URL; empty means SQLite at Path.
	URL string
	// Path is the SQLite database file.
	Path string
	// MaxConns bounds the read pool (PostgreSQL: the whole pool).
	MaxConns int
	Seal     Sealer
	// CacheMaxAge turns on the client and user caches on PostgreSQL
	// (coherence.go): changes made by other replicas drop them when they
	// commit; CacheMaxAge bounds the age of an entry when nothing is heard
	// from the database. Zero: every lookup reads PostgreSQL. SQLite always
	// caches.
	CacheMaxAge time.Duration
}

// Open connects to the database. It does not migrate: call Migrate.
func Open(ctx context.Context, o Options) (*DB, error) {
	if o.Seal == nil {
		return nil, errors.New("store: a sealer is required")
	}
	if o.MaxConns <= 0 {
		o.MaxConns = max(4, 2*runtime.GOMAXPROCS(0))
	}
	d := &DB{seal: o.Seal}
	switch {
	case strings.HasPrefix(o.URL, "postgres://") || strings.HasPrefix(o.URL, "postgresql://"):
		d.dialect = Postgres
		db, err := sql.Open("pgx", o.URL)
		if err != nil {
			return nil, fmt.Errorf("store: open postgres: %w", err)
		}
		db.SetMaxOpenConns(o.MaxConns)
		db.SetMaxIdleConns(o.MaxConns)
		db.SetConnMaxIdleTime(5 * time.Minute)
		d.w, d.r = db, db
	case o.URL != "":
		return nil, errors.New("store: database URL must start with postgres:// (or be empty for the embedded SQLite database)")
	default:
		d.dialect = SQLite
		if err := os.MkdirAll(filepath.Dir(o.Path), 0o700); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		lock, err := lockFile(o.Path + ".lock")
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		d.lock = lock
		pragmas := "_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
		dsn := "file:" + (&url.URL{Path: o.Path}).EscapedPath() + "?" + pragmas
		// The writer checkpoints nothing itself: writer.go does it on a
		// connection of its own. After a checkpoint the WAL file is cut
		// back to 64 MiB at most.
		w, err := sql.Open("sqlite", dsn+"&_txlock=immediate&_pragma=wal_autocheckpoint(0)&_pragma=journal_size_limit(67108864)")
		if err != nil {
			return nil, fmt.Errorf("store: open sqlite: %w", err)
		}
		// Only the writer goroutine writes; the second connection lets
		// a statement first met inside a write transaction be prepared
		// (database/sql prepares a Stmt on some free connection, then
		// again on the transaction's).
		w.SetMaxOpenConns(2)
		r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
		if err != nil {
			w.Close()
			lock.Close()
			return nil, fmt.Errorf("store: open sqlite: %w", err)
		}
		r.SetMaxOpenConns(o.MaxConns)
		r.SetMaxIdleConns(o.MaxConns)
		ckpt, err := sql.Open("sqlite", dsn)
		if err != nil {
			w.Close()
			r.Close()
			lock.Close()
			return nil, fmt.Errorf("store: open sqlite: %w", err)
		}
		ckpt.SetMaxOpenConns(1)
		d.w, d.r, d.ckpt = w, r, ckpt
	}
	if err := d.w.PingContext(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("store: connect %s: %w", d.dialect, err)
	}
	if d.dialect == Postgres {
		if err := d.w.QueryRowContext(ctx, channelQuery).Scan(&d.channel); err != nil {
			d.Close()
			return nil, fmt.Errorf("store: connect %s: %w", d.dialect, err)
		}
		if o.CacheMaxAge > 0 {
			d.listen = startListener(o.URL, d.channel, o.CacheMaxAge, d.dropCaches)
		}
	}
	if d.dialect == SQLite {
		// The database holds sealed secrets and hashes: owner-only.
		_ = os.Chmod(o.Path, 0o600)
		wr, err := newWriter(d.w, d.ckpt)
		if err != nil {
			d.Close()
			return nil, err
		}
		d.wr = wr
	}
	return d, nil
}

// Dialect tells which database this is.
func (d *DB) Dialect() Dialect { return d.dialect }

// Close closes every connection.
func (d *DB) Close() error {
	if d.listen != nil {
		d.listen.stop()
	}
	if d.wr != nil {
		// d.wr stays set: writes after Close fail with errClosed.
		d.wr.close()
	}
	d.closeStatements()
	err := d.w.Close()
	if d.r != d.w {
		err = errors.Join(err, d.r.Close())
	}
	if d.ckpt != nil {
		err = errors.Join(err, d.ckpt.Close())
	}
	if d.lock != nil {
		err = errors.Join(err, d.lock.Close())
		d.lock = nil
	}
	return err
}

// Ping checks the database is reachable (readiness).
func (d *DB) Ping(ctx context.Context) error { return d.r.PingContext(ctx) }

// Migrate applies every pending migration. On PostgreSQL a session advisory
// lock keeps replicas that start together from migrating twice.
func (d *DB) Migrate(ctx context.Context) error {
	var (
		fsys    fs.FS
		dialect database.Dialect
		opts    []goose.ProviderOption
		err     error
	)
	switch d.dialect {
	case Postgres:
		fsys, err = fs.Sub(migrations.Postgres, "postgres")
		dialect = database.DialectPostgres
		locker, lerr := lock.NewPostgresSessionLocker()
		if lerr != nil {
			return lerr
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	default:
		fsys, err = fs.Sub(migrations.SQLite, "sqlite")
		dialect = database.DialectSQLite3
	}
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(dialect, d.w, fsys, opts...)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}

// q rebinds a '?' query for the dialect, once per distinct query.
func (d *DB) q(query string) string {
	if d.dialect != Postgres {
		return query
	}
	if v, ok := d.queries.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	out := b.String()
	d.queries.Store(query, out)
	return out
}

// tx runs fn in a write transaction, committing when fn returns nil. On
// SQLite the transaction is shared with concurrent writes (writer.go), so
// fn must do its reads and writes through tx, and not call tx or exec
// without it: that would wait for itself. When it returns, the user and
// integration caches are dropped (usercache.go, integrations.go), an admin
// change's pending audit event is written with it (audit.go), and on PostgreSQL the transaction tells every
// replica to drop theirs (coherence.go); writes of the grant tables alone
// use grantTx.
func (d *DB) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	defer d.users.invalidate()
	defer d.integrations.invalidate()
	fn = d.withAudit(ctx, fn)
	if d.dialect != Postgres {
		return d.grantTx(ctx, fn)
	}
	return d.grantTx(ctx, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return d.notify(ctx, tx)
	})
}

// grantTx is tx for writes that touch only the grant tables (codes,
// families, refresh tokens, sessions, requests, consents, assertion IDs,
// opaque tokens, login failures): they leave the user cache alone.
func (d *DB) grantTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if d.wr != nil {
		return d.wr.do(ctx, fn)
	}
	t, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(t); err != nil {
		_ = t.Rollback()
		return err
	}
	return t.Commit()
}

// lockTenant makes the tenant row the serialisation point of writes that
// check a per-tenant limit; it also reports a missing tenant.
func (d *DB) lockTenant(ctx context.Context, t *sql.Tx, tenantID string) error {
	query := "SELECT 1 FROM tenants WHERE name = ?"
	if d.dialect == Postgres {
		query += " FOR UPDATE"
	}
	var one int
	err := d.row(ctx, t, query, tenantID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return derrors.NotFoundf("tenant %q not found", tenantID)
	}
	return err
}

// uniqueViolation reports whether err is a unique-constraint violation, and
// the constraint or column text the database gave.
func uniqueViolation(err error) (string, bool) {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "23505" {
		return pg.ConstraintName, true
	}
	var se *sqlite.Error
	if errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
		return se.Error(), true
	}
	return "", false
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

func notFoundIfNoRows(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return derrors.NotFoundf(format, args...)
	}
	return err
}
