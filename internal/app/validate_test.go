package app_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/big"
	mrand "math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/derrors"
)

// want is the outcome a case expects: the zero value means "no error",
// anything else a *derrors.Error of that kind naming that field.
type want struct {
	kind  derrors.Kind
	field string
}

var valid = want{}

func invalid(field string) want { return want{derrors.Invalid, field} }

func checkErr(t *testing.T, err error, w want) {
	t.Helper()
	if w == valid {
		if err != nil {
			t.Errorf("got error %q, want none", err)
		}
		return
	}
	var de *derrors.Error
	if !errors.As(err, &de) {
		t.Errorf("got error %v (%T), want *derrors.Error of kind %d on field %q", err, err, w.kind, w.field)
		return
	}
	if got := (want{de.Kind, de.Field}); got != w {
		t.Errorf("got kind %d on field %q (%q), want kind %d on field %q", got.kind, got.field, err, w.kind, w.field)
	}
}

// Valid base applications, one per type and protocol. Each case changes one
// thing, so the error it gets is about that thing.

func spaApp() *app.App {
	return &app.App{Name: "My_SPA", Type: app.SPA, RedirectURIs: []string{"https://spa.example.com/callback"}}
}

func nativeApp() *app.App {
	return &app.App{Name: "Mobile_1", Type: app.Native, RedirectURIs: []string{"com.example.mobile:/oauth2redirect", "http://127.0.0.1/callback"}}
}

func webApp() *app.App {
	return &app.App{
		Name:                   "Portal",
		Type:                   app.Web,
		RedirectURIs:           []string{"https://portal.example.com/signin-oidc"},
		PostLogoutRedirectURIs: []string{"https://portal.example.com/"},
	}
}

func s2sApp() *app.App { return &app.App{Name: "Billing_API", Type: app.S2S} }

func samlApp() *app.App {
	return &app.App{Name: "Wiki", Type: app.Web, Protocol: app.SAML, SAML: &app.SAMLSettings{
		EntityID: "https://wiki.example.com/saml",
		ACSURLs:  []string{"https://wiki.example.com/saml/acs"},
	}}
}

func wsfedApp() *app.App {
	return &app.App{Name: "SharePoint", Type: app.Web, Protocol: app.WSFed, WSFed: &app.WSFedSettings{
		Realm:     "urn:example:sharepoint",
		ReplyURLs: []string{"https://sp.example.com/_trust/"},
	}}
}

func with(a *app.App, f func(a *app.App)) *app.App {
	f(a)
	return a
}

type appCase struct {
	name string
	app  *app.App
	want want
}

func runAppCases(t *testing.T, maxScopes int, cases []appCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, tc.app.Validate(maxScopes), tc.want)
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(s, i)
	}
	return out
}

func TestBaseAppsAreValid(t *testing.T) {
	for name, mk := range map[string]func() *app.App{
		"spa": spaApp, "native": nativeApp, "web": webApp, "s2s": s2sApp, "saml": samlApp, "wsfed": wsfedApp,
	} {
		if err := mk().Validate(app.DefaultLimits.MaxScopes); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		want want
	}{
		{"a", valid},
		{"_", valid},
		{"My_App_2", valid},
		{"ALLCAPS", valid},
		{"0123456789", valid},
		{strings.Repeat("x", 64), valid},
		{"", invalid("name")},
		{strings.Repeat("x", 65), invalid("name")},
		{"my app", invalid("name")},
		{"my-app", invalid("name")},
		{"my.app", invalid("name")},
		{"app!", invalid("name")},
		{"tab\tname", invalid("name")},
		{"newline\n", invalid("name")},
		{"café", invalid("name")},                    // letters means ASCII letters
		{"ａｐｐ", invalid("name")},                     // full-width letters
		{"app\x00", invalid("name")},                 // NUL
		{string([]byte{0xff, 'a'}), invalid("name")}, // invalid UTF-8
		{"<script>", invalid("name")},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.name), func(t *testing.T) {
			checkErr(t, app.ValidateName(tc.name), tc.want)
			// The same rule holds inside App.Validate.
			checkErr(t, with(spaApp(), func(a *app.App) { a.Name = tc.name }).Validate(10), tc.want)
		})
	}
}

func TestValidateTextFields(t *testing.T) {
	runAppCases(t, 10, []appCase{
		{"description empty", with(spaApp(), func(a *app.App) { a.Description = "" }), valid},
		{"description 500 ascii", with(spaApp(), func(a *app.App) { a.Description = strings.Repeat("d", 500) }), valid},
		// 500 characters of two bytes each: the limit counts characters, not bytes.
		{"description 500 runes", with(spaApp(), func(a *app.App) { a.Description = strings.Repeat("é", 500) }), valid},
		{"description 501", with(spaApp(), func(a *app.App) { a.Description = strings.Repeat("d", 501) }), invalid("description")},
		{"description 501 runes", with(spaApp(), func(a *app.App) { a.Description = strings.Repeat("é", 501) }), invalid("description")},
		{"description bad utf8", with(spaApp(), func(a *app.App) { a.Description = "ok \xc3\x28" }), invalid("description")},
		{"additional_info 2000", with(spaApp(), func(a *app.App) { a.AdditionalInfo = strings.Repeat("ü", 2000) }), valid},
		{"additional_info 2001", with(spaApp(), func(a *app.App) { a.AdditionalInfo = strings.Repeat("i", 2001) }), invalid("additional_info")},
		{"additional_info bad utf8", with(spaApp(), func(a *app.App) { a.AdditionalInfo = "\xff" }), invalid("additional_info")},
	})
}

func TestValidateTypeAndProtocol(t *testing.T) {
	runAppCases(t, 10, []appCase{
		{"no type", with(spaApp(), func(a *app.App) { a.Type = "" }), invalid("type")},
		{"unknown type", with(spaApp(), func(a *app.App) { a.Type = "mobile" }), invalid("type")},
		{"type is case sensitive", with(spaApp(), func(a *app.App) { a.Type = "SPA" }), invalid("type")},
		{"explicit oidc spa", with(spaApp(), func(a *app.App) { a.Protocol = app.OIDC }), valid},
		{"unknown protocol", with(spaApp(), func(a *app.App) { a.Protocol = "oauth1" }), invalid("protocol")},
		{"saml on spa", with(samlApp(), func(a *app.App) { a.Type = app.SPA }), invalid("protocol")},
		{"saml on native", with(samlApp(), func(a *app.App) { a.Type = app.Native }), invalid("protocol")},
		{"saml on s2s", with(samlApp(), func(a *app.App) { a.Type = app.S2S }), invalid("protocol")},
		{"wsfed on spa", with(wsfedApp(), func(a *app.App) { a.Type = app.SPA }), invalid("protocol")},
		{"wsfed on s2s", with(wsfedApp(), func(a *app.App) { a.Type = app.S2S }), invalid("protocol")},
		{"saml on web", samlApp(), valid},
		{"wsfed on web", wsfedApp(), valid},
	})
}

func TestValidateDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   *app.App
		want *app.App
	}{
		{"spa", spaApp(), with(spaApp(), func(a *app.App) {
			a.Protocol = app.OIDC
			a.GrantTypes = []string{app.GrantAuthorizationCode, app.GrantRefreshToken}
			a.AccessTokenFormat = app.TokenJWT
			a.AccessTokenLifetime = app.Duration(60 * time.Minute)
			a.IDTokenLifetime = app.Duration(60 * time.Minute)
		})},
		{"s2s", s2sApp(), with(s2sApp(), func(a *app.App) {
			a.Protocol = app.OIDC
			a.GrantTypes = []string{app.GrantClientCredentials}
			a.AccessTokenFormat = app.TokenJWT
			a.AccessTokenLifetime = app.Duration(60 * time.Minute)
			a.IDTokenLifetime = app.Duration(60 * time.Minute)
		})},
		{"negative refresh lifetime means the default", with(webApp(), func(a *app.App) { a.RefreshTokenLifetime = -1 }), with(webApp(), func(a *app.App) {
			a.Protocol = app.OIDC
			a.GrantTypes = []string{app.GrantAuthorizationCode, app.GrantRefreshToken}
			a.AccessTokenFormat = app.TokenJWT
			a.AccessTokenLifetime = app.Duration(60 * time.Minute)
			a.IDTokenLifetime = app.Duration(60 * time.Minute)
			a.RefreshTokenLifetime = app.Duration(30 * 24 * time.Hour)
		})},
		{"explicit values are kept", with(webApp(), func(a *app.App) {
			a.GrantTypes = []string{app.GrantAuthorizationCode, app.GrantRefreshToken}
			a.AccessTokenFormat = app.TokenOpaque
			a.AccessTokenLifetime = app.Duration(5 * time.Minute)
			a.IDTokenLifetime = app.Duration(10 * time.Minute)
			a.RefreshTokenLifetime = app.Duration(7 * 24 * time.Hour)
		}), with(webApp(), func(a *app.App) {
			a.Protocol = app.OIDC
			a.GrantTypes = []string{app.GrantAuthorizationCode, app.GrantRefreshToken}
			a.AccessTokenFormat = app.TokenOpaque
			a.AccessTokenLifetime = app.Duration(5 * time.Minute)
			a.IDTokenLifetime = app.Duration(10 * time.Minute)
			a.RefreshTokenLifetime = app.Duration(7 * 24 * time.Hour)
		})},
		{"saml", with(samlApp(), func(a *app.App) {
			a.SAML.SLOURL = "https://wiki.example.com/saml/slo"
		}), with(samlApp(), func(a *app.App) {
			a.SAML.SLOURL = "https://wiki.example.com/saml/slo"
			a.SAML.Subject = "user_id"
			a.SAML.HashAlgorithm = "sha256"
			a.SAML.SLOBinding = "post"
		})},
		// OAuth lifetimes mean nothing for a SAML app and are not stored.
		{"saml drops token lifetimes", with(samlApp(), func(a *app.App) {
			a.AccessTokenLifetime = app.Duration(5 * time.Minute)
			a.RefreshTokenLifetime = app.Duration(24 * time.Hour)
		}), with(samlApp(), func(a *app.App) {
			a.SAML.Subject = "user_id"
			a.SAML.HashAlgorithm = "sha256"
		})},
		{"wsfed", wsfedApp(), with(wsfedApp(), func(a *app.App) { a.WSFed.HashAlgorithm = "sha256" })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in
			if err := got.Validate(10); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("after Validate:\ngot  %s\nwant %s", dump(got), dump(tc.want))
			}
			// Validating an app again (as Update does with a stored app)
			// accepts it and changes nothing.
			again := clone(got)
			if err := again.Validate(10); err != nil {
				t.Fatalf("second Validate: %v", err)
			}
			if !reflect.DeepEqual(again, got) {
				t.Errorf("second Validate changed the app:\ngot  %s\nwant %s", dump(again), dump(got))
			}
		})
	}
}

func dump(a *app.App) string {
	s := fmt.Sprintf("%+v", *a)
	if a.SAML != nil {
		s += fmt.Sprintf(" SAML=%+v", *a.SAML)
	}
	if a.WSFed != nil {
		s += fmt.Sprintf(" WSFed=%+v", *a.WSFed)
	}
	return s
}

func clone(a *app.App) *app.App {
	c := *a
	c.GrantTypes = slices.Clone(a.GrantTypes)
	c.RedirectURIs = slices.Clone(a.RedirectURIs)
	c.PostLogoutRedirectURIs = slices.Clone(a.PostLogoutRedirectURIs)
	if a.SAML != nil {
		s := *a.SAML
		c.SAML = &s
	}
	if a.WSFed != nil {
		w := *a.WSFed
		c.WSFed = &w
	}
	return &c
}

// The default grant list is the app's own: changing one app's list must not
// change the defaults of the next.
func TestValidateDefaultGrantsAreNotShared(t *testing.T) {
	a := spaApp()
	if err := a.Validate(10); err != nil {
		t.Fatal(err)
	}
	a.GrantTypes[0] = "tampered"
	b := spaApp()
	if err := b.Validate(10); err != nil {
		t.Fatal(err)
	}
	if got, want := b.GrantTypes, []string{app.GrantAuthorizationCode, app.GrantRefreshToken}; !slices.Equal(got, want) {
		t.Errorf("second app's default grants = %v, want %v", got, want)
	}
}

func TestValidateWebsiteURL(t *testing.T) {
	tests := []struct {
		url  string
		want want
	}{
		{"https://example.com", valid},
		{"https://example.com/about?lang=en", valid},
		{"http://localhost:8080/", valid},
		{"http://127.0.0.1/", valid},
		{"http://[::1]:3000/", valid},
		{"http://example.com", invalid("website_url")},
		{"http://localhost.example.com/", invalid("website_url")},
		{"http://127.0.0.2/", invalid("website_url")},
		{"ftp://example.com", invalid("website_url")},
		{"javascript:alert(1)", invalid("website_url")},
		{"example.com", invalid("website_url")},
		{"/relative", invalid("website_url")},
		{"//example.com/", invalid("website_url")},
		{"https://example.com/#about", invalid("website_url")},
		{"https://user:pw@example.com/", invalid("website_url")},
		{"https:///path", invalid("website_url")},
		{"https://:443/", invalid("website_url")},
		{"https:example.com", invalid("website_url")},
		{"https://example.com/a b", invalid("website_url")},
		{"https://*.example.com/", invalid("website_url")},
		{"https://example.com/" + strings.Repeat("a", 2000-len("https://example.com/")), valid},
		{"https://example.com/" + strings.Repeat("a", 2001-len("https://example.com/")), invalid("website_url")},
	}
	for _, tc := range tests {
		t.Run(tc.url[:min(len(tc.url), 40)], func(t *testing.T) {
			checkErr(t, with(spaApp(), func(a *app.App) { a.WebsiteURL = tc.url }).Validate(10), tc.want)
		})
	}
}

// pngOf encodes a w×h PNG; with noise the pixels are random, so it does not
// compress.
func pngOf(t testing.TB, w, h int, noise bool) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	r := mrand.New(mrand.NewPCG(1, 2))
	for i := range img.Pix {
		if noise {
			img.Pix[i] = byte(r.Uint32())
		} else {
			img.Pix[i] = 0x80
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestValidateLogo(t *testing.T) {
	small := pngOf(t, 64, 64, false)
	big := pngOf(t, 200, 200, true)
	if len(big) <= app.MaxLogoBytes {
		t.Fatalf("test setup: noisy PNG is only %d bytes", len(big))
	}
	// A valid PNG padded to exactly the limit, and one byte past it.
	atLimit := append(slices.Clone(small), make([]byte, app.MaxLogoBytes-len(small))...)
	overLimit := append(slices.Clone(atLimit), 0)

	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	img.Set(1, 1, color.White)
	var jpg, gf bytes.Buffer
	if err := jpeg.Encode(&jpg, img, nil); err != nil {
		t.Fatal(err)
	}
	if err := gif.Encode(&gf, img, nil); err != nil {
		t.Fatal(err)
	}
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)

	tests := []struct {
		name string
		logo []byte
		want want
	}{
		{"no logo", nil, valid},
		{"small png", small, valid},
		{"png of exactly 80 KB", atLimit, valid},
		{"png one byte over 80 KB", overLimit, invalid("logo")},
		{"large png", big, invalid("logo")},
		{"jpeg", jpg.Bytes(), invalid("logo")},
		{"gif", gf.Bytes(), invalid("logo")},
		{"svg", svg, invalid("logo")},
		{"png signature only", small[:8], invalid("logo")},
		{"garbage", []byte("not an image at all"), invalid("logo")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.logo != nil {
				checkErr(t, app.ValidateLogo(tc.logo), tc.want)
			}
			checkErr(t, with(spaApp(), func(a *app.App) { a.Logo = tc.logo }).Validate(10), tc.want)
		})
	}
}

func TestValidateLogonResultURLs(t *testing.T) {
	runAppCases(t, 10, []appCase{
		{"all set", with(webApp(), func(a *app.App) {
			a.LogonResultURLs = &app.LogonURLs{
				AccessDenied: "https://portal.example.com/denied",
				Failed:       "https://portal.example.com/failed",
				Error:        "http://localhost:8080/error",
			}
		}), valid},
		{"empty is the built-in page", with(webApp(), func(a *app.App) { a.LogonResultURLs = &app.LogonURLs{} }), valid},
		{"on a saml app", with(samlApp(), func(a *app.App) { a.LogonResultURLs = &app.LogonURLs{Failed: "https://wiki.example.com/failed"} }), valid},
		{"access_denied http", with(webApp(), func(a *app.App) {
			a.LogonResultURLs = &app.LogonURLs{AccessDenied: "http://portal.example.com/denied"}
		}), invalid("logon_result_urls.access_denied")},
		{"failed relative", with(webApp(), func(a *app.App) {
			a.LogonResultURLs = &app.LogonURLs{AccessDenied: "https://ok.example.com/", Failed: "/failed"}
		}), invalid("logon_result_urls.failed")},
		{"error javascript", with(webApp(), func(a *app.App) {
			a.LogonResultURLs = &app.LogonURLs{Error: "javascript:alert(document.cookie)"}
		}), invalid("logon_result_urls.error")},
		{"error fragment", with(webApp(), func(a *app.App) {
			a.LogonResultURLs = &app.LogonURLs{Error: "https://portal.example.com/#error"}
		}), invalid("logon_result_urls.error")},
	})
}

var allTypes = []app.Type{app.SPA, app.Web, app.Native, app.S2S}

func TestValidateRedirectURI(t *testing.T) {
	web := []app.Type{app.SPA, app.Web, app.Native, app.S2S}
	native := []app.Type{app.Native}
	none := []app.Type{}
	long := "https://example.com/" + strings.Repeat("p", 2000-len("https://example.com/"))
	tests := []struct {
		uri   string
		okFor []app.Type
	}{
		{"https://app.example.com/callback", web},
		{"https://app.example.com:8443/cb?tenant=acme", web},
		{"https://192.0.2.10/cb", web},
		{"http://localhost/cb", web},
		{"http://localhost:3000/cb", web},
		{"http://127.0.0.1/cb", web},
		{"http://127.0.0.1:8080/cb", web},
		{"http://[::1]/cb", web},
		{"http://[::1]:8080/cb", web},
		{long, web},
		{long + "p", none},
		{"com.example.app:/oauth2redirect", native},
		{"com.example.app://callback", native},
		{"io.github.user.app:/cb", native},

		// http only on loopback
		{"http://app.example.com/cb", none},
		{"http://localhost.example.com/cb", none},
		{"http://127.0.0.1.nip.io/cb", none},
		{"http://127.0.0.2/cb", none},
		{"http://10.0.0.1/cb", none},
		{"http://0.0.0.0/cb", none},
		// no fragments, not even an empty one
		{"https://app.example.com/cb#frag", none},
		{"https://app.example.com/cb#", none},
		{"com.example.app:/cb#x", none},
		// no wildcards
		{"https://*.example.com/cb", none},
		{"https://app.example.com/*", none},
		{"https://app.example.com/cb?x=*", none},
		// no user information
		{"https://user:pass@app.example.com/cb", none},
		{"https://user@app.example.com/cb", none},
		{"https://app.example.com%2f@evil.example/cb", none},
		// custom schemes only for native, and only reverse domain names
		{"myapp:/cb", none},
		{"myapp://cb", none},
		// schemes a browser would run or read locally
		{"javascript:alert(1)", none},
		{"JavaScript:alert(1)", none},
		{"javascript://example.com/%0aalert(1)", none},
		{"data:text/html,<script>alert(1)</script>", none},
		{"file:///etc/passwd", none},
		{"vbscript:msgbox(1)", none},
		{"about:blank", none},
		{"blob:https://app.example.com/uuid", none},
		{"view-source:https://app.example.com/", none},
		// the scheme must be written in lower case
		{"HTTPS://app.example.com/cb", none},
		{"Com.Example.App:/cb", none},
		// not absolute, or no host
		{"", none},
		{"/cb", none},
		{"//app.example.com/cb", none},
		{"app.example.com/cb", none},
		{"https:///cb", none},
		{"https://:443/cb", none},
		{"https:app.example.com/cb", none},
		{"http://:8080/cb", none},
		// characters that do not belong in a URL
		{"https://app.example.com/c b", none},
		{"https://app.example.com/cb\t", none},
		{"https://app.example.com/cb\n", none},
		{"https://app.example.com\\@evil.example/cb", none},
		{"https://app.example.com/\x00", none},
		{"https://app.example.com/\x7f", none},
		{"https://app.example.com/\xff", none},
		{"https://app.example.com:port/cb", none},
	}
	for _, tc := range tests {
		for _, typ := range allTypes {
			for _, field := range []string{"redirect_uris", "post_logout_redirect_uris"} {
				w := invalid(field)
				if slices.Contains(tc.okFor, typ) {
					w = valid
				}
				err := app.ValidateRedirectURI(field, tc.uri, typ)
				if w == valid && err != nil {
					t.Errorf("%s app, %s %q: got error %q, want none", typ, field, tc.uri, err)
				}
				if w != valid {
					if err == nil {
						t.Errorf("%s app, %s %q: accepted, want refused", typ, field, tc.uri)
						continue
					}
					checkErr(t, err, w)
				}
			}
		}
	}
}

func TestValidateRedirectLists(t *testing.T) {
	runAppCases(t, 10, []appCase{
		{"spa needs a redirect", with(spaApp(), func(a *app.App) { a.RedirectURIs = nil }), invalid("redirect_uris")},
		{"native needs a redirect", with(nativeApp(), func(a *app.App) { a.RedirectURIs = nil }), invalid("redirect_uris")},
		{"web oidc needs a redirect", with(webApp(), func(a *app.App) { a.RedirectURIs = nil }), invalid("redirect_uris")},
		{"web with only post-logout", with(webApp(), func(a *app.App) { a.RedirectURIs = []string{} }), invalid("redirect_uris")},
		{"s2s has no redirects", with(s2sApp(), func(a *app.App) { a.RedirectURIs = []string{"https://api.example.com/cb"} }), invalid("redirect_uris")},
		{"s2s has no post-logout redirects", with(s2sApp(), func(a *app.App) { a.PostLogoutRedirectURIs = []string{"https://api.example.com/"} }), invalid("post_logout_redirect_uris")},
		{"bad redirect", with(webApp(), func(a *app.App) { a.RedirectURIs = append(a.RedirectURIs, "http://portal.example.com/cb") }), invalid("redirect_uris")},
		{"duplicate redirect", with(webApp(), func(a *app.App) { a.RedirectURIs = append(a.RedirectURIs, a.RedirectURIs[0]) }), invalid("redirect_uris")},
		{"bad post-logout", with(webApp(), func(a *app.App) { a.PostLogoutRedirectURIs = []string{"https://portal.example.com/#bye"} }), invalid("post_logout_redirect_uris")},
		{"duplicate post-logout", with(webApp(), func(a *app.App) {
			a.PostLogoutRedirectURIs = []string{"https://portal.example.com/", "https://portal.example.com/"}
		}), invalid("post_logout_redirect_uris")},
		{"custom scheme on spa", with(spaApp(), func(a *app.App) { a.RedirectURIs = []string{"com.example.app:/cb"} }), invalid("redirect_uris")},
		{"custom scheme post-logout on web", with(webApp(), func(a *app.App) { a.PostLogoutRedirectURIs = []string{"com.example.app:/bye"} }), invalid("post_logout_redirect_uris")},
		{"custom scheme post-logout on native", with(nativeApp(), func(a *app.App) { a.PostLogoutRedirectURIs = []string{"com.example.mobile:/bye"} }), valid},
		{"loopback on every type: spa", with(spaApp(), func(a *app.App) { a.RedirectURIs = []string{"http://localhost:5173/cb"} }), valid},
		{"loopback on every type: web", with(webApp(), func(a *app.App) { a.RedirectURIs = []string{"http://[::1]:5000/cb"} }), valid},
		{"100 redirects", with(webApp(), func(a *app.App) { a.RedirectURIs = repeat("https://portal.example.com/cb%d", 100) }), valid},
		{"101 redirects", with(webApp(), func(a *app.App) { a.RedirectURIs = repeat("https://portal.example.com/cb%d", 101) }), invalid("redirect_uris")},
		{"101 post-logout", with(webApp(), func(a *app.App) { a.PostLogoutRedirectURIs = repeat("https://portal.example.com/bye%d", 101) }), invalid("post_logout_redirect_uris")},
		{"web with redirects but only password grant", with(webApp(), func(a *app.App) { a.GrantTypes, a.FirstParty = []string{app.GrantPassword}, true }), invalid("redirect_uris")},
	})
}

func TestValidateGrants(t *testing.T) {
	grants := func(base func() *app.App, dev bool, g ...string) *app.App {
		return with(base(), func(a *app.App) { a.GrantTypes, a.DeveloperMode = g, dev })
	}
	const (
		code     = app.GrantAuthorizationCode
		refresh  = app.GrantRefreshToken
		cc       = app.GrantClientCredentials
		password = app.GrantPassword
		jwt      = app.GrantJWTBearer
		implicit = app.GrantImplicit
	)
	runAppCases(t, 10, []appCase{
		// the matrix of R-APP-8
		{"spa code+refresh", grants(spaApp, false, code, refresh), valid},
		{"spa code only", grants(spaApp, false, code), valid},
		{"spa password", grants(spaApp, false, code, password), invalid("grant_types")},
		// issue 8 §7: a third-party app never collects passwords
		{"web password, third party", grants(webApp, false, code, password), invalid("grant_types")},
		{"web password, first party", with(grants(webApp, false, code, password), func(a *app.App) { a.FirstParty = true }), valid},
		{"spa jwt bearer", grants(spaApp, false, code, jwt), invalid("grant_types")},
		{"spa client_credentials", grants(spaApp, false, code, cc), invalid("grant_types")},
		{"spa refresh without code", grants(spaApp, false, refresh), invalid("grant_types")},
		{"native code+refresh", grants(nativeApp, false, code, refresh), valid},
		{"native password", grants(nativeApp, false, code, password), invalid("grant_types")},
		{"native jwt bearer", grants(nativeApp, false, code, jwt), invalid("grant_types")},
		{"native client_credentials", grants(nativeApp, false, cc), invalid("grant_types")},
		{"web code+refresh", grants(webApp, false, code, refresh), valid},
		{"web all optional", with(grants(webApp, false, code, refresh, password, jwt), func(a *app.App) { a.FirstParty = true }), valid},
		{"web client_credentials", grants(webApp, false, code, cc), invalid("grant_types")},
		{"web refresh without code", grants(webApp, false, refresh), invalid("grant_types")},
		{"s2s client_credentials", grants(s2sApp, false, cc), valid},
		{"s2s client_credentials+jwt", grants(s2sApp, false, cc, jwt), valid},
		{"s2s jwt only", grants(s2sApp, false, jwt), invalid("grant_types")},
		{"s2s code", grants(s2sApp, false, cc, code), invalid("grant_types")},
		{"s2s refresh", grants(s2sApp, false, cc, refresh), invalid("grant_types")},
		{"s2s password", grants(s2sApp, false, cc, password), invalid("grant_types")},
		{"s2s implicit even in developer mode", grants(s2sApp, true, cc, implicit), invalid("grant_types")},
		// implicit only in developer mode
		{"spa implicit", grants(spaApp, false, code, implicit), invalid("grant_types")},
		{"spa implicit developer mode", grants(spaApp, true, code, implicit), valid},
		{"native implicit", grants(nativeApp, false, implicit), invalid("grant_types")},
		{"native implicit developer mode", grants(nativeApp, true, implicit), valid},
		{"web implicit", grants(webApp, false, code, implicit), invalid("grant_types")},
		{"web implicit developer mode", grants(webApp, true, code, implicit), valid},
		{"developer mode alone changes nothing", grants(spaApp, true), valid},
		// the list itself
		{"duplicate", grants(webApp, false, code, code), invalid("grant_types")},
		{"unknown grant", grants(webApp, false, code, "device_code"), invalid("grant_types")},
		{"grant names are exact", grants(webApp, false, "Authorization_Code"), invalid("grant_types")},
		{"empty grant name", grants(webApp, false, code, ""), invalid("grant_types")},
		{"saml app with grants", with(samlApp(), func(a *app.App) { a.GrantTypes = []string{code} }), invalid("grant_types")},
	})
}

func TestValidateScope(t *testing.T) {
	tests := []struct {
		scope string
		want  want
	}{
		{"read", valid},
		{"read:users", valid},
		{"https://api.example.com/orders.read", valid},
		{"!", valid},                           // %x21
		{"#$%&'()*+,-./0-9:;<=>?@A-Z[", valid}, // %x23-5B
		{"]^_`a-z{|}~", valid},                 // %x5D-7E
		{strings.Repeat("s", 200), valid},
		{"", invalid("scopes")},
		{strings.Repeat("s", 201), invalid("scopes")},
		{"two words", invalid("scopes")},
		{`quote"d`, invalid("scopes")},
		{`back\slash`, invalid("scopes")},
		{"tab\t", invalid("scopes")},
		{"del\x7f", invalid("scopes")},
		{"nul\x00", invalid("scopes")},
		{"émail", invalid("scopes")},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%.30q", tc.scope), func(t *testing.T) {
			checkErr(t, app.ValidateScope(tc.scope), tc.want)
			checkErr(t, with(s2sApp(), func(a *app.App) { a.Scopes = []string{tc.scope} }).Validate(10), tc.want)
		})
	}
}

func TestValidateScopes(t *testing.T) {
	runAppCases(t, 3, []appCase{
		{"custom scopes", with(webApp(), func(a *app.App) { a.Scopes = []string{"orders.read", "orders.write"} }), valid},
		{"at the limit", with(webApp(), func(a *app.App) { a.Scopes = []string{"a", "b", "c"} }), valid},
		{"over the limit", with(webApp(), func(a *app.App) { a.Scopes = []string{"a", "b", "c", "d"} }), want{derrors.LimitExceeded, "scopes"}},
		{"openid is standard", with(webApp(), func(a *app.App) { a.Scopes = []string{"openid"} }), invalid("scopes")},
		{"profile is standard", with(webApp(), func(a *app.App) { a.Scopes = []string{"profile"} }), invalid("scopes")},
		{"email is standard", with(webApp(), func(a *app.App) { a.Scopes = []string{"a", "email"} }), invalid("scopes")},
		{"offline_access is standard", with(webApp(), func(a *app.App) { a.Scopes = []string{"offline_access"} }), invalid("scopes")},
		{"duplicate", with(webApp(), func(a *app.App) { a.Scopes = []string{"a", "b", "a"} }), invalid("scopes")},
		{"bad charset", with(webApp(), func(a *app.App) { a.Scopes = []string{"a b"} }), invalid("scopes")},
		{"saml app with scopes", with(samlApp(), func(a *app.App) { a.Scopes = []string{"a"} }), invalid("scopes")},
	})
	// SPEC's default limit: 1000 scopes per app.
	runAppCases(t, app.DefaultLimits.MaxScopes, []appCase{
		{"1000 scopes", with(s2sApp(), func(a *app.App) { a.Scopes = repeat("scope%d", 1000) }), valid},
		{"1001 scopes", with(s2sApp(), func(a *app.App) { a.Scopes = repeat("scope%d", 1001) }), want{derrors.LimitExceeded, "scopes"}},
	})
}

func TestValidateAudiences(t *testing.T) {
	runAppCases(t, 10, []appCase{
		{"two", with(s2sApp(), func(a *app.App) { a.Audiences = []string{"https://api.example.com", "urn:orders"} }), valid},
		{"20", with(s2sApp(), func(a *app.App) { a.Audiences = repeat("urn:api:%d", 20) }), valid},
		{"21", with(s2sApp(), func(a *app.App) { a.Audiences = repeat("urn:api:%d", 21) }), invalid("audiences")},
		{"empty", with(s2sApp(), func(a *app.App) { a.Audiences = []string{""} }), invalid("audiences")},
		{"space", with(s2sApp(), func(a *app.App) { a.Audiences = []string{"my api"} }), invalid("audiences")},
		{"newline", with(s2sApp(), func(a *app.App) { a.Audiences = []string{"api\n"} }), invalid("audiences")},
		{"bad utf8", with(s2sApp(), func(a *app.App) { a.Audiences = []string{"\xff"} }), invalid("audiences")},
		{"too long", with(s2sApp(), func(a *app.App) { a.Audiences = []string{strings.Repeat("a", 2001)} }), invalid("audiences")},
	})
}

func TestValidateLifetimes(t *testing.T) {
	d := func(v time.Duration) app.Duration { return app.Duration(v) }
	const day = 24 * time.Hour
	runAppCases(t, 10, []appCase{
		{"access 1m", with(spaApp(), func(a *app.App) { a.AccessTokenLifetime = d(time.Minute) }), valid},
		{"access 1440m", with(spaApp(), func(a *app.App) { a.AccessTokenLifetime = d(1440 * time.Minute) }), valid},
		{"access 1441m", with(spaApp(), func(a *app.App) { a.AccessTokenLifetime = d(1441 * time.Minute) }), invalid("access_token_lifetime")},
		{"access 59s", with(spaApp(), func(a *app.App) { a.AccessTokenLifetime = d(59 * time.Second) }), invalid("access_token_lifetime")},
		{"access 90s", with(spaApp(), func(a *app.App) { a.AccessTokenLifetime = d(90 * time.Second) }), invalid("access_token_lifetime")},
		{"access negative", with(spaApp(), func(a *app.App) { a.AccessTokenLifetime = d(-time.Minute) }), invalid("access_token_lifetime")},
		{"id 1m", with(spaApp(), func(a *app.App) { a.IDTokenLifetime = d(time.Minute) }), valid},
		{"id 1440m", with(spaApp(), func(a *app.App) { a.IDTokenLifetime = d(24 * time.Hour) }), valid},
		{"id 1441m", with(spaApp(), func(a *app.App) { a.IDTokenLifetime = d(1441 * time.Minute) }), invalid("id_token_lifetime")},
		{"id 30s", with(spaApp(), func(a *app.App) { a.IDTokenLifetime = d(30 * time.Second) }), invalid("id_token_lifetime")},
		{"id 61.5m", with(spaApp(), func(a *app.App) { a.IDTokenLifetime = d(61*time.Minute + 30*time.Second) }), invalid("id_token_lifetime")},
		{"id negative", with(spaApp(), func(a *app.App) { a.IDTokenLifetime = d(-time.Hour) }), invalid("id_token_lifetime")},
		{"refresh 0 means none", with(webApp(), func(a *app.App) { a.RefreshTokenLifetime = 0 }), valid},
		{"refresh 1d", with(webApp(), func(a *app.App) { a.RefreshTokenLifetime = d(day) }), valid},
		{"refresh 365d", with(webApp(), func(a *app.App) { a.RefreshTokenLifetime = d(365 * day) }), valid},
		{"refresh 366d", with(webApp(), func(a *app.App) { a.RefreshTokenLifetime = d(366 * day) }), invalid("refresh_token_lifetime")},
		{"refresh 23h", with(webApp(), func(a *app.App) { a.RefreshTokenLifetime = d(23 * time.Hour) }), invalid("refresh_token_lifetime")},
		{"refresh 1m", with(webApp(), func(a *app.App) { a.RefreshTokenLifetime = d(time.Minute) }), invalid("refresh_token_lifetime")},
		{"refresh 1.5d", with(webApp(), func(a *app.App) { a.RefreshTokenLifetime = d(36 * time.Hour) }), invalid("refresh_token_lifetime")},
		{"refresh negative means default", with(webApp(), func(a *app.App) { a.RefreshTokenLifetime = d(-400 * day) }), valid},
	})
	for _, in := range []time.Duration{-1, -time.Hour, -400 * day} {
		a := with(webApp(), func(a *app.App) { a.RefreshTokenLifetime = d(in) })
		if err := a.Validate(10); err != nil {
			t.Fatal(err)
		}
		if got, want := a.RefreshTokenLifetime.D(), 30*day; got != want {
			t.Errorf("refresh lifetime %v: got %v after Validate, want the default %v", in, got, want)
		}
	}
}

func TestValidateOAuthOptions(t *testing.T) {
	runAppCases(t, 10, []appCase{
		{"force_pkce web", with(webApp(), func(a *app.App) { a.ForcePKCE = true }), valid},
		{"force_pkce spa", with(spaApp(), func(a *app.App) { a.ForcePKCE = true }), invalid("force_pkce")},
		{"force_pkce native", with(nativeApp(), func(a *app.App) { a.ForcePKCE = true }), invalid("force_pkce")},
		{"force_pkce s2s", with(s2sApp(), func(a *app.App) { a.ForcePKCE = true }), invalid("force_pkce")},
		{"format jwt", with(s2sApp(), func(a *app.App) { a.AccessTokenFormat = app.TokenJWT }), valid},
		{"format opaque", with(s2sApp(), func(a *app.App) { a.AccessTokenFormat = app.TokenOpaque }), valid},
		{"format JWT", with(s2sApp(), func(a *app.App) { a.AccessTokenFormat = "JWT" }), invalid("access_token_format")},
		{"format paseto", with(s2sApp(), func(a *app.App) { a.AccessTokenFormat = "paseto" }), invalid("access_token_format")},
	})
}

// selfSignedCert returns a PEM self-signed certificate, as an SP would upload.
func selfSignedCert(t testing.TB) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: "sp.example.com"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestValidateCertificate(t *testing.T) {
	cert := selfSignedCert(t)
	block, _ := pem.Decode([]byte(cert))
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: block.Bytes}))
	junk := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER at all")}))
	tests := []struct {
		name string
		pem  string
		want want
	}{
		{"self-signed", cert, valid},
		{"trailing newlines", cert + "\n\n", valid},
		{"two certificates", cert + selfSignedCert(t), invalid("saml.certificate")},
		{"certificate then junk", cert + "junk", invalid("saml.certificate")},
		{"wrong PEM type", keyPEM, invalid("saml.certificate")},
		{"not DER", junk, invalid("saml.certificate")},
		{"not PEM", "MIIBszCCAVmgAwIBAgIBKjAKBggqhkjOPQQDAjAZMRcwFQYDVQQD", invalid("saml.certificate")},
		{"empty PEM", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", invalid("saml.certificate")},
		{"over 16 KB", cert + strings.Repeat(" ", 16*1024), invalid("saml.certificate")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, app.ValidateCertificate("saml.certificate", tc.pem), tc.want)
		})
	}
}

func TestValidateSAML(t *testing.T) {
	cert := selfSignedCert(t)
	saml := func(f func(s *app.SAMLSettings)) *app.App {
		return with(samlApp(), func(a *app.App) { f(a.SAML) })
	}
	runAppCases(t, 10, []appCase{
		{"full", saml(func(s *app.SAMLSettings) {
			s.ACSURLs = append(s.ACSURLs, "http://localhost:8080/acs")
			s.Subject = "email"
			s.Certificate = cert
			s.HashAlgorithm = "sha512"
			s.EncryptAssertion = true
			s.EncryptionAlgorithm = "aes256-cbc"
			s.SLOURL = "https://wiki.example.com/saml/slo"
			s.SLOBinding = "redirect"
		}), valid},
		{"settings missing", with(samlApp(), func(a *app.App) { a.SAML = nil }), invalid("saml")},
		{"wsfed settings on a saml app", with(samlApp(), func(a *app.App) { a.WSFed = wsfedApp().WSFed }), invalid("wsfed")},
		{"urn entity id", saml(func(s *app.SAMLSettings) { s.EntityID = "urn:example:wiki" }), valid},
		{"no entity id", saml(func(s *app.SAMLSettings) { s.EntityID = "" }), invalid("saml.entity_id")},
		{"entity id with space", saml(func(s *app.SAMLSettings) { s.EntityID = "my wiki" }), invalid("saml.entity_id")},
		{"entity id bad utf8", saml(func(s *app.SAMLSettings) { s.EntityID = "urn:\xff" }), invalid("saml.entity_id")},
		{"entity id too long", saml(func(s *app.SAMLSettings) { s.EntityID = "urn:" + strings.Repeat("x", 1997) }), invalid("saml.entity_id")},
		{"no acs", saml(func(s *app.SAMLSettings) { s.ACSURLs = nil }), invalid("saml.acs_urls")},
		{"100 acs", saml(func(s *app.SAMLSettings) { s.ACSURLs = repeat("https://wiki.example.com/acs%d", 100) }), valid},
		{"101 acs", saml(func(s *app.SAMLSettings) { s.ACSURLs = repeat("https://wiki.example.com/acs%d", 101) }), invalid("saml.acs_urls")},
		{"acs over http", saml(func(s *app.SAMLSettings) { s.ACSURLs = []string{"http://wiki.example.com/acs"} }), invalid("saml.acs_urls")},
		{"acs with fragment", saml(func(s *app.SAMLSettings) { s.ACSURLs = []string{"https://wiki.example.com/acs#x"} }), invalid("saml.acs_urls")},
		{"acs custom scheme", saml(func(s *app.SAMLSettings) { s.ACSURLs = []string{"com.example.wiki:/acs"} }), invalid("saml.acs_urls")},
		{"subject user_id", saml(func(s *app.SAMLSettings) { s.Subject = "user_id" }), valid},
		{"subject username", saml(func(s *app.SAMLSettings) { s.Subject = "username" }), invalid("saml.subject")},
		{"hash sha384", saml(func(s *app.SAMLSettings) { s.HashAlgorithm = "sha384" }), valid},
		{"hash sha1 (issue 9: only if the app asks)", saml(func(s *app.SAMLSettings) { s.HashAlgorithm = "sha1" }), valid},
		{"hash md5", saml(func(s *app.SAMLSettings) { s.HashAlgorithm = "md5" }), invalid("saml.hash_algorithm")},
		{"hash SHA256", saml(func(s *app.SAMLSettings) { s.HashAlgorithm = "SHA256" }), invalid("saml.hash_algorithm")},
		{"bad certificate", saml(func(s *app.SAMLSettings) { s.Certificate = "not a certificate" }), invalid("saml.certificate")},
		{"encryption needs a certificate", saml(func(s *app.SAMLSettings) { s.EncryptAssertion = true }), invalid("saml.certificate")},
		{"encryption aes256-gcm", saml(func(s *app.SAMLSettings) {
			s.Certificate, s.EncryptAssertion, s.EncryptionAlgorithm = cert, true, "aes256-gcm"
		}), valid},
		{"encryption aes128-cbc", saml(func(s *app.SAMLSettings) {
			s.Certificate, s.EncryptAssertion, s.EncryptionAlgorithm = cert, true, "aes128-cbc"
		}), invalid("saml.encryption_algorithm")},
		{"encryption algorithm without encryption", saml(func(s *app.SAMLSettings) {
			s.Certificate, s.EncryptionAlgorithm = cert, "aes256-gcm"
		}), invalid("saml.encryption_algorithm")},
		{"slo over http", saml(func(s *app.SAMLSettings) { s.SLOURL = "http://wiki.example.com/slo" }), invalid("saml.slo_url")},
		{"slo binding soap", saml(func(s *app.SAMLSettings) { s.SLOURL, s.SLOBinding = "https://wiki.example.com/slo", "soap" }), invalid("saml.slo_binding")},
		{"slo binding without url", saml(func(s *app.SAMLSettings) { s.SLOBinding = "post" }), invalid("saml.slo_binding")},
		// OAuth settings do not belong on a SAML app.
		{"redirect uris", with(samlApp(), func(a *app.App) { a.RedirectURIs = []string{"https://wiki.example.com/cb"} }), invalid("redirect_uris")},
		{"post-logout uris", with(samlApp(), func(a *app.App) { a.PostLogoutRedirectURIs = []string{"https://wiki.example.com/"} }), invalid("post_logout_redirect_uris")},
		{"force_pkce", with(samlApp(), func(a *app.App) { a.ForcePKCE = true }), invalid("protocol")},
		{"developer_mode", with(samlApp(), func(a *app.App) { a.DeveloperMode = true }), invalid("protocol")},
		{"access_token_format", with(samlApp(), func(a *app.App) { a.AccessTokenFormat = app.TokenJWT }), invalid("protocol")},
		{"audiences", with(samlApp(), func(a *app.App) { a.Audiences = []string{"urn:x"} }), invalid("protocol")},
		// and SAML settings do not belong on an OIDC app.
		{"saml settings on oidc", with(webApp(), func(a *app.App) { a.SAML = samlApp().SAML }), invalid("saml")},
	})
}

func TestValidateWSFed(t *testing.T) {
	cert := selfSignedCert(t)
	wsfed := func(f func(w *app.WSFedSettings)) *app.App {
		return with(wsfedApp(), func(a *app.App) { f(a.WSFed) })
	}
	runAppCases(t, 10, []appCase{
		{"full", wsfed(func(w *app.WSFedSettings) {
			w.Realm = "https://sp.example.com/"
			w.ReplyURLs = append(w.ReplyURLs, "http://127.0.0.1:8443/_trust/")
			w.Certificate = cert
			w.HashAlgorithm = "sha384"
		}), valid},
		{"settings missing", with(wsfedApp(), func(a *app.App) { a.WSFed = nil }), invalid("wsfed")},
		{"saml settings on a wsfed app", with(wsfedApp(), func(a *app.App) { a.SAML = samlApp().SAML }), invalid("saml")},
		{"no realm", wsfed(func(w *app.WSFedSettings) { w.Realm = "" }), invalid("wsfed.realm")},
		{"realm with space", wsfed(func(w *app.WSFedSettings) { w.Realm = "urn:a b" }), invalid("wsfed.realm")},
		{"realm bad utf8", wsfed(func(w *app.WSFedSettings) { w.Realm = "urn:\xc3" }), invalid("wsfed.realm")},
		{"realm too long", wsfed(func(w *app.WSFedSettings) { w.Realm = strings.Repeat("r", 2001) }), invalid("wsfed.realm")},
		{"no reply url", wsfed(func(w *app.WSFedSettings) { w.ReplyURLs = []string{} }), invalid("wsfed.reply_urls")},
		{"101 reply urls", wsfed(func(w *app.WSFedSettings) { w.ReplyURLs = repeat("https://sp.example.com/%d", 101) }), invalid("wsfed.reply_urls")},
		{"reply url over http", wsfed(func(w *app.WSFedSettings) { w.ReplyURLs = []string{"http://sp.example.com/"} }), invalid("wsfed.reply_urls")},
		{"reply url with userinfo", wsfed(func(w *app.WSFedSettings) { w.ReplyURLs = []string{"https://a@sp.example.com/"} }), invalid("wsfed.reply_urls")},
		{"bad certificate", wsfed(func(w *app.WSFedSettings) { w.Certificate = cert + cert }), invalid("wsfed.certificate")},
		{"hash sha512", wsfed(func(w *app.WSFedSettings) { w.HashAlgorithm = "sha512" }), valid},
		{"hash md5", wsfed(func(w *app.WSFedSettings) { w.HashAlgorithm = "md5" }), invalid("wsfed.hash_algorithm")},
		{"grant types", with(wsfedApp(), func(a *app.App) { a.GrantTypes = []string{app.GrantPassword} }), invalid("grant_types")},
		{"wsfed settings on oidc", with(spaApp(), func(a *app.App) { a.WSFed = wsfedApp().WSFed }), invalid("wsfed")},
	})
}

func TestMatchRedirectURI(t *testing.T) {
	tests := []struct {
		name       string
		registered []string
		requested  string
		matchFor   []app.Type // types for which it matches; others do not
	}{
		{"exact https", []string{"https://a.example.com/cb"}, "https://a.example.com/cb", allTypes},
		{"exact among several", []string{"https://a.example.com/x", "https://a.example.com/cb"}, "https://a.example.com/cb", allTypes},
		{"exact custom scheme", []string{"com.example.app:/cb"}, "com.example.app:/cb", allTypes},
		{"exact loopback with port", []string{"http://127.0.0.1:8080/cb"}, "http://127.0.0.1:8080/cb", allTypes},
		{"nothing registered", nil, "https://a.example.com/cb", nil},
		{"trailing slash", []string{"https://a.example.com/cb"}, "https://a.example.com/cb/", nil},
		{"extra query", []string{"https://a.example.com/cb"}, "https://a.example.com/cb?x=1", nil},
		{"different query", []string{"https://a.example.com/cb?a=1"}, "https://a.example.com/cb?a=2", nil},
		{"host case", []string{"https://a.example.com/cb"}, "https://A.example.com/cb", nil},
		{"path case", []string{"https://a.example.com/cb"}, "https://a.example.com/CB", nil},
		{"encoded path", []string{"https://a.example.com/cb"}, "https://a.example.com/%63b", nil},
		{"prefix", []string{"https://a.example.com/cb"}, "https://a.example.com/cb/../evil", nil},
		{"suffix host", []string{"https://a.example.com/cb"}, "https://a.example.com.evil.example/cb", nil},
		{"https port", []string{"https://a.example.com/cb"}, "https://a.example.com:8443/cb", nil},
		{"fragment", []string{"https://a.example.com/cb"}, "https://a.example.com/cb#x", nil},
		{"custom scheme path", []string{"com.example.app:/cb"}, "com.example.app:/cb2", nil},
		{"empty request", []string{"https://a.example.com/cb"}, "", nil},

		// RFC 8252 §7.3: native apps may use any port on a registered loopback URI.
		{"loopback ip any port", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:51234/cb", []app.Type{app.Native}},
		{"loopback registered port, other port", []string{"http://127.0.0.1:8080/cb"}, "http://127.0.0.1:9090/cb", []app.Type{app.Native}},
		{"loopback ipv6 any port", []string{"http://[::1]/cb"}, "http://[::1]:5000/cb", []app.Type{app.Native}},
		{"localhost any port", []string{"http://localhost/cb"}, "http://localhost:5000/cb", []app.Type{app.Native}},
		{"loopback drop port", []string{"http://127.0.0.1:8080/cb"}, "http://127.0.0.1/cb", []app.Type{app.Native}},
		{"loopback with query", []string{"http://127.0.0.1/cb?x=1"}, "http://127.0.0.1:5/cb?x=1", []app.Type{app.Native}},
		// ... but everything else must still match.
		{"loopback other host", []string{"http://127.0.0.1/cb"}, "http://localhost:5000/cb", nil},
		{"loopback other path", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:5000/cb2", nil},
		{"loopback extra query", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:5000/cb?x=1", nil},
		{"loopback other query", []string{"http://127.0.0.1/cb?x=1"}, "http://127.0.0.1:5000/cb?x=2", nil},
		{"loopback https request", []string{"http://127.0.0.1/cb"}, "https://127.0.0.1:5000/cb", nil},
		{"loopback userinfo", []string{"http://127.0.0.1/cb"}, "http://evil@127.0.0.1:5000/cb", nil},
		{"loopback fragment", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:5000/cb#x", nil},
		{"loopback empty fragment", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:5000/cb#", nil},
		{"not loopback", []string{"http://127.0.0.1/cb"}, "http://127.0.0.2:5000/cb", nil},
		{"https registered", []string{"https://a.example.com/cb"}, "https://a.example.com:5000/cb", nil},
		{"unregistered loopback", []string{"https://a.example.com/cb"}, "http://127.0.0.1:5000/cb", nil},
		{"unparsable", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:port/cb", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, typ := range allTypes {
				want := slices.Contains(tc.matchFor, typ)
				if got := app.MatchRedirectURI(tc.registered, tc.requested, typ); got != want {
					t.Errorf("%s app: MatchRedirectURI(%q, %q) = %v, want %v", typ, tc.registered, tc.requested, got, want)
				}
			}
		})
	}
}

func TestPermissionValidate(t *testing.T) {
	tests := []struct {
		name string
		p    app.Permission
		want want
	}{
		{"name only", app.Permission{Name: "read_orders"}, valid},
		{"30 chars", app.Permission{Name: strings.Repeat("p", 30)}, valid},
		{"with description", app.Permission{Name: "Admin", Description: "Full access to the orders API"}, valid},
		{"120 rune description", app.Permission{Name: "p", Description: strings.Repeat("ß", 120)}, valid},
		{"no name", app.Permission{Description: "x"}, invalid("name")},
		{"31 chars", app.Permission{Name: strings.Repeat("p", 31)}, invalid("name")},
		{"colon", app.Permission{Name: "orders:read"}, invalid("name")},
		{"dash", app.Permission{Name: "read-orders"}, invalid("name")},
		{"space", app.Permission{Name: "read orders"}, invalid("name")},
		{"non-ascii", app.Permission{Name: "lesen_für_alle"}, invalid("name")},
		{"121 rune description", app.Permission{Name: "p", Description: strings.Repeat("ß", 121)}, invalid("description")},
		{"bad utf8 description", app.Permission{Name: "p", Description: "\xff\xfe"}, invalid("description")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, tc.p.Validate(), tc.want)
		})
	}
}

// R-APP-7: refresh lifetimes exist only for apps that may refresh; an s2s
// app's "default" is no refresh tokens, and a lifetime given anyway is refused.
func TestRefreshLifetimeNeedsRefreshGrant(t *testing.T) {
	a := &app.App{Name: "svc", Type: app.S2S, RefreshTokenLifetime: -1}
	if err := a.Validate(10); err != nil || a.RefreshTokenLifetime != 0 {
		t.Fatalf("s2s default: %v, lifetime %v", err, a.RefreshTokenLifetime.D())
	}
	a = &app.App{Name: "svc", Type: app.S2S, RefreshTokenLifetime: app.Duration(24 * time.Hour)}
	var de *derrors.Error
	if err := a.Validate(10); !errors.As(err, &de) || de.Field != "refresh_token_lifetime" {
		t.Fatalf("s2s with a refresh lifetime: %v", err)
	}
	w := &app.App{Name: "web", Type: app.Web, RedirectURIs: []string{"https://a.example.com/cb"}, GrantTypes: []string{app.GrantAuthorizationCode}, RefreshTokenLifetime: -1}
	if err := w.Validate(10); err != nil || w.RefreshTokenLifetime != 0 {
		t.Fatalf("web without refresh_token grant: %v, lifetime %v", err, w.RefreshTokenLifetime.D())
	}
}
