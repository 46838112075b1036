// Package keys manages each tenant's signing key set (R-KEY-1..4, R-OID-7):
// generation (RS256, ES256, EdDSA), a self-signed X.509 certificate per key,
// the JWKS with x5c, rotation that publishes the next key before it signs and
// keeps old keys until every token they signed has expired, and a per-process
// cache that notices rotations made by other replicas.
package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
)

// Key states. A "next" key is published but does not sign yet; the "active"
// key signs; a "retired" key is published until RetireAt.
const (
	StateNext    = "next"
	StateActive  = "active"
	StateRetired = "retired"
)

// UseSAML marks the keys of a tenant's SAML line: RSA keys that sign SAML
// and WS-Federation messages when the tenant's token keys are not RSA (XML
// signatures that service providers accept are RSA). A tenant that signs
// tokens with RS256 signs SAML with the same keys and has no SAML line.
const UseSAML = "saml"

// Key is one signing key of a tenant. Private is the PKCS#8 DER in memory;
// the store only ever holds it sealed (R-KEY-4).
type Key struct {
	KID   string
	Alg   string
	State string
	// Use is "" for the keys that sign tokens, UseSAML for the SAML line.
	Use       string
	Private   []byte
	CertDER   []byte
	CreatedAt time.Time
	RetireAt  time.Time
}

// Store persists key sets. Version is bumped by every SaveKeys; SaveKeys
// fails with a derrors.Conflict when the stored version is not expect.
type Store interface {
	ListKeys(ctx context.Context, tenantID string) ([]*Key, int64, error)
	KeysVersion(ctx context.Context, tenantID string) (int64, error)
	SaveKeys(ctx context.Context, tenantID string, expect int64, upsert []*Key, remove []string) error
}

// Generate makes a new key of alg with a self-signed certificate for tenant.
func Generate(tenantID, alg string, now time.Time) (*Key, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case tenant.AlgRS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case tenant.AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case tenant.AlgEdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, derrors.Invalidf("signing_alg", "must be one of RS256, ES256, EdDSA")
	}
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Gatehouse signing key, tenant " + tenantID, Organization: []string{"Gatehouse"}},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		return nil, err
	}
	// The kid is the RFC 7638-style digest of the public key: stable, unique.
	spki, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(spki)
	return &Key{
		KID:       base64.RawURLEncoding.EncodeToString(sum[:16]),
		Alg:       alg,
		State:     StateNext,
		Private:   der,
		CertDER:   cert,
		CreatedAt: now.UTC(),
	}, nil
}

// Signer returns the key's private key.
func (k *Key) Signer() (crypto.Signer, error) {
	p, err := x509.ParsePKCS8PrivateKey(k.Private)
	if err != nil {
		return nil, fmt.Errorf("parse key %s: %w", k.KID, err)
	}
	s, ok := p.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key %s is not a signer", k.KID)
	}
	return s, nil
}

// Published reports whether the key belongs in the JWKS at now.
func (k *Key) Published(now time.Time) bool {
	return k.State != StateRetired || now.Before(k.RetireAt)
}

// CertPEM returns the key's certificate in PEM.
func (k *Key) CertPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.CertDER}))
}

// JWK returns the public JWK of the key with x5c, x5t and x5t#S256.
func (k *Key) JWK() (jose.JSONWebKey, error) {
	cert, err := x509.ParseCertificate(k.CertDER)
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	s1 := sha1.Sum(k.CertDER)
	s256 := sha256.Sum256(k.CertDER)
	return jose.JSONWebKey{
		Key:                         cert.PublicKey,
		KeyID:                       k.KID,
		Algorithm:                   k.Alg,
		Use:                         "sig",
		Certificates:                []*x509.Certificate{cert},
		CertificateThumbprintSHA1:   s1[:],
		CertificateThumbprintSHA256: s256[:],
	}, nil
}

// renderJWKS builds the JSON of the published keys, active first.
func renderJWKS(ks []*Key, now time.Time) ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, order := range []string{StateActive, StateNext, StateRetired} {
		for _, k := range ks {
			if k.State != order || !k.Published(now) || k.Use != "" {
				continue
			}
			j, err := k.JWK()
			if err != nil {
				return nil, err
			}
			set.Keys = append(set.Keys, j)
		}
	}
	return json.Marshal(set)
}
