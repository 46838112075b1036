package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The SQLite writer: group commit and background checkpoints.
//
// SQLite lets one connection write at a time, and a commit costs more than
// the small statements of a token request: the WAL frames of every page it
// touched are written out, and every thousand pages the committing
// connection also checkpointed the WAL into the database file, fsync
// included, while every other write waited. Under load, writes queued
// behind that one connection and the server used barely more than one
// core. So:
//
//   - One goroutine owns the write connection. Concurrent write
//     transactions (DB.tx, and DB.exec outside a transaction) queue to it,
//     and it runs all that are waiting as one SQLite transaction, each in a
//     savepoint of its own: a function that fails rolls back only its own
//     changes. Each caller returns once the shared commit is done, with the
//     commit's error if it failed, so a write is durable (to the WAL) when
//     its call returns, as before; only the number of commits shrinks.
//   - Automatic checkpoints are off on the write connection; a second
//     connection checkpoints (PASSIVE: never blocking readers or the
//     writer) after every checkpointEvery commits, and every
//     checkpointInterval when there were any.
//   - Under constant writes the WAL never starts over by itself: SQLite
//     rewinds it only when a checkpoint has caught up with the last
//     commit, which a PASSIVE one never does while commits keep coming.
//     Left alone, the WAL grew by 2 GB in 30 s of code exchanges. So once
//     it holds restartFrames, the writer itself, between two batches, runs
//     a RESTART checkpoint (the PASSIVE ones left it little to copy), and
//     the next commit writes from the start of the file again. It does so
//     only while no PASSIVE checkpoint runs (it would wait for it); the
//     RESTART then waits only for the readers of older snapshots, which
//     are short.

const (
	// maxBatch bounds the writes grouped into one commit, so that one
	// commit's latency stays bounded.
	maxBatch           = 64
	restartFrames      = 16384 // 64 MiB of 4 KiB pages
	checkpointEvery    = 256
	checkpointInterval = time.Second
)

var errClosed = errors.New("store: closed")

type writeOp struct {
	ctx  context.Context
	fn   func(*sql.Tx) error
	done chan error // buffered, 1
}

var opPool = sync.Pool{New: func() any { return &writeOp{done: make(chan error, 1)} }}

type writer struct {
	db        *sql.DB // the write connection (one)
	ckpt      *sql.DB // the checkpoint connection (one)
	ops       chan *writeOp
	quit      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
	kick      chan struct{} // a checkpoint is due
	commits   int           // since the last kick; run's goroutine only
	dirty     atomic.Bool   // commits since the last checkpoint
	restart   atomic.Bool   // the WAL is long: rewind it between batches
	ckptMu    sync.Mutex    // held by a running checkpoint
	longWAL   int           // frames from which the WAL is rewound (restartFrames)
	every     int           // commits between checkpoints (checkpointEvery)
	stats     struct{ commits, writes, checkpoints, restarts atomic.Int64 }
	savepoint [3]*sql.Stmt // SAVEPOINT, RELEASE, ROLLBACK TO
}

func newWriter(db, ckpt *sql.DB) (*writer, error) {
	w := &writer{db: db, ckpt: ckpt, ops: make(chan *writeOp), quit: make(chan struct{}), kick: make(chan struct{}, 1), longWAL: restartFrames, every: checkpointEvery}
	for i, q := range []string{"SAVEPOINT w", "RELEASE w", "ROLLBACK TO w"} {
		st, err := db.Prepare(q)
		if err != nil {
			w.closeStatements()
			return nil, fmt.Errorf("store: prepare %q: %w", q, err)
		}
		w.savepoint[i] = st
	}
	w.wg.Add(2)
	go w.run()
	go w.checkpoints()
	return w, nil
}

func (w *writer) closeStatements() {
	for _, st := range w.savepoint {
		if st != nil {
			_ = st.Close()
		}
	}
}

// close stops the writer after the batch in progress; later writes fail.
// Closing twice is harmless.
func (w *writer) close() {
	w.closeOnce.Do(func() {
		close(w.quit)
		w.wg.Wait()
		w.closeStatements()
	})
}

// do runs fn in a write transaction, grouped with the writes waiting at the
// same time, and returns once that transaction committed or failed.
func (w *writer) do(ctx context.Context, fn func(*sql.Tx) error) error {
	op := opPool.Get().(*writeOp)
	op.ctx, op.fn = ctx, fn
	select {
	case w.ops <- op:
	case <-w.quit:
		w.release(op)
		return errClosed
	case <-ctx.Done():
		w.release(op)
		return ctx.Err()
	}
	// Once handed over, the op is always answered, even after ctx ends:
	// its write may already be in the transaction.
	err := <-op.done
	w.release(op)
	return err
}

func (w *writer) release(op *writeOp) {
	op.ctx, op.fn = nil, nil
	opPool.Put(op)
}

func (w *writer) run() {
	defer w.wg.Done()
	batch := make([]*writeOp, 0, maxBatch)
	errs := make([]error, 0, maxBatch)
	for {
		select {
		case op := <-w.ops:
			batch = append(batch[:0], op)
		case <-w.quit:
			return
		}
		// Let the requests that are about to write join this batch.
		runtime.Gosched()
	more:
		for len(batch) < maxBatch {
			select {
			case op := <-w.ops:
				batch = append(batch, op)
			default:
				break more
			}
		}
		errs = w.commit(batch, errs[:0])
		for i, op := range batch {
			op.done <- errs[i]
		}
		w.stats.commits.Add(1)
		w.stats.writes.Add(int64(len(batch)))
		clear(batch)
		w.dirty.Store(true)
		if w.commits++; w.commits >= w.every {
			w.checkpointDue()
		}
		if w.restart.Load() && w.ckptMu.TryLock() {
			w.rewind()
			w.ckptMu.Unlock()
		}
	}
}

// rewind checkpoints the whole WAL so that the next commit starts it over.
func (w *writer) rewind() {
	w.restart.Store(false)
	var busy, frames, done int
	if err := w.db.QueryRow("PRAGMA wal_checkpoint(RESTART)").Scan(&busy, &frames, &done); err == nil && busy == 0 {
		w.stats.restarts.Add(1)
	}
}

func (w *writer) checkpointDue() {
	w.commits = 0
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// commit runs batch in one transaction and appends each op's error to errs.
func (w *writer) commit(batch []*writeOp, errs []error) []error {
	ctx := context.Background()
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return appendN(errs, err, len(batch))
	}
	if len(batch) == 1 {
		// Alone: no savepoint needed, the transaction is the op's.
		op := batch[0]
		if err := op.ctx.Err(); err != nil {
			_ = tx.Rollback()
			return append(errs, err)
		}
		if err := call(op, tx); err != nil {
			_ = tx.Rollback()
			return append(errs, err)
		}
		return append(errs, tx.Commit())
	}
	for _, op := range batch {
		if err := op.ctx.Err(); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := tx.StmtContext(ctx, w.savepoint[0]).ExecContext(ctx); err != nil {
			return abort(tx, errs, err, len(batch))
		}
		opErr := call(op, tx)
		if opErr != nil {
			if _, err := tx.StmtContext(ctx, w.savepoint[2]).ExecContext(ctx); err != nil {
				// SQLite rolled the whole transaction back (an I/O
				// error, a full disk): nothing of the batch stays.
				return abort(tx, errs, errors.Join(opErr, err), len(batch))
			}
		}
		if _, err := tx.StmtContext(ctx, w.savepoint[1]).ExecContext(ctx); err != nil {
			return abort(tx, errs, err, len(batch))
		}
		errs = append(errs, opErr)
	}
	if err := tx.Commit(); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	return errs
}

// call runs op's function; a panic becomes its error instead of taking the
// writer, and every later write, down with it.
func call(op *writeOp, tx *sql.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store: write panicked: %v", r)
		}
	}()
	return op.fn(tx)
}

// abort rolls the batch back: every op, done or not, fails with err.
func abort(tx *sql.Tx, errs []error, err error, n int) []error {
	_ = tx.Rollback()
	return appendN(errs[:0], err, n)
}

func appendN(errs []error, err error, n int) []error {
	for range n {
		errs = append(errs, err)
	}
	return errs
}

// checkpoints copies the WAL into the database file when asked, and on a
// timer while there are commits, off the write path.
func (w *writer) checkpoints() {
	defer w.wg.Done()
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-w.quit:
			return
		case <-w.kick:
		case <-t.C:
			if !w.dirty.Load() {
				continue
			}
		}
		w.dirty.Store(false)
		// PASSIVE copies what it can without waiting for anyone; errors
		// (SQLITE_BUSY from another checkpoint) are retried next time.
		var busy, frames, done int
		w.ckptMu.Lock()
		err := w.ckpt.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &done)
		w.ckptMu.Unlock()
		if err != nil {
			continue
		}
		w.stats.checkpoints.Add(1)
		if frames >= w.longWAL {
			w.restart.Store(true)
		}
	}
}

// WriterStats counts the SQLite writer's work since Open: Writes grouped
// into Commits (Writes/Commits is the mean group size), Checkpoints, and
// Restarts of the WAL from its start.
type WriterStats struct{ Commits, Writes, Checkpoints, Restarts int64 }

// WriterStats reports the group-commit counters; zero on PostgreSQL.
func (d *DB) WriterStats() WriterStats {
	if d.wr == nil {
		return WriterStats{}
	}
	return WriterStats{
		Commits: d.wr.stats.commits.Load(), Writes: d.wr.stats.writes.Load(),
		Checkpoints: d.wr.stats.checkpoints.Load(), Restarts: d.wr.stats.restarts.Load(),
	}
}
