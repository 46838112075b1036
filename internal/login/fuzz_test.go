package login_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzLoginPost: any body and cookie header posted to the login and consent
// forms gets a 4xx page (never a panic, a redirect or a session) unless it
// carries a valid form token, which a fuzzer cannot forge.
func FuzzLoginPost(f *testing.F) {
	f.Add("username=alice&password=correct+horse+battery+staple", "__Host-gatehouse-csrf=AAAAAAAAAAAAAAAAAAAAAA", "")
	f.Add("csrf_token=AAAA&username=alice&password=x", "__Host-gatehouse-csrf=", "request=x")
	f.Add("%zz&username=%", "", "")
	f.Add(strings.Repeat("a=b&", 5000), "__Host-gatehouse-acme=x", "request=")
	f.Add("decision=allow", "__Host-gatehouse-acme="+strings.Repeat("A", 43), "request=abc")
	f.Add("username=alice&username=bob;password=x", "a=b; c", "request=%00")
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, body, cookie, query string) {
		for _, page := range []string{"/t/acme/login", "/t/acme/consent"} {
			req := httptest.NewRequest(http.MethodPost, "https://id.example.com"+page, strings.NewReader(body))
			req.URL.RawQuery = query
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Cookie", cookie)
			rec := httptest.NewRecorder()
			e.mux.ServeHTTP(rec, req)
			if rec.Code < 400 || rec.Code >= 500 {
				t.Fatalf("POST %s?%s %q (cookie %q): status %d", page, query, body, cookie, rec.Code)
			}
			for _, c := range rec.Result().Cookies() {
				if strings.HasPrefix(c.Name, "__Host-gatehouse-acme") && c.Value != "" {
					t.Fatalf("a session cookie was set: %v", c)
				}
			}
		}
	})
}
