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
	}, map[string]any{"encrypt_assertion": true})

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
}
