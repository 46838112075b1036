package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/config"
)

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Every validation rule of SPEC §1–§2 and R-PRM-1 through the admin API: a
// clear 4xx whose problem document names the field, and nothing created.
func TestAdminValidationNamesTheField(t *testing.T) {
	inst := start(t, options{})
	tok := inst.adminToken(t)
	inst.createTenant(t, "acme", "")
	web := map[string]any{"type": "web", "redirect_uris": []string{"https://app.example.com/cb"}}
	with := func(base map[string]any, kv ...any) map[string]any {
		m := map[string]any{"name": "app_" + fmt.Sprint(time.Now().UnixNano())}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	s2s := map[string]any{"type": "s2s"}
	native := map[string]any{"type": "native", "redirect_uris": []string{"com.example.app:/cb"}}
	cert := "-----BEGIN CERTIFICATE-----\nnotbase64\n-----END CERTIFICATE-----\n"
	bigPNG := pngBytes(t, 1, 1)
	bigPNG = append(bigPNG, make([]byte, 81*1024)...)
	tenantCases := []struct {
		name  string
		body  any
		field string
	}{
		{"R-TEN-2 empty name", map[string]any{"name": ""}, "name"},
		{"R-TEN-2 upper case", map[string]any{"name": "Acme"}, "name"},
		{"R-TEN-2 leading dash", map[string]any{"name": "-acme"}, "name"},
		{"R-TEN-2 trailing dash", map[string]any{"name": "acme-"}, "name"},
		{"R-TEN-2 64 chars", map[string]any{"name": strings.Repeat("a", 64)}, "name"},
		{"R-TEN-2 underscore", map[string]any{"name": "ac_me"}, "name"},
		{"signing alg", map[string]any{"name": "ok-name", "signing_alg": "HS256"}, "signing_alg"},
		{"consent policy", map[string]any{"name": "ok-name", "consent_policy": "always"}, "consent_policy"},
		{"unknown field", map[string]any{"name": "ok-name", "colour": "red"}, "colour"},
		{"wrong type", map[string]any{"name": 5}, "name"},
	}
	for _, tc := range tenantCases {
		t.Run("tenant/"+tc.name, func(t *testing.T) {
			r := inst.api(t, tok, "POST", "/admin/v1/tenants", tc.body)
			if r.Status != 400 || r.Body["field"] != tc.field || r.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("got %d %s, want 400 naming %q", r.Status, r.Raw, tc.field)
			}
		})
	}
	if r := inst.api(t, tok, "POST", "/admin/v1/tenants", map[string]any{"name": "acme"}); r.Status != 409 || r.Body["field"] != "name" {
		t.Fatalf("duplicate tenant: %d %s", r.Status, r.Raw)
	}

	appCases := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"R-APP-1 type", with(nil, "type", "desktop"), "type"},
		{"R-APP-2 saml only for web", with(s2s, "protocol", "saml"), "protocol"},
		{"R-APP-2 unknown protocol", with(web, "protocol", "cas"), "protocol"},
		{"R-APP-3 name chars", with(web, "name", "my-app"), "name"},
		{"R-APP-3 name length", with(web, "name", strings.Repeat("a", 65)), "name"},
		{"R-APP-3 description", with(web, "description", strings.Repeat("é", 501)), "description"},
		{"R-APP-3 logo not png", with(web, "logo", base64.StdEncoding.EncodeToString([]byte("GIF89a"))), "logo"},
		{"R-APP-3 logo too big", with(web, "logo", base64.StdEncoding.EncodeToString(bigPNG)), "logo"},
		{"R-APP-3 website", with(web, "website_url", "ftp://example.com"), "website_url"},
		{"R-APP-4 chosen client id", with(web, "client_id", "AAAAAAAAAAAAAAAA"), "client_id"},
		{"R-APP-6 missing redirect", with(map[string]any{"type": "spa"}), "redirect_uris"},
		{"R-APP-6 http non-loopback", with(web, "redirect_uris", []string{"http://app.example.com/cb"}), "redirect_uris"},
		{"R-APP-6 fragment", with(web, "redirect_uris", []string{"https://app.example.com/cb#x"}), "redirect_uris"},
		{"R-APP-6 wildcard", with(web, "redirect_uris", []string{"https://*.example.com/cb"}), "redirect_uris"},
		{"R-APP-6 custom scheme on web", with(web, "redirect_uris", []string{"com.example.app:/cb"}), "redirect_uris"},
		{"R-APP-6 javascript scheme", with(native, "redirect_uris", []string{"javascript:alert(1)"}), "redirect_uris"},
		{"R-APP-6 relative", with(web, "redirect_uris", []string{"/cb"}), "redirect_uris"},
		{"R-APP-6 s2s redirect", with(s2s, "redirect_uris", []string{"https://app.example.com/cb"}), "redirect_uris"},
		{"R-APP-6 post-logout http", with(web, "post_logout_redirect_uris", []string{"http://example.com/"}), "post_logout_redirect_uris"},
		{"R-APP-7 access lifetime 0m30s", with(web, "access_token_lifetime", "30s"), "access_token_lifetime"},
		{"R-APP-7 access lifetime 1441m", with(web, "access_token_lifetime", "1441m"), "access_token_lifetime"},
		{"R-APP-7 id lifetime", with(web, "id_token_lifetime", "25h"), "id_token_lifetime"},
		{"R-APP-7 refresh 366 days", with(web, "refresh_token_lifetime", "8784h"), "refresh_token_lifetime"},
		{"R-APP-7 refresh 12h", with(web, "refresh_token_lifetime", "12h"), "refresh_token_lifetime"},
		{"R-APP-7 not a duration", with(web, "access_token_lifetime", "soon"), "access_token_lifetime"},
		{"R-APP-8 password on spa", with(map[string]any{"type": "spa", "redirect_uris": []string{"https://a.example.com/cb"}}, "grant_types", []string{"authorization_code", "password"}), "grant_types"},
		{"R-APP-8 client_credentials on web", with(web, "grant_types", []string{"client_credentials"}), "grant_types"},
		{"R-APP-8 implicit without developer mode", with(web, "grant_types", []string{"authorization_code", "implicit"}), "grant_types"},
		{"R-APP-8 force_pkce on s2s", with(s2s, "force_pkce", true), "force_pkce"},
		{"R-APP-9 scope syntax", with(s2s, "scopes", []string{"bad scope"}), "scopes"},
		{"R-APP-9 standard scope listed", with(s2s, "scopes", []string{"openid"}), "scopes"},
		{"R-APP-10 logon url", with(web, "logon_result_urls", map[string]any{"failed": "http://example.com/failed"}), "logon_result_urls.failed"},
		{"R-OID-7 token format", with(web, "access_token_format", "paseto"), "access_token_format"},
		{"R-SML-2 missing settings", with(map[string]any{"type": "web", "protocol": "saml"}), "saml"},
		{"R-SML-2 entity id", with(map[string]any{"type": "web", "protocol": "saml", "saml": map[string]any{"acs_urls": []string{"https://sp.example.com/acs"}}}), "saml.entity_id"},
		{"R-SML-2 acs", with(map[string]any{"type": "web", "protocol": "saml", "saml": map[string]any{"entity_id": "https://sp.example.com", "acs_urls": []string{"http://sp.example.com/acs"}}}), "saml.acs_urls"},
		{"R-SML-2 subject", with(map[string]any{"type": "web", "protocol": "saml", "saml": map[string]any{"entity_id": "https://sp", "acs_urls": []string{"https://sp.example.com/acs"}, "subject": "name"}}), "saml.subject"},
		{"R-SML-2 certificate", with(map[string]any{"type": "web", "protocol": "saml", "saml": map[string]any{"entity_id": "https://sp", "acs_urls": []string{"https://sp.example.com/acs"}, "certificate": cert}}), "saml.certificate"},
		{"R-SML-2 encryption needs certificate", with(map[string]any{"type": "web", "protocol": "saml", "saml": map[string]any{"entity_id": "https://sp", "acs_urls": []string{"https://sp.example.com/acs"}, "encrypt_assertion": true}}), "saml.certificate"},
		{"R-SML-2 hash", with(map[string]any{"type": "web", "protocol": "saml", "saml": map[string]any{"entity_id": "https://sp", "acs_urls": []string{"https://sp.example.com/acs"}, "hash_algorithm": "md5"}}), "saml.hash_algorithm"},
		{"R-SML-2 slo binding", with(map[string]any{"type": "web", "protocol": "saml", "saml": map[string]any{"entity_id": "https://sp", "acs_urls": []string{"https://sp.example.com/acs"}, "slo_url": "https://sp.example.com/slo", "slo_binding": "soap"}}), "saml.slo_binding"},
		{"R-WSF-1 realm", with(map[string]any{"type": "web", "protocol": "wsfed", "wsfed": map[string]any{"reply_urls": []string{"https://rp.example.com/"}}}), "wsfed.realm"},
		{"R-WSF-1 reply url", with(map[string]any{"type": "web", "protocol": "wsfed", "wsfed": map[string]any{"realm": "urn:rp", "reply_urls": []string{"ftp://rp.example.com/"}}}), "wsfed.reply_urls"},
	}
	for _, tc := range appCases {
		t.Run("app/"+tc.name, func(t *testing.T) {
			r := inst.api(t, tok, "POST", "/admin/v1/tenants/acme/apps", tc.body)
			if r.Status != 400 || r.Body["field"] != tc.field {
				t.Fatalf("got %d %s, want 400 naming %q", r.Status, r.Raw, tc.field)
			}
		})
	}
	if r := inst.api(t, tok, "GET", "/admin/v1/tenants/acme/apps", nil); len(r.Body["items"].([]any)) != 0 {
		t.Fatalf("a refused request created an app: %s", r.Raw)
	}

	// Valid SAML and WS-Fed apps are stored with their settings (R-SML-2, R-WSF-1).
	for _, body := range []map[string]any{
		with(map[string]any{"type": "web", "protocol": "saml", "saml": map[string]any{"entity_id": "https://sp.example.com", "acs_urls": []string{"https://sp.example.com/acs"}}}),
		with(map[string]any{"type": "web", "protocol": "wsfed", "wsfed": map[string]any{"realm": "urn:rp", "reply_urls": []string{"https://rp.example.com/"}}}),
	} {
		r := inst.api(t, tok, "POST", "/admin/v1/tenants/acme/apps", body)
		if r.Status != 201 || r.Body["client_secret"] != nil {
			t.Fatalf("federation app: %d %s", r.Status, r.Raw)
		}
	}

	// R-PRM-1 through the API.
	app := inst.createApp(t, "acme", "--type", "s2s", "--name", "perms")
	base := "/admin/v1/tenants/acme/apps/" + app.ClientID + "/permissions"
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"name chars", map[string]any{"name": "read-all"}, "name"},
		{"name length", map[string]any{"name": strings.Repeat("p", 31)}, "name"},
		{"empty name", map[string]any{"name": ""}, "name"},
		{"description", map[string]any{"name": "read", "description": strings.Repeat("d", 121)}, "description"},
	} {
		t.Run("permission/"+tc.name, func(t *testing.T) {
			r := inst.api(t, tok, "POST", base, tc.body)
			if r.Status != 400 || r.Body["field"] != tc.field {
				t.Fatalf("got %d %s, want 400 naming %q", r.Status, r.Raw, tc.field)
			}
		})
	}
	if r := inst.api(t, tok, "POST", base, map[string]any{"name": "read", "description": "Read things"}); r.Status != 201 {
		t.Fatalf("create permission: %d %s", r.Status, r.Raw)
	}
	if r := inst.api(t, tok, "POST", base, map[string]any{"name": "read"}); r.Status != 409 || r.Body["field"] != "name" {
		t.Fatalf("duplicate permission: %d %s", r.Status, r.Raw)
	}
	if r := inst.api(t, tok, "PATCH", base+"/read", map[string]any{"name": "bad name"}); r.Status != 400 || r.Body["field"] != "name" {
		t.Fatalf("rename with bad name: %d %s", r.Status, r.Raw)
	}
	// PATCH keeps what it is not given.
	if r := inst.api(t, tok, "PATCH", base+"/read", map[string]any{"name": "read_all"}); r.Status != 200 || r.Body["description"] != "Read things" || r.Body["name"] != "read_all" {
		t.Fatalf("rename: %d %s", r.Status, r.Raw)
	}
	if r := inst.api(t, tok, "GET", base+"/read", nil); r.Status != 404 {
		t.Fatalf("old name after rename: %d", r.Status)
	}
}

// R-TEN-4 limits, configured small: a clear 4xx naming the limit.
func TestLimits(t *testing.T) {
	inst := start(t, options{mutate: func(c *config.Config) { c.MaxApps, c.MaxScopes, c.MaxPermissions = 2, 3, 2 }})
	tok := inst.adminToken(t)
	inst.createTenant(t, "acme", "ES256")
	a := inst.createApp(t, "acme", "--type", "s2s", "--name", "one", "--scope", "a", "--scope", "b", "--scope", "c")
	inst.createApp(t, "acme", "--type", "s2s", "--name", "two")
	r := inst.api(t, tok, "POST", "/admin/v1/tenants/acme/apps", map[string]any{"name": "three", "type": "s2s"})
	if r.Status != 422 || !strings.Contains(r.Raw, "max_apps_per_tenant") {
		t.Fatalf("third app: %d %s", r.Status, r.Raw)
	}
	r = inst.api(t, tok, "PUT", "/admin/v1/tenants/acme/apps/"+a.ClientID, map[string]any{"name": "one", "scopes": []string{"a", "b", "c", "d"}})
	if r.Status != 422 || r.Body["field"] != "scopes" || !strings.Contains(r.Raw, "max_scopes_per_app") {
		t.Fatalf("fourth scope: %d %s", r.Status, r.Raw)
	}
	base := "/admin/v1/tenants/acme/apps/" + a.ClientID + "/permissions"
	for _, n := range []string{"p1", "p2"} {
		if r := inst.api(t, tok, "POST", base, map[string]any{"name": n}); r.Status != 201 {
			t.Fatalf("permission %s: %d %s", n, r.Status, r.Raw)
		}
	}
	if r := inst.api(t, tok, "POST", base, map[string]any{"name": "p3"}); r.Status != 422 || !strings.Contains(r.Raw, "max_permissions_per_app") {
		t.Fatalf("third permission: %d %s", r.Status, r.Raw)
	}
	// The CLI reports the same in one line with a non-zero exit.
	_, errs, code := inst.cli(t, "app", "create", "--tenant", "acme", "--type", "s2s", "--name", "three")
	if code == 0 || strings.Count(strings.TrimSpace(errs), "\n") != 0 || !strings.Contains(errs, "limit") {
		t.Fatalf("CLI: exit %d, stderr %q", code, errs)
	}
}

// R-ADM-1: bearer tokens with the admin scopes; admin:read is read-only; a
// deleted admin client's tokens stop at once.
func TestAdminAuthorization(t *testing.T) {
	inst := start(t, options{})
	admin := inst.adminToken(t)
	if r := inst.api(t, "", "GET", "/admin/v1/tenants", nil); r.Status != 401 || r.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no token: %d", r.Status)
	}
	if r := inst.api(t, "garbage", "GET", "/admin/v1/tenants", nil); r.Status != 401 {
		t.Fatalf("garbage token: %d", r.Status)
	}
	// Wrong method and unknown path: problem documents too.
	if r := inst.api(t, admin, "PATCH", "/admin/v1/tenants", nil); r.Status != 405 || r.Header.Get("Allow") != "GET, POST" || r.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("wrong method: %d %v %s", r.Status, r.Header, r.Raw)
	}
	if r := inst.api(t, admin, "GET", "/admin/v1/nothing", nil); r.Status != 404 || r.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("unknown path: %d %s", r.Status, r.Raw)
	}
	// A read-only client in the system tenant.
	r := inst.api(t, admin, "POST", "/admin/v1/tenants/system/apps", map[string]any{
		"name": "auditor", "type": "s2s", "scopes": []string{"admin:read"}, "audiences": []string{"urn:gatehouse:admin"},
	})
	if r.Status != 201 {
		t.Fatalf("create auditor: %d %s", r.Status, r.Raw)
	}
	id, secret := r.Body["client_id"].(string), r.Body["client_secret"].(string)
	ro := tokenFor(t, inst.URL+"/t/system/oauth/token", id, secret, nil)
	if r := inst.api(t, ro, "GET", "/admin/v1/tenants", nil); r.Status != 200 {
		t.Fatalf("admin:read GET: %d %s", r.Status, r.Raw)
	}
	if r := inst.api(t, ro, "POST", "/admin/v1/tenants", map[string]any{"name": "x"}); r.Status != 403 {
		t.Fatalf("admin:read POST: %d %s", r.Status, r.Raw)
	}
	// A token without the admin audience is refused.
	noAud := tokenFor(t, inst.URL+"/t/system/oauth/token", id, secret, url.Values{"audience": {inst.URL + "/t/system"}})
	if r := inst.api(t, noAud, "GET", "/admin/v1/tenants", nil); r.Status != 401 {
		t.Fatalf("token for another audience: %d", r.Status)
	}
	if r := inst.api(t, admin, "DELETE", "/admin/v1/tenants/system/apps/"+id+"?confirm=auditor", nil); r.Status != 204 {
		t.Fatalf("delete auditor: %d %s", r.Status, r.Raw)
	}
	if r := inst.api(t, ro, "GET", "/admin/v1/tenants", nil); r.Status != 401 {
		t.Fatalf("token of a deleted client still works: %d", r.Status)
	}
	if r := inst.api(t, admin, "DELETE", "/admin/v1/tenants/system?confirm=system", nil); r.Status != 403 {
		t.Fatalf("system tenant deletion: %d", r.Status)
	}
}

// R-APP-5: rotation shows the new secret once; the old one stops at once
// without a grace period, or lives through it.
func TestSecretRotation(t *testing.T) {
	inst := start(t, options{})
	inst.createTenant(t, "acme", "ES256")
	a := inst.createApp(t, "acme", "--type", "s2s", "--name", "svc")
	tokenURL := inst.URL + "/t/acme/oauth/token"
	ok := func(id, secret string) bool {
		return postForm(t, tokenURL, url.Values{"grant_type": {"client_credentials"}}, id, secret).Status == 200
	}
	var rot struct {
		ClientSecret string `json:"client_secret"`
	}
	inst.cliJSON(t, &rot, "app", "secret", "rotate", "--tenant", "acme", a.ClientID, "--grace", "1h")
	if rot.ClientSecret == "" || rot.ClientSecret == a.ClientSecret {
		t.Fatalf("rotation returned %q", rot.ClientSecret)
	}
	if !ok(a.ClientID, rot.ClientSecret) || !ok(a.ClientID, a.ClientSecret) {
		t.Fatal("during the grace period both secrets must work")
	}
	var rot2 struct {
		ClientSecret string `json:"client_secret"`
	}
	inst.cliJSON(t, &rot2, "app", "secret", "rotate", "--tenant", "acme", a.ClientID)
	if ok(a.ClientID, rot.ClientSecret) || ok(a.ClientID, a.ClientSecret) {
		t.Fatal("without a grace period the old secrets must stop at once")
	}
	if !ok(a.ClientID, rot2.ClientSecret) {
		t.Fatal("the new secret does not work")
	}
	// The secret is never shown again.
	out, _, _ := inst.cli(t, "app", "get", "--tenant", "acme", a.ClientID, "-o", "json")
	if strings.Contains(out, rot2.ClientSecret) || strings.Contains(out, "client_secret") {
		t.Fatalf("app get shows a secret: %s", out)
	}
	// Rotation needs no body; the public certificate link works without a token.
	tok := inst.adminToken(t)
	if r := inst.api(t, tok, "POST", "/admin/v1/tenants/acme/apps/"+a.ClientID+"/secret", nil); r.Status != 200 || r.Body["client_secret"] == nil {
		t.Fatalf("rotate without body: %d %s", r.Status, r.Raw)
	}
	cert := inst.api(t, "", "GET", strings.TrimPrefix(a.Endpoints.Certificate, inst.URL), nil)
	if cert.Status != 200 || !strings.HasPrefix(cert.Raw, "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("certificate download (R-APP-12): %d %.80s", cert.Status, cert.Raw)
	}
	// An expired secret is refused.
	var exp struct {
		ClientSecret string `json:"client_secret"`
	}
	inst.cliJSON(t, &exp, "app", "secret", "rotate", "--tenant", "acme", a.ClientID, "--expires-at", time.Now().Add(2*time.Second).UTC().Format(time.RFC3339))
	if !ok(a.ClientID, exp.ClientSecret) {
		t.Fatal("secret before expiry refused")
	}
	time.Sleep(2500 * time.Millisecond)
	if ok(a.ClientID, exp.ClientSecret) {
		t.Fatal("an expired secret still works")
	}
}

// R-APP-13: export carries no client ID or secret; import into another tenant
// makes a new client ID and secret and keeps permissions.
func TestExportImport(t *testing.T) {
	inst := start(t, options{})
	inst.createTenant(t, "src", "ES256")
	inst.createTenant(t, "dst", "ES256")
	a := inst.createApp(t, "src", "--type", "web", "--name", "portal", "--redirect-uri", "https://portal.example.com/cb", "--description", "Portal")
	if _, errs, code := inst.cli(t, "permission", "create", "--tenant", "src", "--app", a.ClientID, "read", "--description", "Read"); code != 0 {
		t.Fatal(errs)
	}
	out, errs, code := inst.cli(t, "app", "export", "--tenant", "src", a.ClientID)
	if code != 0 {
		t.Fatal(errs)
	}
	if strings.Contains(out, a.ClientID) || strings.Contains(out, a.ClientSecret) || strings.Contains(out, "client_secret") {
		t.Fatalf("export leaks identifiers or secrets: %s", out)
	}
	f := filepath.Join(t.TempDir(), "portal.json")
	if err := os.WriteFile(f, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	var imp createdApp
	inst.cliJSON(t, &imp, "app", "import", "--tenant", "dst", f)
	if imp.ClientID == "" || imp.ClientID == a.ClientID || imp.ClientSecret == "" || imp.ClientSecret == a.ClientSecret {
		t.Fatalf("import: %+v", imp)
	}
	var perms struct {
		Items []struct{ Name, Description string } `json:"items"`
	}
	inst.cliJSON(t, &perms, "permission", "list", "--tenant", "dst", "--app", imp.ClientID)
	if len(perms.Items) != 1 || perms.Items[0].Name != "read" || perms.Items[0].Description != "Read" {
		t.Fatalf("imported permissions: %+v", perms)
	}
	// Importing again into the same tenant needs a new name.
	if _, errs, code := inst.cli(t, "app", "import", "--tenant", "dst", f); code == 0 || !strings.Contains(errs, "already exists") {
		t.Fatalf("second import: exit %d %s", code, errs)
	}
	var imp2 createdApp
	inst.cliJSON(t, &imp2, "app", "import", "--tenant", "dst", "--name", "portal_copy", f)
	if imp2.ClientID == "" {
		t.Fatal("import with a new name failed")
	}
}

// The tenant lifecycle through the CLI, with delete confirmation (R-TEN-3).
func TestTenantLifecycle(t *testing.T) {
	inst := start(t, options{})
	inst.createTenant(t, "gone", "ES256")
	a := inst.createApp(t, "gone", "--type", "s2s", "--name", "svc")
	if _, errs, code := inst.cli(t, "tenant", "delete", "gone"); code == 0 || !strings.Contains(errs, "--confirm") {
		t.Fatalf("delete without confirm: %d %s", code, errs)
	}
	if _, errs, code := inst.cli(t, "tenant", "delete", "gone", "--confirm", "wrong"); code == 0 {
		t.Fatalf("delete with wrong confirm succeeded: %s", errs)
	}
	var list struct {
		Items      []struct{ Name string } `json:"items"`
		NextCursor string                  `json:"next_cursor"`
	}
	inst.cliJSON(t, &list, "tenant", "list")
	if len(list.Items) != 2 || list.NextCursor != "" {
		t.Fatalf("tenants: %+v", list)
	}
	// Pagination: a full page has a cursor only when more follow.
	inst.createTenant(t, "zeta", "ES256")
	inst.cliJSON(t, &list, "tenant", "list", "--limit", "2")
	if len(list.Items) != 2 || list.Items[0].Name != "gone" || list.NextCursor != "system" {
		t.Fatalf("page 1: %+v", list)
	}
	list.NextCursor = ""
	inst.cliJSON(t, &list, "tenant", "list", "--limit", "2", "--cursor", "system")
	if len(list.Items) != 1 || list.Items[0].Name != "zeta" || list.NextCursor != "" {
		t.Fatalf("page 2: %+v", list)
	}
	if _, errs, code := inst.cli(t, "tenant", "delete", "gone", "--confirm", "gone"); code != 0 {
		t.Fatal(errs)
	}
	if r := postForm(t, inst.URL+"/t/gone/oauth/token", url.Values{"grant_type": {"client_credentials"}}, a.ClientID, a.ClientSecret); r.Status != 401 {
		t.Fatalf("token after tenant deletion: %d", r.Status)
	}
	if r := inst.api(t, "", "GET", "/t/gone/.well-known/openid-configuration", nil); r.Status != 404 {
		t.Fatalf("discovery after deletion: %d", r.Status)
	}
	_ = context.Background()
}
