package saml

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
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

// protocolLogout marks a parked single-logout chain that an SP asked for,
// protocolIdPLogout one that another protocol's logout began (Logout).
const (
	protocolLogout    = "saml-logout"
	protocolIdPLogout = "saml-idp-logout"
)

// logoutRequest is what Gatehouse reads of a LogoutRequest (Core §3.7.1).
type logoutRequest struct {
	ID             string
	IssueInstant   time.Time
	Destination    string
	Issuer         string
	NameID         string
	NotOnOrAfter   time.Time
	SessionIndexes []string
}

func parseLogoutRequest(root *etree.Element) (*logoutRequest, error) {
	if root.Tag != "LogoutRequest" || root.NamespaceURI() != nsProtocol {
		return nil, bad("the message is not a SAML 2.0 LogoutRequest")
	}
	if root.SelectAttrValue("Version", "") != "2.0" {
		return nil, bad("the LogoutRequest is not SAML version 2.0")
	}
	lr := &logoutRequest{}
	var err error
	if lr.ID, err = messageID(root); err != nil {
		return nil, err
	}
	if lr.IssueInstant, err = instant(root, "IssueInstant"); err != nil {
		return nil, err
	}
	if root.SelectAttr("NotOnOrAfter") != nil {
		if lr.NotOnOrAfter, err = instant(root, "NotOnOrAfter"); err != nil {
			return nil, err
		}
	}
	lr.Destination = root.SelectAttrValue("Destination", "")
	if lr.Issuer, err = issuer(root); err != nil {
		return nil, err
	}
	ids := children(root, nsAssertion, "NameID")
	if len(ids) != 1 {
		// An EncryptedID is not supported: Gatehouse sends plain NameIDs.
		return nil, bad("the LogoutRequest must have exactly one NameID")
	}
	if lr.NameID, err = plainText(ids[0]); err != nil {
		return nil, err
	}
	lr.NameID = trimSpace(lr.NameID)
	for _, si := range children(root, nsProtocol, "SessionIndex") {
		v, err := plainText(si)
		if err != nil {
			return nil, err
		}
		if len(lr.SessionIndexes) == 8 {
			return nil, bad("the LogoutRequest has more than 8 SessionIndex elements")
		}
		lr.SessionIndexes = append(lr.SessionIndexes, trimSpace(v))
	}
	return lr, nil
}

// slo is the single logout service (R-SML-1, Profiles §4.4): a
// LogoutRequest from an SP ends the SSO session (and tells the session's
// other SAML apps and, by back-channel, its OIDC apps); a LogoutResponse is
// an SP's answer while the session's other apps are told.
func (p *IdP) slo(w http.ResponseWriter, r *http.Request) {
	tid, ks, ok := p.tenantOf(w, r)
	if !ok {
		return
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		if err := r.ParseForm(); err != nil {
			p.refuse(w, r, tid, http.StatusBadRequest, "the form cannot be read")
			return
		}
	}
	var err error
	if r.Form.Has("SAMLResponse") || r.URL.Query().Has("SAMLResponse") {
		err = p.logoutAnswered(w, r, tid, ks)
	} else {
		err = p.logoutRequested(w, r, tid, ks)
	}
	if err != nil {
		p.fail(w, r, tid, err)
	}
}

// verifyRequest checks a request's signature when the app has an SP
// certificate (an unsigned one is then refused) and returns the root that
// may be read: the signed one.
func (p *IdP) verifyRequest(m *message, s *app.SAMLSettings) (*etree.Element, error) {
	if s.Certificate == "" {
		return m.Root, nil
	}
	cert, err := spCertificate(s.Certificate)
	if err != nil {
		return nil, err
	}
	switch {
	case m.Binding == BindingRedirect && m.Signature == nil:
		return nil, bad("the request is not signed, and this application requires signed requests")
	case m.Binding == BindingRedirect:
		return m.Root, verifyRedirect(m, cert, s.HashAlgorithm, p.now())
	}
	return verifyEnveloped(m.Root, cert, s.HashAlgorithm, p.now())
}

func (p *IdP) logoutRequested(w http.ResponseWriter, r *http.Request, tid string, ks *keys.Set) error {
	ctx := r.Context()
	m, err := readMessage(w, r, "SAMLRequest")
	if err != nil {
		return err
	}
	lr, err := parseLogoutRequest(m.Root)
	if err != nil {
		return err
	}
	client, err := p.Apps.AppByEntityID(ctx, tid, app.SAML, lr.Issuer)
	if err != nil {
		if derrors.Is(err, derrors.NotFound) {
			return bad("the service provider %q is not registered in this tenant", lr.Issuer)
		}
		return err
	}
	root, err := p.verifyRequest(m, client.SAML)
	if err != nil {
		return err
	}
	if lr, err = parseLogoutRequest(root); err != nil {
		return err
	}
	if lr.Issuer != client.SAML.EntityID {
		return bad("the signed request names another issuer")
	}
	now := p.now()
	if lr.Destination != "" && lr.Destination != p.Issuer(tid)+PathSLO {
		return bad("the request's Destination is not this identity provider's logout URL")
	}
	if lr.IssueInstant.Before(now.Add(-maxRequestAge)) || lr.IssueInstant.After(now.Add(clockSkew)) {
		return bad("the request's IssueInstant is not within %d minutes of now", int(maxRequestAge/time.Minute))
	}
	if !lr.NotOnOrAfter.IsZero() && !now.Before(lr.NotOnOrAfter.Add(clockSkew)) {
		return bad("the LogoutRequest has expired (NotOnOrAfter)")
	}
	if err := p.Grants.UseJTI(ctx, tid, spKey(client.SAML.EntityID), lr.ID, lr.IssueInstant.Add(maxRequestAge+clockSkew)); err != nil {
		if derrors.Is(err, derrors.Conflict) {
			return bad("this request was already answered (a replay)")
		}
		return err
	}
	sids := lr.SessionIndexes
	if len(sids) == 0 {
		// Without a SessionIndex, the browser's own session (the Redirect
		// binding brings its cookie).
		if sess, _, err := p.Sessions.Session(r, tid); err == nil {
			sids = []string{sess.SID}
		}
	}
	chain := &grant.Request{
		ClientID: client.ClientID, RedirectURI: client.SAML.SLOURL, State: m.RelayState,
		Protocol: protocolLogout, SAMLRequestID: lr.ID, MaxAge: -1,
	}
	for _, sid := range sids {
		parts, err := p.Grants.Participants(ctx, tid, sid)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(parts, func(pt grant.Participant) bool { return pt.ClientID == client.ClientID })
		if i < 0 || parts[i].NameID != lr.NameID {
			// Not this SP's session, or not this user's: end nothing.
			continue
		}
		if err := p.endSession(w, r, tid, sid); err != nil {
			return err
		}
		chain.SID = sid
		for _, pt := range parts {
			if pt.ClientID != client.ClientID {
				chain.Pending = append(chain.Pending, pt.ClientID)
			}
		}
		break
	}
	p.log().InfoContext(ctx, "saml logout requested", "tenant", tid, "client_id", client.ClientID, "sid", chain.SID, "others", len(chain.Pending))
	return p.continueLogout(w, r, tid, ks, chain, false)
}

// endSession ends an SSO session by its sid: the row, the browser's cookie
// when it is this session, and the OIDC grants and back-channel logouts
// (OnLogout).
func (p *IdP) endSession(w http.ResponseWriter, r *http.Request, tid, sid string) error {
	ctx := r.Context()
	if sess, _, err := p.Sessions.Session(r, tid); err == nil && sess.SID == sid {
		if _, err := p.Sessions.EndSession(w, r, tid); err != nil {
			return err
		}
	}
	ended, err := p.Grants.EndSessionBySID(ctx, tid, sid)
	switch {
	case derrors.Is(err, derrors.NotFound):
		ended = &grant.Session{SID: sid}
	case err != nil:
		return err
	}
	if p.OnLogout != nil {
		p.OnLogout(context.WithoutCancel(ctx), tid, ended)
	}
	return nil
}

// continueLogout tells the next pending SAML app of the ended session
// (Profiles §4.4.3.3: the IdP sends each a LogoutRequest, front-channel),
// and when none is left answers the SP that asked.
func (p *IdP) continueLogout(w http.ResponseWriter, r *http.Request, tid string, ks *keys.Set, chain *grant.Request, stored bool) error {
	ctx := r.Context()
	for len(chain.Pending) > 0 {
		next := chain.Pending[0]
		chain.Pending = chain.Pending[1:]
		a, err := p.Apps.GetApp(ctx, tid, next)
		if err != nil || a.Protocol != app.SAML || a.SAML == nil || a.SAML.SLOURL == "" {
			continue
		}
		parts, err := p.Grants.Participants(ctx, tid, chain.SID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(parts, func(pt grant.Participant) bool { return pt.ClientID == next })
		if i < 0 {
			continue
		}
		// Park the rest of the chain under a new ID; the app's answer
		// brings it back as its RelayState.
		if stored {
			_ = p.Grants.DeleteRequest(ctx, tid, chain.ID)
		}
		now := p.now()
		chain.ID, chain.CreatedAt, chain.ExpiresAt = grant.NewID(), now, now.Add(p.requestLifetime())
		if err := p.Grants.CreateRequest(ctx, tid, chain); err != nil {
			return err
		}
		el := p.newLogoutRequest(tid, a, parts[i], now)
		return p.send(w, r, ks, a, "SAMLRequest", el, chain.ID)
	}
	if stored {
		_ = p.Grants.DeleteRequest(ctx, tid, chain.ID)
	}
	if chain.SID != "" {
		if err := p.Grants.DeleteParticipants(ctx, tid, chain.SID); err != nil {
			p.log().WarnContext(ctx, "saml logout: cannot forget the session's apps", "tenant", tid, "error", err)
		}
	}
	if chain.Protocol == protocolIdPLogout {
		// IdP-initiated (Logout): back to where the logout began.
		if chain.RedirectURI != "" {
			p.redirect(w, r, chain.RedirectURI)
		} else {
			p.Sessions.Message(w, r, tid, http.StatusOK, "You are signed out", "You can close this window.")
		}
		return nil
	}
	requester, err := p.Apps.GetApp(ctx, tid, chain.ClientID)
	if err != nil || requester.SAML == nil || requester.SAML.SLOURL == "" {
		p.Sessions.Message(w, r, tid, http.StatusOK, "You are signed out", "You can close this window.")
		return nil
	}
	resp := newLogoutResponse(p.Issuer(tid), requester.SAML.SLOURL, chain.SAMLRequestID, p.now())
	return p.send(w, r, ks, requester, "SAMLResponse", resp, chain.State)
}

// Logout is IdP-initiated single logout (Profiles §4.4.3) after another
// protocol ended session sid (OpenID Connect RP-initiated logout): the
// session's SAML apps with an SLO URL are told one after the other, then
// the browser goes to returnTo (already checked by the caller; empty: the
// "signed out" page). It reports false, writing nothing, when there is no
// SAML app to tell.
func (p *IdP) Logout(w http.ResponseWriter, r *http.Request, tid, sid, returnTo string) bool {
	ctx := r.Context()
	parts, err := p.Grants.Participants(ctx, tid, sid)
	if err != nil {
		p.log().WarnContext(ctx, "saml logout: cannot list the session's apps", "tenant", tid, "error", err)
		return false
	}
	if len(parts) == 0 {
		return false
	}
	ks, err := p.Keys.SAML(ctx, tid)
	if err != nil {
		p.log().WarnContext(ctx, "saml logout: no signing key", "tenant", tid, "error", err)
		return false
	}
	// The chain's ClientID is one of the apps (the store wants a real one);
	// the protocol says nobody waits for a LogoutResponse.
	chain := &grant.Request{Protocol: protocolIdPLogout, ClientID: parts[0].ClientID, SID: sid, RedirectURI: returnTo, MaxAge: -1}
	for _, pt := range parts {
		chain.Pending = append(chain.Pending, pt.ClientID)
	}
	if err := p.continueLogout(w, r, tid, ks, chain, false); err != nil {
		p.serverError(w, r, tid, err)
	}
	return true
}

// logoutAnswered takes an SP's LogoutResponse in a logout chain and goes on
// with the chain its RelayState names.
func (p *IdP) logoutAnswered(w http.ResponseWriter, r *http.Request, tid string, ks *keys.Set) error {
	ctx := r.Context()
	m, err := readMessage(w, r, "SAMLResponse")
	if err != nil {
		return err
	}
	if m.Root.Tag != "LogoutResponse" || m.Root.NamespaceURI() != nsProtocol {
		return bad("the message is not a SAML 2.0 LogoutResponse")
	}
	if _, err := issuer(m.Root); err != nil {
		return err
	}
	chain, err := p.Grants.GetRequest(ctx, tid, m.RelayState)
	if err != nil && !derrors.Is(err, derrors.NotFound) {
		return err
	}
	if err != nil || (chain.Protocol != protocolLogout && chain.Protocol != protocolIdPLogout) || !p.now().Before(chain.ExpiresAt) {
		return bad("this logout has expired; you are signed out of this identity provider")
	}
	chain.ID = m.RelayState
	return p.continueLogout(w, r, tid, ks, chain, true)
}

// newLogoutRequest is the IdP's LogoutRequest to an app of the session.
func (p *IdP) newLogoutRequest(tid string, a *app.App, pt grant.Participant, now time.Time) *etree.Element {
	el := newMessage("saml2p:LogoutRequest", p.Issuer(tid), a.SAML.SLOURL, "", now)
	el.CreateAttr("NotOnOrAfter", xsTime(now.Add(p.assertionLifetime())))
	nid := el.CreateElement("saml2:NameID")
	nid.CreateAttr("Format", pt.NameIDFormat)
	nid.SetText(pt.NameID)
	el.CreateElement("saml2p:SessionIndex").SetText(pt.SID)
	return el
}

// newLogoutResponse is a successful LogoutResponse (Core §3.7.2).
func newLogoutResponse(issuer, destination, inResponseTo string, now time.Time) *etree.Element {
	el := newMessage("saml2p:LogoutResponse", issuer, destination, inResponseTo, now)
	el.CreateElement("saml2p:Status").CreateElement("saml2p:StatusCode").CreateAttr("Value", StatusSuccess)
	return el
}

// send signs a message for app a and sends it to its SLO URL by its SLO
// binding: POST (an enveloped signature, a form) or Redirect (a signed
// query, Bindings §3.4.4.1).
func (p *IdP) send(w http.ResponseWriter, r *http.Request, ks *keys.Set, a *app.App, field string, el *etree.Element, relay string) error {
	k, priv, ok := ks.SAMLSigner()
	if !ok {
		return errors.New("saml: the tenant has no SAML signing key")
	}
	target := a.SAML.SLOURL
	if a.SAML.SLOBinding == "post" {
		sg, err := newSigner(k, priv, a.SAML.HashAlgorithm)
		if err != nil {
			return err
		}
		if err := sg.sign(el); err != nil {
			return err
		}
		doc, err := serialize(el)
		if err != nil {
			return err
		}
		postForm(w, target, field, doc, relay)
		return nil
	}
	doc, err := serialize(el)
	if err != nil {
		return err
	}
	u, err := redirectURL(target, field, doc, relay, priv, a.SAML.HashAlgorithm)
	if err != nil {
		return err
	}
	p.redirect(w, r, u)
	return nil
}

// redirectURL encodes a message for the Redirect binding and signs it.
func redirectURL(target, field string, doc []byte, relay string, priv *rsa.PrivateKey, hashAlg string) (string, error) {
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.DefaultCompression)
	if err != nil {
		return "", err
	}
	if _, err := fw.Write(doc); err != nil {
		return "", err
	}
	if err := fw.Close(); err != nil {
		return "", err
	}
	q := field + "=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes()))
	if relay != "" {
		q += "&RelayState=" + url.QueryEscape(relay)
	}
	h, alg := crypto.SHA256, sigRSASHA256
	switch hashAlg {
	case "sha1":
		h, alg = crypto.SHA1, sigRSASHA1
	case "sha384":
		h, alg = crypto.SHA384, sigRSASHA384
	case "sha512":
		h, alg = crypto.SHA512, sigRSASHA512
	}
	q += "&SigAlg=" + url.QueryEscape(alg)
	sum := digest(h, q)
	sig, err := rsa.SignPKCS1v15(rand.Reader, priv, h, sum)
	if err != nil {
		return "", err
	}
	q += "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
	sep := "?"
	if u, err := url.Parse(target); err == nil && u.RawQuery != "" {
		sep = "&"
	}
	return target + sep + q, nil
}
