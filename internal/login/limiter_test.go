package login_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/login"
)

// TestLimiterDelays: three free failures, then 1 s, 2 s, 4 s ... capped;
// a refused attempt changes nothing; after ResetAfter the count starts
// again; a success forgets the login's failures.
func TestLimiterDelays(t *testing.T) {
	e := newEnv(t)
	l := &seq{l: &login.Limiter{Store: e.db, Now: e.clock.Now, MaxDelay: 8 * time.Second, LockoutThreshold: -1}}
	ctx := t.Context()
	check := func(want time.Duration) {
		t.Helper()
		wait, locked, err := l.Check(ctx, "acme", "alice", "")
		if err != nil || locked || wait != want {
			t.Fatalf("Check = %v, locked %v, %v; want wait %v", wait, locked, err, want)
		}
	}
	fail := func() {
		t.Helper()
		check(0)
		if err := l.Fail(ctx, "acme", "alice", ""); err != nil {
			t.Fatal(err)
		}
	}
	fail()
	fail()
	fail()
	for _, d := range []time.Duration{1, 2, 4, 8, 8, 8} {
		d *= time.Second
		check(d)
		e.clock.Advance(d / 2)
		check(d / 2) // refused attempts do not count or move the clock
		e.clock.Advance(d / 2)
		fail()
	}
	// Case does not make another login.
	if wait, _, _ := l.Check(ctx, "acme", "ALICE", ""); wait != 8*time.Second {
		t.Errorf("ALICE waits %v", wait)
	}
	// Other logins and tenants are not affected.
	if wait, _, _ := l.Check(ctx, "acme", "bob", ""); wait != 0 {
		t.Errorf("bob waits %v", wait)
	}
	if wait, _, _ := l.Check(ctx, "other", "alice", ""); wait != 0 {
		t.Errorf("alice of another tenant waits %v", wait)
	}
	// Forgotten after ResetAfter (12 h by default).
	e.clock.Advance(login.DefaultResetAfter)
	fail()
	fail()
	fail()
	check(time.Second)
	e.clock.Advance(time.Second)
	check(0)
	if err := l.Succeed(ctx, "acme", "alice", ""); err != nil {
		t.Fatal(err)
	}
	check(0) // a success forgets
	if err := l.Succeed(ctx, "acme", "alice", ""); err != nil {
		t.Fatal(err)
	}
}

// TestLimiterLockout: N failures lock the login until LockoutDuration has
// passed or an admin unlocks it; a lockout without a duration lasts until
// Unlock. Unknown logins lock the same way.
func TestLimiterLockout(t *testing.T) {
	for _, who := range []string{"alice", "nobody-by-this-name"} {
		t.Run(who, func(t *testing.T) {
			e := newEnv(t)
			l := &seq{l: &login.Limiter{Store: e.db, Now: e.clock.Now, LockoutThreshold: 5, LockoutDuration: time.Hour, MaxDelay: time.Second}, e: e}
			ctx := t.Context()
			failUntilLocked := func() int {
				t.Helper()
				for i := 1; i <= 20; i++ {
					wait, locked, err := l.Check(ctx, "acme", who, "")
					if err != nil {
						t.Fatal(err)
					}
					if locked {
						return i - 1
					}
					if wait > 0 {
						e.clock.Advance(wait)
						i--
						continue
					}
					if err := l.Fail(ctx, "acme", who, ""); err != nil {
						t.Fatal(err)
					}
				}
				t.Fatal("never locked")
				return 0
			}
			if n := failUntilLocked(); n != 5 {
				t.Fatalf("locked after %d failures, want 5", n)
			}
			e.clock.Advance(59 * time.Minute)
			if _, locked, _ := l.Check(ctx, "acme", who, ""); !locked {
				t.Fatal("lockout ended early")
			}
			e.clock.Advance(time.Minute)
			if wait, locked, _ := l.Check(ctx, "acme", who, ""); locked || wait != 0 {
				t.Fatalf("after the lockout: wait %v locked %v", wait, locked)
			}
			// The lockout's attempt failed; the count started again from it.
			if err := l.Fail(ctx, "acme", who, ""); err != nil {
				t.Fatal(err)
			}
			if n := failUntilLocked(); n != 4 {
				t.Fatalf("second lockout after %d more failures, want 4", n)
			}
			if who != "alice" {
				// No account to unlock: the counter of a name nobody has
				// only expires.
				if err := l.Unlock(ctx, "acme", who); !derrors.Is(err, derrors.NotFound) {
					t.Fatalf("Unlock of an unknown login: %v", err)
				}
				return
			}
			if err := l.Unlock(ctx, "acme", who); err != nil {
				t.Fatal(err)
			}
			if wait, locked, _ := l.Check(ctx, "acme", who, ""); locked || wait != 0 {
				t.Fatalf("after Unlock: wait %v locked %v", wait, locked)
			}

			// Until an admin unlocks.
			forever := &seq{l: &login.Limiter{Store: e.db, Now: e.clock.Now, LockoutThreshold: 3, LockoutDuration: -1, MaxDelay: time.Second}, e: e}
			l = forever
			if err := l.Unlock(ctx, "acme", who); err != nil {
				t.Fatal(err)
			}
			if n := failUntilLocked(); n != 3 {
				t.Fatalf("locked after %d, want 3", n)
			}
			e.clock.Advance(365 * 24 * time.Hour)
			if _, locked, _ := l.Check(ctx, "acme", who, ""); !locked {
				t.Fatal("a lockout without duration ended by itself")
			}
			if err := l.Unlock(ctx, "acme", who); err != nil {
				t.Fatal(err)
			}
			if _, locked, _ := l.Check(ctx, "acme", who, ""); locked {
				t.Fatal("Unlock did not lift the lockout")
			}
		})
	}
}

// TestLimiterClientIP: one address failing with many logins is slowed
// after IPFree failures; another address is not; a success never counts. IPv6 addresses of one /64 count together.
func TestLimiterClientIP(t *testing.T) {
	e := newEnv(t)
	l := &seq{l: &login.Limiter{Store: e.db, Now: e.clock.Now, IPFree: 4}}
	ctx := t.Context()
	for i := range 4 {
		u := "user" + string(rune('a'+i))
		if w, _, err := l.Check(ctx, "acme", u, "2001:db8::1"); w != 0 || err != nil {
			t.Fatalf("attempt %d: wait %v %v", i, w, err)
		}
		if err := l.Fail(ctx, "acme", u, "2001:db8::1"); err != nil {
			t.Fatal(err)
		}
	}
	if w, _, _ := l.Check(ctx, "acme", "fresh", "2001:db8::ffff"); w != time.Second {
		t.Fatalf("same /64, fresh login: wait %v, want 1s", w)
	}
	if w, _, _ := l.Check(ctx, "acme", "fresh", "192.0.2.1"); w != 0 {
		t.Fatalf("another address: wait %v", w)
	}
	if err := l.Succeed(ctx, "acme", "fresh", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if w, _, _ := l.Check(ctx, "acme", "fresh", "::ffff:192.0.2.1"); w != 0 {
		t.Fatalf("a success left a count on its address: wait %v", w)
	}
	// Unknown tenant: nothing to count, the failure is a NotFound.
	if _, _, err := l.Check(ctx, "ghost", "alice", "192.0.2.1"); err != nil {
		t.Fatalf("Check in a missing tenant: %v", err)
	}
	if err := l.Fail(ctx, "ghost", "alice", "192.0.2.1"); !derrors.Is(err, derrors.NotFound) {
		t.Fatalf("Fail in a missing tenant: %v", err)
	}
}

// TestBruteForcePages: the login page applies the limiter: 429 with
// Retry-After while waiting (the password is not even checked), a lockout
// after N failures that the right password does not pass, Unlock lifts it,
// and an unknown username gets exactly the same answers.
func TestBruteForcePages(t *testing.T) {
	e := newEnv(t, func(p *login.Pages) {
		p.Limiter = &login.Limiter{Store: p.Store, Now: p.Now, Log: p.Log, LockoutThreshold: 6, LockoutDuration: time.Hour, IPFree: 1000}
	})
	type answer struct {
		status int
		retry  string
		msg    string
	}
	run := func(username string) []answer {
		var out []answer
		b := e.browser()
		attempt := func(pass string) {
			res := b.login(t, "/t/acme/login", username, pass)
			a := answer{status: res.StatusCode, retry: res.Header.Get("Retry-After")}
			if p := find(parseHTML(t, res.Body), "p", "id", "form-error"); len(p) == 1 {
				i := strings.Index(res.Body, `id="form-error"`)
				a.msg = res.Body[i : i+strings.Index(res.Body[i:], "</p>")]
			}
			out = append(out, a)
		}
		for range 3 {
			attempt("wrong password")
		}
		attempt(password) // must wait 1 s: refused without a check
		e.clock.Advance(time.Second)
		attempt("wrong password")
		attempt("wrong password") // wait 2 s
		e.clock.Advance(2 * time.Second)
		attempt("wrong password")
		e.clock.Advance(4 * time.Second)
		attempt("wrong password") // the 6th failure: locked
		e.clock.Advance(8 * time.Second)
		attempt(password) // locked: the right password does not pass
		return out
	}
	want := []answer{
		{200, "", `id="form-error" class="error" role="alert">` + login.MsgBadLogin},
		{200, "", `id="form-error" class="error" role="alert">` + login.MsgBadLogin},
		{200, "", `id="form-error" class="error" role="alert">` + login.MsgBadLogin},
		{429, "1", `id="form-error" class="error" role="alert">There were too many failed sign-in attempts. Wait 1 second, then try again.`},
		{200, "", `id="form-error" class="error" role="alert">` + login.MsgBadLogin},
		{429, "2", `id="form-error" class="error" role="alert">There were too many failed sign-in attempts. Wait 2 seconds, then try again.`},
		{200, "", `id="form-error" class="error" role="alert">` + login.MsgBadLogin},
		{200, "", `id="form-error" class="error" role="alert">` + login.MsgBadLogin},
		{429, "", `id="form-error" class="error" role="alert">There were too many failed sign-in attempts with this username. Try again later, or ask your administrator to unlock it.`},
	}
	alice := run("alice")
	ghost := run("ghost")
	for i := range want {
		if alice[i] != want[i] {
			t.Errorf("alice, attempt %d: %+v\nwant %+v", i+1, alice[i], want[i])
		}
		if ghost[i] != alice[i] {
			t.Errorf("unknown user, attempt %d: %+v, alice got %+v", i+1, ghost[i], alice[i])
		}
	}
	// Issue 8 §7: the lock holds under the account's other names.
	for _, name := range []string{e.alice.Email, "ALICE"} {
		if res := e.browser().login(t, "/t/acme/login", name, password); res.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("locked alice signs in as %q with the right password: %d", name, res.StatusCode)
		}
	}
	// Log lines name the account by its pseudonym, never by the name typed.
	logs := e.logs.String()
	if !strings.Contains(logs, `"account"`) && !strings.Contains(logs, "account=") {
		t.Error("refused logins are logged without the account's pseudonym")
	}
	if strings.Contains(logs, "ghost") || strings.Contains(logs, e.alice.Email) {
		t.Error("a log line names the login as typed")
	}
	// The admin lifts alice's lockout: the right password works.
	if err := e.pages.Limiter.UnlockUser(t.Context(), "acme", e.alice.ID); err != nil {
		t.Fatal(err)
	}
	if res := e.browser().login(t, "/t/acme/login", "alice", password); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("after Unlock: %d", res.StatusCode)
	}
	if !strings.Contains(e.logs.String(), "login locked out") {
		t.Error("the lockout is not logged")
	}
}

// TestBruteForceParallelPages: many simultaneous guesses at the login page
// get no more password checks than the free ones.
func TestBruteForceParallelPages(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	form := formValues(t, b.get(t, "/t/acme/login").Body)
	form.Set("username", "alice")
	form.Set("password", "guess")
	const n = 12
	statuses := make(chan int, n)
	for range n {
		go func() {
			req := newFormRequest("/t/acme/login", form)
			req.AddCookie(b.cookies["__Host-gatehouse-csrf"])
			req.RemoteAddr = "198.51.100.7:1000"
			rec := newRecorder()
			e.mux.ServeHTTP(rec, req)
			statuses <- rec.Code
		}()
	}
	checked := 0
	for range n {
		if <-statuses == http.StatusOK {
			checked++
		}
	}
	if checked != login.DefaultFree {
		t.Fatalf("%d of %d parallel guesses were checked, want %d", checked, n, login.DefaultFree)
	}
}

func TestClientIP(t *testing.T) {
	trusted, err := login.ParseTrustedProxies([]string{"10.0.0.0/8", "192.0.2.7", "", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		remote, xff string
		trusted     bool
		want        string
	}{
		{"198.51.100.1:1234", "", true, "198.51.100.1"},
		{"198.51.100.1:1234", "203.0.113.9", true, "198.51.100.1"}, // untrusted peer: XFF ignored
		{"10.1.2.3:1234", "203.0.113.9", false, "10.1.2.3"},        // no trusted proxies configured
		{"10.1.2.3:1234", "203.0.113.9", true, "203.0.113.9"},
		{"10.1.2.3:1234", "1.1.1.1, 203.0.113.9, 10.9.9.9", true, "203.0.113.9"}, // right-most untrusted
		{"192.0.2.7:80", "spoofed, 203.0.113.9", true, "203.0.113.9"},
		{"192.0.2.7:80", "203.0.113.9, garbage", true, "192.0.2.7"}, // unparsable hop: stop at the proxy
		{"10.1.2.3:1234", "10.2.2.2", true, "10.2.2.2"},             // every hop trusted: the left-most
		{"[2001:db8::1]:443", "198.51.100.4", true, "198.51.100.4"},
		{"[::ffff:198.51.100.1]:1", "", true, "198.51.100.1"},
		{"pipe", "203.0.113.9", true, "pipe"},
	} {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		var tr []netip.Prefix
		if c.trusted {
			tr = trusted
		}
		if got := login.ClientIP(r, tr); got != c.want {
			t.Errorf("ClientIP(%s, XFF %q, trusted %v) = %q, want %q", c.remote, c.xff, c.trusted, got, c.want)
		}
	}
	if _, err := login.ParseTrustedProxies([]string{"10.0.0.0/33"}); err == nil {
		t.Error("bad prefix accepted")
	}
	if got := login.IPSubject("2001:db8:1:2:3:4:5:6"); got != "ip:2001:db8:1:2::/64" {
		t.Errorf("IPSubject(v6) = %q", got)
	}
	if got := login.IPSubject("::ffff:192.0.2.1"); got != "ip:192.0.2.1" {
		t.Errorf("IPSubject(4in6) = %q", got)
	}

}

// TestRealServer runs the pages on a real TLS server with a cookie jar, as a
// browser-less client would: the __Host- cookies round-trip.
func TestRealServer(t *testing.T) {
	e, srv := newTLSEnv(t)
	client := srv.Client()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client.Jar = jar
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req := e.request(t, "acme", e.thirdParty)
	res, err := client.Get(srv.URL + "/t/acme/login?request=" + url.QueryEscape(req.ID))
	if err == nil && setCookie(&response{Response: res}, "__Host-gatehouse-csrf") == nil {
		t.Error("no __Host- nonce cookie")
	}
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, res)
	form := formValues(t, body)
	form.Set("username", "alice")
	form.Set("password", password)
	res, err = client.PostForm(srv.URL+formAction(t, body), form)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, res)
	if res.StatusCode != http.StatusSeeOther || !strings.HasSuffix(res.Header.Get("Location"), "/t/acme/oauth/authorize/resume?request="+url.QueryEscape(req.ID)) {
		t.Fatalf("login: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	// The jar now holds the session: the consent page shows.
	res, err = client.Get(srv.URL + "/t/acme/consent?request=" + url.QueryEscape(req.ID))
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, res); res.StatusCode != http.StatusOK || !strings.Contains(body, "Partner_Portal") {
		t.Fatalf("consent: %d", res.StatusCode)
	}
}

// FuzzClientIP: any RemoteAddr and X-Forwarded-For give the peer or an
// address, never a panic; an untrusted peer is always the answer.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:80", "203.0.113.9, 10.0.0.2")
	f.Add("[::1]:1", "::ffff:1.2.3.4,,,")
	f.Add("garbage", "%%%")
	trusted, _ := login.ParseTrustedProxies([]string{"10.0.0.0/8", "::1"})
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		got := login.ClientIP(r, trusted)
		plain := login.ClientIP(r, nil)
		if a, err := netip.ParseAddr(plain); err == nil && !a.Unmap().IsLoopback() && !netip.MustParsePrefix("10.0.0.0/8").Contains(a.Unmap()) && got != plain {
			t.Fatalf("untrusted peer %q: got %q, want %q", remote, got, plain)
		}
		if got != plain {
			if _, err := netip.ParseAddr(got); err != nil {
				t.Fatalf("ClientIP = %q, not an address", got)
			}
		}
	})
}

// seq drives a Limiter one attempt at a time, for the tests of its rules:
// Check gives the attempt's turn back at once, Fail and Succeed finish the
// last attempt Check let through.
type seq struct {
	l    *login.Limiter
	e    *env // for Unlock: the user a login names
	last *login.Attempt
}

func (s *seq) Check(ctx context.Context, tenantID, who, ip string) (time.Duration, bool, error) {
	a, wait, locked, err := s.l.Check(ctx, tenantID, who, ip)
	if err == nil {
		a.Done()
		if wait == 0 && !locked {
			s.last = a
		}
	}
	return wait, locked, err
}

func (s *seq) Fail(ctx context.Context, _, _, _ string) error    { return s.last.Fail(ctx) }
func (s *seq) Succeed(ctx context.Context, _, _, _ string) error { return s.last.Succeed(ctx) }

// Unlock unlocks the user a login names; an unknown login has no account
// to unlock, and its counter only expires.
func (s *seq) Unlock(ctx context.Context, tenantID, who string) error {
	u, err := s.e.db.GetUserByLogin(ctx, tenantID, who)
	if err != nil {
		return err
	}
	return s.l.UnlockUser(ctx, tenantID, u.ID)
}

// Issue 8 §7: the counters are keyed by an HMAC under the server's key, not
// a plain hash of the typed login (a password typed into the username field
// would be recoverable by dictionary): a limiter with another key counts
// apart, and no row is keyed by the login's SHA-256.
func TestLimiterKeys(t *testing.T) {
	e := newEnv(t)
	one := &seq{l: &login.Limiter{Store: e.db, Now: e.clock.Now, Key: []byte("key one")}}
	two := &seq{l: &login.Limiter{Store: e.db, Now: e.clock.Now, Key: []byte("key two")}}
	ctx := t.Context()
	for range 3 {
		if _, _, err := one.Check(ctx, "acme", "Tr0ub4dor&3", ""); err != nil {
			t.Fatal(err)
		}
		if err := one.Fail(ctx, "acme", "", ""); err != nil {
			t.Fatal(err)
		}
	}
	if w, _, _ := one.Check(ctx, "acme", "TR0UB4DOR&3", ""); w != time.Second {
		t.Fatalf("the same login, folded: wait %v, want 1s", w)
	}
	if w, _, _ := two.Check(ctx, "acme", "Tr0ub4dor&3", ""); w != 0 {
		t.Fatalf("a limiter with another key shares the counter: wait %v", w)
	}
	plain := sha256.Sum256([]byte("tr0ub4dor&3"))
	if n, _, err := e.db.GetLoginFailures(ctx, "acme", "login:"+hex.EncodeToString(plain[:])); err != nil || n != 0 {
		t.Fatalf("a counter keyed by the login's plain SHA-256: %d %v", n, err)
	}
}

// Issue 8 §7: a locked account stays locked whichever name the user types:
// username, email, in any case.
func TestLimiterAccountLock(t *testing.T) {
	e := newEnv(t)
	l := &seq{l: &login.Limiter{Store: e.db, Now: e.clock.Now, Free: 10, LockoutThreshold: 3}, e: e}
	ctx := t.Context()
	for _, name := range []string{"alice", e.alice.Email, "ALICE"} {
		if _, locked, err := l.Check(ctx, "acme", name, ""); err != nil || locked {
			t.Fatalf("%s: locked %v %v", name, locked, err)
		}
		if err := l.Fail(ctx, "acme", "", ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"alice", e.alice.Email, strings.ToUpper(e.alice.Email)} {
		if _, locked, _ := l.Check(ctx, "acme", name, ""); !locked {
			t.Fatalf("the account is locked, but not for %q", name)
		}
	}
	if _, locked, _ := l.Check(ctx, "acme", "bob", ""); locked {
		t.Fatal("another account is locked")
	}
}

// parallelLogins posts the login form for each username (password pw) at
// once, `at` a time, all from one client address, and returns the
// statuses: 303 is a sign-in, 200 the form again (a wrong password), 429 a
// delay or lockout.
func parallelLogins(t *testing.T, e *env, users []string, pw string, at int) map[int]int {
	t.Helper()
	b := e.browser()
	base := formValues(t, b.get(t, "/t/acme/login").Body)
	statuses := make(chan int, len(users))
	sem := make(chan struct{}, at)
	for _, name := range users {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			form := url.Values{}
			for k, v := range base {
				form[k] = v
			}
			form.Set("username", name)
			form.Set("password", pw)
			req := newFormRequest("/t/acme/login", form)
			req.AddCookie(b.cookies["__Host-gatehouse-csrf"])
			req.RemoteAddr = "198.51.100.7:1000"
			rec := newRecorder()
			e.mux.ServeHTTP(rec, req)
			statuses <- rec.Code
		}()
	}
	got := map[int]int{}
	for range users {
		got[<-statuses]++
	}
	return got
}

// Issue 8 §2: honest users are never throttled. 100 distinct users sign in
// at once from one address (an office behind NAT), and one user signs in
// 5 times at once and 200 times 4 at a time: every sign-in succeeds.
func TestHonestUsersNeverThrottled(t *testing.T) {
	e := newEnv(t)
	var office []string
	for i := range 100 {
		office = append(office, mkUser(t, e.users, "acme", "staff"+strconv.Itoa(i)).Username)
	}
	if got := parallelLogins(t, e, office, password, 100); got[http.StatusSeeOther] != 100 {
		t.Fatalf("100 users from one address at once: %v, want 100 × 303", got)
	}
	same := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "alice"
		}
		return out
	}
	if got := parallelLogins(t, e, same(5), password, 5); got[http.StatusSeeOther] != 5 {
		t.Fatalf("5 sign-ins of one user at once: %v, want 5 × 303", got)
	}
	if got := parallelLogins(t, e, same(200), password, 4); got[http.StatusSeeOther] != 200 {
		t.Fatalf("200 sign-ins of one user 4 at a time: %v, want 200 × 303", got)
	}
}

// Issue 8 §2: parallel guessing stays bounded. 1,000 wrong guesses of one
// account at once: no more are checked than the lockout threshold, the
// account is then locked, and the right password does not pass.
func TestParallelGuessesLock(t *testing.T) {
	e := newEnv(t, func(p *login.Pages) {
		// Free up to the threshold: no delay comes first, so the burst
		// runs into the lockout itself.
		p.Limiter = &login.Limiter{Store: p.Store, Now: p.Now, Log: p.Log, Free: 10, LockoutThreshold: 10, LockoutDuration: time.Hour, IPFree: 100000}
	})
	guesses := make([]string, 1000)
	for i := range guesses {
		guesses[i] = "alice"
	}
	got := parallelLogins(t, e, guesses, "wrong password", 1000)
	t.Logf("1000 parallel wrong guesses: %v (200 = checked and refused, 429 = not checked)", got)
	if got[http.StatusOK] > 10 || got[http.StatusOK]+got[http.StatusTooManyRequests] != 1000 {
		t.Fatalf("1000 parallel guesses: %v, want at most 10 checked (200) and the rest refused (429)", got)
	}
	if got := parallelLogins(t, e, []string{"alice"}, password, 1); got[http.StatusTooManyRequests] != 1 {
		t.Fatalf("the right password after the burst: %v, want 429 (locked)", got)
	}
}
