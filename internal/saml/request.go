package saml

import (
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// XML namespaces (SAML Core §1.2, Metadata §1.2).
const (
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsMetadata  = "urn:oasis:names:tc:SAML:2.0:metadata"
)

// NameID formats (SAML Core §8.3).
const (
	NameIDEmail       = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	NameIDPersistent  = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	NameIDUnspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
	NameIDTransient   = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
)

// maxIDLen bounds request IDs: xs:ID values are short in practice, and they
// go into the store.
const maxIDLen = 256

// authnRequest is what Gatehouse reads of an AuthnRequest (SAML Core §3.4.1).
type authnRequest struct {
	ID           string
	IssueInstant time.Time
	Destination  string
	Issuer       string
	ACSURL       string
	ACSIndex     int // -1: absent
	Binding      string
	ForceAuthn   bool
	IsPassive    bool
	NameIDFormat string
	Signed       bool // has an enveloped ds:Signature
}

// parseAuthnRequest reads an AuthnRequest element; every attribute that
// Gatehouse relies on is checked for form here, the rest by the handler.
func parseAuthnRequest(root *etree.Element) (*authnRequest, error) {
	if root.Tag != "AuthnRequest" || root.NamespaceURI() != nsProtocol {
		return nil, bad("the message is not a SAML 2.0 AuthnRequest")
	}
	if root.SelectAttrValue("Version", "") != "2.0" {
		return nil, bad("the AuthnRequest is not SAML version 2.0")
	}
	req := &authnRequest{ACSIndex: -1}
	var err error
	if req.ID, err = messageID(root); err != nil {
		return nil, err
	}
	if req.IssueInstant, err = instant(root, "IssueInstant"); err != nil {
		return nil, err
	}
	req.Destination = root.SelectAttrValue("Destination", "")
	if req.Issuer, err = issuer(root); err != nil {
		return nil, err
	}
	req.ACSURL = root.SelectAttrValue("AssertionConsumerServiceURL", "")
	if v := root.SelectAttr("AssertionConsumerServiceIndex"); v != nil {
		if req.ACSURL != "" {
			// Core §3.4.1: they are mutually exclusive.
			return nil, bad("the AuthnRequest has both AssertionConsumerServiceURL and AssertionConsumerServiceIndex")
		}
		n, err := strconv.ParseUint(v.Value, 10, 16)
		if err != nil {
			return nil, bad("AssertionConsumerServiceIndex is not a number")
		}
		req.ACSIndex = int(n)
	}
	req.Binding = root.SelectAttrValue("ProtocolBinding", "")
	if req.ForceAuthn, err = boolAttr(root, "ForceAuthn"); err != nil {
		return nil, err
	}
	if req.IsPassive, err = boolAttr(root, "IsPassive"); err != nil {
		return nil, err
	}
	if pols := children(root, nsProtocol, "NameIDPolicy"); len(pols) > 1 {
		return nil, bad("the AuthnRequest has more than one NameIDPolicy")
	} else if len(pols) == 1 {
		req.NameIDFormat = pols[0].SelectAttrValue("Format", "")
	}
	req.Signed = len(children(root, "http://www.w3.org/2000/09/xmldsig#", "Signature")) > 0
	return req, nil
}

// messageID reads and checks a message's ID attribute.
func messageID(root *etree.Element) (string, error) {
	id := root.SelectAttrValue("ID", "")
	if id == "" || len(id) > maxIDLen || !isNCName(id) {
		return "", bad("the message has no valid ID")
	}
	return id, nil
}

// instant reads an xs:dateTime attribute (SAML Core §1.3.3: UTC).
func instant(el *etree.Element, name string) (time.Time, error) {
	v := el.SelectAttrValue(name, "")
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, bad("%s is not a valid date and time", name)
	}
	return t, nil
}

// issuer reads the one Issuer child of a message, an entity ID.
func issuer(root *etree.Element) (string, error) {
	is := children(root, nsAssertion, "Issuer")
	if len(is) != 1 {
		return "", bad("the message must have exactly one Issuer")
	}
	v, err := plainText(is[0])
	if err != nil {
		return "", err
	}
	if f := is[0].SelectAttrValue("Format", ""); f != "" && f != "urn:oasis:names:tc:SAML:2.0:nameid-format:entity" {
		return "", bad("the Issuer is not an entity ID")
	}
	v = trimSpace(v)
	if v == "" || len(v) > 1024 {
		return "", bad("the Issuer is empty or too long")
	}
	return v, nil
}

// plainText returns the text of an element that must hold text only. A
// comment inside is refused: "sp.example<!---->.evil" would read as
// one value here and as another to a parser that drops comments.
func plainText(el *etree.Element) (string, error) {
	var b strings.Builder
	for _, c := range el.Child {
		switch c := c.(type) {
		case *etree.CharData:
			b.WriteString(c.Data)
		default:
			return "", bad("the %s element holds more than text", el.Tag)
		}
	}
	return b.String(), nil
}

// boolAttr reads an optional xs:boolean attribute.
func boolAttr(el *etree.Element, name string) (bool, error) {
	switch el.SelectAttrValue(name, "false") {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, bad("%s is not true or false", name)
}

// children returns el's child elements with that namespace and local name.
func children(el *etree.Element, ns, tag string) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == ns {
			out = append(out, c)
		}
	}
	return out
}

// isNCName reports whether s is a plausible xs:NCName (the form of xs:ID):
// a letter or underscore first, then letters, digits, '.', '-', '_'. Non-ASCII
// letters, which XML allows, are accepted as they are.
func isNCName(s string) bool {
	for i, c := range s {
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= 0x80:
		case i > 0 && (c == '.' || c == '-' || c >= '0' && c <= '9'):
		default:
			return false
		}
	}
	return s != ""
}
