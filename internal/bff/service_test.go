package bff

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func testService(t *testing.T, keys ...[]byte) *Service {
	t.Helper()
	cfg := &Config{PublicURL: "https://tms.example.com"}
	for _, k := range keys {
		cfg.Cookie.Keys = append(cfg.Cookie.Keys, base64.StdEncoding.EncodeToString(k))
	}
	cfg.Client.CallbackPath = "/callback"
	cfg.Session.IdleTimeout = Duration(20 * time.Minute)
	cfg.FrontEnd.CORSOrigin = "https://app.example.com"
	yes := true
	cfg.Client.UseOfflineAccess, cfg.Client.UsePKCE = &yes, &yes
	s, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func checkSession(t *testing.T, s *Service, cookies []*http.Cookie) (bool, []*http.Cookie) {
	t.Helper()
	r := httptest.NewRequest("GET", PathCheckSession, nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, r)
	var out struct {
		IsLoggedIn bool `json:"isLoggedIn"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || w.Code != 200 {
		t.Fatalf("CheckSession: %d %s", w.Code, w.Body)
	}
	return out.IsLoggedIn, w.Result().Cookies()
}

// Issue 10 table: cookie key rotation at the service. A session sealed under
// the old key is still logged in after the new key is put first, and the
// answer re-seals it under the new key, so the old key can go later.
func TestServiceKeyRotation(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	old := testService(t, k1)
	w := httptest.NewRecorder()
	sess := &session{SID: "s1", Domain: "acme.example.com", Access: "at", Issued: time.Now().Unix(), Expiry: time.Now().Add(time.Hour).Unix()}
	if err := old.saveSession(w, httptest.NewRequest("GET", "/", nil), sess); err != nil {
		t.Fatal(err)
	}
	cookies := w.Result().Cookies()

	rotated := testService(t, k2, k1)
	in, resealed := checkSession(t, rotated, cookies)
	if !in {
		t.Fatal("the old key's session is logged out after the rotation")
	}
	var session []*http.Cookie
	for _, c := range resealed {
		if c.Name == "__Host-"+cookieSession {
			session = append(session, c)
		}
	}
	if in, _ := checkSession(t, testService(t, k2), session); !in {
		t.Error("the answer did not re-seal the session under the new key")
	}
	if in, _ := checkSession(t, testService(t, newKey(t)), cookies); in {
		t.Error("a service without the key read the session")
	}
}

// RetrieveAccessToken's hand-written JSON is byte for byte what
// encoding/json writes, for any token and scope.
func FuzzRetrievedJSON(f *testing.F) {
	for _, s := range []string{"eyJhbGciOiJFUzI1NiJ9.e30.c2ln", "openid offline_access", "", `a"b\c`, "<&>", "é\u2028\x00\x7f"} {
		f.Add(s, int64(300))
	}
	f.Fuzz(func(t *testing.T, s string, n int64) {
		v := retrieved{AccessToken: s, ExpiresIn: n, Scope: s + " api"}
		var want bytes.Buffer
		_ = json.NewEncoder(&want).Encode(v)
		if got := v.appendJSON(nil); string(got) != want.String() {
			t.Fatalf("appendJSON %q, encoding/json %q", got, want.String())
		}
	})
}
