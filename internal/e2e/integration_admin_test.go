package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// iconPNG is a w×h PNG, transparent in one corner when alpha.
func iconPNG(t *testing.T, w, h int, alpha bool) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{R: uint8(x), G: uint8(y), B: 200, A: 255})
		}
	}
	if alpha {
		img.Set(0, 0, color.NRGBA{})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Issue 11 §1, R-INT-1, R-INT-7, R-INT-8: integrations through the CLI
// (the JSON with --file, and the per-flag form) and the admin API:
// secrets never shown, kept on update; icons refused with the reason; an
// export imported into another tenant reproduces the integration without
// secrets, its icon with it.
func TestIntegrationAdmin(t *testing.T) {
	inst := start(t, options{})
	inst.createTenant(t, "acme", "")
	inst.createTenant(t, "beta", "")
	admin := inst.adminToken(t)

	icon := iconPNG(t, 128, 128, true)
	var ic struct {
		ID string `json:"id"`
	}
	dir := t.TempDir()
	iconFile := filepath.Join(dir, "icon.png")
	if err := os.WriteFile(iconFile, icon, 0o600); err != nil {
		t.Fatal(err)
	}
	inst.cliJSON(t, &ic, "integration", "icon", "add", "--tenant", "acme", iconFile)
	if len(ic.ID) != 64 {
		t.Fatalf("icon add: %+v", ic)
	}
	for _, tc := range []struct {
		name string
		png  []byte
		want string
	}{
		{"127x128", iconPNG(t, 127, 128, true), "exactly 128×128"},
		{"no transparency", iconPNG(t, 128, 128, false), "transparent"},
		{"not a PNG", []byte("GIF89a......"), "not a PNG"},
		{"81 KB", append(icon[:len(icon):len(icon)], make([]byte, 81*1024)...), "80 KB"},
	} {
		r := inst.api(t, admin, "POST", "/admin/v1/tenants/acme/icons", map[string][]byte{"png": tc.png})
		if r.Status != 400 || r.Body["field"] != "png" || !strings.Contains(r.Raw, tc.want) {
			t.Errorf("icon %s: %d %s", tc.name, r.Status, r.Raw)
		}
	}

	file := filepath.Join(dir, "tickets.json")
	body := `{"name": "tickets", "base_url": "https://tickets.example.com/api", "on_premises": false, "icon": "` + ic.ID + `",
	  "service_auth": {"method": "api_key", "in": "header", "name": "X-API-Key", "key": "SECRET-api-key-1"},
	  "rate_limit": {"requests": 5, "per": "second", "policy": "reject"}}`
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errs, code := inst.cli(t, "integration", "create", "--tenant", "acme", "--file", file, "-o", "json")
	if code != 0 || strings.Contains(out, "SECRET") || !strings.Contains(out, `"secrets_set":["key"]`) ||
		!strings.Contains(out, `"call_url":"`+inst.URL+`/t/acme/integrations/tickets/call/"`) {
		t.Fatalf("integration create --file: %d %s %s", code, out, errs)
	}
	// The per-flag form, with http: accepted with a warning.
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("SECRET-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errs, code = inst.cli(t, "integration", "create", "--tenant", "acme", "--name", "hr", "--base-url", "http://hr.example.com",
		"--auth", "basic", "--username", "svc", "--secret-file", secret, "--rate-limit", "10/minute", "--rate-policy", "wait")
	if code != 0 || strings.Contains(out, "SECRET") || !strings.Contains(out, "unencrypted") || !strings.Contains(out, "wait") {
		t.Fatalf("integration create (flags): %d %s %s", code, out, errs)
	}
	if _, errs, code := inst.cli(t, "integration", "create", "--tenant", "acme", "--name", "bad", "--base-url", "http://x.example.com", "--on-premises", "--auth", "none"); code == 0 || !strings.Contains(errs, "https") {
		t.Errorf("an on-premises integration over http: %d %s", code, errs)
	}

	// An update without the secret keeps it (secrets_set still names it)
	// while the key goes to the same host; pointed at another host, the
	// key must be given again.
	out, errs, code = inst.cli(t, "integration", "update", "tickets", "--tenant", "acme", "--base-url", "https://tickets.example.com/v2", "-o", "json")
	if code != 0 || !strings.Contains(out, `"base_url":"https://tickets.example.com/v2"`) || !strings.Contains(out, `"secrets_set":["key"]`) {
		t.Fatalf("integration update: %d %s %s", code, out, errs)
	}
	if _, errs, code := inst.cli(t, "integration", "update", "tickets", "--tenant", "acme", "--base-url", "https://evil.example.com/api"); code == 0 || !strings.Contains(errs, "service_auth.key") {
		t.Errorf("the stored key pointed at another host without giving it again: %d %s", code, errs)
	}
	r := inst.api(t, admin, "GET", "/admin/v1/tenants/acme/integrations", nil)
	if r.Status != 200 || strings.Contains(r.Raw, "SECRET") || strings.Count(r.Raw, `"name":"`) < 2 {
		t.Fatalf("list: %d %s", r.Status, r.Raw)
	}

	// Export → import into beta: the same settings, no secret, the icon.
	exp, errs, code := inst.cli(t, "integration", "export", "tickets", "--tenant", "acme")
	if code != 0 || strings.Contains(exp, "SECRET") || strings.Contains(exp, "secrets_set") {
		t.Fatalf("export: %d %s %s", code, exp, errs)
	}
	var e struct {
		IconPNG []byte `json:"icon_png"`
	}
	if err := json.Unmarshal([]byte(exp), &e); err != nil || !bytes.Equal(e.IconPNG, icon) {
		t.Fatalf("the export does not carry the icon: %v", err)
	}
	expFile := filepath.Join(dir, "export.json")
	if err := os.WriteFile(expFile, []byte(exp), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errs, code = inst.cli(t, "integration", "import", "--tenant", "beta", expFile, "-o", "json")
	if code != 0 {
		t.Fatalf("import: %d %s %s", code, out, errs)
	}
	var got, want map[string]any
	_ = json.Unmarshal([]byte(out), &got)
	w := inst.api(t, admin, "GET", "/admin/v1/tenants/acme/integrations/tickets", nil)
	want = w.Body
	for _, k := range []string{"base_url", "icon", "rate_limit", "on_premises"} {
		if gb, _ := json.Marshal(got[k]); string(gb) != string(mustJSON(t, want[k])) {
			t.Errorf("imported %s = %s, want %s", k, gb, mustJSON(t, want[k]))
		}
	}
	if sa, _ := got["service_auth"].(map[string]any); sa["method"] != "api_key" || sa["name"] != "X-API-Key" || sa["secrets_set"] != nil {
		t.Errorf("imported service_auth: %v (want the method without its key)", sa)
	}
	if r := inst.api(t, admin, "GET", "/admin/v1/tenants/beta/icons", nil); !strings.Contains(r.Raw, ic.ID) {
		t.Errorf("the icon did not join beta's icons: %s", r.Raw)
	}
	if _, _, code := inst.cli(t, "integration", "import", "--tenant", "beta", expFile); code == 0 {
		t.Error("a second import under the same name was accepted")
	}

	// A removed icon stays with the integration that uses it.
	if _, errs, code := inst.cli(t, "integration", "icon", "remove", "--tenant", "acme", ic.ID); code != 0 {
		t.Fatalf("icon remove: %s", errs)
	}
	if r := inst.api(t, admin, "GET", "/admin/v1/tenants/acme/icons", nil); strings.Contains(r.Raw, ic.ID) {
		t.Errorf("a removed icon is still offered: %s", r.Raw)
	}
	if r := inst.api(t, admin, "GET", "/admin/v1/tenants/acme/icons/"+ic.ID, nil); r.Status != 200 || r.Body["png"] != base64.StdEncoding.EncodeToString(icon) || r.Body["removed"] != true {
		t.Errorf("the removed icon of an integration: %d", r.Status)
	}
	if r := inst.api(t, admin, "GET", "/admin/v1/tenants/acme/integrations/tickets", nil); r.Body["icon"] != ic.ID {
		t.Errorf("the integration lost its icon: %v", r.Body["icon"])
	}

	if _, errs, code := inst.cli(t, "integration", "delete", "hr", "--tenant", "acme"); code != 0 {
		t.Fatalf("delete: %s", errs)
	}
	if r := inst.api(t, admin, "GET", "/admin/v1/tenants/acme/integrations/hr", nil); r.Status != 404 {
		t.Errorf("after delete: %d", r.Status)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
