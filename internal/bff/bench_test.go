package bff

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// BenchmarkRetrieveAccessToken is RetrieveAccessToken with no refresh due:
// the session cookie (a 900-byte access token, a refresh and an ID token)
// and the anti-forgery cookie opened, the header checked, the session
// re-sealed for the sliding expiry, the JSON written (issue 10's target:
// >= 20,000 per second per core). Figures: docs/performance.md.
func BenchmarkRetrieveAccessToken(b *testing.B) {
	cfg := &Config{PublicURL: "https://tms.example.com"}
	cfg.Cookie.Keys = []string{base64.StdEncoding.EncodeToString(make([]byte, 32))}
	cfg.Client.CallbackPath = "/callback"
	cfg.Session.IdleTimeout = Duration(20 * time.Minute)
	cfg.RefreshSkew = Duration(30 * time.Second)
	cfg.FrontEnd.CORSOrigin = "https://app.example.com"
	yes := true
	cfg.Client.UseOfflineAccess, cfg.Client.UsePKCE = &yes, &yes
	s, err := New(cfg, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	h := s.Handler()
	now := time.Now()
	sess := &session{SID: randomToken(), Domain: "acme.example.com", Issuer: "https://idp.example.com/t/acme",
		Access: strings.Repeat("a", 900), Refresh: randomToken(), IDToken: strings.Repeat("i", 700),
		Issued: now.Unix(), Expiry: now.Add(time.Hour).Unix(), Scope: "openid offline_access api"}
	w := httptest.NewRecorder()
	r0 := httptest.NewRequest("GET", "/", nil)
	if err := s.saveSession(w, r0, sess); err != nil {
		b.Fatal(err)
	}
	secret := randomToken()
	if err := s.jar.write(w, r0, cookieCSRF, secret, now.Add(time.Hour), http.SameSiteStrictMode); err != nil {
		b.Fatal(err)
	}
	cookies := w.Result().Cookies()
	rvt := requestToken(secret, sess.SID)
	// One request, served again and again: what is measured is the server.
	r := httptest.NewRequest("POST", PathRetrieve, nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	r.Header.Set(HeaderAntiForgery, rvt)
	r.Header.Set("Origin", "https://app.example.com")
	b.ReportAllocs()
	for b.Loop() {
		rw := httptest.NewRecorder()
		h.ServeHTTP(rw, r)
		if rw.Code != 200 {
			b.Fatalf("%d %s", rw.Code, rw.Body)
		}
	}
}
