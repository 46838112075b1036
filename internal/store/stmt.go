package store

import (
	"context"
	"database/sql"
	"sync"
)

// Statement helpers. Every query of the store goes through row, rows and
// exec:
//
//   - On SQLite each distinct query is prepared once per pool (database/sql
//     prepares it again on each connection that runs it) and kept until
//     Close: parsing SQL costs modernc's SQLite as much as running a small
//     indexed statement, and it used to be a quarter of a code exchange.
//     The queries are constants of this package (table names at most are
//     spliced in), so the set of statements is small and bounded.
//   - Writes without a transaction of their own, and every transaction,
//     go through the group-committing writer (writer.go).
//   - On SQLite statements run without the caller's cancellation: the
//     driver watches a cancellable context with a goroutine per statement,
//     which costs more than these statements, and interrupting a write
//     would roll back every write grouped with it.
//   - On PostgreSQL, pgx already caches prepared statements per connection,
//     so queries pass straight through (rebound to $n placeholders).

// stmtKey tells the read pool's statements from the writer's.
type stmtKey struct {
	write bool
	query string
}

type stmtCache struct {
	m sync.Map // stmtKey -> *sql.Stmt
}

// prepared returns the statement for query on the read pool (write false)
// or the writer (write true), preparing it once.
func (d *DB) prepared(ctx context.Context, write bool, query string) (*sql.Stmt, error) {
	k := stmtKey{write, query}
	if st, ok := d.stmts.m.Load(k); ok {
		return st.(*sql.Stmt), nil
	}
	pool := d.r
	if write {
		pool = d.w
	}
	st, err := pool.PrepareContext(ctx, d.q(query))
	if err != nil {
		return nil, err
	}
	if prev, loaded := d.stmts.m.LoadOrStore(k, st); loaded {
		_ = st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

func (d *DB) closeStatements() {
	d.stmts.m.Range(func(k, st any) bool {
		_ = st.(*sql.Stmt).Close()
		d.stmts.m.Delete(k)
		return true
	})
}

// txStmt is query's prepared statement bound to tx, or nil when it cannot
// be prepared (the caller then runs the query unprepared, which reports the
// same error).
func (d *DB) txStmt(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	if d.dialect != SQLite {
		return nil
	}
	st, err := d.prepared(ctx, true, query)
	if err != nil {
		return nil
	}
	return tx.StmtContext(ctx, st)
}

// row runs a query that returns at most one row: in tx when it is not nil,
// else on the read pool.
func (d *DB) row(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	ctx = d.statementContext(ctx)
	if tx != nil {
		if st := d.txStmt(ctx, tx, query); st != nil {
			return st.QueryRowContext(ctx, args...)
		}
		return tx.QueryRowContext(ctx, d.q(query), args...)
	}
	if d.dialect == SQLite {
		if st, err := d.prepared(ctx, false, query); err == nil {
			return st.QueryRowContext(ctx, args...)
		}
	}
	return d.r.QueryRowContext(ctx, d.q(query), args...)
}

// rows runs a query: in tx when it is not nil, else on the read pool.
func (d *DB) rows(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	ctx = d.statementContext(ctx)
	if tx != nil {
		if st := d.txStmt(ctx, tx, query); st != nil {
			return st.QueryContext(ctx, args...)
		}
		return tx.QueryContext(ctx, d.q(query), args...)
	}
	if d.dialect == SQLite {
		st, err := d.prepared(ctx, false, query)
		if err != nil {
			return nil, err
		}
		return st.QueryContext(ctx, args...)
	}
	return d.r.QueryContext(ctx, d.q(query), args...)
}

// exec runs a write: in tx when it is not nil, else in a write transaction
// of its own (on SQLite, grouped with concurrent writes by the writer).
func (d *DB) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if tx != nil {
		ctx = d.statementContext(ctx)
		if st := d.txStmt(ctx, tx, query); st != nil {
			return st.ExecContext(ctx, args...)
		}
		return tx.ExecContext(ctx, d.q(query), args...)
	}
	return d.execIn(ctx, d.tx, query, args...)
}

// grantExec is exec for a write of the grant tables alone (see grantTx).
// On PostgreSQL it runs on its own, outside a transaction.
func (d *DB) grantExec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if d.dialect != SQLite {
		return d.w.ExecContext(ctx, d.q(query), args...)
	}
	return d.execIn(ctx, d.grantTx, query, args...)
}

// execIn runs one write in a transaction of txFn's.
func (d *DB) execIn(ctx context.Context, txFn func(context.Context, func(*sql.Tx) error) error, query string, args ...any) (sql.Result, error) {
	ctx = d.statementContext(ctx)
	var res sql.Result
	err := txFn(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = d.exec(ctx, tx, query, args...)
		return err
	})
	return res, err
}

// statementContext is ctx without its cancellation on SQLite (see above).
func (d *DB) statementContext(ctx context.Context) context.Context {
	if d.dialect == SQLite && ctx.Done() != nil {
		return context.WithoutCancel(ctx)
	}
	return ctx
}
