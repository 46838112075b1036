package oauth

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseForm(t *testing.T) {
	cases := []struct {
		name   string
		method string
		ctype  string
		body   string
		want   string // error code or ""
	}{
		{"ok", "POST", "application/x-www-form-urlencoded", "grant_type=client_credentials", ""},
		{"ok with charset", "POST", "application/x-www-form-urlencoded; charset=UTF-8", "a=b", ""},
		{"GET", "GET", "application/x-www-form-urlencoded", "a=b", CodeInvalidRequest},
		{"JSON", "POST", "application/json", `{"a":"b"}`, CodeInvalidRequest},
		{"no content type", "POST", "", "a=b", CodeInvalidRequest},
		{"repeated (RFC 6749 §3.2)", "POST", "application/x-www-form-urlencoded", "a=b&a=c", CodeInvalidRequest},
		{"bad escape", "POST", "application/x-www-form-urlencoded", "a=%zz", CodeInvalidRequest},
		{"too large", "POST", "application/x-www-form-urlencoded", "a=" + strings.Repeat("x", MaxFormBytes), CodeInvalidRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/token?grant_type=ignored", strings.NewReader(tc.body))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			form, err := ParseForm(httptest.NewRecorder(), r)
			got := ""
			if err != nil {
				got = err.Code
			}
			if got != tc.want {
				t.Fatalf("got %q (%v), want %q", got, err, tc.want)
			}
			// R-OID-1, issue 8 §7: an oversized body is 413 here as on
			// the login page; every other refusal is 400.
			if wantStatus := http.StatusBadRequest; err != nil {
				if tc.name == "too large" {
					wantStatus = http.StatusRequestEntityTooLarge
				}
				if err.Status != wantStatus {
					t.Errorf("status %d, want %d", err.Status, wantStatus)
				}
			}
			if err == nil && form.Has("grant_type") && tc.body != "grant_type=client_credentials" {
				t.Error("query parameters leaked into the form")
			}
		})
	}
}

func TestExtractClient(t *testing.T) {
	basic := func(id, secret string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
	}
	cases := []struct {
		name   string
		header string
		form   url.Values
		want   ClientAuth
		code   string
	}{
		{"basic", basic("abc", "s3cret"), url.Values{}, ClientAuth{ClientID: "abc", Secret: "s3cret", Method: AuthSecretBasic}, ""},
		// RFC 6749 §2.3.1: the id and secret are form-urlencoded before Basic.
		{"basic urlencoded", basic("a%3Ab", "p%2Bq%20r"), url.Values{}, ClientAuth{ClientID: "a:b", Secret: "p+q r", Method: AuthSecretBasic}, ""},
		{"basic bad escape", basic("a%zz", "x"), url.Values{}, ClientAuth{}, CodeInvalidClient},
		{"basic not base64", "Basic !!!", url.Values{}, ClientAuth{}, CodeInvalidClient},
		{"bearer is not client auth", "Bearer abc", url.Values{}, ClientAuth{}, CodeInvalidClient},
		{"basic empty id", basic("", "x"), url.Values{}, ClientAuth{}, CodeInvalidClient},
		{"basic and post", basic("abc", "x"), url.Values{"client_secret": {"y"}}, ClientAuth{}, CodeInvalidRequest},
		{"basic and other client_id", basic("abc", "x"), url.Values{"client_id": {"def"}}, ClientAuth{}, CodeInvalidRequest},
		{"basic and same client_id", basic("abc", "x"), url.Values{"client_id": {"abc"}}, ClientAuth{ClientID: "abc", Secret: "x", Method: AuthSecretBasic}, ""},
		{"post", "", url.Values{"client_id": {"abc"}, "client_secret": {"x"}}, ClientAuth{ClientID: "abc", Secret: "x", Method: AuthSecretPost}, ""},
		{"none", "", url.Values{"client_id": {"abc"}}, ClientAuth{ClientID: "abc", Secret: "", Method: AuthNone}, ""},
		{"nothing", "", url.Values{}, ClientAuth{}, CodeInvalidClient},
		{"private_key_jwt", "", url.Values{"client_assertion_type": {ClientAssertionType}, "client_assertion": {jwtWithSub("abc")}}, ClientAuth{ClientID: "abc", Method: AuthPrivateKeyJWT, Assertion: jwtWithSub("abc")}, ""},
		{"private_key_jwt wrong type", "", url.Values{"client_assertion_type": {"x"}, "client_assertion": {jwtWithSub("abc")}}, ClientAuth{}, CodeInvalidClient},
		{"private_key_jwt not a JWT", "", url.Values{"client_assertion_type": {ClientAssertionType}, "client_assertion": {"abc"}}, ClientAuth{}, CodeInvalidClient},
		{"private_key_jwt other client_id", "", url.Values{"client_assertion_type": {ClientAssertionType}, "client_assertion": {jwtWithSub("abc")}, "client_id": {"def"}}, ClientAuth{}, CodeInvalidRequest},
		{"private_key_jwt and basic", basic("abc", "x"), url.Values{"client_assertion_type": {ClientAssertionType}, "client_assertion": {jwtWithSub("abc")}}, ClientAuth{}, CodeInvalidRequest},
		{"private_key_jwt and secret", "", url.Values{"client_assertion_type": {ClientAssertionType}, "client_assertion": {jwtWithSub("abc")}, "client_secret": {"x"}}, ClientAuth{}, CodeInvalidRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/token", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			got, err := ExtractClient(r, tc.form)
			code := ""
			if err != nil {
				code = err.Code
			}
			if code != tc.code {
				t.Fatalf("code %q (%v), want %q", code, err, tc.code)
			}
			if diff := cmp.Diff(tc.want, got); err == nil && diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestSplitScope(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		code string
	}{
		{"", nil, ""},
		{"a", []string{"a"}, ""},
		{"a b:c d/e", []string{"a", "b:c", "d/e"}, ""},
		{"a  b", nil, CodeInvalidScope},
		{" a", nil, CodeInvalidScope},
		{"a\tb", nil, CodeInvalidScope},
		{`a"b`, nil, CodeInvalidScope},
		{`a\b`, nil, CodeInvalidScope},
		{"a b a", nil, CodeInvalidScope},
		{"é", nil, CodeInvalidScope},
		{strings.Repeat("x ", MaxScopes) + "y", nil, CodeInvalidScope},
	}
	for _, tc := range cases {
		got, err := SplitScope(tc.in)
		code := ""
		if err != nil {
			code = err.Code
		}
		if code != tc.code || (err == nil && !cmp.Equal(got, tc.want)) {
			t.Errorf("SplitScope(%.30q) = %v, %v; want %v, %q", tc.in, got, err, tc.want, tc.code)
		}
	}
	// Many distinct scopes take the map path and still find a duplicate.
	many := make([]string, 0, 50)
	for i := 0; i < 50; i++ {
		many = append(many, "s"+strings.Repeat("x", i))
	}
	if _, err := SplitScope(strings.Join(append(many, many[7]), " ")); err == nil {
		t.Error("duplicate among many scopes not found")
	}
}

func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, InvalidClient("client authentication failed"))
	if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") == "" || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	if got, want := strings.TrimSpace(w.Body.String()), `{"error":"invalid_client","error_description":"client authentication failed"}`; got != want {
		t.Fatalf("body %s, want %s", got, want)
	}
	w = httptest.NewRecorder()
	WriteError(w, InvalidScope("x"))
	if w.Code != 400 || w.Header().Get("WWW-Authenticate") != "" {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
}

// FuzzParseFormBody: the token request body parser never panics, and what it
// accepts has no repeated parameter.
func FuzzParseFormBody(f *testing.F) {
	for _, s := range []string{"grant_type=client_credentials&scope=a+b", "a=b&a=c", "%22%C3%A9=1&%22%C3%A9=2", "%", "a=%zz", "&&&=", "a;b=c", strings.Repeat("x=1&", 50)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := ParseFormBody(body)
		if err != nil {
			if err.Code != CodeInvalidRequest || err.Status != 400 {
				t.Fatalf("error %+v", err)
			}
			// RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
			for i := 0; i < len(err.Description); i++ {
				if c := err.Description[i]; c < 0x20 || c == '"' || c == '\\' || c > 0x7e {
					t.Fatalf("error_description has byte %#x: %q", c, err.Description)
				}
			}
			return
		}
		for k, v := range form {
			if len(v) != 1 {
				t.Fatalf("parameter %q repeated: %v", k, v)
			}
		}
		if _, err := SplitScope(form.Get("scope")); err != nil && err.Code != CodeInvalidScope {
			t.Fatalf("scope error %+v", err)
		}
	})
}

// FuzzExtractClient: arbitrary Authorization headers and bodies never panic
// and yield either an error or a client with an ID.
func FuzzExtractClient(f *testing.F) {
	f.Add("Basic YWJjOmRlZg==", "client_id=abc")
	f.Add("Basic !!", "")
	f.Add("", "client_id=x&client_secret=y")
	f.Add("Basic "+base64.StdEncoding.EncodeToString([]byte("%41:%")), "")
	f.Fuzz(func(t *testing.T, header, body string) {
		form, perr := ParseFormBody(body)
		if perr != nil {
			return
		}
		r := httptest.NewRequest("POST", "/token", nil)
		r.Header["Authorization"] = []string{header}
		got, err := ExtractClient(r, form)
		if err == nil && (got.ClientID == "" || got.Method == "") {
			t.Fatalf("accepted an empty client: %+v", got)
		}
	})
}

func jwtWithSub(sub string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"ES256"}`)) + "." + enc.EncodeToString([]byte(`{"sub":"`+sub+`"}`)) + ".sig"
}

// TestBearerToken: the scheme name is case-insensitive (RFC 7235 §2.1,
// RFC 6750 §2.1); anything but one Bearer token is refused.
func TestBearerToken(t *testing.T) {
	cases := []struct {
		header, want string
		ok           bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"BEARER abc", "abc", true},
		{"bEaReR  abc", "abc", true},
		{"Bearer ", "", false},
		{"Bearer", "", false},
		{"Basic abc", "", false},
		{"Bearerabc", "", false},
		{"", "", false},
	}
	for _, tc := range cases {
		got, ok := BearerToken(tc.header)
		if got != tc.want || ok != tc.ok {
			t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", tc.header, got, ok, tc.want, tc.ok)
		}
	}
}
