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
	"sync/atomic"
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

// Queue writes security events (sign-ins, tokens) in the background, so
// that the request that causes one does not wait for the database: a
// bounded queue; when it is full an event is dropped and counted, never
// the request slowed. What is still queued at a crash is lost (docs/audit.md).
type Queue struct {
	store   Store
	ch      chan *Event
	dropped atomic.Int64
	now     func() time.Time
}

// NewQueue is a queue of size events in front of store.
func NewQueue(store Store, size int) *Queue {
	return &Queue{store: store, ch: make(chan *Event, size), now: time.Now}
}

// Record queues a security event, filling its ID, time and kind.
func (q *Queue) Record(e *Event) {
	if e.Time.IsZero() {
		e.Time = q.now().UTC()
	}
	if e.ID == "" {
		e.ID = NewID(e.Time)
	}
	if e.Kind == "" {
		e.Kind = KindSecurity
	}
	select {
	case q.ch <- e:
	default:
		q.dropped.Add(1)
	}
}

// Dropped is how many events a full queue dropped.
func (q *Queue) Dropped() int64 { return q.dropped.Load() }

// Run writes queued events until ctx ends, then what is left, for at most
// five seconds; a failed write is reported to fail and the event dropped.
func (q *Queue) Run(ctx context.Context, fail func(error)) {
	write := func(ctx context.Context, e *Event) {
		if err := q.store.AppendAuditEvent(ctx, e); err != nil {
			q.dropped.Add(1)
			fail(err)
		}
	}
	for {
		select {
		case e := <-q.ch:
			write(context.WithoutCancel(ctx), e)
		case <-ctx.Done():
			drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			for {
				select {
				case e := <-q.ch:
					write(drain, e)
				default:
					return
				}
			}
		}
	}
}
