package app_test

import (
	"errors"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/derrors"
)

func fuzzType(b uint8) app.Type { return allTypes[int(b)%len(allTypes)] }

// loopback is an oracle for R-APP-6's loopback hosts written independently of
// app.IsLoopbackHost: "localhost", or an address equal to 127.0.0.1 or ::1.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		return false
	}
	ip = ip.Unmap()
	return ip == netip.MustParseAddr("127.0.0.1") || ip == netip.IPv6Loopback()
}

var redirectSeeds = []string{
	"https://app.example.com/callback",
	"https://app.example.com:8443/cb?x=1",
	"http://localhost:3000/cb",
	"http://127.0.0.1/cb",
	"http://[::1]:8080/cb",
	"http://[::ffff:127.0.0.1]/cb",
	"com.example.app:/oauth2redirect",
	"com.example.app://cb",
	"myapp:/cb",
	"http://example.com/cb",
	"https://app.example.com/cb#frag",
	"https://app.example.com/cb#",
	"https://*.example.com/cb",
	"https://user:pw@app.example.com/cb",
	"javascript:alert(1)",
	"JAVASCRIPT:alert(1)",
	"data:text/html,hi",
	"file:///etc/passwd",
	"HTTPS://app.example.com/cb",
	"https://:443/cb",
	"https:///cb",
	"https:app.example.com",
	"//app.example.com/cb",
	"/cb",
	"",
	"https://app.example.com\\@evil.example/",
	"https://app.example.com%2f@evil.example/",
	"http://127.0.0.1%25eth0/cb",
	"http://[::1%25eth0]/cb",
}

// FuzzValidateRedirectURI: never panics, refuses with the field it was given,
// and anything it accepts is an absolute URL with no fragment or user
// information and a scheme R-APP-6 allows for the app's type.
func FuzzValidateRedirectURI(f *testing.F) {
	for i, s := range redirectSeeds {
		f.Add(s, uint8(i))
	}
	f.Fuzz(func(t *testing.T, raw string, tb uint8) {
		typ := fuzzType(tb)
		err := app.ValidateRedirectURI("redirect_uris", raw, typ)
		if err != nil {
			var de *derrors.Error
			if !errors.As(err, &de) || de.Kind != derrors.Invalid || de.Field != "redirect_uris" {
				t.Fatalf("refused %q with %#v, want an Invalid error on redirect_uris", raw, err)
			}
			return
		}
		u, perr := url.Parse(raw)
		if perr != nil || !u.IsAbs() {
			t.Fatalf("accepted %q, which is not an absolute URL (%v)", raw, perr)
		}
		if strings.Contains(raw, "#") || u.Fragment != "" {
			t.Fatalf("accepted %q, which has a fragment", raw)
		}
		if u.User != nil {
			t.Fatalf("accepted %q, which has user information", raw)
		}
		if strings.Contains(raw, "*") {
			t.Fatalf("accepted %q, which has a wildcard", raw)
		}
		if len(raw) > app.MaxURILen {
			t.Fatalf("accepted a URI of %d bytes", len(raw))
		}
		if !strings.HasPrefix(raw, u.Scheme+":") {
			t.Fatalf("accepted %q, whose scheme is not lower case", raw)
		}
		switch u.Scheme {
		case "https":
			if u.Hostname() == "" {
				t.Fatalf("accepted %q, an https URI without a host", raw)
			}
		case "http":
			if !loopback(u.Hostname()) {
				t.Fatalf("accepted %q, http on host %q that is not loopback", raw, u.Hostname())
			}
		default:
			if typ != app.Native {
				t.Fatalf("accepted custom-scheme %q for a %s app", raw, typ)
			}
			if !strings.Contains(u.Scheme, ".") {
				t.Fatalf("accepted %q, whose custom scheme is not a reverse domain name", raw)
			}
			for _, bad := range []string{"javascript", "data", "file", "vbscript", "about", "blob", "filesystem", "view-source"} {
				if u.Scheme == bad {
					t.Fatalf("accepted %q with the %s scheme", raw, bad)
				}
			}
		}
	})
}

var appNameRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// FuzzValidateName: an app name is accepted exactly when it matches R-APP-3.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"a", "My_App_2", strings.Repeat("x", 64), strings.Repeat("x", 65), "", "my app", "my-app", "café", "app\n", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := app.ValidateName(name)
		match := appNameRE.MatchString(name)
		if err == nil && !match {
			t.Fatalf("accepted %q, which R-APP-3 forbids", name)
		}
		if err != nil && match {
			t.Fatalf("refused %q, which R-APP-3 allows: %v", name, err)
		}
		if err != nil && (derrors.KindOf(err) != derrors.Invalid || !strings.HasPrefix(err.Error(), "name: ")) {
			t.Fatalf("refused %q with %v, want an Invalid error on name", name, err)
		}
	})
}

// FuzzMatchRedirectURI: never panics; a non-native app matches only exact
// strings; a native app's non-exact match is an http loopback URI without
// user information or fragment whose host, path and query are registered.
func FuzzMatchRedirectURI(f *testing.F) {
	seeds := [][2]string{
		{"https://a.example.com/cb", "https://a.example.com/cb"},
		{"https://a.example.com/cb", "https://a.example.com/cb/"},
		{"http://127.0.0.1/cb", "http://127.0.0.1:51234/cb"},
		{"http://127.0.0.1:8080/cb", "http://127.0.0.1:9090/cb"},
		{"http://[::1]/cb", "http://[::1]:5000/cb"},
		{"http://localhost/cb?x=1", "http://localhost:1/cb?x=1"},
		{"http://127.0.0.1/cb", "http://localhost:5000/cb"},
		{"http://127.0.0.1/cb", "http://evil@127.0.0.1:5000/cb"},
		{"http://127.0.0.1/cb", "http://127.0.0.1:5000/cb#"},
		{"http://127.0.0.1/c%20b", "http://127.0.0.1:5000/c b"},
		{"com.example.app:/cb", "com.example.app:/cb"},
		{"", ""},
	}
	for i, s := range seeds {
		f.Add(s[0], "https://other.example.com/", s[1], uint8(i))
	}
	f.Fuzz(func(t *testing.T, reg1, reg2, requested string, tb uint8) {
		typ := fuzzType(tb)
		registered := []string{reg1, reg2}
		got := app.MatchRedirectURI(registered, requested, typ)
		exact := slices.Contains(registered, requested)
		if exact && !got {
			t.Fatalf("%s app: %q is registered but does not match", typ, requested)
		}
		if typ != app.Native {
			if got != exact {
				t.Fatalf("%s app: MatchRedirectURI(%q, %q) = %v, want exact match only", typ, registered, requested, got)
			}
			return
		}
		if !got || exact {
			return
		}
		req, err := url.Parse(requested)
		if err != nil {
			t.Fatalf("native app matched unparsable %q", requested)
		}
		if req.Scheme != "http" || !loopback(req.Hostname()) || req.User != nil || strings.Contains(requested, "#") {
			t.Fatalf("native app matched %q, which is not a plain http loopback URI", requested)
		}
		for _, r := range registered {
			reg, err := url.Parse(r)
			if err == nil && reg.Scheme == "http" && reg.Hostname() == req.Hostname() &&
				reg.EscapedPath() == req.EscapedPath() && reg.RawQuery == req.RawQuery {
				return
			}
		}
		t.Fatalf("native app matched %q, but no registered URI %q has its host, path and query", requested, registered)
	})
}
