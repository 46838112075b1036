package saml

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml/xmlenc"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/gatehouse-id/gatehouse/internal/claims"
	"github.com/gatehouse-id/gatehouse/internal/keys"
)

// Status codes (SAML Core §3.2.2.2).
const (
	StatusSuccess             = "urn:oasis:names:tc:SAML:2.0:status:Success"
	StatusRequester           = "urn:oasis:names:tc:SAML:2.0:status:Requester"
	StatusResponder           = "urn:oasis:names:tc:SAML:2.0:status:Responder"
	StatusNoPassive           = "urn:oasis:names:tc:SAML:2.0:status:NoPassive"
	StatusInvalidNameIDPolicy = "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy"
	StatusRequestDenied       = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"
)

const (
	xsdTime                = "2006-01-02T15:04:05.000Z"
	cmBearer               = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
	acPasswordProtected    = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
	attrNameFormatBasic    = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
	attrNameFormatURI      = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
	nsXSD                  = "http://www.w3.org/2001/XMLSchema"
	nsXSI                  = "http://www.w3.org/2001/XMLSchema-instance"
	encryptedElementTypeID = "http://www.w3.org/2001/04/xmlenc#Element"
)

// assertionInfo is what an assertion says (SAML Core §2.3.3).
type assertionInfo struct {
	Issuer       string
	Audience     string
	Recipient    string // the ACS URL
	InResponseTo string // empty: unsolicited
	NameID       string
	NameIDFormat string
	SessionIndex string
	AuthnInstant time.Time
	SessionEnd   time.Time
	Attributes   []claims.Attribute
	Now          time.Time
	Lifetime     time.Duration
}

// newID is a fresh message or assertion ID: an NCName ("_" and 160 random
// bits in hex), as SAML Core §1.3.4 asks.
func newID() string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	return "_" + hex.EncodeToString(b[:])
}

func xsTime(t time.Time) string { return t.UTC().Format(xsdTime) }

// newAssertion builds the assertion element, with its namespaces declared on
// itself so that it stands alone when signed, encrypted or taken out.
func newAssertion(a *assertionInfo) *etree.Element {
	notAfter := a.Now.Add(a.Lifetime)
	el := etree.NewElement("saml2:Assertion")
	el.CreateAttr("xmlns:saml2", nsAssertion)
	el.CreateAttr("xmlns:xs", nsXSD)
	el.CreateAttr("xmlns:xsi", nsXSI)
	el.CreateAttr("ID", newID())
	el.CreateAttr("IssueInstant", xsTime(a.Now))
	el.CreateAttr("Version", "2.0")
	el.CreateElement("saml2:Issuer").SetText(a.Issuer)

	subj := el.CreateElement("saml2:Subject")
	nid := subj.CreateElement("saml2:NameID")
	nid.CreateAttr("Format", a.NameIDFormat)
	nid.SetText(a.NameID)
	sc := subj.CreateElement("saml2:SubjectConfirmation")
	sc.CreateAttr("Method", cmBearer)
	scd := sc.CreateElement("saml2:SubjectConfirmationData")
	if a.InResponseTo != "" {
		scd.CreateAttr("InResponseTo", a.InResponseTo)
	}
	scd.CreateAttr("NotOnOrAfter", xsTime(notAfter))
	scd.CreateAttr("Recipient", a.Recipient)

	cond := el.CreateElement("saml2:Conditions")
	cond.CreateAttr("NotBefore", xsTime(a.Now.Add(-clockSkew)))
	cond.CreateAttr("NotOnOrAfter", xsTime(notAfter))
	cond.CreateElement("saml2:AudienceRestriction").CreateElement("saml2:Audience").SetText(a.Audience)

	as := el.CreateElement("saml2:AuthnStatement")
	as.CreateAttr("AuthnInstant", xsTime(a.AuthnInstant))
	as.CreateAttr("SessionIndex", a.SessionIndex)
	if !a.SessionEnd.IsZero() {
		as.CreateAttr("SessionNotOnOrAfter", xsTime(a.SessionEnd))
	}
	as.CreateElement("saml2:AuthnContext").CreateElement("saml2:AuthnContextClassRef").SetText(acPasswordProtected)

	if len(a.Attributes) > 0 {
		st := el.CreateElement("saml2:AttributeStatement")
		for _, at := range a.Attributes {
			ae := st.CreateElement("saml2:Attribute")
			ae.CreateAttr("Name", at.Name)
			ae.CreateAttr("NameFormat", attrNameFormat(at.Name))
			for _, v := range at.Values {
				ve := ae.CreateElement("saml2:AttributeValue")
				ve.CreateAttr("xsi:type", "xs:string")
				ve.SetText(v)
			}
		}
	}
	return el
}

// attrNameFormat is uri for names that are URIs (the claim mappings of
// ADFS and Azure AD), basic for the others (SAML Core §8.2).
func attrNameFormat(name string) string {
	for i := 0; i < len(name); i++ {
		if name[i] == ':' {
			return attrNameFormatURI
		}
	}
	return attrNameFormatBasic
}

// newResponse builds a Response around an assertion element (nil for an
// error response).
func newResponse(issuer, destination, inResponseTo, status, statusMessage string, now time.Time, assertion *etree.Element) *etree.Element {
	el := newMessage("saml2p:Response", issuer, destination, inResponseTo, now)
	st := el.CreateElement("saml2p:Status")
	code := st.CreateElement("saml2p:StatusCode")
	if status == StatusSuccess {
		code.CreateAttr("Value", StatusSuccess)
	} else {
		// A second-level code goes under a top-level one (Core §3.2.2.2).
		top := StatusResponder
		if status == StatusRequester || status == StatusNoPassive || status == StatusInvalidNameIDPolicy || status == StatusRequestDenied {
			top = StatusRequester
		}
		code.CreateAttr("Value", top)
		if status != top {
			code.CreateElement("saml2p:StatusCode").CreateAttr("Value", status)
		}
		if statusMessage != "" {
			st.CreateElement("saml2p:StatusMessage").SetText(statusMessage)
		}
	}
	if assertion != nil {
		el.AddChild(assertion)
	}
	return el
}

// newMessage is a protocol message (Core §3.2.2) with its namespaces,
// Destination, a fresh ID, InResponseTo (when not empty), IssueInstant,
// Version and Issuer.
func newMessage(tag, issuer, destination, inResponseTo string, now time.Time) *etree.Element {
	el := etree.NewElement(tag)
	el.CreateAttr("xmlns:saml2p", nsProtocol)
	el.CreateAttr("xmlns:saml2", nsAssertion)
	el.CreateAttr("Destination", destination)
	el.CreateAttr("ID", newID())
	if inResponseTo != "" {
		el.CreateAttr("InResponseTo", inResponseTo)
	}
	el.CreateAttr("IssueInstant", xsTime(now))
	el.CreateAttr("Version", "2.0")
	el.CreateElement("saml2:Issuer").SetText(issuer)
	return el
}

// signatureMethods are the RSA signature methods by app hash algorithm.
var signatureMethods = map[string]string{
	"":       dsig.RSASHA256SignatureMethod,
	"sha1":   dsig.RSASHA1SignatureMethod,
	"sha256": dsig.RSASHA256SignatureMethod,
	"sha384": dsig.RSASHA384SignatureMethod,
	"sha512": dsig.RSASHA512SignatureMethod,
}

// signer signs elements with a tenant's SAML key.
type signer struct {
	ctx *dsig.SigningContext
}

func newSigner(k *keys.Key, priv *rsa.PrivateKey, hashAlg string) (*signer, error) {
	ctx, err := dsig.NewSigningContext(priv, [][]byte{k.CertDER})
	if err != nil {
		return nil, err
	}
	ctx.Prefix = "ds"
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	m, ok := signatureMethods[hashAlg]
	if !ok {
		return nil, fmt.Errorf("saml: no signature method for hash %q", hashAlg)
	}
	if err := ctx.SetSignatureMethod(m); err != nil {
		return nil, err
	}
	return &signer{ctx: ctx}, nil
}

// sign adds an enveloped signature of el right after its Issuer, where the
// schemas of SAML messages and metadata want it (Core §3.2.1, §2.3.3). The
// digest is taken of a copy: goxmldsig canonicalizes in place, which would
// drop the declaration of the xs prefix that xsi:type values use.
func (s *signer) sign(el *etree.Element) error {
	sig, err := s.ctx.ConstructSignature(el.Copy(), true)
	if err != nil {
		return err
	}
	at := 0
	for i, c := range el.Child {
		if e, ok := c.(*etree.Element); ok && e.Tag == "Issuer" {
			at = i + 1
			break
		}
	}
	el.InsertChildAt(at, sig)
	return nil
}

// encrypt wraps a signed assertion in an EncryptedAssertion for cert (SAML
// Core §2.3.4, XML Encryption 1.1): the data with AES-256-GCM (or
// AES-256-CBC when alg is "aes256-cbc"), the key with RSA-OAEP.
func encrypt(assertion *etree.Element, cert *x509.Certificate, alg string) (*etree.Element, error) {
	doc := etree.NewDocument()
	doc.SetRoot(assertion.Copy())
	plain, err := doc.WriteToBytes()
	if err != nil {
		return nil, err
	}
	e := xmlenc.OAEP()
	e.BlockCipher = xmlenc.AES256GCM
	if alg == "aes256-cbc" {
		e.BlockCipher = xmlenc.AES256CBC
	}
	data, err := e.Encrypt(cert, plain, nil)
	if err != nil {
		return nil, err
	}
	data.CreateAttr("Type", encryptedElementTypeID)
	ea := etree.NewElement("saml2:EncryptedAssertion")
	ea.CreateAttr("xmlns:saml2", nsAssertion)
	ea.AddChild(data)
	return ea, nil
}

// serialize writes el as a document with an XML declaration.
func serialize(el *etree.Element) ([]byte, error) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	doc.AddChild(el)
	doc.WriteSettings.CanonicalEndTags = false
	return doc.WriteToBytes()
}
