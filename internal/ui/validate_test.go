package ui_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-id/gatehouse/internal/ui"
)

// TestThemeValidate: an administrator's theme is refused, naming the field,
// where Sanitize would replace a value; a valid one is normalised.
func TestThemeValidate(t *testing.T) {
	bad := []struct {
		name  string
		in    ui.Theme
		field string
	}{
		{"named colour", ui.Theme{PrimaryColor: "red"}, "primary_color"},
		{"short colour", ui.Theme{PrimaryColor: "#fff"}, "primary_color"},
		{"CSS injection", ui.Theme{BackgroundColor: "#000000;}body{display:none"}, "background_color"},
		{"colour without #", ui.Theme{BackgroundColor: "aabbcc"}, "background_color"},
		{"javascript logo", ui.Theme{LogoURL: "javascript:alert(1)"}, "logo_url"},
		{"data logo", ui.Theme{LogoURL: "data:image/png;base64,AAAA"}, "logo_url"},
		{"http logo", ui.Theme{LogoURL: "http://cdn.example.com/a.png"}, "logo_url"},
		{"protocol-relative logo", ui.Theme{LogoURL: "//evil.example/a.png"}, "logo_url"},
		{"logo with credentials", ui.Theme{LogoURL: "https://u:p@cdn.example.com/a.png"}, "logo_url"},
		{"logo with a quote", ui.Theme{LogoURL: `https://cdn.example.com/a".png`}, "logo_url"},
		{"logo too long", ui.Theme{LogoURL: "https://cdn.example.com/" + strings.Repeat("a", 2048)}, "logo_url"},
		{"product name too long", ui.Theme{ProductName: strings.Repeat("é", 101)}, "product_name"},
		{"product name with a newline", ui.Theme{ProductName: "a\nb"}, "product_name"},
		{"invalid UTF-8", ui.Theme{ProductName: "\xff"}, "product_name"},
		{"login title too long", ui.Theme{Texts: ui.Texts{LoginTitle: strings.Repeat("x", 101)}}, "texts.login_title"},
		{"login intro too long", ui.Theme{Texts: ui.Texts{LoginIntro: strings.Repeat("x", 501)}}, "texts.login_intro"},
		{"consent title with a tab", ui.Theme{Texts: ui.Texts{ConsentTitle: "a\tb"}}, "texts.consent_title"},
		{"footer with NUL", ui.Theme{Texts: ui.Texts{Footer: "x\x00"}}, "texts.footer"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			err := c.in.Validate()
			var fe *ui.FieldError
			if !errors.As(err, &fe) || fe.Field != c.field || fe.Reason == "" {
				t.Fatalf("Validate = %v, want a FieldError for %q", err, c.field)
			}
		})
	}

	in := ui.Theme{
		ProductName: " Acme ID ", LogoURL: " https://cdn.example.com/a.png ", PrimaryColor: "#AABBCC", BackgroundColor: " #FFFFFF",
		Texts: ui.Texts{LoginTitle: strings.Repeat("é", 100), LoginIntro: strings.Repeat("x", 500), Footer: "Help: 555-0100"},
	}
	want := ui.Theme{
		ProductName: "Acme ID", LogoURL: "https://cdn.example.com/a.png", PrimaryColor: "#aabbcc", BackgroundColor: "#ffffff",
		Texts: ui.Texts{LoginTitle: strings.Repeat("é", 100), LoginIntro: strings.Repeat("x", 500), Footer: "Help: 555-0100"},
	}
	if err := in.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if d := cmp.Diff(want, in); d != "" {
		t.Errorf("normalised theme (-want +got):\n%s", d)
	}
	var zero ui.Theme
	if err := zero.Validate(); err != nil || zero != (ui.Theme{}) {
		t.Errorf("the empty theme (all defaults): %v %+v", err, zero)
	}
	for _, ok := range []string{"/logo.png", "http://localhost:8080/l.png"} {
		th := ui.Theme{LogoURL: ok}
		if err := th.Validate(); err != nil {
			t.Errorf("logo %q: %v", ok, err)
		}
	}
}

// FuzzThemeValidate: a theme that passes Validate is drawn as given: Sanitize
// keeps every value that is set and fills only the empty ones.
func FuzzThemeValidate(f *testing.F) {
	f.Add("Acme", "https://x.example/l.png", "#AbCdEf", "#000000", "Sign in", "", "Share?", "Help")
	f.Add(" ", "/l.png", "", "#12345g", "a\nb", "\xff", "", "")
	f.Fuzz(func(t *testing.T, name, logo, primary, background, title, intro, consent, footer string) {
		th := ui.Theme{ProductName: name, LogoURL: logo, PrimaryColor: primary, BackgroundColor: background,
			Texts: ui.Texts{LoginTitle: title, LoginIntro: intro, ConsentTitle: consent, Footer: footer}}
		if th.Validate() != nil {
			return
		}
		want, def := th, ui.DefaultTheme()
		for _, p := range []struct {
			v *string
			d string
		}{
			{&want.ProductName, def.ProductName}, {&want.PrimaryColor, def.PrimaryColor}, {&want.BackgroundColor, def.BackgroundColor},
			{&want.Texts.LoginTitle, def.Texts.LoginTitle}, {&want.Texts.ConsentTitle, def.Texts.ConsentTitle},
		} {
			if *p.v == "" {
				*p.v = p.d
			}
		}
		if d := cmp.Diff(want, th.Sanitize()); d != "" {
			t.Fatalf("Sanitize changed a validated theme (-want +got):\n%s", d)
		}
	})
}
