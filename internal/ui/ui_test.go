package ui_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-id/gatehouse/internal/ui"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestThemeSanitize(t *testing.T) {
	def := ui.DefaultTheme()
	cases := []struct {
		name string
		in   ui.Theme
		want ui.Theme
	}{
		{"zero is the default", ui.Theme{}, def},
		{"valid values kept, colours lower-cased", ui.Theme{
			ProductName: " Acme ID ", LogoURL: "https://cdn.example.com/a.png?x=1", PrimaryColor: "#AABBCC", BackgroundColor: "#000000",
			Texts: ui.Texts{LoginTitle: "Welcome", LoginIntro: "Use your Acme account.", ConsentTitle: "Share?", Footer: "Help: 555-0100"},
		}, ui.Theme{
			ProductName: "Acme ID", LogoURL: "https://cdn.example.com/a.png?x=1", PrimaryColor: "#aabbcc", BackgroundColor: "#000000",
			Texts: ui.Texts{LoginTitle: "Welcome", LoginIntro: "Use your Acme account.", ConsentTitle: "Share?", Footer: "Help: 555-0100"},
		}},
		{"CSS injection in colours", ui.Theme{PrimaryColor: "red;}*{display:none", BackgroundColor: "#12345"}, def},
		{"named colour", ui.Theme{PrimaryColor: "red"}, def},
		{"javascript logo", ui.Theme{LogoURL: "javascript:alert(1)"}, def},
		{"data logo", ui.Theme{LogoURL: "data:image/png;base64,AAAA"}, def},
		{"http logo", ui.Theme{LogoURL: "http://cdn.example.com/a.png"}, def},
		{"protocol-relative logo", ui.Theme{LogoURL: "//evil.example/a.png"}, def},
		{"logo with credentials", ui.Theme{LogoURL: "https://u:p@cdn.example.com/a.png"}, def},
		{"logo with a quote", ui.Theme{LogoURL: `https://cdn.example.com/a".png`}, def},
		{"control characters in texts", ui.Theme{ProductName: "a\nb", Texts: ui.Texts{Footer: "x\x00"}}, def},
		{"too long", ui.Theme{ProductName: strings.Repeat("x", 101)}, def},
		{"invalid UTF-8", ui.Theme{ProductName: "\xff"}, def},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(c.want, c.in.Sanitize()); diff != "" {
				t.Errorf("Sanitize (-want +got):\n%s", diff)
			}
		})
	}
	for _, ok := range []string{"/logo.png", "https://x.example/l.png", "http://localhost:8080/l.png", "http://127.0.0.1/l.png"} {
		if !ui.ValidLogoURL(ok) {
			t.Errorf("ValidLogoURL(%q) = false", ok)
		}
	}
}

// TestThemeCSS: only #rrggbb reaches CSS, with a text colour that
// contrasts (WCAG relative luminance).
func TestThemeCSS(t *testing.T) {
	for _, c := range []struct{ primary, on string }{
		{"#1d4ed8", "#ffffff"}, {"#ffcc00", "#000000"}, {"#ffffff", "#000000"}, {"#000000", "#ffffff"}, {"#777777", "#000000"}, {"#595959", "#ffffff"},
	} {
		css := string(ui.Theme{PrimaryColor: c.primary}.CSS())
		want := ":root{--gh-primary:" + c.primary + ";--gh-on-primary:" + c.on + ";--gh-background:" + ui.DefaultBackgroundColor + "}\n"
		if css != want {
			t.Errorf("CSS(%s) = %q, want %q", c.primary, css, want)
		}
	}
	if css := string(ui.Theme{PrimaryColor: "red}body{x:y"}.CSS()); strings.Contains(css, "body") {
		t.Errorf("CSS = %q", css)
	}
	a, b := ui.Theme{PrimaryColor: "#111111"}, ui.Theme{PrimaryColor: "#222222"}
	if a.CSSVersion() == b.CSSVersion() || len(a.CSSVersion()) != 12 {
		t.Errorf("CSSVersion %q %q", a.CSSVersion(), b.CSSVersion())
	}
	if _, _, ok := ui.Stylesheet("../ui.go"); ok {
		t.Error("Stylesheet serves a path outside static/")
	}
	css, v, ok := ui.Stylesheet(ui.StylesheetName)
	if !ok || len(css) == 0 || len(v) != 12 || !bytes.Contains(css, []byte(":focus-visible")) {
		t.Errorf("Stylesheet: %d bytes, version %q, %v", len(css), v, ok)
	}
}

func page(title string, theme ui.Theme) ui.Page {
	return ui.Page{Lang: "en", Title: title, Theme: theme.Sanitize(), StylesheetURL: "https://id.example.com/t/acme/static/gatehouse.css?v=1", ThemeURL: "https://id.example.com/t/acme/static/theme.css?v=2"}
}

// TestRenderGolden compares the rendered pages with testdata/*.html; run
// with -update to rewrite them after a deliberate change.
func TestRenderGolden(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	themed := ui.Theme{ProductName: "Acme ID", LogoURL: "https://cdn.acme.example/logo.png", Texts: ui.Texts{LoginIntro: "Use your Acme account.", Footer: "Help: 555-0100"}}
	cases := []struct {
		file, name string
		data       any
	}{
		{"login.html", "login", ui.LoginPage{Page: page("Sign in", ui.Theme{}), Action: "https://id.example.com/t/acme/login?request=r1", CSRFToken: "tok", AppName: "Partner_Portal"}},
		{"login_hint.html", "login", ui.LoginPage{Page: page("Sign in", themed), Action: "https://id.example.com/t/acme/login", CSRFToken: "tok", Username: `a"><script>x</script>`}},
		{"login_error.html", "login", ui.LoginPage{Page: page("Sign in", ui.Theme{}), Action: "https://id.example.com/t/acme/login", CSRFToken: "tok", Username: "alice", Error: "The username or password is incorrect."}},
		{"login_fields.html", "login", ui.LoginPage{Page: page("Sign in", ui.Theme{}), Action: "https://id.example.com/t/acme/login", CSRFToken: "tok", UsernameError: "Enter your username or email.", PasswordError: "Enter your password."}},
		{"consent.html", "consent", ui.ConsentPage{Page: page("Allow access?", ui.Theme{}), Action: "https://id.example.com/t/acme/consent?request=r1", CSRFToken: "tok",
			AppName: "Partner_Portal", AppLogo: png, AppWebsite: "https://partner.example.com", Username: "alice",
			Scopes: []ui.Scope{{Name: "openid", Description: "Confirm who you are"}, {Description: "Access “<b>x</b>”"}}}},
		{"consent_badlogo.html", "consent", ui.ConsentPage{Page: page("Allow access?", ui.Theme{}), Action: "a", CSRFToken: "tok", AppName: "X", AppLogo: []byte("<svg/>"), AppWebsite: "javascript:alert(1)"}},
		{"message.html", "message", ui.MessagePage{Page: page("This form has expired", themed), Heading: "This form has expired", Text: "Go back.", Alert: true}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := ui.Render(&b, c.name, c.data); err != nil {
				t.Fatal(err)
			}
			got := b.String()
			if strings.Contains(got, "<script>") || strings.Contains(got, "javascript:") {
				t.Errorf("unescaped markup or script URL in %s", c.file)
			}
			path := filepath.Join("testdata", c.file)
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s differs (-want +got):\n%s", c.file, diff)
			}
		})
	}
	if err := ui.Render(&bytes.Buffer{}, "nope", nil); err == nil {
		t.Error("rendering an unknown page succeeded")
	}
}

var safeCSS = regexp.MustCompile(`^:root\{--gh-primary:#[0-9a-f]{6};--gh-on-primary:#(000000|ffffff);--gh-background:#[0-9a-f]{6}\}\n$`)

// FuzzThemeCSS: whatever a theme holds, its stylesheet is three #rrggbb
// custom properties, and a sanitized logo URL is https, loopback http or a
// path.
func FuzzThemeCSS(f *testing.F) {
	f.Add("#1d4ed8", "#FFFFFF", "https://cdn.example.com/l.png")
	f.Add("red;}body{x:y", "#12345g", "javascript:alert(1)")
	f.Add("#\x00\x00\x00\x00\x00\x00", "", "//evil.example")
	f.Fuzz(func(t *testing.T, primary, background, logo string) {
		th := ui.Theme{PrimaryColor: primary, BackgroundColor: background, LogoURL: logo}
		if css := string(th.CSS()); !safeCSS.MatchString(css) {
			t.Fatalf("CSS %q", css)
		}
		s := th.Sanitize()
		if s.LogoURL != "" && !strings.HasPrefix(s.LogoURL, "https://") && !strings.HasPrefix(s.LogoURL, "http://") && !strings.HasPrefix(s.LogoURL, "/") {
			t.Fatalf("logo %q passed", s.LogoURL)
		}
		if s.LogoURL != "" && strings.ContainsAny(s.LogoURL, "\"'<> \\") {
			t.Fatalf("logo %q passed", s.LogoURL)
		}
	})
}
