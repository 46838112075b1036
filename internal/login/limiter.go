package login

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// FailureStore keeps the brute-force counters, shared by every replica, and
// finds the account a typed login names.
type FailureStore interface {
	GetLoginFailures(ctx context.Context, tenantID, subject string) (failures int, last time.Time, err error)
	AddLoginFailure(ctx context.Context, tenantID, subject string, f user.LoginFailure) (int, error)
	DeleteLoginFailures(ctx context.Context, tenantID, subject string) error
	DeleteExpiredLoginFailures(ctx context.Context, now time.Time, limit int) (int64, error)
	GetUserByLogin(ctx context.Context, tenantID, login string) (*user.User, error)
}

// Limiter defaults.
const (
	DefaultFree             = 3
	DefaultIPFree           = 20
	DefaultBaseDelay        = time.Second
	DefaultMaxDelay         = 30 * time.Second
	DefaultLockoutThreshold = 10
	DefaultLockoutDuration  = 15 * time.Minute
	DefaultResetAfter       = 12 * time.Hour
	DefaultIPResetAfter     = time.Hour
)

// forever is the expiry of a lockout that only an admin lifts.
var forever = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// Limiter is the brute-force protection of password logins: the login page
// and the password grant (R-OID-6). It counts failed attempts per (tenant,
// account) and per (tenant, client address):
//
//   - each may fail Free (or IPFree) times without delay; after that the
//     next attempt must wait BaseDelay, doubling with every failure up to
//     MaxDelay, counted from the last failure;
//   - LockoutThreshold failures of one account lock it: no attempt is
//     checked until LockoutDuration has passed since the last failure, or
//     an admin calls UnlockUser;
//   - failures are forgotten ResetAfter (IPResetAfter) after the last one, and
//     an account's after a successful sign-in.
//
// The account is the user the typed login names (by username or email), so
// a lock holds however the user is named; a login that names nobody is
// counted as typed (case-folded), so that the limiter answers the same for
// existing and unknown users. Counter keys are HMAC-SHA256 under Key: a
// password typed into the username field cannot be recovered from them.
//
// Only real failures count: a correct password never trips a delay, however
// many sign-ins of one account or one address run at once (an office
// behind one NAT address). Parallel guessing is bounded in each process
// instead: at most as many attempts of one account (one address) are
// checked at once as it has free failures left (at least one), and the
// others wait for their turn, so that a burst of guesses cannot all pass
// between a check and the failures it records.
//
// Use: Check before verifying a password; when it allows the attempt, call
// Fail or Succeed with the outcome, and Done in every case (defer it).
//
// Zero fields take the defaults above; a negative LockoutThreshold never
// locks, a negative LockoutDuration locks until an admin unlocks.
type Limiter struct {
	Store FailureStore
	Now   func() time.Time
	Log   *slog.Logger // nil: no log of lockouts
	// Key keys the counters' HMAC (the server derives it from its master
	// key; empty is allowed in tests).
	Key []byte

	Free             int
	IPFree           int
	BaseDelay        time.Duration
	MaxDelay         time.Duration
	LockoutThreshold int
	LockoutDuration  time.Duration
	ResetAfter       time.Duration
	IPResetAfter     time.Duration

	fails atomic.Uint32
	gates gates
}

// subject is one counter an attempt touches.
type subject struct {
	key   string
	free  int
	reset time.Duration
	login bool // a login (else a client address)
	lock  bool // can be locked out: a login, when lockouts are on
}

func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

func (l *Limiter) now() time.Time {
	if l.Now == nil {
		return time.Now()
	}
	return l.Now()
}

func (l *Limiter) threshold() int { return orDefault(l.LockoutThreshold, DefaultLockoutThreshold) }

// subjectKey is the HMAC of a counter's name: the account or the typed
// login never appears in the table or in a log.
func (l *Limiter) subjectKey(kind, name string) string {
	m := hmac.New(sha256.New, l.Key)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(name))
	return kind + ":" + hex.EncodeToString(m.Sum(nil))
}

// IPSubject is the counter key of a client address: an IPv4 address, or the
// /64 of an IPv6 address (one host usually holds a whole /64). Anything else
// is used as given, up to 64 bytes.
func IPSubject(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		if len(ip) > 64 {
			ip = ip[:64]
		}
		return "ip:" + ip
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "ip:" + p.String()
	}
	return "ip:" + a.String()
}

// subjects are the counters of an attempt: the account (or typed login)
// first, then the client address.
func (l *Limiter) subjects(ctx context.Context, tenantID, login, ip string) ([]subject, error) {
	key := l.subjectKey("name", user.Fold(login))
	u, err := l.Store.GetUserByLogin(ctx, tenantID, login)
	switch {
	case err == nil:
		key = l.accountKey(u.ID)
	case !derrors.Is(err, derrors.NotFound):
		return nil, err
	}
	out := []subject{{key: key, free: orDefault(l.Free, DefaultFree), reset: orDefault(l.ResetAfter, DefaultResetAfter), login: true, lock: l.threshold() > 0}}
	if ip != "" {
		out = append(out, subject{key: IPSubject(ip), free: orDefault(l.IPFree, DefaultIPFree), reset: orDefault(l.IPResetAfter, DefaultIPResetAfter)})
	}
	return out, nil
}

func (l *Limiter) accountKey(userID string) string { return l.subjectKey("account", userID) }

// delay is how long after the last failure an attempt must wait when n
// failures count.
func (l *Limiter) delay(free, n int) time.Duration {
	if n < free {
		return 0
	}
	base, ceiling := orDefault(l.BaseDelay, DefaultBaseDelay), orDefault(l.MaxDelay, DefaultMaxDelay)
	shift := n - free
	if shift > 30 {
		return ceiling
	}
	return min(base<<shift, ceiling)
}

// eval returns the failures of a row (n, last) that still count at now,
// whether the subject is locked, and how long the next attempt must wait.
func (l *Limiter) eval(s subject, n int, last, now time.Time) (count int, locked bool, wait time.Duration) {
	if last.IsZero() {
		return 0, false, 0
	}
	if s.lock && n >= l.threshold() {
		d := orDefault(l.LockoutDuration, DefaultLockoutDuration)
		if d < 0 || now.Before(last.Add(d)) {
			return n, true, 0
		}
		return 0, false, 0 // the lockout is over: start again
	}
	if !now.Before(last.Add(s.reset)) {
		return 0, false, 0
	}
	return n, false, max(0, last.Add(l.delay(s.free, n)).Sub(now))
}

// expiry is when a row (n, last) may be forgotten.
func (l *Limiter) expiry(s subject, n int, last time.Time) time.Time {
	if s.lock && n >= l.threshold() {
		d := orDefault(l.LockoutDuration, DefaultLockoutDuration)
		if d < 0 {
			return forever
		}
		return last.Add(max(d, s.reset))
	}
	return last.Add(s.reset)
}

// failure is the store's record of one failure of s at now, with the
// limiter's policy.
func (l *Limiter) failure(s subject, now time.Time) user.LoginFailure {
	f := user.LoginFailure{At: now, StaleBefore: now.Add(-s.reset), ExpiresAt: now.Add(s.reset)}
	if s.lock {
		f.LockAt = l.threshold()
		f.LockExpiresAt = l.expiry(s, f.LockAt, now)
		if d := orDefault(l.LockoutDuration, DefaultLockoutDuration); d >= 0 {
			f.LockOverBefore = now.Add(-d)
		}
	}
	return f
}

// Attempt is one password check that Check let through. It holds a place
// in its account's and address's turn until Done.
type Attempt struct {
	l      *Limiter
	tenant string
	subs   []subject
	held   []*gate
	done   bool
}

// Pseudonym names the attempt's account (or typed login) in logs: a short
// prefix of its counter key, the same for every replica.
func (a *Attempt) Pseudonym() string { return pseudonym(a.subs[0].key) }

func pseudonym(key string) string {
	_, h, _ := strings.Cut(key, ":")
	return h[:min(len(h), 16)]
}

// Check reports whether a password attempt for login from the client
// address ip (may be empty) may go ahead in the tenant: locked when the
// account is locked out, else wait > 0 when it must wait that long first.
// Both zero: go ahead with the Attempt. A refused attempt changes nothing;
// its Attempt only names it (Pseudonym).
// Check waits for its turn when as many attempts of the account or address
// as it has free failures left are being checked (bounded by ctx). A
// tenant that does not exist is a derrors NotFound error.
func (l *Limiter) Check(ctx context.Context, tenantID, login, ip string) (a *Attempt, wait time.Duration, locked bool, err error) {
	subs, err := l.subjects(ctx, tenantID, login, ip)
	if err != nil {
		return nil, 0, false, err
	}
	a = &Attempt{l: l, tenant: tenantID, subs: subs}
	for _, s := range subs {
		g := l.gates.get(tenantID + "\x00" + s.key)
		for {
			freed, wait, locked, err := l.enter(ctx, g, tenantID, s)
			if err != nil || wait > 0 || locked {
				l.gates.put(g)
				a.Done()
				if err != nil {
					return nil, 0, false, err
				}
				return a, wait, locked, nil
			}
			if freed == nil {
				break
			}
			// Wait for an attempt in flight to finish, then read again:
			// its failure may be what refuses this one.
			if err := waitFreed(ctx, freed); err != nil {
				l.gates.put(g)
				a.Done()
				return nil, 0, false, err
			}
		}
		a.held = append(a.held, g)
	}
	return a, 0, false, nil
}

// Fail records that the attempt failed, on its account (or typed login) and
// its address, and logs a lockout by the account's pseudonym.
func (a *Attempt) Fail(ctx context.Context) error {
	l, now := a.l, a.l.now()
	for _, s := range a.subs {
		n, err := l.Store.AddLoginFailure(ctx, a.tenant, s.key, l.failure(s, now))
		if err != nil {
			return err
		}
		if s.lock && n == l.threshold() && l.Log != nil {
			l.Log.WarnContext(ctx, "login locked out after repeated failures", "tenant", a.tenant, "account", pseudonym(s.key), "failures", n)
		}
	}
	// Expired rows are swept here, a little at a time, so that the table
	// stays bounded even without a janitor.
	if l.fails.Add(1)%32 == 0 {
		_, _ = l.Store.DeleteExpiredLoginFailures(ctx, now, 100)
	}
	return nil
}

// Succeed records that the attempt succeeded: the account's failures are
// forgotten; the address's still count.
func (a *Attempt) Succeed(ctx context.Context) error {
	return a.l.Store.DeleteLoginFailures(ctx, a.tenant, a.subs[0].key)
}

// Done gives the attempt's turn to the next; calling it again is harmless.
func (a *Attempt) Done() {
	if a == nil || a.done {
		return
	}
	a.done = true
	for _, g := range a.held {
		g.leave()
		a.l.gates.put(g)
	}
}

// UnlockUser lifts a lockout of the user's account in the tenant and
// forgets its failures (the admin API). Unlocking an account that is not
// locked is no error.
func (l *Limiter) UnlockUser(ctx context.Context, tenantID, userID string) error {
	return l.Store.DeleteLoginFailures(ctx, tenantID, l.accountKey(userID))
}

// gates are the turns of the accounts and addresses with attempts in
// flight in this process; an idle gate is dropped.
type gates struct {
	mu sync.Mutex
	m  map[string]*gate
}

// gate counts the attempts of one counter being checked.
type gate struct {
	key   string
	refs  int // holders and waiters, under gates.mu
	mu    sync.Mutex
	in    int
	freed chan struct{} // closed when an attempt leaves
}

func (gs *gates) get(key string) *gate {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if gs.m == nil {
		gs.m = make(map[string]*gate)
	}
	g := gs.m[key]
	if g == nil {
		g = &gate{key: key, freed: make(chan struct{})}
		gs.m[key] = g
	}
	g.refs++
	return g
}

func (gs *gates) put(g *gate) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if g.refs--; g.refs == 0 {
		delete(gs.m, g.key)
	}
}

// enter reads subject s's count and takes a place at its gate if fewer
// attempts are in than it has free failures left (at least one); if not, it
// returns the channel closed when one leaves. The read and the place are
// taken under the gate's lock, so that every attempt that left before is in
// the count and every one still in is in the gate.
func (l *Limiter) enter(ctx context.Context, g *gate, tenantID string, s subject) (freed <-chan struct{}, wait time.Duration, locked bool, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n, last, err := l.Store.GetLoginFailures(ctx, tenantID, s.key)
	if err != nil {
		return nil, 0, false, err
	}
	c, locked, wait := l.eval(s, n, last, l.now())
	if locked || wait > 0 {
		return nil, wait, locked, nil
	}
	if g.in >= max(1, s.free-c) {
		return g.freed, 0, false, nil
	}
	g.in++
	return nil, 0, false, nil
}

// waitFreed blocks until freed is closed or ctx ends.
func waitFreed(ctx context.Context, freed <-chan struct{}) error {
	select {
	case <-freed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.in--
	close(g.freed)
	g.freed = make(chan struct{})
}
