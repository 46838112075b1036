package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// compactSigner makes compact JWS (RFC 7515 §7.1) with one key and one
// protected header, both fixed at creation. It is the token endpoint's hot
// path: the header is encoded once, the signing input is built in one buffer,
// and only the signature is computed per token. Verification, JWKS and
// everything else use go-jose; tests check every token we sign with go-jose
// and go-oidc.
type compactSigner struct {
	alg    string
	key    crypto.Signer
	header string // base64url of the protected header, with the trailing '.'
}

func newCompactSigner(alg, kid, typ string, key crypto.Signer) (*compactSigner, error) {
	switch alg {
	case "RS256", "ES256", "EdDSA":
	default:
		return nil, fmt.Errorf("keys: cannot sign with %s", alg)
	}
	h, err := json.Marshal(struct {
		Alg string `json:"alg"`
		KID string `json:"kid"`
		Typ string `json:"typ"`
	}{alg, kid, typ})
	if err != nil {
		return nil, err
	}
	return &compactSigner{alg: alg, key: key, header: base64.RawURLEncoding.EncodeToString(h) + "."}, nil
}

// sign returns header.payload.signature.
func (c *compactSigner) sign(payload []byte) (string, error) {
	enc := base64.RawURLEncoding
	n := len(c.header) + enc.EncodedLen(len(payload))
	buf := make([]byte, n, n+1+enc.EncodedLen(512))
	copy(buf, c.header)
	enc.Encode(buf[len(c.header):], payload)
	var sig []byte
	var err error
	switch c.alg {
	case "EdDSA":
		sig = ed25519.Sign(c.key.(ed25519.PrivateKey), buf)
	case "ES256":
		d := sha256.Sum256(buf)
		var der []byte
		if der, err = ecdsa.SignASN1(rand.Reader, c.key.(*ecdsa.PrivateKey), d[:]); err == nil {
			sig, err = rawECDSA(der, 32)
		}
	default:
		d := sha256.Sum256(buf)
		sig, err = rsa.SignPKCS1v15(nil, c.key.(*rsa.PrivateKey), crypto.SHA256, d[:])
	}
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// rawECDSA converts an ASN.1 ECDSA signature to the fixed-width R||S form
// of RFC 7518 §3.4.
func rawECDSA(der []byte, size int) ([]byte, error) {
	var r, s big.Int
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() || !seq.ReadASN1Integer(&r) || !seq.ReadASN1Integer(&s) || !seq.Empty() {
		return nil, errors.New("keys: malformed ECDSA signature")
	}
	out := make([]byte, 2*size)
	r.FillBytes(out[:size])
	s.FillBytes(out[size:])
	return out, nil
}
