package store

import (
	"context"
	"database/sql"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Cache coherence across PostgreSQL replicas.
//
// The client and user caches (clients.go, usercache.go) are safe on SQLite
// because one process owns the file. On PostgreSQL every replica keeps its
// own, kept coherent with LISTEN/NOTIFY: every write transaction outside
// the grant tables (DB.tx, DB.exec) sends a notification on the schema's
// channel (channelQuery) inside the transaction, so PostgreSQL delivers it
// exactly when the write commits, to every replica's listener, which drops
// its caches. The replica that wrote drops its own before it answers, as on
// SQLite. Notifications are per database; the channel is per schema, so
// deployments in other schemas of one database do not drop each other's.
//
// The caches are used only while the listener is known to be listening:
// from LISTEN until its connection fails, the caches are dropped and every
// lookup reads the database until a new connection listens again. A quiet
// listener confirms its connection every maxAge and drops the caches each
// time, so an entry is never older than maxAge plus one round trip when no
// notification comes: that bounds rows changed by hand in SQL, and a
// notification lost with a connection that died without a word.
//
// channelQuery names the channel of the connection's schema (a channel name
// is at most 63 bytes; a schema name may be as long).
const channelQuery = "SELECT 'gatehouse_cache_' || left(md5(coalesce(current_schema(), '')), 16)"

// CacheListenerName is the application_name of a replica's listener
// connection (in pg_stat_activity), after the URL's own application_name
// and a space when it has one.
const CacheListenerName = "gatehouse-cache-listener"

type listener struct {
	url     string
	channel string
	maxAge  time.Duration
	drop    func()
	live    atomic.Bool
	cancel  context.CancelFunc
	done    chan struct{}
}

func startListener(url, channel string, maxAge time.Duration, drop func()) *listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{url: url, channel: channel, maxAge: maxAge, drop: drop, cancel: cancel, done: make(chan struct{})}
	go l.run(ctx)
	return l
}

func (l *listener) stop() {
	l.cancel()
	<-l.done
}

func (l *listener) run(ctx context.Context) {
	defer close(l.done)
	wait := 50 * time.Millisecond
	for ctx.Err() == nil {
		if l.listen(ctx) {
			wait = 50 * time.Millisecond
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// listen holds one listening connection until it fails; it reports whether
// it listened at all.
func (l *listener) listen(ctx context.Context) bool {
	cfg, err := pgx.ParseConfig(l.url)
	if err != nil {
		return false
	}
	name := CacheListenerName
	if v := cfg.RuntimeParams["application_name"]; v != "" {
		name = v + " " + name
	}
	cfg.RuntimeParams["application_name"] = name
	cctx, cancel := context.WithTimeout(ctx, max(l.maxAge, 5*time.Second))
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return false
	}
	defer func() {
		// A connection that died silently must not hold the listener.
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	defer func() {
		l.live.Store(false)
		l.drop()
	}()
	if err := l.ping(ctx, conn, "LISTEN "+pgx.Identifier{l.channel}.Sanitize()); err != nil {
		return false
	}
	// Anything cached before LISTEN may have missed a notification.
	l.drop()
	l.live.Store(true)
	for {
		wctx, cancel := context.WithTimeout(ctx, l.maxAge)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
		case ctx.Err() != nil || !pgconn.Timeout(err):
			return true
		default:
			if l.ping(ctx, conn, "SELECT 1") != nil {
				return true
			}
		}
		l.drop()
	}
}

func (l *listener) ping(ctx context.Context, conn *pgx.Conn, query string) error {
	pctx, cancel := context.WithTimeout(ctx, l.maxAge+time.Second)
	defer cancel()
	_, err := conn.Exec(pctx, query)
	return err
}

// Cached reports whether the client and user caches are in use: always on
// SQLite; on PostgreSQL while the listener listens (off with a zero
// Options.CacheMaxAge).
func (d *DB) Cached() bool {
	if d.dialect == SQLite {
		return true
	}
	return d.listen != nil && d.listen.live.Load()
}

// dropCaches drops the client, user and integration caches.
func (d *DB) dropCaches() {
	d.clients.invalidate()
	d.users.invalidate()
	d.integrations.invalidate()
}

// notify tells every replica's listener to drop its caches when tx commits.
func (d *DB) notify(ctx context.Context, tx *sql.Tx) error {
	if d.dialect != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_notify($1, '')", d.channel)
	return err
}
