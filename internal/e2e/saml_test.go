package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
)

// samlSP is a github.com/crewjam/saml/samlsp service provider on loopback:
// the peer of the SAML tests. /hello needs a SAML session and prints what
// the assertion said.
type samlSP struct {
	URL     string
	MW      *samlsp.Middleware
	Key     *rsa.PrivateKey
	Cert    *x509.Certificate
	CertPEM string
}

// selfSigned makes an RSA-2048 key and a self-signed certificate for it.
func selfSigned(t *testing.T, cn string) (*rsa.PrivateKey, *x509.Certificate, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// newSAMLSP starts an SP that trusts the tenant's IdP metadata (fetched
// and checked like an SP would).
func newSAMLSP(t *testing.T, issuer string, mutate func(*samlsp.Options)) *samlSP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse("http://" + ln.Addr().String())
	key, cert, certPEM := selfSigned(t, "test sp")
	mdURL, _ := url.Parse(issuer + "/saml/metadata")
	md, err := samlsp.FetchMetadata(context.Background(), http.DefaultClient, *mdURL)
	if err != nil {
		t.Fatalf("fetch IdP metadata: %v", err)
	}
	opts := samlsp.Options{URL: *base, Key: key, Certificate: cert, IDPMetadata: md, SignRequest: true, AllowIDPInitiated: true}
	if mutate != nil {
		mutate(&opts)
	}
	mw, err := samlsp.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/saml/", mw)
	mux.HandleFunc("/logout", mw.HandleStartLogout)
	mux.Handle("/hello", mw.RequireAccount(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := samlsp.SessionFromContext(r.Context()).(samlsp.JWTSessionClaims)
		attrs := s.Attributes
		names := make([]string, 0, len(attrs))
		for k := range attrs {
			names = append(names, k)
		}
		slices.Sort(names)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>sp</title><pre id=\"out\">hello subject=%s\n", html.EscapeString(s.Subject))
		for _, k := range names {
			fmt.Fprintf(w, "%s=%s\n", html.EscapeString(k), html.EscapeString(strings.Join(attrs[k], ",")))
		}
		fmt.Fprint(w, "</pre>")
	})))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	// crewjam/saml asks for a transient NameID unless told otherwise; the
	// tests want the app's own format (subject), so they leave it open.
	mw.ServiceProvider.AuthnNameIDFormat = saml.UnspecifiedNameIDFormat
	if mw.ServiceProvider.EntityID == "" {
		// crewjam/saml's default entity ID: its metadata URL.
		mw.ServiceProvider.EntityID = mw.ServiceProvider.MetadataURL.String()
	}
	return &samlSP{URL: base.String(), MW: mw, Key: key, Cert: cert, CertPEM: certPEM}
}

// registerSP registers sp as a SAML app of the tenant through the CLI,
// with settings merged over the SP's entity ID, ACS URL and certificate.
func (i *instance) registerSP(t *testing.T, tenant, name string, sp *samlSP, settings map[string]any) createdApp {
	t.Helper()
	s := map[string]any{
		"entity_id": sp.MW.ServiceProvider.EntityID,
		"acs_urls":  []string{sp.MW.ServiceProvider.AcsURL.String()},
	}
	for k, v := range settings {
		s[k] = v
	}
	b, _ := json.Marshal(map[string]any{"saml": s})
	f := filepath.Join(t.TempDir(), "app.json")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return i.createApp(t, tenant, "--type", "web", "--protocol", "saml", "--name", name, "--file", f)
}

// samlFixture is a server with tenant acme, user alice and a signed-in
// role, and an SP registered with its certificate (so requests are signed).
type samlFixture struct {
	inst   *instance
	issuer string
	userID string
	sp     *samlSP
	app    createdApp
}

func newSAMLFixture(t *testing.T, alg string, spOpts func(*samlsp.Options), settings map[string]any) *samlFixture {
	t.Helper()
	inst := start(t, options{})
	issuer := inst.createTenant(t, "acme", alg)
	admin := inst.adminToken(t)
	r := inst.api(t, admin, "POST", "/admin/v1/tenants/acme/users", map[string]any{
		"username": "alice", "email": "alice@example.com", "email_verified": true,
		"given_name": "Alice", "family_name": "Liddell", "password": "correct horse battery",
	})
	if r.Status != 201 {
		t.Fatalf("create user: %d %s", r.Status, r.Raw)
	}
	sp := newSAMLSP(t, issuer, spOpts)
	if settings == nil {
		settings = map[string]any{}
	}
	if _, ok := settings["certificate"]; !ok {
		settings["certificate"] = sp.CertPEM
	}
	if settings["slo_url"] == "auto" {
		settings["slo_url"] = sp.MW.ServiceProvider.SloURL.String()
	}
	a := inst.registerSP(t, "acme", "zendesk", sp, settings)
	return &samlFixture{inst: inst, issuer: issuer, userID: r.Body["id"].(string), sp: sp, app: a}
}

// signIn walks a browser from the SP's /hello through the login page to
// the POST form that carries the Response, and returns that form.
func (f *samlFixture) signIn(t *testing.T, b *browser) form {
	t.Helper()
	p := b.follow(f.sp.URL+"/hello", "http://127.0.0.1")
	if p.Status == http.StatusOK && strings.HasSuffix(p.URL.Path, "/login") {
		p = b.submitFirst(p, url.Values{"username": {"alice"}, "password": {"correct horse battery"}}, "http://127.0.0.1")
	}
	return responseForm(t, p, f.sp.MW.ServiceProvider.AcsURL.String())
}

// responseForm checks that p is the POST binding's page to acs and returns
// its form.
func responseForm(t *testing.T, p page, acs string) form {
	t.Helper()
	if p.Status != http.StatusOK {
		t.Fatalf("expected the POST form page, got %d at %s: %s", p.Status, p.URL, pageText(p.Body))
	}
	fs := forms(t, p)
	if len(fs) != 1 || fs[0].Action != acs || fs[0].Fields.Get("SAMLResponse") == "" {
		t.Fatalf("POST form: %+v\n%.600s", fs, p.Body)
	}
	return fs[0]
}

// deliver posts the Response form to the SP and follows it to /hello.
func (f *samlFixture) deliver(t *testing.T, b *browser, fm form) page {
	t.Helper()
	p := b.submit(fm, nil)
	if p.Status/100 == 3 {
		next, _ := p.URL.Parse(p.Location)
		p = b.follow(next.String(), "http://127.0.0.1")
	}
	return p
}

func decodeResponse(t *testing.T, fm form) []byte {
	t.Helper()
	x, err := base64.StdEncoding.DecodeString(fm.Fields.Get("SAMLResponse"))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// R-SML-1, R-SML-3: SP-initiated SSO over the Redirect binding with a signed
// AuthnRequest; crewjam/saml's SP accepts the signed Response and sees the
// NameID and attributes; a second SP visit reuses the SSO session.
func TestSAMLSignedRedirectSSO(t *testing.T) {
	f := newSAMLFixture(t, "", nil, nil)
	b := newBrowser(t)
	start := b.get(f.sp.URL + "/hello")
	loc, _ := url.Parse(start.Location)
	if start.Status != http.StatusFound || !strings.HasPrefix(start.Location, f.issuer+"/saml/sso?") || loc.Query().Get("Signature") == "" {
		t.Fatalf("SP did not send a signed Redirect-binding request: %d %s", start.Status, start.Location)
	}
	fm := f.signIn(t, b)
	x := decodeResponse(t, fm)
	p := f.deliver(t, b, fm)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "hello subject="+f.userID) ||
		!strings.Contains(p.Body, "email=alice@example.com") || !strings.Contains(p.Body, "given_name=Alice") {
		t.Fatalf("SP page: %d %s", p.Status, p.Body)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(x); err != nil {
		t.Fatal(err)
	}
	root := doc.Root()
	if root.SelectAttrValue("Destination", "") != f.sp.MW.ServiceProvider.AcsURL.String() || root.SelectAttrValue("InResponseTo", "") == "" {
		t.Errorf("Response Destination/InResponseTo: %s", x)
	}
	if n := len(root.FindElements("./Signature")); n != 1 {
		t.Errorf("Response signatures: %d, want 1", n)
	}
	if n := len(root.FindElements("./Assertion/Signature")); n != 1 {
		t.Errorf("Assertion signatures: %d, want 1", n)
	}
	if v := root.FindElement("./Assertion/Subject/NameID"); v == nil || v.Text() != f.userID || v.SelectAttrValue("Format", "") != "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" {
		t.Errorf("NameID: %s", x)
	}
	verifyWithXmlsec(t, f.issuer, x)
	md, err := http.Get(f.issuer + "/saml/metadata")
	if err != nil {
		t.Fatal(err)
	}
	mdBody := new(bytes.Buffer)
	_, _ = mdBody.ReadFrom(md.Body)
	md.Body.Close()
	xmlsecVerify(t, metadataCertPEM(t, f.issuer), "metadata", mdBody.Bytes(), "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor")

	// R-APP-12: the app's endpoints name the certificate download, the
	// metadata's signing certificate.
	if f.app.Endpoints.Certificate != f.issuer+"/saml/certificate.pem" {
		t.Errorf("certificate_pem_url %q", f.app.Endpoints.Certificate)
	}
	resp, err := http.Get(f.app.Endpoints.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	pemBody := new(bytes.Buffer)
	_, _ = pemBody.ReadFrom(resp.Body)
	resp.Body.Close()
	if pemBody.String() != metadataCertPEM(t, f.issuer) {
		t.Errorf("certificate.pem is not the metadata's signing certificate:\n%s", pemBody)
	}

	// The SP's session is gone; the IdP's is not: no login page this time.
	b2 := &browser{t: t, client: b.client}
	jarWithout(t, b2, f.sp.URL, "token")
	p = b2.follow(f.sp.URL+"/hello", "http://127.0.0.1")
	fm2 := responseForm(t, p, f.sp.MW.ServiceProvider.AcsURL.String())
	if p2 := f.deliver(t, b2, fm2); !strings.Contains(p2.Body, "hello subject="+f.userID) {
		t.Fatalf("second sign-in: %d %s", p2.Status, p2.Body)
	}
}

// jarWithout deletes a cookie of the browser for u.
func jarWithout(t *testing.T, b *browser, u, name string) {
	t.Helper()
	pu, _ := url.Parse(u)
	b.client.Jar.SetCookies(pu, []*http.Cookie{{Name: name, Value: "", Path: "/", MaxAge: -1}})
}

// verifyWithXmlsec checks every signature of a Response with xmlsec1 and the
// certificate from the IdP metadata only: the Response's in place, the
// assertion's in a document of its own.
func verifyWithXmlsec(t *testing.T, issuer string, x []byte) {
	t.Helper()
	certPEM := metadataCertPEM(t, issuer)
	xmlsecVerify(t, certPEM, "response", x, "urn:oasis:names:tc:SAML:2.0:protocol:Response")
	// The check can fail: one byte changed in the Destination, and xmlsec1
	// refuses.
	tampered := bytes.Replace(x, []byte(`Destination="http`), []byte(`Destination="hxxp`), 1)
	if out, err := xmlsec(t, certPEM, "tampered", tampered, "urn:oasis:names:tc:SAML:2.0:protocol:Response"); err == nil && out != nil {
		t.Fatal("xmlsec1 accepts a tampered Response")
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(x); err != nil {
		t.Fatal(err)
	}
	if a := doc.Root().FindElement("./Assertion"); a != nil {
		ad := etree.NewDocument()
		ad.SetRoot(a.Copy())
		b, _ := ad.WriteToBytes()
		xmlsecVerify(t, certPEM, "assertion", b, "urn:oasis:names:tc:SAML:2.0:assertion:Assertion")
	}
}

// xmlsecVerify requires xmlsec1 to accept the first signature of doc with
// the certificate alone; idAttr names the element whose ID the reference
// points to.
func xmlsecVerify(t *testing.T, certPEM, name string, doc []byte, idAttr string) {
	t.Helper()
	if out, err := xmlsec(t, certPEM, name, doc, idAttr); err != nil {
		t.Fatalf("xmlsec1 refuses the %s signature: %v\n%s", name, err, out)
	}
}

// xmlsec runs xmlsec1 --verify; without xmlsec1 it returns nil, nil (and
// fails the test under CI=true: scripts/test.sh installs it).
func xmlsec(t *testing.T, certPEM, name string, doc []byte, idAttr string) ([]byte, error) {
	t.Helper()
	bin, err := exec.LookPath("xmlsec1")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("xmlsec1 is not installed (scripts/test.sh installs it)")
		}
		t.Log("xmlsec1 is not installed: the independent signature check is skipped")
		return nil, nil
	}
	dir := t.TempDir()
	certFile, f := filepath.Join(dir, "cert.pem"), filepath.Join(dir, name+".xml")
	if err := os.WriteFile(certFile, []byte(certPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--verify", "--pubkey-cert-pem", certFile, "--id-attr:ID", idAttr, f).CombinedOutput()
	if out == nil {
		out = []byte{}
	}
	return out, err
}

// metadataCertPEM returns the first signing certificate of the IdP
// metadata, in PEM.
func metadataCertPEM(t *testing.T, issuer string) string {
	t.Helper()
	resp, err := http.Get(issuer + "/saml/metadata")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	var ed saml.EntityDescriptor
	md, err := samlsp.ParseMetadata(buf.Bytes())
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	ed = *md
	for _, kd := range ed.IDPSSODescriptors[0].KeyDescriptors {
		if kd.Use == "signing" {
			der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(kd.KeyInfo.X509Data.X509Certificates[0].Data))
			if err != nil {
				t.Fatal(err)
			}
			return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
		}
	}
	t.Fatal("metadata has no signing certificate")
	return ""
}

var tagRE = regexp.MustCompile(`(?s)<(script|style|head)[^>]*>.*?</(script|style|head)>|<[^>]+>`)

// pageText is what a page says, without its markup.
func pageText(body string) string {
	return strings.Join(strings.Fields(html.UnescapeString(tagRE.ReplaceAllString(body, " "))), " ")
}
