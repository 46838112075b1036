package login

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/user"
)

// FailureStore keeps the brute-force counters, shared by every replica.
// SwapLoginFailures is a compare-and-swap: it writes only if the row is
// still what GetLoginFailures returned (a zero time: no row).
type FailureStore interface {
	GetLoginFailures(ctx context.Context, tenantID, subject string) (failures int, last time.Time, err error)
	SwapLoginFailures(ctx context.Context, tenantID, subject string, oldCount int, oldAt time.Time, count int, at, expiresAt time.Time) (bool, error)
	DeleteLoginFailures(ctx context.Context, tenantID, subject string) error
	DeleteExpiredLoginFailures(ctx context.Context, now time.Time, limit int) (int64, error)
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
// and the password grant (R-OID-6). It counts failures per (tenant, login)
// and per (tenant, client address):
//
//   - each may fail Free (or IPFree) times without delay; after that the
//     next attempt must wait BaseDelay, doubling with every failure up to
//     MaxDelay, counted from the last failure;
//   - LockoutThreshold failures of one login lock it: no attempt is checked
//     until LockoutDuration has passed since the last failure, or an admin
//     calls Unlock;
//   - failures are forgotten ResetAfter (IPResetAfter) after the last one, and
//     a login's after a successful sign-in.
//
// The login is counted as typed (case-folded), whether or not a user has it,
// so the limiter answers the same for existing and unknown users.
//
// Use: Check before verifying a password; when it allows the attempt, call
// exactly one of Fail or Succeed with the outcome. Check counts the attempt
// as a failure before the password is verified, so that parallel guesses
// cannot all pass between a Check and their Fail; Succeed takes it back.
//
// Zero fields take the defaults above; a negative LockoutThreshold never
// locks, a negative LockoutDuration locks until an admin unlocks.
type Limiter struct {
	Store FailureStore
	Now   func() time.Time
	Log   *slog.Logger // nil: no log of lockouts

	Free             int
	IPFree           int
	BaseDelay        time.Duration
	MaxDelay         time.Duration
	LockoutThreshold int
	LockoutDuration  time.Duration
	ResetAfter       time.Duration
	IPResetAfter     time.Duration

	fails atomic.Uint32
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

// LoginSubject is the counter key of a login: a hash of the case-folded
// name (a password typed into the username field is not stored).
func LoginSubject(login string) string {
	s := sha256.Sum256([]byte(user.Fold(login)))
	return "login:" + hex.EncodeToString(s[:])
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

func (l *Limiter) subjects(login, ip string) []subject {
	out := []subject{{key: LoginSubject(login), free: orDefault(l.Free, DefaultFree), reset: orDefault(l.ResetAfter, DefaultResetAfter), login: true, lock: l.threshold() > 0}}
	if ip != "" {
		out = append(out, subject{key: IPSubject(ip), free: orDefault(l.IPFree, DefaultIPFree), reset: orDefault(l.IPResetAfter, DefaultIPResetAfter)})
	}
	return out
}

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

// maxTries bounds the compare-and-swap retries of one call under contention.
const maxTries = 8

// Check reports whether a password attempt for login from the client
// address ip (may be empty) may go ahead in the tenant: locked when the
// login is locked out, else wait > 0 when it must wait that long first. Both
// zero: go ahead, then call Fail or Succeed. A refused attempt changes
// nothing. A tenant that does not exist is a derrors NotFound error.
func (l *Limiter) Check(ctx context.Context, tenantID, login, ip string) (wait time.Duration, locked bool, err error) {
	subs := l.subjects(login, ip)
	type row struct {
		n     int
		last  time.Time
		count int
	}
	for range maxTries {
		now := l.now()
		rows := make([]row, len(subs))
		for i, s := range subs {
			n, last, err := l.Store.GetLoginFailures(ctx, tenantID, s.key)
			if err != nil {
				return 0, false, err
			}
			c, lk, w := l.eval(s, n, last, now)
			if lk {
				return 0, true, nil
			}
			wait = max(wait, w)
			rows[i] = row{n, last, c}
		}
		if wait > 0 {
			return wait, false, nil
		}
		// Count the attempt as failed now, on every subject, or on none.
		claimed := 0
		for i, s := range subs {
			ok, err := l.Store.SwapLoginFailures(ctx, tenantID, s.key, rows[i].n, rows[i].last, rows[i].count+1, now, l.expiry(s, rows[i].count+1, now))
			if err != nil || !ok {
				for _, c := range subs[:claimed] {
					_ = l.undo(ctx, tenantID, c) // best effort
				}
				if err != nil {
					return 0, false, err
				}
				break
			}
			claimed++
		}
		if claimed == len(subs) {
			return 0, false, nil
		}
	}
	// Many attempts at once on the same login or address: ask to wait.
	return orDefault(l.BaseDelay, DefaultBaseDelay), false, nil
}

// undo takes one failure back from subject's count (the attempt of this
// caller), whatever other attempts did to the row meanwhile.
func (l *Limiter) undo(ctx context.Context, tenantID string, s subject) error {
	for range maxTries {
		n, last, err := l.Store.GetLoginFailures(ctx, tenantID, s.key)
		if err != nil || n == 0 {
			return err
		}
		ok, err := l.Store.SwapLoginFailures(ctx, tenantID, s.key, n, last, n-1, last, l.expiry(s, n-1, last))
		if err != nil || ok {
			return err
		}
	}
	return nil
}

// Fail records that the attempt Check allowed failed. Check counted it
// already; Fail moves the time of the last failure to now, so that delays
// and lockouts run from the answer. It logs a lockout.
func (l *Limiter) Fail(ctx context.Context, tenantID, login, ip string) error {
	now := l.now()
	for _, s := range l.subjects(login, ip) {
		for range maxTries {
			n, last, err := l.Store.GetLoginFailures(ctx, tenantID, s.key)
			if err != nil {
				return err
			}
			if n == 0 || !last.Before(now) {
				break
			}
			ok, err := l.Store.SwapLoginFailures(ctx, tenantID, s.key, n, last, n, now, l.expiry(s, n, now))
			if err != nil {
				return err
			}
			if ok {
				break
			}
		}
		if n, _, err := l.Store.GetLoginFailures(ctx, tenantID, s.key); err == nil && s.lock && n == l.threshold() && l.Log != nil {
			l.Log.WarnContext(ctx, "login locked out after repeated failures", "tenant", tenantID, "failures", n)
		}
	}
	// Expired rows are swept here, a little at a time, so that the table
	// stays bounded even without a janitor.
	if l.fails.Add(1)%32 == 0 {
		_, _ = l.Store.DeleteExpiredLoginFailures(ctx, now, 100)
	}
	return nil
}

// Succeed records that the attempt Check allowed succeeded: the login's
// failures are forgotten, and the client address's count loses the attempt
// Check added (other failures from that address still count).
func (l *Limiter) Succeed(ctx context.Context, tenantID, login, ip string) error {
	for _, s := range l.subjects(login, ip) {
		if s.login {
			if err := l.Store.DeleteLoginFailures(ctx, tenantID, s.key); err != nil {
				return err
			}
			continue
		}
		if err := l.undo(ctx, tenantID, s); err != nil {
			return err
		}
	}
	return nil
}

// Unlock lifts a lockout of login in the tenant and forgets its failures
// (the admin API). Unlocking a login that is not locked is no error.
func (l *Limiter) Unlock(ctx context.Context, tenantID, login string) error {
	return l.Store.DeleteLoginFailures(ctx, tenantID, LoginSubject(login))
}
