package saml

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	_ "crypto/sha1" // the hashes of digest
	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"
	xrv "github.com/mattermost/xml-roundtrip-validator"
	dsig "github.com/russellhaering/goxmldsig"
)

// Bounds on inbound messages. An AuthnRequest or LogoutRequest is a few
// kilobytes; these leave room for long signatures and extensions.
const (
	// MaxMessageBytes bounds a message's XML, after base64 and DEFLATE.
	MaxMessageBytes = 64 << 10
	// maxBodyBytes bounds a POST body (the base64 of MaxMessageBytes and
	// a RelayState).
	maxBodyBytes = 96 << 10
	// MaxRelayState is SAML Bindings §3.4.3 and §3.5.3's 80 bytes, with
	// room: service providers in the wild send longer ones.
	MaxRelayState = 1024
)

// Binding names (SAML Bindings §3.4, §3.5).
const (
	BindingRedirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
	BindingPOST     = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
)

// errBad is an inbound message that is not acceptable; its text is shown.
type errBad struct{ msg string }

func (e *errBad) Error() string { return e.msg }

func bad(format string, args ...any) error { return &errBad{fmt.Sprintf(format, args...)} }

// message is an inbound protocol message as received.
type message struct {
	Binding    string
	XML        []byte
	Root       *etree.Element
	RelayState string
	// The Redirect binding's signature (SAML Bindings §3.4.4.1): the
	// algorithm, the signature and the exact octets it covers.
	SigAlg    string
	Signature []byte
	Signed    string
}

// readMessage reads the message in parameter param (SAMLRequest or
// SAMLResponse) of either binding: a GET is the Redirect binding, a POST the
// POST binding.
func readMessage(w http.ResponseWriter, r *http.Request, param string) (*message, error) {
	var m *message
	var err error
	if r.Method == http.MethodPost {
		m, err = readPOST(w, r, param)
	} else {
		m, err = readRedirect(r, param)
	}
	if err != nil {
		return nil, err
	}
	if len(m.RelayState) > MaxRelayState {
		return nil, bad("RelayState is longer than %d bytes", MaxRelayState)
	}
	if m.Root, err = parseXML(m.XML); err != nil {
		return nil, err
	}
	return m, nil
}

// readRedirect decodes the HTTP-Redirect binding: base64 of the raw DEFLATE
// of the XML in the query, with an optional signature over the query's own
// octets (SAML Bindings §3.4.4).
func readRedirect(r *http.Request, param string) (*message, error) {
	raw := map[string]string{}
	for _, part := range strings.Split(r.URL.RawQuery, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case param, "RelayState", "SigAlg", "Signature":
			if _, dup := raw[k]; dup {
				return nil, bad("the parameter %s is repeated", k)
			}
			raw[k] = v
		}
	}
	enc, ok := raw[param]
	if !ok {
		return nil, bad("the request has no %s parameter", param)
	}
	m := &message{Binding: BindingRedirect}
	values := map[string]string{}
	for k, v := range raw {
		u, err := url.QueryUnescape(v)
		if err != nil {
			return nil, bad("the parameter %s is not URL-encoded correctly", k)
		}
		values[k] = u
	}
	compressed, err := decodeBase64(values[param], maxBodyBytes)
	if err != nil {
		return nil, err
	}
	if m.XML, err = inflate(compressed); err != nil {
		return nil, err
	}
	m.RelayState = values["RelayState"]
	if _, ok := raw["Signature"]; ok {
		if _, ok := raw["SigAlg"]; !ok {
			return nil, bad("the request has a Signature without SigAlg")
		}
		if m.Signature, err = decodeBase64(values["Signature"], 2048); err != nil {
			return nil, err
		}
		m.SigAlg = values["SigAlg"]
		// §3.4.4.1: the signed octets are the parameters as they came,
		// in this order, RelayState only when present.
		m.Signed = param + "=" + enc
		if rs, ok := raw["RelayState"]; ok {
			m.Signed += "&RelayState=" + rs
		}
		m.Signed += "&SigAlg=" + raw["SigAlg"]
	}
	return m, nil
}

// readPOST decodes the HTTP-POST binding: base64 of the XML in a form field.
func readPOST(w http.ResponseWriter, r *http.Request, param string) (*message, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, bad("the request is larger than %d bytes", maxBodyBytes)
		}
		return nil, bad("the form cannot be read")
	}
	vs := r.PostForm[param]
	if len(vs) != 1 {
		return nil, bad("the form must have exactly one %s field", param)
	}
	if len(r.PostForm["RelayState"]) > 1 {
		return nil, bad("the parameter RelayState is repeated")
	}
	x, err := decodeBase64(vs[0], maxBodyBytes)
	if err != nil {
		return nil, err
	}
	if len(x) > MaxMessageBytes {
		return nil, bad("the message is larger than %d bytes", MaxMessageBytes)
	}
	return &message{Binding: BindingPOST, XML: x, RelayState: r.PostForm.Get("RelayState")}, nil
}

// decodeBase64 decodes standard base64, with or without padding and line
// breaks (some SPs wrap it), of at most limit bytes of input.
func decodeBase64(s string, limit int) ([]byte, error) {
	if len(s) > limit {
		return nil, bad("the message is larger than %d bytes", limit)
	}
	s = strings.Map(func(c rune) rune {
		if c == '\r' || c == '\n' || c == ' ' || c == '\t' {
			return -1
		}
		return c
	}, s)
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, bad("the message is not valid base64")
	}
	return b, nil
}

// inflate undoes the Redirect binding's DEFLATE, refusing more than
// MaxMessageBytes of output (a deflate bomb).
func inflate(b []byte) ([]byte, error) {
	fr := flate.NewReader(bytes.NewReader(b))
	defer fr.Close()
	out, err := io.ReadAll(io.LimitReader(fr, MaxMessageBytes+1))
	if err != nil {
		return nil, bad("the message is not valid DEFLATE data")
	}
	if len(out) > MaxMessageBytes {
		return nil, bad("the message inflates to more than %d bytes", MaxMessageBytes)
	}
	return out, nil
}

// parseXML parses an inbound document: no DTD, entity, comment, CDATA or
// processing instruction but the XML declaration, and a document that survives an
// encode/decode round trip unchanged (so that what the signature covers is
// what we read).
func parseXML(x []byte) (*etree.Element, error) {
	if bytes.Contains(x, []byte("<!")) {
		// Comments too: "sp.example<!---->.evil" reads as one value to
		// one parser and as another to the next.
		return nil, bad("the message has a DTD, an entity, a comment or a CDATA section, which SAML messages do not need")
	}
	if err := xrv.Validate(bytes.NewReader(x)); err != nil {
		return nil, bad("the message is not well-formed XML")
	}
	doc := etree.NewDocument()
	doc.ReadSettings.Permissive = false
	if err := doc.ReadFromBytes(x); err != nil {
		return nil, bad("the message is not well-formed XML")
	}
	for _, t := range doc.Child {
		if pi, ok := t.(*etree.ProcInst); ok && pi.Target != "xml" {
			return nil, bad("the message has a processing instruction")
		}
	}
	root := doc.Root()
	if root == nil {
		return nil, bad("the message is empty")
	}
	return root, nil
}

// Names of signature algorithms (XML Signature §6.4, RFC 6931 §2.3).
const (
	sigRSASHA1     = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
	sigRSASHA256   = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	sigRSASHA384   = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
	sigRSASHA512   = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
	sigECDSASHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
)

// spCertificate parses an app's SP certificate (validated at registration).
func spCertificate(pemText string) (*x509.Certificate, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, errors.New("saml: the app's certificate is not PEM")
	}
	return x509.ParseCertificate(block.Bytes)
}

// verifyRedirect checks the Redirect binding's query signature with cert.
// SHA-1 is accepted only when the app's hash algorithm is sha1.
func verifyRedirect(m *message, cert *x509.Certificate, hashAlg string, now time.Time) error {
	// As goxmldsig does for the POST binding.
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return bad("the application's certificate is not valid at this time (NotBefore %s, NotAfter %s)", cert.NotBefore.Format(time.DateOnly), cert.NotAfter.Format(time.DateOnly))
	}
	var h crypto.Hash
	switch m.SigAlg {
	case sigRSASHA256, sigECDSASHA256:
		h = crypto.SHA256
	case sigRSASHA384:
		h = crypto.SHA384
	case sigRSASHA512:
		h = crypto.SHA512
	case sigRSASHA1:
		if hashAlg != "sha1" {
			return bad("the request is signed with SHA-1, which this application does not allow")
		}
		h = crypto.SHA1
	default:
		return bad("the request's signature algorithm is not supported")
	}
	sum := digest(h, m.Signed)
	ok := false
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		ok = m.SigAlg != sigECDSASHA256 && rsa.VerifyPKCS1v15(pub, h, sum, m.Signature) == nil
	case *ecdsa.PublicKey:
		ok = m.SigAlg == sigECDSASHA256 && ecdsa.VerifyASN1(pub, sum, m.Signature)
	}
	if !ok {
		return bad("the request's signature is not valid")
	}
	return nil
}

// digest hashes s with h (one of the hashes this package imports).
func digest(h crypto.Hash, s string) []byte {
	d := h.New()
	d.Write([]byte(s))
	return d.Sum(nil)
}

// verifyEnveloped checks the enveloped XML signature of the root element
// with cert and returns the element the signature covers, which is all
// that may be read afterwards (no signature wrapping).
func verifyEnveloped(root *etree.Element, cert *x509.Certificate, hashAlg string, now time.Time) (*etree.Element, error) {
	sig := root.SelectElement("Signature")
	if sig == nil || sig.NamespaceURI() != dsig.Namespace {
		return nil, bad("the request is not signed")
	}
	if hashAlg != "sha1" {
		for _, el := range sig.FindElements(".//SignatureMethod") {
			if el.SelectAttrValue("Algorithm", "") == sigRSASHA1 {
				return nil, bad("the request is signed with SHA-1, which this application does not allow")
			}
		}
		for _, el := range sig.FindElements(".//DigestMethod") {
			if el.SelectAttrValue("Algorithm", "") == "http://www.w3.org/2000/09/xmldsig#sha1" {
				return nil, bad("the request is signed with SHA-1, which this application does not allow")
			}
		}
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
	vc.Clock = dsig.NewFakeClockAt(now)
	el, err := vc.Validate(root)
	if err != nil {
		return nil, bad("the request's signature is not valid")
	}
	return el, nil
}
