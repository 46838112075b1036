package integration

import (
	"encoding/json"
	"reflect"
	"testing"
)

// R-INT-1, R-INT-2: any JSON body the admin API could pass on is either
// refused by Validate or accepted such that validating it again changes
// nothing and accepts it again, its redaction holds no secret, and Ready
// does not panic.
func FuzzIntegrationJSON(f *testing.F) {
	for _, s := range []string{
		`{"name":"tickets","base_url":"https://t.example.com/api","service_auth":{"method":"api_key","in":"header","name":"X-API-Key","key":"k"},"rate_limit":{"requests":5,"per":"second"}}`,
		`{"name":"hr","base_url":"http://hr.example.com","service_auth":{"method":"basic","username":"u","password":"p"},"test_request":{"path":"health"}}`,
		`{"name":"ews","base_url":"https://ews.example.com","on_premises":true,"accept_unverified_tls":true,"service_auth":{"method":"ntlm","domain":"D","username":"u","password":"p"}}`,
		`{"name":"crm","base_url":"https://crm.example.com","service_auth":{"method":"oauth2","grant_type":"client_credentials","client_id":"c","client_secret":"s","token_url":"https://as.example.com/t","token_params":{"audience":"x"}},"service_action_auth":{"method":"oauth2","grant_type":"authorization_code","client_id":"c","authorization_url":"https://as.example.com/a","token_url":"https://as.example.com/t"},"rate_limit":{"requests":1,"per":"minute","policy":"wait","max_wait":"3s"}}`,
		`{"name":"x","base_url":"https://x.example.com?","service_auth":{"method":"bearer","token":"t\r\n"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var i Integration
		if json.Unmarshal(b, &i) != nil {
			return
		}
		_ = i.Ready()
		if _, err := i.Validate(true); err != nil {
			return
		}
		once := i
		if _, err := i.Validate(true); err != nil {
			t.Fatalf("valid once, not twice: %v", err)
		}
		if !reflect.DeepEqual(once, i) {
			t.Fatalf("validating again changed it: %+v -> %+v", once, i)
		}
		r := i.Redacted()
		if r.ServiceAuth.Secrets() != (Secrets{}) || r.ActionAuth != nil && r.ActionAuth.Secrets() != (Secrets{}) {
			t.Fatalf("the redaction keeps a secret: %+v", r)
		}
	})
}
