package e2e

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// wsfedRP is a WS-Federation relying party on loopback, as an ASP.NET app
// with WsFederation authentication would be: /app sends the browser to the
// STS, /signin-wsfed takes the posted token, verifies the assertion's
// signature with goxmldsig and the certificate from the federation
// metadata, checks audience and lifetime, and shows the claims.
type wsfedRP struct {
	URL, Realm, Reply string
	// Tokens are the wresult documents received.
	Tokens []string
}

func newWSFedRP(t *testing.T, issuer string) *wsfedRP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rp := &wsfedRP{URL: "http://" + ln.Addr().String(), Realm: "urn:test:wiki"}
	rp.Reply = rp.URL + "/signin-wsfed"
	certPEM := wsfedMetadataCert(t, issuer)
	block, _ := pem.Decode([]byte(certPEM))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/app", func(w http.ResponseWriter, r *http.Request) {
		q := url.Values{"wa": {"wsignin1.0"}, "wtrealm": {rp.Realm}, "wreply": {rp.Reply}, "wctx": {"rm=0&id=passive&ru=/app"}}
		http.Redirect(w, r, issuer+"/wsfed?"+q.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /signin-wsfed", func(w http.ResponseWriter, r *http.Request) {
		fail := func(msg string, args ...any) { http.Error(w, fmt.Sprintf(msg, args...), http.StatusUnauthorized) }
		if r.PostFormValue("wa") != "wsignin1.0" || r.PostFormValue("wctx") != "rm=0&id=passive&ru=/app" {
			fail("wa %q wctx %q", r.PostFormValue("wa"), r.PostFormValue("wctx"))
			return
		}
		res := r.PostFormValue("wresult")
		rp.Tokens = append(rp.Tokens, res)
		doc := etree.NewDocument()
		if err := doc.ReadFromString(res); err != nil {
			fail("wresult: %v", err)
			return
		}
		as := doc.FindElement("/RequestSecurityTokenResponse/RequestedSecurityToken/Assertion")
		if as == nil {
			fail("no assertion")
			return
		}
		vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
		v, err := vc.Validate(as)
		if err != nil {
			fail("signature: %v", err)
			return
		}
		if aud := v.FindElement("./Conditions/AudienceRestriction/Audience"); aud == nil || aud.Text() != rp.Realm {
			fail("audience")
			return
		}
		end, err := time.Parse(time.RFC3339Nano, v.FindElement("./Conditions").SelectAttrValue("NotOnOrAfter", ""))
		if err != nil || !time.Now().Before(end) {
			fail("expired")
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>rp</title><pre id=\"out\">hello subject=%s\n", html.EscapeString(v.FindElement("./Subject/NameID").Text()))
		for _, a := range v.FindElements("./AttributeStatement/Attribute") {
			fmt.Fprintf(w, "%s=%s\n", html.EscapeString(a.SelectAttrValue("Name", "")), html.EscapeString(a.FindElement("./AttributeValue").Text()))
		}
		fmt.Fprint(w, "</pre>")
	})
	mux.HandleFunc("/signed-out", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "signed out") })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return rp
}

// wsfedMetadataCert fetches the federation metadata, checks its signature
// with xmlsec1 (when installed) and returns its signing certificate.
func wsfedMetadataCert(t *testing.T, issuer string) string {
	t.Helper()
	resp, err := http.Get(issuer + "/wsfed/metadata")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	doc := etree.NewDocument()
	if _, err := doc.ReadFrom(resp.Body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("metadata: %d %v", resp.StatusCode, err)
	}
	rd := doc.FindElement("/EntityDescriptor/RoleDescriptor")
	if rd == nil || rd.SelectAttrValue("xsi:type", "") != "fed:SecurityTokenServiceType" ||
		doc.FindElement("//PassiveRequestorEndpoint/EndpointReference/Address").Text() != issuer+"/wsfed" {
		s, _ := doc.WriteToString()
		t.Fatalf("metadata shape: %s", s)
	}
	c := doc.FindElement("//KeyDescriptor/KeyInfo/X509Data/X509Certificate")
	der, err := base64.StdEncoding.DecodeString(c.Text())
	if err != nil {
		t.Fatal(err)
	}
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	x, _ := doc.WriteToBytes()
	xmlsecVerify(t, certPEM, "metadata", x, "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor")
	return certPEM
}

func (i *instance) registerRP(t *testing.T, tenant string, rp *wsfedRP) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"wsfed": map[string]any{"realm": rp.Realm, "reply_urls": []string{rp.Reply, rp.URL + "/signed-out"}}})
	f := filepath.Join(t.TempDir(), "rp.json")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	i.createApp(t, tenant, "--type", "web", "--protocol", "wsfed", "--name", "wiki", "--file", f)
}

// R-WSF-1: the passive requestor profile. An RP sends wsignin1.0; the user
// signs in on the login page; the RP verifies the signed SAML 2.0 assertion
// in the RequestSecurityTokenResponse (goxmldsig and xmlsec1, with the
// metadata certificate only) and gets wctx back; wsignout1.0 ends the SSO
// session and returns to the registered wreply. Bad input is refused.
func TestWSFedSignInAndOut(t *testing.T) {
	f := newSAMLFixture(t, "", nil, nil)
	rp := newWSFedRP(t, f.issuer)
	f.inst.registerRP(t, "acme", rp)
	b := newBrowser(t)

	p, _ := b.drive(rp.URL + "/app")
	if !strings.HasSuffix(p.URL.Path, "/login") {
		t.Fatalf("wsignin1.0: %d at %s: %s", p.Status, p.URL, pageText(p.Body))
	}
	p = b.submitFirst(p, url.Values{"username": {"alice"}, "password": {"correct horse battery"}}, "http://127.0.0.1")
	fs := forms(t, p)
	if len(fs) != 1 || fs[0].Action != rp.Reply {
		t.Fatalf("sign-in response form: %+v %s", fs, pageText(p.Body))
	}
	p = b.submit(fs[0], nil)
	if p.Status != 200 || !strings.Contains(p.Body, "hello subject="+f.userID) || !strings.Contains(p.Body, "email=alice@example.com") {
		t.Fatalf("RP: %d %s", p.Status, p.Body)
	}
	xmlsecVerify(t, wsfedMetadataCert(t, f.issuer), "wsfed-assertion", assertionOf(t, rp.Tokens[0]), "urn:oasis:names:tc:SAML:2.0:assertion:Assertion")

	// Bad input: nothing issued, the session stays.
	for _, tc := range []struct{ name, query, want string }{
		{"unknown realm", "wa=wsignin1.0&wtrealm=urn:nobody", "is not registered"},
		{"unregistered wreply", "wa=wsignin1.0&wtrealm=" + url.QueryEscape(rp.Realm) + "&wreply=https://evil.example/", "is not registered"},
		{"no realm", "wa=wsignin1.0", "wtrealm is required"},
		{"unknown action", "wa=wattr1.0", "wa must be"},
		{"repeated parameter", "wa=wsignin1.0&wtrealm=a&wtrealm=b", "repeated"},
		{"sign-out to an unregistered wreply", "wa=wsignout1.0&wtrealm=" + url.QueryEscape(rp.Realm) + "&wreply=https://evil.example/", "wreply is not"},
	} {
		p := b.get(f.issuer + "/wsfed?" + tc.query)
		if p.Status != 400 || !strings.Contains(pageText(p.Body), tc.want) || strings.Contains(p.Body, "wresult") {
			t.Errorf("%s: %d %q, want 400 saying %q", tc.name, p.Status, pageText(p.Body), tc.want)
		}
	}
	if p, _ := b.drive(rp.URL + "/app"); len(forms(t, p)) != 1 || forms(t, p)[0].Action != rp.Reply {
		t.Fatalf("SSO after the refusals: %d %s", p.Status, pageText(p.Body))
	}

	q := url.Values{"wa": {"wsignout1.0"}, "wtrealm": {rp.Realm}, "wreply": {rp.URL + "/signed-out"}}
	p, seen := b.drive(f.issuer+"/wsfed?"+q.Encode(), rp.URL+"/signed-out")
	if last := seen[len(seen)-1]; last != rp.URL+"/signed-out" {
		t.Fatalf("wsignout1.0 ended at %s (%d %s)", last, p.Status, pageText(p.Body))
	}
	if p, _ := b.drive(rp.URL + "/app"); !strings.HasSuffix(p.URL.Path, "/login") {
		t.Errorf("after wsignout1.0: %d at %s, want the login page", p.Status, p.URL)
	}
}

// assertionOf takes the assertion out of a wresult, as a document.
func assertionOf(t *testing.T, wresult string) []byte {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(wresult); err != nil {
		t.Fatal(err)
	}
	ad := etree.NewDocument()
	ad.SetRoot(doc.FindElement("//Assertion").Copy())
	b, _ := ad.WriteToBytes()
	return b
}
