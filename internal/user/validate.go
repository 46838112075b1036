package user

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/text"
)

// Field limits of R-USR-1 and R-ROL-1.
const (
	MaxUsernameLen       = 100
	MaxEmailLen          = 254 // RFC 5321 §4.5.3.1.3 path limit less the brackets
	MaxNameLen           = 100
	MaxGroups            = 100
	MaxGroupLen          = 200
	MinPasswordLen       = 8
	MaxPasswordLen       = 256
	MaxRoleNameLen       = 64
	MaxRoleDescLen       = 200
	MaxRoleGrants        = 1000
	MaxUserRoles         = 1000
	MaxPermissionNameLen = 30 // R-PRM-1
	MaxClientIDLen       = 64
)

// Validate checks every profile field of u against R-USR-1 and fills the
// default state. The error names the first offending field.
func (u *User) Validate() error {
	if err := ValidateUsername(u.Username); err != nil {
		return err
	}
	if err := ValidateEmail(u.Email); err != nil {
		return err
	}
	if err := nameField("given_name", u.GivenName); err != nil {
		return err
	}
	if err := nameField("family_name", u.FamilyName); err != nil {
		return err
	}
	if err := validateGroups(u.Groups); err != nil {
		return err
	}
	switch u.State {
	case "":
		u.State = Active
	case Active, Blocked:
	default:
		return derrors.Invalidf("state", "must be active or blocked")
	}
	return nil
}

// ValidateUsername enforces 1-100 characters of ASCII letters, digits and
// . _ - @ (so that an email address can serve as a username).
func ValidateUsername(s string) error {
	if s == "" {
		return derrors.Invalidf("username", "is required")
	}
	if len(s) > MaxUsernameLen {
		return derrors.Invalidf("username", "must be at most %d characters", MaxUsernameLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isAlnum(c) || c == '.' || c == '_' || c == '-' || c == '@') {
			return derrors.Invalidf("username", "may contain only letters, digits and . _ - @")
		}
	}
	return nil
}

// ValidateEmail accepts a bare address (no display name, no angle brackets)
// that net/mail parses to itself, of at most 254 bytes.
func ValidateEmail(s string) error {
	if s == "" {
		return derrors.Invalidf("email", "is required")
	}
	if len(s) > MaxEmailLen {
		return derrors.Invalidf("email", "must be at most %d characters", MaxEmailLen)
	}
	if !utf8.ValidString(s) || hasControlOrSpace(s) {
		return derrors.Invalidf("email", "%q is not a valid email address", s)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return derrors.Invalidf("email", "%q is not a valid email address", s)
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.HasPrefix(s[at+1:], "[") {
		return derrors.Invalidf("email", "%q is not a valid email address", s)
	}
	return nil
}

// Fold is the case-insensitive key of a username or email: uniqueness and
// lookups use it.
func Fold(s string) string { return strings.ToLower(s) }

func nameField(field, v string) error {
	if !utf8.ValidString(v) {
		return derrors.Invalidf(field, "must be valid UTF-8 text")
	}
	if err := text.Line(v); err != nil {
		return derrors.Invalidf(field, "%v", err)
	}
	if utf8.RuneCountInString(v) > MaxNameLen {
		return derrors.Invalidf(field, "must be at most %d characters", MaxNameLen)
	}
	return nil
}

func validateGroups(groups []string) error {
	if len(groups) > MaxGroups {
		return derrors.Invalidf("groups", "at most %d groups", MaxGroups)
	}
	seen := make(map[string]bool, len(groups))
	for _, g := range groups {
		if g == "" || !utf8.ValidString(g) || text.Line(g) != nil || utf8.RuneCountInString(g) > MaxGroupLen {
			return derrors.Invalidf("groups", "a group must be 1-%d characters of text without control characters", MaxGroupLen)
		}
		if seen[g] {
			return derrors.Invalidf("groups", "%q is listed twice", g)
		}
		seen[g] = true
	}
	return nil
}

// ValidatePassword enforces 8-256 bytes of valid UTF-8. The message never
// repeats the password.
func ValidatePassword(p string) error {
	if len(p) < MinPasswordLen {
		return derrors.Invalidf("password", "must be at least %d characters", MinPasswordLen)
	}
	if len(p) > MaxPasswordLen {
		return derrors.Invalidf("password", "must be at most %d bytes", MaxPasswordLen)
	}
	if !utf8.ValidString(p) {
		return derrors.Invalidf("password", "must be valid UTF-8 text")
	}
	return nil
}

// Validate checks the role against R-ROL-1: a name of 1-64 letters, digits
// and underscore, a description of at most 200 characters, and grants of
// well-formed app permissions without repeats. Whether each permission
// exists is the store's check.
func (r *Role) Validate() error {
	if err := ValidateRoleName(r.Name); err != nil {
		return err
	}
	if !utf8.ValidString(r.Description) || utf8.RuneCountInString(r.Description) > MaxRoleDescLen {
		return derrors.Invalidf("description", "must be text of at most %d characters", MaxRoleDescLen)
	}
	if err := text.Line(r.Description); err != nil {
		return derrors.Invalidf("description", "%v", err)
	}
	if len(r.Permissions) > MaxRoleGrants {
		return derrors.Invalidf("permissions", "at most %d permissions per role", MaxRoleGrants)
	}
	if r.Permissions == nil {
		r.Permissions = []Grant{}
	}
	seen := make(map[Grant]bool, len(r.Permissions))
	for _, g := range r.Permissions {
		if g.ClientID == "" || len(g.ClientID) > MaxClientIDLen || !isAlnumString(g.ClientID) {
			return derrors.Invalidf("permissions", "client_id %q is not a client ID", g.ClientID)
		}
		if g.Permission == "" || len(g.Permission) > MaxPermissionNameLen || !isWord(g.Permission) {
			return derrors.Invalidf("permissions", "permission %q is not a permission name (1-%d letters, digits and underscore)", g.Permission, MaxPermissionNameLen)
		}
		if seen[g] {
			return derrors.Invalidf("permissions", "%s:%s is listed twice", g.ClientID, g.Permission)
		}
		seen[g] = true
	}
	return nil
}

// ValidateRoleName enforces the permission-name rule of R-PRM-1 with a
// longer limit: 1-64 letters, digits and underscore.
func ValidateRoleName(name string) error {
	return roleName("name", name)
}

func roleName(field, name string) error {
	if name == "" {
		return derrors.Invalidf(field, "a role name is required")
	}
	if len(name) > MaxRoleNameLen {
		return derrors.Invalidf(field, "a role name must be at most %d characters", MaxRoleNameLen)
	}
	if !isWord(name) {
		return derrors.Invalidf(field, "a role name may contain only letters, digits and underscore")
	}
	return nil
}

// ValidateRoleNames checks a set of role names for an assignment: each well
// formed, none repeated.
func ValidateRoleNames(names []string) error {
	if len(names) > MaxUserRoles {
		return derrors.Invalidf("roles", "at most %d roles per user", MaxUserRoles)
	}
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if err := roleName("roles", n); err != nil {
			return err
		}
		if seen[n] {
			return derrors.Invalidf("roles", "%q is listed twice", n)
		}
		seen[n] = true
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isAlnumString(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return false
		}
	}
	return true
}

func isWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && s[i] != '_' {
			return false
		}
	}
	return true
}

func hasControlOrSpace(s string) bool {
	for _, r := range s {
		if text.IsControl(r) || unicode.IsSpace(r) {
			return true
		}
	}
	return false
}
