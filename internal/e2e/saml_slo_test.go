package e2e

import (
	"crypto/rsa"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
	"golang.org/x/oauth2"
)

// drive follows redirects and submits the POST-binding forms (SAMLRequest,
// SAMLResponse) a browser would submit by script, across the IdP and the
// SPs, until a page that is neither or a redirect to a URL under stop (if
// given); it returns that page and the URLs seen.
func (b *browser) drive(start string, stop ...string) (page, []string) {
	b.t.Helper()
	p := b.get(start)
	seen := []string{start}
	for i := 0; i < 20; i++ {
		switch {
		case p.Status/100 == 3:
			next, err := p.URL.Parse(p.Location)
			if err != nil {
				b.t.Fatal(err)
			}
			seen = append(seen, next.String())
			if len(stop) > 0 && strings.HasPrefix(next.String(), stop[0]) {
				return p, seen
			}
			p = b.get(next.String())
		case p.Status == http.StatusOK && (strings.Contains(p.Body, `name="SAMLRequest"`) || strings.Contains(p.Body, `name="SAMLResponse"`)):
			f := forms(b.t, p)[0]
			seen = append(seen, "POST "+f.Action)
			p = b.submit(f, nil)
		default:
			return p, seen
		}
	}
	b.t.Fatalf("more than 20 steps: %v", seen)
	return p, seen
}

// R-SML-1, issue 9: SP-initiated single logout. Two crewjam/saml SPs share
// one SSO session; the first logs out (Redirect binding, signed); the IdP
// ends the session, tells the second SP (POST binding, signed), which
// answers, and then answers the first. Afterwards neither SP has a session
// and the IdP shows the login page again.
func TestSAMLSingleLogout(t *testing.T) {
	f := newSAMLFixture(t, "", func(o *samlsp.Options) { o.CookieName = "sp1" }, map[string]any{"slo_url": "auto", "slo_binding": "redirect"})
	sp1 := f.sp
	sp2 := newSAMLSP(t, f.issuer, func(o *samlsp.Options) {
		o.CookieName = "sp2"
		o.LogoutBinding = saml.HTTPPostBinding
	})
	f.inst.registerSP(t, "acme", "wiki", sp2, map[string]any{
		"certificate": sp2.CertPEM, "slo_url": sp2.MW.ServiceProvider.SloURL.String(), "slo_binding": "post",
	})
	b := newBrowser(t)
	if p := f.deliver(t, b, f.signIn(t, b)); !strings.Contains(p.Body, "hello subject="+f.userID) {
		t.Fatalf("sp1 sign-in: %d %s", p.Status, pageText(p.Body))
	}
	if p, _ := b.drive(sp2.URL + "/hello"); !strings.Contains(p.Body, "hello subject="+f.userID) {
		t.Fatalf("sp2 SSO: %d %s", p.Status, pageText(p.Body))
	}

	p, seen := b.drive(sp1.URL + "/logout")
	joined := strings.Join(seen, "\n")
	t.Logf("logout steps:\n%s", joined)
	if !strings.Contains(joined, f.issuer+"/saml/slo?SAMLRequest=") || !strings.Contains(joined, "POST "+sp2.MW.ServiceProvider.SloURL.String()) ||
		!strings.Contains(joined, sp1.MW.ServiceProvider.SloURL.String()+"?SAMLResponse=") {
		t.Fatalf("logout did not go sp1 → IdP → sp2 → IdP → sp1:\n%s\nlast page %d %s", joined, p.Status, pageText(p.Body))
	}
	for _, sp := range []*samlSP{sp1, sp2} {
		p, _ := b.drive(sp.URL + "/hello")
		if p.Status != http.StatusOK || !strings.HasSuffix(p.URL.Path, "/login") {
			t.Errorf("%s after logout: %d at %s, want the IdP's login page: %s", sp.URL, p.Status, p.URL, pageText(p.Body))
		}
	}
}

// Issue 9, bad input at the logout service: refused with a 400 page, and the
// SSO session survives every one of them.
func TestSAMLLogoutBadRequests(t *testing.T) {
	f := newSAMLFixture(t, "", nil, map[string]any{"slo_url": "auto"})
	b := newBrowser(t)
	f.deliver(t, b, f.signIn(t, b))
	now := time.Now()
	n := 0
	logout := func(issuer string, at time.Time, nameID ...string) []byte {
		n++
		el := etree.NewElement("samlp:LogoutRequest")
		el.CreateAttr("xmlns:samlp", "urn:oasis:names:tc:SAML:2.0:protocol")
		el.CreateAttr("xmlns:saml", "urn:oasis:names:tc:SAML:2.0:assertion")
		el.CreateAttr("ID", fmt.Sprintf("_lo%d_%d", now.UnixNano(), n))
		el.CreateAttr("Version", "2.0")
		el.CreateAttr("IssueInstant", at.UTC().Format(time.RFC3339))
		el.CreateElement("saml:Issuer").SetText(issuer)
		el.CreateElement("saml:NameID").SetText(append(nameID, f.userID)[0])
		return xmlBytes(t, el)
	}
	slo := func(x []byte, key *rsa.PrivateKey) string {
		return strings.Replace(f.redirectURL(t, x, "", key), "/saml/sso?", "/saml/slo?", 1)
	}
	entity := f.sp.MW.ServiceProvider.EntityID
	replayed := logout(entity, now, "someone-else")
	tests := []struct {
		name, url, want string
	}{
		{"unsigned, signature required", slo(logout(entity, now), nil), "requires signed requests"},
		{"unknown SP", slo(logout("https://unknown.example", now), f.sp.Key), "is not registered"},
		{"stale", slo(logout(entity, now.Add(-time.Hour)), f.sp.Key), "IssueInstant"},
		{"signed by another key", slo(logout(entity, now), func() *rsa.PrivateKey { k, _, _ := selfSigned(t, "x"); return k }()), "signature is not valid"},
		{"replay", slo(replayed, f.sp.Key), "already answered"},
		{"a LogoutResponse of no logout", f.issuer + "/saml/slo?SAMLResponse=" + url.QueryEscape(b64(deflate(t, []byte(`<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>x</saml:Issuer></samlp:LogoutResponse>`)))) + "&RelayState=nope", "has expired"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "replay" {
				// The first use, for another user's NameID, ends nothing
				// but is answered.
				_ = b.get(tc.url)
			}
			p := b.get(tc.url)
			if p.Status != http.StatusBadRequest || !strings.Contains(pageText(p.Body), tc.want) {
				t.Fatalf("got %d %q, want 400 saying %q", p.Status, pageText(p.Body), tc.want)
			}
			// The session is intact: SSO answers without a login page.
			n++
			if p := b.get(f.redirectURL(t, xmlBytes(t, f.authnRequest(fmt.Sprintf("_ok%d_%d", now.UnixNano(), n), time.Now())), "", f.sp.Key)); p.Status != http.StatusOK || !strings.Contains(p.Body, "SAMLResponse") {
				t.Fatalf("session after it: %d %s", p.Status, pageText(p.Body))
			}
		})
	}
}

// Issue 9 §1: one sign-in serves both protocols and a logout ends both. The
// user signs in at a SAML SP; an OIDC app of the tenant gets a code without
// a login page; the OIDC app's RP-initiated logout then takes the browser
// through the SAML SP's single logout (a signed LogoutRequest, its
// LogoutResponse) and on to the post-logout redirect URI with its state.
func TestLogoutEndsBothProtocols(t *testing.T) {
	f := newSAMLFixture(t, "", nil, map[string]any{"slo_url": "auto", "slo_binding": "post"})
	cb := "http://127.0.0.1:1/cb"
	done := "http://127.0.0.1:1/bye"
	web := f.inst.createApp(t, "acme", "--type", "web", "--name", "portal", "--first-party", "--redirect-uri", cb, "--post-logout-redirect-uri", done)
	b := newBrowser(t)
	f.deliver(t, b, f.signIn(t, b))

	cfg := &oauth2.Config{ClientID: web.ClientID, ClientSecret: web.ClientSecret, RedirectURL: cb, Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: f.issuer + "/oauth/authorize", TokenURL: f.issuer + "/oauth/token"}}
	p := b.follow(cfg.AuthCodeURL("s1", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), f.inst.URL)
	if q := b.clientRedirect(p, f.inst.URL); q.Get("code") == "" {
		t.Fatalf("OIDC after a SAML sign-in: no code without a login page: %v", q)
	}

	lp, seen := b.drive(f.issuer+"/oauth/logout?client_id="+web.ClientID+"&post_logout_redirect_uri="+url.QueryEscape(done)+"&state=st", done)
	joined := strings.Join(seen, "\n")
	if !strings.Contains(joined, "POST "+f.sp.MW.ServiceProvider.SloURL.String()) || !strings.Contains(joined, f.issuer+"/saml/slo") {
		t.Fatalf("the OIDC logout did not go through the SAML SP's single logout:\n%s\nlast page: %d %s\n%s", joined, lp.Status, pageText(lp.Body), f.inst.Logs.String())
	}
	if last := seen[len(seen)-1]; last != done+"?state=st" {
		t.Fatalf("logout ended at %s, want %s?state=st:\n%s", last, done, joined)
	}
	if p, _ := b.drive(f.sp.URL + "/hello"); !strings.HasSuffix(p.URL.Path, "/login") {
		t.Errorf("SAML SP after the OIDC logout: %d at %s, want the login page", p.Status, p.URL)
	}
}
