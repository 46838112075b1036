package app_test

import (
	"context"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/seal"
)

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func TestRandomString(t *testing.T) {
	for _, n := range []int{0, 1, 12, app.ClientIDLength, 100} {
		s := app.RandomString(n)
		if len(s) != n {
			t.Errorf("RandomString(%d) has length %d", n, len(s))
		}
		if i := strings.IndexFunc(s, func(r rune) bool { return !strings.ContainsRune(alphabet, r) }); i >= 0 {
			t.Errorf("RandomString(%d) = %q: %q is not a letter or digit", n, s, s[i])
		}
	}
	// Client IDs must not repeat (R-APP-4).
	seen := map[string]bool{}
	for range 10000 {
		s := app.RandomString(app.ClientIDLength)
		if seen[s] {
			t.Fatalf("RandomString repeated %q", s)
		}
		seen[s] = true
	}
}

// TestRandomStringUniform draws 124,000 characters and checks with a
// chi-squared test that every character is about equally likely. Plain
// modulo reduction of a byte (the classic bias) gives a statistic near 900;
// a uniform source stays near 61 and exceeds the bound of 150 with
// probability below 1e-9.
func TestRandomStringUniform(t *testing.T) {
	const perChar = 2000
	counts := map[rune]int{}
	for range perChar {
		for _, r := range app.RandomString(len(alphabet)) {
			counts[r]++
		}
	}
	if len(counts) != len(alphabet) {
		t.Fatalf("saw %d distinct characters, want %d", len(counts), len(alphabet))
	}
	chi2 := 0.0
	for _, r := range alphabet {
		d := float64(counts[r] - perChar)
		chi2 += d * d / perChar
	}
	if chi2 > 150 || math.IsNaN(chi2) {
		t.Errorf("chi-squared = %.1f over %d characters, want < 150 (61 degrees of freedom): counts %v", chi2, len(alphabet)*perChar, counts)
	}
}

// fakeStore keeps apps and secrets in memory, enough for Service's rules.
// Methods it does not implement panic through the nil embedded Store.
type fakeStore struct {
	app.Store
	mu        sync.Mutex
	apps      map[string]app.App
	secrets   map[string][]app.Secret
	conflicts int // CreateApp reports this many client_id clashes first; -1: always
}

func newFakeStore() *fakeStore {
	return &fakeStore{apps: map[string]app.App{}, secrets: map[string][]app.Secret{}}
}

func key(tenantID, clientID string) string { return tenantID + "/" + clientID }

func (s *fakeStore) CreateApp(_ context.Context, tenantID string, a *app.App, sec *app.Secret, _ int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conflicts != 0 {
		if s.conflicts > 0 {
			s.conflicts--
		}
		return derrors.Conflictf("client_id", "taken")
	}
	k := key(tenantID, a.ClientID)
	s.apps[k] = *a
	if sec != nil {
		s.secrets[k] = []app.Secret{*sec}
	}
	return nil
}

func (s *fakeStore) GetApp(_ context.Context, tenantID, clientID string) (*app.App, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[key(tenantID, clientID)]
	if !ok {
		return nil, derrors.NotFoundf("application not found")
	}
	return &a, nil
}

func (s *fakeStore) GetClient(ctx context.Context, tenantID, clientID string) (*app.App, []app.Secret, error) {
	a, err := s.GetApp(ctx, tenantID, clientID)
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return a, append([]app.Secret(nil), s.secrets[key(tenantID, clientID)]...), nil
}

func (s *fakeStore) UpdateApp(_ context.Context, tenantID string, a *app.App) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[key(tenantID, a.ClientID)] = *a
	return nil
}

func (s *fakeStore) RotateSecret(_ context.Context, tenantID, clientID string, sec *app.Secret, oldExpiry time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(tenantID, clientID)
	var kept []app.Secret
	for _, old := range s.secrets[k] {
		if oldExpiry.IsZero() {
			continue
		}
		if old.ExpiresAt.IsZero() || old.ExpiresAt.After(oldExpiry) {
			old.ExpiresAt = oldExpiry
		}
		kept = append(kept, old)
	}
	s.secrets[k] = append(kept, *sec)
	return nil
}

// countingHasher is the real seal.Ring, counting the HMACs it computes: every
// HashSecret, and every VerifySecret whose stored hash the ring can check.
type countingHasher struct {
	ring *seal.Ring
	mu   sync.Mutex
	macs int
}

func (h *countingHasher) HashSecret(secret string) string {
	h.mu.Lock()
	h.macs++
	h.mu.Unlock()
	return h.ring.HashSecret(secret)
}

func (h *countingHasher) VerifySecret(stored, secret string) bool {
	if strings.HasPrefix(stored, h.ring.KeyID()+".") && len(stored) == 16+1+64 {
		h.mu.Lock()
		h.macs++
		h.mu.Unlock()
	}
	return h.ring.VerifySecret(stored, secret)
}

func (h *countingHasher) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.macs
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	svc    *app.Service
	store  *fakeStore
	hasher *countingHasher
	clock  *clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ring, err := seal.NewRing([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		store:  newFakeStore(),
		hasher: &countingHasher{ring: ring},
		clock:  &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))},
	}
	f.svc = &app.Service{Store: f.store, Hasher: f.hasher, Limits: app.DefaultLimits, Now: f.clock.Now}
	return f
}

const tenantID = "acme"

var ctx = context.Background()

func (f *fixture) create(t *testing.T, a *app.App, so app.SecretOptions) *app.Created {
	t.Helper()
	c, err := f.svc.Create(ctx, tenantID, a, so)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return c
}

// authOK reports whether Authenticate accepts the secret; any failure must be
// the one Unauthenticated error.
func (f *fixture) authOK(t *testing.T, clientID, secret string) bool {
	t.Helper()
	a, err := f.svc.Authenticate(ctx, tenantID, clientID, secret)
	if err == nil {
		if a == nil || a.ClientID != clientID {
			t.Fatalf("Authenticate(%q) returned app %+v", clientID, a)
		}
		return true
	}
	if !derrors.Is(err, derrors.Unauthenticated) {
		t.Fatalf("Authenticate(%q) failed with %v (kind %d), want Unauthenticated", clientID, err, derrors.KindOf(err))
	}
	return false
}

func TestCreateRefusesCallerClientID(t *testing.T) {
	f := newFixture(t)
	a := webApp()
	a.ClientID = "myChosenClientId"
	_, err := f.svc.Create(ctx, tenantID, a, app.SecretOptions{})
	checkErr(t, err, invalid("client_id"))
	if len(f.store.apps) != 0 {
		t.Errorf("store holds %d apps, want none", len(f.store.apps))
	}
}

func TestCreate(t *testing.T) {
	tests := []struct {
		name      string
		app       *app.App
		secretLen int
		wantLen   int // 0: public client, no secret
	}{
		{"spa", spaApp(), 16, 0},
		{"native", nativeApp(), 16, 0},
		{"web oidc", webApp(), 16, 16},
		{"web saml", samlApp(), 16, 0},
		{"web wsfed", wsfedApp(), 16, 0},
		{"s2s", s2sApp(), 16, 16},
		{"s2s longer secret", s2sApp(), 40, 40},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.svc.Limits.SecretLength = tc.secretLen
			c := f.create(t, tc.app, app.SecretOptions{})
			id := c.App.ClientID
			if len(id) != app.ClientIDLength || strings.Trim(id, alphabet) != "" {
				t.Errorf("client_id %q: want %d letters and digits", id, app.ClientIDLength)
			}
			if got, want := c.App.CreatedAt, f.clock.Now().UTC(); !got.Equal(want) || got.Location() != time.UTC {
				t.Errorf("CreatedAt = %v, want %v in UTC", got, want)
			}
			if len(c.ClientSecret) != tc.wantLen || strings.Trim(c.ClientSecret, alphabet) != "" {
				t.Errorf("secret %q: want %d letters and digits", c.ClientSecret, tc.wantLen)
			}
			stored := f.store.secrets[key(tenantID, id)]
			if tc.wantLen == 0 {
				if len(stored) != 0 {
					t.Errorf("public client has %d stored secrets", len(stored))
				}
				if f.authOK(t, id, "") {
					t.Error("a public client authenticated with a client secret")
				}
				return
			}
			if len(stored) != 1 {
				t.Fatalf("stored %d secrets, want 1", len(stored))
			}
			if strings.Contains(stored[0].Hash, c.ClientSecret) {
				t.Errorf("stored hash %q contains the secret", stored[0].Hash)
			}
			if !f.authOK(t, id, c.ClientSecret) {
				t.Error("the new secret does not authenticate")
			}
		})
	}
}

func TestCreateInvalidAppIsNotStored(t *testing.T) {
	f := newFixture(t)
	a := with(webApp(), func(a *app.App) { a.Name = "no spaces allowed" })
	_, err := f.svc.Create(ctx, tenantID, a, app.SecretOptions{})
	checkErr(t, err, invalid("name"))
	if len(f.store.apps) != 0 || a.ClientID != "" {
		t.Errorf("invalid app stored (%d apps) or given client_id %q", len(f.store.apps), a.ClientID)
	}
}

func TestCreateRetriesClientIDClash(t *testing.T) {
	f := newFixture(t)
	f.store.conflicts = 1
	c := f.create(t, webApp(), app.SecretOptions{})
	if _, ok := f.store.apps[key(tenantID, c.App.ClientID)]; !ok {
		t.Errorf("app stored under another client_id than %q", c.App.ClientID)
	}

	// A store that always clashes ends in an error, not a loop.
	f = newFixture(t)
	f.store.conflicts = -1
	a := webApp()
	_, err := f.svc.Create(ctx, tenantID, a, app.SecretOptions{})
	checkErr(t, err, want{derrors.Conflict, "client_id"})
	if a.ClientID != "" {
		t.Errorf("failed Create left client_id %q on the app", a.ClientID)
	}
}

func TestCreateSecretExpiry(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	_, err := f.svc.Create(ctx, tenantID, webApp(), app.SecretOptions{ExpiresAt: now})
	checkErr(t, err, invalid("client_secret_expires_at"))
	_, err = f.svc.Create(ctx, tenantID, webApp(), app.SecretOptions{ExpiresAt: now.Add(-time.Hour)})
	checkErr(t, err, invalid("client_secret_expires_at"))
	_, err = f.svc.Create(ctx, tenantID, spaApp(), app.SecretOptions{ExpiresAt: now.Add(time.Hour)})
	checkErr(t, err, invalid("client_secret_expires_at"))

	exp := now.Add(24 * time.Hour)
	c := f.create(t, s2sApp(), app.SecretOptions{ExpiresAt: exp})
	if !c.SecretExpiresAt.Equal(exp) {
		t.Errorf("SecretExpiresAt = %v, want %v", c.SecretExpiresAt, exp)
	}
	f.clock.Advance(24*time.Hour - time.Second)
	if !f.authOK(t, c.App.ClientID, c.ClientSecret) {
		t.Error("secret rejected before it expired")
	}
	f.clock.Advance(time.Second)
	if f.authOK(t, c.App.ClientID, c.ClientSecret) {
		t.Error("expired secret accepted")
	}
}

func TestAuthenticateFailuresLookAlike(t *testing.T) {
	f := newFixture(t)
	web := f.create(t, webApp(), app.SecretOptions{})
	spa := f.create(t, spaApp(), app.SecretOptions{})
	expiring := f.create(t, s2sApp(), app.SecretOptions{ExpiresAt: f.clock.Now().Add(time.Minute)})
	f.clock.Advance(time.Hour)

	var first error
	for _, tc := range []struct{ name, tenant, clientID, secret string }{
		{"wrong secret", tenantID, web.App.ClientID, web.ClientSecret[:15] + "x"},
		{"empty secret", tenantID, web.App.ClientID, ""},
		{"secret of another client", tenantID, web.App.ClientID, expiring.ClientSecret},
		{"unknown client", tenantID, "AAAAAAAAAAAAAAAA", web.ClientSecret},
		{"empty client", tenantID, "", web.ClientSecret},
		{"other tenant", "other", web.App.ClientID, web.ClientSecret},
		{"public client", tenantID, spa.App.ClientID, "anything"},
		{"expired secret", tenantID, expiring.App.ClientID, expiring.ClientSecret},
	} {
		a, err := f.svc.Authenticate(ctx, tc.tenant, tc.clientID, tc.secret)
		if err == nil || a != nil {
			t.Errorf("%s: authenticated (app %v, err %v)", tc.name, a, err)
			continue
		}
		if first == nil {
			first = err
		}
		if !derrors.Is(err, derrors.Unauthenticated) || err.Error() != first.Error() {
			t.Errorf("%s: got %q (kind %d), want the same Unauthenticated error as every other failure (%q)", tc.name, err, derrors.KindOf(err), first)
		}
	}
	if !f.authOK(t, web.App.ClientID, web.ClientSecret) {
		t.Error("right secret rejected")
	}
}

// An unknown client ID must cost the same secret check as a known one, or the
// response time tells which client IDs exist.
func TestAuthenticateUnknownClientSpendsAHash(t *testing.T) {
	f := newFixture(t)
	web := f.create(t, webApp(), app.SecretOptions{})

	count := func(clientID string) int {
		before := f.hasher.count()
		if f.authOK(t, clientID, "wrong-secret") {
			t.Fatal("wrong secret accepted")
		}
		return f.hasher.count() - before
	}
	known, unknown := count(web.App.ClientID), count("AAAAAAAAAAAAAAAA")
	if known != 1 || unknown != known {
		t.Errorf("HMACs computed: %d for a known client, %d for an unknown one; want 1 each", known, unknown)
	}
}

// spa and native apps have no secret (R-APP-5): even a secret row left in
// the store (by an old bug or a hand edit) must not authenticate them.
func TestAuthenticatePublicClientIgnoresStoredSecret(t *testing.T) {
	f := newFixture(t)
	for _, a := range []*app.App{spaApp(), nativeApp()} {
		c := f.create(t, a, app.SecretOptions{})
		k := key(tenantID, c.App.ClientID)
		f.store.secrets[k] = []app.Secret{{ID: "stale", Hash: f.hasher.ring.HashSecret("leftover")}}
		if f.authOK(t, c.App.ClientID, "leftover") {
			t.Errorf("%s app authenticated with a client secret", a.Type)
		}
	}
}

func TestRotateSecret(t *testing.T) {
	tests := []struct {
		name       string
		grace      time.Duration
		oldValidAt []time.Duration // offsets after rotation where the old secret works
		oldDeadAt  []time.Duration // ... and where it no longer does
	}{
		{"no grace", 0, nil, []time.Duration{0, time.Hour}},
		{"one hour grace", time.Hour, []time.Duration{0, 59 * time.Minute}, []time.Duration{time.Hour, 48 * time.Hour}},
		{"90 days grace", 90 * 24 * time.Hour, []time.Duration{89 * 24 * time.Hour}, []time.Duration{90 * 24 * time.Hour}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			c := f.create(t, webApp(), app.SecretOptions{})
			id, oldSecret := c.App.ClientID, c.ClientSecret
			start := f.clock.Now()

			r, err := f.svc.RotateSecret(ctx, tenantID, id, app.SecretOptions{Grace: tc.grace})
			if err != nil {
				t.Fatal(err)
			}
			if r.ClientSecret == oldSecret || len(r.ClientSecret) != 16 {
				t.Fatalf("rotated secret %q: want a new 16-character secret", r.ClientSecret)
			}
			at := func(d time.Duration) { f.clock.Set(start.Add(d)) }
			for _, d := range tc.oldValidAt {
				at(d)
				if !f.authOK(t, id, oldSecret) {
					t.Errorf("old secret rejected %v after rotation, within the grace period", d)
				}
			}
			for _, d := range tc.oldDeadAt {
				at(d)
				if f.authOK(t, id, oldSecret) {
					t.Errorf("old secret accepted %v after rotation", d)
				}
			}
			for _, d := range append(tc.oldValidAt, tc.oldDeadAt...) {
				at(d)
				if !f.authOK(t, id, r.ClientSecret) {
					t.Errorf("new secret rejected %v after rotation", d)
				}
			}
		})
	}
}

func TestRotateSecretRules(t *testing.T) {
	f := newFixture(t)
	web := f.create(t, webApp(), app.SecretOptions{})
	spa := f.create(t, spaApp(), app.SecretOptions{})
	now := f.clock.Now()
	for _, tc := range []struct {
		name     string
		clientID string
		so       app.SecretOptions
		want     want
	}{
		{"public client", spa.App.ClientID, app.SecretOptions{}, invalid("client_id")},
		{"unknown client", "AAAAAAAAAAAAAAAA", app.SecretOptions{}, want{derrors.NotFound, ""}},
		{"negative grace", web.App.ClientID, app.SecretOptions{Grace: -time.Second}, invalid("grace_period")},
		{"grace over 90 days", web.App.ClientID, app.SecretOptions{Grace: 90*24*time.Hour + time.Second}, invalid("grace_period")},
		{"expiry in the past", web.App.ClientID, app.SecretOptions{ExpiresAt: now.Add(-time.Second)}, invalid("client_secret_expires_at")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.RotateSecret(ctx, tenantID, tc.clientID, tc.so)
			checkErr(t, err, tc.want)
		})
	}
	// None of the refused rotations touched the secret.
	if !f.authOK(t, web.App.ClientID, web.ClientSecret) {
		t.Error("a refused rotation invalidated the current secret")
	}

	// A rotated secret can carry its own expiry.
	r, err := f.svc.RotateSecret(ctx, tenantID, web.App.ClientID, app.SecretOptions{ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour)
	if f.authOK(t, web.App.ClientID, r.ClientSecret) {
		t.Error("rotated secret accepted after its expiry")
	}
}

func TestUpdateKeepsTypeAndClientKind(t *testing.T) {
	f := newFixture(t)
	web := f.create(t, webApp(), app.SecretOptions{})
	id := web.App.ClientID

	toSPA := with(spaApp(), func(a *app.App) { a.ClientID = id })
	_, err := f.svc.Update(ctx, tenantID, toSPA)
	checkErr(t, err, invalid("type"))

	// web+oidc is confidential, web+saml is not: the secret would dangle.
	toSAML := with(samlApp(), func(a *app.App) { a.ClientID = id })
	_, err = f.svc.Update(ctx, tenantID, toSAML)
	checkErr(t, err, invalid("protocol"))

	renamed := with(webApp(), func(a *app.App) { a.ClientID, a.Type, a.Name = id, "", "Portal_2" })
	f.clock.Advance(time.Minute)
	got, err := f.svc.Update(ctx, tenantID, renamed)
	if err != nil {
		t.Fatal(err)
	}
	if got.Type != app.Web || got.Name != "Portal_2" || !got.CreatedAt.Equal(web.App.CreatedAt) || !got.UpdatedAt.After(got.CreatedAt) {
		t.Errorf("updated app: type %q name %q created %v updated %v", got.Type, got.Name, got.CreatedAt, got.UpdatedAt)
	}
	if !f.authOK(t, id, web.ClientSecret) {
		t.Error("update invalidated the client secret")
	}
}

func TestConfidential(t *testing.T) {
	for _, tc := range []struct {
		app  *app.App
		want bool
	}{
		{spaApp(), false},
		{nativeApp(), false},
		{webApp(), true},
		{samlApp(), false},
		{wsfedApp(), false},
		{s2sApp(), true},
	} {
		if err := tc.app.Validate(10); err != nil {
			t.Fatal(err)
		}
		if got := tc.app.Confidential(); got != tc.want {
			t.Errorf("%s/%s: Confidential() = %v, want %v", tc.app.Type, tc.app.Protocol, got, tc.want)
		}
	}
}

func TestSecretValid(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		expires time.Time
		want    bool
	}{
		{time.Time{}, true},
		{now.Add(time.Nanosecond), true},
		{now, false},
		{now.Add(-time.Hour), false},
	} {
		s := app.Secret{ExpiresAt: tc.expires}
		if got := s.Valid(now); got != tc.want {
			t.Errorf("secret expiring %v: Valid(%v) = %v, want %v", tc.expires, now, got, tc.want)
		}
	}
}
