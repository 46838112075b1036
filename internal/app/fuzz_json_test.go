package app_test

import (
	"encoding/json"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/derrors"
)

var appJSONSeeds = []string{
	`{"name":"portal","type":"web","protocol":"oidc","redirect_uris":["https://portal.example.com/cb"]}`,
	`{"name":"spa","type":"spa","protocol":"oidc","redirect_uris":["http://localhost:3000/cb"],"access_token_lifetime":"1h"}`,
	`{"name":"svc","type":"s2s","protocol":"oidc","scopes":["api:read"],"access_token_format":"opaque"}`,
	`{"name":"mobile","type":"native","protocol":"oidc","redirect_uris":["com.example.app:/cb"],"grant_types":["authorization_code","refresh_token"]}`,
	`{"name":"sp","type":"web","protocol":"saml","saml":{"entity_id":"https://sp.example.com","acs_urls":["https://sp.example.com/acs"]}}`,
	`{"name":"fed","type":"web","protocol":"wsfed","wsfed":{"realm":"urn:fed","reply_url":"https://fed.example.com/"}}`,
	`{"name":"x","type":"web","protocol":"oidc","claims":[{"name":"email","source":"email"}],"refresh_token_lifetime":"720h"}`,
	`{"name":"j","type":"s2s","protocol":"oidc","jwks":{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}}`,
	`{"name":"","type":"","access_token_lifetime":-1}`,
}

// FuzzAppJSON is the admin API's app document (create, update and import
// bodies) from outside: decoding and validation never panic, a refusal is
// an Invalid naming a field, and an accepted app encodes to a document that
// decodes and validates again (R-APP-1, issue 8 §6).
func FuzzAppJSON(f *testing.F) {
	for _, s := range appJSONSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var a app.App
		if json.Unmarshal(data, &a) != nil {
			return
		}
		err := a.Validate(50)
		if err != nil {
			if derrors.KindOf(err) != derrors.Invalid {
				t.Fatalf("refusal of %q is not Invalid: %v", data, err)
			}
			return
		}
		out, err := json.Marshal(&a)
		if err != nil {
			t.Fatalf("an accepted app does not encode: %v", err)
		}
		var again app.App
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("an accepted app's document %s does not decode: %v", out, err)
		}
		if err := again.Validate(50); err != nil {
			t.Fatalf("an accepted app's document %s is refused: %v", out, err)
		}
	})
}
