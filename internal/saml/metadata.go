package saml

import (
	"encoding/base64"
	"net/http"
	"time"

	"github.com/beevik/etree"

	"github.com/gatehouse-id/gatehouse/internal/keys"
)

// metadataValidity is the validUntil of the metadata (Metadata §2.3.2):
// SPs that honour it refetch within a day, and so learn of a next key long
// before it signs.
const metadataValidity = 24 * time.Hour

// metadataCacheFor is how long a signed document is served before it is
// made again.
const metadataCacheFor = 10 * time.Minute

type cachedMetadata struct {
	version int64
	made    time.Time
	doc     []byte
}

// serveMetadata serves the tenant's signed IdP metadata (R-SML-1, Metadata
// §2.4.3): the SSO and SLO services of both bindings, the NameID formats,
// and the signing certificates of the SAML line, active then next.
func (p *IdP) serveMetadata(w http.ResponseWriter, r *http.Request) {
	p.serveSigned(w, r, "saml", p.Metadata)
}

// serveSigned serves the tenant's signed metadata document of a kind,
// made by build (cached: metadataDoc).
func (p *IdP) serveSigned(w http.ResponseWriter, r *http.Request, kind string, build func(tid string, ks *keys.Set, now time.Time) *etree.Element) {
	tid, ks, ok := p.tenantOf(w, r)
	if !ok {
		return
	}
	doc, err := p.metadataDoc(tid, kind, ks, func(now time.Time) *etree.Element { return build(tid, ks, now) })
	if err != nil {
		p.serverError(w, r, tid, err)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(doc)
}

// metadataDoc returns a signed metadata document of the tenant, kind "saml"
// or "wsfed", made by build and kept for metadataCacheFor (or until the key
// set changes): every fetch would otherwise cost an RSA signature.
func (p *IdP) metadataDoc(tid, kind string, ks *keys.Set, build func(now time.Time) *etree.Element) ([]byte, error) {
	now := p.now()
	key := kind + "\x00" + tid
	if v, ok := p.metadata.Load(key); ok {
		c := v.(*cachedMetadata)
		if c.version == ks.Version && now.Sub(c.made) < metadataCacheFor {
			return c.doc, nil
		}
	}
	doc, err := p.signedDoc(ks, build(now))
	if err != nil {
		return nil, err
	}
	p.metadata.Store(key, &cachedMetadata{version: ks.Version, made: now, doc: doc})
	return doc, nil
}

// Metadata builds the tenant's unsigned EntityDescriptor.
func (p *IdP) Metadata(tid string, ks *keys.Set, now time.Time) *etree.Element {
	issuer := p.Issuer(tid)
	ed := entityDescriptor(issuer, now)
	idp := ed.CreateElement("md:IDPSSODescriptor")
	idp.CreateAttr("WantAuthnRequestsSigned", "false")
	idp.CreateAttr("protocolSupportEnumeration", nsProtocol)
	signingKeys(idp, ks)
	for _, b := range []string{BindingRedirect, BindingPOST} {
		s := idp.CreateElement("md:SingleLogoutService")
		s.CreateAttr("Binding", b)
		s.CreateAttr("Location", issuer+PathSLO)
	}
	for _, f := range []string{NameIDPersistent, NameIDEmail, NameIDTransient} {
		idp.CreateElement("md:NameIDFormat").SetText(f)
	}
	for _, b := range []string{BindingRedirect, BindingPOST} {
		s := idp.CreateElement("md:SingleSignOnService")
		s.CreateAttr("Binding", b)
		s.CreateAttr("Location", issuer+PathSSO)
	}
	return ed
}

// serveCertificate serves the active SAML signing certificate in PEM, for
// SPs configured by hand (R-APP-12).
func (p *IdP) serveCertificate(w http.ResponseWriter, r *http.Request) {
	_, ks, ok := p.tenantOf(w, r)
	if !ok {
		return
	}
	k, _, _ := ks.SAMLSigner()
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write([]byte(k.CertPEM()))
}

// entityDescriptor is an empty EntityDescriptor of the IdP.
func entityDescriptor(issuer string, now time.Time) *etree.Element {
	ed := etree.NewElement("md:EntityDescriptor")
	ed.CreateAttr("xmlns:md", nsMetadata)
	ed.CreateAttr("xmlns:ds", "http://www.w3.org/2000/09/xmldsig#")
	ed.CreateAttr("ID", newID())
	ed.CreateAttr("entityID", issuer)
	ed.CreateAttr("validUntil", xsTime(now.Add(metadataValidity)))
	return ed
}

// signingKeys adds a signing KeyDescriptor for the active and the next SAML
// key: SPs that refresh the metadata trust the next key before it signs.
func signingKeys(parent *etree.Element, ks *keys.Set) {
	for _, k := range ks.SAMLKeys {
		if k.State == keys.StateRetired {
			continue
		}
		kd := parent.CreateElement("md:KeyDescriptor")
		kd.CreateAttr("use", "signing")
		kd.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").
			SetText(base64.StdEncoding.EncodeToString(k.CertDER))
	}
}

// signedDoc signs a metadata document (RSA-SHA256) and serializes it.
func (p *IdP) signedDoc(ks *keys.Set, el *etree.Element) ([]byte, error) {
	sg, err := ksSigner(ks, "sha256")
	if err != nil {
		return nil, err
	}
	if err := sg.sign(el); err != nil {
		return nil, err
	}
	return serialize(el)
}
