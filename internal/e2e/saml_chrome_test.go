package e2e

import (
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
)

// R-SML-1, R-SML-2, issue 9: in a real browser, a crewjam/saml SP sends a
// signed AuthnRequest by the POST binding, the user signs in on the login
// page, and the SP decrypts and accepts the encrypted assertion; then an
// IdP-initiated sign-on reaches the SP without a login page.
func TestSAMLInRealBrowser(t *testing.T) {
	ctx := chrome(t)
	f := newSAMLFixture(t, "ES256", func(o *samlsp.Options) {
		o.Binding = saml.HTTPPostBinding
		o.DefaultRedirectURI = "/hello"
		o.LogoutBinding = saml.HTTPPostBinding
	}, map[string]any{"encrypt_assertion": true, "slo_url": "auto", "slo_binding": "post"})
	rp := newWSFedRP(t, f.issuer)
	f.inst.registerRP(t, "acme", rp)

	if err := chromedp.Do(ctx,
		chromedp.Navigate(f.sp.URL+"/hello"),
		chromedp.WaitVisible(`input[name="username"]`),
	); err != nil {
		t.Fatalf("login page: %v", err)
	}
	screenshot(t, ctx, "saml-login")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(`input[name="username"]`, "alice"),
		chromedp.SendKeys(`input[name="password"]`, "correct horse battery"),
		chromedp.Click(`button[type="submit"]`),
		chromedp.WaitVisible(`#out`),
	); err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	out, err := chromedp.Run(ctx, chromedp.Text(`#out`))
	if err != nil || !strings.Contains(out, "hello subject="+f.userID) || !strings.Contains(out, "email=alice@example.com") {
		t.Fatalf("SP page: %q %v", out, err)
	}

	// IdP-initiated: the SSO session answers, the SP has a new session.
	ctx2 := ctx
	if err := chromedp.Do(ctx2,
		chromedp.Navigate(f.issuer+"/saml/idp-init?sp="+url.QueryEscape(f.sp.MW.ServiceProvider.EntityID)+"&RelayState=/hello"),
		chromedp.WaitVisible(`#out`),
	); err != nil {
		t.Fatalf("IdP-initiated: %v", err)
	}
	if out, _ := chromedp.Run(ctx2, chromedp.Text(`#out`)); !strings.Contains(out, "hello subject="+f.userID) {
		t.Fatalf("SP page after IdP-initiated sign-on: %q", out)
	}

	// WS-Federation sign-in with the same SSO session: no login page.
	if err := chromedp.Do(ctx, chromedp.Navigate(rp.URL+"/app"), chromedp.WaitVisible(`#out`)); err != nil {
		t.Fatalf("WS-Fed sign-in: %v", err)
	}
	if out, _ := chromedp.Run(ctx, chromedp.Text(`#out`)); !strings.Contains(out, "hello subject="+f.userID) {
		t.Fatalf("RP page: %q", out)
	}

	// SP-initiated single logout by the POST binding ends the session for
	// every protocol: the SP and the RP get the login page again.
	if err := chromedp.Do(ctx, chromedp.Navigate(f.sp.URL+"/logout"), chromedp.WaitReady("body")); err != nil {
		t.Fatalf("logout: %v", err)
	}
	for _, u := range []string{f.sp.URL + "/hello", rp.URL + "/app"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(u), chromedp.WaitVisible(`input[name="username"]`)); err != nil {
			t.Fatalf("%s after logout: no login page: %v", u, err)
		}
	}
	// WS-Federation sign-out returns to the RP.
	q := url.Values{"wa": {"wsignout1.0"}, "wtrealm": {rp.Realm}, "wreply": {rp.URL + "/signed-out"}}
	if err := chromedp.Do(ctx, chromedp.Navigate(f.issuer+"/wsfed?"+q.Encode()), chromedp.WaitReady("body")); err != nil {
		t.Fatalf("wsignout1.0: %v", err)
	}
	if body, _ := chromedp.Run(ctx, chromedp.Text(`body`)); !strings.Contains(body, "signed out") {
		t.Fatalf("after wsignout1.0: %q", body)
	}
}
