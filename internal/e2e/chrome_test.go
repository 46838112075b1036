package e2e

import (
	"context"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// chrome starts Debian's chromium, headless, for one test. Without it the
// test is skipped loudly, or fails under CI=true (make test installs it).
func chrome(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but chromium is not installed: make test installs Debian's chromium")
		}
		t.Skip("SKIPPING browser test: Debian's chromium is not installed (make test installs it)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
		cancelAlloc()
	})
	return ctx
}

// clientApp is a relying party's callback page on loopback: it shows the
// code and state it receives.
func clientApp(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>client</title><p id="code">%s</p><p id="state">%s</p><p id="error">%s</p>`,
			html.EscapeString(q.Get("code")), html.EscapeString(q.Get("state")), html.EscapeString(q.Get("error")))
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/cb"
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("GATEHOUSE_SCREENSHOTS")
	if dir == "" {
		return
	}
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	_ = os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
}

// R-OID-9, R-OID-2: a real browser signs in on the login page (and gives
// consent to a third-party app); real client libraries exchange the code
// and verify the ID token.
func TestLoginInRealBrowser(t *testing.T) {
	ctx := chrome(t)
	f := newFlow(t, options{})
	cb := clientApp(t)
	web := f.inst.createApp(t, "acme", "--type", "web", "--name", "Portal", "--redirect-uri", cb)
	cfg := f.oauthConfig(web, cb, "openid", "profile", "email")
	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("xyz", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n-1"))

	if err := chromedp.Do(ctx,
		chromedp.Navigate(authURL),
		chromedp.WaitVisible(`input[name="username"]`),
	); err != nil {
		t.Fatalf("login page: %v", err)
	}
	screenshot(t, ctx, "login")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(`input[name="username"]`, "alice"),
		chromedp.SendKeys(`input[name="password"]`, "correct horse battery"),
		chromedp.Click(`button[type="submit"]`),
		chromedp.WaitVisible(`button[name="decision"][value="allow"]`),
	); err != nil {
		t.Fatalf("login: %v", err)
	}
	screenshot(t, ctx, "consent")
	if err := chromedp.Do(ctx,
		chromedp.Click(`button[name="decision"][value="allow"]`),
		chromedp.WaitVisible(`#code`),
	); err != nil {
		t.Fatalf("consent: %v", err)
	}
	code, err := chromedp.Run(ctx, chromedp.Text(`#code`))
	if err != nil || code == "" {
		t.Fatalf("no code at the client: %q %v", code, err)
	}
	state, _ := chromedp.Run(ctx, chromedp.Text(`#state`))
	if state != "xyz" {
		t.Fatalf("state %q", state)
	}
	tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := f.provider.Verifier(&oidc.Config{ClientID: web.ClientID}).Verify(context.Background(), raw)
	if err != nil || idt.Nonce != "n-1" || idt.Subject != f.userID {
		t.Fatalf("ID token: %+v %v", idt, err)
	}

	// Single sign-on: a second authorization goes straight back, no login
	// page, no consent page (remembered).
	if err := chromedp.Do(ctx,
		chromedp.Navigate(cfg.AuthCodeURL("again", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(`#code`),
	); err != nil {
		t.Fatalf("SSO: %v", err)
	}
	if s, _ := chromedp.Run(ctx, chromedp.Text(`#state`)); s != "again" {
		t.Fatalf("SSO state %q", s)
	}

	// A wrong password shows the generic message and stays on the page.
	ctx2 := chrome(t)
	if err := chromedp.Do(ctx2,
		chromedp.Navigate(authURL),
		chromedp.WaitVisible(`input[name="username"]`),
		chromedp.SendKeys(`input[name="username"]`, "alice"),
		chromedp.SendKeys(`input[name="password"]`, "wrong password"),
		chromedp.Click(`button[type="submit"]`),
		chromedp.WaitVisible(`[role="alert"]`),
	); err != nil {
		t.Fatalf("wrong password: %v", err)
	}
	msg, _ := chromedp.Run(ctx2, chromedp.Text(`[role="alert"]`))
	if !containsFold(msg, "incorrect") {
		t.Fatalf("no error message after a wrong password: %q", msg)
	}
	screenshot(t, ctx2, "login-failed")
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// The single-page app example (examples/spa) in a real browser, talking to
// Gatehouse directly from its own origin: code flow with PKCE, CORS on the
// token and userinfo endpoints.
func TestSPAExampleInBrowser(t *testing.T) {
	ctx := chrome(t)
	f := newFlow(t, options{})
	page, err := os.ReadFile("../../examples/spa/index.html")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := "http://" + ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	spa := f.inst.createApp(t, "acme", "--type", "spa", "--name", "spa_demo", "--first-party",
		"--redirect-uri", origin+"/", "--post-logout-redirect-uri", origin+"/")
	start := origin + "/?" + url.Values{"issuer": {f.issuer}, "client_id": {spa.ClientID}}.Encode()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(start),
		chromedp.WaitVisible(`#login`),
		chromedp.Click(`#login`),
		chromedp.WaitVisible(`input[name="username"]`),
		chromedp.SendKeys(`input[name="username"]`, "alice"),
		chromedp.SendKeys(`input[name="password"]`, "correct horse battery"),
		chromedp.Click(`button[type="submit"]`),
		chromedp.WaitVisible(`#userinfo`),
		chromedp.Click(`#userinfo`),
		chromedp.Sleep(500*time.Millisecond),
	); err != nil {
		errText, _ := chromedp.Run(ctx, chromedp.Text(`body`))
		t.Fatalf("spa: %v\n%s", err, errText)
	}
	screenshot(t, ctx, "spa")
	status, _ := chromedp.Run(ctx, chromedp.Text(`#status`))
	out, _ := chromedp.Run(ctx, chromedp.Text(`#out`))
	errText, _ := chromedp.Run(ctx, chromedp.Text(`#error`))
	if !strings.HasPrefix(status, "Signed in.") || errText != "" || !strings.Contains(out, "alice@example.com") {
		t.Fatalf("status %q, error %q, out %q", status, errText, out)
	}
}

// A native app in a real browser: the registered loopback redirect URI
// matches any port (RFC 8252 §7.3), PKCE is required, no secret.
func TestNativeAppInBrowser(t *testing.T) {
	ctx := chrome(t)
	f := newFlow(t, options{})
	cb := clientApp(t) // http://127.0.0.1:<random port>/cb
	native := f.inst.createApp(t, "acme", "--type", "native", "--name", "desktop", "--first-party", "--redirect-uri", "http://127.0.0.1/cb")
	cfg := f.oauthConfig(native, cb, "openid", "offline_access")
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	verifier := oauth2.GenerateVerifier()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(cfg.AuthCodeURL("nat", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(`input[name="username"]`),
		chromedp.SendKeys(`input[name="username"]`, "alice"),
		chromedp.SendKeys(`input[name="password"]`, "correct horse battery"),
		chromedp.Click(`button[type="submit"]`),
		chromedp.WaitVisible(`#code`),
	); err != nil {
		t.Fatalf("native login: %v", err)
	}
	code, _ := chromedp.Run(ctx, chromedp.Text(`#code`))
	tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v", err)
	}
}
