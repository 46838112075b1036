// Package audit is the domain of the audit log (R-ADM-4, issue 12): one
// event per admin change and per security event, queryable by tenant,
// actor, action, target and time. It holds the types, the Store each needs,
// and the carrier that lets an admin change's event commit in the same
// transaction as the change; no HTTP and no SQL.
package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// Kinds of events.
const (
	KindAdmin    = "admin"
	KindSecurity = "security"
)

// Event is one row of the audit log. It never holds a secret.
type Event struct {
	// ID orders events by time (newest first in lists) and is the cursor.
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	// TenantID is the tenant acted on ("" for the whole instance).
	TenantID string `json:"tenant,omitempty"`
	// Actor is who acted: an admin client's ID, a user's.
	Actor string `json:"actor"`
	// Action names what was done, such as "POST /apps" or "login.failed".
	Action string `json:"action"`
	// Target is what it was done to, such as "apps/8XmjR0KosMRlpHEo".
	Target    string `json:"target,omitempty"`
	Summary   string `json:"summary,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// NewID is an event ID for t: its microseconds in hex, then 8 random hex
// digits, so that IDs sort by time.
func NewID(t time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%016x%s", t.UnixMicro(), hex.EncodeToString(b[:]))
}

// Filter selects events; zero fields select all.
type Filter struct {
	TenantID, Actor, Action, Target string
	Since, Until                    time.Time
	// Before is a cursor: events older than the event with this ID.
	Before string
	Limit  int
}

// Store keeps the log.
type Store interface {
	// AppendAuditEvent writes one event on its own.
	AppendAuditEvent(ctx context.Context, e *Event) error
	// ListAuditEvents lists events newest first.
	ListAuditEvents(ctx context.Context, f Filter) ([]*Event, error)
	// DeleteAuditEventsBefore deletes up to limit events older than t.
	DeleteAuditEventsBefore(ctx context.Context, t time.Time, limit int) (int64, error)
}

// Pending is an admin change's event on its way: the first write
// transaction of the request takes it and commits it with the change; if
// none did (a change made another way), the admin API writes it after.
type Pending struct {
	mu    sync.Mutex
	event *Event
}

type pendingKey struct{}

// WithPending carries e in ctx, for the request's first write transaction.
func WithPending(ctx context.Context, e *Event) (context.Context, *Pending) {
	p := &Pending{event: e}
	return context.WithValue(ctx, pendingKey{}, p), p
}

// PendingFrom is ctx's pending event, or nil.
func PendingFrom(ctx context.Context) *Pending {
	p, _ := ctx.Value(pendingKey{}).(*Pending)
	return p
}

// Take returns the event once (nil after), for the transaction that writes
// it; Put gives it back when that transaction did not commit.
func (p *Pending) Take() *Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.event
	p.event = nil
	return e
}

// Put gives back an event whose transaction did not commit.
func (p *Pending) Put(e *Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.event == nil {
		p.event = e
	}
}
