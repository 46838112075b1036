package ui

import (
	"fmt"
	"strings"

	"github.com/gatehouse-id/gatehouse/internal/text"
)

// FieldError is a theme value that is not valid. Field is the value's name in
// the theme's JSON form ("primary_color", "texts.login_title").
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Validate checks a theme an administrator gives (R-OID-9) by the rules
// Sanitize applies, but refuses what Sanitize would silently replace: an
// empty value means "the default", anything else must be valid. It trims
// spaces around the texts and lower-cases the colours, so that t is then
// what Sanitize keeps. The error is a *FieldError naming the first invalid
// value.
func (t *Theme) Validate() error {
	texts := []struct {
		field string
		v     *string
		max   int
	}{
		{"product_name", &t.ProductName, maxProductName},
		{"texts.login_title", &t.Texts.LoginTitle, maxProductName},
		{"texts.login_intro", &t.Texts.LoginIntro, maxText},
		{"texts.consent_title", &t.Texts.ConsentTitle, maxProductName},
		{"texts.footer", &t.Texts.Footer, maxText},
	}
	for _, x := range texts {
		*x.v = strings.TrimSpace(*x.v)
		if err := text.Line(*x.v); err != nil {
			return &FieldError{x.field, err.Error()}
		}
		if *x.v != "" && !validText(*x.v, x.max) {
			return &FieldError{x.field, fmt.Sprintf("must be one line of at most %d characters, without control characters", x.max)}
		}
	}
	t.LogoURL = strings.TrimSpace(t.LogoURL)
	if t.LogoURL != "" && !ValidLogoURL(t.LogoURL) {
		return &FieldError{"logo_url", fmt.Sprintf("must be an https URL without user or password (http only for localhost), or an absolute path on this server, of at most %d characters", maxLogoURL)}
	}
	if scheme, _, ok := strings.Cut(t.LogoURL, ":"); ok && !strings.HasPrefix(t.LogoURL, "/") && scheme != strings.ToLower(scheme) {
		// Stored as given, so only the canonical form ("HTTPS://…" found by fuzzing).
		return &FieldError{"logo_url", "write the URL scheme in lower case (https://…)"}
	}
	for _, c := range []struct {
		field string
		v     *string
	}{{"primary_color", &t.PrimaryColor}, {"background_color", &t.BackgroundColor}} {
		*c.v = strings.TrimSpace(*c.v)
		if *c.v == "" {
			continue
		}
		if !ValidColor(*c.v) {
			return &FieldError{c.field, "must be a colour written #rrggbb (six hexadecimal digits)"}
		}
		*c.v = strings.ToLower(*c.v)
	}
	return nil
}
