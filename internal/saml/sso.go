package saml

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/beevik/etree"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/claims"
	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/keys"
)

// sso is the SSO service (R-SML-1, Profiles §4.1.4): an AuthnRequest by the
// Redirect binding (GET) or the POST binding. A request that cannot be
// trusted, or names no registered SP and ACS URL, gets the error page: an
// error Response goes only to an ACS URL the app registered.
func (p *IdP) sso(w http.ResponseWriter, r *http.Request) {
	tid, _, ok := p.tenantOf(w, r)
	if !ok {
		return
	}
	req, client, err := p.readAuthnRequest(w, r, tid)
	if err != nil {
		p.fail(w, r, tid, err)
		return
	}
	p.decide(w, r, tid, client, req, false)
}

// readAuthnRequest reads, verifies and validates an AuthnRequest and
// returns it as the request to answer. Every failure that is the sender's
// is an *errBad.
func (p *IdP) readAuthnRequest(w http.ResponseWriter, r *http.Request, tid string) (*grant.Request, *app.App, error) {
	ctx := r.Context()
	m, err := readMessage(w, r, "SAMLRequest")
	if err != nil {
		return nil, nil, err
	}
	ar, err := parseAuthnRequest(m.Root)
	if err != nil {
		return nil, nil, err
	}
	client, err := p.Apps.AppByEntityID(ctx, tid, app.SAML, ar.Issuer)
	if err != nil {
		if derrors.Is(err, derrors.NotFound) {
			return nil, nil, bad("the service provider %q is not registered in this tenant", ar.Issuer)
		}
		return nil, nil, err
	}
	s := client.SAML
	now := p.now()
	// R-SML-2: with an SP certificate, only signed requests count.
	root, err := p.verifyRequest(m, s)
	if err != nil {
		return nil, nil, err
	}
	if root != m.Root {
		// Read again what the signature covers, and only that.
		if ar, err = parseAuthnRequest(root); err != nil {
			return nil, nil, err
		}
		if ar.Issuer != s.EntityID {
			return nil, nil, bad("the signed request names another issuer")
		}
	}
	if ar.Destination != "" && ar.Destination != p.Issuer(tid)+PathSSO {
		return nil, nil, bad("the request's Destination is not this identity provider's SSO URL")
	}
	if ar.IssueInstant.Before(now.Add(-maxRequestAge)) {
		return nil, nil, bad("the request was issued more than %d minutes ago; start again at the application", int(maxRequestAge/time.Minute))
	}
	if ar.IssueInstant.After(now.Add(clockSkew)) {
		return nil, nil, bad("the request was issued in the future: check the service provider's clock")
	}
	if ar.Binding != "" && ar.Binding != BindingPOST {
		return nil, nil, bad("the response can only be sent with the HTTP-POST binding")
	}
	acs, err := chooseACS(s, ar)
	if err != nil {
		return nil, nil, err
	}
	format, err := nameIDFormat(s, ar.NameIDFormat)
	if err != nil {
		return nil, nil, err
	}
	// SAML Profiles §4.1.4.5 asks the IdP to answer a request once: its ID
	// is kept until it would be too old anyway.
	if err := p.Grants.UseJTI(ctx, tid, spKey(s.EntityID), ar.ID, ar.IssueInstant.Add(maxRequestAge+clockSkew)); err != nil {
		if derrors.Is(err, derrors.Conflict) {
			return nil, nil, bad("this request was already answered (a replay); start again at the application")
		}
		return nil, nil, err
	}
	req := &grant.Request{
		ClientID: client.ClientID, RedirectURI: acs, State: m.RelayState, Protocol: grant.ProtocolSAML,
		SAMLRequestID: ar.ID, NameIDFormat: format, MaxAge: -1,
	}
	if ar.ForceAuthn {
		req.Prompt = append(req.Prompt, "login")
	}
	if ar.IsPassive {
		req.Prompt = append(req.Prompt, "none")
	}
	return req, client, nil
}

// chooseACS returns the ACS URL to answer to: the request's, which must be
// registered, or the registered one at its index, or the first registered.
func chooseACS(s *app.SAMLSettings, ar *authnRequest) (string, error) {
	switch {
	case ar.ACSURL != "":
		if !slices.Contains(s.ACSURLs, ar.ACSURL) {
			return "", bad("the assertion consumer service URL %q is not registered for this application", ar.ACSURL)
		}
		return ar.ACSURL, nil
	case ar.ACSIndex >= 0:
		if ar.ACSIndex >= len(s.ACSURLs) {
			return "", bad("AssertionConsumerServiceIndex %d is not registered for this application (it has %d URLs, from 0)", ar.ACSIndex, len(s.ACSURLs))
		}
		return s.ACSURLs[ar.ACSIndex], nil
	}
	return s.ACSURLs[0], nil
}

// nameIDFormat is the app's NameID format (R-SML-2: user ID → persistent,
// email → emailAddress), or the one a NameIDPolicy asks for: one of those
// two, or transient (a fresh random value per assertion, Core §8.3.8).
func nameIDFormat(s *app.SAMLSettings, asked string) (string, error) {
	switch asked {
	case "", NameIDUnspecified:
		if s.Subject == "email" {
			return NameIDEmail, nil
		}
		return NameIDPersistent, nil
	case NameIDEmail, NameIDPersistent, NameIDTransient:
		return asked, nil
	}
	return "", bad("the NameID format %q is not supported: use %s, %s or %s", asked, NameIDPersistent, NameIDEmail, NameIDTransient)
}

// resume continues a parked SAML request after the login page.
func (p *IdP) resume(w http.ResponseWriter, r *http.Request) {
	p.resumeProtocol(w, r, grant.ProtocolSAML, app.SAML)
}

// resumeProtocol continues a parked request of a protocol after the login
// page.
func (p *IdP) resumeProtocol(w http.ResponseWriter, r *http.Request, protocol string, appProtocol app.Protocol) {
	ctx := r.Context()
	tid, _, ok := p.tenantOf(w, r)
	if !ok {
		return
	}
	id := r.URL.Query().Get("request")
	req, err := p.Grants.GetRequest(ctx, tid, id)
	if err != nil && !derrors.Is(err, derrors.NotFound) {
		p.serverError(w, r, tid, err)
		return
	}
	if err != nil || !p.now().Before(req.ExpiresAt) || req.Protocol != protocol {
		p.refuse(w, r, tid, http.StatusBadRequest, "This sign-in request has expired. Go back to the application and start again.")
		return
	}
	req.ID = id
	client, err := p.Apps.GetApp(ctx, tid, req.ClientID)
	if err != nil || client.Protocol != appProtocol || (client.SAML == nil && client.WSFed == nil) {
		if err != nil && !derrors.Is(err, derrors.NotFound) {
			p.serverError(w, r, tid, err)
			return
		}
		p.refuse(w, r, tid, http.StatusBadRequest, "The application is no longer registered.")
		return
	}
	p.decide(w, r, tid, client, req, true)
}

// idpInit is IdP-initiated SSO (Profiles §4.1.5): an unsolicited response to
// a registered SP's first ACS URL, for the signed-in user.
func (p *IdP) idpInit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tid, _, ok := p.tenantOf(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	sp, relay := q.Get("sp"), q.Get("RelayState")
	if len(q["sp"]) != 1 || len(q["RelayState"]) > 1 {
		p.refuse(w, r, tid, http.StatusBadRequest, "Give exactly one sp parameter: the entity ID of a registered service provider.")
		return
	}
	if len(relay) > MaxRelayState {
		p.refuse(w, r, tid, http.StatusBadRequest, "RelayState is too long.")
		return
	}
	client, err := p.Apps.AppByEntityID(ctx, tid, app.SAML, sp)
	if err != nil {
		if derrors.Is(err, derrors.NotFound) {
			p.refuse(w, r, tid, http.StatusBadRequest, "The service provider is not registered in this tenant.")
			return
		}
		p.serverError(w, r, tid, err)
		return
	}
	format, _ := nameIDFormat(client.SAML, "")
	req := &grant.Request{
		ClientID: client.ClientID, RedirectURI: client.SAML.ACSURLs[0], State: relay, Protocol: grant.ProtocolSAML,
		NameIDFormat: format, MaxAge: -1,
	}
	p.decide(w, r, tid, client, req, false)
}

// decide answers the request if the browser has a session that satisfies
// it, else sends it to the login page (R-OID-9's rules, with ForceAuthn as
// prompt=login and IsPassive as prompt=none).
func (p *IdP) decide(w http.ResponseWriter, r *http.Request, tid string, client *app.App, req *grant.Request, stored bool) {
	ctx := r.Context()
	now := p.now()
	if !stored {
		req.CreatedAt = now
	}
	sess, u, err := p.Sessions.Session(r, tid)
	if err != nil && !derrors.Is(err, derrors.NotFound) {
		p.serverError(w, r, tid, err)
		return
	}
	needLogin := sess == nil || slices.Contains(req.Prompt, "login") && sess.AuthTime.Before(req.CreatedAt)
	if needLogin && !stored && r.Method == http.MethodPost && sess == nil {
		// The POST binding comes cross-site, without the SameSite=Lax
		// session cookie: look again on a top-level GET, which has it.
		p.park(w, r, tid, req, pathResume)
		return
	}
	if needLogin {
		if slices.Contains(req.Prompt, "none") {
			p.answerError(w, r, tid, client, req, StatusNoPassive, "the user is not signed in")
			return
		}
		if stored {
			p.redirect(w, r, p.Issuer(tid)+"/login?request="+url.QueryEscape(req.ID))
			return
		}
		p.park(w, r, tid, req, "/login")
		return
	}
	if stored {
		_ = p.Grants.DeleteRequest(ctx, tid, req.ID)
	}
	roles, perms, err := p.Users.Access(ctx, tid, u.ID, client.ClientID)
	if err != nil {
		p.serverError(w, r, tid, err)
		return
	}
	subj := claims.Subject{User: u, Roles: roles, Permissions: perms}
	if missing := claims.Missing(client, subj); missing != "" {
		// R-CLM-2: a user without a required claim is not sent to the app.
		if client.LogonResultURLs != nil && client.LogonResultURLs.Failed != "" {
			http.Redirect(w, r, client.LogonResultURLs.Failed, http.StatusSeeOther)
			return
		}
		p.Sessions.Message(w, r, tid, http.StatusForbidden, "You cannot sign in to this application.",
			"Your account lacks the \""+missing+"\" claim that "+client.Name+" requires. Ask your administrator.")
		return
	}
	nameID := u.ID
	switch req.NameIDFormat {
	case NameIDEmail:
		if u.Email == "" {
			p.answerError(w, r, tid, client, req, StatusInvalidNameIDPolicy, "the user has no email address")
			return
		}
		nameID = u.Email
	case NameIDTransient:
		nameID = newID()
	}
	ks, err := p.Keys.SAML(ctx, tid)
	if err != nil {
		p.serverError(w, r, tid, err)
		return
	}
	a := &assertionInfo{
		Issuer: p.Issuer(tid), Recipient: req.RedirectURI, InResponseTo: req.SAMLRequestID,
		NameID: nameID, NameIDFormat: req.NameIDFormat, SessionIndex: sess.SID, AuthnInstant: sess.AuthTime,
		SessionEnd: sess.ExpiresAt, Attributes: claims.Attributes(client, subj), Now: now, Lifetime: p.assertionLifetime(),
	}
	if client.Protocol == app.WSFed {
		a.Audience = client.WSFed.Realm
		if err := p.answerWSFed(w, ks, client, req, a); err != nil {
			p.serverError(w, r, tid, err)
			return
		}
		p.log().InfoContext(ctx, "ws-federation token issued", "tenant", tid, "client_id", client.ClientID, "user_id", u.ID, "sid", sess.SID)
		return
	}
	a.Audience = client.SAML.EntityID
	doc, err := p.Response(ks, client, a)
	if err != nil {
		p.serverError(w, r, tid, err)
		return
	}
	// Single logout tells this app by this NameID (Profiles §4.4).
	if err := p.Grants.AddParticipant(ctx, tid, &grant.Participant{
		SID: sess.SID, ClientID: client.ClientID, NameID: nameID, NameIDFormat: req.NameIDFormat, ExpiresAt: sess.ExpiresAt,
	}); err != nil {
		p.serverError(w, r, tid, err)
		return
	}
	p.log().InfoContext(ctx, "saml response issued", "tenant", tid, "client_id", client.ClientID, "user_id", u.ID, "sid", sess.SID)
	postForm(w, req.RedirectURI, "SAMLResponse", doc, req.State)
}

// Response makes the signed (and, when the app asks, encrypted) Response
// document for an assertion.
func (p *IdP) Response(ks *keys.Set, client *app.App, a *assertionInfo) ([]byte, error) {
	s := client.SAML
	sg, err := ksSigner(ks, s.HashAlgorithm)
	if err != nil {
		return nil, err
	}
	as, err := p.signedAssertion(ks, s.HashAlgorithm, a)
	if err != nil {
		return nil, err
	}
	if s.EncryptAssertion {
		cert, err := spCertificate(s.Certificate)
		if err != nil {
			return nil, err
		}
		if as, err = encrypt(as, cert, s.EncryptionAlgorithm); err != nil {
			return nil, err
		}
	}
	resp := newResponse(a.Issuer, a.Recipient, a.InResponseTo, StatusSuccess, "", a.Now, as)
	if err := sg.sign(resp); err != nil {
		return nil, err
	}
	return serialize(resp)
}

// signedAssertion builds and signs an assertion.
func (p *IdP) signedAssertion(ks *keys.Set, hashAlg string, a *assertionInfo) (*etree.Element, error) {
	sg, err := ksSigner(ks, hashAlg)
	if err != nil {
		return nil, err
	}
	as := newAssertion(a)
	if err := sg.sign(as); err != nil {
		return nil, err
	}
	return as, nil
}

// ksSigner is the signer of the tenant's active SAML key.
func ksSigner(ks *keys.Set, hashAlg string) (*signer, error) {
	k, priv, ok := ks.SAMLSigner()
	if !ok {
		return nil, errors.New("saml: the tenant has no SAML signing key")
	}
	return newSigner(k, priv, hashAlg)
}

// answerError sends a signed error Response to the request's registered
// ACS URL (Core §3.2.2.2), issuing nothing.
func (p *IdP) answerError(w http.ResponseWriter, r *http.Request, tid string, client *app.App, req *grant.Request, status, msg string) {
	ctx := r.Context()
	if req.ID != "" {
		_ = p.Grants.DeleteRequest(ctx, tid, req.ID)
	}
	ks, err := p.Keys.SAML(ctx, tid)
	if err != nil {
		p.serverError(w, r, tid, err)
		return
	}
	sg, err := ksSigner(ks, client.SAML.HashAlgorithm)
	if err != nil {
		p.serverError(w, r, tid, err)
		return
	}
	resp := newResponse(p.Issuer(tid), req.RedirectURI, req.SAMLRequestID, status, msg, p.now(), nil)
	if err := sg.sign(resp); err != nil {
		p.serverError(w, r, tid, err)
		return
	}
	doc, err := serialize(resp)
	if err != nil {
		p.serverError(w, r, tid, err)
		return
	}
	p.log().InfoContext(ctx, "saml error response", "tenant", tid, "client_id", client.ClientID, "status", status)
	postForm(w, req.RedirectURI, "SAMLResponse", doc, req.State)
}

// park stores a new request and sends the browser to page (the login page,
// or resume), which comes back to resume.
func (p *IdP) park(w http.ResponseWriter, r *http.Request, tid string, req *grant.Request, page string) {
	now := p.now()
	req.ID = grant.NewID()
	req.ExpiresAt = now.Add(p.requestLifetime())
	if err := p.Grants.CreateRequest(r.Context(), tid, req); err != nil {
		p.serverError(w, r, tid, err)
		return
	}
	p.redirect(w, r, p.Issuer(tid)+page+"?request="+url.QueryEscape(req.ID))
}

func (p *IdP) redirect(w http.ResponseWriter, r *http.Request, target string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// autoSubmit is the one script of the POST binding's page; the page's CSP
// allows it by hash, nothing else.
const autoSubmit = `document.forms[0].submit();`

var autoSubmitHash = func() string {
	s := sha256.Sum256([]byte(autoSubmit))
	return "'sha256-" + base64.StdEncoding.EncodeToString(s[:]) + "'"
}()

var postTemplate = template.Must(template.New("post").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Signing in…</title></head>
<body><form method="post" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{index . 0}}" value="{{index . 1}}">
{{end}}
<noscript><p>JavaScript is off: press the button to continue.</p><button type="submit">Continue</button></noscript>
</form><script>` + autoSubmit + `</script></body></html>
`))

// postForm sends a message by the HTTP-POST binding (Bindings §3.5.4): a
// page whose form posts it to target at once.
func postForm(w http.ResponseWriter, target, field string, doc []byte, relayState string) {
	fields := [][2]string{{field, base64.StdEncoding.EncodeToString(doc)}}
	if relayState != "" {
		fields = append(fields, [2]string{"RelayState", relayState})
	}
	postFields(w, target, fields)
}

// postFields sends a page whose form posts the fields to target at once.
func postFields(w http.ResponseWriter, target string, fields [][2]string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src "+autoSubmitHash+"; form-action "+formAction(target)+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	_ = postTemplate.Execute(w, struct {
		Action string
		Fields [][2]string
	}{target, fields})
}

// formAction is the CSP source of a registered URL: its origin.
func formAction(target string) string {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return "'none'"
	}
	return u.Scheme + "://" + u.Host
}
