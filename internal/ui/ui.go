package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"math"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse-id/gatehouse/internal/text"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/*.css
var staticFS embed.FS

// templates is parsed once at start-up and never changes.
var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"pngDataURL": pngDataURL,
}).ParseFS(templateFS, "templates/*.html"))

// Render writes the page name ("login", "consent" or "message") drawn with
// data (LoginPage, ConsentPage or MessagePage) to w. It renders into a
// buffer first, so a template error never leaves half a page.
func Render(w io.Writer, name string, data any) error {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Stylesheet returns the embedded stylesheet called name ("gatehouse.css")
// and a short hash of its content for cache-busting URLs.
func Stylesheet(name string) (css []byte, version string, ok bool) {
	b, err := fs.ReadFile(staticFS, "static/"+name)
	if err != nil {
		return nil, "", false
	}
	return b, contentVersion(b), true
}

// StylesheetName is the embedded stylesheet every page links.
const StylesheetName = "gatehouse.css"

func contentVersion(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:6])
}

// Page is what every page shows around its content.
type Page struct {
	Lang  string // BCP 47 language tag of the text; "en" when empty
	Title string // the document title, before the product name
	Theme Theme  // sanitized
	// StylesheetURL and ThemeURL are absolute URLs of the base stylesheet
	// and of the tenant's theme stylesheet (Theme.CSS).
	StylesheetURL string
	ThemeURL      string
}

// LoginPage is the sign-in form. The form contract (password managers and
// tests rely on it): input name="username" autocomplete="username", input
// name="password" type="password" autocomplete="current-password", and a
// button type="submit".
type LoginPage struct {
	Page
	Action    string // the form's absolute POST URL
	CSRFToken string
	AppName   string // the application the user signs in to, if any
	Username  string // pre-filled: login_hint or the last attempt
	// Error is a message about the whole form (a failed sign-in), tied to
	// both inputs; UsernameError and PasswordError concern one input.
	Error         string
	UsernameError string
	PasswordError string
}

// FocusPassword reports whether the password input should take the focus:
// the username is known and nothing is wrong with it.
func (p LoginPage) FocusPassword() bool { return p.Username != "" && p.UsernameError == "" }

// Scope is one requested scope in plain words.
type Scope struct {
	Name        string
	Description string
}

// ConsentPage asks the user to allow a third-party application access. The
// form contract: button type="submit" name="decision" value="allow" or
// value="deny".
type ConsentPage struct {
	Page
	Action     string
	CSRFToken  string
	AppName    string
	AppLogo    []byte // PNG, shown when it is one
	AppWebsite string
	Username   string
	Scopes     []Scope
}

// MessagePage is a page with a heading and a text: signed in, an error, a
// form that expired.
type MessagePage struct {
	Page
	Heading string
	Text    string
	// Alert marks the message as an error, announced by screen readers.
	Alert bool
}

// pngDataURL returns a data: URL for b if b is a PNG image, else "".
func pngDataURL(b []byte) template.URL {
	if len(b) < 8 || string(b[:8]) != "\x89PNG\r\n\x1a\n" {
		return ""
	}
	// Safe: base64 has no character that could leave the attribute.
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b))
}

// Theme is how a tenant's pages look (R-OID-9): product name, logo, colours
// and texts. Values that are not valid are replaced by the defaults in
// Sanitize, never passed on.
type Theme struct {
	// ProductName is shown in the header and the title; default "Gatehouse".
	ProductName string `json:"product_name"`
	// LogoURL is an https URL (or an http URL of a loopback host, for
	// development) or an absolute path on this server; empty: no logo.
	LogoURL string `json:"logo_url"`
	// PrimaryColor colours buttons and links; BackgroundColor the page.
	// Both #rrggbb.
	PrimaryColor    string `json:"primary_color"`
	BackgroundColor string `json:"background_color"`
	Texts           Texts  `json:"texts"`
}

// Texts are the theme's words. Empty ones take the default.
type Texts struct {
	LoginTitle   string `json:"login_title"`   // default "Sign in"
	LoginIntro   string `json:"login_intro"`   // a line under the title; default none
	ConsentTitle string `json:"consent_title"` // default "Allow access?"
	Footer       string `json:"footer"`        // a line at the bottom of every page; default none
}

// Default colours: a blue with a contrast ratio above 4.5:1 on white (WCAG
// 1.4.3 AA) and a light grey page.
const (
	DefaultPrimaryColor    = "#1d4ed8"
	DefaultBackgroundColor = "#f3f4f6"
	DefaultProductName     = "Gatehouse"
	maxText                = 500
	maxProductName         = 100
	maxLogoURL             = 2048
)

// DefaultTheme is the theme of a tenant that has none.
func DefaultTheme() Theme {
	return Theme{
		ProductName:     DefaultProductName,
		PrimaryColor:    DefaultPrimaryColor,
		BackgroundColor: DefaultBackgroundColor,
		Texts:           Texts{LoginTitle: "Sign in", ConsentTitle: "Allow access?"},
	}
}

// ValidColor reports whether s is a #rrggbb colour.
func ValidColor(s string) bool {
	if len(s) != 7 || s[0] != '#' {
		return false
	}
	for i := 1; i < 7; i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

// ValidLogoURL reports whether s may be a theme's logo: an absolute https URL
// (http only for loopback hosts) without credentials, or an absolute path.
func ValidLogoURL(s string) bool {
	if s == "" || len(s) > maxLogoURL || strings.ContainsAny(s, " \t\r\n\"'<>\\") {
		return false
	}
	if strings.HasPrefix(s, "/") {
		return !strings.HasPrefix(s, "//")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		h := u.Hostname()
		return h == "localhost" || h == "127.0.0.1" || h == "::1"
	}
	return false
}

// Sanitize returns t with every invalid or missing value replaced by the
// default: colours that are not #rrggbb (lower-cased otherwise), logo URLs
// that are not https or a path, texts that are not valid UTF-8 or too long.
func (t Theme) Sanitize() Theme {
	d := DefaultTheme()
	out := Theme{
		ProductName:     orDefault(t.ProductName, d.ProductName, maxProductName),
		PrimaryColor:    d.PrimaryColor,
		BackgroundColor: d.BackgroundColor,
		Texts: Texts{
			LoginTitle:   orDefault(t.Texts.LoginTitle, d.Texts.LoginTitle, maxProductName),
			LoginIntro:   orDefault(t.Texts.LoginIntro, "", maxText),
			ConsentTitle: orDefault(t.Texts.ConsentTitle, d.Texts.ConsentTitle, maxProductName),
			Footer:       orDefault(t.Texts.Footer, "", maxText),
		},
	}
	if ValidColor(t.PrimaryColor) {
		out.PrimaryColor = strings.ToLower(t.PrimaryColor)
	}
	if ValidColor(t.BackgroundColor) {
		out.BackgroundColor = strings.ToLower(t.BackgroundColor)
	}
	if ValidLogoURL(t.LogoURL) {
		out.LogoURL = t.LogoURL
		if scheme, rest, ok := strings.Cut(t.LogoURL, ":"); ok && !strings.HasPrefix(t.LogoURL, "/") {
			// Schemes are case-insensitive (RFC 3986 §3.1): the page
			// gets the canonical lower case ("hTtps://…" found by fuzzing).
			out.LogoURL = strings.ToLower(scheme) + ":" + rest
		}
	}
	return out
}

func orDefault(s, def string, max int) string {
	s = strings.TrimSpace(s)
	if s == "" || !validText(s, max) {
		return def
	}
	return s
}

// validText reports whether s is at most max characters of valid UTF-8
// without control characters (so one line).
func validText(s string, max int) bool {
	return utf8.ValidString(s) && utf8.RuneCountInString(s) <= max && !strings.ContainsFunc(s, text.IsControl)
}

// LogoOrigin is the origin the logo is loaded from ("" for a path or no
// logo), for the page's Content-Security-Policy.
func (t Theme) LogoOrigin() string {
	if t.LogoURL == "" || strings.HasPrefix(t.LogoURL, "/") {
		return ""
	}
	u, err := url.Parse(t.LogoURL)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// CSS is the theme's stylesheet: custom properties the base stylesheet uses.
// Only sanitized #rrggbb values reach it.
func (t Theme) CSS() []byte {
	t = t.Sanitize()
	return fmt.Appendf(nil, ":root{--gh-primary:%s;--gh-on-primary:%s;--gh-background:%s}\n",
		t.PrimaryColor, onColor(t.PrimaryColor), t.BackgroundColor)
}

// CSSVersion is a short hash of CSS, for cache-busting URLs.
func (t Theme) CSSVersion() string { return contentVersion(t.CSS()) }

// onColor picks black or white text for a background colour c (#rrggbb),
// whichever contrasts more (WCAG 2.1 relative luminance).
func onColor(c string) string {
	lum := 0.0
	for i, w := range []float64{0.2126, 0.7152, 0.0722} {
		v, _ := strconv.ParseUint(c[1+2*i:3+2*i], 16, 8)
		s := float64(v) / 255
		if s <= 0.03928 {
			s /= 12.92
		} else {
			s = math.Pow((s+0.055)/1.055, 2.4)
		}
		lum += w * s
	}
	// Contrast with white: 1.05/(L+0.05); with black: (L+0.05)/0.05.
	if 1.05/(lum+0.05) >= (lum+0.05)/0.05 {
		return "#ffffff"
	}
	return "#000000"
}
