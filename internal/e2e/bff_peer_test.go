package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/bff"
)

// startOIDCProvider runs bench/oidc-provider/bff_peer.mjs (node
// oidc-provider with its development login and consent pages) for the
// BFF's client, and returns its issuer. Without node or its modules the
// test is skipped, or fails under CI=true (scripts/test.sh installs them).
func startOIDCProvider(t *testing.T, clientID, secret, redirect string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "bench", "oidc-provider")
	node, err := exec.LookPath("node")
	if _, statErr := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider")); err != nil || statErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but node or bench/oidc-provider/node_modules is missing (scripts/test.sh installs them)")
		}
		t.Skip("SKIPPING: node and npm ci in bench/oidc-provider are needed (make test does it)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(node, "bff_peer.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), fmt.Sprintf("OP_PORT=%d", port), "OP_CLIENT_ID="+clientID, "OP_CLIENT_SECRET="+secret, "OP_REDIRECT="+redirect)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	issuer := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := http.Get(issuer + "/.well-known/openid-configuration")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return issuer
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("oidc-provider did not start: %s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// R-BFF-1, issue 10: the same service against a provider that is not
// Gatehouse (node oidc-provider): login through its own pages, CheckSession,
// RetrieveAccessToken, a refresh, LogOut revoking the refresh token.
func TestBFFAgainstOIDCProvider(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bffURL := "http://" + ln.Addr().String()
	secret := strings.Repeat("s", 16) + base64.RawURLEncoding.EncodeToString([]byte(t.Name()))
	issuer := startOIDCProvider(t, "tms", secret, bffURL+"/callback")
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	frontEnd, origin, domain := "http://127.0.0.1:1/app", "http://127.0.0.1:2", "acme.peer.example.com"
	f := &bffFixture{url: bffURL, frontEnd: frontEnd, origin: origin, domain: domain, config: filepath.Join(t.TempDir(), "base.yaml")}
	cfg := fmt.Sprintf("public_url: %s\nclient:\n  client_id: tms\n  client_secret: %s\nfront_end:\n  redirect_url: %s\n  cors_origin: %s\ndomains:\n  %s: %s\ncookie:\n  keys: [\"%s\"]\n",
		bffURL, secret, frontEnd, origin, domain, issuer, base64.StdEncoding.EncodeToString(key))
	if err := os.WriteFile(f.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	f.startBFF(t, ln, "30s")

	b := newBrowser(t)
	p, seen := b.drive(bffURL+"/Auth/Domains/"+domain+"/BeginLogin", frontEnd)
	for i := 0; i < 4 && p.Status == http.StatusOK; i++ {
		// oidc-provider's development pages: a login form (any login),
		// then a consent form.
		fs := forms(t, p)
		if len(fs) == 0 {
			t.Fatalf("oidc-provider page without a form: %s", pageText(p.Body))
		}
		p = b.submit(fs[0], map[string][]string{"login": {"alice"}, "password": {"x"}})
		if p.Status/100 == 3 {
			next, _ := p.URL.Parse(p.Location)
			p, seen = b.drive(next.String(), frontEnd)
		}
	}
	if last := seen[len(seen)-1]; last != frontEnd {
		t.Fatalf("the login did not end at the front end: %v\n%d %s", seen, p.Status, pageText(p.Body))
	}
	st, _, out := f.call(t, b, bffURL, "GET", bff.PathCheckSession, "", origin)
	token, _ := out["requestVerificationToken"].(string)
	if st != 200 || out["isLoggedIn"] != true || token == "" {
		t.Fatalf("CheckSession: %d %v", st, out)
	}
	st, _, out = f.call(t, b, bffURL, "POST", bff.PathRetrieve, token, origin)
	at, _ := out["accessToken"].(string)
	if st != 200 || at == "" {
		t.Fatalf("RetrieveAccessToken: %d %v", st, out)
	}
	// A service whose clock is 100 s ahead: the provider's 120 s access
	// token is due for a refresh there.
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.startBFF(t, ln2, "30s").Now = ahead(100 * time.Second)
	refreshing := "http://" + ln2.Addr().String()
	st, _, out = f.call(t, b, refreshing, "POST", bff.PathRetrieve, token, origin)
	if at2, _ := out["accessToken"].(string); st != 200 || at2 == "" || at2 == at {
		t.Fatalf("refresh through oidc-provider: %d %v", st, out)
	}
	before := b.client.Jar.Cookies(mustURL(t, bffURL))
	if st, _, out := f.call(t, b, bffURL, "POST", bff.PathLogOut, token, origin); st != 200 || !strings.HasPrefix(fmt.Sprint(out["endSessionUrl"]), issuer+"/session/end?") {
		t.Fatalf("LogOut: %d %v", st, out)
	}
	b2 := newBrowser(t)
	b2.client.Jar.SetCookies(mustURL(t, bffURL), before)
	ln3, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.startBFF(t, ln3, "30s").Now = ahead(10 * time.Minute)
	if st, _, _ := f.call(t, b2, "http://"+ln3.Addr().String(), "POST", bff.PathRetrieve, token, origin); st != 401 {
		t.Errorf("the old session after LogOut: %d, want 401 (oidc-provider revoked its refresh token)", st)
	}
}
