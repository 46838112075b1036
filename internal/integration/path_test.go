package integration

import (
	"net/url"
	"path"
	"strings"
	"testing"
)

var cleanPathCases = []struct {
	name    string
	raw     string
	want    string
	wantErr bool
}{
	{"empty", "", "", false},
	{"slash", "/", "", false},
	{"one segment", "tickets", "tickets", false},
	{"leading slash dropped", "/tickets/42", "tickets/42", false},
	{"trailing slash kept", "a/b/", "a/b/", false},
	{"escaped space kept", "a%20b", "a%20b", false},
	{"escaped UTF-8 kept", "caf%C3%A9", "caf%C3%A9", false},
	{"lowercase escape normalised", "caf%c3%a9", "caf%C3%A9", false},
	{"space re-escaped", "a b", "a%20b", false},
	{"question mark escaped", "a?b", "a%3Fb", false},
	{"hash escaped", "a#b", "a%23b", false},
	{"raw UTF-8 escaped", "café", "caf%C3%A9", false},
	{"unreserved escape decoded", "%41", "A", false},
	{"three dots", ".../x", ".../x", false},
	{"dot inside name", "a.b/.c/d.", "a.b/.c/d.", false},
	{"colon in later segment", "a/b:c", "a/b:c", false},
	{"2048 bytes", strings.Repeat("a", MaxPathLen), strings.Repeat("a", MaxPathLen), false},

	{"dot dot", "..", "", true},
	{"dot dot inside", "a/../b", "", true},
	{"dot dot at end", "a/..", "", true},
	{"encoded dot dot", "%2e%2e/x", "", true},
	{"encoded dot dot mixed case", "%2E%2e", "", true},
	{"half encoded dot dot", ".%2e/x", "", true},
	{"dot", ".", "", true},
	{"dot inside", "a/./b", "", true},
	{"encoded dot", "a/%2e/b", "", true},
	{"encoded slash", "a%2fb", "", true},
	{"encoded slash uppercase", "a%2Fb", "", true},
	{"encoded backslash", "a%5cb", "", true},
	{"backslash", "a\\b", "", true},
	{"backslash dot dot", "..\\x", "", true},
	{"authority", "//evil.example.com/x", "", true},
	{"empty segment", "a//b", "", true},
	{"absolute URL", "http://evil.example.com/", "", true},
	{"at", "user@host", "", true},
	{"encoded at", "%40", "", true},
	{"encoded NUL", "%00", "", true},
	{"encoded CR", "a%0db", "", true},
	{"raw LF", "a\nb", "", true},
	{"raw tab", "a\tb", "", true},
	{"DEL", "a%7fb", "", true},
	{"double encoded dot dot", "%252e%252e", "", true},
	{"double encoded slash", "a%252fb", "", true},
	{"bad escape", "%zz", "", true},
	{"truncated escape", "a%2", "", true},
	{"2049 bytes", strings.Repeat("a", MaxPathLen+1), "", true},
}

// R-INT-4: a path below the base URL is returned escaped, or refused when
// it could leave the base URL or mean two things.
func TestCleanPath(t *testing.T) {
	for _, c := range cleanPathCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := CleanPath(c.raw)
			if c.wantErr {
				if err == nil || got != "" {
					t.Errorf("CleanPath(%q) = %q, %v; want an error", c.raw, got, err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("CleanPath(%q) = %q, %v; want %q", c.raw, got, err, c.want)
			}
		})
	}
}

// R-INT-4: what CleanPath returns, CleanPath accepts unchanged, also when
// escaping made it longer than the input (a space is three bytes escaped);
// the escaped result is what MaxPathLen bounds.
func TestCleanPathIdempotentWhenEscapingGrows(t *testing.T) {
	if got, err := CleanPath(strings.Repeat(" ", 700)); err == nil {
		t.Errorf("700 spaces (2100 bytes escaped) accepted: %d bytes", len(got))
	}
	for _, raw := range []string{strings.Repeat("a b/", 100), strings.Repeat(" ", 682), strings.Repeat("é", 340)} {
		first, err := CleanPath(raw)
		if err != nil {
			t.Fatalf("CleanPath(%d bytes) = %v, want it accepted", len(raw), err)
		}
		got, err := CleanPath(first)
		if err != nil || got != first {
			t.Errorf("CleanPath of its own %d-byte result (from %d bytes) = %d bytes, %v; want it unchanged", len(first), len(raw), len(got), err)
		}
	}
}

// R-INT-4: for any input, a path CleanPath accepts has no dot segment, no
// slash, backslash, '@', '%' or control character in a segment, is accepted
// unchanged again, and stays below the base URL once joined to it.
func FuzzCleanPath(f *testing.F) {
	for _, c := range cleanPathCases {
		f.Add(c.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := CleanPath(raw)
		if err != nil {
			if got != "" {
				t.Errorf("CleanPath(%q) = %q with error %v, want \"\"", raw, got, err)
			}
			return
		}
		for _, s := range strings.Split(got, "/") {
			d, err := url.PathUnescape(s)
			if err != nil {
				t.Fatalf("CleanPath(%q) = %q: segment %q does not decode: %v", raw, got, s, err)
			}
			if d == "." || d == ".." {
				t.Fatalf("CleanPath(%q) = %q: dot segment %q", raw, got, s)
			}
			for i := 0; i < len(d); i++ {
				if c := d[i]; c == '/' || c == '\\' || c == '@' || c == '%' || c < 0x20 || c == 0x7f {
					t.Fatalf("CleanPath(%q) = %q: segment %q decodes to %q with %q", raw, got, s, d, c)
				}
			}
		}
		again, err := CleanPath(got)
		if err != nil || again != got {
			t.Fatalf("CleanPath(%q) = %q, but CleanPath(%q) = %q, %v", raw, got, got, again, err)
		}
		u, err := url.Parse("https://h.example.com/base/" + got)
		if err != nil {
			t.Fatalf("CleanPath(%q) = %q: the joined URL does not parse: %v", raw, got, err)
		}
		if u.Host != "h.example.com" {
			t.Fatalf("CleanPath(%q) = %q: got host %q, want h.example.com", raw, got, u.Host)
		}
		if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			t.Fatalf("CleanPath(%q) = %q: got query %q, fragment %q, user %v; want none", raw, got, u.RawQuery, u.Fragment, u.User)
		}
		p := u.EscapedPath()
		if !strings.HasPrefix(p, "/base/") {
			t.Fatalf("CleanPath(%q) = %q: got path %q, want it below /base/", raw, got, p)
		}
		if cp := path.Clean(p); !strings.HasPrefix(cp, "/base") {
			t.Fatalf("CleanPath(%q) = %q: got cleaned path %q, want it below /base", raw, got, cp)
		}
	})
}
