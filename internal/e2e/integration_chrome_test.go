package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

// Issue 11 §2, R-INT-3 (seed 000: "implicit ... only for service action
// authentication and only in developer mode ... no refresh"): in Chromium,
// a user authorizes a developer-mode integration's service actions with
// the implicit grant at a Gatehouse tenant; the token comes back in the URL
// fragment, the callback page's script (a file, no inline script) posts it
// back, and the user's writes carry it.
func TestIntegrationImplicitInBrowser(t *testing.T) {
	ctx := chrome(t)
	f := newCallFixture(t, nil)
	asIssuer := f.inst.createTenant(t, "as", "ES256")
	rs := f.inst.createApp(t, "as", "--type", "s2s", "--name", "tickets_api")
	callback := f.inst.URL + "/t/acme/integrations/callback"
	spa := f.inst.createApp(t, "as", "--type", "spa", "--name", "actions", "--redirect-uri", callback, "--first-party",
		"--grant-type", "authorization_code", "--grant-type", "implicit", "--developer-mode")
	for tenant, u := range map[string]string{"as": "robot", "acme": "alice"} {
		if r := f.inst.api(t, f.admin, "POST", "/admin/v1/tenants/"+tenant+"/users", map[string]any{"username": u, "email": u + "@example.com", "password": u + " password 1"}); r.Status != 201 {
			t.Fatalf("user %s: %d %s", u, r.Status, r.Raw)
		}
	}
	up := newUpstream(t, func(r *http.Request) bool {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		in := postForm(t, asIssuer+"/oauth/introspect", url.Values{"token": {tok}}, rs.ClientID, rs.ClientSecret)
		return in.Body["active"] == true && in.Body["client_id"] == spa.ClientID && in.Body["username"] == "robot"
	})
	f.integration(t, "up", `{"base_url": "`+up.URL+`", "developer_mode": true, "service_auth": {"method": "none"},
		"service_action_auth": {"method": "oauth2", "grant_type": "implicit", "client_id": "`+spa.ClientID+`",
		"authorization_url": "`+asIssuer+`/oauth/authorize", "scope": "openid"}}`)

	// Alice signs in to an acme app in Chromium (her Gatehouse session);
	// the app's redirect target is a loopback page that keeps the code.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var code string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := r.URL.Query().Get("code"); c != "" {
			mu.Lock()
			code = c
			mu.Unlock()
		}
		_, _ = w.Write([]byte("<!doctype html><title>portal</title><p id=done>portal</p>"))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	portalURL := "http://" + ln.Addr().String() + "/cb"
	portal := f.inst.createApp(t, "acme", "--type", "web", "--name", "portal", "--redirect-uri", portalURL, "--first-party",
		"--scope", "integration:up", "--scope", "integration:up:write")
	cfg := &oauth2.Config{ClientID: portal.ClientID, ClientSecret: portal.ClientSecret, RedirectURL: portalURL,
		Scopes: []string{"openid", "integration:up", "integration:up:write"}, Endpoint: oauth2.Endpoint{AuthURL: f.inst.URL + "/t/acme/oauth/authorize", TokenURL: f.tokenEndpoint}}
	if err := chromedp.Do(ctx, chromedp.Navigate(cfg.AuthCodeURL("st")), chromedp.WaitVisible(`input[name="username"]`),
		chromedp.SendKeys(`input[name="username"]`, "alice"), chromedp.SendKeys(`input[name="password"]`, "alice password 1"),
		chromedp.Click(`button[type="submit"]`), chromedp.WaitVisible(`#done`)); err != nil {
		t.Fatalf("alice's sign-in: %v", err)
	}
	mu.Lock()
	c := code
	mu.Unlock()
	tok, err := cfg.Exchange(context.Background(), c)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}

	resp, body := f.call(t, "POST", "up", "tickets", tok.AccessToken, nil, "")
	var need struct {
		Error            string `json:"error"`
		AuthorizationURL string `json:"authorization_url"`
	}
	_ = json.Unmarshal([]byte(body), &need)
	if resp.StatusCode != 403 || need.Error != "authorization_required" || !strings.Contains(need.AuthorizationURL, "response_type=token") {
		t.Fatalf("alice's first write: %d %s", resp.StatusCode, body)
	}
	var text string
	if err := chromedp.Do(ctx, chromedp.Navigate(need.AuthorizationURL), chromedp.WaitVisible(`input[name="username"]`),
		chromedp.SendKeys(`input[name="username"]`, "robot"), chromedp.SendKeys(`input[name="password"]`, "robot password 1"),
		chromedp.Click(`button[type="submit"]`)); err != nil {
		t.Fatalf("robot's sign-in at the authorization server: %v", err)
	}
	text = waitText(t, ctx, "h1", "Signed in", "This")
	if text != "Signed in" {
		t.Fatalf("the callback page: %q", text)
	}
	if resp, body := f.call(t, "POST", "up", "tickets", tok.AccessToken, nil, ""); resp.StatusCode != 201 {
		t.Fatalf("alice's write after the implicit authorization: %d %s", resp.StatusCode, body)
	}
}
