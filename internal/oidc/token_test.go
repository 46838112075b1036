package oidc_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/tenant"
)

// FuzzTokenEndpoint feeds arbitrary bodies and Authorization headers to the
// real token endpoint (R-RUN-4): it never panics, never answers 5xx, and
// always answers an RFC 6749 JSON document.
func FuzzTokenEndpoint(f *testing.F) {
	fx := newFixture(f, tenant.AlgES256)
	f.Add("grant_type=client_credentials&scope=api", "basic")
	f.Add("grant_type=client_credentials&client_id="+fx.clientID+"&client_secret="+fx.secret, "")
	f.Add("grant_type=client_credentials&scope=api+api", "basic")
	f.Add("grant_type=password&username=a&password=b", "basic")
	f.Add("grant_type=client_credentials&resource=https%3A%2F%2Fx", "basic")
	f.Add("%%%", "Basic Og==")
	f.Fuzz(func(t *testing.T, body, auth string) {
		r := httptest.NewRequest("POST", "/t/bench/oauth/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if auth == "basic" {
			r.SetBasicAuth(fx.clientID, fx.secret)
		} else if auth != "" {
			r.Header["Authorization"] = []string{auth}
		}
		w := httptest.NewRecorder()
		fx.mux.ServeHTTP(w, r)
		var doc map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatalf("%d: not JSON: %q", w.Code, w.Body)
		}
		switch w.Code {
		case 200:
			if doc["access_token"] == nil || doc["token_type"] != "Bearer" {
				t.Fatalf("200 without a token: %v", doc)
			}
		case 400, 401:
			if code, _ := doc["error"].(string); code == "" {
				t.Fatalf("%d without an error code: %v", w.Code, doc)
			}
		default:
			t.Fatalf("status %d: %v", w.Code, doc)
		}
	})
}
