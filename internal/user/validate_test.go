package user_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// checkField checks that err is nil (field == "") or an Invalid
// *derrors.Error naming field.
func checkField(t *testing.T, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Errorf("got error %q, want none", err)
		}
		return
	}
	var de *derrors.Error
	if !errors.As(err, &de) {
		t.Errorf("got %v (%T), want an Invalid error on %q", err, err, field)
		return
	}
	if de.Kind != derrors.Invalid || de.Field != field {
		t.Errorf("got kind %d on field %q (%q), want Invalid on %q", de.Kind, de.Field, err, field)
	}
}

func validUser() *user.User {
	return &user.User{Username: "alice.smith", Email: "alice@example.com", GivenName: "Alice", FamilyName: "Smith", Groups: []string{"staff"}}
}

// Every R-USR-1 rule: each case changes one thing of a valid user, and the
// error names that field.
func TestUserValidate(t *testing.T) {
	many := func(n int, f func(i int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	cases := []struct {
		name  string
		edit  func(u *user.User)
		field string
	}{
		{"valid", func(*user.User) {}, ""},
		{"username with every allowed character", func(u *user.User) { u.Username = "A-z_0.9@x" }, ""},
		{"username of 100", func(u *user.User) { u.Username = strings.Repeat("u", 100) }, ""},
		{"username that is an email", func(u *user.User) { u.Username = "alice@example.com" }, ""},
		{"username empty", func(u *user.User) { u.Username = "" }, "username"},
		{"username of 101", func(u *user.User) { u.Username = strings.Repeat("u", 101) }, "username"},
		{"username with a space", func(u *user.User) { u.Username = "alice smith" }, "username"},
		{"username with a plus", func(u *user.User) { u.Username = "alice+1" }, "username"},
		{"username non-ASCII", func(u *user.User) { u.Username = "zoë" }, "username"},
		{"username with a slash", func(u *user.User) { u.Username = "a/b" }, "username"},
		{"username with NUL", func(u *user.User) { u.Username = "a\x00b" }, "username"},
		{"email plus tag", func(u *user.User) { u.Email = "alice+tag@example.co.uk" }, ""},
		{"email mixed case", func(u *user.User) { u.Email = "Alice@Example.COM" }, ""},
		{"email of 254", func(u *user.User) { u.Email = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com" }, ""},
		{"email empty", func(u *user.User) { u.Email = "" }, "email"},
		{"email of 255", func(u *user.User) { u.Email = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com" }, "email"},
		{"email without @", func(u *user.User) { u.Email = "alice.example.com" }, "email"},
		{"email without local part", func(u *user.User) { u.Email = "@example.com" }, "email"},
		{"email without domain", func(u *user.User) { u.Email = "alice@" }, "email"},
		{"email with display name", func(u *user.User) { u.Email = "Alice <alice@example.com>" }, "email"},
		{"email in angle brackets", func(u *user.User) { u.Email = "<alice@example.com>" }, "email"},
		{"email with a space", func(u *user.User) { u.Email = "alice smith@example.com" }, "email"},
		{"email with a newline", func(u *user.User) { u.Email = "alice@example.com\n" }, "email"},
		{"email two addresses", func(u *user.User) { u.Email = "a@example.com, b@example.com" }, "email"},
		{"email with a comment", func(u *user.User) { u.Email = "alice@example.com (Alice)" }, "email"},
		{"email domain literal", func(u *user.User) { u.Email = "alice@[127.0.0.1]" }, "email"},
		{"email invalid UTF-8", func(u *user.User) { u.Email = "al\xffce@example.com" }, "email"},
		{"given name of 100 runes", func(u *user.User) { u.GivenName = strings.Repeat("é", 100) }, ""},
		{"given name of 101 runes", func(u *user.User) { u.GivenName = strings.Repeat("é", 101) }, "given_name"},
		{"given name with a newline", func(u *user.User) { u.GivenName = "Al\nice" }, "given_name"},
		{"given name invalid UTF-8", func(u *user.User) { u.GivenName = "\xff" }, "given_name"},
		{"family name of 101 runes", func(u *user.User) { u.FamilyName = strings.Repeat("x", 101) }, "family_name"},
		{"family name with a tab", func(u *user.User) { u.FamilyName = "a\tb" }, "family_name"},
		{"no groups", func(u *user.User) { u.Groups = nil }, ""},
		{"100 groups", func(u *user.User) { u.Groups = many(100, func(i int) string { return strings.Repeat("g", i+1) }) }, ""},
		{"group of 200", func(u *user.User) { u.Groups = []string{strings.Repeat("ü", 200)} }, ""},
		{"101 groups", func(u *user.User) { u.Groups = many(101, func(i int) string { return strings.Repeat("g", i+1) }) }, "groups"},
		{"group of 201", func(u *user.User) { u.Groups = []string{strings.Repeat("g", 201)} }, "groups"},
		{"empty group", func(u *user.User) { u.Groups = []string{""} }, "groups"},
		{"repeated group", func(u *user.User) { u.Groups = []string{"a", "a"} }, "groups"},
		{"group with a control character", func(u *user.User) { u.Groups = []string{"a\x07"} }, "groups"},
		{"blocked state", func(u *user.User) { u.State = user.Blocked }, ""},
		{"unknown state", func(u *user.User) { u.State = "disabled" }, "state"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := validUser()
			tc.edit(u)
			checkField(t, u.Validate(), tc.field)
		})
	}
	u := validUser()
	if err := u.Validate(); err != nil || u.State != user.Active {
		t.Errorf("Validate of a user without state: %v, state %q; want active", err, u.State)
	}
}

func TestValidatePassword(t *testing.T) {
	cases := []struct {
		name, password, field string
	}{
		{"8 bytes", "12345678", ""},
		{"256 bytes", strings.Repeat("p", 256), ""},
		{"unicode", "pässwörd ✓ with spaces", ""},
		{"empty", "", "password"},
		{"7 bytes", "1234567", "password"},
		{"257 bytes", strings.Repeat("p", 257), "password"},
		{"invalid UTF-8", "password\xff", "password"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := user.ValidatePassword(tc.password)
			checkField(t, err, tc.field)
			if err != nil && len(tc.password) >= 4 && strings.Contains(err.Error(), tc.password) {
				t.Errorf("the error %q repeats the password", err)
			}
		})
	}
}

func TestRoleValidate(t *testing.T) {
	g := func(c, p string) user.Grant { return user.Grant{ClientID: c, Permission: p} }
	const cid = "AbCdEfGh12345678"
	many := make([]user.Grant, user.MaxRoleGrants+1)
	for i := range many {
		many[i] = g(cid, "p"+strings.Repeat("x", i%20)+string(rune('a'+i%26))+strings.Repeat("y", i/520))
	}
	cases := []struct {
		name  string
		role  user.Role
		field string
	}{
		{"valid", user.Role{Name: "Accountants_2", Description: "may approve", Permissions: []user.Grant{g(cid, "invoices_read"), g("Other0000000000A", "invoices_read")}}, ""},
		{"no permissions", user.Role{Name: "empty"}, ""},
		{"name of 64", user.Role{Name: strings.Repeat("r", 64)}, ""},
		{"name empty", user.Role{Name: ""}, "name"},
		{"name of 65", user.Role{Name: strings.Repeat("r", 65)}, "name"},
		{"name with a dash", user.Role{Name: "my-role"}, "name"},
		{"name with a space", user.Role{Name: "my role"}, "name"},
		{"name non-ASCII", user.Role{Name: "rôle"}, "name"},
		{"description of 200", user.Role{Name: "r", Description: strings.Repeat("é", 200)}, ""},
		{"description of 201", user.Role{Name: "r", Description: strings.Repeat("é", 201)}, "description"},
		{"description invalid UTF-8", user.Role{Name: "r", Description: "\xff"}, "description"},
		{"grant without client", user.Role{Name: "r", Permissions: []user.Grant{g("", "read")}}, "permissions"},
		{"grant with a bad client ID", user.Role{Name: "r", Permissions: []user.Grant{g("abc:def", "read")}}, "permissions"},
		{"grant without permission", user.Role{Name: "r", Permissions: []user.Grant{g(cid, "")}}, "permissions"},
		{"grant of a 31-char permission", user.Role{Name: "r", Permissions: []user.Grant{g(cid, strings.Repeat("p", 31))}}, "permissions"},
		{"grant of a bad permission name", user.Role{Name: "r", Permissions: []user.Grant{g(cid, "invoices:read")}}, "permissions"},
		{"repeated grant", user.Role{Name: "r", Permissions: []user.Grant{g(cid, "read"), g(cid, "read")}}, "permissions"},
		{"too many grants", user.Role{Name: "r", Permissions: many}, "permissions"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.role
			checkField(t, r.Validate(), tc.field)
			if tc.field == "" && r.Permissions == nil {
				t.Error("Validate left permissions nil, want an empty list")
			}
		})
	}
}

func TestValidateRoleNames(t *testing.T) {
	checkField(t, user.ValidateRoleNames(nil), "")
	checkField(t, user.ValidateRoleNames([]string{"a", "b_2"}), "")
	checkField(t, user.ValidateRoleNames([]string{"a", "a"}), "roles")
	checkField(t, user.ValidateRoleNames([]string{"a", "b-c"}), "roles")
	checkField(t, user.ValidateRoleNames([]string{""}), "roles")
	names := make([]string, user.MaxUserRoles+1)
	for i := range names {
		names[i] = "r" + strings.Repeat("x", i%60) + string(rune('a'+i%26)) + strings.Repeat("z", i/1560)
	}
	checkField(t, user.ValidateRoleNames(names), "roles")
}
