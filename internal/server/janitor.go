package server

import (
	"context"
	"time"
)

// janitorBatch is how many expired rows one sweep deletes per table; a
// sweep that deletes a full batch is followed at once by another.
const janitorBatch = 1000

// runJanitor deletes expired codes, requests, sessions, token families,
// refresh tokens, assertion jtis, login-failure counters, rate-limit
// windows and audit events past --audit-retention every interval,
// so that tables stay bounded under constant traffic. Every replica runs it;
// the deletes are idempotent.
func (s *Server) runJanitor(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.sweep(ctx)
	}
}

func (s *Server) sweep(ctx context.Context) {
	for {
		n, err := s.DB.DeleteExpired(ctx, time.Now(), janitorBatch)
		if err == nil {
			var m int64
			m, err = s.DB.DeleteExpiredLoginFailures(ctx, time.Now(), janitorBatch)
			n += m
		}
		if err == nil {
			// Rate-limit windows: a minute window ends a minute after it
			// starts; older ones count nothing any more.
			var m int64
			m, err = s.DB.DeleteRateWindows(ctx, time.Now().Add(-2*time.Minute), janitorBatch)
			n += m
		}
		if err == nil {
			var m int64
			m, err = s.DB.DeleteAuditEventsBefore(ctx, time.Now().Add(-s.Config.AuditRetention), janitorBatch)
			n += m
		}
		if err != nil {
			if ctx.Err() == nil {
				s.Log.Warn("janitor sweep failed", "error", err)
			}
			return
		}
		if n > 0 {
			s.Log.Debug("janitor deleted expired rows", "rows", n)
		}
		if n < janitorBatch {
			return
		}
	}
}
