package storetest

// The conformance suite of user.Store: users, roles, assignments and the
// access a token carries (R-USR-1, R-USR-2, R-ROL-1, R-PRM-2, R-TEN-1).

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/derrors"
	grantpkg "github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/store"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// RunUsers runs the user and role conformance tests against the stores open
// returns (as for Run: new, empty, migrated, closed in t.Cleanup; called
// concurrently).
func RunUsers(t *testing.T, open func(t *testing.T) *store.DB) {
	tests := []suiteTest{
		{"User/CreateGet_R-USR-1", testUserCreateGet},
		{"User/UniqueCaseInsensitive_R-USR-1", testUserUnique},
		{"User/ConcurrentSameUsername_R-USR-1", testUserConcurrentUnique},
		{"User/Update", testUserUpdate},
		{"User/ListPages", testUserList},
		{"User/PasswordHash_R-USR-1", testUserPassword},
		{"User/Block_R-USR-2", testUserBlock},
		{"User/Delete", testUserDelete},
		{"User/ServiceAuthenticate_R-USR-1_R-USR-2", testUserAuthenticate},
		{"Role/CreateGetTwoApps_R-ROL-1", testRoleCreateGet},
		{"Role/ListPages", testRoleList},
		{"Role/UpdateRename", testRoleUpdate},
		{"Role/Delete", testRoleDelete},
		{"Role/Assignments_R-ROL-1", testUserRoles},
		{"Role/Access_R-ROL-1", testAccess},
		{"Role/PermissionDeleteAndRename_R-PRM-2", testRolePermissionDelete},
		{"Role/AppDelete_R-APP-11", testRoleAppDelete},
		{"User/TenantDeleteCascades_R-TEN-3", testUserTenantDelete},
		{"Isolation/Users_R-TEN-1", testIsolationUsers},
		{"Isolation/Roles_R-TEN-1", testIsolationRoles},
		{"Cache/EveryWriteSeenAtOnce_R-USR-2_R-PRM-2", testUserCacheCoherent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// RunUsersRaw runs the user tests that read under the store with raw SQL
// (and the database files where there are some); open is as for RunRaw.
func RunUsersRaw(t *testing.T, open func(t *testing.T) (*store.DB, Raw)) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, db *store.DB, raw Raw)
	}{
		{"User/PasswordsAtRest_R-USR-1", testPasswordsAtRest},
		{"User/DeleteTenantLeavesNoRows_R-TEN-3", testUserDeleteLeavesNoRows},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, raw := open(t)
			tc.fn(t, db, raw)
		})
	}
}

// fastParams keep argon2id cheap in store tests, where the cost is not under
// test (the user package tests the real parameters).
var fastParams = user.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newUser(username string) *user.User {
	return &user.User{
		ID:            user.NewID(),
		Username:      username,
		Email:         username + "@example.com",
		EmailVerified: true,
		GivenName:     "Given " + username,
		FamilyName:    "Family",
		Groups:        []string{"staff", "CN=Admins,OU=Groups,DC=example,DC=com"},
		State:         user.Active,
		CreatedAt:     at(0),
		UpdatedAt:     at(0),
	}
}

func mkUser(t *testing.T, db *store.DB, tenantID, username string) *user.User {
	t.Helper()
	u := newUser(username)
	must(t, db.CreateUser(t.Context(), tenantID, u))
	c := *u
	c.Groups = slices.Clone(u.Groups)
	return &c
}

func mkRole(t *testing.T, db *store.DB, tenantID, name string, grants ...user.Grant) *user.Role {
	t.Helper()
	r := &user.Role{Name: name, Description: "role " + name, Permissions: grants, CreatedAt: at(0), UpdatedAt: at(0)}
	if r.Permissions == nil {
		r.Permissions = []user.Grant{}
	}
	must(t, db.CreateRole(t.Context(), tenantID, r))
	c := *r
	c.Permissions = slices.Clone(r.Permissions)
	slices.SortFunc(c.Permissions, func(a, b user.Grant) int {
		return strings.Compare(a.ClientID+"\x00"+a.Permission, b.ClientID+"\x00"+b.Permission)
	})
	return &c
}

func grant(clientID, perm string) user.Grant { return user.Grant{ClientID: clientID, Permission: perm} }

func getUser(t *testing.T, db *store.DB, tenantID, id string) *user.User {
	t.Helper()
	u, err := db.GetUser(t.Context(), tenantID, id)
	must(t, err)
	return u
}

func getRole(t *testing.T, db *store.DB, tenantID, name string) *user.Role {
	t.Helper()
	r, err := db.GetRole(t.Context(), tenantID, name)
	must(t, err)
	return r
}

func userRoles(t *testing.T, db *store.DB, tenantID, id string) []string {
	t.Helper()
	rs, err := db.UserRoles(t.Context(), tenantID, id)
	must(t, err)
	return rs
}

type access struct{ Roles, Permissions []string }

func accessOf(t *testing.T, db *store.DB, tenantID, userID, clientID string) access {
	t.Helper()
	r, p, err := db.Access(t.Context(), tenantID, userID, clientID)
	must(t, err)
	return access{r, p}
}

var equateEmpty = cmpopts.EquateEmpty()

// ---------------------------------------------------------------------------
// Users.

func testUserCreateGet(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	u := newUser("Alice.Smith")
	u.Email = "Alice.Smith@Example.COM"
	u.GivenName, u.FamilyName = "Alice ✓", "Smith-Jones"
	u.PasswordHash = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
	u.PasswordChangedAt = at(time.Minute)
	want := *u
	must(t, db.CreateUser(ctx, "acme", u))
	diff(t, "GetUser", &want, getUser(t, db, "acme", u.ID))

	// A login finds the user by username or email, whatever the case.
	for _, login := range []string{"Alice.Smith", "alice.smith", "ALICE.SMITH", "alice.smith@example.com", "ALICE.SMITH@EXAMPLE.COM"} {
		got, err := db.GetUserByLogin(ctx, "acme", login)
		if err != nil {
			t.Errorf("GetUserByLogin(%q): %v", login, err)
			continue
		}
		if got.ID != u.ID {
			t.Errorf("GetUserByLogin(%q) = %s, want %s", login, got.ID, u.ID)
		}
	}
	_, err := db.GetUserByLogin(ctx, "acme", "bob")
	wantErr(t, "GetUserByLogin(unknown)", err, derrors.NotFound, "")
	_, err = db.GetUser(ctx, "acme", "missing")
	wantErr(t, "GetUser(missing)", err, derrors.NotFound, "")
	// IDs are case-sensitive.
	if low := strings.ToLower(u.ID); low != u.ID {
		_, err = db.GetUser(ctx, "acme", low)
		wantErr(t, "GetUser(ID in another case)", err, derrors.NotFound, "")
	}
	wantErr(t, "CreateUser(missing tenant)", db.CreateUser(ctx, "nowhere", newUser("bob")), derrors.NotFound, "")

	// A username may equal another user's email: the username wins a login.
	v := newUser("carol@example.com")
	v.Email = "carol.other@example.com"
	must(t, db.CreateUser(ctx, "acme", v))
	w := newUser("carol2")
	w.Email = "Carol@Example.com"
	must(t, db.CreateUser(ctx, "acme", w))
	got, err := db.GetUserByLogin(ctx, "acme", "CAROL@example.com")
	must(t, err)
	if got.ID != v.ID {
		t.Errorf("GetUserByLogin(carol@example.com) found %s (%s), want the user with that username", got.Username, got.ID)
	}

	// Empty groups read back as none.
	x := newUser("dave")
	x.Groups = []string{}
	must(t, db.CreateUser(ctx, "acme", x))
	if g := getUser(t, db, "acme", x.ID).Groups; len(g) != 0 {
		t.Errorf("groups = %q, want none", g)
	}
}

func testUserUnique(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	mkTenant(t, db, "globex")
	a := mkUser(t, db, "acme", "alice")

	dupName := newUser("ALICE")
	dupName.Email = "someone.else@example.com"
	wantErr(t, "CreateUser(same username, other case)", db.CreateUser(ctx, "acme", dupName), derrors.Conflict, "username")
	dupEmail := newUser("alice2")
	dupEmail.Email = "ALICE@EXAMPLE.com"
	wantErr(t, "CreateUser(same email, other case)", db.CreateUser(ctx, "acme", dupEmail), derrors.Conflict, "email")
	dupID := newUser("alice3")
	dupID.ID = a.ID
	wantErr(t, "CreateUser(same ID)", db.CreateUser(ctx, "acme", dupID), derrors.Conflict, "id")

	// Another tenant may have the same username, email and even ID.
	other := newUser("alice")
	other.ID = a.ID
	must(t, db.CreateUser(ctx, "globex", other))

	// Updates keep the rule.
	b := mkUser(t, db, "acme", "bob")
	b.Username = "Alice"
	b.UpdatedAt = at(time.Hour)
	wantErr(t, "UpdateUser(to a taken username)", db.UpdateUser(ctx, "acme", b), derrors.Conflict, "username")
	b.Username, b.Email = "bob", "alice@EXAMPLE.com"
	wantErr(t, "UpdateUser(to a taken email)", db.UpdateUser(ctx, "acme", b), derrors.Conflict, "email")
	// Changing the case of one's own username is fine.
	b.Username, b.Email = "Bob", "BOB@example.com"
	must(t, db.UpdateUser(ctx, "acme", b))
	got := getUser(t, db, "acme", b.ID)
	if got.Username != "Bob" || got.Email != "BOB@example.com" {
		t.Errorf("after the case change: %q %q", got.Username, got.Email)
	}
	diff(t, "alice after the refused writes", a, getUser(t, db, "acme", a.ID))
}

func testUserConcurrentUnique(t *testing.T, db *store.DB) {
	ctx := timeout(t)
	mkTenant(t, db, "acme")
	const n = 8
	errs := run(n, func(i int) error {
		u := newUser([]string{"rush", "RUSH", "Rush", "rUsh"}[i%4])
		u.Email = fmt.Sprintf("rush%d@example.com", i)
		return db.CreateUser(ctx, "acme", u)
	})
	ok, conflicts := countErrs(t, errs, derrors.Conflict)
	if ok != 1 || conflicts != n-1 {
		t.Errorf("%d concurrent creates of one username in different cases: %d succeeded, %d conflicts", n, ok, conflicts)
	}
}

func testUserUpdate(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	u := mkUser(t, db, "acme", "alice")
	must(t, db.SetPassword(ctx, "acme", u.ID, "hash-1", at(time.Minute)))
	must(t, db.SetState(ctx, "acme", u.ID, user.Blocked, at(2*time.Minute)))
	before := getUser(t, db, "acme", u.ID)

	up := *before
	up.Username, up.Email, up.EmailVerified = "alice.new", "new@example.org", false
	up.GivenName, up.FamilyName, up.Groups = "", "Neu", []string{"g1"}
	up.UpdatedAt = at(time.Hour)
	// Fields UpdateUser does not own are ignored.
	up.State, up.PasswordHash, up.BlockedAt, up.CreatedAt = user.Active, "other", at(0), at(5*time.Hour)
	must(t, db.UpdateUser(ctx, "acme", &up))
	want := *before
	want.Username, want.Email, want.EmailVerified = "alice.new", "new@example.org", false
	want.GivenName, want.FamilyName, want.Groups = "", "Neu", []string{"g1"}
	want.UpdatedAt = at(time.Hour)
	diff(t, "after UpdateUser", &want, getUser(t, db, "acme", u.ID))
	if _, err := db.GetUserByLogin(ctx, "acme", "alice"); !derrors.Is(err, derrors.NotFound) {
		t.Errorf("the old username still logs in: %v", err)
	}
	if got, err := db.GetUserByLogin(ctx, "acme", "NEW@example.org"); err != nil || got.ID != u.ID {
		t.Errorf("the new email does not log in: %v", err)
	}
	missing := newUser("ghost")
	wantErr(t, "UpdateUser(missing)", db.UpdateUser(ctx, "acme", missing), derrors.NotFound, "")
}

func testUserList(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	mkTenant(t, db, "other")
	names := []string{"alice", "Bob", "carol", "Dave", "eve", "frank", "Gina", "a.b", "a_b", "a-b", "A@B"}
	byLower := map[string]string{}
	var lower []string
	for _, n := range names {
		mkUser(t, db, "acme", n)
		byLower[strings.ToLower(n)] = n
		lower = append(lower, strings.ToLower(n))
	}
	mkUser(t, db, "other", "zed")
	for _, limit := range []int{1, 3, 4, len(names), 100} {
		pages := collectPages(t, limit, func(p tenant.Page) ([]string, error) {
			us, err := db.ListUsers(ctx, "acme", p)
			var out []string
			for _, u := range us {
				if byLower[strings.ToLower(u.Username)] != u.Username {
					t.Errorf("listed %q, which was not created", u.Username)
				}
				out = append(out, strings.ToLower(u.Username))
			}
			return out, err
		})
		diff(t, fmt.Sprintf("pages of %d (by lower-cased username)", limit), wantPages(lower, limit), pages, equateEmpty)
	}
	us, err := db.ListUsers(ctx, "nowhere", tenant.NewPage("", 10))
	must(t, err)
	if len(us) != 0 {
		t.Errorf("a missing tenant lists %d users", len(us))
	}
}

func testUserPassword(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	u := mkUser(t, db, "acme", "alice")
	if getUser(t, db, "acme", u.ID).HasPassword() {
		t.Error("a user created without a password has one")
	}
	must(t, db.SetPassword(ctx, "acme", u.ID, "hash-1", at(time.Minute)))
	got := getUser(t, db, "acme", u.ID)
	if got.PasswordHash != "hash-1" || !got.PasswordChangedAt.Equal(at(time.Minute)) {
		t.Errorf("after SetPassword: hash %q changed %v", got.PasswordHash, got.PasswordChangedAt)
	}
	// Rehash replaces only the hash it was computed from.
	must(t, db.RehashPassword(ctx, "acme", u.ID, "hash-0", "hash-stale"))
	if h := getUser(t, db, "acme", u.ID).PasswordHash; h != "hash-1" {
		t.Errorf("RehashPassword from a stale hash replaced it: %q", h)
	}
	must(t, db.RehashPassword(ctx, "acme", u.ID, "hash-1", "hash-2"))
	got = getUser(t, db, "acme", u.ID)
	if got.PasswordHash != "hash-2" || !got.PasswordChangedAt.Equal(at(time.Minute)) {
		t.Errorf("after RehashPassword: hash %q changed %v (a rehash is not a password change)", got.PasswordHash, got.PasswordChangedAt)
	}
	wantErr(t, "SetPassword(missing)", db.SetPassword(ctx, "acme", "missing", "h", at(0)), derrors.NotFound, "")
}

func testUserBlock(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	u := mkUser(t, db, "acme", "alice")
	must(t, db.SetState(ctx, "acme", u.ID, user.Blocked, at(time.Minute)))
	got := getUser(t, db, "acme", u.ID)
	if got.State != user.Blocked || !got.BlockedAt.Equal(at(time.Minute)) || !got.UpdatedAt.Equal(at(time.Minute)) {
		t.Errorf("after blocking: state %s blocked_at %v updated_at %v", got.State, got.BlockedAt, got.UpdatedAt)
	}
	// The block is in the row: any reader sees it at once.
	if l, err := db.GetUserByLogin(ctx, "acme", "alice"); err != nil || l.State != user.Blocked {
		t.Errorf("GetUserByLogin after the block: %v %v", l, err)
	}
	// Blocking again keeps the first time.
	must(t, db.SetState(ctx, "acme", u.ID, user.Blocked, at(2*time.Minute)))
	if got := getUser(t, db, "acme", u.ID); !got.BlockedAt.Equal(at(time.Minute)) {
		t.Errorf("blocking twice moved blocked_at to %v", got.BlockedAt)
	}
	// Unblocking keeps the time of the last block.
	must(t, db.SetState(ctx, "acme", u.ID, user.Active, at(3*time.Minute)))
	got = getUser(t, db, "acme", u.ID)
	if got.State != user.Active || !got.BlockedAt.Equal(at(time.Minute)) {
		t.Errorf("after unblocking: state %s blocked_at %v", got.State, got.BlockedAt)
	}
	must(t, db.SetState(ctx, "acme", u.ID, user.Blocked, at(4*time.Minute)))
	if got := getUser(t, db, "acme", u.ID); !got.BlockedAt.Equal(at(4 * time.Minute)) {
		t.Errorf("a new block after an unblock: blocked_at %v, want %v", got.BlockedAt, at(4*time.Minute))
	}
	wantErr(t, "SetState(missing)", db.SetState(ctx, "acme", "missing", user.Blocked, at(0)), derrors.NotFound, "")
	wantErr(t, "SetState(bad state)", db.SetState(ctx, "acme", u.ID, "frozen", at(0)), derrors.Invalid, "state")
}

func testUserDelete(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	a := mkUser(t, db, "acme", "alice")
	b := mkUser(t, db, "acme", "bob")
	mkRole(t, db, "acme", "staff")
	must(t, db.SetUserRoles(ctx, "acme", a.ID, []string{"staff"}))
	must(t, db.SetUserRoles(ctx, "acme", b.ID, []string{"staff"}))
	must(t, db.DeleteUser(ctx, "acme", a.ID))
	_, err := db.GetUser(ctx, "acme", a.ID)
	wantErr(t, "GetUser(deleted)", err, derrors.NotFound, "")
	_, err = db.UserRoles(ctx, "acme", a.ID)
	wantErr(t, "UserRoles(deleted)", err, derrors.NotFound, "")
	wantErr(t, "DeleteUser(deleted)", db.DeleteUser(ctx, "acme", a.ID), derrors.NotFound, "")
	diff(t, "bob's roles", []string{"staff"}, userRoles(t, db, "acme", b.ID))
	// The username and email are free again.
	mkUser(t, db, "acme", "alice")
}

// The user service on the real store: create with a password, log in by
// username or email, blocked users refused, old hashes upgraded.
func testUserAuthenticate(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	clk := &clock{now: at(0)}
	svc := &user.Service{Store: db, Params: fastParams, Now: clk.Now}
	u, err := svc.Create(ctx, "acme", &user.User{Username: "Alice", Email: "alice@example.com"}, "correct horse battery")
	must(t, err)
	if len(u.ID) != user.IDLength || !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("created user %s with hash %q", u.ID, u.PasswordHash)
	}
	for _, login := range []string{"alice", "ALICE", "Alice@Example.com"} {
		got, err := svc.Authenticate(ctx, "acme", login, "correct horse battery")
		if err != nil || got.ID != u.ID {
			t.Errorf("Authenticate(%q): %v", login, err)
		}
	}
	for _, c := range []struct{ login, password string }{
		{"alice", "wrong password"},
		{"alice", "Correct horse battery"},
		{"nobody", "correct horse battery"},
		{"alice", ""},
		{"alice", strings.Repeat("x", 10000)},
	} {
		_, err := svc.Authenticate(ctx, "acme", c.login, c.password)
		wantErr(t, fmt.Sprintf("Authenticate(%q, %.12q)", c.login, c.password), err, derrors.Unauthenticated, "")
	}
	noPassword, err := svc.Create(ctx, "acme", &user.User{Username: "bob", Email: "bob@example.com"}, "")
	must(t, err)
	_, err = svc.Authenticate(ctx, "acme", "bob", "")
	wantErr(t, "Authenticate(user without a password)", err, derrors.Unauthenticated, "")
	must(t, svc.SetPassword(ctx, "acme", noPassword.ID, "now-i-have-one"))
	if _, err := svc.Authenticate(ctx, "acme", "bob", "now-i-have-one"); err != nil {
		t.Errorf("Authenticate after SetPassword: %v", err)
	}

	// R-USR-2: blocked at once; unblocked at once.
	_, err = svc.Block(ctx, "acme", u.ID)
	must(t, err)
	_, err = svc.Authenticate(ctx, "acme", "alice", "correct horse battery")
	wantErr(t, "Authenticate(blocked)", err, derrors.Forbidden, "")
	_, err = svc.Authenticate(ctx, "acme", "alice", "wrong password")
	wantErr(t, "Authenticate(blocked, wrong password)", err, derrors.Unauthenticated, "")
	_, err = svc.ActiveUser(ctx, "acme", u.ID)
	wantErr(t, "ActiveUser(blocked)", err, derrors.Forbidden, "")
	_, err = svc.Unblock(ctx, "acme", u.ID)
	must(t, err)
	if _, err := svc.ActiveUser(ctx, "acme", u.ID); err != nil {
		t.Errorf("ActiveUser(unblocked): %v", err)
	}

	// New parameters: the next login upgrades the hash.
	newer := &user.Service{Store: db, Params: user.Params{Memory: 128, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}, Now: clk.Now}
	if _, err := newer.Authenticate(ctx, "acme", "alice", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	h := getUser(t, db, "acme", u.ID).PasswordHash
	if !strings.HasPrefix(h, "$argon2id$v=19$m=128,t=2,p=1$") {
		t.Errorf("after a login with new parameters the hash is %q", h)
	}
	if _, err := svc.Authenticate(ctx, "acme", "alice", "correct horse battery"); err != nil {
		t.Errorf("the upgraded hash does not verify: %v", err)
	}
}

// ---------------------------------------------------------------------------
// Roles.

// twoApps makes two apps with permissions in tenantID.
func twoApps(t *testing.T, db *store.DB, tenantID string) (portal, billing *app.App) {
	t.Helper()
	portal, _ = mkApp(t, db, tenantID, "portal")
	billing, _ = mkApp(t, db, tenantID, "billing")
	for _, p := range []string{"read", "write", "admin"} {
		mkPerm(t, db, tenantID, portal.ClientID, p, 0)
	}
	for _, p := range []string{"read", "invoices_approve"} {
		mkPerm(t, db, tenantID, billing.ClientID, p, 0)
	}
	return portal, billing
}

func testRoleCreateGet(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	portal, billing := twoApps(t, db, "acme")
	r := mkRole(t, db, "acme", "accountant",
		grant(billing.ClientID, "invoices_approve"), grant(portal.ClientID, "read"), grant(billing.ClientID, "read"))
	got := getRole(t, db, "acme", "accountant")
	diff(t, "GetRole", r, got)
	if len(got.Permissions) != 3 {
		t.Errorf("role has %d grants, want 3 across two apps", len(got.Permissions))
	}
	empty := mkRole(t, db, "acme", "nobody_special")
	diff(t, "GetRole(no grants)", empty, getRole(t, db, "acme", "nobody_special"))
	if getRole(t, db, "acme", "nobody_special").Permissions == nil {
		t.Error("a role without grants has nil permissions, want an empty list")
	}

	wantErr(t, "CreateRole(duplicate)", db.CreateRole(ctx, "acme", &user.Role{Name: "accountant", Permissions: []user.Grant{}, CreatedAt: at(0), UpdatedAt: at(0)}), derrors.Conflict, "name")
	_, err := db.GetRole(ctx, "acme", "Accountant")
	wantErr(t, "GetRole(other case)", err, derrors.NotFound, "")
	for _, g := range []user.Grant{
		grant(portal.ClientID, "delete"),
		grant("NoSuchClient0000", "read"),
		grant(billing.ClientID, "READ"),
	} {
		err := db.CreateRole(ctx, "acme", &user.Role{Name: "bad", Permissions: []user.Grant{grant(portal.ClientID, "read"), g}, CreatedAt: at(0), UpdatedAt: at(0)})
		wantErr(t, fmt.Sprintf("CreateRole(granting %v)", g), err, derrors.Invalid, "permissions")
		_, err = db.GetRole(ctx, "acme", "bad")
		wantErr(t, "GetRole(refused)", err, derrors.NotFound, "")
	}
	wantErr(t, "CreateRole(missing tenant)", db.CreateRole(ctx, "nowhere", &user.Role{Name: "x", CreatedAt: at(0), UpdatedAt: at(0)}), derrors.NotFound, "")
	_, err = db.GetRole(ctx, "acme", "missing")
	wantErr(t, "GetRole(missing)", err, derrors.NotFound, "")
}

func testRoleList(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	mkTenant(t, db, "other")
	portal, billing := twoApps(t, db, "acme")
	names := []string{"a", "B", "c_1", "C_2", "d", "Z", "zz", "_x", "x9"}
	want := map[string]*user.Role{}
	for i, n := range names {
		var gs []user.Grant
		if i%2 == 0 {
			gs = append(gs, grant(portal.ClientID, "read"))
		}
		if i%3 == 0 {
			gs = append(gs, grant(billing.ClientID, "read"), grant(billing.ClientID, "invoices_approve"))
		}
		want[n] = mkRole(t, db, "acme", n, gs...)
	}
	mkRole(t, db, "other", "a")
	for _, limit := range []int{1, 2, 4, len(names), 50} {
		pages := collectPages(t, limit, func(p tenant.Page) ([]string, error) {
			rs, err := db.ListRoles(ctx, "acme", p)
			var out []string
			for _, r := range rs {
				diff(t, "listed role "+r.Name, want[r.Name], r)
				out = append(out, r.Name)
			}
			return out, err
		})
		diff(t, fmt.Sprintf("pages of %d", limit), wantPages(names, limit), pages, equateEmpty)
	}
}

func testRoleUpdate(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	portal, billing := twoApps(t, db, "acme")
	mkRole(t, db, "acme", "viewer", grant(portal.ClientID, "read"))
	mkRole(t, db, "acme", "taken")
	u := mkUser(t, db, "acme", "alice")
	must(t, db.SetUserRoles(ctx, "acme", u.ID, []string{"viewer"}))

	up := &user.Role{Name: "viewer", Description: "reads", Permissions: []user.Grant{grant(billing.ClientID, "read"), grant(portal.ClientID, "admin")}, CreatedAt: at(0), UpdatedAt: at(time.Hour)}
	must(t, db.UpdateRole(ctx, "acme", "viewer", up))
	diff(t, "after UpdateRole", &user.Role{Name: "viewer", Description: "reads", CreatedAt: at(0), UpdatedAt: at(time.Hour),
		Permissions: sortedGrants(grant(billing.ClientID, "read"), grant(portal.ClientID, "admin"))}, getRole(t, db, "acme", "viewer"))

	// Rename: the assignment follows.
	must(t, db.UpdateRole(ctx, "acme", "viewer", &user.Role{Name: "reader", Permissions: []user.Grant{grant(portal.ClientID, "read")}, CreatedAt: at(0), UpdatedAt: at(2 * time.Hour)}))
	_, err := db.GetRole(ctx, "acme", "viewer")
	wantErr(t, "GetRole(old name)", err, derrors.NotFound, "")
	diff(t, "renamed role", &user.Role{Name: "reader", CreatedAt: at(0), UpdatedAt: at(2 * time.Hour), Permissions: []user.Grant{grant(portal.ClientID, "read")}}, getRole(t, db, "acme", "reader"))
	diff(t, "alice's roles after the rename", []string{"reader"}, userRoles(t, db, "acme", u.ID))
	diff(t, "alice's access after the rename", access{[]string{"reader"}, []string{"read"}}, accessOf(t, db, "acme", u.ID, portal.ClientID))

	wantErr(t, "UpdateRole(rename to a taken name)", db.UpdateRole(ctx, "acme", "reader", &user.Role{Name: "taken", UpdatedAt: at(3 * time.Hour)}), derrors.Conflict, "name")
	wantErr(t, "UpdateRole(missing)", db.UpdateRole(ctx, "acme", "missing", &user.Role{Name: "missing", UpdatedAt: at(0)}), derrors.NotFound, "")
	// A bad grant changes nothing.
	err = db.UpdateRole(ctx, "acme", "reader", &user.Role{Name: "reader", Permissions: []user.Grant{grant(portal.ClientID, "write"), grant(portal.ClientID, "nope")}, UpdatedAt: at(4 * time.Hour)})
	wantErr(t, "UpdateRole(unknown permission)", err, derrors.Invalid, "permissions")
	diff(t, "reader after the refused update", []user.Grant{grant(portal.ClientID, "read")}, getRole(t, db, "acme", "reader").Permissions)
}

func sortedGrants(gs ...user.Grant) []user.Grant {
	slices.SortFunc(gs, func(a, b user.Grant) int {
		return strings.Compare(a.ClientID+"\x00"+a.Permission, b.ClientID+"\x00"+b.Permission)
	})
	return gs
}

func testRoleDelete(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	portal, _ := twoApps(t, db, "acme")
	mkRole(t, db, "acme", "viewer", grant(portal.ClientID, "read"))
	mkRole(t, db, "acme", "editor", grant(portal.ClientID, "write"))
	u := mkUser(t, db, "acme", "alice")
	must(t, db.SetUserRoles(ctx, "acme", u.ID, []string{"viewer", "editor"}))
	must(t, db.DeleteRole(ctx, "acme", "viewer"))
	_, err := db.GetRole(ctx, "acme", "viewer")
	wantErr(t, "GetRole(deleted)", err, derrors.NotFound, "")
	wantErr(t, "DeleteRole(deleted)", db.DeleteRole(ctx, "acme", "viewer"), derrors.NotFound, "")
	diff(t, "alice's roles", []string{"editor"}, userRoles(t, db, "acme", u.ID))
	diff(t, "alice's access", access{[]string{"editor"}, []string{"write"}}, accessOf(t, db, "acme", u.ID, portal.ClientID))
	// The name is free again, without the old grants.
	mkRole(t, db, "acme", "viewer")
	diff(t, "recreated role", []user.Grant{}, getRole(t, db, "acme", "viewer").Permissions)
}

func testUserRoles(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	for _, n := range []string{"a", "b", "c"} {
		mkRole(t, db, "acme", n)
	}
	u := mkUser(t, db, "acme", "alice")
	diff(t, "roles of a new user", []string{}, userRoles(t, db, "acme", u.ID))
	if userRoles(t, db, "acme", u.ID) == nil {
		t.Error("UserRoles of a user without roles is nil, want empty")
	}
	must(t, db.SetUserRoles(ctx, "acme", u.ID, []string{"c", "a"}))
	diff(t, "after SetUserRoles", []string{"a", "c"}, userRoles(t, db, "acme", u.ID))
	wantErr(t, "SetUserRoles(unknown role)", db.SetUserRoles(ctx, "acme", u.ID, []string{"b", "zzz"}), derrors.Invalid, "roles")
	diff(t, "after the refused SetUserRoles", []string{"a", "c"}, userRoles(t, db, "acme", u.ID))
	wantErr(t, "SetUserRoles(missing user)", db.SetUserRoles(ctx, "acme", "missing", []string{"a"}), derrors.NotFound, "")
	_, err := db.UserRoles(ctx, "acme", "missing")
	wantErr(t, "UserRoles(missing user)", err, derrors.NotFound, "")

	must(t, db.AssignRole(ctx, "acme", u.ID, "b"))
	must(t, db.AssignRole(ctx, "acme", u.ID, "b"))
	diff(t, "after AssignRole twice", []string{"a", "b", "c"}, userRoles(t, db, "acme", u.ID))
	wantErr(t, "AssignRole(unknown role)", db.AssignRole(ctx, "acme", u.ID, "zzz"), derrors.NotFound, "")
	wantErr(t, "AssignRole(missing user)", db.AssignRole(ctx, "acme", "missing", "a"), derrors.NotFound, "")
	must(t, db.UnassignRole(ctx, "acme", u.ID, "a"))
	wantErr(t, "UnassignRole(not assigned)", db.UnassignRole(ctx, "acme", u.ID, "a"), derrors.NotFound, "")
	wantErr(t, "UnassignRole(missing user)", db.UnassignRole(ctx, "acme", "missing", "a"), derrors.NotFound, "")
	diff(t, "after UnassignRole", []string{"b", "c"}, userRoles(t, db, "acme", u.ID))
	must(t, db.SetUserRoles(ctx, "acme", u.ID, nil))
	diff(t, "after SetUserRoles(none)", []string{}, userRoles(t, db, "acme", u.ID))
}

func testAccess(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	portal, billing := twoApps(t, db, "acme")
	lonely, _ := mkApp(t, db, "acme", "lonely")
	mkRole(t, db, "acme", "staff", grant(portal.ClientID, "read"), grant(billing.ClientID, "read"))
	mkRole(t, db, "acme", "editor", grant(portal.ClientID, "read"), grant(portal.ClientID, "write"))
	mkRole(t, db, "acme", "accountant", grant(billing.ClientID, "invoices_approve"))
	mkRole(t, db, "acme", "empty")
	mkRole(t, db, "acme", "admin", grant(portal.ClientID, "admin"))
	alice := mkUser(t, db, "acme", "alice")
	bob := mkUser(t, db, "acme", "bob")
	must(t, db.SetUserRoles(ctx, "acme", alice.ID, []string{"staff", "editor", "accountant", "empty"}))
	must(t, db.SetUserRoles(ctx, "acme", bob.ID, []string{"admin"}))

	diff(t, "alice in portal", access{[]string{"editor", "staff"}, []string{"read", "write"}}, accessOf(t, db, "acme", alice.ID, portal.ClientID))
	diff(t, "alice in billing", access{[]string{"accountant", "staff"}, []string{"invoices_approve", "read"}}, accessOf(t, db, "acme", alice.ID, billing.ClientID))
	diff(t, "alice in an app without grants", access{[]string{}, []string{}}, accessOf(t, db, "acme", alice.ID, lonely.ClientID))
	diff(t, "alice in an unknown app", access{[]string{}, []string{}}, accessOf(t, db, "acme", alice.ID, "NoSuchApp"))
	diff(t, "bob in portal", access{[]string{"admin"}, []string{"admin"}}, accessOf(t, db, "acme", bob.ID, portal.ClientID))
	diff(t, "bob in billing", access{[]string{}, []string{}}, accessOf(t, db, "acme", bob.ID, billing.ClientID))
	_, _, err := db.Access(ctx, "acme", "missing", portal.ClientID)
	wantErr(t, "Access(missing user)", err, derrors.NotFound, "")

	// The service adds nothing but empty lists.
	svc := &user.Service{Store: db, Params: fastParams, Now: func() time.Time { return at(0) }}
	roles, perms, err := svc.Access(ctx, "acme", bob.ID, billing.ClientID)
	must(t, err)
	if roles == nil || perms == nil || len(roles)+len(perms) != 0 {
		t.Errorf("service Access with nothing granted = %q, %q; want empty lists", roles, perms)
	}
}

// R-PRM-2: deleting a permission through the app store removes it from
// every role at once; renaming it renames the grant.
func testRolePermissionDelete(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	portal, billing := twoApps(t, db, "acme")
	mkRole(t, db, "acme", "staff", grant(portal.ClientID, "read"), grant(billing.ClientID, "read"))
	mkRole(t, db, "acme", "reader", grant(portal.ClientID, "read"))
	mkRole(t, db, "acme", "writer", grant(portal.ClientID, "write"))
	u := mkUser(t, db, "acme", "alice")
	must(t, db.SetUserRoles(ctx, "acme", u.ID, []string{"staff", "reader", "writer"}))
	diff(t, "access before", access{[]string{"reader", "staff", "writer"}, []string{"read", "write"}}, accessOf(t, db, "acme", u.ID, portal.ClientID))

	must(t, db.DeletePermission(ctx, "acme", portal.ClientID, "read"))
	diff(t, "staff after the delete", []user.Grant{grant(billing.ClientID, "read")}, getRole(t, db, "acme", "staff").Permissions)
	diff(t, "reader after the delete", []user.Grant{}, getRole(t, db, "acme", "reader").Permissions)
	diff(t, "access after the delete", access{[]string{"writer"}, []string{"write"}}, accessOf(t, db, "acme", u.ID, portal.ClientID))
	diff(t, "billing access is untouched", access{[]string{"staff"}, []string{"read"}}, accessOf(t, db, "acme", u.ID, billing.ClientID))
	// Roles and assignments stay; only the grant went.
	diff(t, "alice's roles", []string{"reader", "staff", "writer"}, userRoles(t, db, "acme", u.ID))
	// A new permission of the same name is not granted by the old grant.
	mkPerm(t, db, "acme", portal.ClientID, "read", time.Hour)
	diff(t, "access after re-creating the permission", access{[]string{"writer"}, []string{"write"}}, accessOf(t, db, "acme", u.ID, portal.ClientID))

	// Renaming a permission renames its grants.
	must(t, db.UpdatePermission(ctx, "acme", portal.ClientID, "write", &app.Permission{Name: "edit", Description: "edits", UpdatedAt: at(2 * time.Hour)}))
	diff(t, "writer after the rename", []user.Grant{grant(portal.ClientID, "edit")}, getRole(t, db, "acme", "writer").Permissions)
	diff(t, "access after the rename", access{[]string{"writer"}, []string{"edit"}}, accessOf(t, db, "acme", u.ID, portal.ClientID))
}

func testRoleAppDelete(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	portal, billing := twoApps(t, db, "acme")
	mkRole(t, db, "acme", "staff", grant(portal.ClientID, "read"), grant(portal.ClientID, "write"), grant(billing.ClientID, "read"))
	u := mkUser(t, db, "acme", "alice")
	must(t, db.SetUserRoles(ctx, "acme", u.ID, []string{"staff"}))
	must(t, db.DeleteApp(ctx, "acme", portal.ClientID))
	diff(t, "staff after deleting portal", []user.Grant{grant(billing.ClientID, "read")}, getRole(t, db, "acme", "staff").Permissions)
	diff(t, "access to the deleted app", access{[]string{}, []string{}}, accessOf(t, db, "acme", u.ID, portal.ClientID))
	diff(t, "access to billing", access{[]string{"staff"}, []string{"read"}}, accessOf(t, db, "acme", u.ID, billing.ClientID))
}

func testUserTenantDelete(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "doomed")
	mkTenant(t, db, "kept")
	for _, tn := range []string{"doomed", "kept"} {
		portal, _ := twoApps(t, db, tn)
		mkRole(t, db, tn, "staff", grant(portal.ClientID, "read"))
		u := mkUser(t, db, tn, "alice")
		must(t, db.SetUserRoles(ctx, tn, u.ID, []string{"staff"}))
	}
	keptUsers, err := db.ListUsers(ctx, "kept", tenant.NewPage("", 10))
	must(t, err)
	must(t, db.DeleteTenant(ctx, "doomed"))
	// A new tenant of the same name starts empty.
	mkTenant(t, db, "doomed")
	us, err := db.ListUsers(ctx, "doomed", tenant.NewPage("", 10))
	must(t, err)
	rs, err := db.ListRoles(ctx, "doomed", tenant.NewPage("", 10))
	must(t, err)
	if len(us) != 0 || len(rs) != 0 {
		t.Errorf("after deleting and re-creating the tenant: %d users, %d roles", len(us), len(rs))
	}
	got, err := db.ListUsers(ctx, "kept", tenant.NewPage("", 10))
	must(t, err)
	diff(t, "the other tenant's users", keptUsers, got)
	diff(t, "the other tenant's assignments", []string{"staff"}, userRoles(t, db, "kept", got[0].ID))
}

// ---------------------------------------------------------------------------
// Tenant isolation (R-TEN-1).

func testIsolationUsers(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "tenant-a")
	mkTenant(t, db, "tenant-b")
	const b = "tenant-b"
	a := mkUser(t, db, "tenant-a", "alice")
	must(t, db.SetPassword(ctx, "tenant-a", a.ID, "a-hash", at(0)))
	a = getUser(t, db, "tenant-a", a.ID)
	mkRole(t, db, "tenant-a", "staff")
	must(t, db.SetUserRoles(ctx, "tenant-a", a.ID, []string{"staff"}))
	mkRole(t, db, b, "staff")

	_, err := db.GetUser(ctx, b, a.ID)
	wantErr(t, "B GetUser(A's)", err, derrors.NotFound, "")
	_, err = db.GetUserByLogin(ctx, b, "alice")
	wantErr(t, "B GetUserByLogin(A's username)", err, derrors.NotFound, "")
	_, err = db.GetUserByLogin(ctx, b, a.Email)
	wantErr(t, "B GetUserByLogin(A's email)", err, derrors.NotFound, "")
	list, err := db.ListUsers(ctx, b, tenant.NewPage("", 100))
	must(t, err)
	if len(list) != 0 {
		t.Errorf("B lists %d users", len(list))
	}
	evil := *a
	evil.Username, evil.UpdatedAt = "owned", at(time.Hour)
	wantErr(t, "B UpdateUser(A's)", db.UpdateUser(ctx, b, &evil), derrors.NotFound, "")
	wantErr(t, "B SetPassword(A's)", db.SetPassword(ctx, b, a.ID, "evil", at(time.Hour)), derrors.NotFound, "")
	must(t, db.RehashPassword(ctx, b, a.ID, "a-hash", "evil"))
	wantErr(t, "B SetState(A's)", db.SetState(ctx, b, a.ID, user.Blocked, at(time.Hour)), derrors.NotFound, "")
	wantErr(t, "B DeleteUser(A's)", db.DeleteUser(ctx, b, a.ID), derrors.NotFound, "")
	_, err = db.UserRoles(ctx, b, a.ID)
	wantErr(t, "B UserRoles(A's user)", err, derrors.NotFound, "")
	wantErr(t, "B SetUserRoles(A's user, B's role)", db.SetUserRoles(ctx, b, a.ID, []string{"staff"}), derrors.NotFound, "")
	wantErr(t, "B AssignRole(A's user)", db.AssignRole(ctx, b, a.ID, "staff"), derrors.NotFound, "")
	wantErr(t, "B UnassignRole(A's user)", db.UnassignRole(ctx, b, a.ID, "staff"), derrors.NotFound, "")
	_, _, err = db.Access(ctx, b, a.ID, "any")
	wantErr(t, "B Access(A's user)", err, derrors.NotFound, "")
	// B's own user of the same name and ID is B's alone.
	same := newUser("alice")
	same.ID = a.ID
	must(t, db.CreateUser(ctx, b, same))
	must(t, db.DeleteUser(ctx, b, a.ID))

	diff(t, "A's user after B's attempts", a, getUser(t, db, "tenant-a", a.ID))
	diff(t, "A's assignments after B's attempts", []string{"staff"}, userRoles(t, db, "tenant-a", a.ID))
}

func testIsolationRoles(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "tenant-a")
	mkTenant(t, db, "tenant-b")
	const b = "tenant-b"
	portal, _ := twoApps(t, db, "tenant-a")
	bPortal, _ := twoApps(t, db, b)
	aRole := mkRole(t, db, "tenant-a", "staff", grant(portal.ClientID, "read"))
	bUser := mkUser(t, db, b, "bob")

	_, err := db.GetRole(ctx, b, "staff")
	wantErr(t, "B GetRole(A's)", err, derrors.NotFound, "")
	rs, err := db.ListRoles(ctx, b, tenant.NewPage("", 100))
	must(t, err)
	if len(rs) != 0 {
		t.Errorf("B lists %d roles", len(rs))
	}
	wantErr(t, "B UpdateRole(A's)", db.UpdateRole(ctx, b, "staff", &user.Role{Name: "staff", UpdatedAt: at(time.Hour)}), derrors.NotFound, "")
	wantErr(t, "B DeleteRole(A's)", db.DeleteRole(ctx, b, "staff"), derrors.NotFound, "")
	wantErr(t, "B SetUserRoles(B's user, A's role)", db.SetUserRoles(ctx, b, bUser.ID, []string{"staff"}), derrors.Invalid, "roles")
	wantErr(t, "B AssignRole(B's user, A's role)", db.AssignRole(ctx, b, bUser.ID, "staff"), derrors.NotFound, "")
	// A role of B cannot grant a permission of A's app.
	err = db.CreateRole(ctx, b, &user.Role{Name: "thief", Permissions: []user.Grant{grant(portal.ClientID, "read")}, CreatedAt: at(0), UpdatedAt: at(0)})
	wantErr(t, "B CreateRole(granting A's permission)", err, derrors.Invalid, "permissions")
	bRole := mkRole(t, db, b, "own", grant(bPortal.ClientID, "read"))
	err = db.UpdateRole(ctx, b, "own", &user.Role{Name: "own", Permissions: []user.Grant{grant(portal.ClientID, "admin")}, UpdatedAt: at(time.Hour)})
	wantErr(t, "B UpdateRole(granting A's permission)", err, derrors.Invalid, "permissions")
	must(t, db.SetUserRoles(ctx, b, bUser.ID, []string{"own"}))
	diff(t, "B's user in A's app", access{[]string{}, []string{}}, accessOf(t, db, b, bUser.ID, portal.ClientID))
	// Deleting B's permission of the same name leaves A's grant alone.
	must(t, db.DeletePermission(ctx, b, bPortal.ClientID, "read"))

	diff(t, "A's role after B's attempts", aRole, getRole(t, db, "tenant-a", "staff"))
	bRole.Permissions = []user.Grant{}
	diff(t, "B's role after deleting B's permission", bRole, getRole(t, db, b, "own"))
}

// ---------------------------------------------------------------------------
// Raw views.

// R-USR-1: passwords are stored only as argon2id hashes: no table row (nor,
// on SQLite, the database file or its WAL) holds a password in plain or in a
// simple encoding, and the stored hash verifies.
func testPasswordsAtRest(t *testing.T, db *store.DB, raw Raw) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	svc := &user.Service{Store: db, Params: fastParams, Now: func() time.Time { return at(0) }}
	plains := []string{
		"first-" + user.NewID(),
		"second " + user.NewID() + " ünïcödé",
		"third-" + user.NewID(),
	}
	u1, err := svc.Create(ctx, "acme", &user.User{Username: "alice", Email: "alice@example.com"}, plains[0])
	must(t, err)
	u2, err := svc.Create(ctx, "acme", &user.User{Username: "bob", Email: "bob@example.com"}, "initial-"+user.NewID())
	must(t, err)
	must(t, svc.SetPassword(ctx, "acme", u2.ID, plains[1]))
	// A rehash on login stores a new hash of the same password.
	newer := &user.Service{Store: db, Params: user.Params{Memory: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, Now: svc.Now}
	_, err = svc.Create(ctx, "acme", &user.User{Username: "carol", Email: "carol@example.com"}, plains[2])
	must(t, err)
	if _, err := newer.Authenticate(ctx, "acme", "carol", plains[2]); err != nil {
		t.Fatal(err)
	}
	var hashes []string
	for _, c := range []struct{ login, password string }{{"alice", plains[0]}, {"bob", plains[1]}, {"carol", plains[2]}} {
		u, err := db.GetUserByLogin(ctx, "acme", c.login)
		must(t, err)
		ok, _, err := user.VerifyPassword(u.PasswordHash, c.password, fastParams)
		if err != nil || !ok {
			t.Errorf("the stored hash of %s does not verify: %v", c.login, err)
		}
		hashes = append(hashes, u.PasswordHash)
	}

	var needles []needle
	for i, p := range plains {
		needles = append(needles, encodings(fmt.Sprintf("password %d", i+1), []byte(p))...)
	}
	tables := dumpTables(t, raw.DB, db.Dialect())
	var everything []byte
	for _, tb := range tables {
		b := tb.bytes()
		everything = append(everything, b...)
		for _, n := range needles {
			if containsBytes(b, n.b) {
				t.Errorf("table %s holds the %s", tb.name, n.what)
			}
		}
	}
	for i, h := range hashes {
		if !containsBytes(everything, []byte(h)) {
			t.Errorf("raw rows do not hold password hash %d: the raw view does not see the store's data", i+1)
		}
	}
	if !containsBytes(everything, []byte(u1.ID)) {
		t.Error("raw rows do not hold the user ID")
	}
	if len(raw.Files) == 0 {
		return
	}
	check := func(when string) {
		t.Helper()
		var all []byte
		for _, f := range raw.Files {
			b, err := os.ReadFile(f)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			must(t, err)
			all = append(all, b...)
			for _, n := range needles {
				if containsBytes(b, n.b) {
					t.Errorf("%s: file %s holds the %s", when, f, n.what)
				}
			}
		}
		if !containsBytes(all, []byte(hashes[0])) {
			t.Errorf("%s: the database files do not hold the first hash: wrong files?", when)
		}
	}
	check("while open (with the WAL)")
	must(t, raw.DB.Close())
	must(t, db.Close())
	check("after close")
}

// R-TEN-3: after DeleteTenant no row anywhere holds the tenant's name, its
// user IDs, usernames, emails or role names; the other tenant is intact.
func testUserDeleteLeavesNoRows(t *testing.T, db *store.DB, raw Raw) {
	ctx := t.Context()
	fill := func(tenantID string) []string {
		mkTenant(t, db, tenantID)
		portal, _ := twoApps(t, db, tenantID)
		role := "role_" + strings.ReplaceAll(tenantID, "-", "_")
		mkRole(t, db, tenantID, role, grant(portal.ClientID, "read"))
		vals := []string{tenantID, role, portal.ClientID}
		for _, n := range []string{"alice", "bob"} {
			u := newUser(n + "." + tenantID)
			must(t, db.CreateUser(ctx, tenantID, u))
			must(t, db.SetPassword(ctx, tenantID, u.ID, "hash-"+u.ID, at(0)))
			must(t, db.SetUserRoles(ctx, tenantID, u.ID, []string{role}))
			vals = append(vals, u.ID, u.Username, strings.ToLower(u.Email), "hash-"+u.ID)
		}
		return vals
	}
	doomed := fill("doomed-tenant-5e1b")
	kept := fill("kept-tenant-08d4")
	holds := func(tables []table, v string) []string {
		var where []string
		for _, tb := range tables {
			for _, r := range tb.rows {
				for _, col := range r {
					if strings.EqualFold(string(col), v) {
						where = append(where, tb.name)
					}
				}
			}
		}
		return where
	}
	before := dumpTables(t, raw.DB, db.Dialect())
	for _, want := range []string{"users", "roles", "role_permissions", "user_roles"} {
		found := false
		for _, tb := range before {
			found = found || tb.name == want
		}
		if !found {
			t.Fatalf("raw view has no table %s", want)
		}
	}
	for _, v := range doomed {
		if len(holds(before, v)) == 0 {
			t.Fatalf("before the delete no row holds %q: the raw view does not see the store's data", v)
		}
	}
	must(t, db.DeleteTenant(ctx, "doomed-tenant-5e1b"))
	after := dumpTables(t, raw.DB, db.Dialect())
	for _, v := range doomed {
		if where := holds(after, v); len(where) > 0 {
			t.Errorf("after DeleteTenant, rows of %v still hold %q", where, v)
		}
	}
	for _, v := range kept {
		diff(t, fmt.Sprintf("tables holding %q of the kept tenant", v), holds(before, v), holds(after, v))
	}
}

// testUserCacheCoherent reads a user and their access before and after each
// kind of write that changes them: on SQLite the reads go through the user
// cache, which must never answer with what a write has changed (R-USR-2,
// R-PRM-2, R-ROL-1, R-APP-11). Writes of the grant tables in between keep
// nothing stale either.
func testUserCacheCoherent(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mkTenant(t, db, "acme")
	a, _ := mkApp(t, db, "acme", "portal")
	must(t, db.CreatePermission(ctx, "acme", a.ClientID, &app.Permission{Name: "read", CreatedAt: at(0), UpdatedAt: at(0)}, 10))
	must(t, db.CreatePermission(ctx, "acme", a.ClientID, &app.Permission{Name: "write", CreatedAt: at(0), UpdatedAt: at(0)}, 10))
	mkRole(t, db, "acme", "reader", grant(a.ClientID, "read"))
	mkRole(t, db, "acme", "writer", grant(a.ClientID, "write"))
	u := mkUser(t, db, "acme", "alice")
	want := func(step string, roles, perms []string, state user.State) {
		t.Helper()
		for range 2 { // the first read may fill the cache, the second hits it
			got := accessOf(t, db, "acme", u.ID, a.ClientID)
			if diff := cmp.Diff(access{roles, perms}, got, equateEmpty); diff != "" {
				t.Fatalf("%s: access (-want +got):\n%s", step, diff)
			}
			if s := getUser(t, db, "acme", u.ID).State; s != state {
				t.Fatalf("%s: state %q, want %q", step, s, state)
			}
		}
	}
	want("no roles", nil, nil, user.Active)
	must(t, db.AssignRole(ctx, "acme", u.ID, "reader"))
	want("reader assigned", []string{"reader"}, []string{"read"}, user.Active)
	must(t, db.CreateSession(ctx, "acme", &grantpkg.Session{Hash: grantpkg.Hash(grantpkg.NewSecret()), SID: grantpkg.NewOrderedID(), UserID: u.ID, AuthTime: at(0), CreatedAt: at(0), ExpiresAt: at(0).Add(time.Hour)}))
	want("after a grant write", []string{"reader"}, []string{"read"}, user.Active)
	must(t, db.SetUserRoles(ctx, "acme", u.ID, []string{"reader", "writer"}))
	want("roles set", []string{"reader", "writer"}, []string{"read", "write"}, user.Active)
	r := getRole(t, db, "acme", "writer")
	r.Permissions = []user.Grant{}
	must(t, db.UpdateRole(ctx, "acme", "writer", r))
	want("writer role emptied", []string{"reader"}, []string{"read"}, user.Active)
	must(t, db.SetState(ctx, "acme", u.ID, user.Blocked, at(1)))
	want("blocked", []string{"reader"}, []string{"read"}, user.Blocked)
	must(t, db.SetState(ctx, "acme", u.ID, user.Active, at(2)))
	want("unblocked", []string{"reader"}, []string{"read"}, user.Active)
	must(t, db.DeletePermission(ctx, "acme", a.ClientID, "read"))
	want("permission deleted", nil, nil, user.Active)
	must(t, db.UnassignRole(ctx, "acme", u.ID, "writer"))
	must(t, db.DeleteRole(ctx, "acme", "reader"))
	want("roles gone", nil, nil, user.Active)
	must(t, db.DeleteUser(ctx, "acme", u.ID))
	if _, err := db.GetUser(ctx, "acme", u.ID); !derrors.Is(err, derrors.NotFound) {
		t.Fatalf("deleted user: %v", err)
	}
	if _, _, err := db.Access(ctx, "acme", u.ID, a.ClientID); !derrors.Is(err, derrors.NotFound) {
		t.Fatalf("deleted user's access: %v", err)
	}
}
