package saml

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/keys"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

const seedRequest = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0" IssueInstant="2026-12-07T10:00:00Z" Destination="https://idp.example/t/acme/saml/sso" AssertionConsumerServiceURL="https://sp.example/acs" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" ForceAuthn="false"><saml:Issuer>https://sp.example</saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"/></samlp:AuthnRequest>`

const seedLogout = `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_l1" Version="2.0" IssueInstant="2026-12-07T10:00:00Z" Destination="https://idp.example/t/acme/saml/slo" NotOnOrAfter="2026-12-07T10:05:00Z"><saml:Issuer>https://sp.example</saml:Issuer><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">u1</saml:NameID><samlp:SessionIndex>s1</samlp:SessionIndex></samlp:LogoutRequest>`

func deflated(s string) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return b.Bytes()
}

// checkParsed holds for every message readMessage accepts.
func checkParsed(t *testing.T, m *message) {
	if len(m.XML) > MaxMessageBytes || len(m.RelayState) > MaxRelayState || m.Root == nil {
		t.Fatalf("accepted out of bounds: xml %d relay %d", len(m.XML), len(m.RelayState))
	}
	if ar, err := parseAuthnRequest(m.Root); err == nil {
		if ar.ID == "" || len(ar.ID) > maxIDLen || ar.Issuer == "" || ar.IssueInstant.IsZero() {
			t.Fatalf("accepted an AuthnRequest without ID, Issuer or IssueInstant: %+v", ar)
		}
	}
	if lr, err := parseLogoutRequest(m.Root); err == nil {
		if lr.ID == "" || lr.Issuer == "" || lr.IssueInstant.IsZero() || len(lr.SessionIndexes) > 8 {
			t.Fatalf("accepted a LogoutRequest without ID, Issuer or IssueInstant, or with too many SessionIndexes: %+v", lr)
		}
	}
}

// The HTTP-Redirect binding's query: URL decoding, base64, DEFLATE (bounded),
// XML checks and the AuthnRequest and LogoutRequest readers never panic, and what they accept
// is within bounds.
func FuzzRedirectRequest(f *testing.F) {
	enc := url.QueryEscape(base64.StdEncoding.EncodeToString(deflated(seedRequest)))
	f.Add("SAMLRequest=" + enc)
	f.Add("SAMLRequest=" + enc + "&RelayState=abc&SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256&Signature=AAAA")
	f.Add("SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(deflated(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`))))
	f.Add("SAMLRequest=%zz&SAMLRequest=")
	f.Add("SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(deflated(seedLogout))) + "&RelayState=r")
	f.Fuzz(func(t *testing.T, q string) {
		r := httptest.NewRequest("GET", "https://idp.example/t/acme/saml/sso", nil)
		r.URL.RawQuery = q
		m, err := readMessage(httptest.NewRecorder(), r, "SAMLRequest")
		if err != nil {
			if _, ok := err.(*errBad); !ok {
				t.Fatalf("error of another kind: %T %v", err, err)
			}
			return
		}
		checkParsed(t, m)
	})
}

// The HTTP-POST binding's form, as FuzzRedirectRequest.
func FuzzPOSTRequest(f *testing.F) {
	f.Add("SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(seedRequest))) + "&RelayState=x")
	f.Add("SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(`<a xmlns="urn:oasis:names:tc:SAML:2.0:protocol"><!-- c --></a>`))))
	f.Add("SAMLRequest=a&SAMLRequest=b")
	f.Add("SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(seedLogout))))
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "https://idp.example/t/acme/saml/sso", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		m, err := readMessage(httptest.NewRecorder(), r, "SAMLRequest")
		if err != nil {
			if _, ok := err.(*errBad); !ok {
				t.Fatalf("error of another kind: %T %v", err, err)
			}
			return
		}
		if m.Binding != BindingPOST {
			t.Fatalf("binding %s", m.Binding)
		}
		checkParsed(t, m)
	})
}

// The XML checks and the AuthnRequest and LogoutRequest readers on raw
// documents.
func FuzzRequestXML(f *testing.F) {
	f.Add([]byte(seedRequest))
	f.Add([]byte(seedLogout))
	f.Add([]byte(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="x" Version="2.0" IssueInstant="2026-12-07T10:00:00.123456789+01:00" AssertionConsumerServiceIndex="3"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">a<!---->b</saml:Issuer></samlp:AuthnRequest>`))
	f.Fuzz(func(t *testing.T, x []byte) {
		root, err := parseXML(x)
		if err != nil {
			return
		}
		m := &message{Binding: BindingPOST, XML: x, Root: root}
		if len(x) <= MaxMessageBytes {
			checkParsed(t, m)
		}
	})
}

// stubs for running the handlers without a store.
type stubApps struct{ a *app.App }

func (s stubApps) AppByEntityID(_ context.Context, _ string, p app.Protocol, id string) (*app.App, error) {
	if s.a.Protocol == p && s.a.WSFed.Realm == id {
		return s.a, nil
	}
	return nil, derrors.NotFoundf("no app")
}
func (s stubApps) GetApp(context.Context, string, string) (*app.App, error) { return s.a, nil }

type stubSessions struct{}

func (stubSessions) Session(*http.Request, string) (*grant.Session, *user.User, error) {
	return nil, nil, derrors.NotFoundf("no session")
}
func (stubSessions) Message(w http.ResponseWriter, _ *http.Request, _ string, status int, _, _ string) {
	w.WriteHeader(status)
}
func (stubSessions) EndSession(http.ResponseWriter, *http.Request, string) (*grant.Session, error) {
	return nil, nil
}

type stubGrants struct{}

func (stubGrants) CreateRequest(context.Context, string, *grant.Request) error { return nil }
func (stubGrants) GetRequest(context.Context, string, string) (*grant.Request, error) {
	return nil, derrors.NotFoundf("no request")
}
func (stubGrants) DeleteRequest(context.Context, string, string) error              { return nil }
func (stubGrants) UseJTI(context.Context, string, string, string, time.Time) error  { return nil }
func (stubGrants) AddParticipant(context.Context, string, *grant.Participant) error { return nil }
func (stubGrants) DeleteParticipants(context.Context, string, string) error         { return nil }
func (stubGrants) Participants(context.Context, string, string) ([]grant.Participant, error) {
	return nil, nil
}
func (stubGrants) EndSessionBySID(context.Context, string, string) (*grant.Session, error) {
	return nil, derrors.NotFoundf("no session")
}

type stubKeys struct{ ks *keys.Set }

func (s stubKeys) SAML(context.Context, string) (*keys.Set, error) { return s.ks, nil }

// The WS-Federation query (wa, wtrealm, wreply, wctx, …): the handler never
// panics, answers 303 (to the login page) only for the registered realm and
// reply URL, and 400 otherwise.
func FuzzWSFedQuery(f *testing.F) {
	rp := &app.App{ClientID: "rp", Type: app.Web, Protocol: app.WSFed,
		WSFed: &app.WSFedSettings{Realm: "urn:rp", ReplyURLs: []string{"https://rp.example/signin"}}}
	p := &IdP{PublicURL: "https://idp.example", Apps: stubApps{rp}, Sessions: stubSessions{}, Grants: stubGrants{}, Keys: stubKeys{keySet(f, "RS256")}}
	f.Add("wa=wsignin1.0&wtrealm=urn%3Arp&wctx=x")
	f.Add("wa=wsignin1.0&wtrealm=urn%3Arp&wreply=https%3A%2F%2Frp.example%2Fsignin")
	f.Add("wa=wsignout1.0&wtrealm=urn%3Arp&wreply=https%3A%2F%2Fevil")
	f.Add("wa=wsignin1.0&wtrealm=a&wtrealm=b")
	f.Fuzz(func(t *testing.T, q string) {
		r := httptest.NewRequest("GET", "https://idp.example/t/acme/wsfed", nil)
		r.URL.RawQuery = q
		r.SetPathValue("tenant", "acme")
		w := httptest.NewRecorder()
		p.wsfed(w, r)
		vals, _ := url.ParseQuery(q)
		switch w.Code {
		case http.StatusSeeOther:
			signIn := vals.Get("wa") == "wsignin1.0" && vals.Get("wtrealm") == "urn:rp" && (vals.Get("wreply") == "" || vals.Get("wreply") == "https://rp.example/signin")
			if !signIn && vals.Get("wa") != "wsignout1.0" && vals.Get("wa") != "wsignoutcleanup1.0" {
				t.Fatalf("redirected for %q", q)
			}
		case http.StatusOK, http.StatusBadRequest:
		default:
			t.Fatalf("status %d for %q", w.Code, q)
		}
	})
}
