// Package saml is each tenant's SAML 2.0 identity provider and
// WS-Federation security token service (R-SML-1..3, R-WSF-1, R-KEY-1):
// metadata, single sign-on over the HTTP-Redirect and HTTP-POST bindings,
// IdP-initiated sign-on, single logout, and the WS-Federation passive
// requestor profile, on the same login page and SSO session as OpenID
// Connect. The IdP's entity ID is the tenant issuer {public}/t/{tenant}.
// WS-Federation is here rather than in a package of its own: docs/adr/006.
//
//   - GET  {issuer}/saml/metadata: the signed EntityDescriptor.
//   - GET|POST {issuer}/saml/sso: SP-initiated SSO (an AuthnRequest).
//   - GET  {issuer}/saml/idp-init?sp={entity ID}[&RelayState=…]: an
//     unsolicited response to a registered SP.
//   - GET|POST {issuer}/saml/slo: single logout, SP-initiated (a
//     LogoutRequest) and the SPs' answers while the session's other apps
//     are told (LogoutResponses); Logout starts it for OpenID Connect.
//   - GET  {issuer}/wsfed?wa=wsignin1.0|wsignout1.0 and
//     {issuer}/wsfed/metadata: WS-Federation 1.2 (passive requestor).
//   - GET  {issuer}/saml/resume and {issuer}/wsfed/resume?request={id}:
//     where the login page hands a parked request back.
//
// Every inbound message is hostile until proven otherwise: its size is
// bounded before and after DEFLATE, it must survive an XML round trip
// (github.com/mattermost/xml-roundtrip-validator) and contain no DTD, and
// its signature is checked with the SP certificate of the app when the app
// has one (then an unsigned request is refused). Request IDs are single use
// across replicas (the store's assertion jti table).
//
// Responses follow seed 003 (SAML 2.0 Core §2, §3.2, Profiles §4.1): the
// Issuer is the tenant issuer, the assertion is signed (RSA-SHA256 unless
// the app asks for another hash, exclusive c14n), then encrypted to the SP
// certificate when the app asks for it (AES-256-GCM or AES-256-CBC,
// RSA-OAEP), and the Response is signed too. XML signatures use
// github.com/russellhaering/goxmldsig, encryption the xmlenc package of
// github.com/crewjam/saml, the tree github.com/beevik/etree.
package saml
