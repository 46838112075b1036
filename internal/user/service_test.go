package user_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 10000 {
		id := user.NewID()
		if len(id) != user.IDLength || strings.Trim(id, alphabet) != "" {
			t.Fatalf("NewID() = %q: want %d letters and digits", id, user.IDLength)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
	}
}

// fakeStore keeps users and roles in memory, enough for Service's rules.
// Methods it does not implement panic through the nil embedded Store.
type fakeStore struct {
	user.Store
	mu        sync.Mutex
	users     map[string]user.User
	roles     map[string]user.Role
	conflicts int // CreateUser reports this many ID clashes first
}

func newFake() *fakeStore {
	return &fakeStore{users: map[string]user.User{}, roles: map[string]user.Role{}}
}

func (f *fakeStore) CreateUser(_ context.Context, _ string, u *user.User) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conflicts > 0 {
		f.conflicts--
		return derrors.Conflictf("id", "clash")
	}
	for _, o := range f.users {
		if user.Fold(o.Username) == user.Fold(u.Username) {
			return derrors.Conflictf("username", "taken")
		}
	}
	f.users[u.ID] = *u
	return nil
}

func (f *fakeStore) GetUser(_ context.Context, _, id string) (*user.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[id]
	if !ok {
		return nil, derrors.NotFoundf("no user")
	}
	return &u, nil
}

func (f *fakeStore) UpdateUser(_ context.Context, _ string, u *user.User) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	cur := f.users[u.ID]
	cur.Username, cur.Email, cur.GivenName, cur.UpdatedAt = u.Username, u.Email, u.GivenName, u.UpdatedAt
	f.users[u.ID] = cur
	return nil
}

func (f *fakeStore) SetPassword(_ context.Context, _, id, hash string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[id]
	if !ok {
		return derrors.NotFoundf("no user")
	}
	u.PasswordHash, u.PasswordChangedAt = hash, at
	f.users[id] = u
	return nil
}

func (f *fakeStore) GetUserByLogin(_ context.Context, _, login string) (*user.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range f.users {
		if user.Fold(u.Username) == user.Fold(login) {
			return &u, nil
		}
	}
	return nil, derrors.NotFoundf("no user")
}

func (f *fakeStore) CreateRole(_ context.Context, _ string, r *user.Role) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.roles[r.Name] = *r
	return nil
}

func (f *fakeStore) GetRole(_ context.Context, _, name string) (*user.Role, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.roles[name]
	if !ok {
		return nil, derrors.NotFoundf("no role")
	}
	return &r, nil
}

func (f *fakeStore) UpdateRole(_ context.Context, _, name string, r *user.Role) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.roles, name)
	f.roles[r.Name] = *r
	return nil
}

func (f *fakeStore) ListUsers(context.Context, string, tenant.Page) ([]*user.User, error) {
	return nil, errors.New("not used")
}

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func newService(f *fakeStore) *user.Service {
	return &user.Service{Store: f, Params: user.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, Now: func() time.Time { return t0 }}
}

func TestServiceCreate(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	s := newService(f)

	_, err := s.Create(ctx, "acme", &user.User{ID: "chosen", Username: "a", Email: "a@example.com"}, "")
	checkField(t, err, "id")
	_, err = s.Create(ctx, "acme", &user.User{Username: "bad name", Email: "a@example.com"}, "")
	checkField(t, err, "username")
	_, err = s.Create(ctx, "acme", &user.User{Username: "a", Email: "a@example.com"}, "short")
	checkField(t, err, "password")
	if len(f.users) != 0 {
		t.Fatalf("refused creates stored %d users", len(f.users))
	}

	f.conflicts = 2 // two ID clashes, then success
	u, err := s.Create(ctx, "acme", &user.User{Username: "alice", Email: "alice@example.com"}, "long enough")
	if err != nil {
		t.Fatal(err)
	}
	if len(u.ID) != user.IDLength || u.State != user.Active || !u.CreatedAt.Equal(t0) || !u.PasswordChangedAt.Equal(t0) {
		t.Errorf("created %+v", u)
	}
	if ok, _, err := user.VerifyPassword(f.users[u.ID].PasswordHash, "long enough", s.Params); !ok || err != nil {
		t.Errorf("stored hash does not verify: %v", err)
	}
	if strings.Contains(f.users[u.ID].PasswordHash, "long enough") {
		t.Error("the stored hash holds the password")
	}
	noPw, err := s.Create(ctx, "acme", &user.User{Username: "bob", Email: "bob@example.com", State: user.Blocked}, "")
	if err != nil {
		t.Fatal(err)
	}
	if noPw.HasPassword() || noPw.State != user.Blocked || !noPw.BlockedAt.Equal(t0) {
		t.Errorf("created without password, blocked: %+v", noPw)
	}
	_, err = s.Create(ctx, "acme", &user.User{Username: "ALICE", Email: "x@example.com"}, "")
	if !derrors.Is(err, derrors.Conflict) {
		t.Errorf("duplicate username: %v", err)
	}

	f.conflicts = 10
	_, err = s.Create(ctx, "acme", &user.User{Username: "carol", Email: "carol@example.com"}, "")
	if !derrors.Is(err, derrors.Conflict) {
		t.Errorf("endless ID clashes: %v, want a Conflict after a few tries", err)
	}
}

func TestServiceUpdate(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	s := newService(f)
	u, err := s.Create(ctx, "acme", &user.User{Username: "alice", Email: "alice@example.com"}, "long enough")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Update(ctx, "acme", &user.User{ID: u.ID, Username: "alice", Email: "alice@example.com", State: user.Blocked})
	checkField(t, err, "state")
	_, err = s.Update(ctx, "acme", &user.User{ID: u.ID, Username: "alice", Email: "not an email"})
	checkField(t, err, "email")
	got, err := s.Update(ctx, "acme", &user.User{ID: u.ID, Username: "alice2", Email: "alice@example.com", GivenName: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash != u.PasswordHash || got.State != user.Active || !got.CreatedAt.Equal(t0) {
		t.Errorf("Update changed what it does not own: %+v", got)
	}
	_, err = s.Update(ctx, "acme", &user.User{ID: "missing", Username: "x", Email: "x@example.com"})
	if !derrors.Is(err, derrors.NotFound) {
		t.Errorf("Update(missing): %v", err)
	}
	checkField(t, s.SetPassword(ctx, "acme", u.ID, "1234567"), "password")
	if err := s.SetPassword(ctx, "acme", u.ID, "a new password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "acme", "alice2", "a new password"); err != nil {
		t.Errorf("Authenticate after SetPassword: %v", err)
	}
	if _, err := s.Authenticate(ctx, "acme", "alice2", "long enough"); !derrors.Is(err, derrors.Unauthenticated) {
		t.Errorf("the old password still works: %v", err)
	}
}

func TestServiceRoles(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	s := newService(f)
	g := func(c, p string) user.Grant { return user.Grant{ClientID: c, Permission: p} }
	r, err := s.CreateRole(ctx, "acme", &user.Role{Name: "staff", Permissions: []user.Grant{g("B", "x"), g("A", "y"), g("A", "b")}})
	if err != nil {
		t.Fatal(err)
	}
	want := []user.Grant{g("A", "b"), g("A", "y"), g("B", "x")}
	if !equalGrants(r.Permissions, want) || !equalGrants(f.roles["staff"].Permissions, want) {
		t.Errorf("grants %v, stored %v; want sorted %v", r.Permissions, f.roles["staff"].Permissions, want)
	}
	_, err = s.CreateRole(ctx, "acme", &user.Role{Name: "bad-name"})
	checkField(t, err, "name")
	up, err := s.UpdateRole(ctx, "acme", "staff", &user.Role{Description: "all staff"})
	if err != nil {
		t.Fatal(err)
	}
	if up.Name != "staff" || len(up.Permissions) != 0 || !up.CreatedAt.Equal(t0) {
		t.Errorf("UpdateRole without a name: %+v", up)
	}
	_, err = s.UpdateRole(ctx, "acme", "staff", &user.Role{Name: "staff", Permissions: []user.Grant{g("A", "read:all")}})
	checkField(t, err, "permissions")
	_, err = s.UpdateRole(ctx, "acme", "missing", &user.Role{})
	if !derrors.Is(err, derrors.NotFound) {
		t.Errorf("UpdateRole(missing): %v", err)
	}
	_, err = s.SetRoles(ctx, "acme", "u", []string{"a", "a"})
	checkField(t, err, "roles")
	checkField(t, s.AssignRole(ctx, "acme", "u", "no good"), "roles")
}

func equalGrants(a, b []user.Grant) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
