// Package claims decides which claims of a user an app receives (R-CLM-1..3,
// R-ROL-1): pure functions of the app's output-claim settings, the user, the
// user's roles and permissions for the app, and the granted scopes. The OIDC
// tokens, UserInfo, introspection and SAML attributes all come from
// here, so they always agree.
package claims

import (
	"strconv"
	"strings"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// Subject is a user as one app sees them.
type Subject struct {
	User        *user.User
	Roles       []string
	Permissions []string
}

// value returns a standard claim's value and whether the user has it.
func (s Subject) value(name string) (any, bool) {
	u := s.User
	switch name {
	case "sub":
		return u.ID, true
	case "name":
		n := strings.TrimSpace(u.GivenName + " " + u.FamilyName)
		return n, n != ""
	case "given_name":
		return u.GivenName, u.GivenName != ""
	case "family_name":
		return u.FamilyName, u.FamilyName != ""
	case "email":
		return u.Email, u.Email != ""
	case "email_verified":
		return u.EmailVerified, true
	case "preferred_username":
		return u.Username, u.Username != ""
	case "groups":
		return u.Groups, len(u.Groups) > 0
	case "roles":
		return s.Roles, len(s.Roles) > 0
	case "permissions":
		return s.Permissions, len(s.Permissions) > 0
	}
	return nil, false
}

// scopeClaims are OpenID Connect Core §5.4's claims per scope, plus roles and
// permissions, which every app gets by default (R-ROL-1).
var scopeClaims = map[string][]string{
	"profile": {"name", "given_name", "family_name", "preferred_username", "groups"},
	"email":   {"email", "email_verified"},
}

// settings returns the app's claim settings, or the defaults: by scope, in
// the token, under their own names.
func settings(a *app.App, scopes []string) []app.ClaimSetting {
	if len(a.Claims) > 0 {
		return a.Claims
	}
	out := []app.ClaimSetting{{Name: "roles", Available: true, InToken: true}, {Name: "permissions", Available: true, InToken: true}}
	for _, sc := range scopes {
		for _, n := range scopeClaims[sc] {
			out = append(out, app.ClaimSetting{Name: n, Available: true, InToken: true})
		}
	}
	return out
}

// Token returns the claims for the ID token and UserInfo: available and in
// token, under their output names (sub is set by the caller).
func Token(a *app.App, s Subject, scopes []string) map[string]any {
	return collect(settings(a, scopes), s, func(c app.ClaimSetting) bool { return c.Available && c.InToken })
}

// Available returns every available claim (introspection, R-CLM-3).
func Available(a *app.App, s Subject, scopes []string) map[string]any {
	return collect(settings(a, scopes), s, func(c app.ClaimSetting) bool { return c.Available })
}

func collect(cs []app.ClaimSetting, s Subject, keep func(app.ClaimSetting) bool) map[string]any {
	out := map[string]any{}
	for _, c := range cs {
		if c.Name == "sub" || !keep(c) {
			continue
		}
		if v, ok := s.value(c.Name); ok {
			out[c.OutputName()] = v
		}
	}
	return out
}

// Missing returns the first required claim the user lacks, or "" (R-CLM-2).
// A required roles claim means: at least one role for this app.
func Missing(a *app.App, s Subject) string {
	for _, c := range a.Claims {
		if !c.Required {
			continue
		}
		if _, ok := s.value(c.Name); !ok {
			return c.Name
		}
	}
	return ""
}

// Attribute is one SAML attribute: the claim's output name and its values.
type Attribute struct {
	Name   string
	Values []string
}

// samlDefault are the claims of a SAML or WS-Federation app without claim
// settings: what OpenID Connect gives for the profile and email scopes,
// with roles and permissions.
var samlDefault = []string{"profile", "email"}

// Attributes returns the attributes of an assertion (R-SML-3, R-CLM-1): the
// claims that are available and in token, under their output names, in the
// order of the app's settings. The user ID goes out as an attribute only
// when the settings list sub (seed 003's external_id): the NameID is the
// subject.
func Attributes(a *app.App, s Subject) []Attribute {
	var out []Attribute
	for _, c := range settings(a, samlDefault) {
		if !c.Available || !c.InToken {
			continue
		}
		v, ok := s.value(c.Name)
		if !ok {
			continue
		}
		var vs []string
		switch v := v.(type) {
		case string:
			vs = []string{v}
		case bool:
			vs = []string{strconv.FormatBool(v)}
		case []string:
			vs = v
		}
		out = append(out, Attribute{Name: c.OutputName(), Values: vs})
	}
	return out
}
