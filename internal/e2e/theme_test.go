package e2e

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

// themeJSON is the admin API's view of a tenant's theme.
type themeJSON struct {
	ProductName     string `json:"product_name"`
	LogoURL         string `json:"logo_url"`
	PrimaryColor    string `json:"primary_color"`
	BackgroundColor string `json:"background_color"`
	Texts           struct {
		LoginTitle   string `json:"login_title"`
		LoginIntro   string `json:"login_intro"`
		ConsentTitle string `json:"consent_title"`
		Footer       string `json:"footer"`
	} `json:"texts"`
	Custom    bool   `json:"custom"`
	UpdatedAt string `json:"updated_at"`
	Effective struct {
		ProductName     string `json:"product_name"`
		PrimaryColor    string `json:"primary_color"`
		BackgroundColor string `json:"background_color"`
		Texts           struct {
			LoginTitle   string `json:"login_title"`
			ConsentTitle string `json:"consent_title"`
		} `json:"texts"`
	} `json:"effective"`
}

var themeLink = regexp.MustCompile(`<link rel="stylesheet" href="([^"]*/static/theme\.css\?v=[0-9a-f]+)">`)

// themeCSS returns the theme stylesheet a page links.
func themeCSS(t *testing.T, p page) string {
	t.Helper()
	m := themeLink.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("%s links no theme stylesheet: %.400s", p.URL, p.Body)
	}
	return httpGet(t, strings.ReplaceAll(m[1], "&amp;", "&"))
}

func httpGet(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return string(b)
}

// R-OID-9: an admin sets a tenant's theme with the CLI; that tenant's login
// and consent pages show it (texts, logo, colours in the stylesheet the
// pages link) and another tenant keeps the default; a reset brings the
// default back.
func TestThemePerTenant(t *testing.T) {
	f := newFlow(t, options{})
	inst := f.inst
	inst.createTenant(t, "globex", "")
	const redirect = "https://portal.example.com/cb"
	web := inst.createApp(t, "acme", "--type", "web", "--name", "Portal", "--redirect-uri", redirect)

	var th themeJSON
	inst.cliJSON(t, &th, "tenant", "theme", "get", "acme")
	if th.Custom || th.Effective.ProductName != "Gatehouse" || th.Effective.PrimaryColor != "#1d4ed8" || th.UpdatedAt != "" {
		t.Fatalf("theme before any set: %+v", th)
	}
	inst.cliJSON(t, &th, "tenant", "theme", "set", "acme",
		"--product-name", "Acme ID", "--primary-color", "#FFCC00", "--logo-url", "https://cdn.acme.example/logo.png",
		"--title", "Welcome to Acme", "--welcome", "Use your Acme account.", "--footer", "Need help? Call 555-0100.")
	if !th.Custom || th.ProductName != "Acme ID" || th.PrimaryColor != "#ffcc00" || th.BackgroundColor != "" || th.UpdatedAt == "" ||
		th.Effective.BackgroundColor != "#f3f4f6" || th.Effective.Texts.ConsentTitle != "Allow access?" {
		t.Fatalf("theme after set: %+v", th)
	}
	// set changes what its flags say and keeps the rest; --tenant works too.
	inst.cliJSON(t, &th, "tenant", "theme", "set", "--tenant", "acme", "--background-color", "#fafaf0", "--consent-title", "Share with Acme?")
	if th.ProductName != "Acme ID" || th.PrimaryColor != "#ffcc00" || th.BackgroundColor != "#fafaf0" || th.Texts.ConsentTitle != "Share with Acme?" || th.Texts.LoginTitle != "Welcome to Acme" {
		t.Fatalf("theme after a second set: %+v", th)
	}
	out, errs, code := inst.cli(t, "tenant", "theme", "get", "acme")
	if code != 0 || !regexp.MustCompile(`product_name:\s+Acme ID\n`).MatchString(out) || !regexp.MustCompile(`footer:\s+Need help\? Call 555-0100\.\n`).MatchString(out) {
		t.Fatalf("theme get (text): %d %q %s", code, out, errs)
	}
	// A bad value is refused naming the flag's field; nothing changes.
	if _, errs, code := inst.cli(t, "tenant", "theme", "set", "acme", "--primary-color", "red"); code != 1 || !strings.Contains(errs, "primary_color") {
		t.Fatalf("bad colour: exit %d, %q", code, errs)
	}
	for _, args := range [][]string{{"tenant", "theme", "set", "acme"}, {"tenant", "theme", "get"}, {"tenant", "theme", "get", "acme", "--tenant", "globex"}, {"tenant", "theme", "get", "nope"}} {
		if _, errs, code := inst.cli(t, args...); code != 1 || !strings.HasPrefix(errs, "gatehouse: ") {
			t.Errorf("%v: exit %d, %q", args, code, errs)
		}
	}

	// The login page of an authorization request, as a browser sees it.
	cfg := f.oauthConfig(web, redirect, "openid", "profile")
	verifier := oauth2.GenerateVerifier()
	b := newBrowser(t)
	p := b.follow(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), inst.URL)
	if p.Status != 200 || !strings.HasSuffix(p.URL.Path, "/t/acme/login") {
		t.Fatalf("authorize: %d at %s", p.Status, p.URL)
	}
	for _, want := range []string{"<title>Welcome to Acme – Acme ID</title>", "Welcome to Acme", "Use your Acme account.", "Need help? Call 555-0100.",
		`<img class="logo" src="https://cdn.acme.example/logo.png" alt="Acme ID">`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("acme's login page lacks %q", want)
		}
	}
	if css := themeCSS(t, p); css != ":root{--gh-primary:#ffcc00;--gh-on-primary:#000000;--gh-background:#fafaf0}\n" {
		t.Errorf("acme's theme.css = %q", css)
	}
	resp, err := http.Get(inst.URL + "/t/acme/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data: https://cdn.acme.example;") {
		t.Errorf("CSP %q does not allow the logo's origin", csp)
	}
	// The consent page (a third-party app) has the theme too.
	p = b.submitFirst(p, url.Values{"username": {"alice"}, "password": {"correct horse battery"}}, inst.URL)
	if p.Status != 200 || !strings.HasSuffix(p.URL.Path, "/t/acme/consent") {
		t.Fatalf("after sign-in: %d at %s", p.Status, p.URL)
	}
	for _, want := range []string{"<h1>Share with Acme?</h1>", "Acme ID", "Need help? Call 555-0100."} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("acme's consent page lacks %q", want)
		}
	}
	if css := themeCSS(t, p); !strings.Contains(css, "--gh-primary:#ffcc00;") {
		t.Errorf("consent page's theme.css = %q", css)
	}

	// Another tenant keeps the default.
	other := newBrowser(t).get(inst.URL + "/t/globex/login")
	if other.Status != 200 || !strings.Contains(other.Body, "<title>Sign in – Gatehouse</title>") || strings.Contains(other.Body, "Acme") {
		t.Fatalf("globex's login page: %d %.400s", other.Status, other.Body)
	}
	if css := themeCSS(t, other); css != ":root{--gh-primary:#1d4ed8;--gh-on-primary:#ffffff;--gh-background:#f3f4f6}\n" {
		t.Errorf("globex's theme.css = %q", css)
	}

	t.Run("screenshot", func(t *testing.T) {
		if os.Getenv("GATEHOUSE_SCREENSHOTS") == "" {
			t.Skip("set GATEHOUSE_SCREENSHOTS to a directory to take screenshots")
		}
		if _, err := exec.LookPath("chromium"); err != nil {
			t.Skip("no chromium")
		}
		ctx := chrome(t)
		for _, tn := range []string{"acme", "globex"} {
			if err := chromedp.Do(ctx, chromedp.Navigate(inst.URL+"/t/"+tn+"/login"), chromedp.WaitVisible(`input[name="username"]`)); err != nil {
				t.Fatalf("%s login page: %v", tn, err)
			}
			screenshot(t, ctx, "login-theme-"+tn)
		}
	})

	// Reset: the default again, at once on this replica.
	if out, errs, code := inst.cli(t, "tenant", "theme", "reset", "acme"); code != 0 || !strings.Contains(out, "default theme") {
		t.Fatalf("reset: %d %q %s", code, out, errs)
	}
	p = newBrowser(t).get(inst.URL + "/t/acme/login")
	if !strings.Contains(p.Body, "<title>Sign in – Gatehouse</title>") || strings.Contains(p.Body, "Acme") {
		t.Errorf("acme's login page after reset: %.400s", p.Body)
	}
	inst.cliJSON(t, &th, "tenant", "theme", "get", "acme")
	if th.Custom {
		t.Errorf("theme after reset: %+v", th)
	}
}

// R-OID-9 through the admin API: every invalid value is a 400 whose problem
// document names the field, and nothing is saved; a valid theme is
// normalised; DELETE succeeds with or without a theme; an unknown tenant is
// a 404.
func TestThemeAPIValidation(t *testing.T) {
	inst := start(t, options{})
	tok := inst.adminToken(t)
	inst.createTenant(t, "acme", "")
	const path = "/admin/v1/tenants/acme/theme"
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"named colour", map[string]any{"primary_color": "red"}, "primary_color"},
		{"three-digit colour", map[string]any{"primary_color": "#fc0"}, "primary_color"},
		{"CSS injection", map[string]any{"background_color": "#000000;}body{display:none"}, "background_color"},
		{"javascript logo", map[string]any{"logo_url": "javascript:alert(1)"}, "logo_url"},
		{"plain http logo", map[string]any{"logo_url": "http://cdn.example.com/logo.png"}, "logo_url"},
		{"data logo", map[string]any{"logo_url": "data:image/png;base64,iVBORw0KGgo="}, "logo_url"},
		{"protocol-relative logo", map[string]any{"logo_url": "//evil.example/logo.png"}, "logo_url"},
		{"logo with credentials", map[string]any{"logo_url": "https://u:p@cdn.example.com/logo.png"}, "logo_url"},
		{"product name too long", map[string]any{"product_name": strings.Repeat("x", 101)}, "product_name"},
		{"product name with a newline", map[string]any{"product_name": "Acme\nID"}, "product_name"},
		{"login title too long", map[string]any{"texts": map[string]any{"login_title": strings.Repeat("é", 101)}}, "texts.login_title"},
		{"login intro too long", map[string]any{"texts": map[string]any{"login_intro": strings.Repeat("x", 501)}}, "texts.login_intro"},
		{"consent title with a control character", map[string]any{"texts": map[string]any{"consent_title": "a\u0007b"}}, "texts.consent_title"},
		{"footer too long", map[string]any{"texts": map[string]any{"footer": strings.Repeat("x", 501)}}, "texts.footer"},
		{"unknown field", map[string]any{"colour": "#ffffff"}, "colour"},
		{"unknown text", map[string]any{"texts": map[string]any{"logout_title": "Bye"}}, "logout_title"},
		{"read-only field", map[string]any{"custom": true}, "custom"},
		{"wrong type", map[string]any{"primary_color": 16777215}, "primary_color"},
		{"wrong nested type", map[string]any{"texts": map[string]any{"footer": 5}}, "texts.footer"},
		{"not JSON", "{", "body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := inst.api(t, tok, "PUT", path, tc.body)
			if r.Status != 400 || r.Body["field"] != tc.field || r.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("got %d %s, want 400 naming %q", r.Status, r.Raw, tc.field)
			}
		})
	}
	if r := inst.api(t, tok, "GET", path, nil); r.Status != 200 || r.Body["custom"] != false {
		t.Fatalf("after refused PUTs: %d %s", r.Status, r.Raw)
	}

	r := inst.api(t, tok, "PUT", path, map[string]any{"product_name": "  Acme ID ", "primary_color": "#AABBCC", "logo_url": "/static/acme.png", "texts": map[string]any{"footer": " Help "}})
	if r.Status != 200 || r.Body["product_name"] != "Acme ID" || r.Body["primary_color"] != "#aabbcc" || r.Body["logo_url"] != "/static/acme.png" ||
		r.Body["texts"].(map[string]any)["footer"] != "Help" || r.Body["custom"] != true || r.Body["updated_at"] == nil {
		t.Fatalf("valid PUT: %d %s", r.Status, r.Raw)
	}
	if eff := r.Body["effective"].(map[string]any); eff["background_color"] != "#f3f4f6" || eff["product_name"] != "Acme ID" {
		t.Fatalf("effective theme: %v", eff)
	}
	if g := inst.api(t, tok, "GET", path, nil); g.Status != 200 || g.Body["primary_color"] != "#aabbcc" || g.Body["updated_at"] != r.Body["updated_at"] {
		t.Fatalf("GET after PUT: %d %s", g.Status, g.Raw)
	}
	// PUT replaces the whole theme.
	if r := inst.api(t, tok, "PUT", path, map[string]any{"background_color": "#ffffff"}); r.Status != 200 || r.Body["product_name"] != "" || r.Body["primary_color"] != "" {
		t.Fatalf("second PUT: %d %s", r.Status, r.Raw)
	}
	for range 2 {
		if r := inst.api(t, tok, "DELETE", path, nil); r.Status != 204 {
			t.Fatalf("DELETE: %d %s", r.Status, r.Raw)
		}
	}
	for _, m := range []string{"GET", "PUT", "DELETE"} {
		if r := inst.api(t, tok, m, "/admin/v1/tenants/nope/theme", map[string]any{}); r.Status != 404 {
			t.Errorf("%s on a missing tenant: %d %s", m, r.Status, r.Raw)
		}
	}
	if r := inst.api(t, "", "GET", path, nil); r.Status != 401 {
		t.Errorf("without a token: %d", r.Status)
	}
}

// R-OID-9, R-RUN-2: a theme set through one replica shows on the other's
// pages within seconds (each replica caches themes briefly).
func TestThemeAcrossReplicas(t *testing.T) {
	dsn := postgresURL(t)
	key := newMasterKey()
	one := start(t, options{database: dsn, masterKey: key})
	two := start(t, options{database: dsn, masterKey: key, dataDir: one.DataDir})
	one.createTenant(t, "acme", "")
	// Replica two has the default theme in its cache.
	if css := httpGet(t, two.URL+"/t/acme/static/theme.css"); !strings.Contains(css, "--gh-primary:#1d4ed8;") {
		t.Fatalf("replica two's theme.css before: %q", css)
	}
	if _, errs, code := one.cli(t, "tenant", "theme", "set", "acme", "--primary-color", "#123456"); code != 0 {
		t.Fatal(errs)
	}
	start := time.Now()
	for !strings.Contains(httpGet(t, two.URL+"/t/acme/static/theme.css"), "--gh-primary:#123456;") {
		if time.Since(start) > 10*time.Second {
			t.Fatal("replica two still draws the old theme 10 s after the change")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("replica two showed the new theme after %v", time.Since(start).Round(100*time.Millisecond))
}
