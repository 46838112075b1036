package saml

import (
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/beevik/etree"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/keys"
)

// WS-Federation paths under a tenant's issuer (R-WSF-1).
const (
	PathWSFed         = "/wsfed"
	PathWSFedMetadata = "/wsfed/metadata"
	pathWSFedResume   = "/wsfed/resume"
)

// WS-Federation 1.2 and WS-Trust 1.3 names.
const (
	nsWSTrust     = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
	nsWSPolicy    = "http://schemas.xmlsoap.org/ws/2004/09/policy"
	nsWSAddress   = "http://www.w3.org/2005/08/addressing"
	nsWSUtility   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	nsFed         = "http://docs.oasis-open.org/wsfed/federation/200706"
	tokenTypeSAML = "urn:oasis:names:tc:SAML:2.0:assertion"
	waSignIn      = "wsignin1.0"
	waSignOut     = "wsignout1.0"
	waCleanup     = "wsignoutcleanup1.0"
	// maxWctx bounds the wctx an RP sends and gets back.
	maxWctx = 2048
)

// wsfed is the passive requestor endpoint (WS-Federation 1.2 §13): wa=
// wsignin1.0 signs the user in to the relying party of wtrealm and posts a
// signed SAML 2.0 assertion to its reply URL; wa=wsignout1.0 ends the SSO
// session.
func (p *IdP) wsfed(w http.ResponseWriter, r *http.Request) {
	tid, _, ok := p.tenantOf(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	for k, v := range q {
		if len(v) > 1 {
			p.refuse(w, r, tid, http.StatusBadRequest, "the parameter "+k+" is repeated")
			return
		}
	}
	switch q.Get("wa") {
	case waSignIn:
		req, client, err := p.readSignIn(r, tid, q)
		if err != nil {
			p.fail(w, r, tid, err)
			return
		}
		p.decide(w, r, tid, client, req, false)
	case waSignOut, waCleanup:
		p.wsSignOut(w, r, tid, q)
	default:
		p.refuse(w, r, tid, http.StatusBadRequest, "wa must be wsignin1.0 or wsignout1.0")
	}
}

// readSignIn checks a wsignin1.0: a registered realm, and a reply URL that
// the app registered (absent: its first).
func (p *IdP) readSignIn(r *http.Request, tid string, q url.Values) (*grant.Request, *app.App, error) {
	realm, reply, wctx := q.Get("wtrealm"), q.Get("wreply"), q.Get("wctx")
	if realm == "" || len(realm) > app.MaxURILen {
		return nil, nil, bad("wtrealm is required: the realm of a registered relying party")
	}
	if len(wctx) > maxWctx {
		return nil, nil, bad("wctx is longer than %d bytes", maxWctx)
	}
	client, err := p.Apps.AppByEntityID(r.Context(), tid, app.WSFed, realm)
	if err != nil {
		if derrors.Is(err, derrors.NotFound) {
			return nil, nil, bad("the realm %q is not registered in this tenant", realm)
		}
		return nil, nil, err
	}
	s := client.WSFed
	if reply == "" {
		reply = s.ReplyURLs[0]
	} else if !slices.Contains(s.ReplyURLs, reply) {
		return nil, nil, bad("the reply URL %q is not registered for this relying party", reply)
	}
	return &grant.Request{
		ClientID: client.ClientID, RedirectURI: reply, State: wctx, Protocol: grant.ProtocolWSFed,
		NameIDFormat: NameIDPersistent, MaxAge: -1,
	}, client, nil
}

// wsSignOut ends the SSO session (and tells the session's SAML apps and,
// by back-channel, its OIDC apps), then returns to a registered wreply.
func (p *IdP) wsSignOut(w http.ResponseWriter, r *http.Request, tid string, q url.Values) {
	ctx := r.Context()
	target := ""
	if reply := q.Get("wreply"); reply != "" {
		// wtrealm names the relying party whose reply URL this must be.
		client, err := p.Apps.AppByEntityID(ctx, tid, app.WSFed, q.Get("wtrealm"))
		if err != nil || !slices.Contains(client.WSFed.ReplyURLs, reply) {
			p.refuse(w, r, tid, http.StatusBadRequest, "wreply is not a reply URL registered for the relying party of wtrealm")
			return
		}
		target = reply
	}
	sess, _, err := p.Sessions.Session(r, tid)
	if err == nil {
		if err := p.endSession(w, r, tid, sess.SID); err != nil {
			p.serverError(w, r, tid, err)
			return
		}
		if p.Logout(w, r, tid, sess.SID, target) {
			return
		}
	}
	if target != "" {
		p.redirect(w, r, target)
		return
	}
	p.Sessions.Message(w, r, tid, http.StatusOK, "You are signed out", "You can close this window.")
}

// resumeWSFed continues a parked wsignin1.0 after the login page.
func (p *IdP) resumeWSFed(w http.ResponseWriter, r *http.Request) {
	p.resumeProtocol(w, r, grant.ProtocolWSFed, app.WSFed)
}

// answerWSFed posts the sign-in response (WS-Federation 1.2 §13.2.3): a
// RequestSecurityTokenResponse holding the signed assertion, with wctx.
func (p *IdP) answerWSFed(w http.ResponseWriter, ks *keys.Set, client *app.App, req *grant.Request, a *assertionInfo) error {
	as, err := p.signedAssertion(ks, client.WSFed.HashAlgorithm, a)
	if err != nil {
		return err
	}
	notAfter := a.Now.Add(a.Lifetime)
	rstr := etree.NewElement("t:RequestSecurityTokenResponse")
	rstr.CreateAttr("xmlns:t", nsWSTrust)
	lt := rstr.CreateElement("t:Lifetime")
	lt.CreateAttr("xmlns:wsu", nsWSUtility)
	lt.CreateElement("wsu:Created").SetText(xsTime(a.Now))
	lt.CreateElement("wsu:Expires").SetText(xsTime(notAfter))
	at := rstr.CreateElement("wsp:AppliesTo")
	at.CreateAttr("xmlns:wsp", nsWSPolicy)
	epr := at.CreateElement("wsa:EndpointReference")
	epr.CreateAttr("xmlns:wsa", nsWSAddress)
	epr.CreateElement("wsa:Address").SetText(a.Audience)
	rstr.CreateElement("t:RequestedSecurityToken").AddChild(as)
	rstr.CreateElement("t:TokenType").SetText(tokenTypeSAML)
	rstr.CreateElement("t:RequestType").SetText(nsWSTrust + "/Issue")
	rstr.CreateElement("t:KeyType").SetText(nsWSTrust + "/Bearer")
	doc := etree.NewDocument()
	doc.SetRoot(rstr)
	x, err := doc.WriteToString()
	if err != nil {
		return err
	}
	fields := [][2]string{{"wa", waSignIn}, {"wresult", x}}
	if req.State != "" {
		fields = append(fields, [2]string{"wctx", req.State})
	}
	postFields(w, req.RedirectURI, fields)
	return nil
}

// serveWSFedMetadata serves the tenant's signed federation metadata
// (WS-Federation 1.2 §3.1): a SecurityTokenServiceType role with the signing
// certificates, the token type offered and the passive requestor endpoint.
func (p *IdP) serveWSFedMetadata(w http.ResponseWriter, r *http.Request) {
	p.serveSigned(w, r, "wsfed", p.federationMetadata)
}

// federationMetadata builds the tenant's unsigned federation metadata.
func (p *IdP) federationMetadata(tid string, ks *keys.Set, now time.Time) *etree.Element {
	issuer := p.Issuer(tid)
	ed := entityDescriptor(issuer, now)
	ed.CreateAttr("xmlns:fed", nsFed)
	ed.CreateAttr("xmlns:wsa", nsWSAddress)
	ed.CreateAttr("xmlns:xsi", nsXSI)
	rd := ed.CreateElement("md:RoleDescriptor")
	rd.CreateAttr("xsi:type", "fed:SecurityTokenServiceType")
	rd.CreateAttr("protocolSupportEnumeration", nsFed)
	signingKeys(rd, ks)
	rd.CreateElement("fed:TokenTypesOffered").CreateElement("fed:TokenType").CreateAttr("Uri", tokenTypeSAML)
	for _, tag := range []string{"fed:SecurityTokenServiceEndpoint", "fed:PassiveRequestorEndpoint"} {
		rd.CreateElement(tag).CreateElement("wsa:EndpointReference").CreateElement("wsa:Address").SetText(issuer + PathWSFed)
	}
	return ed
}
