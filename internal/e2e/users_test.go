package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/cli"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// cliIn runs a gatehouse command with stdin against the instance.
func (i *instance) cliIn(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), append([]string{"--data-dir", i.DataDir}, args...), cli.Env{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" },
	})
	return out.String(), errb.String(), code
}

// cliInJSON runs a command with stdin and -o json, requires success and
// decodes stdout.
func (i *instance) cliInJSON(t *testing.T, stdin string, v any, args ...string) string {
	t.Helper()
	out, errs, code := i.cliIn(t, stdin, append(args, "-o", "json")...)
	if code != 0 {
		t.Fatalf("gatehouse %s: exit %d: %s", strings.Join(args, " "), code, errs)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("gatehouse %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// cliFails runs a command that must fail with a one-line error containing
// want.
func (i *instance) cliFails(t *testing.T, stdin, want string, args ...string) {
	t.Helper()
	_, errs, code := i.cliIn(t, stdin, args...)
	if code != 1 || !strings.HasPrefix(errs, "gatehouse: ") || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, want) {
		t.Errorf("gatehouse %s: exit %d, stderr %q; want one line containing %q", strings.Join(args, " "), code, errs, want)
	}
}

type userJSON struct {
	ID            string   `json:"id"`
	Username      string   `json:"username"`
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	GivenName     string   `json:"given_name"`
	FamilyName    string   `json:"family_name"`
	Groups        []string `json:"groups"`
	State         string   `json:"state"`
	BlockedAt     string   `json:"blocked_at"`
	HasPassword   bool     `json:"has_password"`
}

type accessJSON struct {
	ClientID    string   `json:"client_id"`
	Roles       []string `json:"roles"`
	Permissions []string `json:"permissions"`
}

type roleJSON struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Permissions []struct {
		ClientID   string `json:"client_id"`
		Permission string `json:"permission"`
	} `json:"permissions"`
}

func (r roleJSON) grants() []string {
	var out []string
	for _, g := range r.Permissions {
		out = append(out, g.ClientID+":"+g.Permission)
	}
	return out
}

// storedHash reads a user's password hash straight from the SQLite file.
func storedHash(t *testing.T, dataDir, userID string) string {
	t.Helper()
	path := filepath.Join(dataDir, "gatehouse.db")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var h string
	if err := db.QueryRow("SELECT password_hash FROM users WHERE id = ?", userID).Scan(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

// R-USR-1, R-USR-2, R-ROL-1 through the CLI: users with passwords read
// from stdin, listing, blocking, roles bundling permissions of two apps and
// the access a token for each app carries.
func TestUsersAndRolesCLI(t *testing.T) {
	inst := start(t, options{})
	inst.createTenant(t, "acme", "ES256")
	portal := inst.createApp(t, "acme", "--type", "web", "--name", "portal", "--redirect-uri", "https://portal.example.com/cb")
	billing := inst.createApp(t, "acme", "--type", "s2s", "--name", "billing")
	for _, p := range []struct{ app, name string }{{portal.ClientID, "read"}, {portal.ClientID, "write"}, {billing.ClientID, "read"}, {billing.ClientID, "approve"}} {
		if _, errs, code := inst.cli(t, "permission", "create", "--tenant", "acme", "--app", p.app, p.name); code != 0 {
			t.Fatalf("permission create %s: %s", p.name, errs)
		}
	}

	// Create with the password on stdin; it is never echoed.
	const alicePassword = "correct horse battery staple ✓"
	var alice userJSON
	out := inst.cliInJSON(t, alicePassword+"\n", &alice, "user", "create", "--tenant", "acme", "--username", "Alice", "--email", "Alice@Example.com",
		"--given-name", "Alice", "--family-name", "Smith", "--group", "staff", "--group", "CN=Ops,DC=example,DC=com", "--email-verified", "--password-stdin")
	if len(alice.ID) != user.IDLength || alice.Username != "Alice" || alice.State != "active" || !alice.HasPassword || !alice.EmailVerified ||
		!slices.Equal(alice.Groups, []string{"staff", "CN=Ops,DC=example,DC=com"}) {
		t.Fatalf("user create: %+v", alice)
	}
	if strings.Contains(out, "correct horse") || strings.Contains(out, "argon2") || strings.Contains(out, "password_hash") {
		t.Fatalf("user create output shows the password or its hash: %s", out)
	}
	// Stored as an argon2id hash that verifies.
	h := storedHash(t, inst.DataDir, alice.ID)
	if ok, _, err := user.VerifyPassword(h, alicePassword, user.DefaultParams()); !ok || err != nil || !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("stored hash %q does not verify the password given on stdin: %v", h, err)
	}

	var bob userJSON
	inst.cliJSON(t, &bob, "user", "create", "--tenant", "acme", "--username", "bob", "--email", "bob@example.com")
	if bob.HasPassword {
		t.Fatal("a user created without --password-stdin has a password")
	}
	inst.cliFails(t, "", "--password-stdin", "user", "set-password", "--tenant", "acme", bob.ID)
	inst.cliFails(t, "", "stdin holds no password", "user", "set-password", "--tenant", "acme", bob.ID, "--password-stdin")
	inst.cliFails(t, "short\n", "password", "user", "set-password", "--tenant", "acme", bob.ID, "--password-stdin")
	if out, errs, code := inst.cliIn(t, "bobs-new-password\n", "user", "set-password", "--tenant", "acme", bob.ID, "--password-stdin"); code != 0 || strings.Contains(out, "bobs-new") {
		t.Fatalf("set-password: exit %d %q %q", code, out, errs)
	}
	if ok, _, _ := user.VerifyPassword(storedHash(t, inst.DataDir, bob.ID), "bobs-new-password", user.DefaultParams()); !ok {
		t.Fatal("set-password did not store the password read from stdin")
	}
	inst.cliInJSON(t, "", &bob, "user", "get", "--tenant", "acme", bob.ID)
	if !bob.HasPassword {
		t.Fatal("after set-password the user has no password")
	}

	// Refusals: one line naming the problem.
	inst.cliFails(t, "", "username", "user", "create", "--tenant", "acme", "--username", "ALICE", "--email", "other@example.com")
	inst.cliFails(t, "", "email", "user", "create", "--tenant", "acme", "--username", "carol", "--email", "alice@EXAMPLE.com")
	inst.cliFails(t, "", "email", "user", "create", "--tenant", "acme", "--username", "carol", "--email", "not-an-address")
	inst.cliFails(t, "1234567", "password", "user", "create", "--tenant", "acme", "--username", "carol", "--email", "carol@example.com", "--password-stdin")

	// List, by username ignoring case; text and JSON.
	var list struct {
		Items []userJSON `json:"items"`
	}
	inst.cliJSON(t, &list, "user", "list", "--tenant", "acme")
	if len(list.Items) != 2 || list.Items[0].Username != "Alice" || list.Items[1].Username != "bob" {
		t.Fatalf("user list: %+v", list.Items)
	}
	text, _, _ := inst.cli(t, "user", "list", "--tenant", "acme", "--limit", "1")
	if !strings.Contains(text, "USERNAME") || !strings.Contains(text, "Alice") || strings.Contains(text, "bob") || !strings.Contains(text, "more: --cursor alice") {
		t.Fatalf("user list text, one per page:\n%s", text)
	}

	// Update keeps what it is not told.
	var up userJSON
	inst.cliJSON(t, &up, "user", "update", "--tenant", "acme", alice.ID, "--given-name", "Ally", "--email-verified=false")
	if up.GivenName != "Ally" || up.FamilyName != "Smith" || up.Email != "Alice@Example.com" || up.EmailVerified || len(up.Groups) != 2 || !up.HasPassword {
		t.Fatalf("user update: %+v", up)
	}
	var cleared userJSON
	inst.cliJSON(t, &cleared, "user", "update", "--tenant", "acme", alice.ID, "--clear-groups")
	if len(cleared.Groups) != 0 || cleared.GivenName != "Ally" {
		t.Fatalf("user update --clear-groups: %+v", cleared)
	}

	// R-USR-2: block and unblock.
	var st userJSON
	inst.cliJSON(t, &st, "user", "block", "--tenant", "acme", alice.ID)
	if st.State != "blocked" || st.BlockedAt == "" {
		t.Fatalf("user block: %+v", st)
	}
	inst.cliJSON(t, &st, "user", "get", "--tenant", "acme", alice.ID)
	if st.State != "blocked" {
		t.Fatalf("user get after block: %+v", st)
	}
	text, _, _ = inst.cli(t, "user", "unblock", "--tenant", "acme", alice.ID)
	if !strings.Contains(text, "state:") || !strings.Contains(text, "active") {
		t.Fatalf("user unblock text:\n%s", text)
	}

	// R-ROL-1: roles bundling permissions of two apps.
	var role roleJSON
	inst.cliJSON(t, &role, "role", "create", "--tenant", "acme", "staff", "--description", "Everyone",
		"--permission", portal.ClientID+":read", "--permission", billing.ClientID+":read")
	if role.Name != "staff" || len(role.Permissions) != 2 {
		t.Fatalf("role create: %+v", role)
	}
	inst.cliJSON(t, &role, "role", "create", "--tenant", "acme", "editor", "--permission", portal.ClientID+":write", "--permission", portal.ClientID+":read")
	inst.cliJSON(t, &role, "role", "create", "--tenant", "acme", "approver", "--permission", billing.ClientID+":approve")
	inst.cliFails(t, "", "permissions", "role", "create", "--tenant", "acme", "ghost", "--permission", portal.ClientID+":delete")
	inst.cliFails(t, "", "CLIENT_ID:PERMISSION", "role", "create", "--tenant", "acme", "ghost", "--permission", "read")
	inst.cliFails(t, "", "name", "role", "create", "--tenant", "acme", "bad-name")

	var roles struct {
		Roles []string `json:"roles"`
	}
	inst.cliJSON(t, &roles, "user", "roles", "set", "--tenant", "acme", alice.ID, "staff", "editor", "approver")
	if !slices.Equal(roles.Roles, []string{"approver", "editor", "staff"}) {
		t.Fatalf("user roles set: %v", roles.Roles)
	}
	inst.cliJSON(t, &roles, "user", "roles", "set", "--tenant", "acme", bob.ID, "staff")
	inst.cliFails(t, "", "roles", "user", "roles", "set", "--tenant", "acme", bob.ID, "staff", "nonexistent")
	inst.cliJSON(t, &roles, "user", "roles", "get", "--tenant", "acme", bob.ID)
	if !slices.Equal(roles.Roles, []string{"staff"}) {
		t.Fatalf("a refused roles set changed bob's roles: %v", roles.Roles)
	}

	checkAccess := func(what, userID, clientID string, wantRoles, wantPerms []string) {
		t.Helper()
		var a accessJSON
		inst.cliJSON(t, &a, "user", "access", "--tenant", "acme", userID, "--app", clientID)
		if a.ClientID != clientID || !slices.Equal(a.Roles, wantRoles) || !slices.Equal(a.Permissions, wantPerms) {
			t.Errorf("%s: access %+v, want roles %v permissions %v", what, a, wantRoles, wantPerms)
		}
	}
	checkAccess("alice in portal", alice.ID, portal.ClientID, []string{"editor", "staff"}, []string{"read", "write"})
	checkAccess("alice in billing", alice.ID, billing.ClientID, []string{"approver", "staff"}, []string{"approve", "read"})
	checkAccess("bob in portal", bob.ID, portal.ClientID, []string{"staff"}, []string{"read"})
	text, _, _ = inst.cli(t, "user", "access", "--tenant", "acme", alice.ID, "--app", portal.ClientID)
	if !strings.Contains(text, "roles:") || !strings.Contains(text, "editor,staff") || !strings.Contains(text, "read,write") {
		t.Errorf("user access text:\n%s", text)
	}

	// Role update keeps what it is not told; --permission replaces the list.
	var updated roleJSON
	inst.cliJSON(t, &updated, "role", "update", "--tenant", "acme", "staff", "--permission", billing.ClientID+":read")
	if updated.Description != "Everyone" || !slices.Equal(updated.grants(), []string{billing.ClientID + ":read"}) {
		t.Fatalf("role update: %+v", updated)
	}
	checkAccess("bob in portal after the update", bob.ID, portal.ClientID, []string{}, []string{})
	// Rename: assignments follow.
	inst.cliJSON(t, &role, "role", "update", "--tenant", "acme", "approver", "--name", "approvers", "--description", "Approve invoices")
	checkAccess("alice in billing after the rename", alice.ID, billing.ClientID, []string{"approvers", "staff"}, []string{"approve", "read"})
	text, _, _ = inst.cli(t, "role", "get", "--tenant", "acme", "editor")
	if !strings.Contains(text, portal.ClientID+":read, "+portal.ClientID+":write") {
		t.Errorf("role get text:\n%s", text)
	}
	text, _, _ = inst.cli(t, "role", "list", "--tenant", "acme")
	if !strings.Contains(text, "PERMISSIONS") || !strings.Contains(text, "approvers") || !strings.Contains(text, billing.ClientID+":approve") {
		t.Errorf("role list text:\n%s", text)
	}
	var rl struct {
		Items []roleJSON `json:"items"`
	}
	inst.cliJSON(t, &rl, "role", "list", "--tenant", "acme")
	if len(rl.Items) != 3 || rl.Items[0].Name != "approvers" || rl.Items[1].Name != "editor" || rl.Items[2].Name != "staff" {
		t.Fatalf("role list: %+v", rl.Items)
	}
	if _, errs, code := inst.cli(t, "role", "delete", "--tenant", "acme", "editor"); code != 0 {
		t.Fatal(errs)
	}
	inst.cliJSON(t, &roles, "user", "roles", "get", "--tenant", "acme", alice.ID)
	if !slices.Equal(roles.Roles, []string{"approvers", "staff"}) {
		t.Fatalf("alice's roles after deleting editor: %v", roles.Roles)
	}
	inst.cliJSON(t, &roles, "user", "roles", "set", "--tenant", "acme", alice.ID)
	if len(roles.Roles) != 0 {
		t.Fatalf("user roles set without roles: %v", roles.Roles)
	}

	// Delete needs --confirm.
	inst.cliFails(t, "", "--confirm", "user", "delete", "--tenant", "acme", bob.ID)
	if out, errs, code := inst.cli(t, "user", "delete", "--tenant", "acme", bob.ID, "--confirm"); code != 0 || !strings.Contains(out, "deleted") {
		t.Fatalf("user delete: %d %s %s", code, out, errs)
	}
	inst.cliFails(t, "", "not found", "user", "get", "--tenant", "acme", bob.ID)

	// Neither the logs nor the database files hold a password.
	var db []byte
	for _, f := range []string{"gatehouse.db", "gatehouse.db-wal"} {
		if b, err := os.ReadFile(filepath.Join(inst.DataDir, f)); err == nil {
			db = append(db, b...)
		}
	}
	if !bytes.Contains(db, []byte(h)) {
		t.Fatal("the database files do not hold alice's hash: the scan would prove nothing")
	}
	for _, pw := range []string{alicePassword, "bobs-new-password"} {
		if strings.Contains(inst.Logs.String(), pw) {
			t.Errorf("the log holds the password %q", pw)
		}
		if bytes.Contains(db, []byte(pw)) {
			t.Errorf("the database files hold the password %q", pw)
		}
	}
}

// Every validation rule of R-USR-1 and R-ROL-1 through the admin API: a 400
// whose problem document names the field, and nothing created; conflicts
// are 409 naming the field; passwords are never echoed.
func TestUsersAPIValidation(t *testing.T) {
	inst := start(t, options{})
	tok := inst.adminToken(t)
	inst.createTenant(t, "acme", "")
	portal := inst.createApp(t, "acme", "--type", "s2s", "--name", "portal")
	if r := inst.api(t, tok, "POST", "/admin/v1/tenants/acme/apps/"+portal.ClientID+"/permissions", map[string]any{"name": "read"}); r.Status != 201 {
		t.Fatalf("permission: %d %s", r.Status, r.Raw)
	}
	users := "/admin/v1/tenants/acme/users"
	with := func(kv ...any) map[string]any {
		m := map[string]any{"username": "valid.user", "email": "valid@example.com"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	groups := make([]string, 101)
	for i := range groups {
		groups[i] = fmt.Sprint("g", i)
	}
	for _, tc := range []struct {
		name  string
		body  any
		field string
	}{
		{"R-USR-1 username missing", with("username", ""), "username"},
		{"R-USR-1 username chars", with("username", "alice smith"), "username"},
		{"R-USR-1 username length", with("username", strings.Repeat("u", 101)), "username"},
		{"R-USR-1 email missing", with("email", ""), "email"},
		{"R-USR-1 email syntax", with("email", "alice.example.com"), "email"},
		{"R-USR-1 email display name", with("email", "Alice <alice@example.com>"), "email"},
		{"R-USR-1 email length", with("email", strings.Repeat("a", 250)+"@x.io"), "email"},
		{"R-USR-1 given name length", with("given_name", strings.Repeat("é", 101)), "given_name"},
		{"R-USR-1 family name control", with("family_name", "a\u0000b"), "family_name"},
		{"R-USR-1 groups count", with("groups", groups), "groups"},
		{"R-USR-1 group repeated", with("groups", []string{"a", "a"}), "groups"},
		{"R-USR-1 password short", with("password", "1234567"), "password"},
		{"R-USR-1 password empty", with("password", ""), "password"},
		{"R-USR-1 password long", with("password", strings.Repeat("p", 257)), "password"},
		{"R-USR-1 chosen id", with("id", "AAAAAAAAAAAAAAAAAAAA"), "id"},
		{"state is not an input", with("state", "blocked"), "state"},
		{"unknown field", with("colour", "red"), "colour"},
		{"wrong type", with("email_verified", "yes"), "email_verified"},
		{"not JSON", "{", "body"},
	} {
		t.Run("user/"+tc.name, func(t *testing.T) {
			r := inst.api(t, tok, "POST", users, tc.body)
			if r.Status != 400 || r.Body["field"] != tc.field || r.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("got %d %s, want 400 naming %q", r.Status, r.Raw, tc.field)
			}
		})
	}
	if r := inst.api(t, tok, "GET", users, nil); r.Status != 200 || len(r.Body["items"].([]any)) != 0 {
		t.Fatalf("a refused request created a user: %s", r.Raw)
	}

	const pw = "an-admin-chosen-password"
	r := inst.api(t, tok, "POST", users, with("username", "Alice", "email", "alice@example.com", "password", pw))
	if r.Status != 201 || r.Body["has_password"] != true || strings.Contains(r.Raw, pw) || strings.Contains(r.Raw, "argon2") {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	id := r.Body["id"].(string)
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"username, other case", with("username", "ALICE", "email", "x@example.com"), "username"},
		{"email, other case", with("username", "x", "email", "ALICE@example.COM"), "email"},
	} {
		if r := inst.api(t, tok, "POST", users, tc.body); r.Status != 409 || r.Body["field"] != tc.field {
			t.Errorf("duplicate %s: %d %s", tc.name, r.Status, r.Raw)
		}
	}
	one := users + "/" + id
	if r := inst.api(t, tok, "PATCH", one, map[string]any{"email": "bad"}); r.Status != 400 || r.Body["field"] != "email" {
		t.Errorf("PATCH bad email: %d %s", r.Status, r.Raw)
	}
	if r := inst.api(t, tok, "PATCH", one, map[string]any{"password": "x"}); r.Status != 400 || r.Body["field"] != "password" {
		t.Errorf("PATCH password (not a profile field): %d %s", r.Status, r.Raw)
	}
	if r := inst.api(t, tok, "PATCH", one, map[string]any{"family_name": "Smith"}); r.Status != 200 || r.Body["username"] != "Alice" || r.Body["family_name"] != "Smith" {
		t.Errorf("PATCH keeps the rest: %d %s", r.Status, r.Raw)
	}
	for _, body := range []any{map[string]any{"password": "short"}, map[string]any{}, map[string]any{"password": "valid-password", "extra": 1}} {
		if r := inst.api(t, tok, "PUT", one+"/password", body); r.Status != 400 {
			t.Errorf("PUT password %v: %d %s", body, r.Status, r.Raw)
		}
	}
	r = inst.api(t, tok, "PUT", one+"/password", map[string]any{"password": "another-password"})
	if r.Status != 204 || r.Raw != "" {
		t.Errorf("PUT password: %d %q (want 204 with no body)", r.Status, r.Raw)
	}
	if r := inst.api(t, tok, "DELETE", one, nil); r.Status != 400 || r.Body["field"] != "confirm" {
		t.Errorf("DELETE without confirm: %d %s", r.Status, r.Raw)
	}
	if r := inst.api(t, tok, "GET", one+"/access", nil); r.Status != 400 || r.Body["field"] != "client_id" {
		t.Errorf("access without client_id: %d %s", r.Status, r.Raw)
	}
	if r := inst.api(t, tok, "GET", one+"/access?client_id=NoSuchApp0000000", nil); r.Status != 404 {
		t.Errorf("access to an unknown app: %d %s", r.Status, r.Raw)
	}
	if r := inst.api(t, tok, "GET", users+"/NoSuchUser/roles", nil); r.Status != 404 {
		t.Errorf("roles of an unknown user: %d %s", r.Status, r.Raw)
	}
	if r := inst.api(t, tok, "POST", users+"/NoSuchUser/block", nil); r.Status != 404 {
		t.Errorf("block an unknown user: %d %s", r.Status, r.Raw)
	}
	if r := inst.api(t, tok, "GET", users+"?limit=0", nil); r.Status != 400 || r.Body["field"] != "limit" {
		t.Errorf("bad limit: %d %s", r.Status, r.Raw)
	}

	roles := "/admin/v1/tenants/acme/roles"
	for _, tc := range []struct {
		name  string
		body  any
		field string
	}{
		{"R-ROL-1 name missing", map[string]any{"name": ""}, "name"},
		{"R-ROL-1 name chars", map[string]any{"name": "my-role"}, "name"},
		{"R-ROL-1 name length", map[string]any{"name": strings.Repeat("r", 65)}, "name"},
		{"R-ROL-1 description length", map[string]any{"name": "r", "description": strings.Repeat("d", 201)}, "description"},
		{"R-ROL-1 unknown permission", map[string]any{"name": "r", "permissions": []any{map[string]any{"client_id": portal.ClientID, "permission": "write"}}}, "permissions"},
		{"R-ROL-1 unknown app", map[string]any{"name": "r", "permissions": []any{map[string]any{"client_id": "NoSuchApp0000000", "permission": "read"}}}, "permissions"},
		{"R-ROL-1 bad permission name", map[string]any{"name": "r", "permissions": []any{map[string]any{"client_id": portal.ClientID, "permission": "read all"}}}, "permissions"},
		{"R-ROL-1 repeated grant", map[string]any{"name": "r", "permissions": []any{
			map[string]any{"client_id": portal.ClientID, "permission": "read"}, map[string]any{"client_id": portal.ClientID, "permission": "read"}}}, "permissions"},
		{"unknown grant field", map[string]any{"name": "r", "permissions": []any{map[string]any{"client_id": portal.ClientID, "permission": "read", "app": "x"}}}, "app"},
	} {
		t.Run("role/"+tc.name, func(t *testing.T) {
			r := inst.api(t, tok, "POST", roles, tc.body)
			if r.Status != 400 || r.Body["field"] != tc.field {
				t.Fatalf("got %d %s, want 400 naming %q", r.Status, r.Raw, tc.field)
			}
		})
	}
	if r := inst.api(t, tok, "GET", roles, nil); r.Status != 200 || len(r.Body["items"].([]any)) != 0 {
		t.Fatalf("a refused request created a role: %s", r.Raw)
	}
	if r := inst.api(t, tok, "POST", roles, map[string]any{"name": "staff"}); r.Status != 201 || r.Raw == "" {
		t.Fatalf("create role: %d %s", r.Status, r.Raw)
	}
	if r := inst.api(t, tok, "POST", roles, map[string]any{"name": "staff"}); r.Status != 409 || r.Body["field"] != "name" {
		t.Errorf("duplicate role: %d %s", r.Status, r.Raw)
	}
	for _, body := range []any{map[string]any{"roles": []string{"nope"}}, map[string]any{"roles": []string{"staff", "staff"}}, map[string]any{"roles": []string{"bad name"}}} {
		if r := inst.api(t, tok, "PUT", one+"/roles", body); r.Status != 400 || r.Body["field"] != "roles" {
			t.Errorf("PUT roles %v: %d %s", body, r.Status, r.Raw)
		}
	}
	if r := inst.api(t, tok, "PUT", roles+"/missing", map[string]any{}); r.Status != 404 {
		t.Errorf("PUT a missing role: %d %s", r.Status, r.Raw)
	}

	// Pagination by username.
	for _, n := range []string{"bob", "Carol", "dave"} {
		if r := inst.api(t, tok, "POST", users, with("username", n, "email", n+"@example.com")); r.Status != 201 {
			t.Fatalf("create %s: %d %s", n, r.Status, r.Raw)
		}
	}
	var names []string
	cursor := ""
	for range 10 {
		r := inst.api(t, tok, "GET", users+"?limit=2&cursor="+url.QueryEscape(cursor), nil)
		for _, it := range r.Body["items"].([]any) {
			names = append(names, it.(map[string]any)["username"].(string))
		}
		c, _ := r.Body["next_cursor"].(string)
		if c == "" {
			break
		}
		cursor = c
	}
	if !slices.Equal(names, []string{"Alice", "bob", "Carol", "dave"}) {
		t.Errorf("paged users: %v", names)
	}
	if strings.Contains(inst.Logs.String(), pw) || strings.Contains(inst.Logs.String(), "another-password") {
		t.Error("the log holds a password")
	}
}

// R-PRM-2 through the API: deleting a permission removes it from every
// role at once, renaming it renames the grants, deleting its app removes
// the app's grants; what a token for the app carries follows.
func TestRolesFollowPermissions(t *testing.T) {
	inst := start(t, options{})
	tok := inst.adminToken(t)
	inst.createTenant(t, "acme", "")
	portal := inst.createApp(t, "acme", "--type", "s2s", "--name", "portal")
	billing := inst.createApp(t, "acme", "--type", "s2s", "--name", "billing")
	perm := func(clientID string) string { return "/admin/v1/tenants/acme/apps/" + clientID + "/permissions" }
	for _, p := range []struct{ app, name string }{{portal.ClientID, "read"}, {portal.ClientID, "write"}, {billing.ClientID, "read"}} {
		if r := inst.api(t, tok, "POST", perm(p.app), map[string]any{"name": p.name}); r.Status != 201 {
			t.Fatalf("permission: %d %s", r.Status, r.Raw)
		}
	}
	g := func(c, p string) map[string]any { return map[string]any{"client_id": c, "permission": p} }
	roles := "/admin/v1/tenants/acme/roles"
	for _, body := range []map[string]any{
		{"name": "staff", "permissions": []any{g(portal.ClientID, "read"), g(billing.ClientID, "read")}},
		{"name": "editor", "permissions": []any{g(portal.ClientID, "write"), g(portal.ClientID, "read")}},
	} {
		if r := inst.api(t, tok, "POST", roles, body); r.Status != 201 {
			t.Fatalf("role: %d %s", r.Status, r.Raw)
		}
	}
	r := inst.api(t, tok, "POST", "/admin/v1/tenants/acme/users", map[string]any{"username": "alice", "email": "alice@example.com"})
	if r.Status != 201 {
		t.Fatal(r.Raw)
	}
	u := "/admin/v1/tenants/acme/users/" + r.Body["id"].(string)
	if r := inst.api(t, tok, "PUT", u+"/roles", map[string]any{"roles": []string{"staff", "editor"}}); r.Status != 200 {
		t.Fatalf("set roles: %d %s", r.Status, r.Raw)
	}
	access := func(clientID string) accessJSON {
		t.Helper()
		r := inst.api(t, tok, "GET", u+"/access?client_id="+clientID, nil)
		if r.Status != 200 {
			t.Fatalf("access: %d %s", r.Status, r.Raw)
		}
		var a accessJSON
		if err := json.Unmarshal([]byte(r.Raw), &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	grants := func(name string) []string {
		t.Helper()
		r := inst.api(t, tok, "GET", roles+"/"+name, nil)
		if r.Status != 200 {
			t.Fatalf("get role %s: %d %s", name, r.Status, r.Raw)
		}
		var ro roleJSON
		if err := json.Unmarshal([]byte(r.Raw), &ro); err != nil {
			t.Fatal(err)
		}
		return ro.grants()
	}
	check := func(what string, a accessJSON, roles, perms []string) {
		t.Helper()
		if !slices.Equal(a.Roles, roles) || !slices.Equal(a.Permissions, perms) {
			t.Errorf("%s: %+v, want roles %v permissions %v", what, a, roles, perms)
		}
	}
	check("portal before", access(portal.ClientID), []string{"editor", "staff"}, []string{"read", "write"})

	if r := inst.api(t, tok, "DELETE", perm(portal.ClientID)+"/read", nil); r.Status != 204 {
		t.Fatalf("delete permission: %d %s", r.Status, r.Raw)
	}
	if got := grants("staff"); !slices.Equal(got, []string{billing.ClientID + ":read"}) {
		t.Errorf("staff after deleting portal:read: %v", got)
	}
	if got := grants("editor"); !slices.Equal(got, []string{portal.ClientID + ":write"}) {
		t.Errorf("editor after deleting portal:read: %v", got)
	}
	check("portal after the delete", access(portal.ClientID), []string{"editor"}, []string{"write"})
	check("billing after the delete", access(billing.ClientID), []string{"staff"}, []string{"read"})

	if r := inst.api(t, tok, "PATCH", perm(portal.ClientID)+"/write", map[string]any{"name": "edit"}); r.Status != 200 {
		t.Fatalf("rename permission: %d %s", r.Status, r.Raw)
	}
	if got := grants("editor"); !slices.Equal(got, []string{portal.ClientID + ":edit"}) {
		t.Errorf("editor after the rename: %v", got)
	}
	check("portal after the rename", access(portal.ClientID), []string{"editor"}, []string{"edit"})

	if r := inst.api(t, tok, "DELETE", "/admin/v1/tenants/acme/apps/"+billing.ClientID+"?confirm=billing", nil); r.Status != 204 {
		t.Fatalf("delete app: %d %s", r.Status, r.Raw)
	}
	if got := grants("staff"); len(got) != 0 {
		t.Errorf("staff after deleting billing: %v", got)
	}
	if r := inst.api(t, tok, "GET", u+"/roles", nil); r.Status != 200 || !strings.Contains(r.Raw, `"editor"`) || !strings.Contains(r.Raw, `"staff"`) {
		t.Errorf("the user's roles stay: %d %s", r.Status, r.Raw)
	}
}

// R-TEN-1: a tenant cannot see or touch another tenant's users and roles,
// nor grant its permissions.
func TestUsersTenantIsolation(t *testing.T) {
	inst := start(t, options{})
	tok := inst.adminToken(t)
	inst.createTenant(t, "acme", "")
	inst.createTenant(t, "globex", "")
	acmeApp := inst.createApp(t, "acme", "--type", "s2s", "--name", "portal")
	if r := inst.api(t, tok, "POST", "/admin/v1/tenants/acme/apps/"+acmeApp.ClientID+"/permissions", map[string]any{"name": "read"}); r.Status != 201 {
		t.Fatal(r.Raw)
	}
	if r := inst.api(t, tok, "POST", "/admin/v1/tenants/acme/roles", map[string]any{"name": "staff", "permissions": []any{map[string]any{"client_id": acmeApp.ClientID, "permission": "read"}}}); r.Status != 201 {
		t.Fatal(r.Raw)
	}
	r := inst.api(t, tok, "POST", "/admin/v1/tenants/acme/users", map[string]any{"username": "alice", "email": "alice@example.com", "password": "alice-password"})
	if r.Status != 201 {
		t.Fatal(r.Raw)
	}
	id := r.Body["id"].(string)
	if r := inst.api(t, tok, "PUT", "/admin/v1/tenants/acme/users/"+id+"/roles", map[string]any{"roles": []string{"staff"}}); r.Status != 200 {
		t.Fatal(r.Raw)
	}
	before := inst.api(t, tok, "GET", "/admin/v1/tenants/acme/users/"+id, nil).Raw

	g := "/admin/v1/tenants/globex"
	gu := g + "/users/" + id
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", gu, nil},
		{"PATCH", gu, map[string]any{"username": "owned"}},
		{"DELETE", gu + "?confirm=" + id, nil},
		{"PUT", gu + "/password", map[string]any{"password": "attacker-password"}},
		{"POST", gu + "/block", nil},
		{"POST", gu + "/unblock", nil},
		{"GET", gu + "/roles", nil},
		{"PUT", gu + "/roles", map[string]any{"roles": []string{}}},
		{"GET", gu + "/access?client_id=" + acmeApp.ClientID, nil},
		{"GET", g + "/roles/staff", nil},
		{"PUT", g + "/roles/staff", map[string]any{"description": "owned"}},
		{"DELETE", g + "/roles/staff", nil},
	} {
		if r := inst.api(t, tok, c.method, c.path, c.body); r.Status != 404 {
			t.Errorf("%s %s: %d %s, want 404", c.method, c.path, r.Status, r.Raw)
		}
	}
	if r := inst.api(t, tok, "GET", g+"/users", nil); r.Status != 200 || len(r.Body["items"].([]any)) != 0 {
		t.Errorf("globex lists acme's users: %s", r.Raw)
	}
	if r := inst.api(t, tok, "GET", g+"/roles", nil); r.Status != 200 || len(r.Body["items"].([]any)) != 0 {
		t.Errorf("globex lists acme's roles: %s", r.Raw)
	}
	// Globex cannot grant acme's permission, nor give its user acme's role.
	r = inst.api(t, tok, "POST", g+"/roles", map[string]any{"name": "thief", "permissions": []any{map[string]any{"client_id": acmeApp.ClientID, "permission": "read"}}})
	if r.Status != 400 || r.Body["field"] != "permissions" {
		t.Errorf("globex role granting acme's permission: %d %s", r.Status, r.Raw)
	}
	r = inst.api(t, tok, "POST", g+"/users", map[string]any{"username": "alice", "email": "alice@example.com"})
	if r.Status != 201 {
		t.Fatalf("globex may have its own alice: %d %s", r.Status, r.Raw)
	}
	gid := r.Body["id"].(string)
	if r := inst.api(t, tok, "PUT", g+"/users/"+gid+"/roles", map[string]any{"roles": []string{"staff"}}); r.Status != 400 || r.Body["field"] != "roles" {
		t.Errorf("globex user given acme's role: %d %s", r.Status, r.Raw)
	}
	if r := inst.api(t, tok, "GET", g+"/users/"+gid+"/access?client_id="+acmeApp.ClientID, nil); r.Status != 404 {
		t.Errorf("globex access to acme's app: %d %s", r.Status, r.Raw)
	}
	// Through the CLI too.
	inst.cliFails(t, "", "not found", "user", "get", "--tenant", "globex", id)
	inst.cliFails(t, "x-password-123", "not found", "user", "set-password", "--tenant", "globex", id, "--password-stdin")

	if after := inst.api(t, tok, "GET", "/admin/v1/tenants/acme/users/"+id, nil).Raw; after != before {
		t.Errorf("acme's user changed:\nbefore %s\nafter  %s", before, after)
	}
	if ok, _, _ := user.VerifyPassword(storedHash(t, inst.DataDir, id), "alice-password", user.DefaultParams()); !ok {
		t.Error("acme's user's password changed")
	}
	r = inst.api(t, tok, "GET", "/admin/v1/tenants/acme/users/"+id+"/access?client_id="+acmeApp.ClientID, nil)
	if r.Status != 200 || !strings.Contains(r.Raw, `"roles":["staff"]`) || !strings.Contains(r.Raw, `"permissions":["read"]`) {
		t.Errorf("acme's access after globex's attempts: %d %s", r.Status, r.Raw)
	}
}
