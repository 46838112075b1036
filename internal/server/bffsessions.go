package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/bff"
	"github.com/gatehouse-id/gatehouse/internal/store"
)

// BFFSessions is the token-management service's server-side session store
// (session.store, issue 10) on PostgreSQL: bff.SessionStore for one service
// (its public URL), plus the listing and revocation behind gatehouse bff
// sessions and gatehouse bff revoke.
type BFFSessions struct {
	db      *store.DB
	service string
}

// OpenBFFSessions opens (and migrates) the session store at url for the
// service with public URL service. The sealer seals nothing there (the
// rows hold no secret) but the store requires one.
func OpenBFFSessions(ctx context.Context, url, service string, sealer store.Sealer) (*BFFSessions, error) {
	db, err := store.Open(ctx, store.Options{URL: url, Seal: sealer})
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return &BFFSessions{db: db, service: service}, nil
}

// Close closes the database.
func (b *BFFSessions) Close() error { return b.db.Close() }

// Create implements bff.SessionStore.
func (b *BFFSessions) Create(ctx context.Context, s bff.StoredSession) error {
	return b.db.CreateBFFSession(ctx, b.service, store.BFFSession(s))
}

// Live implements bff.SessionStore.
func (b *BFFSessions) Live(ctx context.Context, id string, now time.Time) (bool, error) {
	return b.db.BFFSessionLive(ctx, b.service, id, now)
}

// Extend implements bff.SessionStore.
func (b *BFFSessions) Extend(ctx context.Context, id string, expires time.Time) error {
	return b.db.ExtendBFFSession(ctx, b.service, id, expires)
}

// Delete implements bff.SessionStore.
func (b *BFFSessions) Delete(ctx context.Context, id string) error {
	_, err := b.db.DeleteBFFSessions(ctx, b.service, id, "")
	return err
}

// Revoke ends the session with id, or every session of subject, or (both
// empty) all of the service's sessions, and returns how many.
func (b *BFFSessions) Revoke(ctx context.Context, id, subject string) (int64, error) {
	return b.db.DeleteBFFSessions(ctx, b.service, id, subject)
}

// List returns the service's live sessions (of subject alone when it is
// not empty), newest first, at most limit.
func (b *BFFSessions) List(ctx context.Context, subject string, limit int) ([]bff.StoredSession, error) {
	rows, err := b.db.ListBFFSessions(ctx, b.service, subject, time.Now(), limit)
	out := make([]bff.StoredSession, len(rows))
	for i, r := range rows {
		out[i] = bff.StoredSession(r)
	}
	return out, err
}

// RunJanitor deletes the service's expired sessions every interval until
// ctx ends.
func (b *BFFSessions) RunJanitor(ctx context.Context, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for {
			n, err := b.db.DeleteExpiredBFFSessions(ctx, b.service, time.Now(), janitorBatch)
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("bff session sweep failed", "error", err)
				}
				break
			}
			if n < janitorBatch {
				break
			}
		}
	}
}
