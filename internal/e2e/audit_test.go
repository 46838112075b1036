package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// Issue 12 §1, R-ADM-4: every admin call that changes something leaves
// exactly one audit event, with the admin client as actor, the route as
// action and the path as target; reads and refused calls leave none; the
// CLI lists them with filters.
func TestAuditAdminChanges(t *testing.T) {
	inst := start(t, options{})
	admin := inst.adminToken(t)
	var adminClient struct {
		ClientID string `json:"client_id"`
	}
	inst.createTenant(t, "acme", "ES256")
	app := inst.createApp(t, "acme", "--type", "s2s", "--name", "svc")
	steps := []struct {
		method, path string
		body         any
		want         int
	}{
		{"GET", "/admin/v1/tenants/acme/apps", nil, 200},
		{"POST", "/admin/v1/tenants/acme/apps/" + app.ClientID + "/secret", map[string]any{}, 200},
		{"POST", "/admin/v1/tenants/acme/users", map[string]any{"username": "bob", "email": "bob@example.com", "password": "bob password 123"}, 201},
		{"POST", "/admin/v1/tenants/acme/users", map[string]any{"username": "bad name!"}, 400},
		{"PUT", "/admin/v1/tenants/acme/theme", map[string]any{"product_name": "Acme"}, 200},
		{"POST", "/admin/v1/tenants/acme/keys/rotate", nil, 200},
		{"DELETE", "/admin/v1/tenants/acme/apps/" + app.ClientID + "?confirm=svc", nil, 204},
		{"DELETE", "/admin/v1/tenants/acme/apps/nope?confirm=nope", nil, 404},
	}
	for _, s := range steps {
		if r := inst.api(t, admin, s.method, s.path, s.body); r.Status != s.want {
			t.Fatalf("%s %s: %d %s, want %d", s.method, s.path, r.Status, r.Raw, s.want)
		}
	}
	r := inst.api(t, admin, "GET", "/admin/v1/audit?tenant=acme&limit=50", nil)
	if r.Status != 200 {
		t.Fatalf("audit: %d %s", r.Status, r.Raw)
	}
	var l struct {
		Items []struct {
			Actor, Action, Target, Tenant, Kind string
			RequestID                           string `json:"request_id"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(r.Raw), &l); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(l.Items) - 1; i >= 0; i-- {
		e := l.Items[i]
		got = append(got, e.Action+" "+e.Target)
		if e.Actor == "" || e.Kind != "admin" || e.Tenant != "acme" || e.RequestID == "" {
			t.Errorf("event %+v: want an actor, kind admin, tenant acme and a request ID", e)
		}
		adminClient.ClientID = e.Actor
	}
	want := []string{
		"POST /apps apps",
		"POST /apps/{client_id}/secret apps/" + app.ClientID + "/secret",
		"POST /users users",
		"PUT /theme theme",
		"POST /keys/rotate keys/rotate",
		"DELETE /apps/{client_id} apps/" + app.ClientID,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audit events, oldest first:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The tenant's creation is an event of the instance's tenants route.
	if r := inst.api(t, admin, "GET", "/admin/v1/audit?action="+strings.ReplaceAll("POST /tenants", " ", "%20"), nil); !strings.Contains(r.Raw, `"target":"tenants"`) {
		t.Errorf("the tenant's creation: %s", r.Raw)
	}
	out, errs, code := inst.cli(t, "audit", "list", "--tenant", "acme", "--action", "POST /users", "-o", "json")
	if code != 0 || strings.Count(out, `"action":"POST /users"`) != 1 || !strings.Contains(out, adminClient.ClientID) {
		t.Errorf("gatehouse audit list: %d %s %s", code, out, errs)
	}
	if r := inst.api(t, admin, "GET", "/admin/v1/audit?since=yesterday", nil); r.Status != 400 || r.Body["field"] != "since" {
		t.Errorf("a bad since: %d %s", r.Status, r.Raw)
	}
}

// Issue 12 §1, R-ADM-4: every sign-in success and failure leaves one
// security event (written in the background: the test waits for it), the
// failure under the account's pseudonym, never the password.
func TestAuditLogins(t *testing.T) {
	f := newFlow(t, options{})
	web := f.inst.createApp(t, "acme", "--type", "web", "--name", "portal", "--redirect-uri", "https://portal.example.com/cb", "--first-party")
	b := newBrowser(t)
	cfg := f.oauthConfig(web, "https://portal.example.com/cb", "openid")
	p := b.follow(cfg.AuthCodeURL("s"), f.inst.URL)
	if p = b.submitFirst(p, map[string][]string{"username": {"alice"}, "password": {"wrong password 42"}}, f.inst.URL); p.Status != 200 {
		t.Fatalf("a wrong password: %d", p.Status)
	}
	b.login(cfg.AuthCodeURL("s"), f.inst.URL, "alice", "correct horse battery", "")
	var l struct {
		Items []struct{ Kind, Tenant, Actor, Action, Target string } `json:"items"`
	}
	var raw string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		r := f.inst.api(t, f.admin, "GET", "/admin/v1/audit?tenant=acme&limit=50", nil)
		raw = r.Raw
		_ = json.Unmarshal([]byte(r.Raw), &l)
		n := 0
		for _, e := range l.Items {
			if e.Kind == "security" {
				n++
			}
		}
		if n >= 2 {
			break
		}
	}
	var got []string
	for i := len(l.Items) - 1; i >= 0; i-- {
		if e := l.Items[i]; e.Kind == "security" {
			got = append(got, e.Action)
			if e.Target != "apps/"+web.ClientID {
				t.Errorf("%s: target %q, want the app", e.Action, e.Target)
			}
			if e.Action == "login.succeeded" && e.Actor != f.userID {
				t.Errorf("login.succeeded actor %q, want alice's ID", e.Actor)
			}
			if e.Action == "login.failed" && (e.Actor == "" || e.Actor == "alice") {
				t.Errorf("login.failed actor %q, want the account's pseudonym", e.Actor)
			}
		}
	}
	if fmt.Sprint(got) != "[login.failed login.succeeded]" {
		t.Errorf("security events: %v (want one failure then one success)\n%s", got, raw)
	}
	if strings.Contains(raw, "wrong password") {
		t.Error("the password is in the audit log")
	}
}

// Issue 12 §1, R-ADM-4: security events at grant level: a grant issued (a
// code exchanged), a rotated refresh token used again (the grant revoked),
// a grant revoked by its client (RFC 7009).
func TestAuditGrants(t *testing.T) {
	f := newFlow(t, options{})
	web := f.inst.createApp(t, "acme", "--type", "web", "--name", "portal", "--redirect-uri", "https://portal.example.com/cb", "--first-party")
	cfg := f.oauthConfig(web, "https://portal.example.com/cb", "openid", "offline_access")
	ctx := context.Background()
	tok, _ := f.codeFlow(t, cfg, newBrowser(t), "")
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Unix(1, 0)}).Token(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // past the harness's 1 s refresh grace
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Unix(1, 0)}).Token(); err == nil {
		t.Fatal("a reused refresh token worked")
	}
	tok2, _ := f.codeFlow(t, cfg, newBrowser(t), "")
	if r := postForm(t, f.issuer+"/oauth/revoke", url.Values{"token": {tok2.RefreshToken}}, web.ClientID, web.ClientSecret); r.Status != 200 {
		t.Fatalf("revoke: %d", r.Status)
	}
	want := []string{"grant.issued", "refresh.reused", "grant.issued", "grant.revoked"}
	var got []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var l struct {
			Items []struct{ Kind, Actor, Action, Target string } `json:"items"`
		}
		r := f.inst.api(t, f.admin, "GET", "/admin/v1/audit?tenant=acme&limit=100", nil)
		_ = json.Unmarshal([]byte(r.Raw), &l)
		got = got[:0]
		for i := len(l.Items) - 1; i >= 0; i-- {
			if e := l.Items[i]; e.Kind == "security" && !strings.HasPrefix(e.Action, "login.") {
				got = append(got, e.Action)
				if e.Actor != f.userID || e.Target != "apps/"+web.ClientID {
					t.Errorf("%s: actor %q target %q, want alice and the app", e.Action, e.Actor, e.Target)
				}
			}
		}
		if len(got) >= len(want) {
			break
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("grant events: %v, want %v", got, want)
	}
}
