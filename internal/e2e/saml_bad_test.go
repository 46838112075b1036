package e2e

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// authnRequest builds an AuthnRequest of the fixture's SP, as crewjam/saml
// would send it, for the tests to bend.
func (f *samlFixture) authnRequest(id string, at time.Time) *etree.Element {
	el := etree.NewElement("samlp:AuthnRequest")
	el.CreateAttr("xmlns:samlp", "urn:oasis:names:tc:SAML:2.0:protocol")
	el.CreateAttr("xmlns:saml", "urn:oasis:names:tc:SAML:2.0:assertion")
	el.CreateAttr("ID", id)
	el.CreateAttr("Version", "2.0")
	el.CreateAttr("IssueInstant", at.UTC().Format(time.RFC3339))
	el.CreateAttr("Destination", f.issuer+"/saml/sso")
	el.CreateAttr("AssertionConsumerServiceURL", f.sp.MW.ServiceProvider.AcsURL.String())
	el.CreateAttr("ProtocolBinding", "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
	el.CreateElement("saml:Issuer").SetText(f.sp.MW.ServiceProvider.EntityID)
	el.CreateElement("samlp:NameIDPolicy").CreateAttr("Format", "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")
	return el
}

func xmlBytes(t *testing.T, el *etree.Element) []byte {
	t.Helper()
	d := etree.NewDocument()
	d.SetRoot(el.Copy())
	b, err := d.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func deflate(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

// redirectURL is the Redirect binding of raw XML (deflated and base64ed),
// signed with key over the query when key is not nil (Bindings §3.4.4.1).
func (f *samlFixture) redirectURL(t *testing.T, x []byte, relay string, key *rsa.PrivateKey) string {
	t.Helper()
	q := "SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(deflate(t, x)))
	if relay != "" {
		q += "&RelayState=" + url.QueryEscape(relay)
	}
	if key != nil {
		q += "&SigAlg=" + url.QueryEscape("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
		sum := sha256.Sum256([]byte(q))
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		q += "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
	}
	return f.issuer + "/saml/sso?" + q
}

// signXML adds the SP's enveloped signature after the Issuer of el.
func (f *samlFixture) signXML(t *testing.T, el *etree.Element) *etree.Element {
	t.Helper()
	ctx := dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(tls.Certificate{Certificate: [][]byte{f.sp.Cert.Raw}, PrivateKey: f.sp.Key}))
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	sig, err := ctx.ConstructSignature(el, true)
	if err != nil {
		t.Fatal(err)
	}
	el.InsertChildAt(1, sig)
	return el
}

// postSSO sends a POST binding form to the SSO service.
func (f *samlFixture) postSSO(t *testing.T, b *browser, form url.Values) page {
	t.Helper()
	req, _ := http.NewRequest("POST", f.issuer+"/saml/sso", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func b64(x []byte) string { return base64.StdEncoding.EncodeToString(x) }

// Issue 9, bad input: each request below is refused with a 400 page that
// says why, and issues nothing (no Response form); the good request that
// follows each shows the refusal changed nothing.
func TestSAMLBadRequests(t *testing.T) {
	f := newSAMLFixture(t, "", nil, nil)
	b := newBrowser(t)
	// Sign in once, so that a request that got through would be answered
	// at once with a Response.
	f.deliver(t, b, f.signIn(t, b))
	now := time.Now()
	n := 0
	id := func() string { n++; return fmt.Sprintf("_req%d_%d", now.UnixNano(), n) }
	good := func() *etree.Element { return f.authnRequest(id(), now) }
	key := f.sp.Key
	bomb := deflate(t, bytes.Repeat([]byte("<a>"), 8<<20))
	replayed := xmlBytes(t, good())

	tests := []struct {
		name string
		send func() page
		want string
	}{
		{"unregistered ACS URL", func() page {
			el := good()
			el.SelectAttr("AssertionConsumerServiceURL").Value = "https://evil.example/acs"
			return b.get(f.redirectURL(t, xmlBytes(t, el), "", key))
		}, "is not registered for this application"},
		{"unknown SP", func() page {
			el := good()
			el.SelectElement("Issuer").SetText("https://unknown.example/sp")
			return b.get(f.redirectURL(t, xmlBytes(t, el), "", key))
		}, "is not registered in this tenant"},
		{"expired IssueInstant", func() page {
			return b.get(f.redirectURL(t, xmlBytes(t, f.authnRequest(id(), now.Add(-10*time.Minute))), "", key))
		}, "more than 5 minutes ago"},
		{"future IssueInstant", func() page {
			return b.get(f.redirectURL(t, xmlBytes(t, f.authnRequest(id(), now.Add(10*time.Minute))), "", key))
		}, "issued in the future"},
		{"unsigned request, signature required", func() page {
			return b.get(f.redirectURL(t, xmlBytes(t, good()), "", nil))
		}, "requires signed requests"},
		{"tampered Redirect signature", func() page {
			u := f.redirectURL(t, xmlBytes(t, good()), "", key)
			return b.get(strings.Replace(u, "SAMLRequest=", "SAMLRequest=A", 1))
		}, "not valid"},
		{"signature by another key", func() page {
			other, _, _ := selfSigned(t, "other")
			return b.get(f.redirectURL(t, xmlBytes(t, good()), "", other))
		}, "signature is not valid"},
		{"wrong Destination", func() page {
			el := good()
			el.SelectAttr("Destination").Value = "https://idp.example/sso"
			return b.get(f.redirectURL(t, xmlBytes(t, el), "", key))
		}, "Destination"},
		{"replayed request ID", func() page {
			p := b.get(f.redirectURL(t, replayed, "", key))
			if p.Status != http.StatusOK || !strings.Contains(p.Body, "SAMLResponse") {
				t.Fatalf("first use of the request: %d %.300s", p.Status, p.Body)
			}
			return b.get(f.redirectURL(t, replayed, "", key))
		}, "already answered"},
		{"deflate bomb", func() page {
			return b.get(f.issuer + "/saml/sso?SAMLRequest=" + url.QueryEscape(b64(bomb)))
		}, "inflates to more than"},
		{"malformed URL encoding", func() page {
			return b.get(f.issuer + "/saml/sso?SAMLRequest=%zz")
		}, "not URL-encoded correctly"},
		{"malformed base64", func() page {
			return b.get(f.issuer + "/saml/sso?SAMLRequest=%25%25%25notbase64")
		}, "not valid base64"},
		{"malformed base64 (POST)", func() page {
			return f.postSSO(t, b, url.Values{"SAMLRequest": {"@@@"}})
		}, "not valid base64"},
		{"malformed XML", func() page {
			return f.postSSO(t, b, url.Values{"SAMLRequest": {b64([]byte("<samlp:AuthnRequest"))}})
		}, "not well-formed XML"},
		{"DTD with an entity", func() page {
			x := `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>` + string(xmlBytes(t, good()))
			return f.postSSO(t, b, url.Values{"SAMLRequest": {b64([]byte(x))}})
		}, "DTD"},
		{"oversized POST", func() page {
			return f.postSSO(t, b, url.Values{"SAMLRequest": {strings.Repeat("A", 200<<10)}})
		}, "larger than"},
		{"unsigned POST, signature required", func() page {
			return f.postSSO(t, b, url.Values{"SAMLRequest": {b64(xmlBytes(t, good()))}})
		}, "not signed"},
		{"POST signature over other content", func() page {
			el := f.signXML(t, good())
			el.SelectAttr("AssertionConsumerServiceURL").Value = f.sp.MW.ServiceProvider.AcsURL.String() + "?x"
			return f.postSSO(t, b, url.Values{"SAMLRequest": {b64(xmlBytes(t, el))}})
		}, "signature is not valid"},
		{"wrapped signature", func() page {
			// The signed request hides in Extensions of an unsigned one
			// with the attacker's ACS URL and another ID.
			signed := f.signXML(t, good())
			evil := good()
			evil.SelectAttr("AssertionConsumerServiceURL").Value = "https://evil.example/acs"
			ext := etree.NewElement("samlp:Extensions")
			ext.AddChild(signed)
			evil.InsertChildAt(1, ext)
			return f.postSSO(t, b, url.Values{"SAMLRequest": {b64(xmlBytes(t, evil))}})
		}, "not signed"},
		{"comment in the Issuer", func() page {
			el := good()
			iss := el.SelectElement("Issuer")
			entity := iss.Text()
			iss.SetText(entity[:8])
			iss.CreateComment("x")
			iss.CreateText(entity[8:])
			return b.get(f.redirectURL(t, xmlBytes(t, el), "", key))
		}, "a comment"},
		{"two Issuers", func() page {
			el := good()
			el.InsertChildAt(1, el.SelectElement("Issuer").Copy())
			return b.get(f.redirectURL(t, xmlBytes(t, el), "", key))
		}, "exactly one Issuer"},
		{"not an AuthnRequest", func() page {
			el := good()
			el.Tag = "LogoutRequest"
			return b.get(f.redirectURL(t, xmlBytes(t, el), "", key))
		}, "not a SAML 2.0 AuthnRequest"},
		{"unsupported NameID format", func() page {
			el := good()
			el.SelectElement("NameIDPolicy").SelectAttr("Format").Value = "urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos"
			return b.get(f.redirectURL(t, xmlBytes(t, el), "", key))
		}, "is not supported"},
		{"RelayState too long", func() page {
			return b.get(f.redirectURL(t, xmlBytes(t, good()), strings.Repeat("r", 2000), key))
		}, "RelayState is longer"},
		{"repeated parameter", func() page {
			u := f.redirectURL(t, xmlBytes(t, good()), "", key)
			return b.get(u + "&SigAlg=x")
		}, "repeated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.send()
			if p.Status != http.StatusBadRequest || strings.Contains(p.Body, "SAMLResponse") {
				t.Fatalf("got %d, want 400 and no response: %.500s", p.Status, p.Body)
			}
			if body := strings.ReplaceAll(p.Body, "&#34;", `"`); !strings.Contains(body, tc.want) {
				t.Errorf("page does not say %q: %.500s", tc.want, p.Body)
			}
			// Nothing changed: a good request is still answered.
			if p := b.get(f.redirectURL(t, xmlBytes(t, good()), "", key)); p.Status != http.StatusOK || !strings.Contains(p.Body, "SAMLResponse") {
				t.Fatalf("good request after it: %d %.300s", p.Status, p.Body)
			}
		})
	}
}

// Core §3.4.1: IsPassive without a session is answered at the registered
// ACS URL with a signed error Response (Requester/NoPassive) that asserts
// nothing, with the RelayState.
func TestSAMLErrorResponses(t *testing.T) {
	f := newSAMLFixture(t, "", nil, nil)
	b := newBrowser(t)
	el := f.authnRequest(fmt.Sprintf("_p%d", time.Now().UnixNano()), time.Now())
	el.CreateAttr("IsPassive", "true")
	p := b.get(f.redirectURL(t, xmlBytes(t, el), "rs", f.sp.Key))
	fm := responseForm(t, p, f.sp.MW.ServiceProvider.AcsURL.String())
	x := decodeResponse(t, fm)
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(x); err != nil {
		t.Fatal(err)
	}
	code := doc.FindElement("/Response/Status/StatusCode")
	if code == nil || code.SelectAttrValue("Value", "") != "urn:oasis:names:tc:SAML:2.0:status:Requester" ||
		code.FindElement("./StatusCode").SelectAttrValue("Value", "") != "urn:oasis:names:tc:SAML:2.0:status:NoPassive" ||
		doc.FindElement("//Assertion") != nil || fm.Fields.Get("RelayState") != "rs" {
		t.Fatalf("IsPassive without a session: %s", x)
	}
	verifyWithXmlsec(t, f.issuer, x)
	// The SP refuses it: it is no sign-in.
	if p := f.deliver(t, b, fm); strings.Contains(p.Body, "hello subject=") {
		t.Fatalf("the SP signed in with a NoPassive response: %s", p.Body)
	}
}
