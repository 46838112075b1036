package user

import "time"

// LoginFailure is one failed sign-in to record on a brute-force counter,
// with the policy of the row it lands on (the login package's limiter).
type LoginFailure struct {
	At time.Time
	// StaleBefore: a row whose last failure is at or before it no longer
	// counts (its reset time is over): the failure starts it again at 1.
	StaleBefore time.Time
	// LockAt is the count at which the row is a lockout (0: never), and
	// LockOverBefore when a lockout whose last failure is at or before it
	// is over (zero time: never): the failure starts it again at 1.
	LockAt         int
	LockOverBefore time.Time
	// ExpiresAt and LockExpiresAt are when the row may be forgotten, as a
	// count below LockAt and as a lockout.
	ExpiresAt, LockExpiresAt time.Time
}
