package bff

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bff.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func minimalConfig(t *testing.T) string {
	return `
public_url: https://tms.example.com
client:
  client_id: portal
  client_secret: s3cret
front_end:
  redirect_url: https://app.example.com/
  cors_origin: https://app.example.com
domains:
  acme.idcloud.example.com: https://idp.example.com/t/acme
cookie:
  keys: ["` + base64.StdEncoding.EncodeToString(newKey(t)) + `"]
`
}

// R-BFF-3, issue 10 §1: a minimal config gets the defaults; the secret may
// come from the environment.
func TestLoadConfigDefaults(t *testing.T) {
	c, err := LoadConfig(writeConfig(t, minimalConfig(t)), func(k string) string {
		if k == "GATEHOUSE_BFF_CLIENT_SECRET" {
			return "from-env"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Client.CallbackPath != "/callback" || !*c.Client.UsePKCE || !*c.Client.UseOfflineAccess ||
		time.Duration(c.Session.IdleTimeout) != 20*time.Minute || time.Duration(c.RefreshSkew) != 30*time.Second ||
		c.Client.ClientSecret != "from-env" || c.Listen == "" {
		t.Fatalf("defaults: %+v", c)
	}
}

// Issue 10 §1: a bad config fails at start, every problem named by its key.
func TestLoadConfigErrors(t *testing.T) {
	body := `
public_url: ftp://x
client:
  callback_path: callback
  use_pkce: false
front_end:
  cors_origin: https://app.example.com/path
domains:
  localhost: https://idp.example.com
cookie:
  keys: ["c2hvcnQ="]
session:
  idle_timeout: 10s
  store: mysql://db/tms
refresh_skew: 1h
`
	_, err := LoadConfig(writeConfig(t, body), func(string) string { return "" })
	if err == nil {
		t.Fatal("accepted")
	}
	for _, key := range []string{"public_url", "client.client_id", "client.callback_path", "client.use_pkce", "front_end.redirect_url",
		"front_end.cors_origin", "domains.localhost", "cookie.keys", "session.idle_timeout", "session.store", "refresh_skew"} {
		if !strings.Contains(err.Error(), key+":") {
			t.Errorf("the error does not name %s:\n%v", key, err)
		}
	}
	env := map[string]string{"GATEHOUSE_BFF_SESSION_STORE": "postgres://tms:pw@db.example.com/tms"}
	if c, err := LoadConfig(writeConfig(t, minimalConfig(t)), func(k string) string { return env[k] }); err != nil || c.Session.Store != env["GATEHOUSE_BFF_SESSION_STORE"] {
		t.Errorf("the session store from the environment: %v %+v", err, c)
	}
	if _, err := LoadConfig(writeConfig(t, minimalConfig(t)+"unknown_key: 1\n"), func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "unknown_key") {
		t.Errorf("an unknown key: %v", err)
	}
	if _, err := LoadConfig(writeConfig(t, strings.Replace(minimalConfig(t), "public_url: https://tms.example.com", "public_url: https://tms.example.com\nsession:\n  idle_timeout: soon", 1)), func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "duration") {
		t.Errorf("a bad duration: %v", err)
	}
}

// R-BFF-2: customer domains are DNS names of at least three labels.
func TestValidDomain(t *testing.T) {
	for d, want := range map[string]bool{
		"acme.idcloud.example.com": true, "a.b.co": true, "x-1.y.example": true,
		"example.com": false, "localhost": false, "a..b.com": false, "-a.b.com": false, "a-.b.com": false,
		"A.b.com": false, "a.b.c0m": false, "a.b.c": false, "a.b.com.": false, "a b.c.com": false,
		"a.b." + strings.Repeat("c", 64): false, "a_b.c.com": false, "": false, "a.b.com/x": false,
	} {
		if got := ValidDomain(d); got != want {
			t.Errorf("ValidDomain(%q) = %v, want %v", d, got, want)
		}
	}
}

// FuzzValidDomain: what ValidDomain accepts is safe to put in a URL path and
// a log line.
func FuzzValidDomain(f *testing.F) {
	f.Add("acme.idcloud.example.com")
	f.Add("a..b")
	f.Fuzz(func(t *testing.T, s string) {
		if ValidDomain(s) && strings.ContainsFunc(s, func(r rune) bool { return !(r == '.' || r == '-' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }) {
			t.Fatalf("accepted %q", s)
		}
	})
}
