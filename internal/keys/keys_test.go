package keys

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestGenerate(t *testing.T) {
	now := time.Now()
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			k, err := Generate("acme", alg, now)
			if err != nil {
				t.Fatal(err)
			}
			if k.Alg != alg || k.State != StateNext || k.KID == "" {
				t.Fatalf("%+v", k)
			}
			cert, err := x509.ParseCertificate(k.CertDER)
			if err != nil {
				t.Fatal(err)
			}
			sg, err := k.Signer()
			if err != nil {
				t.Fatal(err)
			}
			pub, _ := x509.MarshalPKIXPublicKey(sg.Public())
			cpub, _ := x509.MarshalPKIXPublicKey(cert.PublicKey)
			if !bytes.Equal(pub, cpub) {
				t.Fatal("the certificate is not for the key (R-KEY-1)")
			}
			if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
				t.Fatalf("not self-signed: %v", err)
			}
			j, err := k.JWK()
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(j)
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			_ = json.Unmarshal(b, &doc)
			for _, f := range []string{"kid", "alg", "use", "x5c", "x5t", "x5t#S256"} {
				if doc[f] == nil {
					t.Errorf("JWK lacks %s: %s", f, b)
				}
			}
			for _, f := range []string{"d", "p", "q", "dp", "dq", "qi"} {
				if doc[f] != nil {
					t.Errorf("JWK publishes private member %s", f)
				}
			}
			// A token signed by a set with this key verifies with the JWK.
			k.State = StateActive
			s := &Set{Keys: []*Key{k}, active: k}
			signer, err := newCompactSigner(alg, k.KID, TypJWT, sg)
			if err != nil {
				t.Fatal(err)
			}
			s.signers = map[string]*compactSigner{TypJWT: signer}
			s.public = map[string]publicKey{k.KID: {key: sg.Public(), alg: alg}}
			tok, err := s.Sign(TypJWT, []byte(`{"a":1}`))
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Verify(tok, TypJWT)
			if err != nil || string(got) != `{"a":1}` {
				t.Fatalf("verify: %q %v", got, err)
			}
			// go-jose, independently, with the published JWK.
			jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			if jws.Signatures[0].Header.KeyID != k.KID || jws.Signatures[0].Header.ExtraHeaders["typ"] != TypJWT {
				t.Fatalf("header %+v", jws.Signatures[0].Header)
			}
			if got, err := jws.Verify(&j); err != nil || string(got) != `{"a":1}` {
				t.Fatalf("go-jose verify: %q %v", got, err)
			}
			if _, err := s.Verify(tok[:len(tok)-4]+"AAAA", TypJWT); err == nil {
				t.Fatal("a tampered signature verifies")
			}
			// One kind of token does not pass for another (RFC 8725 §3.11).
			if _, err := s.Verify(tok, TypAccessToken); err == nil {
				t.Fatal("a typ JWT token verifies as an access token")
			}
		})
	}
	if _, err := Generate("acme", "HS256", now); err == nil {
		t.Fatal("HS256 accepted")
	}
}

func TestTypIs(t *testing.T) {
	for _, c := range []struct {
		got  any
		want bool
	}{
		{"at+jwt", true}, {"AT+JWT", true}, {"application/at+jwt", true}, {"Application/At+JWT", true},
		{"JWT", false}, {"application/", false}, {"at+jwt ", false}, {nil, false}, {42, false},
	} {
		if typIs(c.got, TypAccessToken) != c.want {
			t.Errorf("typIs(%v, at+jwt) = %v", c.got, !c.want)
		}
	}
}

func TestPublished(t *testing.T) {
	now := time.Now()
	if !(&Key{State: StateRetired, RetireAt: now.Add(time.Minute)}).Published(now) {
		t.Error("a retiring key must stay published until RetireAt (R-KEY-2)")
	}
	if (&Key{State: StateRetired, RetireAt: now.Add(-time.Minute)}).Published(now) {
		t.Error("a key past RetireAt is still published")
	}
	if !(&Key{State: StateNext}).Published(now) {
		t.Error("the next key must be published before it signs (R-KEY-2)")
	}
}
