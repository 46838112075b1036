package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// rawAdmin sends body as is with the given Content-Type ("" sends none).
func (i *instance) rawAdmin(t *testing.T, token, method, path, contentType, body string) apiResult {
	t.Helper()
	req, err := http.NewRequest(method, i.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := apiResult{Status: resp.StatusCode, Raw: string(raw), Header: resp.Header}
	_ = json.Unmarshal(raw, &r.Body)
	return r
}

// Issue 8 §7: the admin API takes JSON bodies only, and refuses a key given
// twice instead of keeping the last one.
func TestAdminBodyMediaTypeAndDuplicateKeys(t *testing.T) {
	inst := start(t, options{})
	tok := inst.adminToken(t)
	inst.createTenant(t, "acme", "")

	t.Run("content type", func(t *testing.T) {
		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/jsonx", "multipart/form-data; boundary=x"} {
			r := inst.rawAdmin(t, tok, "POST", "/admin/v1/tenants", ct, `{"name":"ct-refused"}`)
			if r.Status != http.StatusUnsupportedMediaType || r.Header.Get("Content-Type") != "application/problem+json" ||
				r.Body["field"] != "Content-Type" || !strings.Contains(r.Raw, "application/json") {
				t.Errorf("Content-Type %q: got %d %s, want 415 naming Content-Type", ct, r.Status, r.Raw)
			}
		}
		if r := inst.api(t, tok, "GET", "/admin/v1/tenants/ct-refused", nil); r.Status != http.StatusNotFound {
			t.Fatalf("a refused body created the tenant: %d %s", r.Status, r.Raw)
		}
		// An optional body (PATCH) is checked too once it is there.
		if r := inst.rawAdmin(t, tok, "PATCH", "/admin/v1/tenants/acme", "text/plain", `{"display_name":"x"}`); r.Status != http.StatusUnsupportedMediaType {
			t.Errorf("PATCH text/plain: got %d %s, want 415", r.Status, r.Raw)
		}
		for i, ct := range []string{"application/json", "Application/JSON; charset=utf-8", "application/json;charset=UTF-8"} {
			name := []string{"ct-a", "ct-b", "ct-c"}[i]
			if r := inst.rawAdmin(t, tok, "POST", "/admin/v1/tenants", ct, `{"name":"`+name+`"}`); r.Status != http.StatusCreated {
				t.Errorf("Content-Type %q: got %d %s, want 201", ct, r.Status, r.Raw)
			}
		}
	})

	t.Run("duplicate keys", func(t *testing.T) {
		cases := []struct {
			method, path, body, field string
		}{
			{"POST", "/admin/v1/tenants", `{"name":"dup-a","name":"dup-b"}`, "name"},
			{"POST", "/admin/v1/tenants", `{"name":"dup-c","NAME":"dup-d"}`, "NAME"},
			{"PATCH", "/admin/v1/tenants/acme", `{"display_name":"A","display_name":"B"}`, "display_name"},
			{"PUT", "/admin/v1/tenants/acme/theme", `{"texts":{"footer":"a","login_title":"b","footer":"c"}}`, "texts.footer"},
			{"PUT", "/admin/v1/tenants/acme/roles/viewer", `{"permissions":[{"client_id":"x","permission":"read","permission":"write"}]}`, "permissions[0].permission"},
		}
		for _, tc := range cases {
			r := inst.rawAdmin(t, tok, tc.method, tc.path, "application/json", tc.body)
			if r.Status != http.StatusBadRequest || r.Body["field"] != tc.field || !strings.Contains(r.Raw, "given twice") {
				t.Errorf("%s %s %s: got %d %s, want 400 naming %q", tc.method, tc.path, tc.body, r.Status, r.Raw, tc.field)
			}
		}
		for _, name := range []string{"dup-a", "dup-b", "dup-c", "dup-d"} {
			if r := inst.api(t, tok, "GET", "/admin/v1/tenants/"+name, nil); r.Status != http.StatusNotFound {
				t.Errorf("tenant %s exists after a refused body: %d", name, r.Status)
			}
		}
		if r := inst.api(t, tok, "GET", "/admin/v1/tenants/acme", nil); r.Body["display_name"] == "B" {
			t.Errorf("the last duplicate key won: %s", r.Raw)
		}
		// The same key in different objects is not a duplicate.
		if r := inst.rawAdmin(t, tok, "PUT", "/admin/v1/tenants/acme/theme", "application/json", `{"product_name":"Acme","texts":{"footer":"f"}}`); r.Status != http.StatusOK {
			t.Errorf("valid theme: got %d %s", r.Status, r.Raw)
		}
	})
}

// Issue 8 §7: a bad lifetime is named by its own path, however many bad
// durations the server has decoded before.
func TestAdminLifetimeErrorPath(t *testing.T) {
	inst := start(t, options{})
	tok := inst.adminToken(t)
	inst.createTenant(t, "acme", "")
	for i, tc := range []struct{ field, value string }{
		{"access_token_lifetime", `"soon"`},
		{"access_token_lifetime", `"soon"`},
		{"id_token_lifetime", `"1x"`},
		{"access_token_lifetime", `-1`},
	} {
		body := `{"name":"app_x","type":"s2s","` + tc.field + `":` + tc.value + `}`
		r := inst.rawAdmin(t, tok, "POST", "/admin/v1/tenants/acme/apps", "application/json", body)
		want := tc.field + `: has the wrong type or format (want a duration such as "15m" or "720h")`
		if r.Status != http.StatusBadRequest || r.Body["field"] != tc.field || r.Body["detail"] != want {
			t.Errorf("#%d %s: got %d %s, want 400 field %q detail %q", i, body, r.Status, r.Raw, tc.field, want)
		}
	}
}

// Issue 8 §7: a control character in a stored text field could forge the
// CLI's output or a log line; every such field refuses C0 and C1 controls
// with a 400 naming it, and nothing is stored.
func TestAdminRefusesControlCharacters(t *testing.T) {
	inst := start(t, options{})
	tok := inst.adminToken(t)
	inst.createTenant(t, "acme", "")
	web := inst.createApp(t, "acme", "--name", "web_app", "--type", "s2s")
	const a = "/admin/v1/tenants/acme"
	for _, bad := range []string{"\x1b[31mred", "line\r\nforged", "nul\x00", "tab\there", "del\x7f", "c1\u0085", "csi\u009b2J"} {
		for _, tc := range []struct {
			method, path string
			body         map[string]any
			field        string
		}{
			{"POST", "/admin/v1/tenants", map[string]any{"name": "ctl", "display_name": bad}, "display_name"},
			{"PATCH", a, map[string]any{"display_name": bad}, "display_name"},
			{"POST", a + "/apps", map[string]any{"name": "ctl_app", "type": "s2s", "description": bad}, "description"},
			{"POST", a + "/apps", map[string]any{"name": "ctl_app", "type": "s2s", "additional_info": bad}, "additional_info"},
			{"POST", a + "/apps/" + web.ClientID + "/permissions", map[string]any{"name": "read", "description": bad}, "description"},
			{"POST", a + "/users", map[string]any{"username": "ctl", "email": "ctl@example.com", "given_name": bad}, "given_name"},
			{"POST", a + "/users", map[string]any{"username": "ctl", "email": "ctl@example.com", "family_name": bad}, "family_name"},
			{"POST", a + "/users", map[string]any{"username": "ctl", "email": "ctl@example.com", "groups": []string{bad}}, "groups"},
			{"POST", a + "/roles", map[string]any{"name": "ctl", "description": bad, "permissions": []any{}}, "description"},
			{"PUT", a + "/theme", map[string]any{"product_name": "x" + bad + "y"}, "product_name"},
			{"PUT", a + "/theme", map[string]any{"texts": map[string]any{"footer": "x" + bad + "y"}}, "texts.footer"},
		} {
			r := inst.api(t, tok, tc.method, tc.path, tc.body)
			if r.Status != http.StatusBadRequest || r.Body["field"] != tc.field || !strings.Contains(r.Raw, "control characters") {
				t.Errorf("%s %s %q: got %d %s, want 400 naming %q", tc.method, tc.path, bad, r.Status, r.Raw, tc.field)
			}
		}
	}
	for _, path := range []string{"/admin/v1/tenants/ctl", a + "/roles/ctl", a + "/apps/" + web.ClientID + "/permissions/read"} {
		if r := inst.api(t, tok, "GET", path, nil); r.Status != http.StatusNotFound {
			t.Errorf("GET %s after refused writes: %d %s", path, r.Status, r.Raw)
		}
	}
	if r := inst.api(t, tok, "GET", a, nil); r.Body["display_name"] != "acme" {
		t.Errorf("display_name changed by a refused PATCH: %s", r.Raw)
	}
	// Text without controls, in any script, is fine.
	if r := inst.api(t, tok, "PATCH", a, map[string]any{"display_name": "Ακμή – Zoë ✓"}); r.Status != http.StatusOK {
		t.Errorf("unicode display_name: %d %s", r.Status, r.Raw)
	}
}
