package bff

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-id/gatehouse/internal/seal"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func ring(t *testing.T, keys ...[]byte) *seal.Ring {
	t.Helper()
	r, err := seal.NewRing(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type tokens struct {
	Access  string `json:"a"`
	Refresh string `json:"r"`
}

// roundTrip writes v with jar and returns a request carrying the cookies
// the response set (after edit, when given).
func roundTrip(t *testing.T, jar *cookieJar, v any, expires time.Time, edit func([]*http.Cookie)) (*http.Request, []*http.Cookie) {
	t.Helper()
	w := httptest.NewRecorder()
	if err := jar.write(w, httptest.NewRequest("GET", "/", nil), "session", v, expires, http.SameSiteLaxMode); err != nil {
		t.Fatal(err)
	}
	cs := w.Result().Cookies()
	if edit != nil {
		edit(cs)
	}
	r := httptest.NewRequest("GET", "/", nil)
	for _, c := range cs {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return r, cs
}

// R-BFF-1, issue 10 §3 and its bad input: sealed cookies read back whole,
// and every tampering, truncation, renaming, expiry or foreign key reads as
// logged out.
func TestCookieJar(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	jar := &cookieJar{ring: ring(t, k1), secure: true}
	in := tokens{Access: strings.Repeat("a", 900), Refresh: "r-1"}
	exp := time.Now().Add(time.Hour)

	r, cs := roundTrip(t, jar, in, exp, nil)
	if len(cs) != 1 || cs[0].Name != "__Host-session" || !cs[0].Secure || !cs[0].HttpOnly || cs[0].Path != "/" || cs[0].Domain != "" || cs[0].SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie attributes: %+v", cs)
	}
	var out tokens
	if !jar.read(r, "session", &out) || out != in {
		t.Fatalf("read back %+v", out)
	}
	if strings.Contains(cs[0].Value, "r-1") || strings.Contains(cs[0].Value, base64.RawURLEncoding.EncodeToString([]byte(`"r-1"`))) {
		t.Fatal("the refresh token is readable in the cookie")
	}

	big := tokens{Access: strings.Repeat("x", 9000), Refresh: "r-2"}
	r, cs = roundTrip(t, jar, big, exp, nil)
	if len(cs) < 3 || cs[1].Name != "__Host-session.1" || cs[2].Name != "__Host-session.2" {
		t.Fatalf("a 9 KB value: %d cookies %v", len(cs), cs[0].Name)
	}
	chunks := len(cs)
	for _, c := range cs {
		if len(c.Name)+len(c.Value) > 4000 {
			t.Errorf("cookie %s is %d bytes", c.Name, len(c.Name)+len(c.Value))
		}
	}
	if !jar.read(r, "session", &out) || out != big {
		t.Fatal("chunked value does not read back")
	}

	absent := func(name string, r *http.Request, j *cookieJar) {
		t.Helper()
		var v tokens
		if j.read(r, "session", &v) {
			t.Errorf("%s: read as a session: %+v", name, v)
		}
	}
	flip := func(cs []*http.Cookie) {
		b := []byte(cs[0].Value)
		b[len(b)/2] ^= 1
		cs[0].Value = string(b)
	}
	r, _ = roundTrip(t, jar, in, exp, flip)
	absent("one bit flipped", r, jar)
	r, _ = roundTrip(t, jar, big, exp, func(cs []*http.Cookie) { cs[2].Value = "" })
	absent("a chunk emptied", r, jar)
	r, _ = roundTrip(t, jar, big, exp, func(cs []*http.Cookie) { cs[1].Name = "other" })
	absent("a chunk missing", r, jar)
	r, _ = roundTrip(t, jar, in, exp, func(cs []*http.Cookie) { cs[0].Value = cs[0].Value[:len(cs[0].Value)-5] })
	absent("truncated", r, jar)
	r, _ = roundTrip(t, jar, in, exp, func(cs []*http.Cookie) { cs[0].Value = "9~" + cs[0].Value[2:] })
	absent("wrong chunk count", r, jar)
	r, _ = roundTrip(t, jar, in, time.Now().Add(-time.Second), nil)
	absent("expired", r, jar)
	absent("sealed by another service's key", func() *http.Request {
		r, _ := roundTrip(t, &cookieJar{ring: ring(t, k2), secure: true}, in, exp, nil)
		return r
	}(), jar)
	absent("no cookie", httptest.NewRequest("GET", "/", nil), jar)
	foreign := httptest.NewRequest("GET", "/", nil)
	foreign.AddCookie(&http.Cookie{Name: "__Host-session", Value: "1~v1.garbage"})
	absent("foreign value", foreign, jar)

	// Bound to its name: the state cookie's value is no session.
	w := httptest.NewRecorder()
	if err := jar.write(w, httptest.NewRequest("GET", "/", nil), "state", in, exp, http.SameSiteLaxMode); err != nil {
		t.Fatal(err)
	}
	moved := httptest.NewRequest("GET", "/", nil)
	moved.AddCookie(&http.Cookie{Name: "__Host-session", Value: w.Result().Cookies()[0].Value})
	absent("another cookie's value", moved, jar)

	// Key rotation: a cookie of the old key still reads under [new, old].
	old, _ := roundTrip(t, jar, in, exp, nil)
	rotated := &cookieJar{ring: ring(t, k2, k1), secure: true}
	if !rotated.read(old, "session", &out) || out != in {
		t.Fatal("a cookie sealed before the rotation no longer reads")
	}
	resealed, _ := roundTrip(t, rotated, in, exp, nil)
	if !(&cookieJar{ring: ring(t, k2), secure: true}).read(resealed, "session", &out) {
		t.Fatal("a cookie written after the rotation is not sealed with the new key")
	}

	// Too large for maxChunks cookies: refused on write.
	if err := jar.write(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), "session", tokens{Access: strings.Repeat("z", 40000)}, exp, http.SameSiteLaxMode); err != errTooLarge {
		t.Errorf("a 40 KB session: %v, want errTooLarge", err)
	}

	// A shorter value deletes the chunks a longer one left.
	_, bigCookies := roundTrip(t, jar, big, exp, nil)
	req := httptest.NewRequest("GET", "/", nil)
	for _, c := range bigCookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	w = httptest.NewRecorder()
	if err := jar.write(w, req, "session", in, exp, http.SameSiteLaxMode); err != nil {
		t.Fatal(err)
	}
	deleted := 0
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			deleted++
		}
	}
	if deleted != chunks-1 {
		t.Errorf("stale chunks deleted: %d, want %d", deleted, chunks-1)
	}
	// Plain-http development on loopback: no prefix, no Secure.
	dev := &cookieJar{ring: ring(t, k1)}
	if _, cs := roundTrip(t, dev, in, exp, nil); cs[0].Name != "session" || cs[0].Secure {
		t.Errorf("dev cookie %+v", cs[0])
	}
}

// FuzzCookieRead: no cookie value makes read panic or accept it.
func FuzzCookieRead(f *testing.F) {
	jar := &cookieJar{ring: ring(&testing.T{}, make([]byte, 32)), secure: true}
	f.Add("1~v1.AAAA", "")
	f.Add("2~v1.", "abc")
	f.Add("8~", "")
	f.Fuzz(func(t *testing.T, first, second string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", "__Host-session="+first+"; __Host-session.1="+second)
		var v tokens
		if jar.read(r, "session", &v) {
			t.Fatalf("accepted %q %q", first, second)
		}
	})
}

// R-BFF-2: a token is refreshed when expired or within the skew of it, but
// never in the first half of its life.
func TestSessionDue(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	skew := 30 * time.Second
	for _, tc := range []struct {
		issued, expiry int64
		want           bool
	}{
		{-60, 3600, false},  // an hour left
		{-3570, 29, true},   // within the skew
		{-3600, 0, true},    // expired now
		{-3700, -100, true}, // expired
		{0, 40, false},      // 40 s tokens, just issued: half-life 20 s
		{-21, 19, true},     // past half of a 40 s life
		{-19, 21, false},    // not yet
	} {
		s := &session{Issued: now.Unix() + tc.issued, Expiry: now.Unix() + tc.expiry}
		if got := s.due(now, skew); got != tc.want {
			t.Errorf("issued %+d s, expires %+d s: due %v, want %v", tc.issued, tc.expiry, got, tc.want)
		}
	}
}

// R-BFF-2: a token response without expires_in is not refreshed on every
// call: a JWT access token's exp counts, else a lifetime of 5 minutes.
func TestSessionSetWithoutExpiry(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	jwt := func(claims string) string {
		return "eyJhbGciOiJFUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".c2ln"
	}
	for _, tc := range []struct {
		name string
		tok  *oauth2.Token
		want int64
	}{
		{"expires_in given", &oauth2.Token{AccessToken: jwt(`{"exp":1000900}`), Expiry: now.Add(time.Minute)}, 1_000_060},
		{"JWT exp", &oauth2.Token{AccessToken: jwt(`{"exp":1000900}`)}, 1_000_900},
		{"opaque", &oauth2.Token{AccessToken: "opaque-token"}, 1_000_300},
		{"JWT without exp", &oauth2.Token{AccessToken: jwt(`{"sub":"x"}`)}, 1_000_300},
		{"not base64", &oauth2.Token{AccessToken: "a.%%%.c"}, 1_000_300},
		{"not JSON", &oauth2.Token{AccessToken: jwt(`[1]`)}, 1_000_300},
	} {
		var s session
		s.set(tc.tok, now)
		if s.Expiry != tc.want {
			t.Errorf("%s: expiry %d, want %d", tc.name, s.Expiry, tc.want)
		}
		if s.due(now, 30*time.Second) {
			t.Errorf("%s: due at once", tc.name)
		}
	}
}

// The session's binary encoding round-trips, and no byte string makes the
// decoder panic or accept what it would not write itself.
func FuzzSessionBinary(f *testing.F) {
	s := &session{SID: "sid", Domain: "a.b.com", Issuer: "https://i", Access: "at", Refresh: "rt", IDToken: "id", Scope: "openid", Expiry: 1 << 40, Issued: -5}
	b, _ := s.MarshalBinary()
	f.Add(b)
	f.Add(b[:len(b)-1])
	f.Add([]byte{1, 200, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var got session
		if got.UnmarshalBinary(b) != nil {
			return
		}
		again, _ := got.MarshalBinary()
		if string(again) != string(b) {
			t.Fatalf("accepted %x, which encodes back as %x", b, again)
		}
	})
}
