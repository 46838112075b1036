package oidc_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/login"
)

// passwordGrant asks for tokens with the password grant of the pwOnly app
// and returns the status and the error description (none on success).
func (e *authEnv) passwordGrant(t *testing.T, username, password string) (int, string) {
	t.Helper()
	w := e.token(url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}, e.pwOnly.ClientID, e.pwOnly.Secret)
	var body struct {
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("token response: %d %s", w.Code, w.Body)
	}
	return w.Code, body.Description
}

// TestPasswordGrantLockoutEveryName: once the failures lock a user, the
// right password does not pass under its email either, and an unknown
// user gets the same answers (issue 8 §7, R-OID-6).
func TestPasswordGrantLockoutEveryName(t *testing.T) {
	type answer struct {
		status int
		desc   string
	}
	run := func(guess, then string) []answer {
		e := newAuthEnv(t)
		e.provider.Throttle = &login.Limiter{Store: e.db, Now: e.clock.Now, Free: 3, LockoutThreshold: 3, LockoutDuration: time.Hour, Key: []byte("k")}
		var out []answer
		for range 3 {
			s, d := e.passwordGrant(t, guess, "wrong")
			out = append(out, answer{s, d})
		}
		s, d := e.passwordGrant(t, then, testPassword)
		return append(out, answer{s, d})
	}
	bad := answer{http.StatusBadRequest, "the username or password is incorrect"}
	locked := answer{http.StatusBadRequest, "too many failed attempts: the account is locked; an administrator can unlock it"}
	want := []answer{bad, bad, bad, locked}
	for _, c := range [][2]string{{"alice", "ALICE@example.com"}, {"alice@example.com", "alice"}, {"nobody", "NOBODY"}} {
		got := run(c[0], c[1])
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("guesses as %s, then %s: answer %d = %+v, want %+v", c[0], c[1], i+1, got[i], want[i])
			}
		}
	}
}

// TestPasswordGrantParallel: correct passwords of one user at once, more
// than the free failures, all get tokens (issue 8 §2).
func TestPasswordGrantParallel(t *testing.T) {
	e := newAuthEnv(t)
	e.provider.Throttle = &login.Limiter{Store: e.db, Now: e.clock.Now, Key: []byte("k")}
	const n = 2 * login.DefaultFree
	codes := make(chan int, n)
	for range n {
		go func() {
			w := e.token(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testPassword}}, e.pwOnly.ClientID, e.pwOnly.Secret)
			codes <- w.Code
		}()
	}
	for range n {
		if c := <-codes; c != http.StatusOK {
			t.Errorf("a concurrent correct sign-in got %d", c)
		}
	}
}
