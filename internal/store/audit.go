package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/audit"
)

// The audit log (issue 12): audit.Store. An admin change's event rides in
// the request's context (audit.WithPending) and tx writes it in the
// change's own transaction: the row commits with the change or not at all.

const insertAudit = "INSERT INTO audit_events (id, at, kind, tenant_id, actor, action, target, summary, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"

func auditArgs(e *audit.Event) []any {
	return []any{e.ID, micros(e.Time), e.Kind, e.TenantID, e.Actor, e.Action, e.Target, e.Summary, e.RequestID}
}

// withAudit wraps a write transaction's work so that it also writes the
// context's pending admin event, once.
func (d *DB) withAudit(ctx context.Context, fn func(tx *sql.Tx) error) func(tx *sql.Tx) error {
	p := audit.PendingFrom(ctx)
	if p == nil {
		return fn
	}
	return func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		e := p.Take()
		if e == nil {
			return nil
		}
		if _, err := tx.ExecContext(ctx, d.q(insertAudit), auditArgs(e)...); err != nil {
			p.Put(e)
			return err
		}
		return nil
	}
}

// AppendAuditEvent implements audit.Store.
func (d *DB) AppendAuditEvent(ctx context.Context, e *audit.Event) error {
	_, err := d.grantExec(ctx, insertAudit, auditArgs(e)...)
	return err
}

// ListAuditEvents implements audit.Store.
func (d *DB) ListAuditEvents(ctx context.Context, f audit.Filter) ([]*audit.Event, error) {
	q := "SELECT id, at, kind, tenant_id, actor, action, target, summary, request_id FROM audit_events WHERE 1 = 1"
	var args []any
	add := func(cond string, v any) {
		q += " AND " + cond
		args = append(args, v)
	}
	if f.TenantID != "" {
		add("tenant_id = ?", f.TenantID)
	}
	if f.Actor != "" {
		add("actor = ?", f.Actor)
	}
	if f.Action != "" {
		add("action = ?", f.Action)
	}
	if f.Target != "" {
		add("target = ?", f.Target)
	}
	if !f.Since.IsZero() {
		add("at >= ?", micros(f.Since))
	}
	if !f.Until.IsZero() {
		add("at < ?", micros(f.Until))
	}
	if f.Before != "" {
		add("id < ?", f.Before)
	}
	rows, err := d.rows(ctx, nil, q+" ORDER BY id DESC LIMIT ?", append(args, f.Limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*audit.Event
	for rows.Next() {
		var e audit.Event
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Kind, &e.TenantID, &e.Actor, &e.Action, &e.Target, &e.Summary, &e.RequestID); err != nil {
			return nil, err
		}
		e.Time = fromMicros(at)
		out = append(out, &e)
	}
	return out, rows.Err()
}

// DeleteAuditEventsBefore implements audit.Store: the retention.
func (d *DB) DeleteAuditEventsBefore(ctx context.Context, t time.Time, limit int) (int64, error) {
	res, err := d.grantExec(ctx, "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < ? ORDER BY at LIMIT ?)", micros(t), limit)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
